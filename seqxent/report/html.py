"""Self-contained HTML report over one or more ``results/<name>/`` directories.

:func:`render_report` reads ``metrics.json`` (see DESIGN: any key may be missing, unknown
keys are rendered generically) and embeds every PNG under ``plots/`` as a base64
``data:`` URI, so the single HTML file can be mailed or archived without its directory.
Styles are inline; the page loads nothing from the network. All text is HTML-escaped by
Jinja2's autoescaping. The output contains no time stamp of its own, so rendering the same
inputs twice gives identical files.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import yaml

import seqxent
from seqxent.data.io import atomic_write
from seqxent.report import lineage
from seqxent.report.tables import (
    Cell,
    Table,
    cell,
    is_nested,
    key_value_table,
    label,
    mapping_tables,
    records_table,
)

# Confusion matrices are also printed as a table up to this many classes (the plot covers more).
CONFUSION_TABLE_MAX = 20

# Top-level metrics.json keys that get a dedicated section; others go to "Other results".
_KNOWN_KEYS = ("headline", "metrics", "per_class", "confusion", "split_summary", "training",
               "calibration", "information", "baselines", "provenance", "classes")
_OVERVIEW_KEYS = ("dataset", "task", "split", "label_column", "n_classes", "n_records", "n_items")


@dataclass
class Part:
    """A titled block of a data set section: tables, a preformatted text and/or figures."""

    title: str
    tables: list[Table] = field(default_factory=list)
    pre: str = ""
    images: list[tuple[str, str]] = field(default_factory=list)  # (caption, data URI)


@dataclass
class Section:
    """Everything rendered for one data set directory."""

    name: str
    anchor: str
    directory: str
    link: str | None
    note: str
    parts: list[Part]


def _headline_part(metrics: Mapping[str, Any]) -> Part | None:
    headline = metrics.get("headline")
    if not isinstance(headline, Mapping) or not headline:
        return None
    records = {label(key): value for key, value in headline.items()}
    return Part("Headline metrics (95% bootstrap CI)", [records_table(records, "Metric", ("value", "ci95"))])


def _per_class_part(metrics: Mapping[str, Any]) -> Part | None:
    per_class = metrics.get("per_class")
    if not isinstance(per_class, Mapping) or not per_class:
        return None
    table = records_table(per_class, "Class", ("precision", "recall", "f1", "support"))
    table.caption = f"{len(per_class)} classes"
    return Part("Per-class metrics", [table])


def _confusion_part(metrics: Mapping[str, Any]) -> Part | None:
    confusion = metrics.get("confusion")
    if not isinstance(confusion, Mapping) or "matrix" not in confusion:
        return None
    classes = [str(name) for name in confusion.get("classes", metrics.get("classes", []))]
    matrix = confusion["matrix"]
    shown = isinstance(matrix, list) and 0 < len(classes) <= CONFUSION_TABLE_MAX
    if not shown or len(matrix) != len(classes):
        return None
    rows = [[Cell(name)] + [cell(count) for count in row] for name, row in zip(classes, matrix, strict=True)]
    table = Table(["true \\ predicted"] + classes, rows, caption="Counts (rows: true class)", collapsed=True)
    return Part("Confusion matrix", [table])


def _baselines_part(metrics: Mapping[str, Any]) -> Part | None:
    """The model, each baseline that ran, and each peer that did not (``not_run``: its tool is not installed)."""
    baselines = metrics.get("baselines")
    if not isinstance(baselines, Mapping) or not baselines:
        return None
    not_run = {name: record["not_run"] for name, record in baselines.items()
               if isinstance(record, Mapping) and record.get("not_run")}
    ran = {name: record for name, record in baselines.items() if name not in not_run}
    own = dict(metrics.get("headline") or {})
    own.update({key: value for key, value in (metrics.get("metrics") or {}).items() if not is_nested(value)})
    own.update(lineage.model_scores(metrics))  # lineage models: accuracy at the label rank, the cut-off
    columns = list(dict.fromkeys(
        key for record in ran.values() if isinstance(record, Mapping)
        for key, item in record.items() if not is_nested(item)))
    records = {"seqxent model": {key: own.get(key) for key in columns}, **ran}
    if not_run:  # a status column: the rows of peers that were not run say why
        records = {name: {**record, "status": "ran"} for name, record in records.items()}
        records.update({name: {"status": f"not run: {reason}"} for name, reason in not_run.items()})
        columns.append("status")
    table = records_table(records, "Method", columns)
    table.caption = "This model first, then each baseline"
    return Part("Comparison with baselines", [table])


def _lineage_part(metrics: Mapping[str, Any]) -> Part | None:
    """Per-rank accuracy and calibration, IDTAXA's rates at the cut-off, the peers rank by rank (lineage only)."""
    tables = lineage.lineage_tables(metrics)
    return Part("Lineage", tables) if tables else None


