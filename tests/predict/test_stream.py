"""Tests of seqxent.predict.stream, the streaming spine of ``seqxent predict``, at its public API.

``predict_records(ckpt, records, batch_size=, chunk_size=, max_tokens=)`` and ``predict_fasta(ckpt, path, **kwargs)``
on tiny seeded models of the three task kinds (sequence, residue, multilabel): every input id comes out once and
in input order, a record that cannot be predicted gets its reason (written as ``skipped: <reason>``), the
batching does not change a probability, and the records are read lazily, a chunk at a time.
"""

import gzip
import inspect
from pathlib import Path

import numpy as np
import pytest
import torch

from seqxent.data.alphabet import Alphabet
from seqxent.data.io import FastaRecord
from seqxent.errors import InputError
from seqxent.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from seqxent.model.networks import build_model
from seqxent.predict.formats import get_writer
from seqxent.predict.stream import Prediction, predict_fasta, predict_records

# (task, alphabet, architecture, classes, temperature) of the tiny models.
MODELS = {
    "sequence": ("sequence", "dna", "sequence_cnn", ["a", "b", "c"], 2.0),
    "residue": ("residue", "protein", "residue_cnn", ["H", "E", "C"], 1.0),
    "multilabel": ("multilabel", "dna", "sequence_cnn", ["x", "y", "z", "w"], 1.0),
}
# Ids in an order no sort would give, lengths that length-bucketing reorders, lower case and gaps.
DNA = [("q2", "ACGTACGTACGTAC"), ("q1", "acgtnnnn"), ("q10", "ACGU"), ("gapped", "AC--GT..ACGTACGT"),
       ("b7", "ACGTACGTACGTACGTACGTACGTACGTAC"), ("a3", "TTGCA"), ("z0", "ACGTACGTAAACCCGGGTTT")]
PROTEIN = [("z9", "MKTAYIAKQRqisfvkshfs"), ("a1", "MKV"), ("m5", "ACDEFGHIKLMNPQRSTVWY"), ("c3", "MMMM"),
           ("d4", "GGSGGSGGSGGSGGSGGSGGSGGSGGS"), ("b2", "lsdedfkavfgmtrsafanlplwkqqnlkkekglf*")]


def _records(task: str) -> list[FastaRecord]:
    return [FastaRecord(rid, seq) for rid, seq in (PROTEIN if task == "residue" else DNA)]


@pytest.fixture(scope="module", params=sorted(MODELS))
def ckpt(request, tmp_path_factory) -> Checkpoint:
    """A tiny seeded model, saved and loaded back (the strict reload that ``seqxent predict`` does)."""
    task, alphabet, architecture, classes, temperature = MODELS[request.param]
    torch.manual_seed(0)
    hparams = {"in_channels": Alphabet.from_name(alphabet).size, "n_classes": len(classes), "channels": 8,
               "kernel_size": 5, "layers": 2}
    model = build_model(architecture, hparams).eval()
    with torch.no_grad():
        model.head.weight.mul_(8.0)  # away from uniform probabilities, so that a mix-up of records shows
    path = tmp_path_factory.mktemp("models") / f"{task}.pt"
    save_checkpoint(Checkpoint(model, task, Alphabet.from_name(alphabet), classes, architecture, hparams,
                               temperature), path)
    return load_checkpoint(path)


# --- every input id, in input order -----------------------------------------------------------------------------


@pytest.mark.parametrize(("batch_size", "chunk_size"), [(1, 1), (2, 3), (64, 4096)])
def test_every_input_id_once_in_input_order(ckpt, batch_size, chunk_size):
    records = _records(ckpt.task)
    preds = list(predict_records(ckpt, records, batch_size=batch_size, chunk_size=chunk_size))
    assert all(isinstance(p, Prediction) for p in preds)
    assert [p.id for p in preds] == [r.id for r in records]
    for pred, rec in zip(preds, records, strict=True):
        assert pred.sequence == ckpt.alphabet.clean(rec.sequence)  # the record's own sequence, not a neighbour's


