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
    with pytest.raises(InputError, match=r"`task` to be one of \[.*'lineage'\], but got 'pep"):
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


# --- references with lineages (reference_format) -----------------------------------------------------------------

DATA = Path(__file__).resolve().parents[2] / "data"
RANKS7 = ["domain", "phylum", "class", "order", "family", "genus", "species"]
SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def _sintax_reference(path: Path, n: int = 300) -> pd.DataFrame:
    """Write the first n 16S RefSeq records as a SINTAX reference (lineage joined on genus; species with '_').

    Two planted records: a copy of NG_041941.1's sequence under another genus of its family, and a record
    named to its domain only. Returns the rows written (id, genus and the lineage columns).
    """
    from seqxent.data.io import iter_fasta

    refseq = pd.read_csv(DATA / "16s_refseq.tsv", sep="\t", dtype=str, keep_default_na=False).head(n)
    lineage = pd.read_csv(DATA / "16s_lineage.tsv", sep="\t", dtype=str, keep_default_na=False)
    rows = refseq.merge(lineage, on="genus", how="left").fillna("")
    seqs = {}
    for rec in iter_fasta(DATA / "16s_refseq.fasta.gz"):
        seqs[rec.id] = rec.sequence
        if len(seqs) == n:
            break
    lines = []
    for row in rows.to_dict("records"):
        tax = [f"{letter}:{row[rank]}" for letter, rank in zip("dpcof", RANKS7, strict=False) if row[rank]]
        tax += [f"g:{row['genus']}", f"s:{row['species'].replace(' ', '_')}"]
        lines.append(f">{row['id']};tax={','.join(tax)};\n{seqs[row['id']]}\n")
    lines.append(">dup;tax=d:Bacteria,p:Proteobacteria,c:Deltaproteobacteria,o:Desulfurellales,"
                 f"f:Desulfurellaceae,g:Desulfurella;\n{seqs['NG_041941.1'].lower()}\n")
    lines.append(f">domain_only;tax=d:Bacteria;\n{seqs['NG_041947.1'][:500]}\n")
    path.write_text("".join(lines))
    return rows


def test_cli_prepare_sintax_reference_gives_rank_columns(tmp_path):
    from seqxent.cli import main

    rows = _sintax_reference(tmp_path / "ref.fasta")
    out, summary_path = tmp_path / "dataset.tsv.gz", tmp_path / "summary.json"
    assert main(["-q", "prepare", "--name", "genus16s", "--task", "sequence", "--alphabet", "dna",
                 "--reference-format", "sintax", "--fasta", str(tmp_path / "ref.fasta"), "--ranks", *RANKS7,
                 "--label-column", "genus", "--min-per-class", "3", "--output", str(out),
                 "--summary", str(summary_path)]) == 0
    data = read_dataset(out)
    with gzip.open(out, "rt") as fh:
        assert json.loads(fh.readline()[len("#seqxent "):])["ranks"] == RANKS7
    table = data.table.set_index("id")
    assert list(data.table.columns) == ["id", "sequence", "label", "group", "split", "reason", *RANKS7]
    assert len(table) == 302
    assert table.loc["NG_042880.1", RANKS7].tolist() == [
        "Bacteria", "Proteobacteria", "Epsilonproteobacteria", "Campylobacterales", "Helicobacteraceae",
        "Helicobacter", "Helicobacter_fennelliae"]
    assert table.loc["NG_042880.1", "label"] == "Helicobacter"
    # NG_041941.1 (Hippea) and its planted copy (Desulfurella): their family, no genus, so both are excluded.
    for rid in ("NG_041941.1", "dup"):
        assert table.loc[rid, RANKS7].tolist() == ["Bacteria", "Proteobacteria", "Deltaproteobacteria",
                                                   "Desulfurellales", "Desulfurellaceae", "", ""]
        assert table.loc[rid, "reason"] == "no label in column 'genus'"
    assert table.loc["domain_only", "reason"] == "no label in column 'genus'"
    summary = json.loads(summary_path.read_text())
    assert summary["reference_format"] == "sintax" and summary["ranks"] == RANKS7
    # Besides the planted copy, RefSeq itself holds two identical 16S genes under two species of one genus.
    conflicts = summary["lineage_conflicts"]
    assert (conflicts["n_sequences"], conflicts["n_records"]) == (3, 6)
    assert [example["ids"] for example in conflicts["examples"][1:]] == [["NR_024740.1", "NR_024743.1"],
                                                                         ["NR_024791.1", "NR_024793.1"]]
    assert table.loc[["NR_024791.1", "NR_024793.1"], ["genus", "species"]].values.tolist() == [["Shewanella", ""]] * 2
    assert conflicts["examples"][:1] == [{
        "ids": ["NG_041941.1", "dup"],
        "lineages": ["domain:Bacteria; phylum:Proteobacteria; class:Deltaproteobacteria; order:Desulfurellales; "
                     "family:Desulfurellaceae; genus:Hippea; species:Hippea_jasoniae",
                     "domain:Bacteria; phylum:Proteobacteria; class:Deltaproteobacteria; order:Desulfurellales; "
                     "family:Desulfurellaceae; genus:Desulfurella"],
        "common_ancestor": "domain:Bacteria; phylum:Proteobacteria; class:Deltaproteobacteria; "
                           "order:Desulfurellales; family:Desulfurellaceae"}]
    counts = rows.loc[rows["id"] != "NG_041941.1", "genus"].value_counts()
    n_usable = int(counts[counts >= 3].sum())
    assert summary["excluded_reasons"] == {"no label in column 'genus'": 3,
                                           "class has too few records < min_per_class 3": 299 - n_usable}
    kept = data.table[data.table["split"] != "excluded"]
    assert len(kept) == n_usable and (kept["label"] == kept["genus"]).all()
    expected = rows.set_index("id").loc[kept["id"], ["domain", "phylum", "class", "order", "family", "genus"]]
    assert (kept.set_index("id")[expected.columns] == expected).all().all()


