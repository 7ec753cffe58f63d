"""Deterministic matplotlib figures for evaluation results.

Every function draws on a fresh :class:`~matplotlib.figure.Figure` attached to the
Agg canvas (no pyplot global state), strips the metadata that would otherwise embed
the matplotlib version or a date, writes the file atomically (temporary file in the
same directory, then :func:`os.replace`) and returns the output path. Calling a
function twice with the same input therefore gives byte-identical files.

The output format follows the file suffix (``.png``, ``.svg`` or ``.pdf``).
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from seqxent.data.io import atomic_write

# Fixed settings so that figures do not depend on call order or on the user's defaults
# for the few settings that influence bytes (hash salt of SVG ids, resolution).
_RC = {"svg.hashsalt": "seqxent", "savefig.dpi": 120, "figure.dpi": 120, "font.size": 9}

# Metadata entries set to None are left out of the file; this removes dates and versions.
_METADATA = {
    "png": {"Software": None},
    "svg": {"Date": None, "Creator": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
}

# Cell values are written into confusion matrices up to this many classes.
_ANNOTATE_MAX = 15


def _plain(label: object, max_chars: int = 40) -> str:
    """Return a label that matplotlib prints literally (no mathtext), shortened if long."""
    text = str(label)
    if len(text) > max_chars:
        text = text[: max_chars - 1] + "…"
    return text.replace("$", r"\$")


def _new_figure(width: float, height: float) -> Figure:
    """Return a Figure on the Agg canvas."""
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    """Save ``fig`` deterministically and atomically to ``path``; return the path."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    if fmt not in _METADATA:
        raise ValueError(f"Expected argument `path` to end in .png, .svg or .pdf, but got {str(path)!r}")
    buffer = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buffer, format=fmt, metadata=_METADATA[fmt])
    with atomic_write(path, "wb") as handle:
        handle.write(buffer.getvalue())
    return path


def _check_max_classes(max_classes: int) -> None:
    if not isinstance(max_classes, int) or max_classes < 1:
        raise ValueError(
            f"Expected argument `max_classes` to be an integer larger than 0, but got {max_classes!r}"
        )


def _select_confusion(
    matrix: np.ndarray, classes: Sequence[str], normalize: bool, max_classes: int
) -> tuple[np.ndarray, list[str], str]:
    """Normalize rows and keep the ``max_classes`` most frequent true classes."""
    support = matrix.sum(axis=1)
    values = matrix
    if normalize:
        # Row-normalized over all predictions, also those to classes that are not shown.
        values = np.divide(matrix, support[:, None], out=np.zeros_like(matrix), where=support[:, None] > 0)
    title = "Confusion matrix" + (" (row-normalized)" if normalize else " (counts)")
    keep = np.arange(len(classes))
    if len(classes) > max_classes:
        keep = np.sort(np.argsort(-support, kind="stable")[:max_classes])
        title += f"\n{max_classes} most frequent of {len(classes)} classes shown"
    return values[np.ix_(keep, keep)], [str(classes[i]) for i in keep], title


