"""Run a network over encoded examples and collect logits, in input order.

Shared by calibration, evaluation and prediction. Batches are length-bucketed; results are returned in the
order of the input examples whatever order the batches ran in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from seqxent.data.alphabet import Alphabet
from seqxent.data.batching import Collate, Example, length_batches
from seqxent.errors import InputError


def select_device(device: str = "auto") -> torch.device:
    """Resolve ``auto`` / ``cpu`` / ``cuda`` to a torch device.

    Raises:
        InputError: for ``cuda`` without a CUDA device, or an unknown name.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("Expected argument `device` 'cuda' to name an available GPU, but CUDA is not available")
    if device not in ("cpu", "cuda"):
        raise InputError(f"Expected argument `device` to be one of ['auto', 'cpu', 'cuda'], but got {device!r}")
    return torch.device(device)


@torch.inference_mode()
def predict_logits(model: nn.Module, examples: Sequence[Example], alphabet: Alphabet, batch_size: int = 64,
                   max_tokens: int = 0, device: torch.device | str = "cpu") -> list[np.ndarray]:
    """Logits of every example, in input order.

    Returns:
        One float32 array per example: ``(K,)`` for sequence models, ``(L, K)`` for residue models.
    """
    model.eval()
    device = torch.device(device)
    collate = Collate(alphabet)
    out: list[np.ndarray | None] = [None] * len(examples)
    for idx in length_batches([len(ex.codes) for ex in examples], batch_size, max_tokens):
        batch = collate([examples[i] for i in idx]).to(device)
        logits = model(batch.x, batch.mask).float().cpu()
        lengths = batch.mask.sum(dim=1).cpu().tolist()
        for row, i in enumerate(idx):
            value = logits[row] if logits.dim() == 2 else logits[row, :, : lengths[row]].T  # (K, L) -> (L, K)
            out[i] = value.numpy()
    return out


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Numerically stable softmax over the last axis of ``logits / temperature``.

    Example:
        >>> softmax(np.array([0.0, np.log(3.0)])).round(3).tolist()
        [0.25, 0.75]
    """
    if temperature <= 0:
        raise InputError(f"Expected argument `temperature` to be > 0, but got {temperature}")
    z = logits / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)
