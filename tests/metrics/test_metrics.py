import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

from seqxent.metrics import classification as M
from seqxent.metrics.sov import sov99

PAD = -100


def _random_inputs(seed, n=60, n_classes=4, peak=2.0):
    """Seeded softmax probabilities (N, C) and targets that agree with them more often than chance."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, n_classes)) * peak
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    target = np.where(rng.random(n) < 0.6, probs.argmax(axis=1), rng.integers(0, n_classes, n))
    return probs, target


def _pad(probs, target, n_pad, seed=0, fill=np.nan):
    """Interleave `n_pad` padding rows (target PAD, probabilities `fill`) at random positions."""
    rng = np.random.default_rng(seed)
    n = len(target) + n_pad
    pad_pos = rng.choice(n, n_pad, replace=False)
    keep = np.ones(n, bool)
    keep[pad_pos] = False
    out_probs = np.full((n, probs.shape[1]), fill)
    out_target = np.full(n, PAD)
    out_probs[keep], out_target[keep] = probs, target
    return out_probs, out_target


# ----------------------------------------------------------------------------- against sklearn


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("n_classes", [2, 3, 7])
@pytest.mark.parametrize("ignore_index", [None, PAD])
def test_label_metrics_match_sklearn(seed, n_classes, ignore_index):
    probs, target = _random_inputs(seed, n=50, n_classes=n_classes)
    preds = probs.argmax(axis=1)
    labels = list(range(n_classes))
    args = (probs, target) if ignore_index is None else _pad(probs, target, 7, seed)
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
    scores = M.per_class_scores(*args, n_classes, **kw)
    for key, expected in zip(["precision", "recall", "f1", "support"], expected_prf, strict=True):
        np.testing.assert_allclose(scores[key], expected)


@pytest.mark.parametrize("seed", [0, 1])
def test_label_metrics_accept_preds(seed):
    probs, target = _random_inputs(seed)
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
def test_brier_score_matches_expanded_formula(seed):
    probs, target = _random_inputs(seed)
    # sum_k (p_k - y_k)^2 = sum_k p_k^2 - 2 p_y + 1
    expected = np.mean((probs**2).sum(axis=1) - 2 * probs[np.arange(len(target)), target] + 1)
    assert M.brier_score(probs, target) == pytest.approx(expected)


def test_log_loss_clips_zero_probability():
    assert M.log_loss([[1.0, 0.0]], [1]) == pytest.approx(-np.log(1e-15))


def test_empty_after_ignore_is_nan():
    probs, target = np.full((3, 2), np.nan), np.full(3, PAD)
    assert math.isnan(M.accuracy(probs, target, ignore_index=PAD))
    assert math.isnan(M.log_loss(probs, target, ignore_index=PAD))
    assert math.isnan(M.calibration_error(probs, target, ignore_index=PAD))


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


# ----------------------------------------------------------------------------- calibration


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
def test_calibration_error_matches_slow_loop(n_bins, norm, binning, ignore_index):
    probs, target = _random_inputs(n_bins, n=30, n_classes=3)  # 30 < 40 bins: empty bins in both binnings
    args = (probs, target) if ignore_index is None else _pad(probs, target, 5, n_bins)
    got = M.calibration_error(*args, n_bins=n_bins, norm=norm, binning=binning, ignore_index=ignore_index)
    assert got == pytest.approx(_slow_calibration_error(probs, target, n_bins, norm, binning))


@pytest.mark.parametrize("binning", ["width", "mass"])
def test_reliability_bins_match_slow_loop(binning):
    probs, target = _random_inputs(3, n=25, n_classes=3)
    bins = M.reliability_bins(probs, target, n_bins=10, binning=binning)
    full = bins.bin_count > 0
    expected = np.array(_slow_bins(probs, target, 10, binning))
    np.testing.assert_array_equal(bins.bin_count[full], expected[:, 0])
    np.testing.assert_allclose(bins.bin_confidence[full], expected[:, 1])
    np.testing.assert_allclose(bins.bin_accuracy[full], expected[:, 2])
    assert bins.bin_count.sum() == 25
    assert np.isnan(bins.bin_accuracy[~full]).all()


def test_reliability_bins_empty_bins_to_dict():
    # confidences 0.95 and 0.55: bins (0.5, 0.75] and (0.75, 1] of 4; bins 0 and 1 are empty
    bins = M.reliability_bins([[0.95, 0.05], [0.45, 0.55]], [0, 0], n_bins=4)
    assert bins.to_dict() == {"bin_confidence": [None, None, 0.55, 0.95],
                              "bin_accuracy": [None, None, 0.0, 1.0], "bin_count": [0, 0, 1, 1]}


def test_calibration_error_hand_computed():
    # width, 2 bins: item confidences 0.6 (correct) and 0.8 (wrong) share bin (0.5, 1]:
    # |acc 0.5 - conf 0.7| = 0.2. Mass, 2 bins: |1 - 0.6| and |0 - 0.8| -> ECE 0.6, MCE 0.8.
    probs, target = [[0.6, 0.4], [0.2, 0.8]], [0, 0]
    assert M.calibration_error(probs, target, n_bins=2) == pytest.approx(0.2)
    assert M.calibration_error(probs, target, n_bins=2, binning="mass") == pytest.approx(0.6)
    assert M.calibration_error(probs, target, n_bins=2, binning="mass", norm="max") == pytest.approx(0.8)


def test_perfectly_confident_and_right_is_calibrated():
    assert M.calibration_error(np.eye(3), [0, 1, 2]) == 0.0


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
        M.calibration_error([[0.5, 0.5]], [0], **kwargs)


# ----------------------------------------------------------------------------- property tests


@st.composite
def _probs_and_target(draw):
    n = draw(st.integers(1, 30))
    n_classes = draw(st.integers(2, 5))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.full(n_classes, draw(st.sampled_from([0.1, 1.0, 10.0]))), size=n)
    probs = probs / probs.sum(axis=1, keepdims=True)
    return probs, rng.integers(0, n_classes, n)


@settings(max_examples=60, deadline=None)
@given(data=_probs_and_target(), n_bins=st.integers(1, 20), binning=st.sampled_from(["width", "mass"]))
def test_calibration_error_in_unit_interval_and_ordered(data, n_bins, binning):
    probs, target = data
    l1, l2, mx = (M.calibration_error(probs, target, n_bins, norm, binning) for norm in ("l1", "l2", "max"))
    assert 0.0 <= l1 <= l2 + 1e-12 <= mx + 2e-12 <= 1.0 + 2e-12


@settings(max_examples=40, deadline=None)
@given(data=_probs_and_target(), n_pad=st.integers(1, 10), fill=st.sampled_from([np.nan, 0.0, 7.0]))
def test_padding_never_changes_a_metric(data, n_pad, fill):
    probs, target = data
    padded = _pad(probs, target, n_pad, seed=n_pad, fill=fill)
    classes = [f"c{i}" for i in range(probs.shape[1])]
    assert M.classification_metrics(*padded, classes, ignore_index=PAD) == M.classification_metrics(
        probs, target, classes)
    for fn in (M.accuracy, M.balanced_accuracy, M.macro_f1, M.log_loss, M.brier_score):
        assert fn(*padded, ignore_index=PAD) == fn(probs, target)


# ----------------------------------------------------------------------------- residue tasks


def _residue_case():
    # chain 5: pred HHE, ref HHH; chain 2: pred CC, ref CC (chain order follows chain_index values)
    probs = np.eye(3)[[0, 0, 1, 2, 2]] * 0.8 + 0.2 / 3
    return probs, np.array([0, 0, 0, 2, 2]), np.array([5, 5, 5, 2, 2])


def test_residue_metrics_hand_computed():
    probs, target, chain = _residue_case()
    out = M.residue_metrics(probs, target, chain, "HEC")
    # chain 5 SOV: s1 [0,2] vs s2 [0,1]: minov 2, maxov 3, delta min(1, 2, 1, 1) = 1 -> 3 / 3 * 3 = 3 of 3
    assert out["q"] == out["q3"] == pytest.approx(0.8)
    assert out["chain_accuracy_mean"] == pytest.approx((2 / 3 + 1) / 2)
    assert out["sov99"] == pytest.approx(100.0)
    assert out["n_chains"] == 2 and out["n_residues"] == 5
    assert out["per_class"]["H"] == {"precision": 1.0, "recall": pytest.approx(2 / 3), "f1": 0.8,
                                     "support": 3}
    assert out["per_class"]["E"]["precision"] == 0.0
    json.dumps(out, allow_nan=False)
    chains = M.per_chain_scores(probs, target, chain, ["H", "E", "C"])
    assert chains["chain"].tolist() == [2, 5] and chains["n_residues"].tolist() == [2, 3]


def test_residue_metrics_ignores_padding():
    probs, target, chain = _residue_case()
    padded_probs = np.vstack([probs[:3], np.full((2, 3), np.nan), probs[3:], np.zeros((1, 3))])
    padded_target = np.concatenate([target[:3], [PAD, PAD], target[3:], [PAD]])
    padded_chain = np.concatenate([chain[:3], [5, 5], chain[3:], [2]])
    got = M.residue_metrics(padded_probs, padded_target, padded_chain, "HEC", ignore_index=PAD)
    assert got == M.residue_metrics(probs, target, chain, "HEC")


def test_residue_metrics_masked_residue_splits_segment():
    # ref "HHH-C", pred "HHC-C" (masked residue written "-" in both).
    # H: s1 [0,2] vs s2 [0,1]: minov 2, maxov 3, delta min(1, 2, 1, 1) = 1 -> 3 of N 3.
    # C: s1 [4,4] pairs only with s2 [4,4] -> 1 of N 1. SOV = 100.
    # Dropping the residue instead ("HHHC" vs "HHCC") would pair C s1 [3,3] with s2 [2,3] -> 87.5.
    probs = np.eye(3)[[0, 0, 2, 1, 2]]
    target = np.array([0, 0, 0, PAD, 2])
    out = M.residue_metrics(probs, target, np.zeros(5, int), "HEC", ignore_index=PAD)
    assert out["sov99"] == 100.0 and out["q3"] == 0.75 and out["n_residues"] == 4
    assert sov99("HHCC", "HHHC") == 87.5


def test_residue_metrics_rejects_bad_classes():
    probs, target, chain = _residue_case()
    with pytest.raises(ValueError, match="Expected argument `classes` to be 3 single letters"):
        M.residue_metrics(probs, target, chain, ["helix", "E", "C"])


# ----------------------------------------------------------------------------- information and summaries


def test_information_summary_hand_computed():
    # all targets class 0, model says [0.5, 0.5]: H(q) = 0, CE = 1 bit, KL(q || p̄) = log2(1 / 0.5) = 1
    info = M.information_summary([[0.5, 0.5], [0.5, 0.5]], [0, 0], n_symbols=4, length=10)
    assert info["label_entropy_bits"] == 0.0 and info["ce_bits"] == 1.0 and info["kl_marginal_bits"] == 1.0
    assert info["information_gain_bits"] == -1.0 and info["uniform_bits"] == 1.0
    assert info["information_gain_bits_per_symbol"] == -0.1 and info["input_capacity_bits"] == 20.0


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_information_summary_decomposition(seed):
    probs, target = _random_inputs(seed, n_classes=5)
    info = M.information_summary(probs, target)
    q = np.bincount(target, minlength=5) / len(target)
    p_bar = probs.mean(axis=0)
    cross_entropy = -np.sum(q[q > 0] * np.log2(p_bar[q > 0]))
    assert info["marginal_ce_bits"] == pytest.approx(cross_entropy)  # CE(q, p̄) = H(q) + KL(q || p̄)
    assert info["ce_bits"] == pytest.approx(skm.log_loss(target, probs, labels=range(5)) / np.log(2))
    assert info["label_entropy_bits"] <= info["uniform_bits"]
    assert info["information_gain_bits"] == pytest.approx(info["label_entropy_bits"] - info["ce_bits"])


def test_classification_metrics_consistent_and_json():
    probs, target = _random_inputs(5, n_classes=3)
    out = M.classification_metrics(probs, target, ["a", "b", "c"], n_bins=10)
    json.dumps(out, allow_nan=False)
    assert out["accuracy"] == M.accuracy(probs, target)
    assert out["ece"] == M.calibration_error(probs, target, n_bins=10)
    assert out["ece_mass"] == M.calibration_error(probs, target, n_bins=10, binning="mass")
    assert out["mce"] == M.calibration_error(probs, target, n_bins=10, norm="max")
    assert out["log_loss_bits"] == pytest.approx(out["log_loss_nats"] / np.log(2))
    assert out["confusion"]["matrix"] == M.confusion_matrix(probs, target, 3).tolist()
    assert set(out["per_class"]) == {"a", "b", "c"} and isinstance(out["per_class"]["a"]["support"], int)
    assert out["information"]["ce_bits"] == pytest.approx(out["log_loss_bits"])
    with pytest.raises(ValueError, match="Expected argument `classes` to have 3 names, but got 2"):
        M.classification_metrics(probs, target, ["a", "b"])
