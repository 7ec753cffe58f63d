import json
import math

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.calibration import calibration_curve

from seqxent.baseline.score import score_powerset_baseline
from seqxent.data.alphabet import Alphabet
from seqxent.metrics import multilabel as mm
from seqxent.model.checkpoint import Checkpoint
from seqxent.tasks import SplitPredictions, get_task
from seqxent.tasks.multilabel import unseen_labels


def _sample(seed: int, n: int = 60, k: int = 4, ties: bool = False):
    """Correlated probabilities and multi-hot targets; label 3 is rare (sometimes absent)."""
    rng = np.random.default_rng(seed)
    rates = np.array([0.5, 0.3, 0.7, 0.05])[:k]
    target = (rng.random((n, k)) < rates).astype(int)
    probs = np.clip(0.35 * target + rng.random((n, k)) * 0.65, 0, 1)
    if ties:
        probs = np.round(probs * 4) / 4  # many equal scores, and values on bin edges
    return probs, target


GRID = [(seed, threshold, ties) for seed in (0, 1, 2) for threshold in (0.3, 0.5, 0.75) for ties in (False, True)]


@pytest.mark.parametrize(("seed", "threshold", "ties"), GRID)
def test_set_scores_match_sklearn(seed, threshold, ties):
    probs, target = _sample(seed, ties=ties)
    preds = (probs >= threshold).astype(int)
    assert mm.subset_accuracy(probs, target, threshold) == pytest.approx(skm.accuracy_score(target, preds))
    assert mm.hamming_loss(probs, target, threshold) == pytest.approx(skm.hamming_loss(target, preds))
    assert mm.micro_f1(probs, target, threshold) == pytest.approx(
        skm.f1_score(target, preds, average="micro", zero_division=0))
    seen = np.flatnonzero(target.any(axis=0) | preds.any(axis=0))
    assert mm.macro_f1(probs, target, threshold) == pytest.approx(
        skm.f1_score(target, preds, average="macro", labels=seen, zero_division=0))
    assert mm.jaccard(probs, target, threshold) == pytest.approx(
        skm.jaccard_score(target, preds, average="samples", zero_division=1))


@pytest.mark.parametrize(("seed", "ties"), [(s, t) for s in range(5) for t in (False, True)])
def test_ranking_scores_match_sklearn(seed, ties):
    probs, target = _sample(seed, ties=ties)
    classes = ["a", "b", "c", "d"]
    out = mm.multilabel_metrics(probs, target, classes)
    for k, name in enumerate(classes):
        y, p = target[:, k], probs[:, k]
        if 0 < y.sum() < len(y):
            assert out["per_class"][name]["auroc"] == pytest.approx(skm.roc_auc_score(y, p))
            assert out["per_class"][name]["average_precision"] == pytest.approx(skm.average_precision_score(y, p))
    assert out["micro_average_precision"] == pytest.approx(
        skm.average_precision_score(target.ravel(), probs.ravel()))


@pytest.mark.parametrize(("seed", "n_bins", "ties"), [(s, b, t) for s in (0, 1) for b in (1, 4, 10) for t in (0, 1)])
def test_calibration_matches_sklearn_calibration_curve(seed, n_bins, ties):
    probs, target = _sample(seed, ties=bool(ties))
    p, y = probs.ravel(), target.ravel()
    frac_pos, mean_p = calibration_curve(y, p, n_bins=n_bins, strategy="uniform")
    counts = np.histogram(p, bins=np.linspace(0, 1, n_bins + 1))[0]  # same bins except values on inner edges
    bins = mm.label_reliability_bins(probs, target, n_bins)
    full = bins.bin_count > 0
    np.testing.assert_allclose(bins.bin_accuracy[full], frac_pos)
    np.testing.assert_allclose(bins.bin_confidence[full], mean_p)
    assert bins.bin_count.sum() == counts.sum() == p.size
    gaps = np.abs(frac_pos - mean_p)
    expected_ece = float(np.sum(gaps * bins.bin_count[full]) / p.size)
    assert mm.label_calibration_error(probs, target, n_bins) == pytest.approx(expected_ece)
    assert mm.label_calibration_error(probs, target, n_bins, "max") == pytest.approx(gaps.max())


