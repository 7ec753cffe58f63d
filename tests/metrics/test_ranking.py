"""Tests of seqxent.metrics.ranking: AUROC and average precision against slow loops (ties included) and edge cases."""

import math

import numpy as np
import pytest

from seqxent.metrics.ranking import average_precision, binary_auroc


def _slow_auroc(scores, target):
    """P(positive scores above negative) + P(tie) / 2 over all pairs."""
    pos = [s for s, y in zip(scores, target, strict=True) if y]
    neg = [s for s, y in zip(scores, target, strict=True) if not y]
    return sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))


def _slow_average_precision(scores, target):
    """Sum over distinct thresholds t, high to low, of (recall(t) - recall(previous t)) * precision(t)."""
    total, previous_recall, n_pos = 0.0, 0.0, sum(target)
    for t in sorted(set(scores), reverse=True):
        kept = [y for s, y in zip(scores, target, strict=True) if s >= t]
        recall = sum(kept) / n_pos
        total += (recall - previous_recall) * sum(kept) / len(kept)
        previous_recall = recall
    return total


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("n", [2, 7, 60])
@pytest.mark.parametrize("decimals", [0, 1, 8])  # 0 and 1: many ties
def test_match_slow_loops(seed, n, decimals):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 2, n)
    target[:2] = [0, 1]  # both classes occur
    scores = np.round(rng.normal(size=n) + target, decimals)
    assert binary_auroc(scores, target) == pytest.approx(_slow_auroc(scores, target), abs=1e-12)
    assert average_precision(scores, target) == pytest.approx(_slow_average_precision(scores, target), abs=1e-12)


def test_hand_computed():
    # Positives at ranks 1 and 3 of 4: AUROC = 3 of 4 pairs; AP = (1 + 2/3) / 2.
    assert binary_auroc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == 0.75
    assert average_precision([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]) == pytest.approx(5 / 6, abs=1e-15)


def test_all_tied_scores():
    assert binary_auroc([0.5, 0.5, 0.5], [0, 1, 1]) == 0.5
    assert average_precision([0.5, 0.5, 0.5], [0, 1, 1]) == pytest.approx(2 / 3, abs=1e-15)


@pytest.mark.parametrize(("scores", "target", "auroc", "ap"), [
    pytest.param([0.2, 0.9], [1, 1], math.nan, 1.0, id="positives-only"),
    pytest.param([0.2, 0.9], [0, 0], math.nan, math.nan, id="negatives-only"),
    pytest.param([], [], math.nan, math.nan, id="empty"),
])
def test_undefined_scores_are_nan(scores, target, auroc, ap):
    assert binary_auroc(scores, target) == pytest.approx(auroc, nan_ok=True)
    assert average_precision(scores, target) == pytest.approx(ap, nan_ok=True)


@pytest.mark.parametrize(("scores", "target", "match"), [
    ([0.1, 0.2], [0, 1, 1], "one shape"),
    ([[0.1, 0.2]], [[0, 1]], "one shape"),
    ([0.1, float("nan")], [0, 1], "`scores` to be finite"),
    ([0.1, 0.2], [0, 2], "binary"),
])
def test_invalid_arguments(scores, target, match):
    for fn in (binary_auroc, average_precision):
        with pytest.raises(ValueError, match=match):
            fn(scores, target)