def _calibration(metrics: Mapping[str, Any]) -> Any:
    """The calibration block, less what the lineage tables show (temperatures and blocks per rank)."""
    calibration = metrics.get("calibration")
    if not lineage.is_lineage(metrics) or not isinstance(calibration, Mapping):
        return calibration
    return {key: value for key, value in calibration.items() if key not in lineage.CALIBRATION_KEYS}


def _known_keys(metrics: Mapping[str, Any]) -> tuple[str, ...]:
    """Keys with a section of their own: the lineage blocks too when the lineage tables render them."""
    return _KNOWN_KEYS + (lineage.LINEAGE_KEYS if lineage.is_lineage(metrics) else ())


def _generic_part(title: str, value: Any) -> Part | None:
    if isinstance(value, Mapping) and value:
        return Part(title, mapping_tables(value))
    return None


def _provenance_part(provenance: Any) -> Part | None:
    if not isinstance(provenance, Mapping) or not provenance:
        return None
    scalars = {key: value for key, value in provenance.items() if not isinstance(value, Mapping)}
    if isinstance(scalars.get("argv"), list):
        scalars["argv"] = shlex.join(str(arg) for arg in scalars["argv"])
    tables = [key_value_table(scalars)] if scalars else []
    for key, value in provenance.items():
        if isinstance(value, Mapping) and value and key != "config":
            tables.append(key_value_table(value, caption=label(key), raw_keys=True))
    config = provenance.get("config")
    pre = yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True) if config else ""
    return Part("Provenance", tables, pre=pre)


def _overview(metrics: Mapping[str, Any]) -> Part | None:
    values = {key: metrics[key] for key in _OVERVIEW_KEYS if key in metrics}
    if "classes" in metrics and "n_classes" not in metrics:
        values = {**values, "n_classes": len(metrics["classes"])}
    known = _known_keys(metrics)
    extra = {key: value for key, value in metrics.items()
             if key not in known and key not in values and not isinstance(value, Mapping)}
    ordered = {key: values[key] for key in _OVERVIEW_KEYS if key in values}
    rows = {**ordered, **extra}
    return Part("Overview", [key_value_table(rows)]) if rows else None


def _images_part(directory: Path) -> Part | None:
    images = []
    for png in sorted((directory / "plots").glob("*.png")):
        data = base64.b64encode(png.read_bytes()).decode("ascii")
        images.append((label(png.stem), f"data:image/png;base64,{data}"))
    return Part("Figures", images=images) if images else None


def _read_metrics(directory: Path) -> tuple[dict[str, Any], str]:
    path = directory / "metrics.json"
    if not path.is_file() and (directory / "ablation.json").is_file():  # `seqxent ablation`, rendered alike
        path = directory / "ablation.json"
    if not path.is_file():
        return {}, f"No metrics.json in {directory}."
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ValueError(f"Expected {path} to hold valid JSON, but got: {error}") from error
    if not isinstance(metrics, dict):
        raise ValueError(f"Expected {path} to hold a JSON object, but got {type(metrics).__name__}")
    return metrics, ""


