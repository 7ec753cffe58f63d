"""Evaluation of a model on one split: metrics with bootstrap intervals, calibration, predictions, plots.

Sequence tasks are bootstrapped over sequences; residue tasks over chains (residues of one chain are not
independent). Calibration is reported before (T = 1) and after temperature scaling.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqxent.calibrate.temperature import ece_noise_floor
from seqxent.data.dataset import PreparedData
from seqxent.evaluate import plots
from seqxent.metrics import bootstrap, segments
from seqxent.metrics import classification as metrics
from seqxent.model.checkpoint import Checkpoint
from seqxent.model.inference import predict_logits, softmax

HEADLINE = {"sequence": ("accuracy", "balanced_accuracy", "macro_f1", "log_loss_bits"),
            "residue": ("accuracy", "sov99", "log_loss_bits")}


@dataclass
class SplitPredictions:
    """Flattened logits of one split: ``logits`` (N, K), ``target`` (N,) or multi-hot (N, K), ``unit`` (N,) record."""

    rows: pd.DataFrame
    logits: np.ndarray
    target: np.ndarray
    unit: np.ndarray


def split_predictions(ckpt: Checkpoint, data: PreparedData, split: str, batch_size: int = 64,
                      device="cpu") -> SplitPredictions:
    """Run the model over a split; residue outputs are flattened over residues."""
    rows = data.split(split)
    examples = data.examples(split, ckpt.classes)
    logits = predict_logits(ckpt.model, examples, ckpt.alphabet, batch_size, device=device)
    if ckpt.task == "multilabel":  # multi-hot targets (N, K)
        return SplitPredictions(rows, np.stack(logits), np.stack([ex.target for ex in examples]),
                                np.arange(len(examples)))
    if ckpt.task == "sequence":
        target = np.array([ex.target for ex in examples], dtype=np.int64)
        return SplitPredictions(rows, np.stack(logits), target, np.arange(len(examples)))
    target = np.concatenate([ex.target for ex in examples])
    unit = np.repeat(np.arange(len(examples)), [len(ex.target) for ex in examples])
    return SplitPredictions(rows, np.concatenate(logits), target, unit)


def _headline(task: str, probs, target, unit, classes, n_boot: int, seed: int) -> dict:
    if task == "residue":
        return _residue_headline(probs, target, unit, classes, n_boot, seed)
    funcs = {"accuracy": metrics.accuracy, "balanced_accuracy": metrics.balanced_accuracy,
             "macro_f1": metrics.macro_f1, "log_loss_bits": lambda p, t, **kw: metrics.log_loss(p, t, 2, **kw)}
    out = {}
    for name in HEADLINE[task]:
        func = funcs[name]
        fast = lambda p, t, f=func: f(p, t, validate_args=False)  # noqa: E731 (inputs checked once below)
        ci = bootstrap.bootstrap_metric(fast, probs, target, n_boot=n_boot, seed=seed)
        out[name] = {"value": func(probs, target), "ci95": ci}
    return out


def _residue_headline(probs, target, unit, classes, n_boot: int, seed: int) -> dict:
    """Residue metrics bootstrapped over chains, from per-chain sums (fast for millions of residues)."""
    n_chains = int(unit.max()) + 1
    n = np.bincount(unit, minlength=n_chains)
    correct = np.bincount(unit, weights=probs.argmax(axis=1) == target, minlength=n_chains)
    nll = -np.log2(np.clip(probs[np.arange(len(target)), target], 1e-15, 1.0))
    bits = np.bincount(unit, weights=nll, minlength=n_chains)
    sov = metrics.per_chain_scores(probs, target, unit, classes)["sov99"]
    stats = {"accuracy": lambda i: correct[i].sum() / n[i].sum(),
             "sov99": lambda i: float(np.nanmean(sov[i])),
             "log_loss_bits": lambda i: bits[i].sum() / n[i].sum()}
    everything = np.arange(n_chains)
    return {name: {"value": float(stat(everything)),
                   "ci95": bootstrap.bootstrap_ci(stat, n_chains, n_boot, seed=seed)}
            for name, stat in stats.items()}


def evaluate_split(ckpt: Checkpoint, preds: SplitPredictions, n_bins: int = 15, n_boot: int = 1000,
                   seed: int = 1) -> dict:
    """The metric blocks of ``metrics.json`` for one split (see DESIGN of metrics.json in the README)."""
    raw = softmax(preds.logits)
    probs = softmax(preds.logits, ckpt.temperature)
    out = metrics.classification_metrics(probs, preds.target, ckpt.classes, n_bins)
    result = {"headline": _headline(ckpt.task, probs, preds.target, preds.unit, ckpt.classes, n_boot, seed),
              "per_class": out.pop("per_class"), "confusion": out.pop("confusion"),
              "information": out.pop("information"), "metrics": out}
    if ckpt.task == "residue":
        res = metrics.residue_metrics(probs, preds.target, preds.unit, ckpt.classes)
        res.pop("per_class", None)
        result["metrics"].update({k: v for k, v in res.items() if k != "q"})
        result["metrics"]["segments"] = segments.segment_statistics(probs.argmax(axis=1), preds.target, preds.unit,
                                                                    ckpt.classes)
    result["information"] = information_view(result["information"], ckpt.task, ckpt.alphabet.size,
                                             preds.rows["sequence"].str.len().mean())
    result["calibration"] = {
        "temperature": ckpt.temperature, "n_bins": n_bins,
        "before": _calibration(raw, preds.target, n_bins), "after": _calibration(probs, preds.target, n_bins),
        # The ECE a perfectly calibrated model would show on this many items: read "after" against it.
        **{f"ece_noise_floor_{k}": v for k, v in ece_noise_floor(probs, n_bins, seed=seed).items()},
        "bins_before": metrics.reliability_bins(raw, preds.target, n_bins).to_dict(),
        "bins_after": metrics.reliability_bins(probs, preds.target, n_bins).to_dict()}
    return result


def information_view(info: dict, task: str, n_symbols: int, mean_length: float) -> dict:
    """How much the model compresses the labels: cross-entropy next to the label entropy and uniform codes.

    Puts first, per unit (a sequence, or a residue for residue tasks): the model's cross-entropy in bits, the
    entropy of the label distribution (the best input-blind code), the uniform label code (log2 of the
    number of classes), the bits saved over the label entropy and the factor of compression, then the
    uniform code of the input (2 bits per base, log2 20 bits per residue; times the mean length for whole
    sequences). The other keys of :func:`seqxent.metrics.classification.information_summary` follow (``ce_bits``,
    ``uniform_bits`` and ``information_gain_bits`` under the names above).

    Args:
        info: The ``information`` block of :func:`seqxent.metrics.classification.classification_metrics`.
        task: ``"sequence"`` or ``"residue"``.
        n_symbols: Size of the input alphabet (4 for DNA, 20 for protein).
        mean_length: Mean length of the evaluated sequences.

    Returns:
        A new dict; values that cannot be computed (a missing input, a zero denominator) are None.

    Example:
        >>> info = {"ce_bits": 0.5, "label_entropy_bits": 2.0, "uniform_bits": 3.0}
        >>> view = information_view(info, "sequence", 4, 600.0)
        >>> [view[k] for k in ("cross_entropy_bits_per_sequence", "bits_saved_per_sequence", "compression_factor",
        ...                    "uniform_input_bits_per_symbol", "uniform_input_bits_per_sequence")]
        [0.5, 1.5, 4.0, 2.0, 1200.0]
    """
    unit = "residue" if task == "residue" else "sequence"
    ce, entropy = info["ce_bits"], info["label_entropy_bits"]
    symbol_bits = float(np.log2(n_symbols))
    known = ce is not None and entropy is not None  # classification_metrics writes nan as None
    view = {"unit": unit, f"cross_entropy_bits_per_{unit}": ce, "label_entropy_bits": entropy,
            "uniform_label_code_bits": info["uniform_bits"], f"bits_saved_per_{unit}": entropy - ce if known else None,
            "label_entropy_explained": 1.0 - ce / entropy if known and entropy else None,
            "compression_factor": entropy / ce if known and ce else None,
            "uniform_input_bits_per_symbol": symbol_bits}
    if unit == "sequence":
        view.update(mean_length=float(mean_length), uniform_input_bits_per_sequence=float(mean_length) * symbol_bits)
    renamed = {"ce_bits", "uniform_bits", "information_gain_bits"}  # shown above under clearer names
    return {**view, **{key: value for key, value in info.items() if key not in view and key not in renamed}}


def _calibration(probs: np.ndarray, target: np.ndarray, n_bins: int) -> dict:
    return {"ece": metrics.calibration_error(probs, target, n_bins),
            "ece_mass": metrics.calibration_error(probs, target, n_bins, binning="mass"),
            "mce": metrics.calibration_error(probs, target, n_bins, norm="max"),
            "nll": metrics.log_loss(probs, target), "brier": metrics.brier_score(probs, target)}


def prediction_table(ckpt: Checkpoint, preds: SplitPredictions) -> pd.DataFrame:
    """Per-record test predictions: true and predicted label, probability of the prediction, correctness."""
    probs = softmax(preds.logits, ckpt.temperature)
    classes = np.array(ckpt.classes)
    top = probs.argmax(axis=1)
    if ckpt.task == "sequence":
        return pd.DataFrame({"id": preds.rows["id"].to_numpy(), "label": classes[preds.target],
                             "predicted": classes[top], "p_predicted": probs.max(axis=1).round(4),
                             "correct": top == preds.target})
    chains = []
    for i, rid in enumerate(preds.rows["id"]):
        sel = preds.unit == i
        chains.append({"id": rid, "length": int(sel.sum()), "label": "".join(classes[preds.target[sel]]),
                       "predicted": "".join(classes[top[sel]]),
                       "accuracy": round(float((top[sel] == preds.target[sel]).mean()), 4)})
    return pd.DataFrame(chains)


def write_plots(result: dict, history: pd.DataFrame | None, plots_dir: Path) -> list[Path]:
    """Confusion matrix, reliability diagram and (with a history) learning curves, as PNG files."""
    plots_dir.mkdir(parents=True, exist_ok=True)
    bins = result["calibration"]["bins_after"]
    nan = float("nan")
    paths = [plots.plot_confusion(result["confusion"]["matrix"], result["confusion"]["classes"],
                                  plots_dir / "confusion.png"),
             plots.plot_reliability([nan if v is None else v for v in bins["bin_confidence"]],
                                    [nan if v is None else v for v in bins["bin_accuracy"]],
                                    bins["bin_count"], plots_dir / "reliability.png",
                                    ece=result["calibration"]["after"]["ece"])]
    if "bins_before" in result["calibration"]:  # the same diagram at T = 1, before temperature scaling
        before = result["calibration"]["bins_before"]
        paths.append(plots.plot_reliability([nan if v is None else v for v in before["bin_confidence"]],
                                            [nan if v is None else v for v in before["bin_accuracy"]],
                                            before["bin_count"], plots_dir / "reliability_before_scaling.png",
                                            ece=result["calibration"]["before"]["ece"]))
    if history is not None:
        paths.append(plots.plot_learning_curves(history, plots_dir / "learning_curves.png"))
    return paths


def minority_recall(per_class: dict, train_counts, classes: list[str], fraction: float = 0.25) -> dict:
    """Mean recall of the rarest classes: the ``ceil(fraction · K)`` classes with the fewest training items.

    Ties in the training count keep the class order. Classes absent from the evaluated split (recall None)
    are left out of the mean; None when none is left. For a binary task this is the minority class's recall.

    Args:
        per_class: ``{class: {"recall": ..., ...}}`` as in ``metrics.json``.
        train_counts: ``(K,)`` training items per class, in the order of ``classes``.
        classes: class names.
        fraction: share of the classes that counts as the minority (0.25: the rarest quartile).

    Returns:
        ``{"fraction", "classes", "train_counts", "recall"}``.

    Example:
        >>> per_class = {"a": {"recall": 1.0}, "b": {"recall": 0.5}, "c": {"recall": None}, "d": {"recall": 0.8}}
        >>> minority_recall(per_class, [50, 3, 2, 40], ["a", "b", "c", "d"], fraction=0.5)["recall"]
        0.5
    """
    counts = np.asarray(train_counts)
    n_minority = int(np.ceil(fraction * len(classes)))
    rarest = [classes[i] for i in np.argsort(counts, kind="stable")[:n_minority]]
    recalls = [per_class[name]["recall"] for name in rarest if per_class[name].get("recall") is not None]
    return {"fraction": fraction, "classes": rarest, "train_counts": [int(counts[classes.index(c)]) for c in rarest],
            "recall": float(np.mean(recalls)) if recalls else None}
