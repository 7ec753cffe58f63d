"""Percentile bootstrap intervals: determinism, non-finite replicates, units (chains) resampled whole."""

import math

import numpy as np
import pytest

from seqxent.metrics import classification as M
from seqxent.metrics.bootstrap import bootstrap_ci, bootstrap_metric, unit_resampler


def test_bootstrap_ci_is_deterministic_and_brackets_estimate():
    values = np.random.default_rng(0).random(200)
    stat = lambda idx: float(values[idx].mean())  # noqa: E731
    low, high = bootstrap_ci(stat, 200, n_boot=300, seed=3)
    assert bootstrap_ci(stat, 200, n_boot=300, seed=3) == [low, high]
    assert bootstrap_ci(stat, 200, n_boot=300, seed=4) != [low, high]
    assert low < values.mean() < high
    assert isinstance(low, float)


def test_bootstrap_ci_drops_non_finite_and_validates():
    assert all(math.isnan(v) for v in bootstrap_ci(lambda idx: math.nan, 5, n_boot=10))
    # replicates where the statistic is undefined are dropped, the others kept
    values = np.array([1.0, 2.0])
    low, high = bootstrap_ci(lambda idx: values[idx].mean() if 0 in idx else math.nan, 2, n_boot=100)
    assert 1.0 <= low <= high <= 1.5
    with pytest.raises(ValueError, match="Expected argument `alpha` to be a float in"):
        bootstrap_ci(lambda idx: 0.0, 5, alpha=1.5)
    with pytest.raises(ValueError, match="Expected argument `n_units` to be an integer larger than 0"):
        bootstrap_ci(lambda idx: 0.0, 0)
    with pytest.raises(ValueError, match="Expected argument `n_boot` to be an integer larger than -1"):
        bootstrap_ci(lambda idx: 0.0, 5, n_boot=-1)


def test_bootstrap_zero_resamples_gives_no_interval():
    assert bootstrap_ci(lambda idx: 1.0, 5, n_boot=0) is None
    probs, target = np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([0, 0])
    assert bootstrap_metric(M.accuracy, probs, target, n_boot=0) is None


def test_unit_resampler_matches_concatenation():
    unit_index = np.array([4, 1, 4, 9, 1, 4])
    n_units, expand = unit_resampler(unit_index)
    groups = [np.flatnonzero(unit_index == u) for u in (1, 4, 9)]
    units = np.array([2, 0, 0, 1])
    assert n_units == 3
    np.testing.assert_array_equal(expand(units), np.concatenate([groups[u] for u in units]))


def test_bootstrap_metric_resamples_units_not_items():
    # one chain holding every residue: resampling chains always returns that chain -> zero-width interval
    rng = np.random.default_rng(0)
    probs, target = rng.dirichlet(np.ones(3), size=40), rng.integers(0, 3, 40)
    point = M.accuracy(probs, target)
    one_chain = bootstrap_metric(M.accuracy, probs, target, unit_index=np.zeros(40, int), n_boot=50)
    assert one_chain == pytest.approx([point, point])
    low, high = bootstrap_metric(M.accuracy, probs, target, n_boot=200)
    assert low < point < high
