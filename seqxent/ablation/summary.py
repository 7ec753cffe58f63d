"""Ablation of the cross-entropy family: every loss variant × several seeds, summarised as mean ± sd.

The workflow (``workflow/rules/ablation.smk``) trains, calibrates and evaluates each configured variant with
each seed into ``results/ablation/<variant>/seed<N>/``; :func:`read_run` reads one run's ``metrics.json``
(and times its model), :func:`summarise` reduces the runs to one row per variant (mean and sample standard
deviation over seeds), and :func:`ablation_document` builds ``ablation.json``, which ``seqxent report``
renders like a data set's ``metrics.json``. Accuracy is per item (Q3 for 3-state residue tasks); NLL and
ECE are given at T = 1 ("before") and after temperature scaling on the validation split ("after"); the
minority recall is the mean recall of the rarest quarter of the classes (by training count).
"""

from __future__ import annotations

import io
import json
import re
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from seqxent.data.batching import Example
from seqxent.data.io import atomic_write
from seqxent.errors import InputError
from seqxent.model.checkpoint import Checkpoint, load_checkpoint
from seqxent.model.engine import predict_logits

# Summarised quantities: key -> (label in the report, path in metrics.json, format of mean and sd).
METRICS = {
    "accuracy": ("Accuracy", ("metrics", "accuracy"), ".4f"),
    "balanced_accuracy": ("Balanced accuracy", ("metrics", "balanced_accuracy"), ".4f"),
    "minority_recall": ("Minority recall", ("metrics", "minority_recall"), ".4f"),
    "macro_f1": ("Macro F1", ("metrics", "macro_f1"), ".4f"),
    "sov99": ("SOV'99", ("metrics", "sov99"), ".2f"),
    "helix_length": ("Mean H segment (pred)", ("metrics", "segments", "H", "pred", "mean_length"), ".2f"),
    "strand_length": ("Mean E segment (pred)", ("metrics", "segments", "E", "pred", "mean_length"), ".2f"),
    "helix_short": ("H segments of 1-2 (pred)", ("metrics", "segments", "H", "pred", "short_fraction"), ".3f"),
    "strand_short": ("E segments of 1-2 (pred)", ("metrics", "segments", "E", "pred", "short_fraction"), ".3f"),
    "helix_length_dssp": ("Mean H segment (DSSP)", ("metrics", "segments", "H", "true", "mean_length"), ".2f"),
    "strand_length_dssp": ("Mean E segment (DSSP)", ("metrics", "segments", "E", "true", "mean_length"), ".2f"),
    "helix_short_dssp": ("H segments of 1-2 (DSSP)", ("metrics", "segments", "H", "true", "short_fraction"), ".3f"),
    "strand_short_dssp": ("E segments of 1-2 (DSSP)", ("metrics", "segments", "E", "true", "short_fraction"),
                          ".3f"),
    "nll_before": ("NLL before T (nats)", ("calibration", "before", "nll"), ".4f"),
    "nll_after": ("NLL after T (nats)", ("calibration", "after", "nll"), ".4f"),
    "ece_before": ("ECE before T", ("calibration", "before", "ece"), ".4f"),
    "ece_after": ("ECE after T", ("calibration", "after", "ece"), ".4f"),
    "temperature": ("Temperature T", ("calibration", "temperature"), ".3f"),
    "parameters": ("Parameters", ("training", "parameters"), ".0f"),
    "epochs_run": ("Epochs", ("training", "epochs_run"), ".1f"),
    "train_seconds": ("Training (s)", None, ".1f"),
    "records_per_second": ("Records per second", None, ".0f"),
}
_RUN_PATH = re.compile(r"^seed(\d+)$")


def parse_run_path(path: Path | str) -> tuple[str, int]:
    """Variant and seed of a run from its path ``.../<variant>/seed<N>/metrics.json``.

    Raises:
        InputError: when the path does not have that shape.

    Example:
        >>> parse_run_path("results/ablation/focal/seed3/metrics.json")
        ('focal', 3)
    """
    path = Path(path)
    match = _RUN_PATH.match(path.parent.name)
    if not match or not path.parent.parent.name:
        raise InputError(f"Expected argument `metrics` to be a path .../<variant>/seed<N>/metrics.json, "
                         f"but got {str(path)!r}")
    return path.parent.parent.name, int(match.group(1))


