"""Evaluation of a model on one split: run the model, let its task compute the metric blocks, draw the plots.

The metric blocks (headline metrics with bootstrap intervals, calibration before and after temperature
scaling, information in bits, per-class scores) differ by task and live in :mod:`seqxent.tasks`; this module
runs the model over a split on the serving path (:func:`seqxent.model.engine.predict_logits`) and draws
whatever blocks the result holds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from seqxent.calibrate.reference import KmerReference
from seqxent.data.dataset import PreparedData
from seqxent.evaluate import plots
from seqxent.model.checkpoint import Checkpoint
from seqxent.model.engine import predict_logits
from seqxent.tasks import SplitPredictions, get_task


def split_predictions(ckpt: Checkpoint, data: PreparedData, split: str, batch_size: int = 64,
                      device="cpu") -> SplitPredictions:
    """Run the model over a split; residue outputs are flattened over residues."""
    task = get_task(ckpt.task)
    examples = task.examples(data, split, ckpt.classes)
    logits = predict_logits(ckpt.model, examples, ckpt.alphabet, batch_size, device=device)
    preds = task.split_predictions(data.split(split), logits, examples)
    reference = KmerReference.from_meta(ckpt.meta) if task.nearest_reference else None
    if reference is not None:  # the closest training sequence of every record
        preds.nearest = reference.nearest(preds.rows["sequence"].tolist(), task.reference_top(ckpt))
    return preds


def write_plots(result: dict, history: pd.DataFrame | None, plots_dir: Path) -> list[Path]:
    """Confusion matrix (or label co-occurrence), reliability diagrams before and after scaling, learning curves.

    Every plot is drawn from the blocks of ``result`` (``metrics.json``), whatever the task; lineage results add
    the over- vs misclassification curve by cut-off and a reliability diagram per rank.
    """
    plots_dir.mkdir(parents=True, exist_ok=True)
    confusion, calibration = result["confusion"], result["calibration"]
    paths = []
    if confusion.get("kind", "").startswith("label co-occurrence"):
        support = [result["per_class"][name]["support"] for name in confusion["classes"]]
        paths.append(plots.plot_label_cooccurrence(confusion["matrix"], support, confusion["classes"],
                                                   plots_dir / "confusion.png"))
    elif "matrix" in confusion:  # lineage models have none: thousands of taxa
        paths.append(plots.plot_confusion(confusion["matrix"], confusion["classes"], plots_dir / "confusion.png"))
    for key, name in (("after", "reliability.png"), ("before", "reliability_before_scaling.png")):
        if not calibration.get(f"bins_{key}"):  # e.g. a metrics.json written before the diagram at T = 1 existed
            continue
        bins = {k: [np.nan if v is None else v for v in values] for k, values in calibration[f"bins_{key}"].items()}
        paths.append(plots.plot_reliability(bins["bin_confidence"], bins["bin_accuracy"], bins["bin_count"],
                                            plots_dir / name, ece=calibration[key]["ece"]))
    if result.get("rates_by_cutoff"):  # lineage models: IDTAXA's over- vs misclassification by cut-off
        paths.append(plots.plot_over_vs_misclassification(result["rates_by_cutoff"],
                                                          plots_dir / "over_vs_misclassification.png",
                                                          cutoff=result.get("cutoff"),
                                                          at_cutoff=result.get("rates_at_cutoff")))
    if calibration.get("per_rank"):  # lineage models: a reliability diagram per rank
        paths.append(plots.plot_rank_reliability(calibration["per_rank"], plots_dir / "reliability_per_rank.png"))
    if history is not None:
        paths.append(plots.plot_learning_curves(history, plots_dir / "learning_curves.png"))
    return paths
