"""Scores of a baseline or peer on the query split, with the model's own metric definitions.

A peer table compares the model with each baseline, so every number in it comes from the function that
scores the model: accuracy and macro-F1 from :mod:`seqxent.metrics.classification` (single-label), the
headline metrics of a multi-label model from :mod:`seqxent.metrics.multilabel` (label powerset).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqxent.data.labels import THRESHOLD, multi_hot
from seqxent.metrics import classification as metrics
from seqxent.metrics import multilabel as mm
from seqxent.tasks.multilabel import HEADLINE


def encode_predictions(labels: Sequence[str | None], truth: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of predicted and true labels, for the model's metric functions.

    Classes are the sorted union of the true and the predicted labels; an unassigned query (``None``) gets one
    code of its own after them, so it is always wrong and, like any predicted class absent from the truth,
    takes part in the macro average with F1 = 0.

    Args:
        labels: predicted label of each query, ``None`` when the method gave none.
        truth: true label of each query.

    Returns:
        ``(preds, target)``: two int64 arrays of shape ``(N,)``.

    Example:
        >>> preds, target = encode_predictions(["a", "c", None], ["a", "b", "b"])  # classes a, b, c; None = 3
        >>> preds.tolist(), target.tolist()
        ([0, 2, 3], [0, 1, 1])
    """
    classes = sorted(set(truth) | {label for label in labels if label is not None})
    index = {name: i for i, name in enumerate(classes)}
    preds = np.array([len(classes) if label is None else index[label] for label in labels], dtype=np.int64)
    return preds, np.array([index[label] for label in truth], dtype=np.int64)


def score_result(result, truth: list[str]) -> dict:
    """Accuracy and macro-F1 from labels (a skipped query counts as wrong); log-loss when probabilities exist.

    Macro-F1 is :func:`seqxent.metrics.classification.macro_f1`, the model's: the mean F1 over the classes
    in the truth or in the predictions (a predicted class absent from the truth, or "unassigned", scores 0).

    Args:
        result: a :class:`~seqxent.baseline.methods.MethodResult`.
        truth: true label of each query, in query order.

    Returns:
        ``n_items``, ``accuracy``, ``macro_f1``, ``n_unassigned`` and ``seconds``; with probabilities also
        ``log_loss_nats``, ``log_loss_bits`` and ``brier`` over the queries of classes seen in training
        (None when there is none); for a method with its own confidence cut-off (``result.cutoff``, e.g.
        ``qiime_nb``) also the calls at that cut-off (:func:`score_at_cutoff`). ``accuracy`` and
        ``macro_f1`` always score the forced calls.

    Example:
        >>> from types import SimpleNamespace
        >>> result = SimpleNamespace(labels=["a", "c", "b"], probs=None, seconds=0.5)
        >>> out = score_result(result, ["a", "b", "b"])  # F1: a 1, b 2/3, c 0 (predicted, never true)
        >>> round(out["accuracy"], 4), round(out["macro_f1"], 4)
        (0.6667, 0.5556)
    """
    preds, target = encode_predictions(result.labels, truth)
    out = {"n_items": len(truth), "accuracy": metrics.accuracy(preds, target),
           "macro_f1": metrics.macro_f1(preds, target),
           "n_unassigned": sum(lab is None for lab in result.labels), "seconds": result.seconds}
    if result.probs is not None:
        index = {c: i for i, c in enumerate(result.classes)}
        known = np.array([t in index for t in truth])
        target = np.array([index.get(t, 0) for t in truth])
        # Labels absent from training have probability 0 under the baseline: log-loss on the known ones only.
        out["log_loss_nats"] = metrics.log_loss(result.probs[known], target[known]) if known.any() else None
        out["log_loss_bits"] = out["log_loss_nats"] / np.log(2) if known.any() else None
        out["brier"] = metrics.brier_score(result.probs[known], target[known]) if known.any() else None
    if getattr(result, "cutoff", None) is not None and getattr(result, "confidence", None) is not None:
        out.update(score_at_cutoff(result.labels, result.confidence, truth, result.cutoff))
    return out


