"""Tables of a lineage model's ``metrics.json``: per rank, IDTAXA's rates at the cut-off, the peers rank by rank.

A lineage result (``task`` lineage, :meth:`seqxent.tasks.lineage.LineageTask.evaluate`) carries ``per_rank``
(accuracy and calibration of the forced calls), ``cutoff`` and ``rates_at_cutoff`` (IDTAXA's rates of the calls
that stand, :func:`seqxent.metrics.taxonomy.classification_rates`), ``rates_by_cutoff`` (drawn, not tabled) and
``rates_by_identity``; a peer in ``baselines`` may add its own ``per_rank`` and ``cutoff``
(:func:`seqxent.baseline.lineage_peers.score_lineage_calls`). Every block is optional and checked before use,
so a malformed or partial block gives fewer rows, never an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seqxent.report.tables import Cell, Table, cell

#: Top-level keys this module renders (or that are drawn instead); they are not dumped as raw tables too.
LINEAGE_KEYS = ("per_rank", "cutoff", "rates_at_cutoff", "rates_by_cutoff", "rates_by_identity")
#: Calibration keys shown in the per-rank table; the generic calibration table leaves them out.
CALIBRATION_KEYS = ("temperatures", "per_rank")
#: IDTAXA's rates, in the order of the tables.
RATES = ("correct_rate", "misclassification_rate", "underclassification_rate", "overclassification_rate")
_RATE_NAMES = ("Correct", "Misclassification", "Underclassification", "Overclassification")
_RATES_CAPTION = ("IDTAXA's rates of the calls that stand: correct, mis- and underclassification over the records "
                  "of known taxa, overclassification over the records of novel taxa (– where there are none)")


def _mapping(value: Any) -> Mapping:
    return value if isinstance(value, Mapping) else {}


def is_lineage(metrics: Mapping[str, Any]) -> bool:
    """Whether ``metrics`` holds a lineage model's per-rank results (a non-empty ``per_rank`` mapping)."""
    return bool(_mapping(metrics.get("per_rank")))


def _rate(block: Mapping, name: str) -> Cell:
    """A rate with its bootstrap interval (``ci`` of ``classification_rates``) where there is one."""
    interval = _mapping(block.get("ci")).get(name)
    return cell({"value": block.get(name), "ci95": interval})


