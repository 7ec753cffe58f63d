"""Scores of a baseline or peer on the query split, with the model's own metric definitions.

A peer table compares the model with each baseline, so every number in it comes from the function that
scores the model: accuracy and macro-F1 from :mod:`seqxent.metrics.classification` (single-label), the
headline metrics of a multi-label model from :mod:`seqxent.metrics.multilabel` (label powerset).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from seqxent.data.labels import THRESHOLD, multi_hot
from seqxent.data.taxon_tree import NO_CALL, TaxonTree, class_name
from seqxent.metrics import classification as metrics
from seqxent.metrics import multilabel as mm
from seqxent.metrics.taxonomy import classification_rates, forced_accuracy
from seqxent.tasks.lineage import LineageTask
from seqxent.tasks.multilabel import HEADLINE

if TYPE_CHECKING:
    import pandas as pd

    from seqxent.baseline.lineage_peers import LineageCalls


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


def encode_calls(tree: TaxonTree, calls: Sequence[Sequence[str]]) -> np.ndarray:
    """``(N, R)`` class index of each call in ``tree``; :data:`NO_CALL` for ``""`` or a name it lacks.

    Example:
        >>> tree = TaxonTree.from_lineages([["A", "a1"], ["B", "b1"]], ["phylum", "genus"])
        >>> encode_calls(tree, [["B", "a1"], ["", "zz"]]).tolist()
        [[1, 2], [-2, -2]]
    """
    index = {c: i for i, c in enumerate(tree.classes)}
    out = np.full((len(calls), len(tree.ranks)), NO_CALL, dtype=np.int64)
    for n, row in enumerate(calls):
        for r, (rank, name) in enumerate(zip(tree.ranks, row, strict=True)):
            if name:
                out[n, r] = index.get(class_name(rank, name), NO_CALL)
    return out


def rates_at_cutoff(truth, calls, stands, known, ranks: Sequence[str], n_boot: int = 0, seed: int = 0) -> dict:
    """:func:`~seqxent.metrics.taxonomy.classification_rates` where a call stands wherever ``stands`` says.

    Rank by rank (each rank's rates and intervals only use its own column, so with ``stands`` a prefix of
    ``depth`` ranks this equals one call with that ``depth``); a call that does not stand is no call.

    Args:
        truth: ``(N, R)`` true class indices (MISSING where not named, -1 for a novel taxon).
        calls: ``(N, R)`` called class indices.
        stands: ``(N, R)`` booleans.
        known: ``(N, R)`` booleans: the true taxon is a class.
        ranks: the ``R`` rank names.
        n_boot: bootstrap replicates of the intervals (0: none).
        seed: seed of the bootstrap.
    """
    truth, calls, stands, known = (np.asarray(a) for a in (truth, calls, stands, known))
    out = {}
    for r, rank in enumerate(ranks):
        col = slice(r, r + 1)
        out.update(classification_rates(truth[:, col], calls[:, col], stands[:, r].astype(np.int64), known[:, col],
                                         [rank], n_boot=n_boot, seed=seed))
    return out


def score_lineage_calls(result: LineageCalls, train_rows: pd.DataFrame, query_rows: pd.DataFrame,
                        n_boot: int = 1000, seed: int = 1) -> dict:
    """Per-rank forced accuracy and IDTAXA rates at the peer's cut-off, on the classes of the lineage model.

    Args:
        result: the peer's calls on ``query_rows`` (same order).
        train_rows: the training split (its lineages are the model's classes).
        query_rows: the scored split, with a column per rank.
        n_boot: bootstrap replicates of the intervals.
        seed: seed of the bootstrap.

    Returns:
        ``{"cutoff", "per_rank": {rank: {"n", "n_known", "accuracy": {"value", "ci95"}, "accuracy_known",
        "rates_at_cutoff"}}}``: ``accuracy`` of the forced calls over the records naming the rank (a novel taxon
        is always wrong), ``accuracy_known`` over those whose taxon is a class, ``rates_at_cutoff`` the block of
        :func:`~seqxent.metrics.taxonomy.classification_rates`.

    Raises:
        ValueError: if the query ids differ from ``result.ids``.
    """
    if list(query_rows["id"]) != list(result.ids):
        raise ValueError("Expected argument `query_rows` to hold the queries of `result`, in the same order")
    ranks = result.ranks
    tree = TaxonTree.from_lineages(train_rows[ranks].to_numpy().tolist(), ranks)
    truth, known = LineageTask.truth(tree, query_rows)
    calls = encode_calls(tree, result.calls)
    named = np.array([[bool(name) for name in row] for row in result.calls], dtype=bool).reshape(calls.shape)
    stands = (np.arange(len(ranks))[None, :] < result.depth[:, None]) & named  # (R,) vs (N, 1) -> (N, R)
    rates = rates_at_cutoff(truth, calls, stands, known, ranks, n_boot, seed)
    forced = forced_accuracy(truth, calls, ranks, n_boot=n_boot, seed=seed)
    forced_known = forced_accuracy(truth, calls, ranks, known=known)
    per_rank = {rank: {"n": forced[rank]["n"], "n_known": rates[rank]["n_known"],
                       "accuracy": {"value": forced[rank]["accuracy"], "ci95": forced[rank].get("ci")},
                       "accuracy_known": forced_known[rank]["accuracy"], "rates_at_cutoff": rates[rank]}
                for rank in ranks}
    return {"cutoff": result.cutoff, "per_rank": per_rank}
