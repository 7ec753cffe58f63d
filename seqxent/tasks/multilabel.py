"""Task ``multilabel``: a *set* of labels per record (e.g. every country where a barcode's BIN was sampled).

In the prepared table a set is one string, its labels sorted, deduplicated and joined by ``;``
(:mod:`seqxent.data.labels`). The network is the sequence CNN with one logit per label: independent
sigmoids trained with the sum over labels of binary cross-entropies; one temperature, shared by all
labels, calibrates them; a label is predicted when its probability reaches a threshold (0.5 by default).

The evaluation blocks mirror those of single-label models, so that the report and the plots need nothing
special: ``headline`` (bootstrapped over records), ``metrics``, ``per_class`` (per label), ``confusion`` (a
label co-occurrence matrix: rows are true labels, columns predicted labels, cells count records carrying
both), ``calibration`` (label-wise binary reliability pooled over all (record, label) pairs) and
``information``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from seqxent.data import labels as label_set
from seqxent.data.batching import iterate_batches
from seqxent.data.dataset import SPLITS
from seqxent.errors import InputError
from seqxent.metrics import bootstrap
from seqxent.metrics import multilabel as mm
from seqxent.metrics.information import information_summary
from seqxent.model.losses import LossOutput
from seqxent.model.soft_targets import multilabel_bce
from seqxent.tasks.base import SplitPredictions, Task

if TYPE_CHECKING:  # pandas is not imported at run time: `seqxent predict` starts without it
    import pandas as pd

#: Headline metrics, in report order; each gets a 95 % bootstrap interval over records.
HEADLINE = {"micro_f1": mm.micro_f1, "macro_f1": mm.macro_f1, "subset_accuracy": mm.subset_accuracy,
            "hamming_loss": mm.hamming_loss}
#: Training settings that the multi-label loss does not implement, with their neutral values.
UNSUPPORTED_SETTINGS = {"loss": "ce", "class_weighting": "none", "label_smoothing": 0.0, "focal_alpha": 0.0,
                        "pos_weight": 0.0, "mixup_alpha": 0.0, "teacher": ""}


class MultilabelLoss:
    """Training loss of multi-label models: ``loss(logits, target, mask) -> LossOutput``.

    ``total`` is :func:`~seqxent.model.soft_targets.multilabel_bce` (summed over labels, mean over records); its
    value is also reported as ``parts["ce"]`` (nats per record), the history's cross-entropy column. ``mask``
    (the padding mask of the sequences) is accepted for the common training-loop signature and not used.
    """

    def __call__(self, logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> LossOutput:
        """Summed binary cross-entropy of ``logits`` (B, K) against multi-hot ``target`` (B, K)."""
        total = multilabel_bce(logits, target.to(logits.dtype))
        return LossOutput(total, {"ce": float(total.detach())})


class MultilabelTask(Task):
    """A set of labels per record."""

    name = "multilabel"
    activation = "sigmoid"
    baselines = "powerset"
    label_sets = True

    def label_problem(self, sequence: str, label: str, cfg) -> str:  # noqa: D102
        try:
            labels = label_set.normalize_labels(label, cfg.label_separator)
        except InputError as err:
            return f"invalid label: {err}"
        return "" if labels else f"no label in column {cfg.label_column!r}"

    def exclude_rare(self, labels: pd.Series, usable: pd.Series, reasons: pd.Series, min_per_class: int,
                     separator: str) -> dict:
        """Normalise label sets and remove the labels of fewer than ``min_per_class`` usable records from them.

        Records left without a label are excluded; returns the removed labels with their counts.
        """
        labels[usable] = [label_set.normalize_labels(lab, separator) for lab in labels[usable]]
        kept, rare = label_set.drop_rare_labels(labels[usable].tolist(), min_per_class)
        labels[usable] = kept
        reasons[usable & (labels == "")] = f"every label has < min_per_class {min_per_class} records"
        return rare

    def stratification_labels(self, labels: Sequence[str]) -> list[str]:  # noqa: D102
        return label_set.stratification_labels(labels)

    def split_summary(self, labels: pd.Series, split: np.ndarray, dropped: dict) -> dict:
        """Label counts per split (records carrying each label), labels absent from train, and dropped labels."""
        per_split = {name: label_set.label_counts(labels[split == name]) for name in SPLITS}
        evaluated = set(per_split["valid"]) | set(per_split["test"])
        return {"n_labels": {name: len(counts) for name, counts in per_split.items() if counts},
                "label_counts": {name: dict(sorted(counts.items())) for name, counts in per_split.items()},
                "labels_absent_from_train": sorted(evaluated - set(per_split["train"])),
                "labels_dropped_rare": dropped,
                "mean_labels_per_record": float(labels.map(lambda lab: len(label_set.split_labels(lab))).mean())}

    def label_classes(self, train_labels: pd.Series) -> list[str]:
        """Every label of a training record's label set, sorted."""
        return sorted(label_set.label_counts(train_labels))

    def label_counts(self, train_labels: pd.Series, classes: Sequence[str]) -> np.ndarray:
        """Training records carrying each label."""
        counts = label_set.label_counts(train_labels)
        return np.array([int(counts.get(c, 0)) for c in classes])

    def encode_target(self, record_id: str, label: str, length: int, index: Mapping[str, int]) -> np.ndarray:
        """Multi-hot ``(K,)``; labels unseen in training cannot be predicted and are left out of the target."""
        return label_set.multi_hot(label, index)

    def check_training(self, cfg, alphabet_name: str) -> None:
        """Reject the settings of :data:`UNSUPPORTED_SETTINGS` away from their neutral values, and a logreg start.

        Example:
            >>> from types import SimpleNamespace
            >>> MultilabelTask().check_training(SimpleNamespace(kmer_k=0, loss="focal"), "dna")
            Traceback (most recent call last):
            ...
            seqxent.errors.InputError: Expected argument `loss` to be 'ce' for task 'multilabel', but got 'focal'
        """
        super().check_training(cfg, alphabet_name)
        for name, neutral in UNSUPPORTED_SETTINGS.items():
            value = getattr(cfg, name, neutral)
            if value != neutral:
                raise InputError(f"Expected argument `{name}` to be {neutral!r} for task 'multilabel', "
                                 f"but got {value!r}")
        if cfg.kmer_k and cfg.kmer_init == "logreg":  # the k-mer regression is a single-label model
            raise InputError(f"Expected argument `kmer_init` to be 'random' for {self.name} tasks on "
                             f"{alphabet_name}, but got {cfg.kmer_init!r}")

    def loss(self, cfg, class_counts: np.ndarray, classes=()) -> MultilabelLoss:  # noqa: D102
        return MultilabelLoss()

    @torch.no_grad()
    def validate(self, model, examples, collate, batch_size: int, device, classes=(),
                 threshold: float = label_set.THRESHOLD) -> tuple[float, float]:
        """Mean summed binary cross-entropy (nats per record) and subset accuracy (all labels right)."""
        model.eval()
        total, exact, count = 0.0, 0, 0
        for batch in iterate_batches(examples, collate, batch_size):
            batch = batch.to(device)
            logits = model(batch.x, batch.mask)
            target = batch.target.to(logits.dtype)
            total += float(multilabel_bce(logits, target)) * len(batch.ids)
            predicted = torch.sigmoid(logits) >= threshold
            exact += int((predicted == target.bool()).all(dim=1).sum())
            count += len(batch.ids)
        return total / max(count, 1), exact / max(count, 1)

    def split_predictions(self, rows: pd.DataFrame, logits: list[np.ndarray], examples) -> SplitPredictions:
        """``logits`` (N, K) and multi-hot targets (N, K)."""
        return SplitPredictions(rows, np.stack(logits), np.stack([ex.target for ex in examples]),
                                np.arange(len(examples)))

    def evaluate(self, ckpt, preds: SplitPredictions, n_bins: int = 15, n_boot: int = 1000, seed: int = 1,
                 threshold: float = label_set.THRESHOLD, train_counts: np.ndarray | None = None) -> dict:
        """The metric blocks of ``metrics.json``; ``threshold`` is the probability at which a label is predicted."""
        raw = self.probs(preds.logits)
        probs = self.probs(preds.logits, ckpt.temperature)
        target = np.asarray(preds.target)
        scores = mm.multilabel_metrics(probs, target, ckpt.classes, threshold, n_bins)
        per_class = scores.pop("per_class")
        scores["unseen_labels"] = unseen_labels(preds.rows["label"], ckpt.classes)
        matrix = mm.label_cooccurrence(probs, target, threshold)
        return {"headline": _headline(probs, target, threshold, n_boot, seed), "metrics": scores,
                "per_class": per_class,
                "confusion": {"classes": list(ckpt.classes), "matrix": matrix.tolist(),
                              "kind": "label co-occurrence: records with true label (row) and predicted label "
                                      "(column)"},
                "information": information_summary(probs, target, kind="multilabel"),
                "calibration": {"temperature": ckpt.temperature, "n_bins": n_bins, "shared_by_all_labels": True,
                                "before": mm.to_json_value(_calibration(raw, target, n_bins)),
                                "after": mm.to_json_value(_calibration(probs, target, n_bins)),
                                "bins_after": mm.label_reliability_bins(probs, target, n_bins).to_dict(),
                                "bins_before": mm.label_reliability_bins(raw, target, n_bins).to_dict()}}

    def prediction_table(self, ckpt, preds: SplitPredictions,
                         threshold: float = label_set.THRESHOLD) -> dict[str, np.ndarray]:
        """Per record: true and predicted label sets, their sizes, whether they match, every label's probability.

        ``label`` is the record's label set as prepared (including labels unseen in training); ``exact``
        compares the predicted set with the true labels the model knows.
        """
        probs = self.probs(preds.logits, ckpt.temperature)
        target = np.asarray(preds.target).astype(bool)
        table = {"id": preds.rows["id"].to_numpy(), "label": preds.rows["label"].to_numpy(),
                 "predicted": [label_set.predicted_labels(p, ckpt.classes, threshold) for p in probs],
                 "n_true": target.sum(axis=1), "n_predicted": (probs >= threshold).sum(axis=1),
                 "exact": ((probs >= threshold) == target).all(axis=1)}
        for k, name in enumerate(ckpt.classes):
            table[f"p_{name}"] = probs[:, k].round(4)
        return table