def plot_confusion(
    matrix: Sequence[Sequence[float]] | np.ndarray,
    classes: Sequence[str],
    path: str | os.PathLike,
    normalize: bool = True,
    max_classes: int = 40,
) -> Path:
    """Draw a confusion matrix heat map.

    Args:
        matrix: Counts of shape (C, C); rows are true classes, columns predicted classes.
        classes: The C class names, in matrix order.
        path: Output file (.png, .svg or .pdf).
        normalize: Divide each row by its total, so cells are fractions of the true class.
        max_classes: With more classes, only the ``max_classes`` most frequent true classes
            (by row total) are shown, and the title says so.

    Returns:
        The output path.

    Raises:
        ValueError: If ``matrix`` is not square, does not match ``classes`` or has negative counts.
    """
    _check_max_classes(max_classes)
    matrix = np.asarray(matrix, dtype=float)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] != len(classes):
        raise ValueError(
            f"Expected argument `matrix` to be square of size len(classes)={len(classes)}, "
            f"but got shape {matrix.shape}"
        )
    if matrix.size == 0 or np.any(matrix < 0) or not np.all(np.isfinite(matrix)):
        raise ValueError("Expected argument `matrix` to hold finite counts >= 0 for at least one class")
    values, names, title = _select_confusion(matrix, classes, normalize, max_classes)
    k = len(names)
    side = min(max(4.0, 0.28 * k + 2.5), 16.0)
    fig = _new_figure(side + 1.0, side)
    ax = fig.add_subplot()
    vmax = 1.0 if normalize else max(float(values.max()), 1.0)
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of true class" if normalize else "count")
    fontsize = 8 if k <= 20 else max(5, 8 - (k - 20) // 10)
    labels = [_plain(name, 30) for name in names]
    ax.set_xticks(range(k), labels, rotation=90, fontsize=fontsize)
    ax.set_yticks(range(k), labels, fontsize=fontsize)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    ax.set_title(title)
    if k <= _ANNOTATE_MAX:
        for (i, j), value in np.ndenumerate(values):
            text = f"{value:.2f}" if normalize else f"{value:.0f}"
            color = "white" if value > 0.6 * vmax else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=7, color=color)
    return _save(fig, path)


