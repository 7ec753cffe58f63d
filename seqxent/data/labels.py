"""Multi-label sequence classification: label sets, multi-hot targets, the loss, sigmoid temperature.

A multi-label record carries a *set* of labels (e.g. the countries where a barcode's BIN was sampled). In
the prepared table (``dataset.tsv.gz``) the set is one string, its labels sorted, deduplicated and joined
by ``;`` (``"Canada;United States"``). The network is the sequence CNN with one logit per label: ``(B, K)``
logits, independent sigmoids, trained with the sum over labels of binary cross-entropies
(:func:`seqxent.train.losses.multilabel_bce`). Calibration divides every logit by one shared temperature, fitted
by minimising that loss on the validation split; a label is predicted when its probability is at least a
threshold (0.5 by default); :mod:`seqxent.predict.formats` writes the predictions.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import torch

from seqxent.calibrate.temperature import MAX_TEMPERATURE, MIN_TEMPERATURE, check_prior_sd, prior_penalty
from seqxent.errors import InputError
from seqxent.train.losses import LossOutput, multilabel_bce

#: Joins the labels of one record in the prepared table and in predictions.
SEPARATOR = ";"
#: Default probability at or above which a label is predicted.
THRESHOLD = 0.5


def normalize_labels(label: str, separator: str = SEPARATOR) -> str:
    """Split a label cell on ``separator`` and join its distinct, stripped, non-empty labels sorted with ``;``.

    Raises:
        InputError: when ``separator`` is empty, or a label contains ``;`` (possible with another separator).

    Example:
        >>> normalize_labels(" Spain;France ;; Spain")
        'France;Spain'
        >>> normalize_labels("b|a", separator="|")
        'a;b'
    """
    if not separator:
        raise InputError("Expected argument `label_separator` to be a non-empty string, but got ''")
    parts = {part.strip() for part in label.split(separator)} - {""}
    bad = sorted(part for part in parts if SEPARATOR in part)
    if bad:
        raise InputError(f"Expected labels without {SEPARATOR!r} (it joins the labels of a record), "
                         f"but got {bad[0]!r} in {label!r}")
    return SEPARATOR.join(sorted(parts))


def split_labels(label: str) -> list[str]:
    """The labels of a normalized label string (``""`` → no labels).

    Example:
        >>> split_labels("Canada;United States"), split_labels("")
        (['Canada', 'United States'], [])
    """
    return [part for part in label.split(SEPARATOR) if part]


def label_counts(labels: Iterable[str]) -> Counter:
    """Number of records carrying each label."""
    return Counter(part for label in labels for part in split_labels(label))


def drop_rare_labels(labels: Sequence[str], min_count: int) -> tuple[list[str], dict[str, int]]:
    """Remove labels carried by fewer than ``min_count`` of the records from every label set.

    Returns:
        The new label strings (``""`` where nothing is left) and the removed labels with their counts.

    Example:
        >>> drop_rare_labels(["a;b", "a", "a;c", "c"], min_count=2)
        (['a', 'a', 'a;c', 'c'], {'b': 1})
    """
    counts = label_counts(labels)
    rare = {lab: n for lab, n in sorted(counts.items()) if n < min_count}
    kept = [SEPARATOR.join(p for p in split_labels(label) if p not in rare) for label in labels]
    return kept, rare


def stratification_labels(labels: Sequence[str]) -> list[str]:
    """The rarest label of each record (ties by name), to stratify splits so rare labels reach train.

    Example:
        >>> stratification_labels(["a;b", "a", "b;c", "a"])
        ['b', 'a', 'c', 'a']
    """
    counts = label_counts(labels)
    return [min(split_labels(label), key=lambda lab: (counts[lab], lab), default="") for label in labels]


def multi_hot(label: str, index: Mapping[str, int]) -> np.ndarray:
    """Float32 multi-hot vector ``(K,)`` of a label string; labels outside ``index`` (unseen in training) are left out.

    Example:
        >>> multi_hot("a;c;z", {"a": 0, "b": 1, "c": 2}).tolist()
        [1.0, 0.0, 1.0]
    """
    out = np.zeros(len(index), dtype=np.float32)
    for part in split_labels(label):
        if part in index:
            out[index[part]] = 1.0
    return out


def sigmoid(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Independent label probabilities ``sigmoid(logits / temperature)`` (same shape as ``logits``).

    Example:
        >>> sigmoid(np.array([0.0, np.log(3.0)])).round(3).tolist()
        [0.5, 0.75]
    """
    if not temperature > 0:
        raise InputError(f"Expected argument `temperature` to be > 0, but got {temperature}")
    from scipy.special import expit  # here, not at the top: scipy adds ~0.5 s to every `seqxent predict` start

    return expit(np.asarray(logits, dtype=np.float64) / temperature)


def predicted_labels(probs: np.ndarray, classes: Sequence[str], threshold: float = THRESHOLD) -> str:
    """The ``;``-joined labels whose probability is at least ``threshold`` (``""`` when none).

    Example:
        >>> predicted_labels(np.array([0.9, 0.2, 0.5]), ["a", "b", "c"])
        'a;c'
    """
    return SEPARATOR.join(c for c, p in zip(classes, probs, strict=True) if p >= threshold)


