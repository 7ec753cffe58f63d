import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqxent import tools
from seqxent.data.dataset import read_dataset, write_dataset
from seqxent.errors import InputError
from seqxent.prepare.build import PrepareConfig, leakage_report, prepare_dataset
from seqxent.prepare.clusters import LeakageHit
from seqxent.tasks import get_task

HAS_MMSEQS = tools.is_installed("mmseqs2")
needs_mmseqs = pytest.mark.skipif(not HAS_MMSEQS, reason="mmseqs is not installed")
PDB = Path(__file__).resolve().parents[2] / "data" / "ss_pdb.tsv.gz"


def _write(tmp_path, fasta: str, table: str):
    (tmp_path / "x.fasta").write_text(fasta)
    (tmp_path / "x.tsv").write_text(table)
    return tmp_path / "x.fasta", tmp_path / "x.tsv"


def _barcodes(n_per_class=4):
    fasta, rows = [], ["id\tspecies\tcountry"]
    for c, base in enumerate(["ACGTACGTAC", "TTTTGGGGCC", "GGCCAATTGG"]):
        for i in range(n_per_class):
            rid = f"s{c}_{i}"
            fasta.append(f">{rid}\n{base}{'ACGT'[i % 4] * (i + 1)}\n")
            rows.append(f"{rid}\tsp{c}\t{'' if i == 0 else 'DE'}")
    return "".join(fasta), "\n".join(rows) + "\n"


def test_every_record_kept_with_split_or_reason(tmp_path):
    fasta, table = _write(tmp_path, *_barcodes())
    cfg = PrepareConfig("t", "sequence", "dna", "country", fasta=fasta, labels=table)
    out, summary = prepare_dataset(cfg)
    assert len(out) == 12
    excluded = out[out["split"] == "excluded"]
    assert set(excluded["reason"]) == {"no label in column 'country'"}
    assert len(excluded) == 3
    assert (out.loc[out["split"] != "excluded", "reason"] == "").all()
    assert summary["excluded"] == 3


def test_identical_sequences_share_a_side(tmp_path):
    fasta = ">a\nACGTACGT\n>b\nacgt-acgt\n>c\nTTTTTTTT\n>d\nGGGGGGGG\n>e\nCCCCCCCC\n>f\nACACACAC\n"
    table = "id\tlab\n" + "".join(f"{i}\tx\n" for i in "abcdef")
    fasta, table = _write(tmp_path, fasta, table)
    out, _ = prepare_dataset(PrepareConfig("t", "sequence", "dna", "lab", fasta=fasta, labels=table))
    a, b = out.set_index("id").loc[["a", "b"]].itertuples()
    assert a.sequence == b.sequence == "ACGTACGT"  # gap removed, upper-cased
    assert a.group == b.group and a.split == b.split


def test_min_per_class_reason_names_count(tmp_path):
    fasta, table = _barcodes(n_per_class=5)
    fasta += ">rare1\nAAAAAAAAAA\n>rare2\nAAAAAAAAAC\n"
    table += "rare1\tsp9\tDE\nrare2\tsp9\tDE\n"
    fasta, table = _write(tmp_path, fasta, table)
    out, _ = prepare_dataset(PrepareConfig("t", "sequence", "dna", "species", fasta=fasta, labels=table,
                                           min_per_class=3))
    reasons = out.set_index("id")["reason"]
    assert reasons["rare1"] == reasons["rare2"] == "class has 2 records < min_per_class 3"
    assert (out.loc[out["label"] != "sp9", "split"] != "excluded").all()


def test_too_few_usable_records(tmp_path):
    fasta, table = _write(tmp_path, *_barcodes(n_per_class=3))
    with pytest.raises(InputError, match="only 0 usable records"):
        prepare_dataset(PrepareConfig("t", "sequence", "dna", "species", fasta=fasta, labels=table,
                                      min_per_class=4))


def test_invalid_character_error_names_file_and_record(tmp_path):
    fasta, table = _write(tmp_path, ">a\nACGZ\n>b\nACGT\n>c\nACGG\n>d\nAAAA\n", "id\tl\na\tx\nb\tx\nc\tx\nd\tx\n")
    with pytest.raises(InputError, match=r"x.fasta.*record 'a'.*'Z' at position 4"):
        prepare_dataset(PrepareConfig("t", "sequence", "dna", "l", fasta=fasta, labels=table))
    out, _ = prepare_dataset(PrepareConfig("t", "sequence", "dna", "l", fasta=fasta, labels=table,
                                           on_invalid="skip"))
    assert out.set_index("id").at["a", "reason"] == "invalid dna character(s): 'Z' at position 4"


@pytest.mark.parametrize(("fasta", "table", "message"), [
    (">a\nAC\n>b\nAC\n", "id\tl\na\tx\n", "record 'b' of .* has no row"),
    (">a\nAC\n", "id\tl\na\tx\nb\ty\n", "record 'b' of .* has no sequence"),
    (">a\nAC\n>a\nAC\n", "id\tl\na\tx\n", "record 'a': duplicate id"),
    (">a\nAC\n", "id\tspecies\na\tx\n", r"missing column\(s\) \['l'\]"),
])
def test_join_errors(tmp_path, fasta, table, message):
    fasta, table = _write(tmp_path, fasta, table)
    with pytest.raises(InputError, match=message):
        prepare_dataset(PrepareConfig("t", "sequence", "dna", "l", fasta=fasta, labels=table))


