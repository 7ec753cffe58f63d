"""Streaming prediction from FASTA: read a chunk, predict it in length-bucketed batches, yield in input order.

Memory stays flat in the number of records (one chunk at a time). Every input record yields a
:class:`Prediction`: either with probabilities, or with the reason it was skipped (empty or invalid sequence).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from seqxent.checkpoint import Checkpoint
from seqxent.data import Example
from seqxent.errors import InputError
from seqxent.inference import predict_logits, softmax
from seqxent.io import FastaRecord, iter_fasta


@dataclass
class Prediction:
    """The prediction of one input record.

    Attributes:
        id: the record id.
        sequence: the cleaned sequence (upper case, gaps removed).
        probs: ``(K,)`` class probabilities, ``(L, K)`` per residue, or None when skipped.
        skipped: the reason the record was not predicted ("" when it was).
    """

    id: str
    sequence: str
    probs: np.ndarray | None = None
    skipped: str = ""


def _chunks(records: Iterable[FastaRecord], size: int) -> Iterator[list[FastaRecord]]:
    it = iter(records)
    while chunk := list(islice(it, size)):
        yield chunk


def _check(rec: FastaRecord, ckpt: Checkpoint) -> tuple[str, str]:
    seq = ckpt.alphabet.clean(rec.sequence)
    if not seq:
        return seq, "empty sequence"
    bad = ckpt.alphabet.invalid_characters(seq)
    if bad:
        shown = ", ".join(f"{c!r} at position {p + 1}" for p, c in bad[:3])
        return seq, f"invalid {ckpt.alphabet.name} character(s): {shown}"
    return seq, ""


def predict_records(ckpt: Checkpoint, records: Iterable[FastaRecord], batch_size: int = 64,
                    max_tokens: int = 0, device="cpu", chunk_size: int = 4096,
                    calibrated: bool = True) -> Iterator[Prediction]:
    """Predict every record, yielding :class:`Prediction` objects in input order.

    Args:
        ckpt: the loaded model.
        records: FASTA records (any iterable; consumed lazily).
        batch_size: records per forward pass.
        max_tokens: cap on padded positions per batch (0 = none); bounds memory for long proteins.
        device: torch device of the model.
        chunk_size: records read ahead and sorted by length.
        calibrated: divide logits by the checkpoint's temperature (False: raw softmax).
    """
    if batch_size < 1 or chunk_size < 1:
        raise InputError(f"Expected `batch_size` and `chunk_size` ≥ 1, but got {batch_size}, {chunk_size}")
    temperature = ckpt.temperature if calibrated else 1.0
    for chunk in _chunks(records, chunk_size):
        checked = [_check(rec, ckpt) for rec in chunk]
        examples = [Example(rec.id, ckpt.alphabet.to_codes(seq))
                    for rec, (seq, why) in zip(chunk, checked, strict=True) if not why]
        logits = iter(predict_logits(ckpt.model, examples, ckpt.alphabet, batch_size, max_tokens, device))
        for rec, (seq, why) in zip(chunk, checked, strict=True):
            if why:
                yield Prediction(rec.id, seq, None, why)
            else:
                yield Prediction(rec.id, seq, softmax(next(logits), temperature))


def predict_fasta(ckpt: Checkpoint, path: Path | str, **kwargs) -> Iterator[Prediction]:
    """:func:`predict_records` over the records of a FASTA[.gz] file, read incrementally."""
    return predict_records(ckpt, iter_fasta(path), **kwargs)