def plot_learning_curves(history: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Draw training and validation curves per epoch.

    Args:
        history: One row per epoch with column ``epoch`` and any of ``train_loss``,
            ``train_ce``, ``train_jsd``, ``valid_ce`` (nats) and ``valid_accuracy``; an ensemble's history
            adds ``member`` (one curve per member).
        path: Output file (.png, .svg or .pdf).

    Returns:
        The output path.

    Raises:
        ValueError: If ``history`` has no ``epoch`` column or no rows.
    """
    if "epoch" not in history.columns or len(history) == 0:
        raise ValueError(
            "Expected argument `history` to have an `epoch` column and at least one row, "
            f"but got columns {list(history.columns)} and {len(history)} rows"
        )
    fig = _new_figure(9.0, 3.6)
    ax_loss, ax_acc = fig.subplots(1, 2)
    styles = {"train_loss": "-", "train_ce": "--", "train_jsd": ":", "valid_ce": "-"}
    present = [column for column in styles if column in history.columns]
    # An ensemble's history has one block of epochs per member: one curve per member, one colour per column.
    parts = [part for _, part in history.groupby("member")] if "member" in history.columns else [history]
    for n, part in enumerate(parts):
        epoch = part["epoch"].to_numpy()
        for k, column in enumerate(present):
            ax_loss.plot(epoch, part[column].to_numpy(dtype=float), styles[column], marker=".", color=f"C{k}",
                         label=column if n == 0 else None)
        if "valid_accuracy" in part.columns:
            ax_acc.plot(epoch, part["valid_accuracy"].to_numpy(dtype=float), "-", marker=".", color="C2")
    if len(parts) == 1 and "valid_ce" in history.columns and history["valid_ce"].notna().any():
        epoch = history["epoch"].to_numpy()
        best = epoch[int(np.nanargmin(history["valid_ce"].to_numpy(dtype=float)))]
        for ax in (ax_loss, ax_acc):
            ax.axvline(best, color="grey", linestyle=":", linewidth=1, label=f"best epoch {best}")
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    title = "Loss" if len(parts) == 1 else f"Loss ({len(parts)} members)"
    ax_loss.set(xlabel="Epoch", ylabel="Loss (nats)", title=title)
    ax_acc.set(xlabel="Epoch", ylabel="Accuracy", title="Validation accuracy", ylim=(0.0, 1.02))
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    return _save(fig, path)


def plot_reliability(
    bin_confidence: Sequence[float],
    bin_accuracy: Sequence[float],
    bin_count: Sequence[int],
    path: str | os.PathLike,
    ece: float | None = None,
) -> Path:
    """Draw a reliability diagram with the diagonal and a histogram of bin counts.

    Bins are taken to split [0, 1] into ``len(bin_count)`` intervals of equal width.
    Empty bins (count 0 or NaN values) are left blank.

    Args:
        bin_confidence: Mean confidence per bin, shape (n_bins,).
        bin_accuracy: Accuracy per bin, shape (n_bins,).
        bin_count: Number of predictions per bin, shape (n_bins,).
        path: Output file (.png, .svg or .pdf).
        ece: Expected calibration error, shown in the title when given.

    Returns:
        The output path.

    Raises:
        ValueError: If the three arrays are empty or differ in length.
    """
    confidence = np.asarray(bin_confidence, dtype=float)
    accuracy = np.asarray(bin_accuracy, dtype=float)
    count = np.asarray(bin_count, dtype=float)
    if confidence.ndim != 1 or len(confidence) == 0 or not len(confidence) == len(accuracy) == len(count):
        raise ValueError(
            "Expected arguments `bin_confidence`, `bin_accuracy` and `bin_count` to be 1-D of the same "
            f"length > 0, but got lengths {len(confidence)}, {len(accuracy)} and {len(count)}"
        )
    n_bins = len(count)
    width = 1.0 / n_bins
    centers = (np.arange(n_bins) + 0.5) * width
    shown = (count > 0) & np.isfinite(confidence) & np.isfinite(accuracy)
    fig = _new_figure(4.8, 5.4)
    ax_rel, ax_hist = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    ax_rel.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfect calibration")
    ax_rel.bar(centers[shown], accuracy[shown], width=width, color="C0", alpha=0.35, edgecolor="C0")
    ax_rel.plot(confidence[shown], accuracy[shown], "o-", color="C0", markersize=4, label="model")
    title = "Reliability diagram" + (f" (ECE = {ece:.4f})" if ece is not None else "")
    ax_rel.set(ylabel="Accuracy", title=title, xlim=(0, 1), ylim=(0, 1.02))
    ax_rel.grid(alpha=0.3)
    ax_rel.legend(loc="upper left", fontsize=7)
    ax_hist.bar(centers, np.nan_to_num(count), width=width, color="C1", edgecolor="white")
    ax_hist.set(xlabel="Confidence", ylabel="Count")
    ax_hist.grid(alpha=0.3)
    return _save(fig, path)


def plot_label_cooccurrence(matrix, support, classes: list[str], path: str | os.PathLike) -> Path:
    """Heat map of the label co-occurrence matrix of a multi-label model, each row divided by its support.

    Cell (i, j) is the fraction of the records with true label i that were predicted to carry label j: the
    diagonal is each label's recall, the rest shows which labels are predicted alongside.
    """
    matrix, support = np.asarray(matrix, dtype=float), np.asarray(support, dtype=float)
    values = np.divide(matrix, support[:, None], out=np.zeros_like(matrix), where=support[:, None] > 0)
    k = len(classes)
    side = min(max(4.0, 0.28 * k + 2.5), 16.0)
    fig = _new_figure(side + 1.0, side)
    ax = fig.add_subplot()
    image = ax.imshow(values, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the records with the true label")
    names = [f"{name} ({int(n)})" for name, n in zip(classes, support, strict=True)]
    ax.set_yticks(range(k), names, fontsize=8 if k <= 20 else 6)
    ax.set_xticks(range(k), list(classes), rotation=90, fontsize=8 if k <= 20 else 6)
    ax.set(xlabel="Predicted label", ylabel="True label (records)", title="Label co-occurrence (diagonal: recall)")
    if k <= _ANNOTATE_MAX:
        for (i, j), value in np.ndenumerate(values):
            ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if value > 0.6 else "black")
    return _save(fig, path)


def _curve_points(block: Mapping[str, Sequence[float | None]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(cut-off, overclassification, misclassification) of the cut-offs where both rates are defined."""
    rows = [(c, over, mis) for c, over, mis in zip(block["cutoff"], block["overclassification_rate"],
                                                   block["misclassification_rate"], strict=True)
            if over is not None and mis is not None]
    points = np.asarray(rows, dtype=float).reshape(-1, 3)  # (T', 3): cut-off, over, mis
    return points[:, 0], points[:, 1], points[:, 2]


def _chosen_point(cuts: np.ndarray, over: np.ndarray, mis: np.ndarray, cutoff: float | None,
                  measured: Mapping[str, float | None] | None) -> tuple[float, float] | None:
    """(over, mis) at the chosen cut-off: as measured there, else the curve's point at that cut-off, else None."""
    if cutoff is None:
        return None
    if isinstance(measured, Mapping):
        point = measured.get("overclassification_rate"), measured.get("misclassification_rate")
        if None not in point:
            return float(point[0]), float(point[1])
    chosen = np.flatnonzero(np.isclose(cuts, cutoff))
    return (float(over[chosen[0]]), float(mis[chosen[0]])) if len(chosen) else None


def plot_over_vs_misclassification(
    rates_by_cutoff: Mapping[str, Mapping[str, Sequence[float | None]]],
    path: str | os.PathLike,
    cutoff: float | None = None,
    at_cutoff: Mapping[str, Mapping[str, float | None]] | None = None,
) -> Path:
    """Draw overclassification against misclassification rate over the confidence cut-offs, one line per rank.

    The figure of IDTAXA (Murali et al. 2018): raising the cut-off moves along each rank's line towards the
    origin (fewer errors, more underclassification).
    Cut-offs where a rate is undefined (None: no novel or no known record at that rank) are left out, and so
    are ranks without any point.

    Args:
        rates_by_cutoff: ``{rank: {"cutoff": [T], "overclassification_rate": [T], "misclassification_rate": [T]}}``
            (``rates_by_cutoff`` of a lineage ``metrics.json``).
        path: Output file (.png, .svg or .pdf).
        cutoff: The chosen cut-off, marked on every line (circle) where it is one of the cut-offs.
        at_cutoff: ``{rank: {"overclassification_rate", "misclassification_rate"}}`` measured at ``cutoff``
            (``rates_at_cutoff``); where given, a rank's circle is drawn there, also for a cut-off between two
            of the curve's.

    Returns:
        The output path.

    Raises:
        ValueError: If ``rates_by_cutoff`` is empty or a rank's lists are missing or differ in length.
    """
    if not isinstance(rates_by_cutoff, Mapping) or not rates_by_cutoff:
        raise ValueError(f"Expected argument `rates_by_cutoff` to map ranks to curves, but got {rates_by_cutoff!r}")
    fig = _new_figure(5.6, 4.6)
    ax = fig.add_subplot()
    drawn = 0
    for k, (rank, block) in enumerate(rates_by_cutoff.items()):
        try:
            cuts, over, mis = _curve_points(block)
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"Expected `rates_by_cutoff[{rank!r}]` to hold lists `cutoff`, "
                             f"`overclassification_rate` and `misclassification_rate` of one length") from error
        if len(cuts) == 0:
            continue
        drawn += 1
        ax.plot(over, mis, "-", marker=".", markersize=4, color=f"C{k % 10}", label=_plain(rank))
        point = _chosen_point(cuts, over, mis, cutoff, (at_cutoff or {}).get(rank))
        if point is not None:
            ax.plot(*point, "o", markersize=8, markerfacecolor="none", color=f"C{k % 10}")
    title = "Over- vs misclassification by cut-off"
    if drawn == 0:
        ax.text(0.5, 0.5, "no rank with records of both known and novel taxa\n(overclassification undefined)",
                ha="center", va="center", transform=ax.transAxes, color="grey")
        ax.set(xlim=(0.0, 1.0), ylim=(0.0, 1.0))
    elif cutoff is not None:
        title += f"\n(circles: chosen cut-off {cutoff:.2f})"
        ax.plot([], [], "o", markerfacecolor="none", color="grey", label=f"cut-off {cutoff:.2f}")
    ax.set(xlabel="Overclassification rate", ylabel="Misclassification rate", title=title)
    ax.set_xlim(left=0.0)
    ax.set_ylim(bottom=0.0)
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    return _save(fig, path)