def _lookup(document: dict, keys: Sequence[str]):
    for key in keys:
        if not isinstance(document, dict) or key not in document:
            return None
        document = document[key]
    return document


def records_per_second(ckpt: Checkpoint, examples: list[Example], repeats: int = 5) -> float:
    """Prediction throughput of a model on one CPU thread: records per second, median of ``repeats``."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        predict_logits(ckpt.model, examples[:8], ckpt.alphabet)  # warm-up
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            predict_logits(ckpt.model, examples, ckpt.alphabet)
            seconds.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return len(examples) / statistics.median(seconds)


def read_run(metrics_path: Path | str, examples: list[Example] | None = None) -> dict:
    """One run's numbers: variant, seed, every :data:`METRICS` entry and the training settings.

    The training time comes from ``model.pt`` next to ``metrics.json`` (when present); with ``examples``,
    that model is also timed on them (records per second).
    """
    metrics_path = Path(metrics_path)
    variant, seed = parse_run_path(metrics_path)
    document = json.loads(metrics_path.read_text())
    run = {"variant": variant, "seed": seed}
    for key, (_, keys, _) in METRICS.items():
        run[key] = _lookup(document, keys) if keys else None
    model = metrics_path.parent / "model.pt"
    if model.is_file():
        ckpt = load_checkpoint(model)
        run["train_seconds"] = ckpt.meta.get("seconds")
        if examples:
            run["records_per_second"] = records_per_second(ckpt, examples)
    run["settings"] = _lookup(document, ("provenance", "config")) or {}
    run["directory"] = str(metrics_path.parent)
    run["dataset"], run["task"] = document.get("dataset"), document.get("task")
    return run


def summarise(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per variant (in order of appearance): ``n_runs``, ``seeds`` and ``<metric>_mean``/``_sd``.

    The sd is the sample standard deviation over seeds (NaN for a single run); missing values are skipped.

    Example:
        >>> runs = pd.DataFrame({"variant": ["ce", "ce"], "seed": [1, 2], "accuracy": [0.9, 0.8]})
        >>> summarise(runs)[["variant", "n_runs", "accuracy_mean", "accuracy_sd"]].round(4).values.tolist()
        [['ce', 2, 0.85, 0.0707]]
    """
    rows = []
    for variant, group in runs.groupby("variant", sort=False):
        row = {"variant": variant, "n_runs": len(group), "seeds": ",".join(str(s) for s in sorted(group["seed"]))}
        for key in METRICS:
            if key in group:
                values = pd.to_numeric(group[key], errors="coerce").dropna()
                row[f"{key}_mean"] = float(values.mean()) if len(values) else np.nan
                row[f"{key}_sd"] = float(values.std(ddof=1)) if len(values) > 1 else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def format_mean_sd(mean: float, sd: float, spec: str = ".4f") -> str:
    """``mean ± sd`` as text; ``–`` for a missing mean and no ``± sd`` for a single run.

    Example:
        >>> format_mean_sd(0.91234, 0.0123), format_mean_sd(0.5, float("nan")), format_mean_sd(float("nan"), 0)
        ('0.9123 ± 0.0123', '0.5000', '–')
    """
    if mean is None or np.isnan(mean):
        return "–"
    return f"{mean:{spec}}" + ("" if sd is None or np.isnan(sd) else f" ± {sd:{spec}}")


def _same_directory(a: str | None, b: str) -> bool:
    return bool(a) and Path(a).parent.resolve() == Path(b).resolve()


def distillation_summary(runs: pd.DataFrame, summary: pd.DataFrame) -> dict:
    """Teacher vs student (vs a student-sized model trained without a teacher): size, speed, accuracy.

    A student is a variant whose settings name a ``teacher``; its teacher variant is the run whose directory
    holds that checkpoint. Variants without a teacher and with the student's parameter count are shown too.

    Returns:
        ``{"teacher (ce)": {...}, "student (distill)": {...}, "same size, no teacher (small)": {...}}``.
    """
    by_variant = summary.set_index("variant")
    out = {}
    students = runs[runs["settings"].map(lambda s: bool(s.get("teacher")))].drop_duplicates("variant")
    for _, student in students.iterrows():
        teacher = next((r["variant"] for _, r in runs.iterrows()
                        if _same_directory(student["settings"]["teacher"], r["directory"])), None)
        same_size = [v for v, r in by_variant.iterrows() if v != student["variant"] and v != teacher
                     and r.get("parameters_mean") == by_variant.loc[student["variant"], "parameters_mean"]]
        roles = [(f"teacher ({teacher})", teacher)] if teacher else []
        roles += [(f"student ({student['variant']})", student["variant"])]
        roles += [(f"same size, no teacher ({v})", v) for v in same_size]
        out.update({name: _describe(by_variant.loc[variant]) for name, variant in roles})
    return out


