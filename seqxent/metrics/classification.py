"""Single-label classification metrics on numpy arrays, and the ``metrics.json`` block that gathers them.

Conventions: ``probs`` is a float array (N, C) whose rows sum to 1 and ``target`` an integer array (N,).
Public functions take ``ignore_index`` (items whose target equals it are dropped before anything else,
so padding rows may hold anything) and ``validate_args`` (skip the checks on trusted, hot paths).
Each metric is split into private ``_update`` (sufficient statistics) and ``_compute`` steps.
A metric over zero items is ``nan``; the dict-returning summaries write it as ``None`` for JSON.

The other families: calibration (ECE, reliability bins) in :mod:`~seqxent.metrics.calibration`, the
information block in :mod:`~seqxent.metrics.information`, residue tasks (per chain, SOV'99) in
:mod:`~seqxent.metrics.residue`, multi-label tasks in :mod:`~seqxent.metrics.multilabel`, AUROC and average
precision in :mod:`~seqxent.metrics.ranking`, intervals in :mod:`~seqxent.metrics.bootstrap`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from seqxent.metrics._checks import _check_choice, _prepare, _ratio, _to_preds, to_json_value
from seqxent.metrics.calibration import calibration_error
from seqxent.metrics.information import _cross_entropy, information_summary

# --------------------------------------------------------------------------- label metrics


def _confusion_matrix_update(preds: np.ndarray, target: np.ndarray, n_classes: int) -> np.ndarray:
    flat = np.bincount(target * n_classes + preds, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)  # (C * C,) -> (C, C), rows = true class


def _per_class_compute(confmat: np.ndarray) -> dict[str, np.ndarray]:
    tp = np.diag(confmat).astype(np.float64)
    support, predicted = confmat.sum(axis=1), confmat.sum(axis=0)
    f1_den = support + predicted  # = 2 tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(f1_den > 0, 2 * tp / f1_den, 0.0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64)}


def confusion_matrix(preds, target, n_classes: int, ignore_index: int | None = None,
                     validate_args: bool = True) -> np.ndarray:
    """Count items by true class (rows) and predicted class (columns).

    Args:
        preds: Predicted classes (N,) or probabilities (N, C), reduced by argmax.
        target: True classes (N,).
        n_classes: Number of classes C.
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Integer array (C, C); entry [i, j] counts items of true class i predicted as j.

    Raises:
        ValueError: If an argument has the wrong shape, dtype or range.

    Example:
        >>> confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], n_classes=3).tolist()
        [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    """
    values, target, n_classes = _prepare(preds, target, ignore_index, validate_args, n_classes)
    return _confusion_matrix_update(_to_preds(values), target, n_classes)


def accuracy(probs_or_preds, target, ignore_index: int | None = None, validate_args: bool = True) -> float:
    """Fraction of items whose predicted class (argmax of probs, ties to the lowest index) is the target.

    Args:
        probs_or_preds: Probabilities (N, C) or predicted classes (N,).
        target: True classes (N,).
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Accuracy in [0, 1]; nan without items.

    Example:
        >>> accuracy([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]], [0, 1, 1])
        0.6666666666666666
    """
    values, target, _ = _prepare(probs_or_preds, target, ignore_index, validate_args)
    return _ratio(np.sum(_to_preds(values) == target), target.size)


def balanced_accuracy(probs_or_preds, target, ignore_index: int | None = None,
                      validate_args: bool = True) -> float:
    """Mean recall over the classes present in `target` (as sklearn's ``balanced_accuracy_score``).

    Args:
        probs_or_preds: Probabilities (N, C) or predicted classes (N,).
        target: True classes (N,).
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Balanced accuracy in [0, 1]; nan without items.

    Example:
        >>> balanced_accuracy([0, 0, 0, 1], [0, 0, 0, 1])
        1.0
        >>> balanced_accuracy([0, 0, 0, 0], [0, 0, 0, 1])
        0.5
    """
    values, target, n_classes = _prepare(probs_or_preds, target, ignore_index, validate_args)
    confmat = _confusion_matrix_update(_to_preds(values), target, n_classes)
    support = confmat.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(confmat)[present] / support[present])) if present.any() else math.nan


def macro_f1(probs_or_preds, target, ignore_index: int | None = None, validate_args: bool = True) -> float:
    """Unweighted mean F1 over classes occurring in `target` or in the predictions.

    A class absent from both has an undefined F1 (0/0) and is excluded, so a test split without a rare
    class is not penalised for it. A class only predicted, or only true, scores F1 = 0. This matches
    sklearn's ``f1_score(average="macro")`` without an explicit ``labels`` argument.

    Args:
        probs_or_preds: Probabilities (N, C) or predicted classes (N,).
        target: True classes (N,).
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Macro F1 in [0, 1]; nan without items.

    Example:
        >>> macro_f1([0, 1, 1, 2], [0, 1, 2, 2])  # F1 per class: 1, 2/3, 2/3
        0.7777777777777777
    """
    values, target, n_classes = _prepare(probs_or_preds, target, ignore_index, validate_args)
    confmat = _confusion_matrix_update(_to_preds(values), target, n_classes)
    present = (confmat.sum(axis=0) + confmat.sum(axis=1)) > 0
    f1 = _per_class_compute(confmat)["f1"]
    return float(np.mean(f1[present])) if present.any() else math.nan


# --------------------------------------------------------------------------- probabilistic scores


def log_loss(probs, target, base: str | int = "e", ignore_index: int | None = None,
             validate_args: bool = True) -> float:
    """Mean negative log-probability of the true class, -mean log p(y|x), clipping p at 1e-15.

    Args:
        probs: Probabilities (N, C).
        target: True classes (N,).
        base: ``"e"`` for nats or ``2`` for bits.
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Log loss (cross-entropy) in nats or bits; nan without items.

    Raises:
        ValueError: If `base` is neither ``"e"`` nor ``2``.

    Example:
        >>> log_loss([[0.5, 0.5], [0.25, 0.75]], [0, 0], base=2)
        1.5
    """
    _check_choice("base", base, ("e", 2))
    probs, target, _ = _prepare(probs, target, ignore_index, validate_args)
    return _cross_entropy(probs, target, base)


def brier_score(probs, target, ignore_index: int | None = None, validate_args: bool = True) -> float:
    """Multiclass Brier score: mean over items of sum_k (p_k - y_k)^2 with one-hot y; in [0, 2].

    Args:
        probs: Probabilities (N, C).
        target: True classes (N,).
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Brier score; nan without items.

    Example:
        >>> brier_score([[1.0, 0.0], [0.5, 0.5]], [0, 1])
        0.25
    """
    probs, target, _ = _prepare(probs, target, ignore_index, validate_args)
    onehot = np.eye(probs.shape[1])[target]  # (N,) -> (N, C)
    return _ratio(np.sum((probs - onehot) ** 2), target.size)


# --------------------------------------------------------------------------- summary


def classification_metrics(probs, target, classes: Sequence[str], n_bins: int = 15,
                           ignore_index: int | None = None, validate_args: bool = True) -> dict:
    """All classification scores of a split as one JSON-serialisable dict (the ``metrics.json`` blocks).

    Args:
        probs: Probabilities (N, C).
        target: True classes (N,).
        classes: Class names (C,).
        n_bins: Number of calibration bins.
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Dict with ``accuracy``, ``balanced_accuracy``, ``macro_f1``, ``log_loss_nats``, ``log_loss_bits``,
        ``brier``, ``ece`` (equal width), ``ece_mass`` (equal mass), ``mce`` (equal width), ``n_items``,
        ``per_class`` {class: {precision, recall, f1, support}}, ``confusion`` {classes, matrix} and
        ``information`` (see :func:`~seqxent.metrics.information.information_summary`); nan is written as None.

    Raises:
        ValueError: If `classes` does not name every column of `probs`.

    Example:
        >>> out = classification_metrics([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], [0, 1, 1], ["a", "b"])
        >>> out["accuracy"], out["confusion"]
        (0.6666666666666666, {'classes': ['a', 'b'], 'matrix': [[1, 0], [1, 1]]})
    """
    probs, target, n_classes = _prepare(probs, target, ignore_index, validate_args)
    if len(classes) != n_classes:
        raise ValueError(f"Expected argument `classes` to have {n_classes} names, but got {len(classes)}")
    preds = probs.argmax(axis=1)
    confmat = _confusion_matrix_update(preds, target, n_classes)
    scores = _per_class_compute(confmat)
    ece = {(norm, binning): calibration_error(probs, target, n_bins, norm, binning, validate_args=False)
           for norm, binning in (("l1", "width"), ("l1", "mass"), ("max", "width"))}
    out = {"n_items": target.size, "accuracy": accuracy(preds, target, validate_args=False),
           "balanced_accuracy": balanced_accuracy(preds, target, validate_args=False),
           "macro_f1": macro_f1(preds, target, validate_args=False),
           "log_loss_nats": log_loss(probs, target, validate_args=False),
           "log_loss_bits": log_loss(probs, target, base=2, validate_args=False),
           "brier": brier_score(probs, target, validate_args=False), "ece": ece["l1", "width"],
           "ece_mass": ece["l1", "mass"], "mce": ece["max", "width"],
           "per_class": {name: {k: v[i] for k, v in scores.items()} for i, name in enumerate(classes)},
           "confusion": {"classes": list(classes), "matrix": confmat},
           "information": information_summary(probs, target, validate_args=False)}
    return to_json_value(out)
