"""Calibration error (ECE, MCE) and reliability bins: the one binning and gap computation of seqxent.

Single-label tasks bin items by their top-class probability and compare it with the accuracy of the bin
(:func:`reliability_bins`, :func:`calibration_error`); multi-label tasks bin every (record, label) probability
and compare it with the fraction of positives (:func:`seqxent.metrics.multilabel.label_reliability_bins`),
both through :func:`_bin_statistics` and :func:`_calibration_compute`. :func:`ece_noise_floor` tells how large
an ECE sampling noise alone produces on a test split of a given size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from seqxent.metrics._checks import _check_choice, _check_int, _prepare, to_json_value


@dataclass
class ReliabilityBins:
    """Per-bin statistics for a reliability diagram; empty bins have nan confidence and accuracy.

    Attributes:
        bin_confidence: Mean (top-class or label) probability per bin (n_bins,).
        bin_accuracy: Fraction of correct top-class predictions (or of positive labels) per bin (n_bins,).
        bin_count: Number of items per bin (n_bins,).
    """

    bin_confidence: np.ndarray
    bin_accuracy: np.ndarray
    bin_count: np.ndarray

    def to_dict(self) -> dict[str, list]:
        """Return the bins as JSON-serialisable lists (nan written as None)."""
        return to_json_value({"bin_confidence": self.bin_confidence, "bin_accuracy": self.bin_accuracy,
                              "bin_count": self.bin_count})


def _calibration_validate_args(n_bins: object, norm: object, binning: object) -> None:
    _check_int("n_bins", n_bins, 1)
    _check_choice("norm", norm, ("l1", "l2", "max"))
    _check_choice("binning", binning, ("width", "mass"))


def _bin_indices(confidences: np.ndarray, n_bins: int, binning: str) -> np.ndarray:
    """Bin per item. width: bin b = (b/n, (b+1)/n], 0 in bin 0. mass: equal counts by sorted confidence."""
    if binning == "width":
        inner_edges = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
        return np.searchsorted(inner_edges, confidences, side="left")
    order = np.argsort(confidences, kind="stable")
    sizes = [len(chunk) for chunk in np.array_split(order, n_bins)]  # first N % n_bins bins get one more
    indices = np.empty(confidences.size, dtype=np.int64)
    indices[order] = np.repeat(np.arange(n_bins), sizes)
    return indices


def _bin_statistics(confidences: np.ndarray, correct: np.ndarray, n_bins: int, binning: str) -> ReliabilityBins:
    """Mean confidence, mean of ``correct`` (float 0/1) and count per bin of 1-D ``confidences``."""
    indices = _bin_indices(confidences, n_bins, binning)
    count = np.bincount(indices, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(indices, weights=confidences, minlength=n_bins) / count
        acc = np.bincount(indices, weights=correct, minlength=n_bins) / count
    return ReliabilityBins(bin_confidence=conf, bin_accuracy=acc, bin_count=count)


def _calibration_update(probs: np.ndarray, target: np.ndarray, n_bins: int, binning: str) -> ReliabilityBins:
    correct = (probs.argmax(axis=1) == target).astype(np.float64)
    return _bin_statistics(probs.max(axis=1), correct, n_bins, binning)


def _calibration_compute(bins: ReliabilityBins, norm: str) -> float:
    full = bins.bin_count > 0
    if not full.any():
        return math.nan
    gaps = np.abs(bins.bin_accuracy[full] - bins.bin_confidence[full])
    weights = bins.bin_count[full] / bins.bin_count.sum()
    if norm == "l1":
        return float(np.sum(weights * gaps))
    if norm == "l2":
        return float(np.sqrt(np.sum(weights * gaps**2)))
    return float(np.max(gaps))


def reliability_bins(probs, target, n_bins: int = 15, binning: str = "width", ignore_index: int | None = None,
                     validate_args: bool = True) -> ReliabilityBins:
    """Bin items by top-class probability and report mean confidence, accuracy and count per bin.

    Args:
        probs: Probabilities (N, C).
        target: True classes (N,).
        n_bins: Number of bins.
        binning: ``"width"`` for equal-width bins over [0, 1] or ``"mass"`` for equal-count bins.
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        A :class:`ReliabilityBins` record.

    Example:
        >>> bins = reliability_bins([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]], [0, 0, 0], n_bins=2)
        >>> bins.bin_count.tolist(), bins.bin_accuracy.tolist()
        ([0, 3], [nan, 0.6666666666666666])
    """
    if validate_args:
        _calibration_validate_args(n_bins, "l1", binning)
    probs, target, _ = _prepare(probs, target, ignore_index, validate_args)
    return _calibration_update(probs, target, n_bins, binning)


def calibration_error(probs, target, n_bins: int = 15, norm: str = "l1", binning: str = "width",
                      ignore_index: int | None = None, validate_args: bool = True) -> float:
    """Top-label calibration error: count-weighted mean (l1: ECE), root-mean-square (l2) or max (MCE) gap.

    The gap of a bin is |accuracy - mean confidence| over its items; empty bins are skipped.

    Args:
        probs: Probabilities (N, C).
        target: True classes (N,).
        n_bins: Number of bins.
        norm: ``"l1"`` (expected calibration error), ``"l2"`` or ``"max"`` (maximum calibration error).
        binning: ``"width"`` for equal-width bins over [0, 1] or ``"mass"`` for equal-count bins.
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Calibration error in [0, 1]; nan without items.

    Example:
        >>> probs = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]]
        >>> round(calibration_error(probs, [0, 0, 0, 1], n_bins=2), 4)  # one bin: |0.75 - 0.75|
        0.0
        >>> round(calibration_error(probs, [0, 0, 0, 1], n_bins=2, binning="mass", norm="max"), 4)
        0.15
    """
    if validate_args:
        _calibration_validate_args(n_bins, norm, binning)
    probs, target, _ = _prepare(probs, target, ignore_index, validate_args)
    return _calibration_compute(_calibration_update(probs, target, n_bins, binning), norm)


def ece_noise_floor(probs: npt.ArrayLike, n_bins: int = 15, n_draws: int = 200, seed: int = 0) -> dict[str, float]:
    """The ECE that a perfectly calibrated model with these confidences would show, from sampling noise alone.

    Each draw marks every item correct with probability equal to its top-class probability (what "perfectly
    calibrated" means) and computes the equal-width ECE of :func:`calibration_error`. On a few hundred items
    this floor is several percent, so an observed ECE below it cannot be told apart from perfect calibration;
    one above the 95 % quantile is evidence of miscalibration.

    Args:
        probs: Class probabilities of shape ``(N, C)`` with ``C >= 2``.
        n_bins: Equal-width confidence bins, as for the observed ECE.
        n_draws: Simulated data sets.
        seed: Seed of the simulation.

    Returns:
        Dict with ``mean`` and ``p95`` (95 % quantile) of the simulated ECE.

    Raises:
        ValueError: If ``probs`` is not a 2-D array with at least 2 classes and 1 item, or ``n_draws < 1``.

    Example:
        >>> ece_noise_floor([[1.0, 0.0], [0.0, 1.0]])  # certain and calibrated: no noise
        {'mean': 0.0, 'p95': 0.0}
        >>> floor = ece_noise_floor(np.full((100, 2), 0.5), n_bins=1, n_draws=500, seed=1)
        >>> 0.03 < floor["mean"] < 0.05  # E|Binomial(100, 1/2) / 100 - 1/2| = 0.0398
        True
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 2:
        raise ValueError(f"Expected argument `probs` to have shape (N, C) with N >= 1, C >= 2, but got {p.shape}")
    _check_int("n_draws", n_draws, 1)
    rng = np.random.default_rng(seed)
    top = p.argmax(axis=1)
    wrong = (top + 1) % p.shape[1]  # any other class: only whether the top class is right matters
    draws = [calibration_error(p, np.where(rng.random(len(p)) < p.max(axis=1), top, wrong), n_bins)
             for _ in range(n_draws)]
    return {"mean": float(np.mean(draws)), "p95": float(np.quantile(draws, 0.95))}


def call_reliability(confidence: npt.ArrayLike, correct: npt.ArrayLike,
                     n_bins: int = 15) -> tuple[float, ReliabilityBins]:
    """ECE and equal-width reliability bins of calls that are not the arg-max of one softmax.

    For a lineage model the call at a rank is the most probable taxon among those consistent with the calls
    above, and its confidence is that taxon's probability: not always the top probability of the rank, so
    :func:`calibration_error` (which takes the arg-max) does not apply. The bins and gaps are the same.

    Args:
        confidence: the probability of each call (N,).
        correct: whether each call is right (N,), bool or 0/1.
        n_bins: equal-width bins over [0, 1].

    Returns:
        ``(ece, bins)``; ece is nan without items.

    Example:
        >>> ece, bins = call_reliability([0.9, 0.9, 0.3, 0.3], [True, False, False, False], n_bins=2)
        >>> round(ece, 4), bins.bin_count.tolist()
        (0.35, [2, 2])
    """
    _check_int("n_bins", n_bins, 1)
    confidence = np.asarray(confidence, dtype=np.float64)
    bins = _bin_statistics(confidence, np.asarray(correct, dtype=np.float64), n_bins, "width")
    return _calibration_compute(bins, "l1"), bins
