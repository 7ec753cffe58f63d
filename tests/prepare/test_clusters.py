from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqxent import tools
from seqxent.prepare import clusters
from seqxent.prepare.clusters import LeakageHit, check_leakage, cluster_sequences
from seqxent.prepare.splits import assign_splits

HAS_MMSEQS = tools.is_installed("mmseqs2")
needs_mmseqs = pytest.mark.skipif(not HAS_MMSEQS, reason="mmseqs is not installed")
PDB = Path(__file__).resolve().parents[2] / "data" / "ss_pdb.tsv.gz"

# Two unrelated 60-residue proteins; PROT_A2 is PROT_A with 3 substitutions (95 % identical).
PROT_A = "MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVK"
PROT_A2 = "MKTAYIAKQRQISFVKSHFSRQLDERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVRVR"
PROT_B = "GSHMWEEAFRYLCGNDPTTHWIRNQLKPGFEDCVTMYSAVWKHNGLRPSTADFYEQWCDI"


# --- cluster_sequences -------------------------------------------------------------------------------------


def test_cluster_kmer_links_close_homologs_only():
    seqs = [PROT_A, PROT_B, PROT_A2, PROT_B.lower(), "MK"]
    got = cluster_sequences([f"s{i}" for i in range(5)], seqs, method="kmer")
    assert got.tolist() == [0, 1, 0, 1, 2]


def test_cluster_kmer_nucleotides():
    rng = np.random.default_rng(0)
    a = "".join(rng.choice(list("ACGT"), 300))
    b = "".join(rng.choice(list("ACGT"), 300))
    a_mut = a[:150] + ("A" if a[150] != "A" else "C") + a[151:]
    got = cluster_sequences(["1", "2", "3"], [a, b, a_mut.replace("T", "U")], method="kmer")
    assert got.tolist() == [0, 1, 0]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"method": "blast"}, "`method`"),
        ({"linkage": "complete"}, "`linkage`"),
        ({"min_seq_id": 1.5}, "`min_seq_id` to be a number in \\[0, 1\\], but got 1.5"),
        ({"coverage": -0.1}, "`coverage`"),
    ],
)
def test_cluster_sequences_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cluster_sequences(["a"], ["MK"], **kwargs)


def test_cluster_sequences_ids_length():
    with pytest.raises(ValueError, match="`ids` to have length 2, but got 1"):
        cluster_sequences(["a"], ["MK", "MK"], method="kmer")


def test_cluster_auto_without_mmseqs_uses_kmer(monkeypatch, caplog):
    monkeypatch.setattr(tools.shutil, "which", lambda name: None)
    with caplog.at_level("INFO", logger="seqxent.prepare.clusters"):
        got = cluster_sequences(["a", "b", "c"], [PROT_A, PROT_B, PROT_A2])
    assert got.tolist() == [0, 1, 0]
    assert "'kmer'" in caplog.text and "mmseqs2 not installed" in caplog.text


def test_check_leakage_without_mmseqs(monkeypatch):
    monkeypatch.setattr(tools.shutil, "which", lambda name: None)
    with pytest.raises(tools.ToolMissingError, match="needs mmseqs2, which is not installed"):
        check_leakage([PROT_A], [PROT_B])


@pytest.mark.tools
@needs_mmseqs
@pytest.mark.parametrize("linkage", ["single", "greedy"])
def test_cluster_mmseqs_tiny(linkage, tmp_path):
    seqs = [PROT_A, PROT_B, PROT_A2, "", PROT_B]
    got = cluster_sequences(list("abcde"), seqs, method="mmseqs", linkage=linkage, workdir=str(tmp_path))
    assert got.tolist() == [0, 1, 0, 2, 1]
    assert list(tmp_path.iterdir()) == []  # temporary files are removed


@pytest.mark.tools
@needs_mmseqs
def test_check_leakage_tiny():
    hits = check_leakage([PROT_B, PROT_A2, ""], [PROT_A, PROT_B])
    assert [(h.query_index, h.target_index) for h in hits] == [(0, 1), (1, 0)]
    assert isinstance(hits[0], LeakageHit)
    assert hits[0].identity == 1.0 and hits[0].coverage == 1.0
    assert 0.9 < hits[1].identity < 1.0
    assert check_leakage([], [PROT_A]) == []


@pytest.mark.tools
@needs_mmseqs
def test_real_pdb_chains_split_without_leakage():
    table = pd.read_csv(PDB, sep="\t", usecols=["id", "sequence"])
    # 300 chains of moderate length, drawn with a fixed seed (the PDB set is redundant, so some cluster)
    sample = table[table["sequence"].str.len().between(50, 400)].sample(300, random_state=0)
    seqs = sample["sequence"].tolist()
    groups = cluster_sequences(sample["id"].tolist(), seqs, threads=2, method="mmseqs")
    assert len(np.unique(groups)) < len(seqs)  # some homologs were grouped
    split = assign_splits(groups, fractions=(0.8, 0.1, 0.1), seed=0)
    test = [s for s, part in zip(seqs, split, strict=True) if part == "test"]
    train = [s for s, part in zip(seqs, split, strict=True) if part == "train"]
    assert len(test) > 10
    assert check_leakage(test, train, threads=2) == []
    assert check_leakage(test, train, threads=2, cov_mode=2) == []


# An unrelated 150-residue stretch (fixed seed): with it, PROT_A covers only 60 / 210 of the long chain.
_FILLER = "".join(np.random.default_rng(7).choice(list("ACDEFGHIKLMNPQRSTVWY"), 150))


@pytest.mark.tools
@needs_mmseqs
def test_domain_inside_longer_chain_joins_its_group():
    long_chain = _FILLER[:75] + PROT_A + _FILLER[75:]
    seqs = [PROT_A, PROT_B, long_chain]
    # The domain is 100 % covered, the long chain only 29 %: links when either sequence is covered.
    assert cluster_sequences(list("abc"), seqs, method="mmseqs").tolist() == [0, 1, 0]
    # A both-sides coverage rule (mmseqs --cov-mode 0) would miss the pair and let it straddle a split.
    assert check_leakage([long_chain], [PROT_A], cov_mode=0) == []
    assert [h.target_index for h in check_leakage([PROT_A], [long_chain], cov_mode=2)] == [0]


def test_mmseqs_gets_upper_case_fasta_of_the_alignable_sequences(tmp_path, monkeypatch):
    """Without mmseqs: the search inputs are checked by a stand-in that reads them and reports one hit."""
    seen = {}

    def fake_mmseqs(args):
        seen.update({name: Path(path).read_text() for name, path in (("query", args[1]), ("target", args[2]))})
        Path(args[3]).write_text("q2\tt0\t0.95\t1.0\t1.0\n")

    monkeypatch.setattr(clusters.tools, "require", lambda tool, purpose: None)
    monkeypatch.setattr(clusters, "_run_mmseqs", fake_mmseqs)
    hits = check_leakage(["MK", PROT_B, PROT_A2.lower()], [PROT_A], workdir=str(tmp_path))
    assert seen == {"query": f">q1\n{PROT_B}\n>q2\n{PROT_A2}\n", "target": f">t0\n{PROT_A}\n"}  # "MK": too short
    assert hits == [LeakageHit(2, 0, 0.95, 1.0)]
    assert list(tmp_path.iterdir()) == []  # temporary files are removed
