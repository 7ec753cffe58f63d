"""Task ``sequence``: one label per record (a barcode's species, genus, country …).

Records of classes with fewer than ``min_per_class`` records are excluded with their reason; splits are
stratified by label; the network is :class:`~seqxent.model.networks.SequenceCNN` (optionally with the
k-mer branch, which may start as the k-mer logistic regression on DNA); the model gets novelty scores and
an abstain rule (``unassigned``); headline metrics are bootstrapped over records.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from seqxent.errors import InputError
from seqxent.metrics import classification as metrics
from seqxent.tasks.base import SplitPredictions
from seqxent.tasks.single_label import SingleLabelTask, bootstrapped

if TYPE_CHECKING:  # pandas is not imported at run time: `seqxent predict` starts without it
    import pandas as pd

log = logging.getLogger(__name__)

#: Headline metrics of sequence tasks, in report order (log loss in bits per record).
HEADLINE = {"accuracy": metrics.accuracy, "balanced_accuracy": metrics.balanced_accuracy,
            "macro_f1": metrics.macro_f1, "log_loss_bits": lambda p, t, **kw: metrics.log_loss(p, t, 2, **kw)}


class SequenceTask(SingleLabelTask):
    """One label per record."""

    name = "sequence"
    holds_out_classes = True
    mixup = True
    novelty = True
    baselines = "labels"

    def check_labels(self, labels: pd.Series, label_column: str) -> None:
        """Warn when ``NA`` is used as a class: it may be a missing value (or Namibia, or North America)."""
        if (labels == "NA").any():
            log.warning("label 'NA' in column %r is used as a class name; if it marks a missing value, leave the "
                        "cell empty instead", label_column)

    def exclude_rare(self, labels: pd.Series, usable: pd.Series, reasons: pd.Series, min_per_class: int,
                     separator: str) -> dict:
        """Exclude the records of classes with fewer than ``min_per_class`` usable records."""
        counts = labels[usable].value_counts()
        rare = usable & labels.map(counts).lt(min_per_class)
        reasons[rare] = [f"class has {counts[lab]} records < min_per_class {min_per_class}" for lab in labels[rare]]
        return {}

    def stratification_labels(self, labels: Sequence[str]) -> list[str]:  # noqa: D102
        return list(labels)

    def summary_labels(self, labels: pd.Series) -> list[str]:  # noqa: D102
        return labels.tolist()

    def label_classes(self, train_labels: pd.Series) -> list[str]:  # noqa: D102
        return sorted(set(train_labels))

    def label_counts(self, train_labels: pd.Series, classes: Sequence[str]) -> np.ndarray:  # noqa: D102
        counts = train_labels.value_counts()
        return np.array([int(counts.get(c, 0)) for c in classes])

    def encode_target(self, record_id: str, label: str, length: int, index: Mapping[str, int]) -> int:  # noqa: D102
        return index[label]

    def check_training(self, cfg, alphabet_name: str) -> None:
        """The k-mer branch may start as the k-mer logistic regression only on DNA (the baseline counts DNA k-mers)."""
        super().check_training(cfg, alphabet_name)
        if cfg.kmer_k and cfg.kmer_init == "logreg" and alphabet_name != "dna":
            raise InputError(f"Expected argument `kmer_init` to be 'random' for {self.name} tasks on "
                             f"{alphabet_name}, but got {cfg.kmer_init!r}")

    def split_predictions(self, rows: pd.DataFrame, logits: list[np.ndarray], examples) -> SplitPredictions:  # noqa: D102
        target = np.array([ex.target for ex in examples], dtype=np.int64)
        return SplitPredictions(rows, np.stack(logits), target, np.arange(len(examples)))

    def headline(self, probs, target, unit, classes, n_boot: int, seed: int) -> dict:  # noqa: D102
        return bootstrapped(HEADLINE, probs, target, n_boot, seed)

    def prediction_table(self, ckpt, preds: SplitPredictions, threshold: float = 0.5) -> dict[str, np.ndarray]:
        """Per record (columns): true and predicted label, probability of the prediction, correctness."""
        probs = self.probs(preds.logits, ckpt.temperature)
        classes = np.array(ckpt.classes)
        top = probs.argmax(axis=1)
        return {"id": preds.rows["id"].to_numpy(), "label": classes[preds.target], "predicted": classes[top],
                "p_predicted": probs.max(axis=1).round(4), "correct": top == preds.target}