def score_at_cutoff(labels: Sequence[str | None], confidence, truth: Sequence[str], cutoff: float) -> dict:
    """The calls that a confidence cut-off keeps, as classify-sklearn makes them (a flat label: one rank).

    A call passes when its confidence is at least ``cutoff`` (classify-sklearn's ``--p-confidence``, whose
    reads below it become "Unassigned"); a query without a label or with a NaN confidence never passes.

    Args:
        labels: forced call of each query, ``None`` when the method gave none.
        confidence: ``(N,)`` confidence of each call.
        truth: true label of each query.
        cutoff: the confidence cut-off, in [0, 1].

    Returns:
        ``confidence_cutoff``, ``n_unassigned_at_cutoff`` (queries whose call does not pass) and
        ``assigned_accuracy_at_cutoff``: the share of passing calls that are right (None when none passes).

    Example:
        >>> score_at_cutoff(["a", "b", "b", None], [0.9, 0.7, 0.6, float("nan")], ["a", "a", "b", "b"], 0.7)
        {'confidence_cutoff': 0.7, 'n_unassigned_at_cutoff': 2, 'assigned_accuracy_at_cutoff': 0.5}
    """
    confidence = np.asarray(confidence, dtype=float)
    labelled = np.array([lab is not None for lab in labels], dtype=bool)
    passed = labelled & (np.nan_to_num(confidence, nan=-1.0) >= cutoff)  # NaN: no confidence, never passes
    right = np.array([lab == true for lab, true in zip(labels, truth, strict=True)], dtype=bool)
    return {"confidence_cutoff": cutoff, "n_unassigned_at_cutoff": int((~passed).sum()),
            "assigned_accuracy_at_cutoff": float(right[passed].mean()) if passed.any() else None}


# The multi-label model's headline metrics, and the Jaccard index.
_POWERSET_SCORES = {**HEADLINE, "jaccard": mm.jaccard}


def score_powerset_baseline(result, truth: list[str], classes: list[str], threshold: float = THRESHOLD) -> dict:
    """Scores of a single-label baseline run on label *sets* as classes (the label-powerset reduction).

    A baseline (:func:`seqxent.baseline.methods.run_method`) trained on the training label strings predicts one
    label set per query, or probabilities over the label sets seen in training; a label's probability is then
    the summed probability of the sets that contain it. Skipped queries predict the empty set. Scores use the
    labels ``classes`` (the model's), so they line up with the model's own ``metrics`` block.

    Example:
        >>> from types import SimpleNamespace
        >>> result = SimpleNamespace(classes=["a", "a;b"], probs=np.array([[0.25, 0.75]]), labels=["a;b"],
        ...                          seconds=0.1)
        >>> out = score_powerset_baseline(result, ["a"], ["a", "b"])
        >>> out["hamming_loss"], out["brier"]
        (0.5, 0.28125)
    """
    index = {c: i for i, c in enumerate(classes)}
    target = np.array([multi_hot(label, index) for label in truth]).reshape(len(truth), len(classes))
    if result.probs is not None:
        membership = np.array([multi_hot(label, index) for label in result.classes])  # (sets, K)
        probs = np.clip(result.probs @ membership, 0.0, 1.0)  # (N, sets) @ (sets, K) -> (N, K)
    else:
        probs = np.array([multi_hot(label or "", index) for label in result.labels]).reshape(target.shape)
    out = {"n_items": int(target.size), **{name: f(probs, target, threshold) for name, f in _POWERSET_SCORES.items()},
           "n_unassigned": sum(label is None for label in result.labels), "seconds": result.seconds}
    if result.probs is not None:
        out.update(log_loss_bits=mm.binary_log_loss(probs, target, 2), brier=mm.brier_score(probs, target),
                   macro_average_precision=mm.multilabel_metrics(probs, target, classes)["macro_average_precision"])
    return mm.to_json_value(out)
