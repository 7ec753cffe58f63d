"""Metrics of multi-label predictions, and the ``metrics.json`` blocks of a multi-label evaluation.

Conventions: ``probs`` is a float array (N, K) of independent label probabilities (rows need not sum to 1)
and ``target`` a multi-hot array (N, K) of 0/1. A label is predicted when its probability is at least
``threshold``. Scores follow scikit-learn's definitions (checked against it in the tests):

- per label: precision, recall, F1 (0 when undefined), AUROC (None with one class only) and average precision
  (None without positives) of :mod:`seqxent.metrics.ranking`, Brier score and ECE;
- ``micro_*``: from the pooled label decisions; ``macro_*``: the mean over labels, where F1, precision and
  recall average the labels that occur in the truth or the predictions (others are 0/0), and AUROC and
  average precision the labels where they are defined;
- ``subset_accuracy``: fraction of records whose predicted label set is exactly right; ``hamming_loss``:
  fraction of wrong label decisions; ``jaccard``: mean over records of |true ∩ predicted| / |true ∪ predicted|
  (1 when both are empty);
- calibration is label-wise and binary: equal-width bins of the probability ``p`` of each (record, label)
  pair, the gap being |fraction of positives − mean p| (as torchmetrics' binary calibration error), binned
  and weighted by :mod:`seqxent.metrics.calibration`. ``ece`` pools all pairs (the reliability diagram);
  per-label ECE and Brier are in ``per_class``.

The ``information`` block is :func:`seqxent.metrics.information.information_summary` with ``task="multilabel"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from seqxent.data.labels import THRESHOLD
from seqxent.metrics._checks import _CLIP, _nanmean, _ratio, to_json_value
from seqxent.metrics.calibration import (
    ReliabilityBins,
    _bin_statistics,
    _calibration_compute,
    _calibration_validate_args,
)
from seqxent.metrics.ranking import average_precision, binary_auroc


def _validate(probs, target) -> tuple[np.ndarray, np.ndarray]:
    """Return ``probs`` as float64 and ``target`` as bool, after checking shapes and values."""
    probs, target = np.asarray(probs, dtype=np.float64), np.asarray(target)
    if probs.ndim != 2 or probs.shape != target.shape:
        raise ValueError(f"Expected arguments `probs` and `target` of one shape (N, K), but got {probs.shape} "
                         f"and {target.shape}")
    if not np.all((probs >= 0) & (probs <= 1)):
        raise ValueError("Expected argument `probs` to hold probabilities in [0, 1], but got other values")
    if not np.all((target == 0) | (target == 1)):
        raise ValueError("Expected argument `target` to be multi-hot (0 or 1), but got other values")
    return probs, target.astype(bool)


def _f1(tp: float, fp: float, fn: float) -> float:
    return _ratio(2 * tp, 2 * tp + fp + fn, empty=0.0)


# --------------------------------------------------------------------------- set-based scores


def subset_accuracy(probs, target, threshold: float = THRESHOLD) -> float:
    """Fraction of records whose predicted label set equals the true one.

    Example:
        >>> subset_accuracy([[0.9, 0.2], [0.6, 0.7]], [[1, 0], [1, 0]])
        0.5
    """
    probs, target = _validate(probs, target)
    return _ratio(np.all((probs >= threshold) == target, axis=1).sum(), len(target))


def hamming_loss(probs, target, threshold: float = THRESHOLD) -> float:
    """Fraction of wrong label decisions over all (record, label) pairs.

    Example:
        >>> hamming_loss([[0.9, 0.2], [0.6, 0.7]], [[1, 0], [1, 0]])
        0.25
    """
    probs, target = _validate(probs, target)
    return _ratio(((probs >= threshold) != target).sum(), target.size)


def jaccard(probs, target, threshold: float = THRESHOLD) -> float:
    """Mean over records of |true ∩ predicted| / |true ∪ predicted| (1 when both sets are empty).

    Example:
        >>> jaccard([[0.9, 0.2], [0.6, 0.7]], [[1, 0], [1, 0]])
        0.75
    """
    probs, target = _validate(probs, target)
    preds = probs >= threshold
    union = (preds | target).sum(axis=1)
    both = (preds & target).sum(axis=1)
    return _ratio(np.where(union > 0, both / np.maximum(union, 1), 1.0).sum(), len(target))


def _counts(probs: np.ndarray, target: np.ndarray, threshold: float) -> tuple[np.ndarray, ...]:
    preds = probs >= threshold
    tp = (preds & target).sum(axis=0)
    return tp, (preds & ~target).sum(axis=0), (~preds & target).sum(axis=0)


def micro_f1(probs, target, threshold: float = THRESHOLD) -> float:
    """F1 of all label decisions pooled.

    Example:
        >>> round(micro_f1([[0.9, 0.2], [0.6, 0.7]], [[1, 0], [1, 0]]), 4)  # tp 2, fp 1, fn 0
        0.8
    """
    tp, fp, fn = (c.sum() for c in _counts(*_validate(probs, target), threshold))
    return _f1(tp, fp, fn)


def macro_f1(probs, target, threshold: float = THRESHOLD) -> float:
    """Mean F1 over the labels that occur in the truth or in the predictions.

    Example:
        >>> macro_f1([[0.9, 0.2], [0.6, 0.7]], [[1, 0], [1, 0]])  # label 1: F1 0 (one false positive)
        0.5
    """
    tp, fp, fn = _counts(*_validate(probs, target), threshold)
    seen = (tp + fp + fn) > 0
    return _ratio(sum(_f1(*c) for c in zip(tp[seen], fp[seen], fn[seen], strict=True)), seen.sum())


# --------------------------------------------------------------------------- calibration and log loss


def label_reliability_bins(probs, target, n_bins: int = 15) -> ReliabilityBins:
    """Equal-width bins of ``p`` over all (record, label) pairs: mean ``p``, fraction positive, count.

    Bin ``b`` holds ``p`` in ``(b / n_bins, (b + 1) / n_bins]`` (0 in bin 0), as scikit-learn's
    ``calibration_curve`` and :func:`seqxent.metrics.calibration.reliability_bins`. ``bin_accuracy`` is the
    fraction of positive pairs.

    Example:
        >>> bins = label_reliability_bins([[0.9, 0.2], [0.6, 0.7]], [[1, 0], [1, 0]], n_bins=2)
        >>> bins.bin_count.tolist(), bins.bin_accuracy.tolist()
        ([1, 3], [0.0, 0.6666666666666666])
    """
    _calibration_validate_args(n_bins, "l1", "width")
    probs, target = _validate(probs, target)
    return _bin_statistics(probs.ravel(), target.ravel().astype(np.float64), n_bins, "width")


def label_calibration_error(probs, target, n_bins: int = 15, norm: str = "l1") -> float:
    """Binary calibration error pooled over (record, label) pairs: count-weighted mean (l1), rms (l2) or max gap.

    The gap of a bin of :func:`label_reliability_bins` is |fraction of positives - mean p|, empty bins are
    skipped, as in :func:`seqxent.metrics.calibration.calibration_error`.

    Example:
        >>> probs, target = [[0.9, 0.2], [0.6, 0.7]], [[1, 0], [1, 0]]
        >>> round(label_calibration_error(probs, target, n_bins=2), 4)  # (1 · |0 - 0.2| + 3 · |2/3 - 0.73|) / 4
        0.1
    """
    _calibration_validate_args(n_bins, norm, "width")
    return _calibration_compute(label_reliability_bins(probs, target, n_bins), norm)


def binary_log_loss(probs, target, base: float = math.e) -> float:
    """Mean over records of the binary cross-entropy summed over labels (nats, or bits with base 2).

    Example:
        >>> binary_log_loss([[0.5, 0.5]], [[1, 0]], base=2)
        2.0
    """
    probs, target = _validate(probs, target)
    p = np.clip(probs, _CLIP, 1 - _CLIP)
    nats = -np.where(target, np.log(p), np.log1p(-p)).sum(axis=1)
    return _ratio(nats.sum(), len(target)) / math.log(base)


def brier_score(probs, target) -> float:
    """Mean squared difference between ``p`` and the 0/1 truth over all (record, label) pairs.

    Example:
        >>> brier_score([[0.9, 0.2], [0.6, 0.7]], [[1, 0], [1, 0]])
        0.175
    """
    probs, target = _validate(probs, target)
    return _ratio(((probs - target) ** 2).sum(), target.size)


# --------------------------------------------------------------------------- summaries


def per_label_scores(probs, target, classes: Sequence[str], threshold: float = THRESHOLD,
                     n_bins: int = 15) -> dict[str, dict]:
    """Per label: precision, recall, f1, auroc, average_precision, brier, ece, support, predicted."""
    probs, target = _validate(probs, target)
    tp, fp, fn = _counts(probs, target, threshold)
    out = {}
    for k, name in enumerate(classes):
        column, truth = probs[:, [k]], target[:, [k]]
        out[name] = {"precision": _ratio(tp[k], tp[k] + fp[k], 0.0), "recall": _ratio(tp[k], tp[k] + fn[k], 0.0),
                     "f1": _f1(tp[k], fp[k], fn[k]), "auroc": binary_auroc(column[:, 0], truth[:, 0]),
                     "average_precision": average_precision(column[:, 0], truth[:, 0]),
                     "brier": brier_score(column, truth), "ece": label_calibration_error(column, truth, n_bins),
                     "support": int(truth.sum()), "predicted": int(tp[k] + fp[k])}
    return out


def label_cooccurrence(probs, target, threshold: float = THRESHOLD) -> np.ndarray:
    """(K, K) counts of records carrying true label i and predicted label j (the diagonal holds true positives).

    Example:
        >>> label_cooccurrence([[0.9, 0.2], [0.6, 0.7]], [[1, 0], [1, 0]]).tolist()
        [[2, 1], [0, 0]]
    """
    probs, target = _validate(probs, target)
    return target.astype(np.int64).T @ (probs >= threshold).astype(np.int64)  # (K, N) @ (N, K)


def multilabel_metrics(probs, target, classes: Sequence[str], threshold: float = THRESHOLD,
                       n_bins: int = 15) -> dict:
    """Every multi-label score as one JSON-serialisable dict: the ``metrics`` block plus ``per_class``.

    Raises:
        ValueError: if ``classes`` does not name every column.
    """
    probs, target = _validate(probs, target)
    if len(classes) != probs.shape[1]:
        raise ValueError(f"Expected argument `classes` to have {probs.shape[1]} names, but got {len(classes)}")
    per_label = per_label_scores(probs, target, classes, threshold, n_bins)
    tp, fp, fn = (c.sum() for c in _counts(probs, target, threshold))
    seen = [s for s in per_label.values() if s["support"] or s["predicted"]]
    column = {key: np.array([s[key] for s in per_label.values()], dtype=np.float64)
              for key in ("auroc", "average_precision", "ece")}
    out = {"n_items": int(target.size), "n_records": len(target), "n_labels": len(classes), "threshold": threshold,
           "subset_accuracy": subset_accuracy(probs, target, threshold),
           "hamming_loss": hamming_loss(probs, target, threshold), "jaccard": jaccard(probs, target, threshold),
           "micro_precision": _ratio(tp, tp + fp, 0.0), "micro_recall": _ratio(tp, tp + fn, 0.0),
           "micro_f1": _f1(tp, fp, fn), "macro_f1": macro_f1(probs, target, threshold),
           "macro_precision": _nanmean(np.array([s["precision"] for s in seen])),
           "macro_recall": _nanmean(np.array([s["recall"] for s in seen])),
           "macro_auroc": _nanmean(column["auroc"]),
           "macro_average_precision": _nanmean(column["average_precision"]),
           "micro_average_precision": average_precision(probs.ravel(), target.ravel()),
           "log_loss_nats": binary_log_loss(probs, target), "log_loss_bits": binary_log_loss(probs, target, 2),
           "brier": brier_score(probs, target), "ece": label_calibration_error(probs, target, n_bins),
           "mce": label_calibration_error(probs, target, n_bins, "max"), "ece_label_mean": _nanmean(column["ece"]),
           "labels_per_record_true": float(target.sum(axis=1).mean()) if len(target) else math.nan,
           "labels_per_record_predicted": float((probs >= threshold).sum(axis=1).mean()) if len(target) else math.nan,
           "per_class": per_label}
    return to_json_value(out)
