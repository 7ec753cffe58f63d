"""Property tests (Hypothesis) of everything that reads user input: only InputError ever escapes, and every
input record is accounted for.

Readers get random bytes and random FASTA-like text (odd characters, every line ending, BOM, gzip, truncation);
the alphabet gets random strings; ``predict_records`` gets random records and must yield one prediction per
record, in order. Example counts are modest so the suite stays fast; the Hypothesis database replays failures.
"""

from __future__ import annotations

import gzip
import os
import string
import tempfile
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seqxent.data.alphabet import Alphabet
from seqxent.data.io import FastaRecord, iter_fasta, read_fasta, read_table
from seqxent.errors import InputError
from seqxent.model.checkpoint import Checkpoint
from seqxent.model.networks import build_model
from seqxent.predict.stream import predict_records
from seqxent.prepare.build import PrepareConfig, prepare_dataset

# SEQXENT_FUZZ_EXAMPLES=5000 pytest tests/cli/test_fuzz.py fuzzes harder (the default keeps the suite fast).
EXAMPLES = int(os.environ.get("SEQXENT_FUZZ_EXAMPLES", "60"))
FAST = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Characters that make FASTA hard: IUPAC and protein letters, gaps, stops, digits, whitespace, quotes,
# non-ASCII letters, control characters and line-end characters inside lines.
ODD = "ACGTUNRYacgtunry-.*0123456789 \t\"';>|ÄßéıΩ\x00\x0b\x0c\x1c\u00a0\u2028"
LINE_ENDS = ["\n", "\r\n", "\r"]


def _write(data: bytes, directory: str, name: str = "x.fasta") -> Path:
    path = Path(directory) / name
    path.write_bytes(data)
    return path


def _naive_records(text: str) -> list[tuple[str, str]]:
    """(id, sequence) of FASTA text by plain string processing: an independent model of the reader."""
    records: list[list] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if line.startswith(">"):
            records.append([line[1:].split()[0] if line[1:].split() else "", []])
        elif records:
            records[-1][1].append("".join(line.split()))
    return [(rid, "".join(parts)) for rid, parts in records]


@st.composite
def fasta_like(draw, compress: bool | None = None) -> tuple[bytes, str]:
    """FASTA-ish bytes (sometimes BOM, gzip or truncated; ``compress`` forces gzip on or off) and their text."""
    n = draw(st.integers(0, 5))
    end = draw(st.sampled_from(LINE_ENDS))
    lines = [draw(st.sampled_from(["", "\n", " \n"]))] if draw(st.booleans()) else []
    for _ in range(n):
        header = draw(st.text(alphabet=string.ascii_letters + string.digits + " |_\t" + ODD, max_size=12))
        lines.append(">" + header.replace("\n", "").replace("\r", ""))
        for _ in range(draw(st.integers(0, 3))):
            lines.append(draw(st.text(alphabet=ODD, max_size=20)))
    text = end.join(lines) + (end if draw(st.booleans()) else "")
    data = text.encode("utf-8")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    if compress if compress is not None else draw(st.booleans()):
        data = gzip.compress(data, mtime=0)
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
    return data, text


@FAST
@given(st.binary(max_size=300))
def test_fasta_reader_on_random_bytes(data):
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(data, tmp)
        try:
            records = read_fasta(path)
        except InputError as err:
            assert str(err).startswith(str(path))
            return
    assert all(isinstance(r, FastaRecord) and r.id for r in records)


@FAST
@given(fasta_like())
def test_fasta_reader_on_fasta_like_text(sample):
    data, text = sample
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(data, tmp)
        try:
            records = list(iter_fasta(path))
        except InputError as err:
            assert str(err).startswith(f"{path}: ")
            return
    # Read without error: the file was complete and every record is there, exactly as a plain split sees it.
    # (Hypothesis text holds U+2028 and friends; only \n, \r and \r\n end a line, as in the reader.)
    assert [(r.id, r.sequence) for r in records] == _naive_records(text)


@FAST
@given(fasta_like(compress=True))
def test_truncated_gzip_is_an_error_or_complete(sample):
    data, text = sample
    complete = zlib.decompressobj(wbits=31)
    try:
        whole = complete.decompress(data) if data else b""
        finished = complete.eof
    except zlib.error:
        finished = False
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(data, tmp)
        try:
            records = list(iter_fasta(path))
        except InputError:
            return
    assert finished, "a truncated stream must not read as a complete file"
    assert len(records) == len(_naive_records(whole.decode("utf-8-sig")))


ALPHABETS = [Alphabet.from_name("dna"), Alphabet.from_name("protein")]