def _parts(metrics: Mapping[str, Any], directory: Path) -> list[Part | None]:
    known = _known_keys(metrics)
    other = [_generic_part(label(key), value) for key, value in metrics.items()
             if key not in known and isinstance(value, Mapping)]
    return [
        _overview(metrics), _headline_part(metrics), _generic_part("All metrics", metrics.get("metrics")),
        _lineage_part(metrics), _baselines_part(metrics), _images_part(directory), _per_class_part(metrics),
        _confusion_part(metrics), _generic_part("Calibration", _calibration(metrics)),
        _generic_part("Information", metrics.get("information")),
        *other,
        _generic_part("Data split", metrics.get("split_summary")),
        _generic_part("Training", metrics.get("training")), _provenance_part(metrics.get("provenance")),
    ]


def _anchor(name: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "dataset"
    anchor, n = base, 1
    while anchor in taken:
        n += 1
        anchor = f"{base}-{n}"
    taken.add(anchor)
    return anchor


def _with_timings(metrics: dict[str, Any], directory: Path) -> dict[str, Any]:
    """Put the wall-clock values of ``timings.json`` (kept out of metrics.json) back where the report shows them.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     timings = {"created": "2026-01-01", "training": {"seconds": 4.2},
        ...                "baselines": {"majority": {"seconds": 0.1}}}
        ...     _ = (Path(tmp) / "timings.json").write_text(json.dumps(timings))
        ...     merged = _with_timings({"training": {"epochs_run": 3}, "baselines": {"majority": {}}}, Path(tmp))
        >>> merged["training"], merged["baselines"], merged["provenance"]
        ({'epochs_run': 3, 'seconds': 4.2}, {'majority': {'seconds': 0.1}}, {'created': '2026-01-01'})
    """
    path = directory / "timings.json"
    if not metrics or not path.is_file():
        return metrics
    timings = json.loads(path.read_text(encoding="utf-8"))
    merged = dict(metrics)
    if isinstance(merged.get("training"), Mapping):
        merged["training"] = {**merged["training"], **timings.get("training", {})}
    if isinstance(merged.get("baselines"), Mapping):
        merged["baselines"] = {name: {**entry, **timings.get("baselines", {}).get(name, {})}
                               if isinstance(entry, Mapping) else entry
                               for name, entry in merged["baselines"].items()}
    if timings.get("created"):
        merged["provenance"] = {**(merged.get("provenance") or {}), "created": timings["created"]}
    return merged


def _section(directory: Path, output: Path, link: bool, taken: set[str]) -> Section:
    metrics, note = _read_metrics(directory)
    metrics = _with_timings(metrics, directory)
    name = str(metrics.get("dataset") or directory.name)
    target = directory / "report.html"
    href = None
    if link and target.resolve() != output.resolve():
        href = Path(os.path.relpath(target.resolve(), output.resolve().parent)).as_posix()
    parts = [part for part in _parts(metrics, directory) if part is not None]
    return Section(name, _anchor(name, taken), directory.as_posix(), href, note, parts)


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("seqxent.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def render_report(
    dataset_dirs: Sequence[str | os.PathLike],
    output: str | os.PathLike,
    config: Mapping[str, Any] | None = None,
    title: str = "seqxent report",
) -> Path:
    """Render one self-contained HTML report with a section per data set directory.

    Args:
        dataset_dirs: ``results/<name>/`` directories, each with ``metrics.json`` and ``plots/*.png``
            (both optional; a missing ``metrics.json`` gives a short note).
        output: The HTML file to write (atomically).
        config: Workflow configuration, shown as YAML at the end.
        title: Page title.

    Returns:
        The output path.

    Raises:
        ValueError: If ``dataset_dirs`` is empty or a ``metrics.json`` is not a JSON object.
    """
    if not dataset_dirs:
        raise ValueError("Expected argument `dataset_dirs` to name at least one directory, but got none")
    output = Path(output)
    taken: set[str] = set()
    link = len(dataset_dirs) > 1
    sections = [_section(Path(directory), output, link, taken) for directory in dataset_dirs]
    config_yaml = yaml.safe_dump(dict(config), sort_keys=False, allow_unicode=True) if config else ""
    html = _environment().get_template("report.html").render(
        title=title, sections=sections, config_yaml=config_yaml, version=seqxent.__version__
    )
    with atomic_write(output) as handle:
        handle.write(html)
    return output
