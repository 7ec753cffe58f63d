"""Tests of ``--strand both``: each DNA record is also predicted as its reverse complement, the likelier kept.

A record and its reverse complement are the same pair of orientations, so under ``strand="both"`` they must get
the same probabilities and scores, with opposite strands; a record whose forward orientation wins gets, once
reverse-complemented, the forward prediction and strand ``-``. Real COI barcodes from data/coi_bold.fasta.gz
(IUPAC codes included) and a tiny seeded model.
"""

import io
import json
from itertools import islice
from pathlib import Path

import numpy as np
import pytest
import torch
from Bio.Seq import reverse_complement

from seqxent.cli import main
from seqxent.data.alphabet import Alphabet
from seqxent.data.io import FastaRecord, iter_fasta, write_fasta
from seqxent.errors import InputError
from seqxent.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from seqxent.model.networks import build_model
from seqxent.predict.formats import get_writer
from seqxent.predict.stream import Prediction, _orient, predict_records
from seqxent.tasks import get_task

DATA = Path(__file__).resolve().parents[2] / "data"


def _model(path: Path, task: str, alphabet: str, classes: list[str]) -> Checkpoint:
    torch.manual_seed(1)
    architecture = "residue_cnn" if task == "residue" else "sequence_cnn"
    hparams = {"in_channels": Alphabet.from_name(alphabet).size, "n_classes": len(classes), "channels": 8,
               "kernel_size": 5, "layers": 2}
    model = build_model(architecture, hparams).eval()
    with torch.no_grad():
        model.head.weight.mul_(8.0)  # away from uniform probabilities
    save_checkpoint(Checkpoint(model, task, Alphabet.from_name(alphabet), classes, architecture, hparams, 1.5,
                               {"label_column": "species"}), path)
    return load_checkpoint(path)


@pytest.fixture(scope="module")
def dna_model(tmp_path_factory) -> Checkpoint:
    return _model(tmp_path_factory.mktemp("models") / "dna.pt", "sequence", "dna", ["x", "y", "z"])


@pytest.fixture(scope="module")
def barcodes() -> list[FastaRecord]:
    return list(islice(iter_fasta(DATA / "coi_bold.fasta.gz"), 40))


def _reversed(records: list[FastaRecord]) -> list[FastaRecord]:
    return [FastaRecord(r.id, reverse_complement(r.sequence), r.description) for r in records]


def test_reverse_complemented_records_get_the_forward_prediction(dna_model, barcodes):
    forward = list(predict_records(dna_model, barcodes, strand="both", batch_size=7))
    backward = list(predict_records(dna_model, _reversed(barcodes), strand="both", batch_size=5))
    plus = list(predict_records(dna_model, barcodes))
    assert {p.strand for p in forward} == {"+", "-"}  # the model prefers either orientation, depending on the record
    for f, b, p in zip(forward, backward, plus, strict=True):
        assert (f.id, f.probs.argmax()) == (b.id, b.probs.argmax())
        np.testing.assert_allclose(b.probs, f.probs, rtol=0, atol=1e-6)
        assert b.novelty == pytest.approx(f.novelty, abs=1e-5)
        assert {f.strand, b.strand} == {"+", "-"}
        if f.strand == "+":  # the forward orientation won: the reversed record is turned back, strand "-"
            assert b.strand == "-"
            np.testing.assert_allclose(b.probs, p.probs, rtol=0, atol=1e-6)
    assert all(p.strand == "" for p in plus)  # strand "plus" (the default) sets no strand


def test_strand_both_keeps_the_higher_top_probability(dna_model, barcodes):
    both = list(predict_records(dna_model, barcodes, strand="both"))
    plus = list(predict_records(dna_model, barcodes))
    reverse = list(predict_records(dna_model, _reversed(barcodes)))
    for b, p, r in zip(both, plus, reverse, strict=True):
        best = p if p.probs.max() >= r.probs.max() else r
        np.testing.assert_allclose(b.probs, best.probs, rtol=0, atol=1e-6)
        assert b.strand == ("+" if best is p else "-")
        assert b.sequence == p.sequence  # the record as given (cleaned), whichever orientation won


def test_skipped_records_have_no_strand(dna_model):
    records = [FastaRecord("ok", "ACGTACGTAC"), FastaRecord("empty", ""), FastaRecord("bad", "ACGXT"),
               FastaRecord("fq", "ACGT", "fq", "FASTQ quality line has 2 characters for 4 bases")]
    preds = list(predict_records(dna_model, records, strand="both"))
    assert [(p.id, p.strand, p.skipped) for p in preds] == [
        ("ok", preds[0].strand, ""), ("empty", "", "empty sequence"),
        ("bad", "", "invalid dna character(s): 'X' at position 4"),
        ("fq", "", "FASTQ quality line has 2 characters for 4 bases")]
    assert preds[0].strand in ("+", "-")


