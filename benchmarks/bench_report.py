"""Tables, report and plot of the prediction benchmark (:mod:`benchmarks.bench`).

Writes ``bench.tsv`` (one row per run), ``bench.json`` (rows plus machine information), ``bench.md`` (a
markdown table and the issue's targets, met or not, with the numbers) and ``bench.png`` (sequences per
second and peak memory against the number of sequences). All files are written atomically.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from seqxent.data.io import atomic_write, write_table

COLUMNS = ["task", "tool", "precision", "n_sequences", "n_residues", "threads", "seconds", "seq_per_s",
           "res_per_s", "steady_seq_per_s", "peak_rss_mb", "cpu_seconds", "setup_seconds", "repeats", "status",
           "note"]
SINTAX_FACTOR = 10  # barcode target: seqxent >= 10x the sequences/s of vsearch --sintax
#: Tasks with a target of their own (lineage models: issue 21's ≥ 2× SINTAX's throughput).
SINTAX_FACTORS = {"16s_taxonomy": 2}
RESIDUE_TARGET = 100_000  # residues/s on 2 cores
RSS_TARGET_MB = 1024  # peak RSS for 1M sequences


def agreement(float32: Path, bfloat16: Path, max_rows: int = 200_000) -> str:
    r"""How close two prediction TSVs are: largest probability difference and share of equal labels.

    Example:
        >>> import tempfile
        >>> a, b = Path(tempfile.mkdtemp()) / "a.tsv", Path(tempfile.mkdtemp()) / "b.tsv"
        >>> _ = a.write_text("id\tlabel\tp_x\tp_y\nq\tx\t0.6\t0.4\nr\ty\t0.1\t0.9\n")
        >>> _ = b.write_text("id\tlabel\tp_x\tp_y\nq\ty\t0.45\t0.55\nr\ty\t0.1\t0.9\n")
        >>> agreement(a, b)
        'max |Δp| 0.1500, same label 50.00 % (2 rows)'
    """
    a, b = (pd.read_csv(p, sep="\t", nrows=max_rows, keep_default_na=False) for p in (float32, bfloat16))
    probs = [c for c in a.columns if c.startswith("p_")]
    diff = np.abs(a[probs].to_numpy(float) - b[probs].to_numpy(float)).max() if len(a) else 0.0
    same = float((a["label"] == b["label"]).mean() * 100) if len(a) else 100.0
    return f"max |Δp| {diff:.4f}, same label {same:.2f} % ({len(a):,} rows)"


def _fmt(value, digits: int = 0) -> str:
    if isinstance(value, float):
        return "–" if math.isnan(value) else f"{value:,.{digits}f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def markdown_table(table: pd.DataFrame) -> str:
    """The runs as a markdown table (numbers rounded for reading; bench.tsv keeps them all)."""
    head = ["task", "tool", "precision", "sequences", "residues", "seconds", "seq/s", "residues/s",
            "steady seq/s", "peak RSS MB", "CPU s", "status"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in table.itertuples():
        cells = [r.task, r.tool, r.precision, _fmt(r.n_sequences), _fmt(r.n_residues), _fmt(r.seconds, 1),
                 _fmt(r.seq_per_s), _fmt(r.res_per_s), _fmt(r.steady_seq_per_s), _fmt(r.peak_rss_mb),
                 _fmt(r.cpu_seconds, 1), r.status]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ok(table: pd.DataFrame, **where) -> pd.DataFrame:
    keep = table["status"] == "ok"
    for key, value in where.items():
        keep &= table[key] == value
    return table[keep]


def target_lines(table: pd.DataFrame) -> list[str]:
    """The issue's three targets, each with the measured numbers and whether it is met."""
    lines = [f"- Barcode prediction ≥ {SINTAX_FACTOR}× the sequences/s of `vsearch --sintax` (same input, "
             "same reference, same threads; "
             + ", ".join(f"{task} ≥ {factor}×" for task, factor in SINTAX_FACTORS.items()) + "):"]
    for sintax in _ok(table, tool="sintax").itertuples():
        for ours in _ok(table, tool="seqxent", task=sintax.task, n_sequences=sintax.n_sequences).itertuples():
            lines.append(_sintax_line(ours, sintax, f"{sintax.n_sequences:,} sequences"))
    # Larger inputs than SINTAX ran on: its rate per query does not depend on the number of queries.
    for task, runs in _ok(table, tool="sintax").groupby("task"):
        sintax = runs.loc[runs["n_sequences"].idxmax()]
        ours = _ok(table, tool="seqxent", task=task)
        for row in ours[ours["n_sequences"] > sintax["n_sequences"]].itertuples():
            where = f"{row.n_sequences:,} sequences vs SINTAX's rate on {sintax['n_sequences']:,} (extrapolated)"
            lines.append(_sintax_line(row, sintax, where))
    lines.append(f"- Residue prediction ≥ {RESIDUE_TARGET:,} residues/s on 2 cores:")
    for ours in _ok(table, tool="seqxent", task="ss3").itertuples():
        steady = ours.steady_seq_per_s * ours.n_residues / ours.n_sequences
        verdict = "met" if ours.res_per_s >= RESIDUE_TARGET else "NOT met"
        lines.append(f"  - {ours.n_sequences:,} proteins ({ours.n_residues:,} residues), {ours.precision}, "
                     f"{ours.threads} threads: {ours.res_per_s:,.0f} residues/s (start-up excluded: "
                     f"{steady:,.0f}) — {verdict}")
    runs = _ok(table, tool="seqxent")
    big = runs[runs["n_sequences"] >= 1_000_000]
    lines.append(f"- 1M sequences with flat memory ≤ {RSS_TARGET_MB:,} MB peak RSS:")
    if big.empty:
        lines.append("  - not run (`make bench-1m`); peak RSS of the runs above: "
                     + ", ".join(f"{r.task} {r.n_sequences:,}: {r.peak_rss_mb:,.0f} MB" for r in runs.itertuples()))
    for r in big.itertuples():
        verdict = "met" if r.peak_rss_mb <= RSS_TARGET_MB else "NOT met"
        lines.append(f"  - {r.task}, {r.n_sequences:,} sequences, {r.precision}: {r.peak_rss_mb:,.0f} MB — {verdict}")
    return lines