def test_probabilities_have_the_shape_of_the_task(ckpt):
    for pred in predict_records(ckpt, _records(ckpt.task)):
        if ckpt.task == "residue":
            assert pred.probs.shape == (len(pred.sequence), len(ckpt.classes))
            np.testing.assert_allclose(pred.probs.sum(axis=1), 1.0, rtol=0, atol=1e-5)
        elif ckpt.task == "sequence":
            assert pred.probs.shape == (len(ckpt.classes),)
            np.testing.assert_allclose(pred.probs.sum(), 1.0, rtol=0, atol=1e-5)
        else:  # multilabel: independent label probabilities, no sum constraint
            assert pred.probs.shape == (len(ckpt.classes),)
            assert ((pred.probs > 0) & (pred.probs < 1)).all()
        assert pred.skipped == ""
        assert (pred.novelty is not None) == (ckpt.task == "sequence")


def test_empty_input_gives_no_predictions(ckpt):
    assert list(predict_records(ckpt, [])) == []


@pytest.mark.parametrize(("batch_size", "chunk_size"), [(0, 1), (1, 0)])
def test_batch_and_chunk_sizes_below_one_are_rejected(ckpt, batch_size, chunk_size):
    with pytest.raises(InputError, match="Expected `batch_size` and `chunk_size` ≥ 1"):
        list(predict_records(ckpt, _records(ckpt.task), batch_size=batch_size, chunk_size=chunk_size))


# --- bad records: skipped, with the reason -------------------------------------------------------------------------


def _bad_records(task: str) -> tuple[list[FastaRecord], dict[str, str]]:
    """Good and bad records interleaved, and the skip reason of each bad one."""
    if task == "residue":
        bad = {"digit": ("MK1V", "invalid protein character(s): '1' at position 3"),
               "empty": ("", "empty sequence"),
               "gaps_only": ("--..", "empty sequence"),
               "three_bad": ("M1K2V3W4", "invalid protein character(s): '1' at position 2, '2' at position 4, "
                                         "'3' at position 6")}
    else:
        bad = {"digit": ("ACG1T", "invalid dna character(s): '1' at position 4"),
               "empty": ("", "empty sequence"),
               "gaps_only": ("--..", "empty sequence"),
               # positions count in the cleaned sequence (gaps removed); only the first three are named
               "three_bad": ("AC--ZZGTQX", "invalid dna character(s): 'Z' at position 3, 'Z' at position 4, "
                                           "'Q' at position 7")}
    good = _records(task)
    records = [good[0], *(FastaRecord(rid, seq) for rid, (seq, _) in bad.items()), *good[1:]]
    return records, {rid: reason for rid, (_, reason) in bad.items()}


def test_bad_records_are_skipped_with_their_reason(ckpt):
    records, reasons = _bad_records(ckpt.task)
    preds = list(predict_records(ckpt, records, batch_size=2, chunk_size=3))
    assert [p.id for p in preds] == [r.id for r in records]
    assert {p.id: p.skipped for p in preds if p.skipped} == reasons
    for pred in preds:
        assert (pred.probs is None) == bool(pred.skipped)
        if pred.skipped:
            assert pred.novelty is None and not pred.abstained


def test_bad_records_do_not_change_the_good_ones(ckpt):
    records, reasons = _bad_records(ckpt.task)
    with_bad = {p.id: p.probs for p in predict_records(ckpt, records, batch_size=1) if p.id not in reasons}
    alone = {p.id: p.probs for p in predict_records(ckpt, _records(ckpt.task), batch_size=1)}
    assert with_bad.keys() == alone.keys()
    for rid, probs in alone.items():
        np.testing.assert_allclose(with_bad[rid], probs, rtol=0, atol=1e-6)


def test_skipped_records_are_written_with_skipped_status(ckpt):
    import io

    records, reasons = _bad_records(ckpt.task)
    out = io.StringIO(newline="")
    writer = get_writer("tsv", ckpt.classes, ckpt.task)
    writer.begin(out)
    for pred in predict_records(ckpt, records):
        writer.write(out, pred)
    writer.end(out)
    rows = {line.split("\t")[0]: line for line in out.getvalue().splitlines()[1:]}
    for rid, reason in reasons.items():
        assert f"skipped: {reason}" in rows[rid]
    assert not any("skipped" in row for rid, row in rows.items() if rid not in reasons)


# --- batching does not change a probability ----------------------------------------------------------------------


@pytest.mark.parametrize(("batch_size", "chunk_size", "max_tokens"),
                         [(2, 3, 0), (3, 100, 0), (5, 2, 0), (64, 4096, 0), (64, 4096, 40)])