@pytest.mark.parametrize("seed", range(4))
def test_brier_and_log_loss_match_sklearn(seed):
    probs, target = _sample(seed)
    probs = np.clip(probs, 0.01, 0.99)
    k = target.shape[1]
    per_label_brier = [skm.brier_score_loss(target[:, j], probs[:, j]) for j in range(k)]
    assert mm.brier_score(probs, target) == pytest.approx(np.mean(per_label_brier))
    # summed over labels per record = K × sklearn's log loss of each label, summed
    per_label_nats = [skm.log_loss(target[:, j], probs[:, j], labels=[0, 1]) for j in range(k)]
    assert mm.binary_log_loss(probs, target) == pytest.approx(np.sum(per_label_nats))
    assert mm.binary_log_loss(probs, target, 2) == pytest.approx(np.sum(per_label_nats) / math.log(2))


def test_per_label_scores_match_sklearn():
    probs, target = _sample(7)
    classes = ["a", "b", "c", "d"]
    scores = mm.per_label_scores(probs, target, classes, threshold=0.5, n_bins=5)
    preds = (probs >= 0.5).astype(int)
    precision, recall, f1, support = skm.precision_recall_fscore_support(target, preds, zero_division=0)
    for j, name in enumerate(classes):
        s = scores[name]
        assert (s["precision"], s["recall"], s["f1"]) == pytest.approx((precision[j], recall[j], f1[j]))
        assert s["support"] == support[j] and s["predicted"] == preds[:, j].sum()
        assert s["brier"] == pytest.approx(skm.brier_score_loss(target[:, j], probs[:, j]))
        assert s["ece"] == pytest.approx(mm.label_calibration_error(probs[:, [j]], target[:, [j]], 5))


def test_cooccurrence_matches_a_loop():
    probs, target = _sample(4)
    preds = probs >= 0.5
    k = target.shape[1]
    expected = [[sum(int(target[n, i] and preds[n, j]) for n in range(len(target))) for j in range(k)]
                for i in range(k)]
    assert mm.label_cooccurrence(probs, target).tolist() == expected


# --------------------------------------------------------------------------- named edge cases


def test_undefined_ranking_scores_are_none_in_the_summary():
    probs = np.array([[0.9, 0.1], [0.2, 0.3], [0.7, 0.6]])
    target = np.array([[1, 0], [0, 0], [1, 0]])  # label b never positive
    out = mm.multilabel_metrics(probs, target, ["a", "b"])
    assert out["per_class"]["b"]["auroc"] is None and out["per_class"]["b"]["average_precision"] is None
    assert out["macro_auroc"] == 1.0  # the mean of the defined ones (label a)
    assert out["per_class"]["b"]["f1"] == 0.0  # one false positive
    json.dumps(out, allow_nan=False)


def test_nothing_true_nothing_predicted():
    probs, target = np.full((2, 2), 0.1), np.zeros((2, 2), dtype=int)
    assert mm.subset_accuracy(probs, target) == 1.0
    assert mm.jaccard(probs, target) == 1.0
    assert mm.micro_f1(probs, target) == 0.0
    assert math.isnan(mm.macro_f1(probs, target))  # no label occurs: nothing to average


@pytest.mark.parametrize(("probs", "target", "message"), [
    ([[0.5, 0.5]], [[1, 0], [0, 1]], "one shape"),
    ([[1.5, 0.5]], [[1, 0]], "probabilities in \\[0, 1\\]"),
    ([[0.5, 0.5]], [[2, 0]], "multi-hot"),
])
def test_validation_errors(probs, target, message):
    with pytest.raises(ValueError, match=message):
        mm.subset_accuracy(probs, target)


def test_bins_argument_is_checked():
    with pytest.raises(ValueError, match="`n_bins` to be an integer larger than 0, but got 0"):
        mm.label_reliability_bins([[0.5]], [[1]], 0)


# --------------------------------------------------------------------------- evaluation blocks


def _preds(temperature=1.0):
    logits = np.array([[2.0, -1.0, 0.5], [-2.0, 1.5, -0.5], [1.0, 1.0, -3.0], [0.2, -0.2, 0.1]])
    target = np.array([[1, 0, 1], [0, 1, 0], [1, 0, 0], [0, 0, 1]], dtype=np.float32)
    rows = pd.DataFrame({"id": ["r1", "r2", "r3", "r4"], "label": ["a;c", "b;x", "a", "c"]})
    ckpt = Checkpoint(None, "multilabel", Alphabet.from_name("dna"), ["a", "b", "c"], "sequence_cnn", {},
                      temperature)
    return ckpt, SplitPredictions(rows, logits, target, np.arange(4))