def _bin_arrays(bins: Mapping[str, Sequence[float | None]] | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(confidence, accuracy, count) of a ``bins_after`` block, None as NaN; empty arrays without one."""
    if not bins:
        return np.empty(0), np.empty(0), np.empty(0)
    confidence, accuracy, count = (np.asarray([np.nan if v is None else v for v in bins[key]], dtype=float)
                                   for key in ("bin_confidence", "bin_accuracy", "bin_count"))
    if not len(confidence) == len(accuracy) == len(count):
        raise ValueError("Expected `bin_confidence`, `bin_accuracy` and `bin_count` of the same length, but got "
                         f"{len(confidence)}, {len(accuracy)} and {len(count)}")
    return confidence, accuracy, count


def plot_rank_reliability(per_rank_calibration: Mapping[str, Mapping], path: str | os.PathLike) -> Path:
    """Draw one reliability diagram per rank (after scaling), as small multiples with the ECE in each title.

    The diagram at temperature 1 (``bins_before``), where given, is drawn as a faint dashed line. Bins are
    taken to split [0, 1] into equal intervals; empty bins are left blank.

    Args:
        per_rank_calibration: ``{rank: {"ece", "bins_after", "bins_before"}}`` (``calibration.per_rank`` of a
            lineage ``metrics.json``); each ``bins_*`` holds ``bin_confidence``, ``bin_accuracy`` and
            ``bin_count`` lists (None for an empty bin).
        path: Output file (.png, .svg or .pdf).

    Returns:
        The output path.

    Raises:
        ValueError: If ``per_rank_calibration`` is empty or a rank's bins differ in length.
    """
    if not isinstance(per_rank_calibration, Mapping) or not per_rank_calibration:
        raise ValueError("Expected argument `per_rank_calibration` to map ranks to calibration blocks, "
                         f"but got {per_rank_calibration!r}")
    n = len(per_rank_calibration)
    n_cols = min(n, 3)
    n_rows = -(-n // n_cols)
    fig = _new_figure(3.0 * n_cols + 0.4, 3.0 * n_rows + 0.4)
    axes = np.asarray(fig.subplots(n_rows, n_cols, squeeze=False, sharex=True, sharey=True)).ravel()
    for ax, (rank, block) in zip(axes, per_rank_calibration.items(), strict=False):
        confidence, accuracy, count = _bin_arrays(block.get("bins_after"))
        ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
        if len(count):
            width = 1.0 / len(count)
            centers = (np.arange(len(count)) + 0.5) * width
            shown = (count > 0) & np.isfinite(confidence) & np.isfinite(accuracy)
            ax.bar(centers[shown], accuracy[shown], width=width, color="C0", alpha=0.35, edgecolor="C0")
            ax.plot(confidence[shown], accuracy[shown], "o-", color="C0", markersize=3, label="after scaling")
        before_conf, before_acc, before_count = _bin_arrays(block.get("bins_before"))
        shown = (before_count > 0) & np.isfinite(before_conf) & np.isfinite(before_acc)
        if shown.any():
            ax.plot(before_conf[shown], before_acc[shown], "--", color="C1", linewidth=1, alpha=0.7,
                    label="before scaling")
        ece = block.get("ece")
        ax.set_title(_plain(rank) + (f" (ECE = {ece:.4f})" if ece is not None else ""), fontsize=9)
        ax.set(xlim=(0, 1), ylim=(0, 1.02))
        ax.grid(alpha=0.3)
    for ax in axes[n:]:
        ax.set_axis_off()
    for ax in axes[(n_rows - 1) * n_cols:]:
        ax.set_xlabel("Confidence")
    for ax in axes[::n_cols]:
        ax.set_ylabel("Accuracy")
    if axes[0].get_legend_handles_labels()[0]:
        axes[0].legend(loc="upper left", fontsize=7)
    fig.suptitle("Reliability per rank")
    return _save(fig, path)
