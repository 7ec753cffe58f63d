import csv
import gzip
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqxent.baseline import peers
from seqxent.baseline.methods import METHODS, MethodResult, run_method
from seqxent.baseline.peers import BlastTopHit, RdpClassifier, Sintax, decode_label, encode_label

DATA = Path(__file__).resolve().parents[2] / "data"
# Class names that break naive headers: SINTAX splits on "," and ":", RDP on ";" and "*", FASTA on spaces.
ODD_NAMES = ["Osmia cornuta, s.l.", "Osmia: bicornis; (form A)", "Osmia*lignaria 100%"]


@pytest.mark.parametrize(
    "label", ODD_NAMES + ["", "plain", "tab\there", "ünïcode ß", "%41", "a;tax=s:b,g:c"], ids=repr
)
def test_encode_label_round_trips(label):
    token = encode_label(label)
    assert decode_label(token) == label
    assert not set(token) & set(" ,:;*()\t\n=|>")


@settings(max_examples=50, deadline=None)
@given(st.text())
def test_encode_label_round_trips_any_text(label):
    assert decode_label(encode_label(label)) == label


def test_run_method_unknown_method():
    with pytest.raises(ValueError, match="Expected argument `method`"):
        run_method("svm", ["ACGT"], ["x"], ["q"], ["ACGT"])


def test_run_method_label_lookup_needs_keys():
    with pytest.raises(ValueError, match="train_keys"):
        run_method("label_lookup", ["ACGT"], ["x"], ["q"], ["ACGT"])


def test_run_method_label_lookup():
    result = run_method(
        "label_lookup", ["A", "C", "G"], ["DE", "DE", "US"], ["q1", "q2"], ["T", "T"],
        train_keys=["sp1", "sp1", "sp2"], query_keys=["sp2", "unseen"],
    )  # fmt: skip
    assert result.labels == ["US", "DE"]
    np.testing.assert_allclose(result.confidence, [1.0, 2 / 3])


@pytest.mark.parametrize("method", ["kmer_logreg", "kmer_knn", "majority"])
def test_run_method_builtin_shapes(method):
    seqs = ["ACACACACAC", "CACACACAGA", "GTGTGTGTGT", "TGTGTGTGCG"]
    result = run_method(
        method, seqs, ["ac", "ac", "gt", "gt"], ["q1", "q2", "q3"], ["CACACA", "TGTGTG", ""], k=2
    )
    assert isinstance(result, MethodResult)
    assert result.classes == ["ac", "gt"]
    assert result.probs.shape == (3, 2) and len(result.labels) == 3 and result.confidence.shape == (3,)
    np.testing.assert_allclose(result.probs.sum(axis=1), 1.0)
    assert result.skipped == {} and result.seconds >= 0
    if method != "majority":
        assert result.labels[:2] == ["ac", "gt"]


def test_methods_table_is_complete():
    assert set(METHODS) == {"kmer_logreg", "kmer_knn", "majority", "label_lookup", "qiime_nb", "sintax", "blastn",
                            "rdp"}


def test_duplicate_query_ids_raise():
    with pytest.raises(ValueError, match="unique"):
        Sintax().classify(["ACGT"], ["x"], ["q", "q"], ["ACGT", "ACGA"])


def test_rdp_screens_queries_without_words():
    screened = RdpClassifier()._screen(["", "NNNNNNNNNNNN", "ACGTNACGTN", "ACGTACGTA"])
    assert screened == {0: "empty sequence", 1: "fewer than 1 8-mers made of A, C, G, T only",
                        2: "fewer than 1 8-mers made of A, C, G, T only"}  # fmt: skip


def test_sintax_inputs_are_two_line_fasta_with_internal_ids(tmp_path, monkeypatch):
    monkeypatch.setattr(peers, "_run", lambda command, cwd: (cwd / "sintax.tsv").write_text("q0\ts:b(0.90)\n"))
    result = Sintax().classify(["ACGT", "GGCC"], ["Osmia sp. 1", "b"], ["x", "y", "z"], ["ACGA", "", "TTTT"],
                               workdir=tmp_path)
    assert (tmp_path / "reference.fa").read_text() == ">r0;tax=s:Osmia%20sp.%201\nACGT\n>r1;tax=s:b\nGGCC\n"
    assert (tmp_path / "query.fa").read_text() == ">q0\nACGA\n>q2\nTTTT\n"  # the empty query never reaches it
    assert result.labels == {"x": "b", "y": None, "z": None}
    assert result.skipped == {"y": "empty sequence", "z": "no output line for this query"}


