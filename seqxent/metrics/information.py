"""Cross-entropy in bits against the best constant predictor: the ``information`` block of ``metrics.json``.

One :func:`information_summary` serves both kinds of target (``kind=``, like torchmetrics' ``task=``):

- ``"multiclass"``: ``probs`` (N, C) with rows summing to 1 and ``target`` (N,) class indices;
- ``"multilabel"``: ``probs`` (N, K) of independent label probabilities and ``target`` (N, K) multi-hot,
  the cross-entropy of a record being the sum of its labels' binary cross-entropies.

:func:`_cross_entropy` is the one computation of the log loss (:func:`seqxent.metrics.classification.log_loss`).
"""

from __future__ import annotations

import math

import numpy as np

from seqxent.metrics._checks import _CLIP, _check_choice, _prepare, _ratio, to_json_value
from seqxent.metrics.multilabel import _validate, binary_log_loss

#: Kinds of target :func:`information_summary` takes.
KINDS = ("multiclass", "multilabel")


def _cross_entropy(probs: np.ndarray, target: np.ndarray, base: str | int) -> float:
    """Mean -log p(y|x) over items in nats (base ``"e"``) or bits (2), p clipped at 1e-15; nan without items."""
    total = -np.sum(np.log(np.clip(probs[np.arange(target.size), target], _CLIP, 1.0)))
    return _ratio(total, target.size) / (math.log(2) if base == 2 else 1.0)


def _multiclass_information(probs, target, ignore_index: int | None, validate_args: bool) -> dict[str, float]:
    probs, target, n_classes = _prepare(probs, target, ignore_index, validate_args)
    marginal = np.bincount(target, minlength=n_classes) / max(target.size, 1)  # q
    mean_probs = np.clip(probs.mean(axis=0), _CLIP, 1.0) if target.size else np.full(n_classes, math.nan)
    seen = marginal > 0
    entropy = float(-np.sum(marginal[seen] * np.log2(marginal[seen])))
    kl = float(np.sum(marginal[seen] * (np.log2(marginal[seen]) - np.log2(mean_probs[seen]))))
    ce = _cross_entropy(probs, target, base=2)
    safe = np.clip(probs, _CLIP, 1.0)
    out = {"n_items": target.size, "n_classes": n_classes, "ce_bits": ce, "label_entropy_bits": entropy,
           "uniform_bits": math.log2(n_classes), "kl_marginal_bits": kl, "marginal_ce_bits": entropy + kl,
           "information_gain_bits": entropy - ce,
           "mean_entropy_bits": _ratio(-np.sum(probs * np.log2(safe)), target.size)}
    if not target.size:
        out.update(label_entropy_bits=math.nan, kl_marginal_bits=math.nan, marginal_ce_bits=math.nan)
    return out


def _multilabel_information(probs, target) -> dict[str, float]:
    probs, target = _validate(probs, target)
    q = target.mean(axis=0)
    inner = (q > 0) & (q < 1)
    entropy = float(-(q[inner] * np.log2(q[inner]) + (1 - q[inner]) * np.log2(1 - q[inner])).sum())
    ce = binary_log_loss(probs, target, 2)
    return {"n_records": len(target), "n_labels": probs.shape[1], "ce_bits": ce, "label_entropy_bits": entropy,
            "uniform_bits": float(probs.shape[1]), "information_gain_bits": entropy - ce}


def information_summary(probs, target, kind: str = "multiclass", ignore_index: int | None = None,
                        validate_args: bool = True) -> dict[str, float]:
    """Cross-entropy of the model against reference points, in bits per item (multiclass) or record (multilabel).

    ``ce_bits`` is the model's mean cross-entropy and ``label_entropy_bits`` that of the best constant
    predictor, the one that gives every item the label frequencies ``q`` of these items: H(q) for multiclass,
    the sum of the labels' binary entropies H(q_k) for multilabel. ``information_gain_bits`` = label entropy
    - ce_bits: bits per item gained over the best constant predictor (negative if worse). ``uniform_bits`` is
    the cost of the uniform predictor: log2 C, or K (p = ½ for every label).

    Multiclass only: with p̄ the mean predicted distribution, the constant predictor p̄ scores
    CE(q, p̄) = H(q) + KL(q‖p̄) (``marginal_ce_bits``), so KL(q‖p̄) (``kl_marginal_bits``) is the cost of the
    model's label frequencies alone. Per item, CE = -log2 p(y|x) = H(y) + KL(y‖p) with one-hot y and
    H(y) = 0, so ``ce_bits`` is the mean KL to the one-hot targets. ``mean_entropy_bits`` is the mean entropy
    of the predictions.

    Args:
        probs: Probabilities (N, C) (multiclass) or (N, K) (multilabel).
        target: True classes (N,) (multiclass) or multi-hot labels (N, K) (multilabel).
        kind: ``"multiclass"`` (class indices) or ``"multilabel"`` (multi-hot targets).
        ignore_index: Target value of items to drop (multiclass only).
        validate_args: Check shapes and value ranges (multilabel inputs are always checked).

    Returns:
        JSON-serialisable dict (nan written as None). Multiclass: ``n_items``, ``n_classes``, ``ce_bits``,
        ``label_entropy_bits``, ``uniform_bits``, ``kl_marginal_bits``, ``marginal_ce_bits``,
        ``information_gain_bits``, ``mean_entropy_bits``. Multilabel: ``n_records``, ``n_labels``,
        ``ce_bits``, ``label_entropy_bits``, ``uniform_bits``, ``information_gain_bits``.

    Raises:
        ValueError: For an unknown `kind`, `ignore_index` with ``kind="multilabel"``, or inputs of the wrong
            shape, dtype or range.

    Example:
        >>> info = information_summary([[0.5, 0.5], [0.5, 0.5]], [0, 1])
        >>> [info[k] for k in ("ce_bits", "label_entropy_bits", "kl_marginal_bits", "information_gain_bits")]
        [1.0, 1.0, 0.0, 0.0]
        >>> info = information_summary([[0.5, 0.5], [0.5, 0.5]], [[1, 0], [0, 0]], kind="multilabel")
        >>> [info[k] for k in ("ce_bits", "label_entropy_bits", "uniform_bits", "information_gain_bits")]
        [2.0, 1.0, 2.0, -1.0]
    """
    _check_choice("kind", kind, KINDS)
    if kind == "multiclass":
        return to_json_value(_multiclass_information(probs, target, ignore_index, validate_args))
    if ignore_index is not None:
        raise ValueError(f"Expected argument `ignore_index` to be None for kind 'multilabel', but got {ignore_index!r}")
    return to_json_value(_multilabel_information(probs, target))