def test_prepare_table_format_keeps_other_columns_and_resolves_conflicts(tmp_path):
    fasta = "".join(f">r{i}\n{seq}\n" for i, seq in enumerate(
        ["ACGTACGTAA", "ACGTACGTAA", "TTTTGGGGCC", "TTTTGGGGCA", "GGCCAATTGG", "GGCCAATTGA", "CCCCAAAAGG"]))
    labels = ("id\tfamily\tgenus\tbin\n" "r0\tApidae\tBombus\tB1\nr1\tApidae\tOsmia\tB1\nr2\tApidae\tBombus\tB2\n"
              "r3\tApidae\tBombus\tB2\nr4\tMegachilidae\tOsmia\tB3\nr5\tMegachilidae\tOsmia\tB3\n"
              "r6\t\tOsmia\tB4\n")
    fasta, table = _write(tmp_path, fasta, labels)
    cfg = PrepareConfig("t", "sequence", "dna", "genus", fasta=fasta, labels=table, reference_format="table",
                        ranks=["family", "genus"], group_column="bin")
    out, summary = prepare_dataset(cfg)
    assert list(out.columns) == ["id", "sequence", "label", "group", "split", "reason", "family", "genus", "bin"]
    by_id = out.set_index("id")
    assert by_id.loc[["r0", "r1"], ["family", "genus", "reason"]].values.tolist() == [
        ["Apidae", "", "no label in column 'genus'"]] * 2
    assert by_id.loc["r6", ["family", "genus", "label"]].tolist() == ["", "Osmia", "Osmia"]
    assert summary["lineage_conflicts"]["n_sequences"] == 1 and summary["ranks"] == ["family", "genus"]
    assert sum(summary["n_records"].values()) == 5
    assert by_id.at["r2", "split"] == by_id.at["r3", "split"] and by_id.at["r4", "split"] == by_id.at["r5", "split"]


@pytest.mark.parametrize(("fmt", "sources", "message"), [
    ("sintax", {"fasta": "x", "labels": "y"}, "reference_format 'sintax' to read fasta, but got fasta \\+ labels"),
    ("qiime", {"fasta": "x"}, "reference_format 'qiime' to read fasta \\+ labels, but got fasta"),
    ("rdp", {"fasta": "x", "labels": "y"}, "'rdp' to read fasta \\+ taxonomy, but got fasta \\+ labels"),
    ("table", {"table": "x"}, r"`ranks` to be distinct ranks \(required\) of the table"),
    ("silva", {"fasta": "x"}, r"`reference_format` to be one of \['sintax', 'qiime', 'rdp', 'table'\], but got "
                              "'silva'"),
    (None, {"fasta": "x", "labels": "y", "ranks": ["genus"]}, "`ranks` and `taxonomy` only with a"),
])
def test_reference_config_validation(fmt, sources, message):
    with pytest.raises(InputError, match=message):
        PrepareConfig("t", "sequence", "dna", "genus", reference_format=fmt, **sources)


@pytest.mark.parametrize(("ranks", "message"), [
    (["genus", "tribe"], r"distinct ranks of \['domain', 'kingdom', .*\], but got \['genus', 'tribe'\]"),
    (["genus", "genus"], "but got \\['genus', 'genus'\\]"),
    (["family"], r"`label_column` to be one of the ranks \['family'\], but got 'genus'"),
])
def test_reference_ranks_validation(ranks, message):
    with pytest.raises(InputError, match=message):
        PrepareConfig("t", "sequence", "dna", "genus", fasta="x", reference_format="sintax", ranks=ranks)


def test_label_rank_missing_from_the_reference(tmp_path):
    (tmp_path / "r.fasta").write_text(">a;tax=d:Bacteria,g:Bacillus;\nACGT\n")
    cfg = PrepareConfig("t", "sequence", "dna", "species", fasta=tmp_path / "r.fasta", reference_format="sintax")
    with pytest.raises(InputError, match=r"r.fasta: no rank\(s\) \['species'\] in the sintax lineages; the ranks "
                                         r"are \['domain', 'genus'\]"):
        prepare_dataset(cfg)


