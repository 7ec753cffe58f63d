"""Probabilities from logits: the softmax of single-label tasks and the independent sigmoids of multi-label ones.

Both divide the logits by a temperature first (1 = uncalibrated; see :mod:`seqxent.calibrate.temperature`).
"""

from __future__ import annotations

import numpy as np

from seqxent.errors import InputError


def _check_temperature(temperature: float) -> None:
    if not temperature > 0:
        raise InputError(f"Expected argument `temperature` to be > 0, but got {temperature}")


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Numerically stable softmax over the last axis of ``logits / temperature``.

    Example:
        >>> softmax(np.array([0.0, np.log(3.0)])).round(3).tolist()
        [0.25, 0.75]
    """
    _check_temperature(temperature)
    z = logits / temperature
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def sigmoid(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Independent label probabilities ``sigmoid(logits / temperature)`` (same shape as ``logits``).

    Example:
        >>> sigmoid(np.array([0.0, np.log(3.0)])).round(3).tolist()
        [0.5, 0.75]
    """
    _check_temperature(temperature)
    from scipy.special import expit  # here, not at the top: scipy adds ~0.5 s to every `seqxent predict` start

    return expit(np.asarray(logits, dtype=np.float64) / temperature)
