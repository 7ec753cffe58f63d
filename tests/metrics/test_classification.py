"""Tests of seqxent.metrics.classification: label and probabilistic metrics against scikit-learn, padding,
and the ``classification_metrics`` block."""

import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from seqxent.metrics import classification as M
from seqxent.metrics.calibration import calibration_error
from seqxent.metrics.information import information_summary

PAD = -100  # ignore_index of the padding rows of conftest.py


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_classes", [2, 3, 7])
@pytest.mark.parametrize("ignore_index", [None, PAD])
def test_label_metrics_match_sklearn(inputs, seed, n_classes, ignore_index):
    probs, target = inputs.random(seed, n=50, n_classes=n_classes)
    preds = probs.argmax(axis=1)
    labels = list(range(n_classes))
    args = (probs, target) if ignore_index is None else inputs.pad(probs, target, 7, seed)
    kw = {"ignore_index": ignore_index}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about classes only in y_pred
        expected_bacc = skm.balanced_accuracy_score(target, preds)
        expected_prf = skm.precision_recall_fscore_support(target, preds, labels=labels, zero_division=0)
    assert M.accuracy(*args, **kw) == pytest.approx(skm.accuracy_score(target, preds))
    assert M.balanced_accuracy(*args, **kw) == pytest.approx(expected_bacc)
    assert M.macro_f1(*args, **kw) == pytest.approx(skm.f1_score(target, preds, average="macro"))
    assert M.log_loss(*args, **kw) == pytest.approx(skm.log_loss(target, probs, labels=labels))
    expected_bits = skm.log_loss(target, probs, labels=labels) / np.log(2)
    assert M.log_loss(*args, base=2, **kw) == pytest.approx(expected_bits)
    np.testing.assert_array_equal(M.confusion_matrix(*args, n_classes, **kw),
                                  skm.confusion_matrix(target, preds, labels=labels))
    per_class = M.classification_metrics(*args, [f"c{i}" for i in labels], **kw)["per_class"]
    for key, expected in zip(["precision", "recall", "f1", "support"], expected_prf, strict=True):
        np.testing.assert_allclose([per_class[f"c{i}"][key] for i in labels], expected)


@pytest.mark.parametrize("seed", [0, 1])
def test_label_metrics_accept_preds(inputs, seed):
    probs, target = inputs.random(seed)
    preds = probs.argmax(axis=1)
    for fn in (M.accuracy, M.balanced_accuracy, M.macro_f1):
        assert fn(preds, target) == fn(probs, target)


def test_macro_f1_excludes_classes_absent_from_target_and_preds():
    # class 3 never occurs: F1 over classes 0..2 only = (1 + 2/3 + 2/3) / 3
    probs = np.eye(4)[[0, 1, 1, 2]]
    assert M.macro_f1(probs, [0, 1, 2, 2]) == pytest.approx(7 / 9)
    # class 2 only predicted: its F1 is 0 and counts; class 1 only true: F1 0 and counts
    assert M.macro_f1([0, 2], [0, 1]) == pytest.approx(1 / 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_brier_score_matches_expanded_formula(inputs, seed):
    probs, target = inputs.random(seed)
    # sum_k (p_k - y_k)^2 = sum_k p_k^2 - 2 p_y + 1
    expected = np.mean((probs**2).sum(axis=1) - 2 * probs[np.arange(len(target)), target] + 1)
    assert M.brier_score(probs, target) == pytest.approx(expected)


def test_log_loss_clips_zero_probability():
    assert M.log_loss([[1.0, 0.0]], [1]) == pytest.approx(-np.log(1e-15))


def test_empty_after_ignore_is_nan():
    probs, target = np.full((3, 2), np.nan), np.full(3, PAD)
    assert math.isnan(M.accuracy(probs, target, ignore_index=PAD))
    assert math.isnan(M.log_loss(probs, target, ignore_index=PAD))


@pytest.mark.parametrize(
    ("probs", "target", "match"),
    [
        ([[0.5, 0.5]], [0, 1], "Expected argument `target` to have shape"),
        ([[0.5, 0.5]], [2], r"Expected argument `target` to hold values in \[0, 2\)"),
        ([[0.5, 0.5]], [0.0], "Expected argument `target` to be an integer array"),
        ([[0.5, 0.6]], [0], "Expected argument `probs` to have rows summing to 1"),
        ([[1.5, -0.5]], [0], r"Expected argument `probs` to hold finite values in \[0, 1\]"),
        ([[[1.0]]], [0], "Expected argument `probs` to have shape"),
    ],
)
def test_invalid_inputs_raise(probs, target, match):
    with pytest.raises(ValueError, match=match):
        M.accuracy(probs, target)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n_pad=st.integers(1, 10), fill=st.sampled_from([np.nan, 0.0, 7.0]))
def test_padding_never_changes_a_metric(inputs, data, n_pad, fill):
    probs, target = data.draw(inputs.probs_and_target())
    padded = inputs.pad(probs, target, n_pad, seed=n_pad, fill=fill)
    classes = [f"c{i}" for i in range(probs.shape[1])]
    assert M.classification_metrics(*padded, classes, ignore_index=PAD) == M.classification_metrics(
        probs, target, classes)
    for fn in (M.accuracy, M.balanced_accuracy, M.macro_f1, M.log_loss, M.brier_score):
        assert fn(*padded, ignore_index=PAD) == fn(probs, target)


def test_classification_metrics_consistent_and_json(inputs):
    probs, target = inputs.random(5, n_classes=3)
    out = M.classification_metrics(probs, target, ["a", "b", "c"], n_bins=10)
    json.dumps(out, allow_nan=False)
    assert out["accuracy"] == M.accuracy(probs, target)
    assert out["ece"] == calibration_error(probs, target, n_bins=10)
    assert out["ece_mass"] == calibration_error(probs, target, n_bins=10, binning="mass")
    assert out["mce"] == calibration_error(probs, target, n_bins=10, norm="max")
    assert out["log_loss_bits"] == pytest.approx(out["log_loss_nats"] / np.log(2))
    assert out["confusion"]["matrix"] == M.confusion_matrix(probs, target, 3).tolist()
    assert set(out["per_class"]) == {"a", "b", "c"} and isinstance(out["per_class"]["a"]["support"], int)
    assert out["information"] == information_summary(probs, target)
    assert out["information"]["ce_bits"] == out["log_loss_bits"]  # one log loss computation
    with pytest.raises(ValueError, match="Expected argument `classes` to have 3 names, but got 2"):
        M.classification_metrics(probs, target, ["a", "b"])
