"""Evaluation of a multi-label model on one split: the ``metrics.json`` blocks and the per-record predictions.

The blocks mirror those of single-label models, so that the report and the plots need nothing special:
``headline`` (bootstrapped over records), ``metrics``, ``per_class`` (per label), ``confusion`` (a label
co-occurrence matrix: rows are true labels, columns predicted labels, cells count records carrying both;
the diagonal holds each label's true positives), ``calibration`` (one temperature for all labels; label-wise
binary reliability pooled over all (record, label) pairs) and ``information``.
"""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from seqxent.data.io import atomic_write
from seqxent.data.labels import THRESHOLD, multi_hot, predicted_labels, sigmoid, split_labels
from seqxent.evaluate import plots
from seqxent.metrics import bootstrap
from seqxent.metrics import multilabel as mm
from seqxent.model.checkpoint import Checkpoint

#: Headline metrics, in report order; each gets a 95 % bootstrap interval over records.
HEADLINE = {"micro_f1": mm.micro_f1, "macro_f1": mm.macro_f1, "subset_accuracy": mm.subset_accuracy,
            "hamming_loss": mm.hamming_loss}


def _headline(probs: np.ndarray, target: np.ndarray, threshold: float, n_boot: int, seed: int) -> dict:
    out = {}
    funcs = {**{name: (lambda p, t, f=func: f(p, t, threshold)) for name, func in HEADLINE.items()},
             "log_loss_bits": lambda p, t: mm.binary_log_loss(p, t, 2)}
    for name, func in funcs.items():
        ci = bootstrap.bootstrap_ci(lambda idx, f=func: f(probs[idx], target[idx]), len(target), n_boot, seed=seed)
        out[name] = {"value": func(probs, target), "ci95": ci}
    return mm.to_json_value(out)


def _calibration(probs: np.ndarray, target: np.ndarray, n_bins: int) -> dict:
    return {"ece": mm.label_calibration_error(probs, target, n_bins),
            "mce": mm.label_calibration_error(probs, target, n_bins, "max"),
            "nll": mm.binary_log_loss(probs, target), "brier": mm.brier_score(probs, target)}


def unseen_labels(labels: pd.Series, classes: list[str]) -> dict[str, int]:
    """Labels of these records that training never saw (not predictable; left out of the targets), with counts.

    Example:
        >>> unseen_labels(pd.Series(["a;x", "x;y", "a"]), ["a", "b"])
        {'x': 2, 'y': 1}
    """
    known = set(classes)
    counts = Counter(lab for label in labels for lab in split_labels(label) if lab not in known)
    return dict(sorted(counts.items()))


def evaluate_multilabel(ckpt: Checkpoint, preds, n_bins: int = 15, n_boot: int = 1000, seed: int = 1,
                        threshold: float = THRESHOLD) -> dict:
    """The metric blocks of ``metrics.json`` for a multi-label model on one split.

    Args:
        ckpt: the calibrated checkpoint (its temperature divides the logits).
        preds: :class:`~seqxent.evaluate.split.SplitPredictions` with ``logits`` (N, K) and multi-hot ``target`` (N, K).
        n_bins: equal-width bins of the calibration error and the reliability diagram.
        n_boot: bootstrap replicates of the headline intervals (0: no intervals).
        seed: seed of the bootstrap.
        threshold: probability at which a label counts as predicted.
    """
    raw = sigmoid(preds.logits)
    probs = sigmoid(preds.logits, ckpt.temperature)
    target = np.asarray(preds.target)
    scores = mm.multilabel_metrics(probs, target, ckpt.classes, threshold, n_bins)
    per_class = scores.pop("per_class")
    scores["unseen_labels"] = unseen_labels(preds.rows["label"], ckpt.classes)
    matrix = mm.label_cooccurrence(probs, target, threshold)
    return {"headline": _headline(probs, target, threshold, n_boot, seed), "metrics": scores,
            "per_class": per_class,
            "confusion": {"classes": list(ckpt.classes), "matrix": matrix.tolist(),
                          "kind": "label co-occurrence: records with true label (row) and predicted label (column)"},
            "information": mm.information_summary(probs, target),
            "calibration": {"temperature": ckpt.temperature, "n_bins": n_bins, "shared_by_all_labels": True,
                            "before": mm.to_json_value(_calibration(raw, target, n_bins)),
                            "after": mm.to_json_value(_calibration(probs, target, n_bins)),
                            "bins_after": mm.label_reliability_bins(probs, target, n_bins).to_dict(),
                            "bins_before": mm.label_reliability_bins(raw, target, n_bins).to_dict()}}


def multilabel_prediction_table(ckpt: Checkpoint, preds, threshold: float = THRESHOLD) -> pd.DataFrame:
    """Per record: true and predicted label sets, their sizes, whether they match, and every label's probability.

    ``label`` is the record's label set as prepared (including labels unseen in training); ``exact`` compares
    the predicted set with the true labels the model knows.
    """
    probs = sigmoid(preds.logits, ckpt.temperature)
    target = np.asarray(preds.target).astype(bool)
    table = pd.DataFrame({"id": preds.rows["id"].to_numpy(), "label": preds.rows["label"].to_numpy(),
                          "predicted": [predicted_labels(p, ckpt.classes, threshold) for p in probs],
                          "n_true": target.sum(axis=1), "n_predicted": (probs >= threshold).sum(axis=1),
                          "exact": ((probs >= threshold) == target).all(axis=1)})
    for k, name in enumerate(ckpt.classes):
        table[f"p_{name}"] = probs[:, k].round(4)
    return table


