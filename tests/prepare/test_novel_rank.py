"""`prepare --novel-rank`: hold whole taxa at a rank (species, genus, …) out of training as split "novel"."""

import json
from pathlib import Path

import numpy as np
import pytest

from seqxent.data.dataset import NOVEL
from seqxent.errors import InputError
from seqxent.prepare.build import PrepareConfig, prepare_dataset
from seqxent.prepare.holdout import hold_out_classes

RANKS = ["family", "genus", "species"]
KNOWN = ["train", "valid", "test"]
SCHEMA = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.yaml"


def _reference(tmp_path, n_unnamed=0):
    """2 families x 3 genera x 3 species x 3 records, distinct random sequences, as FASTA + rank table.

    ``n_unnamed`` more records of genus G0 carry no species name (an empty cell).
    """
    rng = np.random.default_rng(0)
    rows = [(f"F{g // 3}", f"G{g}", f"G{g} s{s}") for g in range(6) for s in range(3) for _ in range(3)]
    rows += [("F0", "G0", "")] * n_unnamed
    fasta = "".join(f">r{i}\n{''.join(rng.choice(list('ACGT'), size=60))}\n" for i in range(len(rows)))
    table = "id\t" + "\t".join(RANKS) + "\n" + "".join(f"r{i}\t" + "\t".join(row) + "\n" for i, row in enumerate(rows))
    (tmp_path / "ref.fasta").write_text(fasta)
    (tmp_path / "ranks.tsv").write_text(table)
    return tmp_path / "ref.fasta", tmp_path / "ranks.tsv"


def _config(tmp_path, label_column="species", n_unnamed=0, **kwargs):
    fasta, labels = _reference(tmp_path, n_unnamed)
    return PrepareConfig("t", "sequence", "dna", label_column, fasta=fasta, labels=labels, reference_format="table",
                         ranks=RANKS, **kwargs)


def test_genus_hold_out_takes_whole_genera(tmp_path):
    table, summary = prepare_dataset(_config(tmp_path, novel_classes=0.34, novel_rank="genus", seed=2))
    novel = table[table["split"] == NOVEL]
    held = hold_out_classes([f"G{g}" for g in range(6)], 0.34, seed=2)
    assert len(held) == 2 and sorted(set(novel["genus"])) == held
    assert len(novel) == 2 * 9  # every record of the held-out genera, none of another genus
    assert not set(table.loc[table["split"].isin(KNOWN), "genus"]) & set(held)
    assert summary["novel_rank"] == "genus" and summary["novel_taxa"] == held and summary["n_novel_taxa"] == 2
    assert summary["n_novel_records"] == 18 == summary["n_records"][NOVEL]
    assert summary["novel_classes"] == sorted(set(novel["species"]))  # the labels of the held-out records


def test_species_hold_out_keeps_the_genus_in_training(tmp_path):
    table, summary = prepare_dataset(_config(tmp_path, "genus", novel_classes=0.1, novel_rank="species", seed=1))
    novel = table[table["split"] == NOVEL]
    assert summary["n_novel_taxa"] == 2 and len(novel) == 6  # round(0.1 x 18) species, 3 records each
    assert set(novel["species"]) == set(summary["novel_taxa"])
    known = table[table["split"].isin(KNOWN)]
    assert not set(known["species"]) & set(novel["species"])
    # Each genus has 3 species, so a held-out species leaves its genus (the label) in training.
    assert set(novel["label"]) <= set(table.loc[table["split"] == "train", "label"])


def test_records_without_a_name_at_the_rank_are_never_held_out(tmp_path):
    table, summary = prepare_dataset(_config(tmp_path, "genus", n_unnamed=4, novel_classes=0.5,
                                             novel_rank="species"))
    unnamed = table[table["species"] == ""]
    assert len(unnamed) == 4 and unnamed["split"].isin(KNOWN).all()
    assert summary["n_novel_taxa"] == 9 and "" not in summary["novel_taxa"]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"novel_classes": 0.2, "novel_rank": "order"},
     r"Expected argument `novel_rank` to be one of the ranks \['family', 'genus', 'species'\].*but got 'order'"),
    ({"novel_classes": 0.0, "novel_rank": "genus"},
     "Expected argument `novel_classes` to be > 0 with novel_rank 'genus', but got 0.0"),
])
def test_bad_novel_rank(tmp_path, kwargs, match):
    with pytest.raises(InputError, match=match):
        _config(tmp_path, **kwargs)


def test_novel_rank_needs_a_reference_with_ranks(tmp_path):
    fasta, labels = _reference(tmp_path)
    with pytest.raises(InputError, match=r"one of the ranks \[\].*but got 'genus'"):
        PrepareConfig("t", "sequence", "dna", "species", fasta=fasta, labels=labels, novel_classes=0.2,
                      novel_rank="genus")


def test_without_novel_rank_the_label_classes_are_held_out_as_before(tmp_path):
    plain, plain_summary = prepare_dataset(_config(tmp_path, "genus", novel_classes=0.34, seed=2))
    at_label, at_label_summary = prepare_dataset(_config(tmp_path, "genus", novel_classes=0.34, seed=2,
                                                         novel_rank="genus"))
    assert plain.equals(at_label)
    assert sorted(set(plain.loc[plain["split"] == NOVEL, "label"])) == hold_out_classes(plain["label"], 0.34, 2)
    added = {"novel_rank", "novel_taxa", "n_novel_taxa", "n_novel_records"}
    assert not added & set(plain_summary)
    assert plain_summary == {k: v for k, v in at_label_summary.items() if k not in added}


def test_cli_novel_rank(tmp_path, capsys):
    from seqxent.cli import main

    fasta, labels = _reference(tmp_path)
    args = ["prepare", "--name", "t", "--task", "sequence", "--alphabet", "dna", "--fasta", str(fasta), "--labels",
            str(labels), "--reference-format", "table", "--ranks", *RANKS, "--label-column", "species",
            "--novel-classes", "0.34", "--output", str(tmp_path / "d.tsv.gz"), "--summary", str(tmp_path / "s.json")]
    assert main(["-q", *args, "--novel-rank", "genus"]) == 0
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["novel_rank"] == "genus" and summary["n_novel_taxa"] == 2 and summary["n_novel_records"] == 18
    assert main(["-q", *args, "--novel-rank", "family"]) == 2  # 1 of 2 families held out leaves only 1
    assert capsys.readouterr().err == ("seqxent prepare: error: data set 't': novel_classes 0.34 at rank 'family': "
                                       "Expected at least 2 classes to remain after holding out 1 of 2 classes "
                                       "(fraction 0.34), but got 1\n")


@pytest.mark.parametrize(("entry", "valid"), [
    ({"novel_classes": 0.2, "novel_rank": "genus"}, True),
    ({"novel_rank": "genus"}, False),
    ({"novel_classes": 0, "novel_rank": "genus"}, False),
    ({"novel_classes": 0.2, "novel_rank": "genus", "ranks": None}, False),
])
def test_schema_novel_rank(entry, valid):
    import jsonschema
    import yaml

    schema = yaml.safe_load(SCHEMA.read_text())
    dataset = {"fasta": "r.fa", "labels": "t.tsv", "reference_format": "table", "ranks": RANKS,
               "label_column": "genus", **entry}
    dataset = {key: value for key, value in dataset.items() if value is not None}
    errors = list(jsonschema.Draft202012Validator(schema).iter_errors({"datasets": {"d": dataset}}))
    assert (errors == []) is valid, [e.message for e in errors]
