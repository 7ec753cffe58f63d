"""Tests of the trust blocks of seqxent.evaluate.split: calibration before/after temperature scaling (against
independent computations), reliability diagrams before and after, and the information view."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import log_loss

from seqxent.data.alphabet import Alphabet
from seqxent.evaluate.split import write_plots
from seqxent.metrics.calibration import ece_noise_floor
from seqxent.model.checkpoint import Checkpoint
from seqxent.tasks import SplitPredictions, get_task


def evaluate_split(ckpt, preds, **kwargs):
    """The evaluation blocks of the checkpoint's task (sequence here)."""
    return get_task(ckpt.task).evaluate(ckpt, preds, **kwargs)


def _slow_bins(conf, correct, n_bins, binning):
    """Members of each bin by explicit loops: equal-width bins (lo, hi], or equal-count bins of sorted items."""
    if binning == "width":
        return [[i for i, c in enumerate(conf) if b / n_bins < c <= (b + 1) / n_bins or (b == 0 and c == 0)]
                for b in range(n_bins)]
    ranked, out, start = sorted(range(len(conf)), key=lambda i: conf[i]), [], 0
    for b in range(n_bins):
        size = len(conf) // n_bins + (1 if b < len(conf) % n_bins else 0)
        out.append(ranked[start:start + size])
        start += size
    return out


def _slow_calibration(probs, target, n_bins):
    conf = [max(row) for row in probs.tolist()]
    correct = [float(int(np.argmax(row)) == t) for row, t in zip(probs, target.tolist(), strict=True)]

    def gaps(binning):
        return [(len(m) / len(conf), abs(sum(correct[i] for i in m) / len(m) - sum(conf[i] for i in m) / len(m)))
                for m in _slow_bins(conf, correct, n_bins, binning) if m]

    onehot = np.eye(probs.shape[1])[target]
    return {"ece": sum(w * g for w, g in gaps("width")), "ece_mass": sum(w * g for w, g in gaps("mass")),
            "mce": max(g for _, g in gaps("width")),
            "nll": log_loss(target, probs, labels=range(probs.shape[1])),
            "brier": sum(sum((p - y) ** 2 for p, y in zip(prow, yrow, strict=True))
                         for prow, yrow in zip(probs.tolist(), onehot.tolist(), strict=True)) / len(target)}