def score_powerset_baseline(result, truth: list[str], classes: list[str], threshold: float = THRESHOLD) -> dict:
    """Scores of a single-label baseline run on label *sets* as classes (the label-powerset reduction).

    A baseline (:func:`seqxent.baseline.peers.run_method`) trained on the training label strings predicts one label
    set per query, or probabilities over the label sets seen in training; a label's probability is then the
    summed probability of the sets that contain it. Skipped queries predict the empty set. Scores use the
    labels ``classes`` (the model's), so they line up with the model's own ``metrics`` block.

    Example:
        >>> from types import SimpleNamespace
        >>> result = SimpleNamespace(classes=["a", "a;b"], probs=np.array([[0.25, 0.75]]), labels=["a;b"],
        ...                          seconds=0.1)
        >>> out = score_powerset_baseline(result, ["a"], ["a", "b"])
        >>> out["hamming_loss"], out["brier"]
        (0.5, 0.28125)
    """
    index = {c: i for i, c in enumerate(classes)}
    target = np.array([multi_hot(label, index) for label in truth]).reshape(len(truth), len(classes))
    if result.probs is not None:
        membership = np.array([multi_hot(label, index) for label in result.classes])  # (sets, K)
        probs = np.clip(result.probs @ membership, 0.0, 1.0)  # (N, sets) @ (sets, K) -> (N, K)
    else:
        probs = np.array([multi_hot(label or "", index) for label in result.labels]).reshape(target.shape)
    funcs = {**HEADLINE, "jaccard": mm.jaccard}
    out = {"n_items": int(target.size), **{name: f(probs, target, threshold) for name, f in funcs.items()},
           "n_unassigned": sum(label is None for label in result.labels), "seconds": result.seconds}
    if result.probs is not None:
        out.update(log_loss_bits=mm.binary_log_loss(probs, target, 2), brier=mm.brier_score(probs, target),
                   macro_average_precision=mm.multilabel_metrics(probs, target, classes)["macro_average_precision"])
    return mm.to_json_value(out)


def plot_label_cooccurrence(matrix, support, classes: list[str], path: Path) -> Path:
    """Heat map of the label co-occurrence matrix, each row divided by the records carrying that true label.

    Cell (i, j) is the fraction of the records with true label i that were predicted to carry label j: the
    diagonal is each label's recall, the rest shows which labels are predicted alongside. The PNG carries no
    date or version, so equal input gives equal bytes.
    """
    matrix, support = np.asarray(matrix, dtype=float), np.asarray(support, dtype=float)
    values = np.divide(matrix, support[:, None], out=np.zeros_like(matrix), where=support[:, None] > 0)
    k = len(classes)
    side = min(max(4.0, 0.28 * k + 2.5), 16.0)
    fig = Figure(figsize=(side + 1.0, side), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the records with the true label")
    names = [f"{name} ({int(n)})" for name, n in zip(classes, support, strict=True)]
    ax.set_yticks(range(k), names, fontsize=8 if k <= 20 else 6)
    ax.set_xticks(range(k), list(classes), rotation=90, fontsize=8 if k <= 20 else 6)
    ax.set(xlabel="Predicted label", ylabel="True label (records)",
           title="Label co-occurrence (diagonal: recall)")
    if k <= 15:
        for (i, j), value in np.ndenumerate(values):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if value > 0.6 else "black")
    buffer = io.BytesIO()
    with matplotlib.rc_context({"savefig.dpi": 120, "font.size": 9}):
        fig.savefig(buffer, format="png", metadata={"Software": None})
    with atomic_write(path, "wb") as handle:
        handle.write(buffer.getvalue())
    return Path(path)


def write_multilabel_plots(result: dict, history: pd.DataFrame | None, plots_dir: Path) -> list[Path]:
    """Label co-occurrence (``confusion.png``), label-wise reliability before/after scaling, learning curves."""
    plots_dir.mkdir(parents=True, exist_ok=True)
    support = [result["per_class"][name]["support"] for name in result["confusion"]["classes"]]
    paths = [plot_label_cooccurrence(result["confusion"]["matrix"], support, result["confusion"]["classes"],
                                     plots_dir / "confusion.png")]
    calibration = result["calibration"]
    for key, name in (("after", "reliability.png"), ("before", "reliability_before_scaling.png")):
        bins = {k: [np.nan if v is None else v for v in values] for k, values in calibration[f"bins_{key}"].items()}
        paths.append(plots.plot_reliability(bins["bin_confidence"], bins["bin_accuracy"], bins["bin_count"],
                                            plots_dir / name, ece=calibration[key]["ece"]))
    if history is not None:
        paths.append(plots.plot_learning_curves(history, plots_dir / "learning_curves.png"))
    return paths