def test_residue_label_length_mismatch_is_excluded(tmp_path):
    seqs = {"a": "MKVLAAGHEW" * 3, "b": "MKVL" * 5, "c": "AAAAPGWYVV" * 3, "d": "WWWWEKRLLP" * 3,
            "e": "GGGGSSTNQD" * 3}
    rows = ["id\tsequence\tss3"] + [f"{k}\t{v}\t{'H' * (2 if k == 'b' else len(v))}" for k, v in seqs.items()]
    (tmp_path / "t.tsv").write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match="record 'b': invalid: 2 residue labels for 20 residues"):
        prepare_dataset(PrepareConfig("t", "residue", "protein", "ss3", table=tmp_path / "t.tsv"))
    out, _ = prepare_dataset(PrepareConfig("t", "residue", "protein", "ss3", table=tmp_path / "t.tsv",
                                           on_invalid="skip"))
    assert out.set_index("id").at["b", "reason"] == "invalid: 2 residue labels for 20 residues"


def test_same_seed_same_split_and_roundtrip(tmp_path):
    fasta, table = _write(tmp_path, *_barcodes(n_per_class=8))
    cfg = PrepareConfig("t", "sequence", "dna", "species", fasta=fasta, labels=table, seed=3)
    first, _ = prepare_dataset(cfg)
    second, _ = prepare_dataset(cfg)
    assert first.equals(second)
    write_dataset(first, tmp_path / "d.tsv.gz", {"name": "t", "task": "sequence", "alphabet": "dna",
                                                  "label_column": "species"})
    data = read_dataset(tmp_path / "d.tsv.gz")
    assert get_task(data.task).classes(data) == ["sp0", "sp1", "sp2"]
    with gzip.open(tmp_path / "d.tsv.gz", "rt") as fh:
        assert json.loads(fh.readline()[len("#seqxent "):])["task"] == "sequence"


def test_config_validation():
    with pytest.raises(InputError, match=r"`task` to be one of \['sequence', 'residue', 'multilabel'\], but got 'pep"):
        PrepareConfig("t", "peptide", "dna", "l", table="x")
    with pytest.raises(InputError, match="either `table` or `fasta`"):
        PrepareConfig("t", "sequence", "dna", "l")


@pytest.mark.tools
@needs_mmseqs
def test_real_protein_split_records_no_leakage():
    cfg = PrepareConfig("ss3", "residue", "protein", "ss3", table=PDB, max_records=800, seed=1, threads=2)
    out, summary = prepare_dataset(cfg)
    leakage = summary["leakage"]
    held_out = out["split"].isin(["valid", "test"]).sum()
    assert leakage["checked"] == held_out > 100
    assert leakage["leaked"] == 0 and leakage["leaked_ids"] == []
    assert leakage["min_seq_id"] == 0.3 and leakage["coverage_of_held_out"] == 0.5


@pytest.mark.tools
@needs_mmseqs
def test_leakage_report_finds_a_planted_leak():
    seqs = ["MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVK",
            "GSHMWEEAFRYLCGNDPTTHWIRNQLKPGFEDCVTMYSAVWKHNGLRPSTADFYEQWCDI",
            "MKTAYIAKQRQISFVKSHFSRQLDERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVRVR"]  # 95 % identical to the first
    kept = pd.DataFrame({"id": ["a", "b", "c"], "sequence": seqs})
    cfg = PrepareConfig("t", "residue", "protein", "ss3", table=PDB)
    report = leakage_report(kept, np.array(["train", "valid", "test"]), cfg)
    assert report["checked"] == 2 and report["leaked"] == 1 and report["leaked_ids"] == ["c"]
    assert 0.9 < report["worst_identity"] < 1.0


def test_leakage_report_without_mmseqs_is_skipped_not_passed(monkeypatch):
    monkeypatch.setattr(tools.shutil, "which", lambda name: None)
    kept = pd.DataFrame({"id": ["a", "b"], "sequence": ["MKV", "MKV"]})
    report = leakage_report(kept, np.array(["train", "test"]),
                            PrepareConfig("t", "residue", "protein", "ss3", table=PDB))
    assert report["checked"] == 0 and report["leaked"] is None and report["skipped"] == "mmseqs2 not installed"


@pytest.mark.tools
@needs_mmseqs
def test_leaked_held_out_chain_is_excluded_with_its_reason(tmp_path, monkeypatch):
    rows = ["id\tsequence\tss3"] + [f"p{i}\t{seq}\t{'C' * len(seq)}" for i, seq in enumerate(
        "".join(np.random.default_rng(i).choice(list("ACDEFGHIKLMNPQRSTVWY"), 60)) for i in range(20))]
    (tmp_path / "t.tsv").write_text("\n".join(rows) + "\n")
    cfg = PrepareConfig("t", "residue", "protein", "ss3", table=tmp_path / "t.tsv")
    clean, _ = prepare_dataset(cfg)
    first_held_out = clean.index[clean["split"].isin(["valid", "test"])][0]
    # Pretend the search found the first held-out chain 35 % identical to the first training chain.
    monkeypatch.setattr("seqxent.prepare.build.clusters.check_leakage",
                        lambda *a, **k: [LeakageHit(0, 0, 0.35, 0.8)])
    out, summary = prepare_dataset(cfg)
    row = out.loc[first_held_out]
    assert row["split"] == "excluded"
    train_id = clean.loc[clean["split"] == "train", "id"].iloc[0]
    assert row["reason"] == (f"homologous to a training chain (leakage check): 35% identity over 80% of its "
                             f"length to {train_id}; excluded from {clean.loc[first_held_out, 'split']}")
    assert summary["leakage"]["leaked"] == summary["leakage"]["excluded"] == 1
    assert summary["excluded_reasons"] == {"homologous to a training chain (leakage check)": 1}
    assert summary["groups_straddling_splits"] == 0
    assert sum(summary["n_records"].values()) == 19
