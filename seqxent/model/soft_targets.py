"""Losses against probability targets: soft cross-entropy, mixup, distillation and the multi-label BCE, in nats.

Shapes and the padding conventions are those of :mod:`seqxent.model.losses` (channels first, means over the
valid items, a zero attached to the graph when there is none). The configured training loss itself
(:func:`seqxent.model.losses.build_loss`) is built there; :mod:`seqxent.train.objective` adds mixup and
distillation on top of it.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F

from seqxent.model.losses import IGNORE_INDEX, _check_shape, _masked_mean, masked_cross_entropy


def soft_cross_entropy(
    logits: torch.Tensor, soft_target: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy ``-Σ_c q_c log p_c`` against probability targets, mean over (masked) items.

    For mixup, label-smoothing or distillation targets; equals ``F.cross_entropy`` with probability targets.

    Args:
        logits: ``(B, C)`` or ``(B, C, L)`` unnormalised scores.
        soft_target: same shape as ``logits``; each item's distribution lies along dim 1.
        mask: optional ``(B,)`` or ``(B, L)`` bool, True at items to average over.

    Returns:
        Scalar tensor.

    Raises:
        ValueError: if the shapes disagree.

    Example:
        >>> round(float(soft_cross_entropy(torch.zeros(1, 4), torch.tensor([[0.7, 0.1, 0.1, 0.1]]))), 4)
        1.3863
    """
    _check_shape("soft_target", soft_target, logits.shape)
    loss = -(soft_target * F.log_softmax(logits, dim=1)).sum(dim=1)  # (B,) or (B, L)
    if mask is None:
        mask = torch.ones_like(loss, dtype=torch.bool)
    _check_shape("mask", mask, loss.shape)
    return _masked_mean(loss, mask.bool())


class MixedBatch(NamedTuple):
    """Result of :func:`mixup`; unpacks as ``x, mask, target, lam``."""

    x: torch.Tensor
    mask: torch.Tensor | None
    target: torch.Tensor
    lam: float


def mixup(
    x: torch.Tensor,
    mask: torch.Tensor | None,
    target_onehot: torch.Tensor,
    alpha: float,
    generator: torch.Generator | None = None,
) -> MixedBatch:
    """Mixup (Zhang et al. 2018) of a one-hot sequence batch with a permutation of itself.

    Draws one ``λ ~ Beta(α, α)`` per batch (inverse-CDF sampling from a single ``torch.rand`` draw, so the
    result depends only on ``generator``) and a random partner ``π(i)`` (``torch.randperm``; an item may be
    its own partner). Returns ``x' = λ x + (1 - λ) x[π]``, ``target' = λ t + (1 - λ) t[π]`` and
    ``mask' = mask | mask[π]``: the union, because a position held by only one of the two sequences keeps that
    sequence's (down-weighted) one-hot column, provided padding columns of ``x`` are all zero. Train on the
    result with :func:`soft_cross_entropy`.

    Args:
        x: ``(B, C, L)`` float input (one-hot, zero at padding).
        mask: ``(B, L)`` bool or None.
        target_onehot: ``(B, K)`` one-hot (or soft) targets.
        alpha: Beta concentration α > 0; small α gives λ near 0 or 1.
        generator: CPU ``torch.Generator``; None uses the global RNG.

    Returns:
        ``MixedBatch(x, mask, target, lam)``.

    Raises:
        ValueError: for α ≤ 0 or mismatched shapes.
    """
    if not 0 < alpha < math.inf:
        raise ValueError(f"Expected argument `alpha` to be a positive number, but got {alpha!r}")
    if not x.is_floating_point():
        raise ValueError(f"Expected argument `x` to be a float tensor, but got dtype {x.dtype}")
    _check_shape("x", x, ("B", "C", "L"))
    _check_shape("target_onehot", target_onehot, (x.shape[0], "K"))
    if mask is not None:
        _check_shape("mask", mask, (x.shape[0], x.shape[2]))
    from scipy.special import betaincinv  # here, not at the top: scipy adds ~0.2 s to every `seqxent predict` start

    u = torch.rand((), generator=generator, dtype=torch.float64).item()
    lam = float(betaincinv(alpha, alpha, u))
    perm = torch.randperm(x.shape[0], generator=generator).to(x.device)
    x_mixed = lam * x + (1.0 - lam) * x[perm]
    target_mixed = lam * target_onehot + (1.0 - lam) * target_onehot[perm]
    mask_mixed = None if mask is None else mask | mask[perm]
    return MixedBatch(x_mixed, mask_mixed, target_mixed, lam)