def _sintax_line(ours, sintax, where: str) -> str:
    rate = sintax.seq_per_s  # a row tuple or a pandas Series
    ratio, steady = ours.seq_per_s / rate, ours.steady_seq_per_s / rate
    target = SINTAX_FACTORS.get(ours.task, SINTAX_FACTOR)
    verdict = "met" if ratio >= target else "NOT met"
    return (f"  - {ours.task}, {where}, {ours.precision}: {ours.seq_per_s:,.0f} vs {rate:,.0f} seq/s = "
            f"{ratio:.2f}× (start-up excluded: {steady:.2f}×; target {target}×) — {verdict}")


def plot_bench(table: pd.DataFrame, path: Path) -> None:
    """Sequences per second (left) and peak RSS (right) against the number of sequences, log-log."""
    fig = Figure(figsize=(10, 4), dpi=120)
    FigureCanvasAgg(fig)
    speed, memory = fig.subplots(1, 2)
    for (task, tool, precision), runs in _ok(table).groupby(["task", "tool", "precision"], sort=True):
        label = f"{task} {tool}" + ("" if precision == "-" else f" {precision}")
        style = {"marker": "o" if tool == "seqxent" else "s", "linestyle": "-" if tool == "seqxent" else "--"}
        speed.plot(runs["n_sequences"], runs["seq_per_s"], label=label, **style)
        memory.plot(runs["n_sequences"], runs["peak_rss_mb"], label=label, **style)
    for ax, ylabel in ((speed, "sequences / s (wall clock)"), (memory, "peak RSS (MB)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("sequences in the input FASTA")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    memory.axhline(RSS_TARGET_MB, color="grey", linewidth=0.8)
    speed.legend(fontsize=7)
    fig.tight_layout()
    with atomic_write(path, "wb") as handle:
        fig.savefig(handle, format="png", metadata={"Software": None})


def write_report(rows: list[dict], folder: Path, meta: dict) -> str:
    """Write bench.tsv, bench.json, bench.md and bench.png into ``folder``; return the markdown."""
    table = pd.DataFrame(rows, columns=COLUMNS)
    write_table(table, folder / "bench.tsv")
    with atomic_write(folder / "bench.json") as handle:
        json.dump({"machine": meta, "rows": table.to_dict(orient="records")}, handle, indent=2, default=str)
    load = ", ".join(f"{x:.1f}" for x in meta.get("load_average_start", ()))
    load_end = ", ".join(f"{x:.1f}" for x in meta.get("load_average_end", ()))
    versions = ", ".join(v if str(v).startswith(k) else f"{k} {v}" for k, v in meta.get("versions", {}).items())
    text = "\n".join([
        "# seqxent prediction benchmark", "",
        f"Machine: {meta.get('cpu')}, {meta.get('cores')} cores; load average (1, 5, 15 min) at start {load}, "
        f"at end {load_end} "
        f"(other processes compete for the cores: wall-clock rates are lower bounds). {versions}. Each time is the "
        f"fastest of {int(table['repeats'].max()) if len(table) else 1} run(s).", "",
        markdown_table(table), "", "## Targets", "", *target_lines(table), "",
        "Notes:", "",
        *sorted({f"- {r['task']} {r['tool']} {r['precision']}: {r['note']}" for r in rows if r["note"]}),
        f"- Peak RSS is measured with `wait4` on each tool's process; a process measured this way shows "
        f"{meta.get('rss_floor_mb', float('nan')):.0f} MB for `true`.", "",
    ])
    with atomic_write(folder / "bench.md") as handle:
        handle.write(text)
    if not _ok(table).empty:
        plot_bench(table, folder / "bench.png")
    return text