def test_evaluate_multilabel_blocks():
    ckpt, preds = _preds(temperature=2.0)
    result = get_task("multilabel").evaluate(ckpt, preds, n_bins=4, n_boot=50, seed=1)
    json.dumps(result, allow_nan=False)
    assert list(result["headline"]) == ["micro_f1", "macro_f1", "subset_accuracy", "hamming_loss", "log_loss_bits"]
    for value in result["headline"].values():
        low, high = value["ci95"]
        assert low <= value["value"] <= high
    assert result["metrics"]["unseen_labels"] == {"x": 1}
    assert result["metrics"]["subset_accuracy"] == 0.5  # r3 and r4 have a false positive each
    assert set(result["per_class"]) == {"a", "b", "c"}
    assert result["confusion"]["matrix"] == [[2, 1, 1], [0, 1, 0], [2, 0, 2]]
    cal = result["calibration"]
    assert cal["temperature"] == 2.0 and cal["shared_by_all_labels"]
    probs = 1 / (1 + np.exp(-preds.logits / 2.0))
    assert cal["after"]["nll"] == pytest.approx(mm.binary_log_loss(probs, preds.target))
    assert sum(cal["bins_after"]["bin_count"]) == 12


def test_prediction_table():
    ckpt, preds = _preds()
    table = pd.DataFrame(get_task("multilabel").prediction_table(ckpt, preds, threshold=0.5))
    assert table.columns.tolist() == ["id", "label", "predicted", "n_true", "n_predicted", "exact", "p_a", "p_b",
                                      "p_c"]
    assert table["predicted"].tolist() == ["a;c", "b", "a;b", "a;c"]
    assert table["exact"].tolist() == [True, True, False, False]
    assert table["label"].tolist() == ["a;c", "b;x", "a", "c"]
    assert table.loc[0, "p_a"] == round(1 / (1 + math.exp(-2.0)), 4)


def test_unseen_labels():
    assert unseen_labels(pd.Series(["a;x", "x;y", "a"]), ["a", "b"]) == {"x": 2, "y": 1}
    assert unseen_labels(pd.Series([""]), ["a"]) == {}


def test_plots_are_written_and_deterministic(tmp_path):
    from seqxent.evaluate.plots import plot_label_cooccurrence
    from seqxent.evaluate.split import write_plots

    ckpt, preds = _preds(temperature=2.0)
    result = get_task("multilabel").evaluate(ckpt, preds, n_bins=4, n_boot=5)
    history = pd.DataFrame({"epoch": [1, 2], "train_loss": [2.0, 1.0], "valid_ce": [2.1, 1.5],
                            "valid_accuracy": [0.2, 0.5]})
    paths = write_plots(result, history, tmp_path)
    assert [p.name for p in paths] == ["confusion.png", "reliability.png", "reliability_before_scaling.png",
                                       "learning_curves.png"]
    again = plot_label_cooccurrence(result["confusion"]["matrix"], [2, 1, 2], ["a", "b", "c"], tmp_path / "c.png")
    assert again.read_bytes() == paths[0].read_bytes() and again.read_bytes().startswith(b"\x89PNG")


def test_powerset_baseline_scores():
    from types import SimpleNamespace

    truth = ["a;b", "b", "c", "a;x"]
    classes = ["a", "b", "c"]
    # labels only (a peer tool): the predicted sets, a skipped query predicts nothing
    labels_only = SimpleNamespace(classes=["a", "a;b", "b"], probs=None, labels=["a;b", "a", None, "a"],
                                  seconds=1.0)
    out = score_powerset_baseline(labels_only, truth, classes)
    preds = np.array([[1, 1, 0], [1, 0, 0], [0, 0, 0], [1, 0, 0]])
    target = np.array([[1, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]])  # x is not a model label
    assert out["subset_accuracy"] == skm.accuracy_score(target, preds) == 0.5
    assert out["hamming_loss"] == pytest.approx(skm.hamming_loss(target, preds))
    assert out["micro_f1"] == pytest.approx(skm.f1_score(target, preds, average="micro"))
    assert out["n_unassigned"] == 1 and "log_loss_bits" not in out
    # probabilities over label sets: a label's probability sums the sets that hold it
    with_probs = SimpleNamespace(classes=["a", "a;b", "b"], probs=np.array([[0.2, 0.5, 0.3]] * 4),
                                 labels=["a;b"] * 4, seconds=1.0)
    out = score_powerset_baseline(with_probs, truth, classes)
    marginal = np.array([[0.7, 0.8, 0.0]] * 4)
    assert out["brier"] == pytest.approx(np.mean((marginal - target) ** 2))
    assert out["log_loss_bits"] == pytest.approx(mm.binary_log_loss(marginal, target, 2))