def check_threshold(threshold: float) -> float:
    """Return ``threshold`` when it is a number in [0, 1].

    Raises:
        InputError: otherwise.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise InputError(f"Expected argument `threshold` to be a number in [0, 1], but got {threshold!r}")
    return float(threshold)


# --------------------------------------------------------------------------- training


class MultilabelLoss:
    """Training loss of multi-label models: ``loss(logits, target, mask) -> LossOutput``.

    ``total`` is :func:`~seqxent.train.losses.multilabel_bce` (summed over labels, mean over records); its value is
    also reported as ``parts["ce"]`` (nats per record), the history's cross-entropy column. ``mask`` (the
    padding mask of the sequences) is accepted for the common training-loop signature and not used.
    """

    def __call__(self, logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> LossOutput:
        """Summed binary cross-entropy of ``logits`` (B, K) against multi-hot ``target`` (B, K)."""
        total = multilabel_bce(logits, target.to(logits.dtype))
        return LossOutput(total, {"ce": float(total.detach())})


#: Training settings that the multi-label loss does not implement, with their neutral values.
UNSUPPORTED_SETTINGS = {"loss": "ce", "class_weighting": "none", "label_smoothing": 0.0, "focal_alpha": 0.0,
                        "pos_weight": 0.0, "mixup_alpha": 0.0, "teacher": ""}


def build_multilabel_loss(settings: Mapping[str, object]) -> MultilabelLoss:
    """The multi-label loss, after checking that ``settings`` (training settings) use nothing it lacks.

    Raises:
        InputError: for a setting of :data:`UNSUPPORTED_SETTINGS` away from its neutral value.

    Example:
        >>> build_multilabel_loss({"loss": "focal"})
        Traceback (most recent call last):
        ...
        seqxent.errors.InputError: Expected argument `loss` to be 'ce' for task 'multilabel', but got 'focal'
    """
    for name, neutral in UNSUPPORTED_SETTINGS.items():
        value = settings.get(name, neutral)
        if value != neutral:
            raise InputError(f"Expected argument `{name}` to be {neutral!r} for task 'multilabel', but got {value!r}")
    return MultilabelLoss()


@torch.no_grad()
def validate_multilabel(model, examples, collate, batch_size: int, device,
                        threshold: float = THRESHOLD) -> tuple[float, float]:
    """Mean summed binary cross-entropy (nats per record) and subset accuracy (all labels right) over ``examples``."""
    from seqxent.data.batching import iterate_batches  # here: seqxent.data.batching imports this module

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


# --------------------------------------------------------------------------- calibration


def sigmoid_nll(logits: np.ndarray, target: np.ndarray, temperature: float = 1.0) -> float:
    """Mean over records of the summed binary cross-entropy (nats) of ``sigmoid(logits / T)``.

    Example:
        >>> round(sigmoid_nll(np.zeros((1, 2)), np.array([[1.0, 0.0]])), 6)  # 2 ln 2
        1.386294
    """
    if not temperature > 0:
        raise InputError(f"Expected argument `temperature` to be > 0, but got {temperature}")
    z = np.asarray(logits, dtype=np.float64) / temperature
    y = np.asarray(target, dtype=np.float64)
    return float((np.logaddexp(0.0, z) - y * z).sum(axis=-1).mean())


def fit_sigmoid_temperature(logits: np.ndarray, target: np.ndarray, prior_sd: float = 0.0) -> float:
    """One temperature for all sigmoids, minimising :func:`sigmoid_nll` on held-out data.

    With ``prior_sd > 0``, the summed NLL plus ``(log T)^2 / (2 prior_sd^2)`` (a normal prior on ``log T``
    centred at ``T = 1``, as :func:`seqxent.calibrate.temperature.fit_temperature`).

    The loss is convex in ``1 / T``, so it is unimodal in ``log T``; a bounded Brent search over
    ``log T`` in ``[log MIN_TEMPERATURE, log MAX_TEMPERATURE]`` finds its minimum, and the result is never
    worse than ``T = 1`` or either bound. Dividing by ``T`` keeps every label's ranking (AUROC, average
    precision) and the sign of every logit, so the predictions at threshold 0.5 stay the same; at other
    thresholds they may change.

    Raises:
        InputError: for shapes that differ or are not 2-D, no records, or non-finite logits.

    Example:
        >>> logits = np.array([[4.0], [4.0], [4.0]])
        >>> round(fit_sigmoid_temperature(logits, np.array([[1.0], [1.0], [0.0]])), 3)  # p = 2/3: 4 / ln 2
        5.771
    """
    logits, target = np.asarray(logits, dtype=np.float64), np.asarray(target, dtype=np.float64)
    if logits.ndim != 2 or logits.shape != target.shape or not logits.size:
        raise InputError(f"Expected `logits` and `target` of one shape (N, K) with N, K > 0, but got "
                         f"{logits.shape} and {target.shape}")
    if not np.isfinite(logits).all():
        raise InputError("Expected argument `logits` to be finite, but got NaN or infinite values")
    from scipy.optimize import minimize_scalar  # here, not at the top: see `sigmoid`

    check_prior_sd(prior_sd)

    def objective(log_t: float) -> float:
        nll = sigmoid_nll(logits, target, math.exp(log_t))
        return nll * len(logits) + prior_penalty(log_t, prior_sd) if prior_sd else nll

    low, high = math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE)
    found = minimize_scalar(objective, bounds=(low, high), method="bounded", options={"xatol": 1e-7})
    candidates = [float(math.exp(found.x)), MIN_TEMPERATURE, MAX_TEMPERATURE, 1.0]
    return min(candidates, key=lambda t: objective(math.log(t)))


def calibrate_multilabel(logits: np.ndarray, target: np.ndarray,
                         prior_sd: float = 0.0) -> tuple[float, dict[str, float]]:
    """Fitted temperature and the validation NLL (nats per record, summed over labels) before and after it."""
    temperature = fit_sigmoid_temperature(logits, target, prior_sd)
    return temperature, {"valid_nll_before": sigmoid_nll(logits, target),
                         "valid_nll_after": sigmoid_nll(logits, target, temperature)}
