"""Streaming prediction from FASTA or FASTQ: read a chunk, predict it in length-bucketed batches, yield in input order.

Memory stays flat in the number of records (one chunk at a time). Every input record yields a
:class:`Prediction`: either with probabilities, or with the reason it was skipped (empty or invalid sequence, a
FASTQ record with a bad quality line). With ``strand="both"`` (DNA models that predict whole records, as
``vsearch --strand both``) each record is also predicted as its reverse complement, and the orientation with
the higher top probability is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from seqxent.calibrate.novelty import AbstainRule, novelty_scores
from seqxent.calibrate.reference import KmerReference
from seqxent.data.batching import Example
from seqxent.data.io import FastaRecord, iter_fasta
from seqxent.errors import InputError
from seqxent.model.checkpoint import Checkpoint
from seqxent.model.engine import build_engine
from seqxent.tasks import Task, get_task


@dataclass
class Prediction:
    """The prediction of one input record.

    Attributes:
        id: the record id.
        sequence: the cleaned sequence (upper case, gaps removed).
        probs: ``(K,)`` class probabilities, ``(L, K)`` per residue, ``(K,)`` independent label probabilities
            (multilabel models), or None when skipped.
        skipped: the reason the record was not predicted ("" when it was).
        novelty: sequence models: the novelty scores (energy, msp, nll; :mod:`seqxent.calibrate.novelty`) at the
            temperature of ``probs``, and kmer_distance for models with a k-mer reference; None for residue
            models and skipped records.
        abstained: whether the abstain rule of the checkpoint turned the label into ``unassigned``.
        strand: ``+`` or ``-`` (the orientation kept) with ``strand="both"``; "" otherwise and when skipped.
        description: the whole header line of the record (its id and what follows).
    """

    id: str
    sequence: str
    probs: np.ndarray | None = None
    skipped: str = ""
    novelty: dict[str, float] | None = None
    abstained: bool = False
    strand: str = ""
    description: str = ""

#: Most probabilities held for one chunk (records × classes): models with tens of thousands of classes (lineage
#: models) read fewer records a chunk, so their memory stays near that of a flat model (16S lineages: 20,422
#: classes, 1,643 records a chunk, 134 MB of float32 a probability array).
CHUNK_CELLS = 1 << 25
#: Values of ``strand``: ``plus`` predicts the records as they are, ``both`` also their reverse complements.
STRANDS = ("plus", "both")


def _chunks(records: Iterable[FastaRecord], size: int) -> Iterator[list[FastaRecord]]:
    it = iter(records)
    while chunk := list(islice(it, size)):
        yield chunk


def _check(rec: FastaRecord, ckpt: Checkpoint) -> tuple[str, str, np.ndarray | None]:
    """``(cleaned sequence, skip reason or "", codes or None)`` of one record."""
    seq = ckpt.alphabet.clean(rec.sequence)
    if rec.problem:  # e.g. a FASTQ quality line of the wrong length (seqxent.data.io)
        return seq, rec.problem, None
    if not seq:
        return seq, "empty sequence", None
    try:
        return seq, "", ckpt.alphabet.to_codes(seq)  # vectorised; the error path names the characters
    except InputError:
        bad = ckpt.alphabet.invalid_characters(seq)
        shown = ", ".join(f"{c!r} at position {p + 1}" for p, c in bad[:3])
        return seq, f"invalid {ckpt.alphabet.name} character(s): {shown}", None


def predict_records(ckpt: Checkpoint, records: Iterable[FastaRecord], batch_size: int = 64,
                    max_tokens: int = 0, device="cpu", chunk_size: int = 4096,
                    calibrated: bool = True, abstain: bool = True,
                    precision: str = "float32", strand: str = "plus") -> Iterator[Prediction]:
    """Predict every record, yielding :class:`Prediction` objects in input order.

    Args:
        ckpt: the loaded model.
        records: FASTA records (any iterable; consumed lazily).
        batch_size: records per forward pass.
        max_tokens: cap on padded positions per batch (0 = none); bounds memory for long proteins.
        device: torch device of the model.
        chunk_size: records read ahead and sorted by length (at most :data:`CHUNK_CELLS` / classes, at
            least 256).
        calibrated: divide logits by the checkpoint's temperature (False: raw softmax).
        abstain: apply the checkpoint's abstain rule (``meta["ood"]``, from ``seqxent calibrate``) to sequence
            models: a record whose novelty score is above the threshold gets ``abstained = True``. The rule
            belongs to the calibrated scores, so it is not applied when ``calibrated`` is False.
        precision: ``"float32"`` or ``"bfloat16"`` (faster on CPUs with AMX/AVX-512 BF16 and on GPUs;
            probabilities then differ by up to about 1e-2).
        strand: ``"plus"`` or ``"both"``: also predict the reverse complement (Biopython's, IUPAC-aware) and
            keep the orientation with the higher top probability (the forward one on a tie), its probabilities,
            scores and ``strand`` (``+`` or ``-``). DNA models that predict whole records only.

    Raises:
        InputError: for sizes below 1, or ``strand="both"`` with a protein or per-residue model.
    """
    if batch_size < 1 or chunk_size < 1:
        raise InputError(f"Expected `batch_size` and `chunk_size` ≥ 1, but got {batch_size}, {chunk_size}")
    task = get_task(ckpt.task)
    chunk_size = min(chunk_size, max(256, CHUNK_CELLS // max(len(ckpt.classes), 1)))
    both = check_strand(strand, ckpt.alphabet.name, task)
    temperature = ckpt.temperature if calibrated else 1.0  # of the novelty scores
    activate = task.output(ckpt, calibrated)  # logits -> probabilities (per-rank temperatures for lineages)
    engine = build_engine(ckpt.model, ckpt.alphabet, device, precision)  # same logits, faster (seqxent.model.engine)
    rule = AbstainRule.from_meta(ckpt.meta) if abstain and calibrated else None
    reference = KmerReference.from_meta(ckpt.meta) if task.novelty or task.nearest_reference else None
    if reference is not None:
        reference.index()  # built once here, not by each side thread at its first chunk
    # The engine computes the next chunk's logits in the background while this one is yielded (and written),
    # and as many side threads as it has workers its k-mer distances (numpy and scipy release the GIL).
    with ThreadPoolExecutor(engine.workers) as side:
        top = task.reference_top(ckpt)  # lineage models: the closest sequences that vote
        prepared = (_prepare(chunk, ckpt, reference, side, engine.workers, both, top)
                    for chunk in _chunks(records, chunk_size))
        for (chunk, checked, parts), logits in engine.map_chunks(prepared, batch_size, max_tokens):
            found = [part.result() for part in parts]
            nearest = tuple(np.concatenate(values) for values in zip(*found, strict=True)) if found else None
            strands = None
            if both:
                logits, nearest, strands = _orient(logits, nearest, activate, task.strand_score(ckpt))
            yield from _predictions(chunk, checked, logits, nearest, task, activate, temperature, rule, strands)


def check_strand(strand: str, alphabet: str, task: Task) -> bool:
    """Whether ``strand`` asks for both orientations.

    Raises:
        InputError: for a value outside :data:`STRANDS`, or ``"both"`` with a model that is not a DNA model
            predicting whole records.
    """
    if strand not in STRANDS:
        raise InputError(f"Expected argument `strand` to be one of {list(STRANDS)}, but got {strand!r}")
    if strand == "both" and (alphabet != "dna" or task.per_residue):
        kind = f"{alphabet} {task.name}"
        raise InputError(f"--strand both needs a DNA model that predicts whole records, but this is a {kind} model")
    return strand == "both"


def _orient(logits: list[np.ndarray], nearest: tuple[np.ndarray, np.ndarray] | None, activate,
            score) -> tuple[list[np.ndarray], tuple[np.ndarray, np.ndarray] | None, list[str]]:
    """Keep, per record, the orientation whose probabilities ``activate(logits)`` score higher (forward on a tie).

    ``score``: ``probs (N, K) -> (N,)``, the task's :meth:`~seqxent.tasks.Task.strand_score` (the top
    probability; for lineage models its mean over ranks).

    ``logits`` (and ``nearest``: the k-mer distance and index of each one's closest training sequence) hold the
    N forward records, then their N reverse complements.
    """
    n = len(logits) // 2
    if not n:
        return [], nearest, []
    stacked = np.stack(logits)  # (2N, K)
    top = score(activate(stacked, nearest))
    minus = top[n:] > top[:n]
    chosen = np.where(minus[:, None], stacked[n:], stacked[:n])  # (N, K)
    if nearest is not None:
        nearest = tuple(np.where(minus.reshape(-1, *[1] * (values.ndim - 1)), values[n:], values[:n])
                        for values in nearest)
    return list(chosen), nearest, ["-" if m else "+" for m in minus]


def _predictions(chunk: list[FastaRecord], checked: list[tuple[str, str]], logits: list[np.ndarray],
                 nearest: tuple[np.ndarray, np.ndarray] | None, task: Task, activate, temperature: float,
                 rule: AbstainRule | None, strands: list[str] | None = None) -> Iterator[Prediction]:
    """The :class:`Prediction` of every record of a chunk, from the logits of its valid records."""
    novelty = iter(_novelty(logits, task.novelty, temperature, nearest[0] if nearest is not None else None))
    strand = iter(strands or [])
    # One (N, K) array per chunk for whole-record models, so the activation runs once, not once per record.
    probs = iter(activate(np.stack(logits), nearest) if logits and logits[0].ndim == 1
                 else (activate(z) for z in logits))
    for rec, (seq, why) in zip(chunk, checked, strict=True):
        if why:
            yield Prediction(rec.id, seq, None, why, description=rec.description)
            continue
        scores = next(novelty)
        abstained = bool(rule is not None and scores is not None and rule.abstains(scores))
        yield Prediction(rec.id, seq, next(probs), novelty=scores, abstained=abstained,
                         strand=next(strand, ""), description=rec.description)


def _prepare(chunk: list[FastaRecord], ckpt: Checkpoint, reference: KmerReference | None,
             side: ThreadPoolExecutor, n_parts: int, both: bool = False,
             top: int = 0) -> tuple[tuple[list, list, list[Future]], list[Example]]:
    """``((chunk, checks, distances), examples)`` of a chunk of records.

    ``checks`` holds each record's cleaned sequence and skip reason, ``examples`` the valid records encoded
    (with ``both``, followed by their reverse complements), and ``distances`` (models with a k-mer reference;
    else empty) the futures of their k-mer distances and closest training sequences
    (:meth:`KmerReference.nearest`), in ``n_parts`` consecutive parts run side by side on
    ``side``.
    """
    checked = [_check(rec, ckpt) for rec in chunk]
    examples = [Example(rec.id, codes) for rec, (_, why, codes) in zip(chunk, checked, strict=True) if not why]
    valid = [seq for seq, why, _ in checked if not why]
    if both:
        from Bio.Seq import reverse_complement  # only here: `seqxent predict` starts without Biopython

        reverse = [reverse_complement(seq) for seq in valid]
        examples += [Example(ex.id, ckpt.alphabet.to_codes(seq)) for ex, seq in zip(examples, reverse, strict=True)]
        valid += reverse
    parts = []
    if reference is not None and valid:
        step = -(-len(valid) // n_parts)
        parts = [side.submit(reference.nearest, valid[i:i + step], top) for i in range(0, len(valid), step)]
    return (chunk, [(seq, why) for seq, why, _ in checked], parts), examples


def _novelty(logits: list[np.ndarray], novelty: bool, temperature: float,
             distance: np.ndarray | None) -> list[dict[str, float] | None]:
    """Novelty scores of each record of a chunk (tasks with ``novelty``, e.g. sequence; else None)."""
    if not novelty or not logits:
        return [None] * len(logits)
    scores = novelty_scores(np.stack(logits), temperature, distance)  # (N, K) -> {name: (N,)}
    return [{name: float(values[i]) for name, values in scores.items()} for i in range(len(logits))]


def predict_fasta(ckpt: Checkpoint, path: Path | str, **kwargs) -> Iterator[Prediction]:
    """:func:`predict_records` over the records of a FASTA[.gz] file, read incrementally."""
    return predict_records(ckpt, iter_fasta(path), **kwargs)