def test_batch_size_does_not_change_probabilities(ckpt, batch_size, chunk_size, max_tokens):
    records = _records(ckpt.task)
    # Reference: one record per forward pass, so no padding anywhere.
    reference = list(predict_records(ckpt, records, batch_size=1, chunk_size=1))
    other = list(predict_records(ckpt, records, batch_size=batch_size, chunk_size=chunk_size,
                                 max_tokens=max_tokens))
    assert [p.id for p in other] == [p.id for p in reference]
    for a, b in zip(reference, other, strict=True):
        # Not bit-identical: float32 convolutions and pooling sum in another order for another batch shape
        # (padding, batch dimension), which moves a probability by a few float32 ulps (~1e-7). 1e-5 leaves room
        # for that and still catches any padding leak or record mix-up (the heads are scaled up).
        np.testing.assert_allclose(a.probs, b.probs, rtol=0, atol=1e-5)


# --- streaming: records are read lazily, a chunk at a time ------------------------------------------------------


def test_predict_records_is_a_generator_that_reads_nothing_until_consumed(ckpt):
    def records():
        raise AssertionError("read at call time")
        yield  # pragma: no cover

    stream = predict_records(ckpt, records())
    assert inspect.isgenerator(stream)


def test_first_prediction_does_not_read_the_whole_input(ckpt):
    chunk_size = 4
    read = []

    def records():
        """Endless input; fails past three chunks (one yielded, one computed ahead, one spare)."""
        good = _records(ckpt.task)
        for i in range(10**9):
            if i == 3 * chunk_size:
                raise AssertionError(f"read {i} records for the first prediction")
            read.append(i)
            rec = good[i % len(good)]
            yield FastaRecord(f"{rec.id}_{i}", rec.sequence)

    stream = predict_records(ckpt, records(), batch_size=2, chunk_size=chunk_size)
    first = next(stream)
    assert first.id == f"{_records(ckpt.task)[0].id}_0"
    assert len(read) <= 2 * chunk_size  # at most the chunk being yielded and the next one
    stream.close()


def test_predict_fasta_reads_the_file_incrementally(ckpt, tmp_path):
    # A gzipped FASTA cut short: the first predictions come out before the reader reaches the damage, and
    # the damage is still reported once the stream gets there.
    good = _records(ckpt.task)
    text = "".join(f">{rec.id}_{i}\n{rec.sequence}\n" for i in range(2000) for rec in good[:1])
    data = gzip.compress(text.encode())
    path = tmp_path / "cut.fasta.gz"
    path.write_bytes(data[: len(data) // 2])
    stream = predict_fasta(ckpt, path, batch_size=2, chunk_size=4)
    assert [next(stream).id for _ in range(3)] == [f"{good[0].id}_{i}" for i in range(3)]
    with pytest.raises(InputError, match="truncated or corrupt gzip stream"):
        list(stream)


def test_predict_fasta_equals_predict_records(ckpt, tmp_path):
    records = _records(ckpt.task)
    path = Path(tmp_path) / "in.fasta"
    path.write_text("".join(f">{rec.id} a description\n{rec.sequence}\n" for rec in records))
    from_file = list(predict_fasta(ckpt, path, batch_size=3))
    from_records = list(predict_records(ckpt, records, batch_size=3))
    assert [p.id for p in from_file] == [p.id for p in from_records]
    for a, b in zip(from_file, from_records, strict=True):
        np.testing.assert_array_equal(a.probs, b.probs)


def test_models_with_many_classes_read_fewer_records_a_chunk(ckpt, monkeypatch):
    from seqxent.predict import stream

    sizes = []
    real = stream._chunks
    monkeypatch.setattr(stream, "_chunks", lambda records, size: sizes.append(size) or real(records, size))
    monkeypatch.setattr(stream, "CHUNK_CELLS", 300 * len(ckpt.classes))  # 300 records of these classes a chunk
    ids = [p.id for p in predict_records(ckpt, _records(ckpt.task), chunk_size=4096)]
    assert sizes == [300] and ids == [r.id for r in _records(ckpt.task)]
    monkeypatch.setattr(stream, "CHUNK_CELLS", 1)  # never fewer than 256 records a chunk
    list(predict_records(ckpt, _records(ckpt.task), chunk_size=4096))
    assert sizes[-1] == 256
