"""Tests of seqxent.metrics.residue: per-residue and per-chain scores and SOV'99, hand-computed."""

import json

import numpy as np
import pytest

from seqxent.metrics.residue import per_chain_scores, residue_metrics
from seqxent.metrics.sov import sov99

PAD = -100


def _residue_case():
    # chain 5: pred HHE, ref HHH; chain 2: pred CC, ref CC (chain order follows chain_index values)
    probs = np.eye(3)[[0, 0, 1, 2, 2]] * 0.8 + 0.2 / 3
    return probs, np.array([0, 0, 0, 2, 2]), np.array([5, 5, 5, 2, 2])


def test_residue_metrics_hand_computed():
    probs, target, chain = _residue_case()
    out = residue_metrics(probs, target, chain, "HEC")
    # chain 5 SOV: s1 [0,2] vs s2 [0,1]: minov 2, maxov 3, delta min(1, 2, 1, 1) = 1 -> 3 / 3 * 3 = 3 of 3
    assert out["q"] == out["q3"] == pytest.approx(0.8)
    assert out["chain_accuracy_mean"] == pytest.approx((2 / 3 + 1) / 2)
    assert out["sov99"] == pytest.approx(100.0)
    assert out["n_chains"] == 2 and out["n_residues"] == 5
    assert out["per_class"]["H"] == {"precision": 1.0, "recall": pytest.approx(2 / 3), "f1": 0.8,
                                     "support": 3}
    assert out["per_class"]["E"]["precision"] == 0.0
    json.dumps(out, allow_nan=False)
    chains = per_chain_scores(probs, target, chain, ["H", "E", "C"])
    assert chains["chain"].tolist() == [2, 5] and chains["n_residues"].tolist() == [2, 3]


def test_residue_metrics_ignores_padding():
    probs, target, chain = _residue_case()
    padded_probs = np.vstack([probs[:3], np.full((2, 3), np.nan), probs[3:], np.zeros((1, 3))])
    padded_target = np.concatenate([target[:3], [PAD, PAD], target[3:], [PAD]])
    padded_chain = np.concatenate([chain[:3], [5, 5], chain[3:], [2]])
    got = residue_metrics(padded_probs, padded_target, padded_chain, "HEC", ignore_index=PAD)
    assert got == residue_metrics(probs, target, chain, "HEC")


def test_residue_metrics_masked_residue_splits_segment():
    # ref "HHH-C", pred "HHC-C" (masked residue written "-" in both).
    # H: s1 [0,2] vs s2 [0,1]: minov 2, maxov 3, delta min(1, 2, 1, 1) = 1 -> 3 of N 3.
    # C: s1 [4,4] pairs only with s2 [4,4] -> 1 of N 1. SOV = 100.
    # Dropping the residue instead ("HHHC" vs "HHCC") would pair C s1 [3,3] with s2 [2,3] -> 87.5.
    probs = np.eye(3)[[0, 0, 2, 1, 2]]
    target = np.array([0, 0, 0, PAD, 2])
    out = residue_metrics(probs, target, np.zeros(5, int), "HEC", ignore_index=PAD)
    assert out["sov99"] == 100.0 and out["q3"] == 0.75 and out["n_residues"] == 4
    assert sov99("HHCC", "HHHC") == 87.5


def test_residue_metrics_rejects_bad_classes():
    probs, target, chain = _residue_case()
    with pytest.raises(ValueError, match="Expected argument `classes` to be 3 single letters"):
        residue_metrics(probs, target, chain, ["helix", "E", "C"])
