"""The models shipped in seqxent/pretrained/ (produced by `make full && make pretrained`): usable by name,
small, and not broken. These are smoke checks on bundled data, not held-out evaluations: the held-out numbers
are in docs/secondary_structure.md and docs/barcodes.md."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqxent.data.io import FastaRecord, read_fasta
from seqxent.model.checkpoint import load_checkpoint, pretrained_models
from seqxent.predict.stream import predict_records

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SHIPPED = pretrained_models()


def _needs(name: str):
    return pytest.mark.skipif(name not in SHIPPED, reason=f"pretrained model {name!r} is not shipped")


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_model_is_small_and_names_its_data_set(name):
    assert SHIPPED[name].stat().st_size < 20e6
    ckpt = load_checkpoint(name)
    assert ckpt.temperature > 0 and ckpt.classes


@_needs("ss3")
def test_ss3_by_name_on_pdb_chains():
    table = pd.read_csv(REPO / "data" / "ss_pdb.tsv.gz", sep="\t", usecols=["id", "sequence", "ss3"])
    sample = table.sample(60, random_state=0)
    ckpt = load_checkpoint("ss3")
    assert ckpt.task == "residue" and sorted(ckpt.classes) == ["C", "E", "H"]
    records = [FastaRecord(i, s) for i, s in zip(sample["id"], sample["sequence"], strict=True)]
    preds = list(predict_records(ckpt, records))
    predicted = "".join("".join(ckpt.classes[k] for k in p.probs.argmax(axis=1)) for p in preds)
    truth = "".join(sample["ss3"])
    assert len(predicted) == len(truth)
    assert np.mean([a == b for a, b in zip(predicted, truth, strict=True)]) > 0.65


@_needs("coi_species")
def test_coi_species_by_name_from_the_command_line(tmp_path):
    out = tmp_path / "calls.tsv"
    subprocess.run([str(BIN / "seqxent"), "predict", "--model", "coi_species", "--input",
                    str(REPO / "data" / "examples" / "barcodes.fasta"), "--output", str(out)], check=True)
    calls = pd.read_csv(out, sep="\t", keep_default_na=False)
    assert {"id", "label", "status"} <= set(calls.columns)
    assert any(c.startswith("p_Osmia") for c in calls.columns)


@_needs("coi_species")
def test_coi_species_recognises_bundled_barcodes():
    records = list(read_fasta(REPO / "data" / "coi_bold.fasta.gz"))
    labels = pd.read_csv(REPO / "data" / "coi_bold.tsv", sep="\t", keep_default_na=False)
    species = dict(zip(labels["id"], labels["species"], strict=True))
    ckpt = load_checkpoint("coi_species")
    known = [r for r in records if species.get(r.id) in ckpt.classes][:200]
    preds = list(predict_records(ckpt, known, abstain=False))
    accuracy = np.mean([ckpt.classes[int(p.probs.argmax())] == species[p.id] for p in preds])
    assert accuracy > 0.9


@_needs("16s_genus")
def test_16s_genus_recognises_bundled_genes():
    records = list(read_fasta(REPO / "data" / "16s_refseq.fasta.gz"))[:400]
    labels = pd.read_csv(REPO / "data" / "16s_refseq.tsv", sep="\t", keep_default_na=False)
    genus = dict(zip(labels["id"], labels["genus"], strict=True))
    ckpt = load_checkpoint("16s_genus")
    known = [r for r in records if genus.get(r.id) in ckpt.classes]
    assert len(known) > 100
    preds = list(predict_records(ckpt, known, abstain=False))
    assert np.mean([ckpt.classes[int(p.probs.argmax())] == genus[p.id] for p in preds]) > 0.85


@_needs("16s_taxonomy")
def test_16s_taxonomy_names_lineages_of_bundled_genes(tmp_path):
    """The lineage model by name: one SINTAX line per gene, consistent lineages, the genus of known genes."""
    records = list(read_fasta(REPO / "data" / "16s_refseq.fasta.gz"))[:300]
    table = pd.read_csv(REPO / "data" / "16s_taxonomy.tsv", sep="\t", keep_default_na=False).set_index("id")
    query = tmp_path / "genes.fasta"
    query.write_text("".join(f">{r.id}\n{r.sequence}\n" for r in records))
    out = subprocess.run([str(BIN / "seqxent"), "predict", "--model", "16s_taxonomy", "--input", str(query),
                          "--output", "-", "--format", "sintax", "--threads", "1"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = out.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == [r.id for r in records]
    genus = [dict(t.split(":", 1) for t in line.split("\t")[3].split(",") if t).get("g") for line in lines]
    right = [g == table.loc[r.id, "genus"] for g, r in zip(genus, records, strict=True) if g is not None]
    assert len(right) > 150 and np.mean(right) > 0.95  # calls that pass the cut-off are right
