"""Resumable training: the state written after every epoch, and the check that it belongs to this run.

``seqxent train --state PATH`` writes, atomically after every epoch, everything the next epoch depends on:
weights, optimizer and scheduler state, the random states of torch (CPU and CUDA), of the numpy generator that
orders batches and crops sequences, and of the mixup generator, the history, the best weights so far and the
early-stopping counters. A run started with an existing state continues after its last finished epoch, so a
killed job loses at most one epoch, and (same device, same number of threads) ends with exactly the weights
and history of an uninterrupted run; only the wall-clock ``seconds`` differ.

The state records a fingerprint of the training settings (all but ``device`` and ``threads``), of the train and
valid records and of the teacher file; a state with another fingerprint (changed settings or data) is ignored
with a warning and training starts afresh. The file is a ``torch.save`` dict of tensors, numbers, strings and
lists, loaded with ``weights_only=True``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from seqxent.data.io import atomic_write

log = logging.getLogger(__name__)

FORMAT = "seqxent-train-state"
# Settings that change speed but not the trajectory (up to floating-point summation order).
UNFINGERPRINTED = ("device", "threads")


@dataclass
class TrainingState:
    """Everything needed to continue training after epoch ``epoch``.

    Attributes:
        fingerprint: :func:`fingerprint` of the run the state belongs to.
        epoch: number of finished epochs.
        model: the network's state dict after ``epoch``.
        optimizer: the optimizer's state dict.
        scheduler: the learning-rate scheduler's state dict.
        best: state dict of the best epoch so far.
        best_ce: its validation cross-entropy.
        best_epoch: its epoch number.
        waited: epochs since the best one (early stopping).
        history: one dict per finished epoch (the rows of history.tsv).
        rng: random states: ``torch`` (ByteTensor), ``cuda`` (list), ``numpy`` (JSON text), and the objective's.
        ema: state dict of the weight average (``ema_decay`` > 0), else empty.
    """

    fingerprint: str
    epoch: int
    model: dict
    optimizer: dict
    scheduler: dict
    best: dict
    best_ce: float
    best_epoch: int
    waited: int
    history: list[dict]
    rng: dict = field(default_factory=dict)
    ema: dict = field(default_factory=dict)


def fingerprint(settings: dict, data_rows, teacher: str | None = None) -> str:
    """SHA-256 over the training settings, the train and valid records, and the teacher file's bytes.

    Args:
        settings: ``asdict(TrainConfig)``; ``device`` and ``threads`` are left out.
        data_rows: the prepared table (columns id, sequence, label, split); only train and valid rows count.
        teacher: path of the distillation teacher, or None.

    Returns:
        A hex digest.

    Example:
        >>> import pandas as pd
        >>> rows = pd.DataFrame({"id": ["a"], "sequence": ["AC"], "label": ["x"], "split": ["train"]})
        >>> fingerprint({"seed": 1, "threads": 2}, rows) == fingerprint({"seed": 1, "threads": 8}, rows)
        True
    """
    digest = hashlib.sha256()
    kept = {key: value for key, value in sorted(settings.items()) if key not in UNFINGERPRINTED}
    digest.update(json.dumps(kept, sort_keys=True, default=str).encode())
    rows = data_rows[data_rows["split"].isin(["train", "valid"])][["id", "sequence", "label", "split"]]
    digest.update(rows.to_csv(sep="\t", index=False).encode())
    if teacher:
        digest.update(Path(teacher).read_bytes())
    return digest.hexdigest()


def capture_rng(generator: np.random.Generator) -> dict:
    """Random states of torch (CPU and every CUDA device) and of a numpy generator."""
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []
    return {"torch": torch.get_rng_state(), "cuda": cuda, "numpy": json.dumps(generator.bit_generator.state)}


def restore_rng(rng: dict, generator: np.random.Generator) -> None:
    """Inverse of :func:`capture_rng` (the numpy generator is restored in place)."""
    torch.set_rng_state(rng["torch"])
    if rng["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(rng["cuda"])
    generator.bit_generator.state = json.loads(rng["numpy"])


def save_state(state: TrainingState, path: Path | str) -> None:
    """Write the state atomically (:func:`~seqxent.data.io.atomic_write`), with an ordinary file's permissions."""
    with atomic_write(path, "wb") as handle:
        torch.save({"format": FORMAT, **asdict(state)}, handle)


def load_state(path: Path | str, expected_fingerprint: str) -> TrainingState | None:
    """The saved state at ``path`` if it exists and belongs to this run, else None (with a warning).

    Example:
        >>> load_state("no/such/state.pt", "abc") is None
        True
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file: start afresh rather than fail
        log.warning("%s: unreadable training state (%s: %s); training from scratch", path, type(err).__name__, err)
        return None
    names = {f.name for f in fields(TrainingState)}
    if not isinstance(payload, dict) or payload.get("format") != FORMAT or set(payload) - {"format"} != names:
        log.warning("%s: not a seqxent training state; training from scratch", path)
        return None
    if payload["fingerprint"] != expected_fingerprint:
        log.warning("%s: saved for other settings or data; training from scratch", path)
        return None
    payload.pop("format")
    return TrainingState(**payload)