def _softmax(z, t):
    e = np.exp(z / t - (z / t).max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture
def sequence_preds():
    rng = np.random.default_rng(5)
    target = rng.integers(0, 3, 80)
    logits = rng.normal(size=(80, 3)) * 2 + np.eye(3)[target] * 3  # over-confident: fitted T would be > 1
    rows = pd.DataFrame({"id": [f"r{i}" for i in range(80)], "sequence": ["ACGT" * 5] * 80})
    return SplitPredictions(rows, logits, target, np.arange(80))


def _checkpoint(temperature):
    return Checkpoint(None, "sequence", Alphabet.from_name("dna"), ["a", "b", "c"], "", {}, temperature)


@pytest.mark.parametrize("n_bins", [1, 5, 15])
@pytest.mark.parametrize("temperature", [1.0, 2.5])
def test_calibration_before_and_after_match_independent_computation(sequence_preds, n_bins, temperature):
    out = evaluate_split(_checkpoint(temperature), sequence_preds, n_bins=n_bins, n_boot=5)["calibration"]
    assert (out["temperature"], out["n_bins"]) == (temperature, n_bins)
    for key, t in (("before", 1.0), ("after", temperature)):
        expected = _slow_calibration(_softmax(sequence_preds.logits, t), sequence_preds.target, n_bins)
        assert out[key] == pytest.approx(expected, rel=1e-9, abs=1e-12)
    assert sum(out["bins_before"]["bin_count"]) == sum(out["bins_after"]["bin_count"]) == 80
    floor = ece_noise_floor(_softmax(sequence_preds.logits, temperature), n_bins, seed=1)
    assert (out["ece_noise_floor_mean"], out["ece_noise_floor_p95"]) == (floor["mean"], floor["p95"])
    if temperature == 1.0:
        assert out["before"] == out["after"] and out["bins_before"] == out["bins_after"]


def test_write_plots_draws_reliability_before_and_after(sequence_preds, tmp_path):
    result = evaluate_split(_checkpoint(2.0), sequence_preds, n_bins=10, n_boot=5)
    paths = write_plots(result, None, tmp_path)
    assert {p.name for p in paths} == {"confusion.png", "reliability.png", "reliability_before_scaling.png"}
    assert all(p.stat().st_size > 0 for p in paths)


def test_write_plots_without_bins_before(sequence_preds, tmp_path):
    result = evaluate_split(_checkpoint(2.0), sequence_preds, n_bins=10, n_boot=5)
    del result["calibration"]["bins_before"]  # e.g. a multilabel evaluation
    assert "reliability_before_scaling.png" not in {p.name for p in write_plots(result, None, tmp_path)}


def test_information_block_of_a_sequence_evaluation(sequence_preds):
    info = evaluate_split(_checkpoint(1.0), sequence_preds, n_boot=5)["information"]
    probs, target = _softmax(sequence_preds.logits, 1.0), sequence_preds.target
    ce = log_loss(target, probs, labels=range(3)) / math.log(2)
    freq = np.bincount(target, minlength=3) / 80
    entropy = -sum(f * math.log2(f) for f in freq if f > 0)
    assert info["unit"] == "sequence"
    assert info["cross_entropy_bits_per_sequence"] == pytest.approx(ce)
    assert info["label_entropy_bits"] == pytest.approx(entropy)
    assert info["uniform_label_code_bits"] == pytest.approx(math.log2(3))
    assert info["bits_saved_per_sequence"] == pytest.approx(entropy - ce)
    assert info["compression_factor"] == pytest.approx(entropy / ce)
    assert info["label_entropy_explained"] == pytest.approx(1 - ce / entropy)
    assert (info["uniform_input_bits_per_symbol"], info["mean_length"]) == (2.0, 20.0)
    assert info["uniform_input_bits_per_sequence"] == 40.0
    assert not {"ce_bits", "uniform_bits", "information_gain_bits"} & set(info)
    assert list(info)[:3] == ["unit", "cross_entropy_bits_per_sequence", "label_entropy_bits"]


@pytest.mark.parametrize(("task", "n_symbols", "unit", "bits"), [("residue", 20, "residue", math.log2(20)),
                                                                   ("sequence", 4, "sequence", 2.0)])
def test_information_view_exact(task, n_symbols, unit, bits):
    info = {"ce_bits": 0.25, "label_entropy_bits": 1.0, "uniform_bits": 1.5, "kl_marginal_bits": 0.1,
            "information_gain_bits": 0.75}
    view = get_task(task).information_view(info, n_symbols, mean_length=100.0)
    assert view[f"cross_entropy_bits_per_{unit}"] == 0.25 and view[f"bits_saved_per_{unit}"] == 0.75
    assert (view["compression_factor"], view["label_entropy_explained"]) == (4.0, 0.75)
    assert view["uniform_input_bits_per_symbol"] == pytest.approx(bits)
    assert view["kl_marginal_bits"] == 0.1
    assert ("uniform_input_bits_per_sequence" in view) == (unit == "sequence")


@pytest.mark.parametrize(("ce", "entropy"), [(0.0, 1.0), (0.5, 0.0), (None, 1.0), (0.5, None)])
def test_information_view_edge_cases_give_none(ce, entropy):
    view = get_task("sequence").information_view({"ce_bits": ce, "label_entropy_bits": entropy, "uniform_bits": 1.0},
                                                 4, 10)
    if ce is None or entropy is None:
        assert view["bits_saved_per_sequence"] is None
    if not ce:
        assert view["compression_factor"] is None
    if not entropy:
        assert view["label_entropy_explained"] is None
