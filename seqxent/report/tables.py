"""Tables of the HTML report: readable names for metrics.json keys, compact numbers, and the table layouts.

Any metrics.json value becomes text here: ``{"value", "ci95"}`` as ``v [lo, hi]``, numbers with 3-4
significant digits, nested mappings as side-by-side columns. :mod:`seqxent.report.html` arranges the tables
into sections and renders the page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Tables with more rows than this are folded into a <details> element.
COLLAPSE_ROWS = 15
# Names of metrics.json keys that the default (underscores to spaces, first letter capital) gets wrong.
_LABELS = {
    "accuracy": "Accuracy", "balanced_accuracy": "Balanced accuracy", "macro_f1": "Macro F1",
    "weighted_f1": "Weighted F1", "log_loss_nats": "Log loss (nats)", "log_loss_bits": "Log loss (bits)",
    "brier": "Brier score", "ece": "ECE", "mce": "MCE", "nll": "NLL", "mcc": "MCC", "ci95": "95% CI",
    "f1": "F1", "n_records": "Records", "n_items": "Items", "n_classes": "Classes",
    "label_column": "Label column", "ood": "Out-of-distribution detection", "auroc": "AUROC",
    "aupr": "AUPR", "fpr95": "FPR at 95% TPR", "split_summary": "Data split",
    "argv": "Command line", "git_dirty": "Uncommitted changes", "data_files": "Data files (SHA-256)",
    "created": "Run at (UTC)",
}


@dataclass
class Cell:
    """One table cell: its text and whether it holds a number (right-aligned)."""

    text: str
    numeric: bool = False


@dataclass
class Table:
    """A table with an optional caption; ``collapsed`` folds it into <details>."""

    header: list[str]
    rows: list[list[Cell]]
    caption: str = ""
    collapsed: bool = False


def label(key: object) -> str:
    """Return a readable name for a metrics.json key.

    Example:
        >>> label("log_loss_nats"), label("n_bins")
        ('Log loss (nats)', 'N bins')
    """
    text = str(key)
    if text in _LABELS:
        return _LABELS[text]
    text = text.replace("_", " ")
    return text[:1].upper() + text[1:]


def format_number(x: float | int) -> str:
    """Format a number with 3-4 significant digits (integers in full).

    Example:
        >>> [format_number(v) for v in (0.95, 0.123456, 40.1, 123456.7, 12, 12345, 2.5e-05, float("nan"))]
        ['0.95', '0.1235', '40.1', '123,457', '12', '12,345', '2.5e-05', 'n/a']
    """
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}" if abs(x) >= 10000 else str(x)
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    if x != 0 and abs(x) < 1e-3:
        return f"{x:.3g}"
    return f"{x:.4g}"


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def format_value(value: Any) -> str:
    """Format any metrics.json value compactly; ``{"value", "ci95"}`` as ``v [lo, hi]``.

    Example:
        >>> format_value({"value": 0.95, "ci95": [0.93123, 0.97]})
        '0.95 [0.9312, 0.97]'
        >>> format_value(None), format_value([1, 2.5]), format_value({"a": 1})
        ('–', '[1, 2.5]', 'a: 1')
    """
    if value is None:
        return "–"
    if isinstance(value, bool) or _is_number(value):
        return format_number(value)
    if isinstance(value, Mapping) and "value" in value:
        text = format_value(value["value"])
        return text + (f" {format_value(value['ci95'])}" if value.get("ci95") is not None else "")
    if isinstance(value, Mapping):
        return ", ".join(f"{key}: {format_value(item)}" for key, item in value.items())
    if isinstance(value, list | tuple):
        if len(value) > 12:
            return f"{len(value)} values"
        return "[" + ", ".join(format_value(item) for item in value) + "]"
    return str(value)


def cell(value: Any) -> Cell:
    """A table cell of any metrics.json value; numbers and ``{"value", "ci95"}`` are right-aligned."""
    numeric = _is_number(value) or (isinstance(value, Mapping) and "value" in value)
    return Cell(format_value(value), numeric=numeric)


def is_nested(value: Any) -> bool:
    """Whether ``value`` is a mapping of its own (a column of a table), not a ``{"value", "ci95"}`` scalar."""
    return isinstance(value, Mapping) and "value" not in value


def key_value_table(mapping: Mapping[str, Any], caption: str = "", raw_keys: bool = False) -> Table:
    """A two-column table, key and value; ``raw_keys`` keeps the keys as they are (file names, say)."""
    rows = [[Cell(str(key) if raw_keys else label(key)), cell(value)] for key, value in mapping.items()]
    return Table(["", "Value"], rows, caption=caption, collapsed=len(rows) > COLLAPSE_ROWS)


def records_table(records: Mapping[str, Any], first: str, first_columns: Sequence[str] = ()) -> Table:
    """Rows are records (name -> mapping); columns the union of their scalar keys."""
    columns = list(first_columns)
    for record in records.values():
        if isinstance(record, Mapping):
            columns += [key for key, item in record.items() if key not in columns and not is_nested(item)]
    present = [c for c in columns if any(isinstance(r, Mapping) and c in r for r in records.values())]
    rows = []
    for name, record in records.items():
        record = record if isinstance(record, Mapping) else {"value": record}
        rows.append([Cell(str(name))] + [cell(record.get(column)) for column in present])
    return Table([first] + [label(c) for c in present], rows, collapsed=len(rows) > COLLAPSE_ROWS)


def mapping_tables(mapping: Mapping[str, Any]) -> list[Table]:
    """Scalars as a key/value table; nested mappings side by side as columns.

    A list of mappings (e.g. the members of an ensemble) becomes one column per item, ``key 1``, ``key 2``, ….
    """
    expanded = {}
    for key, value in mapping.items():
        if isinstance(value, list) and value and all(isinstance(item, Mapping) for item in value):
            expanded.update({f"{key} {i}": item for i, item in enumerate(value, 1)})
        else:
            expanded[key] = value
    mapping = expanded
    tables = []
    scalars = {key: value for key, value in mapping.items() if not is_nested(value)}
    nested = {key: value for key, value in mapping.items() if is_nested(value)}
    if scalars:
        tables.append(key_value_table(scalars))
    if nested:
        row_keys = list(dict.fromkeys(key for value in nested.values() for key in value))
        rows = [[Cell(label(row))] + [cell(value.get(row)) for value in nested.values()] for row in row_keys]
        tables.append(Table([""] + [label(key) for key in nested], rows, collapsed=len(rows) > COLLAPSE_ROWS))
    return tables
