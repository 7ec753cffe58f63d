"""Ranking scores of a binary problem: AUROC and average precision, from scikit-learn.

Both take ``scores`` (N,), higher = more likely positive, and binary ``target`` (N,). They are scikit-learn's
``roc_auc_score`` (ties count one half: the Mann-Whitney statistic) and ``average_precision_score``
(step-wise area under the precision-recall curve, one step per distinct score), with one change: where
scikit-learn raises or warns because a score is undefined, these return nan, so a label or data set without
positives (or, for AUROC, without negatives) gives a missing value (``None`` in ``metrics.json``) instead of
an error. Used for the labels of multi-label models and for novel-class detection (``seqxent ood``).
"""

from __future__ import annotations

import math

import numpy as np


def _validate(scores, target) -> tuple[np.ndarray, np.ndarray]:
    """Return ``scores`` as float64 and ``target`` as bool after checking shapes and values."""
    scores, target = np.asarray(scores, dtype=np.float64), np.asarray(target)
    if scores.ndim != 1 or scores.shape != target.shape:
        raise ValueError(f"Expected arguments `scores` and `target` of one shape (N,), but got {scores.shape} "
                         f"and {target.shape}")
    if not np.isfinite(scores).all():
        raise ValueError("Expected argument `scores` to be finite, but got NaN or infinite values")
    if not np.all((target == 0) | (target == 1)):
        raise ValueError("Expected argument `target` to be binary (0 or 1), but got other values")
    return scores, target.astype(bool)


def binary_auroc(scores, target) -> float:
    """Area under the ROC curve: P(score of a positive > score of a negative), ties counting one half.

    Args:
        scores: Scores (N,), higher = more likely positive.
        target: Binary truth (N,).

    Returns:
        AUROC in [0, 1]; nan unless both classes occur.

    Raises:
        ValueError: If the arguments differ in shape or are not 1-D, a score is not finite, or `target` is not
            binary.

    Example:
        >>> binary_auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
        0.75
        >>> binary_auroc([0.1, 0.4], [1, 1])
        nan
    """
    scores, target = _validate(scores, target)
    if target.all() or not target.any():
        return math.nan
    from sklearn.metrics import roc_auc_score  # here, not at the top: it adds ~0.7 s to every `seqxent predict` start

    return float(roc_auc_score(target, scores))


def average_precision(scores, target) -> float:
    """Sum over distinct score thresholds of (recall step) × precision.

    Args:
        scores: Scores (N,), higher = more likely positive.
        target: Binary truth (N,).

    Returns:
        Average precision in [0, 1]; nan without positives.

    Raises:
        ValueError: As :func:`binary_auroc`.

    Example:
        >>> round(average_precision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 4)  # (1 + 2/3) / 2
        0.8333
        >>> average_precision([0.1, 0.4], [0, 0])
        nan
    """
    scores, target = _validate(scores, target)
    if not target.any():
        return math.nan
    from sklearn.metrics import average_precision_score  # here, not at the top: see `binary_auroc`

    return float(average_precision_score(target, scores))