def _headline(probs: np.ndarray, target: np.ndarray, threshold: float, n_boot: int, seed: int) -> dict:
    out = {}
    funcs = {**{name: (lambda p, t, f=func: f(p, t, threshold)) for name, func in HEADLINE.items()},
             "log_loss_bits": lambda p, t: mm.binary_log_loss(p, t, 2)}
    for name, func in funcs.items():
        ci = bootstrap.bootstrap_ci(lambda idx, f=func: f(probs[idx], target[idx]), len(target), n_boot, seed=seed)
        out[name] = {"value": func(probs, target), "ci95": ci}
    return mm.to_json_value(out)


def _calibration(probs: np.ndarray, target: np.ndarray, n_bins: int) -> dict:
    return {"ece": mm.label_calibration_error(probs, target, n_bins),
            "mce": mm.label_calibration_error(probs, target, n_bins, "max"),
            "nll": mm.binary_log_loss(probs, target), "brier": mm.brier_score(probs, target)}


def unseen_labels(labels: Iterable[str], classes: list[str]) -> dict[str, int]:
    """Labels of these records that training never saw (not predictable; left out of the targets), with counts.

    Example:
        >>> unseen_labels(["a;x", "x;y", "a"], ["a", "b"])
        {'x': 2, 'y': 1}
    """
    known = set(classes)
    counts = Counter(lab for label in labels for lab in label_set.split_labels(label) if lab not in known)
    return dict(sorted(counts.items()))
