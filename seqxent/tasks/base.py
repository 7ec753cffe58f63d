"""The :class:`Task` interface: everything that differs between task kinds, in one place per kind.

A task kind (``sequence``: one label per record; ``residue``: one label per position; ``multilabel``: a set
of labels per record) decides how labels are checked and encoded, which network and output activation
it uses, its loss and validation score, its evaluation blocks and the columns of its predictions. The
stages (prepare, train, calibrate, evaluate, predict, …) ask :func:`seqxent.tasks.get_task` for the task of
a data set or checkpoint and call its methods; they never compare task names themselves.

Adding a task kind is one module with a subclass of :class:`Task` (or of :class:`SingleLabelTask` when it
predicts one class per unit with a softmax) plus one line in :data:`seqxent.tasks.TASKS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from seqxent.data.batching import Collate, Example, iterate_batches
from seqxent.errors import InputError
from seqxent.model.losses import masked_cross_entropy
from seqxent.model.probs import sigmoid, softmax

if TYPE_CHECKING:  # pandas is not imported at run time: `seqxent predict` starts without it
    import pandas as pd

#: Output activations by name (:attr:`Task.activation`).
ACTIVATIONS = {"softmax": softmax, "sigmoid": sigmoid}


@dataclass
class SplitPredictions:
    """Flattened logits of one split: ``logits`` (N, K), ``target`` (N,) or multi-hot (N, K), ``unit`` (N,) record.

    ``unit`` maps every row of ``logits`` to its record (residue tasks have one row per residue), the unit
    the bootstrap resamples. ``nearest``: ``(distance, index)`` of each record's closest training sequence,
    for tasks with :attr:`Task.nearest_reference` whose model has a k-mer reference (else None).
    """

    rows: pd.DataFrame
    logits: np.ndarray
    target: np.ndarray
    unit: np.ndarray
    nearest: tuple[np.ndarray, np.ndarray] | None = None


class Task:
    """One task kind. Subclasses set the class attributes and implement the methods marked as such.

    Attributes:
        name: the ``task`` value of the config, the prepared table and the checkpoint.
        architecture: the network of :func:`seqxent.model.networks.build_model` it trains.
        activation: the output activation, ``"softmax"`` or ``"sigmoid"`` (independent labels): what the
            temperature is fitted on (:mod:`seqxent.calibrate.temperature`) and what an ensemble averages.
        holds_out_classes: whether ``prepare --novel-classes`` may hold whole classes out (open-set evaluation).
        homology_groups: whether records are grouped by homology clusters (and checked for leakage) before
            splitting, besides identical sequences and the group column.
        mixup: whether mixup applies (it mixes whole sequences and their one-hot labels).
        novelty: whether the model gets an abstain rule and novelty scores (``seqxent calibrate``, ``ood``).
        baselines: how ``seqxent baseline`` scores it: ``"labels"``, ``"powerset"`` (label sets as classes) or
            ``None`` (no baselines).
        decisions: whether cost-sensitive decisions (one action per record) apply.
        per_residue: one label per position: predictions have a row per residue (columns ``id``, ``pos``,
            ``aa`` lead), and the PSIPRED formats apply to 3-state models.
        label_sets: the label of a record is a set (``;``-joined); a label is predicted above a threshold.
        nearest_reference: the calibrated model mixes its output with the labels of each record's closest
            training sequence (k-mer containment; ``seqxent calibrate`` stores the reference and fits the mix).
        lineages: one head per rank of a taxonomy (classes ``rank:name``); the writers need the checkpoint's
            taxon tree (:class:`~seqxent.data.taxon_tree.TaxonTree`).
    """

    name = ""
    architecture = "sequence_cnn"
    activation = "softmax"
    holds_out_classes = False
    homology_groups = False
    mixup = False
    novelty = False
    baselines: str | None = None
    decisions = False
    per_residue = False
    label_sets = False
    lineages = False
    nearest_reference = False

    # ----------------------------------------------------------------- labels (prepare, data)

    def label_problem(self, sequence: str, label: str, cfg) -> str:
        """Why a record's (non-empty) label cannot be used, or ``""`` (``cfg``: the ``PrepareConfig``)."""
        return ""

    def check_labels(self, labels: pd.Series, label_column: str) -> None:
        """Warn about suspicious labels of the usable records (a hook; nothing by default)."""

    def exclude_rare(self, labels: pd.Series, usable: pd.Series, reasons: pd.Series, min_per_class: int,
                     separator: str) -> dict:
        """Exclude (set ``reasons``) or trim what has fewer than ``min_per_class`` records; return what was dropped.

        ``labels`` may be rewritten in place (label sets are normalised). Nothing by default.
        """
        return {}

    def stratification_labels(self, labels: Sequence[str]) -> list[str] | None:
        """The labels the train/valid/test split is stratified on (None: not stratified)."""
        return None

    def summary_labels(self, labels: pd.Series) -> list[str]:
        """The label of each record as the split summary counts it (one placeholder: no per-label counts)."""
        return ["-"] * len(labels)

    def split_summary(self, labels: pd.Series, split: np.ndarray, dropped: dict) -> dict:
        """Task-specific entries of ``split_summary.json`` (none by default)."""
        return {}

    def classes(self, data) -> list[str]:
        """Class names of a model trained on the training split of ``data``, in a fixed order (output columns)."""
        return self.label_classes(data.split("train")["label"])

    def class_counts(self, data, classes: Sequence[str]) -> np.ndarray:
        """Training count of each class of ``data`` (in the unit the loss counts)."""
        return self.label_counts(data.split("train")["label"], classes)

    def label_classes(self, labels: pd.Series) -> list[str]:
        """Class names of these labels, in the fixed order of :meth:`classes`."""
        raise NotImplementedError

    def label_counts(self, labels: pd.Series, classes: Sequence[str]) -> np.ndarray:
        """How often each class occurs in these labels."""
        raise NotImplementedError

    def encode_target(self, record_id: str, label: str, length: int, index: Mapping[str, int]):
        """The training target of one record (see :class:`seqxent.data.batching.Example`).

        Raises:
            KeyError: for a label outside ``index`` (turned into an InputError by :meth:`encode`).
        """
        raise NotImplementedError

    def encode(self, ids: Sequence[str], seqs: Sequence[str], labels: Sequence[str] | None, alphabet,
               classes: Sequence[str]) -> list[Example]:
        """Encode cleaned sequences and their labels (None: unlabelled) into :class:`Example` records.

        Raises:
            InputError: for a label outside ``classes`` or a residue label of the wrong length.
        """
        index = {c: i for i, c in enumerate(classes)}
        out = []
        for n, (rid, seq) in enumerate(zip(ids, seqs, strict=True)):
            codes, target = alphabet.to_codes(seq), None
            if labels is not None:
                try:
                    target = self.encode_target(rid, labels[n], len(seq), index)
                except KeyError as err:
                    raise InputError(f"record {rid!r}: label {err.args[0]!r} is not one of the classes "
                                     f"{list(index)}") from None
            out.append(Example(rid, codes, target))
        return out

    def examples(self, data, split: str, classes: Sequence[str]) -> list[Example]:
        """Encoded examples of one split of a :class:`~seqxent.data.dataset.PreparedData`."""
        rows = data.split(split)
        return self.encode(rows["id"].tolist(), rows["sequence"].tolist(), rows["label"].tolist(), data.alphabet,
                           classes)

    # ----------------------------------------------------------------- model and training

    def check_training(self, cfg, alphabet_name: str) -> None:
        """Raise InputError for training settings (a ``TrainConfig``) that this task cannot use."""
        if getattr(cfg, "lineage_head", "ranks") != "ranks" and not self.lineages:
            raise InputError(f"Expected argument `lineage_head` to be 'ranks' for {self.name} tasks (it chooses "
                             f"the output layer of lineage models), but got {cfg.lineage_head!r}")
        if cfg.kmer_k and self.architecture != "sequence_cnn":
            raise InputError(f"Expected argument `kmer_k` to be 0 for {self.name} tasks, but got {cfg.kmer_k}")

    def network(self, cfg, data, classes: Sequence[str], hparams: dict) -> tuple[str, dict, torch.nn.Module]:
        """The architecture name, hyperparameters and a fresh network (:attr:`architecture` by default)."""
        from seqxent.model.networks import build_model

        return self.architecture, hparams, build_model(self.architecture, hparams)

    def loss(self, cfg, class_counts: np.ndarray, classes: Sequence[str] = ()):
        """The training loss of a ``TrainConfig``: ``loss(logits, target, mask) -> LossOutput``."""
        raise NotImplementedError

    def strand_score(self, ckpt):
        """``probs (N, K) -> (N,)``: how confident a prediction is; ``--strand both`` keeps the higher orientation."""
        return lambda probs: probs.max(axis=1)

    def reference_top(self, ckpt) -> int:
        """How many closest reference sequences :meth:`KmerReference.nearest` should list (none: 0)."""
        return 0

    def model_meta(self, data) -> dict:
        """Task-specific entries of a new checkpoint's ``meta`` (none by default)."""
        return {}

    def output(self, ckpt, calibrated: bool = True):
        """``(logits, nearest=None) -> probabilities`` of a checkpoint: the activation at its temperature.

        ``nearest`` (tasks with :attr:`nearest_reference`): ``(distance, index)`` of each record's closest
        training sequence (:meth:`seqxent.calibrate.reference.KmerReference.nearest`); other tasks ignore it.
        Uncalibrated: T = 1 (and no nearest-reference component).
        """
        temperature = ckpt.temperature if calibrated else 1.0
        return lambda logits, nearest=None: self.probs(logits, temperature)

    def probs(self, logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
        """The output activation (:attr:`activation`) of ``logits / temperature``."""
        return ACTIVATIONS[self.activation](logits, temperature)

    @torch.no_grad()
    def validate(self, model, examples: list[Example], collate: Collate, batch_size: int,
                 device, classes: Sequence[str] = ()) -> tuple[float, float]:
        """Validation score: mean cross-entropy (nats per item; early stopping) and accuracy over ``examples``."""
        model.eval()
        total, correct, count = 0.0, 0, 0
        for batch in iterate_batches(examples, collate, batch_size):
            batch = batch.to(device)
            logits = model(batch.x, batch.mask)
            n = int((batch.target != -100).sum())
            total += float(masked_cross_entropy(logits, batch.target)) * n
            correct += int(((logits.argmax(dim=1) == batch.target) & (batch.target != -100)).sum())
            count += n
        return total / max(count, 1), correct / max(count, 1)

    # ----------------------------------------------------------------- calibration and evaluation

    def temperature_problems(self, ckpt, preds: SplitPredictions) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """What ``seqxent calibrate`` fits a temperature to: ``{name: (logits, target)}`` (one problem by default)."""
        return {"all": (preds.logits, preds.target)}

    def store_temperatures(self, ckpt, temperatures: Mapping[str, float]) -> None:
        """Keep the fitted temperature(s) in the checkpoint (one: :attr:`Checkpoint.temperature`)."""
        ckpt.temperature = float(temperatures["all"])

    def split_predictions(self, rows: pd.DataFrame, logits: list[np.ndarray],
                          examples: list[Example]) -> SplitPredictions:
        """Per-record logits and targets of a split, flattened to rows of :class:`SplitPredictions`."""
        raise NotImplementedError

    def evaluate(self, ckpt, preds: SplitPredictions, n_bins: int, n_boot: int, seed: int,
                 threshold: float, train_counts: np.ndarray | None = None) -> dict:
        """The metric blocks of ``metrics.json`` (headline with intervals, metrics, per class, calibration …).

        ``threshold``: probability at which a label of a set is predicted; ``train_counts``: training items per
        class, for the minority-class recall.
        """
        raise NotImplementedError

    def prediction_table(self, ckpt, preds: SplitPredictions, threshold: float) -> dict[str, list | np.ndarray]:
        """Per-record predictions of an evaluated split (``test_predictions.tsv.gz``), column by column."""
        raise NotImplementedError
