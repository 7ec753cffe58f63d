import math
from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.metrics import f1_score

from seqxent.baseline.score import encode_predictions, score_result
from seqxent.metrics.classification import macro_f1


def _result(labels, probs=None, classes=None):
    return SimpleNamespace(labels=labels, probs=probs, classes=classes, seconds=0.25)


def test_encode_predictions_codes_unassigned_after_every_class():
    preds, target = encode_predictions(["b", None, "z"], ["b", "a", "a"])  # classes a, b, z; None -> 3
    assert preds.tolist() == [1, 3, 2]
    assert target.tolist() == [1, 0, 0]


def test_macro_f1_counts_predicted_classes_absent_from_the_truth_as_the_model_does():
    truth = ["a", "b", "b", "c"]
    labels = ["a", "b", "d", None]  # "d" is never true; the last query is unassigned
    out = score_result(_result(labels), truth)
    # Classes a, b, c, d and "unassigned": F1 1, 2/3, 0, 0, 0.
    assert out["macro_f1"] == pytest.approx(1 / 3)
    assert out["macro_f1"] == macro_f1(np.array([0, 1, 3, 4]), np.array([0, 1, 1, 2]))
    # The true-classes-only definition, used for baselines before, averaged a, b, c only: (1 + 2/3 + 0) / 3.
    sentinel = ["a", "b", "d", "\x00unassigned"]
    assert f1_score(truth, sentinel, labels=["a", "b", "c"], average="macro") == pytest.approx(5 / 9)
    assert out["macro_f1"] == pytest.approx(f1_score(truth, sentinel, average="macro"))
    assert (out["accuracy"], out["n_items"], out["n_unassigned"], out["seconds"]) == (0.5, 4, 1, 0.25)


def test_both_definitions_agree_when_every_prediction_is_a_true_class():
    truth = ["a", "b", "b", "c"]
    out = score_result(_result(["a", "b", "c", "c"]), truth)
    assert out["macro_f1"] == pytest.approx((1 + 2 / 3 + 2 / 3) / 3)
    assert out["macro_f1"] == pytest.approx(f1_score(truth, ["a", "b", "c", "c"], labels=["a", "b", "c"],
                                                     average="macro"))


def test_log_loss_and_brier_leave_out_classes_unseen_in_training():
    probs = np.array([[0.8, 0.2], [0.25, 0.75], [0.5, 0.5]])
    out = score_result(_result(["x", "y", "x"], probs, ["x", "y"]), ["x", "y", "new"])
    assert out["log_loss_nats"] == pytest.approx(-(math.log(0.8) + math.log(0.75)) / 2)
    assert out["log_loss_bits"] == pytest.approx(out["log_loss_nats"] / math.log(2))
    assert out["brier"] == pytest.approx((2 * 0.2**2 + 2 * 0.25**2) / 2)


def test_log_loss_is_none_when_no_query_class_was_seen_in_training():
    out = score_result(_result(["x"], np.array([[1.0]]), ["x"]), ["new"])
    assert out["log_loss_nats"] is None and out["log_loss_bits"] is None and out["brier"] is None
    assert out["macro_f1"] == 0.0  # classes "new" and "x", both F1 0


def test_calls_at_the_cutoff_leave_the_forced_scores_alone():
    """qiime_nb's cut-off (classify-sklearn's 0.7): calls below it are unassigned in its own keys only."""
    result = SimpleNamespace(labels=["a", "b", "b", "a"], probs=None, classes=None, seconds=0.25,
                             confidence=np.array([0.95, 0.7, 0.69, 0.8]), cutoff=0.7)  # fmt: skip
    out = score_result(result, ["a", "a", "b", "a"])
    assert (out["accuracy"], out["n_unassigned"]) == (0.75, 0)  # the forced calls, as for every method
    assert (out["confidence_cutoff"], out["n_unassigned_at_cutoff"]) == (0.7, 1)  # 0.7 passes, 0.69 does not
    assert out["assigned_accuracy_at_cutoff"] == pytest.approx(2 / 3)  # a, b (wrong), a pass
    assert "confidence_cutoff" not in score_result(_result(["a"]), ["a"])  # no cut-off, no such keys


def test_no_call_passes_the_cutoff():
    result = SimpleNamespace(labels=["a", None], probs=None, classes=None, seconds=0.0,
                             confidence=np.array([0.5, np.nan]), cutoff=0.7)  # fmt: skip
    out = score_result(result, ["a", "a"])
    assert (out["n_unassigned_at_cutoff"], out["assigned_accuracy_at_cutoff"]) == (2, None)
