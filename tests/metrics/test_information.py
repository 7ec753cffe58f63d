"""Tests of seqxent.metrics.information: one information_summary for multiclass and multilabel tasks."""

import math

import numpy as np
import pytest
from scipy.stats import entropy
from sklearn import metrics as skm

from seqxent.metrics.information import information_summary

PAD = -100


def test_multiclass_hand_computed():
    # all targets class 0, model says [0.5, 0.5]: H(q) = 0, CE = 1 bit, KL(q || p̄) = log2(1 / 0.5) = 1
    info = information_summary([[0.5, 0.5], [0.5, 0.5]], [0, 0])
    assert info == {"n_items": 2, "n_classes": 2, "ce_bits": 1.0, "label_entropy_bits": 0.0, "uniform_bits": 1.0,
                    "kl_marginal_bits": 1.0, "marginal_ce_bits": 1.0, "information_gain_bits": -1.0,
                    "mean_entropy_bits": 1.0}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multiclass_decomposition(inputs, seed):
    probs, target = inputs.random(seed, n_classes=5)
    info = information_summary(probs, target)
    q = np.bincount(target, minlength=5) / len(target)
    p_bar = probs.mean(axis=0)
    cross_entropy = -np.sum(q[q > 0] * np.log2(p_bar[q > 0]))
    assert info["marginal_ce_bits"] == pytest.approx(cross_entropy)  # CE(q, p̄) = H(q) + KL(q || p̄)
    assert info["ce_bits"] == pytest.approx(skm.log_loss(target, probs, labels=range(5)) / np.log(2))
    assert info["label_entropy_bits"] == pytest.approx(entropy(q, base=2))
    assert info["mean_entropy_bits"] == pytest.approx(np.mean(entropy(probs, base=2, axis=1)))
    assert info["label_entropy_bits"] <= info["uniform_bits"] == math.log2(5)
    assert info["information_gain_bits"] == pytest.approx(info["label_entropy_bits"] - info["ce_bits"])
    padded = inputs.pad(probs, target, 4, seed)
    assert information_summary(*padded, ignore_index=PAD) == info


def test_multiclass_without_items_is_none():
    info = information_summary(np.full((2, 3), np.nan), [PAD, PAD], ignore_index=PAD)
    assert info["n_items"] == 0 and info["n_classes"] == 3
    assert all(info[k] is None for k in ("ce_bits", "label_entropy_bits", "kl_marginal_bits", "marginal_ce_bits",
                                         "information_gain_bits", "mean_entropy_bits"))


def test_multilabel_hand_computed():
    # p = ½ everywhere: 2 bits per record; label a is positive in 1 of 2 records (1 bit), b never (0 bits)
    info = information_summary([[0.5, 0.5], [0.5, 0.5]], [[1, 0], [0, 0]], kind="multilabel")
    assert info == {"n_records": 2, "n_labels": 2, "ce_bits": 2.0, "label_entropy_bits": 1.0, "uniform_bits": 2.0,
                    "information_gain_bits": -1.0}


@pytest.mark.parametrize("seed", range(3))
def test_multilabel_matches_per_label_sums(seed):
    rng = np.random.default_rng(seed)
    target = (rng.random((50, 4)) < [0.5, 0.2, 0.9, 0.0]).astype(int)  # the last label never occurs: H = 0
    probs = np.clip(0.3 * target + 0.7 * rng.random((50, 4)), 0.01, 0.99)
    info = information_summary(probs, target, kind="multilabel")
    q = target.mean(axis=0)
    expected_entropy = sum(entropy([qk, 1 - qk], base=2) for qk in q)
    expected_ce = sum(skm.log_loss(target[:, k], probs[:, k], labels=[0, 1]) for k in range(4)) / math.log(2)
    assert info["label_entropy_bits"] == pytest.approx(expected_entropy)
    assert info["ce_bits"] == pytest.approx(expected_ce)
    assert info["information_gain_bits"] == pytest.approx(expected_entropy - expected_ce)
    assert (info["n_records"], info["n_labels"], info["uniform_bits"]) == (50, 4, 4.0)


@pytest.mark.parametrize(("args", "kwargs", "match"), [
    (([[0.5, 0.5]], [0]), {"kind": "binary"}, "Expected argument `kind` to be one of"),
    (([[0.5, 0.5]], [[1, 0]]), {"kind": "multilabel", "ignore_index": PAD},
     "Expected argument `ignore_index` to be None for kind 'multilabel', but got -100"),
    (([[0.5, 0.5]], [[1, 0], [0, 1]]), {"kind": "multilabel"}, "one shape"),
    (([[0.5, 0.5]], [[1, 0]]), {}, "Expected argument `target` to have shape"),
])
def test_invalid_arguments(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        information_summary(*args, **kwargs)
