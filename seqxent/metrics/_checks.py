"""Argument checks, input preparation and JSON conversion shared by the metrics of :mod:`seqxent.metrics`.

Conventions (as torchmetrics' ``_validate_args``): ``probs`` is a float array (N, C) whose rows sum to 1,
``preds`` an integer array (N,) and ``target`` an integer array (N,). :func:`_prepare` drops the items whose
target equals ``ignore_index`` before anything else, so padding rows may hold anything, and checks shapes,
dtypes and value ranges unless ``validate_args`` is False (trusted, hot paths).
"""

from __future__ import annotations

import math

import numpy as np

_CLIP = 1e-15  # probabilities are clipped to [_CLIP, 1] (or [_CLIP, 1 - _CLIP]) before taking logarithms
_ROW_SUM_ATOL = 1e-3  # float32 softmax rows sum to 1 within ~1e-6; allow for rounding in files


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(
            f"Expected argument `{name}` to be an integer larger than {minimum - 1}, but got {value!r}"
        )


def _check_choice(name: str, value: object, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"Expected argument `{name}` to be one of {choices}, but got {value!r}")


def _validate_args(values: np.ndarray, target: np.ndarray, ignore_index: int | None) -> None:
    """Check shapes and dtypes of `values` (probs (N, C) or preds (N,)) and `target` (N,)."""
    if values.ndim not in (1, 2):
        raise ValueError(
            f"Expected argument `probs` to have shape (N, C) or `preds` (N,), but got {values.shape}"
        )
    if target.ndim != 1 or target.shape[0] != values.shape[0]:
        raise ValueError(
            f"Expected argument `target` to have shape ({values.shape[0]},), but got {target.shape}"
        )
    if target.size and not np.issubdtype(target.dtype, np.integer):
        raise ValueError(f"Expected argument `target` to be an integer array, but got dtype {target.dtype}")
    if ignore_index is not None and (isinstance(ignore_index, bool) or not isinstance(ignore_index, int)):
        raise ValueError(
            f"Expected argument `ignore_index` to be an integer or None, but got {ignore_index!r}"
        )


def _validate_values(values: np.ndarray, target: np.ndarray, n_classes: int) -> None:
    """Check kept items: target in [0, C); probs finite in [0, 1] with unit row sums; preds in [0, C)."""
    if target.size and (target.min() < 0 or target.max() >= n_classes):
        raise ValueError(f"Expected argument `target` to hold values in [0, {n_classes}), but got "
                         f"[{target.min()}, {target.max()}]")
    if values.ndim == 1:
        if values.size and (not np.issubdtype(values.dtype, np.integer) or values.min() < 0
                            or values.max() >= n_classes):
            raise ValueError(
                f"Expected argument `preds` to be integers in [0, {n_classes}), but got {values[:5]}"
            )
        return
    if not np.all(np.isfinite(values)) or values.size and (values.min() < 0 or values.max() > 1):
        raise ValueError("Expected argument `probs` to hold finite values in [0, 1], but it does not")
    sums = values.sum(axis=1)
    if sums.size and not np.allclose(sums, 1.0, atol=_ROW_SUM_ATOL):
        bad = sums[np.argmax(np.abs(sums - 1.0))]
        raise ValueError(
            f"Expected argument `probs` to have rows summing to 1, but got a row summing to {bad}"
        )


def _prepare(values, target, ignore_index, validate_args, n_classes=None):
    """Convert to arrays, drop ignored items and validate; return (values, target, n_classes)."""
    values, target = np.asarray(values), np.asarray(target)
    if validate_args:
        _validate_args(values, target, ignore_index)
        if n_classes is not None:
            _check_int("n_classes", n_classes, 1)
    if ignore_index is not None:
        keep = target != ignore_index
        values, target = values[keep], target[keep]
    if values.ndim == 2:
        values = values.astype(np.float64)
        n_classes = values.shape[1] if n_classes is None else n_classes
    elif n_classes is None:
        n_classes = int(max(values.max(initial=-1), target.max(initial=-1))) + 1
    if validate_args:
        _validate_values(values, target, n_classes)
    return values, target.astype(np.int64), n_classes


def _to_preds(values: np.ndarray) -> np.ndarray:
    return values.argmax(axis=1) if values.ndim == 2 else values.astype(np.int64)


def _ratio(num: float, den: float, empty: float = math.nan) -> float:
    return float(num / den) if den else empty


def _nanmean(values: np.ndarray) -> float:
    """Mean of the finite values (undefined scores are nan); nan when there are none."""
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def to_json_value(value):
    """Plain floats, ints and lists for JSON; non-finite floats become None.

    Example:
        >>> to_json_value({"a": np.float32(0.5), "b": [np.int64(2), float("nan")], "c": np.bool_(True)})
        {'a': 0.5, 'b': [2, None], 'c': True}
    """
    if isinstance(value, dict):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [to_json_value(v) for v in value]
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None