def test_prepare_rdp_fixture_by_default_keeps_the_named_ranks():
    cfg = PrepareConfig("rdp", "sequence", "dna", "genus", fasta=DATA / "rdp_trainset_sample.fasta.gz",
                        taxonomy=DATA / "rdp_taxonomy.txt", reference_format="rdp", min_per_class=10)
    out, summary = prepare_dataset(cfg)
    assert summary["ranks"] == ["domain", "phylum", "class", "order", "family", "genus"]
    assert summary["lineage_conflicts"] == {"n_sequences": 0, "n_records": 0, "examples": []}
    assert len(out) == 1097 and (out["label"] == out["genus"]).all()
    assert out.set_index("id").at["DQ465910|S000703701", "genus"] == '"Candidatus Korarchaeum"'


def test_plain_prepare_summary_has_no_lineage_keys(tmp_path):
    fasta, table = _write(tmp_path, *_barcodes())
    _, summary = prepare_dataset(PrepareConfig("t", "sequence", "dna", "species", fasta=fasta, labels=table))
    assert not {"ranks", "reference_format", "lineage_conflicts"} & set(summary)


@pytest.mark.parametrize(("entry", "valid"), [
    ({"reference_format": "sintax", "fasta": "r.fa"}, True),
    ({"reference_format": "sintax", "fasta": "r.fa", "labels": "t.tsv"}, False),
    ({"reference_format": "qiime", "fasta": "r.fa", "labels": "t.tsv", "ranks": ["domain", "genus"]}, True),
    ({"reference_format": "qiime", "fasta": "r.fa"}, False),
    ({"reference_format": "rdp", "fasta": "r.fa", "taxonomy": "t.txt"}, True),
    ({"reference_format": "rdp", "fasta": "r.fa"}, False),
    ({"reference_format": "rdp", "fasta": "r.fa", "taxonomy": "t.txt", "labels": "t.tsv"}, False),
    ({"reference_format": "table", "table": "t.tsv", "ranks": ["family", "genus"]}, True),
    ({"reference_format": "table", "fasta": "r.fa", "labels": "t.tsv", "ranks": ["genus"]}, True),
    ({"reference_format": "table", "table": "t.tsv"}, False),
    ({"reference_format": "table", "fasta": "r.fa", "ranks": ["genus"]}, False),
    ({"reference_format": "silva", "fasta": "r.fa"}, False),
    ({"fasta": "r.fa", "labels": "t.tsv"}, True),
    ({"fasta": "r.fa"}, False),
    ({"fasta": "r.fa", "labels": "t.tsv", "ranks": ["genus"]}, False),
    ({"fasta": "r.fa", "labels": "t.tsv", "taxonomy": "t.txt"}, False),
])
def test_schema_dataset_sources(entry, valid):
    import jsonschema
    import yaml

    schema = yaml.safe_load(SCHEMA.read_text())
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(
        {"datasets": {"d": {**entry, "label_column": "genus"}}}))
    assert (errors == []) is valid, [e.message for e in errors]


def test_cli_prepare_qiime_reference_and_a_bad_one(tmp_path, capsys):
    from seqxent.cli import main

    fasta = "".join(f">q{i}\n{seq}\n" for i, seq in enumerate(["ACGTACGT", "ACGTACGA", "ACGTACCC", "TTGGTTGG",
                                                                 "TTGGTTGA", "TTGGTTCC", "GGGGCCCC"]))
    taxa = "Feature ID\tTaxon\n" + "".join(f"q{i}\td__Bacteria; p__Firmicutes; g__Bacillus\n" for i in range(3)) + \
        "".join(f"q{i}\td__Bacteria; p__Proteobacteria; g__Vibrio\n" for i in range(3, 6)) + "q6\tUnassigned\n"
    fasta, taxa = _write(tmp_path, fasta, taxa)
    args = ["prepare", "--name", "q", "--task", "sequence", "--alphabet", "dna", "--fasta", str(fasta),
            "--label-column", "genus", "--output", str(tmp_path / "d.tsv.gz"), "--summary", str(tmp_path / "s.json")]
    assert main(["-q", *args, "--reference-format", "qiime", "--labels", str(taxa)]) == 0
    table = read_dataset(tmp_path / "d.tsv.gz").table.set_index("id")
    assert table.loc["q3", ["label", "domain", "phylum", "genus"]].tolist() == ["Vibrio", "Bacteria",
                                                                                 "Proteobacteria", "Vibrio"]
    assert table.loc["q6", ["split", "reason"]].tolist() == ["excluded", "no label in column 'genus'"]
    assert main(["-q", *args, "--reference-format", "rdp", "--labels", str(taxa)]) == 2
    assert capsys.readouterr().err == ("seqxent prepare: error: Expected reference_format 'rdp' to read fasta + "
                                       "taxonomy, but got fasta + labels\n")
