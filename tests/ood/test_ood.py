import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from seqxent.calibrate.scores import (
    abstain,
    energy_score,
    msp_score,
    nll_score,
    ood_metrics,
    threshold_for_recall,
)

LOGITS = [[0.0, 0.0, 0.0], [4.0, 0.0, -1.0], [1.0, 2.0, 3.0]]


def _slow_softmax(row):
    top = max(row)
    exps = [math.exp(v - top) for v in row]
    return [e / sum(exps) for e in exps]


@pytest.mark.parametrize("temperature", [0.5, 1.0, 3.0])
def test_energy_score_matches_slow_loop(temperature):
    expected = [-temperature * math.log(sum(math.exp(v / temperature) for v in row)) for row in LOGITS]
    np.testing.assert_allclose(energy_score(LOGITS, temperature), expected, rtol=1e-12)


def test_msp_and_nll_scores_match_slow_loop():
    max_probs = [max(_slow_softmax(row)) for row in LOGITS]
    np.testing.assert_allclose(msp_score(LOGITS), [1 - p for p in max_probs], rtol=1e-12)
    np.testing.assert_allclose(nll_score(LOGITS), [-math.log(p) for p in max_probs], rtol=1e-12)


def test_scores_exact_values_for_uniform_logits():
    # C = 4 uniform: MSP 1/4, so msp 3/4, nll log 4, energy -log 4.
    uniform = np.zeros((1, 4))
    assert msp_score(uniform).tolist() == [0.75]
    assert nll_score(uniform) == pytest.approx([math.log(4)], rel=1e-15)
    assert energy_score(uniform) == pytest.approx([-math.log(4)], rel=1e-15)


@pytest.mark.parametrize("score", [energy_score, msp_score, nll_score])
def test_scores_are_higher_for_flatter_logits(score):
    confident, flat = [[8.0, 0.0, 0.0]], [[0.1, 0.0, 0.0]]
    assert score(flat)[0] > score(confident)[0]


@pytest.mark.parametrize("score", [energy_score, msp_score, nll_score])
def test_scores_accept_torch_and_numpy_alike(score):
    as_torch = score(torch.tensor(LOGITS, dtype=torch.float32))
    as_numpy = score(np.array(LOGITS, dtype=np.float32))
    assert as_torch.dtype == np.float64 and as_torch.shape == (3,)
    np.testing.assert_array_equal(as_torch, as_numpy)


@pytest.mark.parametrize("score", [msp_score, nll_score])
def test_scores_accept_log_probabilities(score):
    log_probs = torch.log_softmax(torch.tensor(LOGITS, dtype=torch.float64), dim=1)
    np.testing.assert_allclose(score(log_probs), score(LOGITS), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    ("logits", "match"),
    [
        pytest.param([1.0, 2.0], r"shape \(N, C\)", id="1-D"),
        pytest.param(np.zeros((2, 0)), r"shape \(N, C\)", id="no-classes"),
        pytest.param([[0.0, float("nan")]], "finite", id="nan"),
    ],
)
@pytest.mark.parametrize("score", [energy_score, msp_score, nll_score])
def test_scores_reject_invalid_logits(score, logits, match):
    with pytest.raises(ValueError, match=match):
        score(logits)


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("inf"), True])
def test_energy_score_rejects_invalid_temperature(temperature):
    with pytest.raises(ValueError, match="argument `temperature`"):
        energy_score(LOGITS, temperature)


def _slow_fpr95(scores_in, scores_out):
    """FPR95 by brute force: try every observed threshold from low to high."""
    for t in sorted(set(scores_in)):
        if np.mean([s <= t for s in scores_in]) >= 0.95:
            return np.mean([s <= t for s in scores_out])
    raise AssertionError("unreachable")


def _slow_auroc(scores_in, scores_out):
    pairs = [(o > i) + 0.5 * (o == i) for o in scores_out for i in scores_in]
    return sum(pairs) / len(pairs)


def _random_scores(seed, n_in, n_out, rounding):
    rng = np.random.default_rng(seed)
    scores_in = np.round(rng.normal(0.0, 1.0, n_in), rounding)  # rounding creates ties
    scores_out = np.round(rng.normal(1.0, 1.5, n_out), rounding)
    return scores_in, scores_out


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(("n_in", "n_out"), [(20, 20), (57, 13), (1, 5), (100, 1)])
@pytest.mark.parametrize("rounding", [1, 8])
def test_ood_metrics_match_sklearn_and_slow_loop(seed, n_in, n_out, rounding):
    scores_in, scores_out = _random_scores(seed, n_in, n_out, rounding)
    result = ood_metrics(scores_in, scores_out)
    labels_out = np.r_[np.zeros(n_in), np.ones(n_out)]
    scores = np.r_[scores_in, scores_out]
    assert result["auroc"] == pytest.approx(roc_auc_score(labels_out, scores), abs=1e-12)
    assert result["auroc"] == pytest.approx(_slow_auroc(scores_in, scores_out), abs=1e-12)
    assert result["aupr"] == pytest.approx(average_precision_score(labels_out, scores), abs=1e-12)
    assert result["fpr_at_95_tpr"] == _slow_fpr95(scores_in, scores_out)
    # Literature definition: in-distribution positive, decision value -score, first point with TPR >= 0.95.
    fpr, tpr, _ = roc_curve(1 - labels_out, -scores)
    assert result["fpr_at_95_tpr"] == pytest.approx(fpr[np.argmax(tpr >= 0.95)], abs=1e-12)