def distillation_loss(
    student_logits: torch.Tensor,
    teacher_logits: torch.Tensor,
    target: torch.Tensor,
    alpha: float = 0.5,
    temperature: float = 2.0,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """Knowledge distillation (Hinton et al. 2015): ``(1 - a)·CE(s, y) + a·T²·KL(p_t^T ‖ p_s^T)``.

    ``p^T = softmax(z / T)``; both terms are means over the N valid items (``target != ignore_index``), and
    the teacher is detached. Per item, ``∂KL/∂z_s = (p_s^T - p_t^T) / T``, so the distillation term's gradient
    with respect to the student logits is ``a·T·(p_s^T - p_t^T) / N``; the ``T²`` keeps it on the scale of
    the CE gradient ``(1 - a)(p_s - onehot) / N`` as T changes.

    Args:
        student_logits: ``(B, C)`` or ``(B, C, L)``.
        teacher_logits: same shape as ``student_logits``.
        target: ``(B,)`` or ``(B, L)`` class indices, ``ignore_index`` at padding.
        alpha: weight a in [0, 1] of the distillation term.
        temperature: T > 0.
        ignore_index: target value that marks padding.

    Returns:
        Scalar tensor.

    Raises:
        ValueError: for invalid ``alpha``, ``temperature`` or shapes.
    """
    if not 0 <= alpha <= 1:
        raise ValueError(f"Expected argument `alpha` to be a number in [0, 1], but got {alpha!r}")
    if not 0 < temperature < math.inf:
        raise ValueError(f"Expected argument `temperature` to be a positive number, but got {temperature!r}")
    _check_shape("teacher_logits", teacher_logits, student_logits.shape)
    ce = masked_cross_entropy(student_logits, target, ignore_index=ignore_index)
    log_p_student = F.log_softmax(student_logits / temperature, dim=1)
    log_p_teacher = F.log_softmax(teacher_logits.detach() / temperature, dim=1)
    kl = (log_p_teacher.exp() * (log_p_teacher - log_p_student)).sum(dim=1)  # (B,) or (B, L)
    kl = _masked_mean(kl, target != ignore_index)
    return (1.0 - alpha) * ce + alpha * temperature**2 * kl


def multilabel_bce(
    logits: torch.Tensor, target: torch.Tensor, pos_weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Sum over the K labels of binary cross-entropy with logits, mean over the B items.

    Summing (not averaging) over labels makes each label's gradient independent of K, as in the issue's
    "sum of binary cross-entropies"; divide by K for ``BCEWithLogitsLoss``'s mean over all entries.

    Args:
        logits: ``(B, K)`` one logit per label.
        target: ``(B, K)`` float multi-hot (or soft) targets in [0, 1].
        pos_weight: optional ``(K,)`` weight of the positive term of each label, as in ``BCEWithLogitsLoss``.

    Returns:
        Scalar tensor.

    Raises:
        ValueError: if the shapes disagree or are not 2-D.

    Example:
        >>> round(float(multilabel_bce(torch.zeros(1, 3), torch.tensor([[1.0, 0.0, 1.0]]))), 4)  # 3 · ln 2
        2.0794
    """
    _check_shape("logits", logits, ("B", "K"))
    _check_shape("target", target, logits.shape)
    loss = F.binary_cross_entropy_with_logits(logits, target, pos_weight=pos_weight, reduction="none")
    return loss.sum() / max(logits.shape[0], 1)  # sum over (B, K), mean over B