@FAST
@given(st.sampled_from(ALPHABETS), st.text(alphabet=ODD + string.ascii_letters, max_size=40))
def test_alphabet_encode_is_a_distribution_or_input_error(alphabet, seq):
    try:
        x = alphabet.encode(seq)
    except InputError as err:
        assert "invalid" in str(err) and alphabet.name in str(err)
        assert alphabet.invalid_characters(alphabet.clean(seq)), "an error only for a rejected character"
        return
    assert x.shape == (alphabet.size, len(alphabet.clean(seq)))
    np.testing.assert_allclose(x.sum(axis=0), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(alphabet.encode(seq.lower()), x)


@FAST
@given(st.text(alphabet="ab\t\n\r\" ,x1é", max_size=60), st.booleans())
def test_read_table_on_random_text(text, compress):
    data = text.encode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(gzip.compress(data, mtime=0) if compress else data, tmp, "t.tsv")
        try:
            table = read_table(path, id_column="a")
        except InputError as err:
            assert str(err).startswith(f"{path}: ")
            return
    assert "a" in table.columns
    assert table["a"].is_unique and (table["a"] != "").all()
    assert all(table[c].map(lambda v: isinstance(v, str) and "\n" not in v).all() for c in table.columns)


def _tiny_checkpoint(alphabet: str, task: str, classes: list[str]) -> Checkpoint:
    torch.manual_seed(0)
    kind = "sequence_cnn" if task == "sequence" else "residue_cnn"
    hparams = {"in_channels": Alphabet.from_name(alphabet).size, "n_classes": len(classes), "channels": 4,
               "kernel_size": 3, "layers": 1, "dropout": 0.0}
    return Checkpoint(build_model(kind, hparams).eval(), task, Alphabet.from_name(alphabet), classes, kind, hparams)


MODELS = {"sequence": _tiny_checkpoint("dna", "sequence", ["A", "B", "C"]),
          "residue": _tiny_checkpoint("protein", "residue", ["H", "E", "C"])}
records_strategy = st.lists(st.builds(FastaRecord, st.text(max_size=8), st.text(alphabet=ODD + "MKLW", max_size=30)),
                            max_size=12)


@FAST
@given(st.sampled_from(sorted(MODELS)), records_strategy, st.integers(1, 5), st.integers(1, 4))
def test_predict_records_accounts_for_every_record(task, records, batch_size, chunk_size):
    ckpt = MODELS[task]
    preds = list(predict_records(ckpt, records, batch_size=batch_size, chunk_size=chunk_size))
    assert [p.id for p in preds] == [r.id for r in records]
    for pred, rec in zip(preds, records, strict=True):
        assert pred.sequence == ckpt.alphabet.clean(rec.sequence)
        if pred.probs is None:
            assert pred.skipped
            assert pred.skipped == "empty sequence" or pred.skipped.startswith("invalid")
            continue
        assert not pred.skipped
        shape = (len(ckpt.classes),) if task == "sequence" else (len(pred.sequence), len(ckpt.classes))
        assert pred.probs.shape == shape
        np.testing.assert_allclose(pred.probs.sum(axis=-1), 1.0, rtol=1e-5)


@pytest.mark.parametrize("batch_size", [1, 3])
def test_predict_is_independent_of_batching(batch_size):
    records = [FastaRecord(f"r{i}", "ACGT" * (i + 1)) for i in range(7)]
    ref = [p.probs for p in predict_records(MODELS["sequence"], records, batch_size=64)]
    got = [p.probs for p in predict_records(MODELS["sequence"], records, batch_size=batch_size, chunk_size=2)]
    for a, b in zip(ref, got, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


label_tables = st.lists(
    st.tuples(st.text(alphabet="abc xy\"", min_size=0, max_size=4),
              st.text(alphabet="ACGTN-*x ", max_size=12),
              st.sampled_from(["L1", "L2", "", "NaN", " L1 "])),
    max_size=12)


@settings(max_examples=max(EXAMPLES // 2, 1), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(label_tables, st.sampled_from(["error", "skip"]))
def test_prepare_accounts_for_every_record(rows, on_invalid):
    text = "id\tsequence\tlabel\n" + "".join(f"{a}\t{b}\t{c}\n" for a, b, c in rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = _write(text.encode(), tmp, "table.tsv")
        cfg = PrepareConfig("fuzz", "sequence", "dna", "label", table=path, on_invalid=on_invalid)
        try:
            table, summary = prepare_dataset(cfg)
        except InputError:
            return
        source = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
    assert sorted(table["id"]) == sorted(source["id"].str.strip())
    assert ((table["split"] == "excluded") == (table["reason"] != "")).all()
    assert summary["n_input"] == len(source)