@pytest.mark.parametrize(
    ("scores_in", "scores_out", "expected"),
    [
        pytest.param(
            [0.0, 1.0], [2.0, 3.0], {"auroc": 1.0, "aupr": 1.0, "fpr_at_95_tpr": 0.0}, id="separated"
        ),
        pytest.param(
            [2.0, 3.0], [0.0, 1.0], {"auroc": 0.0, "aupr": 5 / 12, "fpr_at_95_tpr": 1.0}, id="reversed"
        ),
        pytest.param(
            [1.0, 1.0], [1.0, 1.0], {"auroc": 0.5, "aupr": 0.5, "fpr_at_95_tpr": 1.0}, id="all-tied"
        ),
    ],
)
def test_ood_metrics_edge_cases(scores_in, scores_out, expected):
    # reversed: OOD items rank 3rd and 4th, AP = 1/2 * 1/3 + 1/2 * 2/4 = 5/12.
    assert ood_metrics(scores_in, scores_out) == pytest.approx(expected, abs=1e-15)


@pytest.mark.parametrize(
    ("scores_in", "scores_out", "match"),
    [
        pytest.param([], [1.0], "`scores_in` to be a non-empty", id="empty-in"),
        pytest.param([1.0], [], "`scores_out` to be a non-empty", id="empty-out"),
        pytest.param([[1.0]], [1.0], "1-D", id="2-D"),
        pytest.param([1.0], [float("nan")], "`scores_out` to be finite", id="nan"),
    ],
)
def test_ood_metrics_reject_invalid_scores(scores_in, scores_out, match):
    with pytest.raises(ValueError, match=match):
        ood_metrics(scores_in, scores_out)


@settings(max_examples=100, deadline=None)
@given(
    scores=st.lists(st.integers(-20, 20), min_size=1, max_size=60),
    recall=st.floats(0.01, 1.0),
)
def test_threshold_for_recall_is_smallest_sufficient_score(scores, recall):
    scores = np.array(scores, dtype=np.float64) / 4
    t = threshold_for_recall(scores, recall)
    assert t in scores
    assert np.mean(scores <= t) >= recall - 1e-9
    smaller = scores[scores < t]
    if smaller.size:
        assert np.mean(scores <= smaller.max()) < recall - 1e-9


@pytest.mark.parametrize(("n", "recall", "expected_kept"), [(100, 0.95, 95), (20, 0.95, 19), (10, 0.7, 7)])
def test_threshold_for_recall_exact_fraction_despite_rounding(n, recall, expected_kept):
    # 0.95 * 100 etc. are not exact in binary; exactly `expected_kept` items must be kept, not one more.
    scores = np.arange(n, dtype=np.float64)
    assert threshold_for_recall(scores, recall) == expected_kept - 1


@pytest.mark.parametrize("recall", [0.0, -0.1, 1.5, float("nan")])
def test_threshold_for_recall_rejects_invalid_recall(recall):
    with pytest.raises(ValueError, match="argument `recall`"):
        threshold_for_recall([0.1, 0.2], recall)


def test_abstain_replaces_labels_above_threshold():
    labels = np.array(["Apis mellifera", "Bombus", "Osmia"])
    out = abstain(labels, torch.tensor([0.5, 0.50001, -3.0]), threshold=0.5, unassigned="NA")
    assert out.tolist() == ["Apis mellifera", "NA", "Osmia"]
    assert out.dtype == object


def test_abstain_keeps_integer_labels_and_handles_empty_input():
    assert abstain([3, 1], [9.0, 0.0], threshold=1.0).tolist() == ["unassigned", 1]
    assert abstain([], [], threshold=1.0).tolist() == []


def test_abstain_with_threshold_for_recall_keeps_requested_fraction():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=200)
    out = abstain(["x"] * 200, scores, threshold_for_recall(scores, 0.9))
    assert np.mean(out == "unassigned") == pytest.approx(0.1)


def test_abstain_rejects_length_mismatch():
    with pytest.raises(ValueError, match="same length, but got 2 and 3"):
        abstain(["a", "b"], [0.0, 1.0, 2.0], threshold=0.5)