def model_scores(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The model's values of the baselines' flat columns: accuracy at the label rank and the cut-off.

    Lineage metrics name their accuracies by rank (``genus_accuracy``); the flat comparison with the peers is at
    the label rank. Empty for other tasks.
    """
    if not is_lineage(metrics):
        return {}
    rank = _mapping(metrics.get("calibration")).get("label_rank") or metrics.get("label_column")
    accuracy = _mapping(_mapping(metrics["per_rank"].get(rank)).get("accuracy")).get("value")
    return {"accuracy": accuracy, "cutoff": metrics.get("cutoff")}


def per_rank_table(metrics: Mapping[str, Any]) -> Table | None:
    """Rank, records, accuracy (95% CI), accuracy on known taxa, mean confidence, ECE before/after, temperature."""
    per_rank = _mapping(metrics.get("per_rank"))
    temperatures = _mapping(_mapping(metrics.get("calibration")).get("temperatures"))
    rows = []
    for rank, block in per_rank.items():
        block = _mapping(block)
        rows.append([Cell(str(rank))] + [cell(block.get(key)) for key in (
            "n", "n_known", "accuracy", "accuracy_known", "mean_confidence", "ece_before", "ece")]
            + [cell(temperatures.get(rank))])
    if not rows:
        return None
    header = ["Rank", "Records", "Known taxa", "Accuracy (95% CI)", "Accuracy (known taxa)", "Mean confidence",
              "ECE before scaling", "ECE after scaling", "Temperature"]
    return Table(header, rows, caption="Forced calls at every rank (no cut-off); records naming the rank")


def rates_table(metrics: Mapping[str, Any]) -> Table | None:
    """Per rank: known and novel records, and IDTAXA's four rates with their intervals at the chosen cut-off."""
    rates = _mapping(metrics.get("rates_at_cutoff"))
    rows = []
    for rank, block in rates.items():
        block = _mapping(block)
        rows.append([Cell(str(rank)), cell(block.get("n_known")), cell(block.get("n_novel"))]
                    + [_rate(block, name) for name in RATES])
    if not rows:
        return None
    cutoff = metrics.get("cutoff")
    caption = (f"At the cut-off {cell(cutoff).text}. " if cutoff is not None else "") + _RATES_CAPTION
    return Table(["Rank", "Known", "Novel", *_RATE_NAMES], rows, caption=caption)


def _peer_rates(block: Mapping) -> Mapping:
    """A peer's rates of one rank: under ``rates_at_cutoff``, or the rank block itself."""
    nested = block.get("rates_at_cutoff")
    return nested if isinstance(nested, Mapping) else block


def _lineage_peers(metrics: Mapping[str, Any]) -> dict[str, Mapping]:
    """The model and each baseline with a ``per_rank`` block: name -> ``{"cutoff", "per_rank"}``."""
    peers = {name: record for name, record in _mapping(metrics.get("baselines")).items()
             if isinstance(record, Mapping) and _mapping(record.get("per_rank"))}
    if not peers:
        return {}
    own_rates = _mapping(metrics.get("rates_at_cutoff"))
    own = {rank: {**_mapping(block), "rates_at_cutoff": _mapping(own_rates.get(rank))}
           for rank, block in _mapping(metrics.get("per_rank")).items()}
    return {"seqxent model": {"cutoff": metrics.get("cutoff"), "per_rank": own}, **peers}


def peers_table(metrics: Mapping[str, Any]) -> Table | None:
    """Rank by rank, the model and every peer: accuracy, and mis-/over-/underclassification at its own cut-off.

    None unless some baseline has ``per_rank``.
    """
    methods = _lineage_peers(metrics)
    ranks = list(dict.fromkeys(rank for record in methods.values() for rank in record["per_rank"]))
    rows = []
    for rank in ranks:
        for name, record in methods.items():
            block = _mapping(record["per_rank"].get(rank))
            if not block:
                continue
            rates = _peer_rates(block)
            rows.append([Cell(str(rank)), Cell(str(name)), cell(record.get("cutoff")), cell(block.get("accuracy"))]
                        + [_rate(rates, rate) for rate in RATES[1:]])
    if not rows:
        return None
    header = ["Rank", "Method", "Cut-off", "Accuracy (95% CI)", *_RATE_NAMES[1:]]
    caption = ("The model and each peer rank by rank: accuracy of the forced calls, IDTAXA's rates at each "
               "method's own cut-off (– : none, every named rank stands)")
    return Table(header, rows, caption=caption)


def identity_table(metrics: Mapping[str, Any]) -> Table | None:
    """IDTAXA's rates at the label rank by identity of the query to its closest training sequence."""
    bins = _mapping(metrics.get("rates_by_identity"))
    rank = _mapping(metrics.get("calibration")).get("label_rank") or metrics.get("label_column")
    rows = []
    for name, item in bins.items():
        item = _mapping(item)
        block = _mapping(_mapping(item.get("ranks")).get(rank))
        rows.append([Cell(f"{name} %"), cell(item.get("n"))] + [_rate(block, key) for key in RATES])
    if not rows:
        return None
    return Table(["Identity", "Records", *_RATE_NAMES], rows,
                 caption=f"Rates at rank {rank} by identity to the closest training sequence")


def lineage_tables(metrics: Mapping[str, Any]) -> list[Table]:
    """Every lineage table that ``metrics`` has the blocks for, in reading order (empty for other tasks)."""
    if not is_lineage(metrics):
        return []
    tables = (per_rank_table(metrics), rates_table(metrics), peers_table(metrics), identity_table(metrics))
    return [table for table in tables if table is not None]