def test_rdp_training_headers_hold_the_lineage_after_a_tab(tmp_path, monkeypatch):
    def fake_java(command, cwd):
        (cwd / "model").mkdir(exist_ok=True)
        (cwd / "rdp.tsv").write_text("q0\t\tRoot\trootrank\t1.0\ta%20b\tgenus\t0.75\n")

    monkeypatch.setattr(peers, "_run", fake_java)
    result = RdpClassifier(jar="rdp.jar").classify(["ACGTACGTAC", "GGCCGGCCGG"], ["a b", "c"], ["x"],
                                                   ["ACGTACGTAA"], workdir=tmp_path)
    assert (tmp_path / "train.fa").read_text() == ">r0\tRoot;a%20b\nACGTACGTAC\n>r1\tRoot;c\nGGCCGGCCGG\n"
    assert (result.labels, result.confidence) == ({"x": "a b"}, {"x": 0.75})


@pytest.fixture(scope="module")
def coi_records():
    """~30 real COI records: 10 of each of the three commonest species, renamed to odd class names."""
    with open(DATA / "coi_bold.tsv") as handle:
        species = {row["id"]: row["species"] for row in csv.DictReader(handle, delimiter="\t")}
    seqs, name = {}, None
    with gzip.open(DATA / "coi_bold.fasta.gz", "rt") as handle:
        for line in handle:
            if line.startswith(">"):
                name = line[1:].strip()
                seqs[name] = []
            else:
                seqs[name].append(line.strip())
    counts = {}
    for sp in species.values():
        counts[sp] = counts.get(sp, 0) + 1
    top = sorted((s for s in counts if s), key=lambda s: (-counts[s], s))[:3]
    rename = dict(zip(top, ODD_NAMES, strict=True))
    picked = {sp: [i for i in sorted(seqs) if species[i] == sp][:10] for sp in top}
    train = [(i, "".join(seqs[i]), rename[sp]) for sp, ids in picked.items() for i in ids[:8]]
    query = [(i, "".join(seqs[i]), rename[sp]) for sp, ids in picked.items() for i in ids[8:]]
    query += [("empty record", "", None), ("all N", "N" * 300, None)]
    return train, query


@pytest.mark.tools
@pytest.mark.parametrize("peer", [Sintax, BlastTopHit, RdpClassifier], ids=lambda p: p.name)
def test_peer_classifies_real_records(peer, coi_records, tmp_path):
    if not peer.is_available():
        pytest.skip(f"{peer.name}: tool not installed")
    train, query = coi_records
    train_seqs, train_labels = [s for _, s, _ in train], [y for _, _, y in train]
    query_ids, query_seqs = [i for i, _, _ in query], [s for _, s, _ in query]
    result = peer().classify(train_seqs, train_labels, query_ids, query_seqs, threads=1, workdir=tmp_path)
    assert result.tool == peer.name and result.seconds > 0
    assert set(result.labels) == set(query_ids)
    for query_id in query_ids:
        label = result.labels[query_id]
        assert (label is None) == (query_id in result.skipped)  # a label or a reason, never neither
        if label is not None:
            assert label in ODD_NAMES and 0 <= result.confidence[query_id] <= 1
    assert set(result.skipped) >= {"empty record"}
    assert result.labels["all N"] is None
    correct = [result.labels[i] == truth for i, _, truth in query if truth is not None]
    assert sum(correct) >= len(correct) - 1  # three well-separated species: nearly all right


@pytest.mark.tools
def test_run_method_peer_result(coi_records, tmp_path, monkeypatch):
    if not BlastTopHit.is_available():
        pytest.skip("blastn: tool not installed")
    train, query = coi_records
    monkeypatch.chdir(tmp_path)  # a relative workdir must work although the tool runs inside it
    train_seqs, train_labels = [s for _, s, _ in train], [y for _, _, y in train]
    query_ids, query_seqs = [i for i, _, _ in query], [s for _, s, _ in query]
    result = run_method("blastn", train_seqs, train_labels, query_ids, query_seqs, workdir="relative/work")
    assert result.probs is None and result.classes == sorted(ODD_NAMES)
    assert len(result.labels) == len(query) and np.isnan(result.confidence[-2:]).all()
    assert set(result.skipped) == {"empty record", "all N"}
    assert (tmp_path / "relative" / "work" / "blastn.tsv").is_file()