def _describe(row: pd.Series) -> dict:
    keys = ("parameters", "records_per_second", "accuracy", "nll_after", "ece_after", "train_seconds")
    return {METRICS[k][0]: format_mean_sd(row.get(f"{k}_mean"), row.get(f"{k}_sd"), METRICS[k][2]) for k in keys}


def ablation_document(runs: pd.DataFrame, summary: pd.DataFrame) -> dict:
    """The content of ``ablation.json``: a display table, means, sds, settings, distillation and every run.

    ``summary`` maps a metric label to ``{variant: "mean ± sd"}``; ``mean`` and ``sd`` hold the numbers by
    metric key and variant; ``per_run`` holds every run's value by metric key and ``<variant>/seed<N>``.
    """
    first = runs.iloc[0]
    keys = [k for k in METRICS if f"{k}_mean" in summary and summary[f"{k}_mean"].notna().any()]
    table = {METRICS[k][0]: {row["variant"]: format_mean_sd(row[f"{k}_mean"], row[f"{k}_sd"], METRICS[k][2])
                             for _, row in summary.iterrows()} for k in keys}
    settings = {variant: _varied_settings(group["settings"].iloc[0], runs["settings"].iloc[0], runs)
                for variant, group in runs.groupby("variant", sort=False)}
    return {
        "dataset": f"ablation: {first['dataset']}", "ablation_dataset": first["dataset"], "task": first["task"],
        "split": "test", "n_runs": len(runs), "seeds": sorted({int(s) for s in runs["seed"]}),
        "summary": table,
        "distillation": distillation_summary(runs, summary),
        "settings": settings,
        "mean": {k: {row["variant"]: _json_number(row[f"{k}_mean"]) for _, row in summary.iterrows()} for k in keys},
        "sd": {k: {row["variant"]: _json_number(row[f"{k}_sd"]) for _, row in summary.iterrows()} for k in keys},
        "per_run": {k: {f"{run['variant']}/seed{run['seed']}": _json_number(run[k]) for _, run in runs.iterrows()}
                    for k in METRICS if k in runs},
    }


def _varied_settings(settings: dict, reference: dict, runs: pd.DataFrame) -> dict:
    """Settings of a variant that differ from the first variant's (seed left out; a teacher run by its variant)."""
    varied = {k: v for k, v in settings.items() if k != "seed" and reference.get(k) != v}
    if varied.get("teacher"):
        teacher = [r["variant"] for _, r in runs.iterrows() if _same_directory(varied["teacher"], r["directory"])]
        varied["teacher"] = f"variant {teacher[0]}" if teacher else varied["teacher"]
    return varied or {"(reference)": True}


def _json_number(value):
    if isinstance(value, float | np.floating):
        return None if np.isnan(value) else float(value)
    return value.item() if hasattr(value, "item") else value


def plot_ablation(summary: pd.DataFrame, path: Path | str) -> Path:
    """Bar charts (mean ± sd over seeds) of accuracy-type scores, NLL and ECE before/after temperature."""
    panels = [("Score", ("accuracy", "balanced_accuracy", "minority_recall")),
              ("NLL (nats)", ("nll_before", "nll_after")), ("ECE", ("ece_before", "ece_after"))]
    fig = Figure(figsize=(4.0 * len(panels), 3.2), layout="constrained")
    FigureCanvasAgg(fig)
    positions = np.arange(len(summary))
    for ax, (title, keys) in zip(fig.subplots(1, len(panels)), panels, strict=True):
        width = 0.8 / len(keys)
        for i, key in enumerate(keys):
            ax.bar(positions + (i - (len(keys) - 1) / 2) * width, summary[f"{key}_mean"],
                   width, yerr=summary[f"{key}_sd"].fillna(0.0), capsize=2, label=METRICS[key][0])
        ax.set_xticks(positions, summary["variant"], rotation=45, ha="right")
        ax.set_title(title)
        ax.legend(fontsize=7)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, metadata={"Software": None})
    with atomic_write(path, mode="wb") as handle:
        handle.write(buffer.getvalue())
    return Path(path)
