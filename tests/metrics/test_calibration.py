"""Tests of seqxent.metrics.calibration: ECE/MCE and reliability bins against slow loops, and the ECE noise floor."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqxent.metrics.calibration import calibration_error, ece_noise_floor, reliability_bins

PAD = -100  # ignore_index of the padding rows of conftest.py


def _slow_bins(probs, target, n_bins, binning):
    """Independent loop: returns per-bin (count, mean confidence, accuracy)."""
    conf = [max(row) for row in probs]
    correct = [float(int(np.argmax(row)) == int(t)) for row, t in zip(probs, target, strict=True)]
    members = [[] for _ in range(n_bins)]
    if binning == "width":
        for i, c in enumerate(conf):
            for b in range(n_bins):
                if b / n_bins < c <= (b + 1) / n_bins or (b == 0 and c == 0):
                    members[b].append(i)
    else:
        ranked = sorted(range(len(conf)), key=lambda i: conf[i])
        start = 0
        for b in range(n_bins):
            size = len(conf) // n_bins + (1 if b < len(conf) % n_bins else 0)
            members[b] = ranked[start:start + size]
            start += size
    return [(len(m), sum(conf[i] for i in m) / len(m), sum(correct[i] for i in m) / len(m))
            for m in members if m]


def _slow_calibration_error(probs, target, n_bins, norm, binning):
    bins = _slow_bins(probs, target, n_bins, binning)
    total = sum(count for count, _, _ in bins)
    gaps = [(count / total, abs(acc - conf)) for count, conf, acc in bins]
    if norm == "l1":
        return sum(w * g for w, g in gaps)
    if norm == "l2":
        return math.sqrt(sum(w * g * g for w, g in gaps))
    return max(g for _, g in gaps)


@pytest.mark.parametrize("n_bins", [1, 5, 15, 40])
@pytest.mark.parametrize("norm", ["l1", "l2", "max"])
@pytest.mark.parametrize("binning", ["width", "mass"])
@pytest.mark.parametrize("ignore_index", [None, PAD])
def test_calibration_error_matches_slow_loop(inputs, n_bins, norm, binning, ignore_index):
    probs, target = inputs.random(n_bins, n=30, n_classes=3)  # 30 < 40 bins: empty bins in both binnings
    args = (probs, target) if ignore_index is None else inputs.pad(probs, target, 5, n_bins)
    got = calibration_error(*args, n_bins=n_bins, norm=norm, binning=binning, ignore_index=ignore_index)
    assert got == pytest.approx(_slow_calibration_error(probs, target, n_bins, norm, binning))


@pytest.mark.parametrize("binning", ["width", "mass"])
def test_reliability_bins_match_slow_loop(inputs, binning):
    probs, target = inputs.random(3, n=25, n_classes=3)
    bins = reliability_bins(probs, target, n_bins=10, binning=binning)
    full = bins.bin_count > 0
    expected = np.array(_slow_bins(probs, target, 10, binning))
    np.testing.assert_array_equal(bins.bin_count[full], expected[:, 0])
    np.testing.assert_allclose(bins.bin_confidence[full], expected[:, 1])
    np.testing.assert_allclose(bins.bin_accuracy[full], expected[:, 2])
    assert bins.bin_count.sum() == 25
    assert np.isnan(bins.bin_accuracy[~full]).all()


def test_reliability_bins_empty_bins_to_dict():
    # confidences 0.95 and 0.55: bins (0.5, 0.75] and (0.75, 1] of 4; bins 0 and 1 are empty
    bins = reliability_bins([[0.95, 0.05], [0.45, 0.55]], [0, 0], n_bins=4)
    assert bins.to_dict() == {"bin_confidence": [None, None, 0.55, 0.95],
                              "bin_accuracy": [None, None, 0.0, 1.0], "bin_count": [0, 0, 1, 1]}


def test_calibration_error_hand_computed():
    # width, 2 bins: item confidences 0.6 (correct) and 0.8 (wrong) share bin (0.5, 1]:
    # |acc 0.5 - conf 0.7| = 0.2. Mass, 2 bins: |1 - 0.6| and |0 - 0.8| -> ECE 0.6, MCE 0.8.
    probs, target = [[0.6, 0.4], [0.2, 0.8]], [0, 0]
    assert calibration_error(probs, target, n_bins=2) == pytest.approx(0.2)
    assert calibration_error(probs, target, n_bins=2, binning="mass") == pytest.approx(0.6)
    assert calibration_error(probs, target, n_bins=2, binning="mass", norm="max") == pytest.approx(0.8)


def test_perfectly_confident_and_right_is_calibrated():
    assert calibration_error(np.eye(3), [0, 1, 2]) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_bins": 0}, "Expected argument `n_bins` to be an integer larger than 0, but got 0"),
        ({"n_bins": 2.5}, "Expected argument `n_bins` to be an integer"),
        ({"norm": "l3"}, "Expected argument `norm` to be one of"),
        ({"binning": "quantile"}, "Expected argument `binning` to be one of"),
    ],
)
def test_calibration_error_invalid_args(kwargs, match):
    with pytest.raises(ValueError, match=match):
        calibration_error([[0.5, 0.5]], [0], **kwargs)


def test_empty_after_ignore_is_nan():
    assert math.isnan(calibration_error(np.full((3, 2), np.nan), np.full(3, PAD), ignore_index=PAD))


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n_bins=st.integers(1, 20), binning=st.sampled_from(["width", "mass"]))
def test_calibration_error_in_unit_interval_and_ordered(inputs, data, n_bins, binning):
    probs, target = data.draw(inputs.probs_and_target())
    l1, l2, mx = (calibration_error(probs, target, n_bins, norm, binning) for norm in ("l1", "l2", "max"))
    assert 0.0 <= l1 <= l2 + 1e-12 <= mx + 2e-12 <= 1.0 + 2e-12


# --- ece_noise_floor ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "c"), [(20, 0.7), (7, 0.5), (40, 0.9)])
def test_ece_noise_floor_matches_exact_binomial_expectation(n, c):
    # One bin and equal confidences: ECE = |K / n - c| with K ~ Binomial(n, c), whose mean is a finite sum.
    exact = sum(math.comb(n, k) * c**k * (1 - c) ** (n - k) * abs(k / n - c) for k in range(n + 1))
    probs = np.tile([c, 1 - c], (n, 1)) if c >= 0.5 else np.tile([1 - c, c], (n, 1))
    floor = ece_noise_floor(probs, n_bins=1, n_draws=4000, seed=2)
    assert floor["mean"] == pytest.approx(exact, abs=0.006)
    assert floor["p95"] >= floor["mean"]


def test_ece_noise_floor_depends_only_on_confidences_and_is_seeded():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=50)
    floor = ece_noise_floor(probs, n_bins=10, seed=3)
    assert floor == ece_noise_floor(probs[:, ::-1], n_bins=10, seed=3)  # class order does not matter
    assert floor == ece_noise_floor(probs, n_bins=10, seed=3)
    assert floor != ece_noise_floor(probs, n_bins=10, seed=4)


def test_ece_noise_floor_shrinks_with_more_items():
    small = ece_noise_floor(np.tile([0.8, 0.2], (50, 1)), n_bins=15, seed=0)["mean"]
    large = ece_noise_floor(np.tile([0.8, 0.2], (5000, 1)), n_bins=15, seed=0)["mean"]
    assert large < small / 5


@pytest.mark.parametrize(("probs", "kwargs", "match"), [
    (np.ones((3, 1)), {}, "Expected argument `probs`"),
    (np.ones((0, 2)), {}, "Expected argument `probs`"),
    (np.full((2, 2), 0.5), {"n_draws": 0}, "Expected argument `n_draws`"),
])
def test_ece_noise_floor_rejects(probs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ece_noise_floor(probs, **kwargs)
