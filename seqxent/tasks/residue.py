"""Task ``residue``: one label per position (protein secondary structure: H/E/C, or the 8 DSSP states).

The label of a record is a string with one class letter per residue. Records are grouped by homology
clusters before splitting (and the split is checked for leakage); the network is the dilated
:class:`~seqxent.model.networks.ResidueCNN`; headline metrics (Q3/Q8 accuracy, SOV'99, bits per residue)
are bootstrapped over chains; predictions have one row per residue and may be written in PSIPRED's formats.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from seqxent.errors import InputError
from seqxent.metrics import bootstrap, segments
from seqxent.metrics.residue import per_chain_scores, residue_metrics
from seqxent.tasks.base import SplitPredictions
from seqxent.tasks.single_label import SingleLabelTask

if TYPE_CHECKING:  # pandas is not imported at run time: `seqxent predict` starts without it
    import pandas as pd

# Canonical class orders of the secondary-structure alphabets (PSIPRED writes C, H, E; DSSP orders H … C).
CANONICAL_ORDERS = ("HEC", "HGIEBTSC")


class ResidueTask(SingleLabelTask):
    """One label per residue."""

    name = "residue"
    architecture = "residue_cnn"
    homology_groups = True
    per_residue = True

    def label_problem(self, sequence: str, label: str, cfg) -> str:  # noqa: D102
        if len(label) != len(sequence):
            return f"invalid: {len(label)} residue labels for {len(sequence)} residues"
        return ""

    def label_classes(self, train_labels: pd.Series) -> list[str]:
        """The states seen in training, in the canonical order of their alphabet (H E C, or DSSP's 8) if any."""
        seen = set("".join(train_labels))
        for order in CANONICAL_ORDERS:
            if seen <= set(order):
                return list(order)
        return sorted(seen)

    def label_counts(self, train_labels: pd.Series, classes: Sequence[str]) -> np.ndarray:
        """Training residues of each state."""
        counts = Counter("".join(train_labels))
        return np.array([int(counts.get(c, 0)) for c in classes])

    def encode_target(self, record_id: str, label: str, length: int, index: Mapping[str, int]) -> np.ndarray:
        """``(L,)`` int64 class indices of the residues.

        Raises:
            InputError: when the label has another length than the sequence.
        """
        if len(label) != length:
            raise InputError(f"record {record_id!r}: {len(label)} residue labels for {length} residues")
        return np.fromiter((index[c] for c in label), dtype=np.int64, count=length)

    def split_predictions(self, rows: pd.DataFrame, logits: list[np.ndarray], examples) -> SplitPredictions:
        """Residues of all chains as rows; ``unit`` is each residue's chain."""
        target = np.concatenate([ex.target for ex in examples])
        unit = np.repeat(np.arange(len(examples)), [len(ex.target) for ex in examples])
        return SplitPredictions(rows, np.concatenate(logits), target, unit)

    def headline(self, probs, target, unit, classes, n_boot: int, seed: int) -> dict:
        """Accuracy, SOV'99 and bits per residue, bootstrapped over chains from per-chain sums (fast for millions)."""
        n_chains = int(unit.max()) + 1
        n = np.bincount(unit, minlength=n_chains)
        correct = np.bincount(unit, weights=probs.argmax(axis=1) == target, minlength=n_chains)
        nll = -np.log2(np.clip(probs[np.arange(len(target)), target], 1e-15, 1.0))
        bits = np.bincount(unit, weights=nll, minlength=n_chains)
        sov = per_chain_scores(probs, target, unit, classes)["sov99"]
        stats = {"accuracy": lambda i: correct[i].sum() / n[i].sum(),
                 "sov99": lambda i: float(np.nanmean(sov[i])),
                 "log_loss_bits": lambda i: bits[i].sum() / n[i].sum()}
        everything = np.arange(n_chains)
        return {name: {"value": float(stat(everything)),
                       "ci95": bootstrap.bootstrap_ci(stat, n_chains, n_boot, seed=seed)}
                for name, stat in stats.items()}

    def extra_metrics(self, probs: np.ndarray, preds: SplitPredictions, classes: list[str]) -> dict:
        """Per-chain Q and SOV'99 summaries and segment-length statistics."""
        res = residue_metrics(probs, preds.target, preds.unit, classes)
        res.pop("per_class", None)
        out = {k: v for k, v in res.items() if k != "q"}
        out["segments"] = segments.segment_statistics(probs.argmax(axis=1), preds.target, preds.unit, classes)
        return out

    def prediction_table(self, ckpt, preds: SplitPredictions, threshold: float = 0.5) -> dict[str, list]:
        """Per chain (columns): length, true and predicted state strings, accuracy."""
        probs = self.probs(preds.logits, ckpt.temperature)
        classes = np.array(ckpt.classes)
        top = probs.argmax(axis=1)
        table: dict[str, list] = {"id": [], "length": [], "label": [], "predicted": [], "accuracy": []}
        for i, rid in enumerate(preds.rows["id"]):
            sel = preds.unit == i
            for column, value in (("id", rid), ("length", int(sel.sum())),
                                  ("label", "".join(classes[preds.target[sel]])),
                                  ("predicted", "".join(classes[top[sel]])),
                                  ("accuracy", round(float((top[sel] == preds.target[sel]).mean()), 4))):
                table[column].append(value)
        return table
