"""Tests of seqxent.ood: separation metrics of novel-class scores and the novel-class evaluation of `seqxent ood`."""

import json
import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from seqxent.calibrate.novelty import SCORES, fit_abstain_rule, novelty_scores
from seqxent.ood.evaluate import NoveltyInputs, evaluate_novelty, ood_metrics

# --- ood_metrics -----------------------------------------------------------------------------------------------


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


# --- evaluate_novelty -------------------------------------------------------------------------------------------


def _novelty_inputs(seed=0):
    rng = np.random.default_rng(seed)
    valid = rng.normal(size=(30, 4)) + np.eye(4)[rng.integers(0, 4, 30)] * 4
    target = rng.integers(0, 4, 25)
    test = rng.normal(size=(25, 4)) + np.eye(4)[target] * 4
    novel = rng.normal(size=(12, 4)) * 1.5
    return NoveltyInputs(valid, test, target, novel)


def test_evaluate_novelty_matches_independent_computation():
    inputs = _novelty_inputs()
    rule = fit_abstain_rule(inputs.valid, 1.7, "msp", 0.9)
    out = evaluate_novelty(inputs, rule, temperatures=[1.0, 3.0])
    keys = [f"{s} T={t}" for t in ("1", "3", "cal") for s in SCORES]
    assert [k for k in out if isinstance(out[k], dict)] == keys
    correct = inputs.test.argmax(axis=1) == inputs.test_target
    for key in keys:
        name, t = key.split(" T=")
        t = 1.7 if t == "cal" else float(t)
        s_valid, s_test, s_novel = (novelty_scores(z, t)[name] for z in (inputs.valid, inputs.test, inputs.novel))
        labels = np.r_[np.zeros(25), np.ones(12)]
        entry = out[key]
        assert entry["auroc"] == pytest.approx(roc_auc_score(labels, np.r_[s_test, s_novel]))
        assert entry["aupr"] == pytest.approx(average_precision_score(labels, np.r_[s_test, s_novel]))
        threshold = sorted(s_valid)[math.ceil(0.9 * 30) - 1]  # 27th smallest of 30 keeps 90 %
        assert entry["threshold"] == threshold
        assert entry["test_recall"] == sum(v <= threshold for v in s_test) / 25
        assert entry["over_classification"] == sum(v <= threshold for v in s_novel) / 12
        assert entry["accuracy_kept"] == pytest.approx(correct[s_test <= threshold].mean())
    selected = out["msp T=cal"]
    assert (out["score"], out["threshold"], out["recall_target"], out["temperature"]) == ("msp", rule.threshold,
                                                                                       0.9, 1.7)
    assert out["threshold"] == selected["threshold"]
    assert (out["test_recall"], out["over_classification"], out["auroc"]) == (
        selected["test_recall"], selected["over_classification"], selected["auroc"])
    assert out["best_auroc"] == max(out[k]["auroc"] for k in keys) == out[out["best"]]["auroc"]
    assert (out["n_test"], out["n_novel"]) == (25, 12)
    json.dumps(out, allow_nan=False)


def test_evaluate_novelty_perfect_separation():
    valid = np.array([[9.0, 0.0], [0.0, 9.0]])
    test = np.array([[8.0, 0.0], [0.0, 10.0]])
    novel = np.array([[0.1, 0.0], [0.0, 0.2]])
    out = evaluate_novelty(NoveltyInputs(valid, test, np.array([0, 1]), novel),
                           fit_abstain_rule(valid, 1.0, "nll", 1.0), temperatures=[1.0])
    for key in ("energy T=1", "msp T=1", "nll T=cal"):
        assert (out[key]["auroc"], out[key]["aupr"], out[key]["fpr95"]) == (1.0, 1.0, 0.0)
    assert out["over_classification"] == 0.0
    assert out["nll T=1"]["accuracy_kept"] == 1.0