def test_orient_exact_choice_tie_and_distance():
    # Two records: the first is likelier reversed, the second ties (the forward orientation is kept).
    logits = [np.array([0.0, 1.0]), np.array([2.0, 0.0]), np.array([3.0, 0.0]), np.array([0.0, 2.0])]
    distance = np.array([0.1, 0.2, 0.3, 0.4])
    task = get_task("sequence")
    activate = lambda z, nearest=None: task.probs(z, 1.0)  # noqa: E731
    chosen, (dist, index), strands = _orient(logits, (distance, np.arange(4)), activate, lambda p: p.max(axis=1))
    assert strands == ["-", "+"]
    np.testing.assert_array_equal(np.stack(chosen), [[3.0, 0.0], [2.0, 0.0]])
    np.testing.assert_array_equal(dist, [0.3, 0.2])
    np.testing.assert_array_equal(index, [2, 1])  # the closest sequence of the orientation kept
    assert _orient([], None, lambda z: z, lambda p: p) == ([], None, [])


@pytest.mark.parametrize(("task", "alphabet", "kind"), [("residue", "protein", "protein residue"),
                                                        ("sequence", "protein", "protein sequence"),
                                                        ("residue", "dna", "dna residue")])
def test_strand_both_needs_a_dna_model_of_whole_records(tmp_path, task, alphabet, kind):
    ckpt = _model(tmp_path / "m.pt", task, alphabet, ["H", "E", "C"])
    with pytest.raises(InputError) as info:
        next(predict_records(ckpt, [FastaRecord("p", "MKV")], strand="both"))
    assert str(info.value) == f"--strand both needs a DNA model that predicts whole records, but this is a {kind} model"


def test_unknown_strand(dna_model):
    with pytest.raises(InputError) as info:
        next(predict_records(dna_model, [], strand="minus"))
    assert str(info.value) == "Expected argument `strand` to be one of ['plus', 'both'], but got 'minus'"


def test_multilabel_dna_model_takes_strand_both(tmp_path, barcodes):
    ckpt = _model(tmp_path / "ml.pt", "multilabel", "dna", ["p", "q"])
    preds = list(predict_records(ckpt, barcodes[:6], strand="both"))
    assert all(p.strand in ("+", "-") for p in preds)
    out = io.StringIO()
    writer = get_writer("tsv", ckpt.classes, ckpt.task, strand=True)
    writer.begin(out)
    for pred in [*preds[:1], Prediction("s", "", None, "empty sequence")]:
        writer.write(out, pred)
    lines = out.getvalue().splitlines()
    assert lines[0] == "id\tlabel\tp_p\tp_q\tstrand\tstatus"
    assert lines[1].split("\t")[4] == preds[0].strand
    assert lines[2] == "s\t\t\t\t\tskipped: empty sequence"


def test_writers_add_strand_only_when_asked():
    pred = Prediction("r1", "ACGT", np.array([0.25, 0.75]), novelty={"energy": -1.5, "msp": 0.25, "nll": 0.2877},
                      strand="-")
    skipped = Prediction("r2", "", None, "empty sequence")
    ckpt_classes, task = ["x", "z"], "sequence"
    texts = {}
    for fmt in ("tsv", "json"):
        for strand in (False, True):
            out = io.StringIO()
            writer = get_writer(fmt, ckpt_classes, task, strand=strand)
            writer.begin(out)
            writer.write(out, pred)
            writer.write(out, skipped)
            writer.end(out)
            texts[fmt, strand] = out.getvalue()
    assert texts["tsv", True] == ("id\tlabel\tp_x\tp_z\tenergy\tmsp\tnll\tstrand\tstatus\n"
                                  "r1\tz\t0.2500\t0.7500\t-1.5000\t0.2500\t0.2877\t-\tpredicted\n"
                                  "r2\t\t\t\t\t\t\t\tskipped: empty sequence\n")
    assert "strand" not in texts["tsv", False] and "strand" not in texts["json", False]
    assert json.loads(texts["json", True]) == [
        {"id": "r1", "label": "z", "probs": {"x": 0.25, "z": 0.75}, "energy": -1.5, "msp": 0.25, "nll": 0.2877,
         "strand": "-", "status": "predicted"},
        {"id": "r2", "status": "skipped: empty sequence"}]


def test_cli_strand_both_tsv_column(tmp_path, dna_model, barcodes):
    model = tmp_path / "m.pt"
    save_checkpoint(dna_model, model)
    fasta = tmp_path / "q.fasta"
    write_fasta(fasta, ((r.description, r.sequence) for r in _reversed(barcodes[:5])))
    out = tmp_path / "o.tsv"
    argv = ["-q", "predict", "--model", str(model), "--input", str(fasta), "--output", str(out), "--strand", "both"]
    assert main(argv) == 0
    rows = [line.split("\t") for line in out.read_text().splitlines()]
    assert rows[0][-2:] == ["strand", "status"]
    want = list(predict_records(dna_model, _reversed(barcodes[:5]), strand="both"))
    assert [(r[0], r[-2]) for r in rows[1:]] == [(p.id, p.strand) for p in want]
