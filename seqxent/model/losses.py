"""Training losses for sequence and per-residue classifiers, in nats.

Logits are channels-first: ``(B, C)`` for sequence tasks and ``(B, C, L)`` for residue tasks. Integer targets
are ``(B,)`` or ``(B, L)`` with padding set to ``ignore_index`` (-100, ``CrossEntropyLoss``'s default); a bool
``mask`` ``(B, L)`` is True at real residues. Every loss reduces to a scalar mean over the valid items
(sequences or residues). When a batch holds no valid item the losses return a zero that is still attached to
the graph (``logits.sum() * 0``), never NaN, so ``backward()`` always works. Logits must be finite.
Losses against probability targets (mixup, distillation, multi-label BCE): :mod:`seqxent.model.soft_targets`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

IGNORE_INDEX = -100
WEIGHTING_SCHEMES = ("none", "inverse", "effective")
LOSS_KINDS = ("ce", "focal")
_LN2 = math.log(2.0)


def _check_shape(name: str, tensor: torch.Tensor, expected: Sequence[int | str]) -> None:
    if len(tensor.shape) != len(expected) or any(
        isinstance(e, int) and e != n for e, n in zip(expected, tensor.shape, strict=True)
    ):
        shown = "(" + ", ".join(str(e) for e in expected) + ")"
        raise ValueError(f"Expected argument `{name}` to have shape {shown}, but got {tuple(tensor.shape)}")


def _check_logits_target(logits: torch.Tensor, target: torch.Tensor) -> None:
    if logits.dim() not in (2, 3):
        raise ValueError(
            f"Expected argument `logits` to have shape (B, C) or (B, C, L), but got {tuple(logits.shape)}"
        )
    _check_shape("target", target, (logits.shape[0], *logits.shape[2:]))


def _masked_mean(values: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """Mean of ``values`` where ``valid``; 0 (with graph) when nothing is valid. ``where`` keeps NaN out."""
    return torch.where(valid, values, 0.0).sum() / valid.sum().clamp_min(1)


def masked_cross_entropy(
    logits: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    label_smoothing: float = 0.0,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """Cross-entropy averaged over the items whose target is not ``ignore_index``.

    Same value as ``torch.nn.functional.cross_entropy(..., reduction="mean")``: with class weights it is the
    weighted mean ``sum_i w_{y_i} l_i / sum_i w_{y_i}`` (so weight 2 for a class equals duplicating its
    items), and label smoothing ``ε`` uses the target ``(1 - ε)·onehot + ε/C``. Unlike torch it returns 0
    instead of NaN when no item is valid (or all valid items have weight 0).

    Args:
        logits: ``(B, C)`` or ``(B, C, L)`` unnormalised scores.
        target: ``(B,)`` or ``(B, L)`` class indices, ``ignore_index`` at padding.
        weight: optional ``(C,)`` class weights, e.g. from :func:`class_weights`.
        label_smoothing: ε in [0, 1].
        ignore_index: target value that marks padding.

    Returns:
        Scalar tensor.

    Raises:
        ValueError: if the shapes of ``logits`` and ``target`` disagree.

    Example:
        >>> round(float(masked_cross_entropy(torch.zeros(2, 2), torch.tensor([0, -100]))), 4)
        0.6931
    """
    _check_logits_target(logits, target)
    valid = target != ignore_index
    denominator = valid.sum() if weight is None else weight[target[valid]].sum()
    if denominator == 0:
        return logits.sum() * 0.0
    return F.cross_entropy(
        logits, target, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing
    )


def adjacent_jsd(logits: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Mean Jensen–Shannon divergence (nats) between the predictions of neighbouring residues.

    ``JSD(p, q) = ½ KL(p ‖ m) + ½ KL(q ‖ m)`` with ``m = (p + q) / 2``, computed from log-probabilities with
    ``log m = logaddexp(log p, log q) - ln 2``; it lies in ``[0, ln 2]``. Only pairs ``(i, i + 1)`` with both
    positions inside ``mask`` count, so chain ends, padding and gaps in the mask are excluded. Used as the
    smoothness penalty of the residue model: ``loss = CE + λ·JSD``.

    Args:
        logits: ``(B, C, L)`` unnormalised scores.
        mask: ``(B, L)`` bool, True at real residues; None means all positions are real.

    Returns:
        Scalar tensor; 0 when there is no valid pair.

    Raises:
        ValueError: if ``logits`` is not 3-D or ``mask`` has the wrong shape.

    Example:
        >>> logits = torch.tensor([[[0.0, 0.0, 5.0], [0.0, 0.0, -5.0]]])  # (B=1, C=2, L=3)
        >>> float(adjacent_jsd(logits, torch.tensor([[True, True, False]])))
        0.0
    """
    _check_shape("logits", logits, ("B", "C", "L"))
    if mask is None:
        mask = torch.ones_like(logits[:, 0], dtype=torch.bool)
    _check_shape("mask", mask, (logits.shape[0], logits.shape[2]))
    log_probs = F.log_softmax(logits, dim=1)  # (B, C, L)
    left, right = log_probs[:, :, :-1], log_probs[:, :, 1:]  # (B, C, L - 1)
    log_mix = torch.logaddexp(left, right) - _LN2
    jsd = 0.5 * (left.exp() * (left - log_mix) + right.exp() * (right - log_mix)).sum(dim=1)  # (B, L - 1)
    pairs = mask[:, :-1].bool() & mask[:, 1:].bool()  # (B, L - 1): both residues real
    return _masked_mean(jsd, pairs)


def focal_loss(
    logits: torch.Tensor,
    target: torch.Tensor,
    gamma: float = 2.0,
    alpha: torch.Tensor | None = None,
    ignore_index: int = IGNORE_INDEX,
) -> torch.Tensor:
    """Focal loss ``-α_y (1 - p_y)^γ log p_y`` (Lin et al. 2017), plain mean over the valid items.

    The mean divides by the number of valid items, not by ``sum α_y`` as weighted cross-entropy does; with
    weights normalised by :func:`class_weights` both denominators agree on the whole training set. ``γ = 0``
    with ``alpha=None`` is exactly cross-entropy. Use ``γ = 0`` or ``γ ≥ 1``: for ``0 < γ < 1`` the gradient
    is infinite at ``p_y = 1``.

    Args:
        logits: ``(B, C)`` or ``(B, C, L)`` unnormalised scores.
        target: ``(B,)`` or ``(B, L)`` class indices, ``ignore_index`` at padding.
        gamma: focusing parameter γ ≥ 0.
        alpha: optional ``(C,)`` per-class factors α.
        ignore_index: target value that marks padding.

    Returns:
        Scalar tensor.

    Raises:
        ValueError: for a negative ``gamma`` or mismatched shapes.

    Example:
        >>> round(float(focal_loss(torch.zeros(1, 2), torch.tensor([1]), gamma=2.0)), 4)  # 0.25 · ln 2
        0.1733
    """
    if not gamma >= 0:
        raise ValueError(f"Expected argument `gamma` to be a number >= 0, but got {gamma}")
    _check_logits_target(logits, target)
    valid = target != ignore_index
    safe_target = target.masked_fill(~valid, 0)
    log_p = F.log_softmax(logits, dim=1).gather(1, safe_target.unsqueeze(1)).squeeze(1)  # (B,) or (B, L)
    loss = -log_p
    if gamma != 0:
        loss = loss * (-torch.expm1(log_p)).pow(gamma)  # (1 - p_y)^γ, accurate when p_y is close to 1
    if alpha is not None:
        loss = loss * alpha[safe_target]
    return _masked_mean(loss, valid)


def class_weights(
    counts: Sequence[int] | np.ndarray | torch.Tensor,
    scheme: str = "none",
    beta: float = 0.999,
    pos_weight: float | None = None,
) -> torch.Tensor:
    """Per-class loss weights from training counts ``n_k``, normalised so ``Σ w_k n_k / Σ n_k = 1``.

    The normalisation keeps the average weight of a training item at 1, so the loss scale (and a tuned
    learning rate) does not depend on the scheme. Schemes: ``"none"`` gives all ones; ``"inverse"`` gives
    ``w_k ∝ 1 / n_k`` (sklearn's "balanced"); ``"effective"`` gives ``w_k ∝ (1 - β) / (1 - β^{n_k})``, the
    effective number of samples of Cui et al. 2019 (β = 0 is "none", β → 1 is "inverse"). Classes with
    ``n_k = 0`` get weight 0 under "inverse" and "effective".

    For a binary task (C = 2, class 1 positive), ``pos_weight=β`` gives ``w ∝ (1, β)``: positives count β
    times as much as negatives, as with ``BCEWithLogitsLoss(pos_weight=β)`` on the logit ``z_1 - z_0``. On a
    batch with ``m_k`` items per class, the weighted-mean cross-entropy equals that BCE (a plain mean) times
    ``Σ m_k / (m_0 + β m_1)``, which is ``w_0`` when the batch has the training class mix.

    Args:
        counts: ``(C,)`` non-negative training counts per class.
        scheme: one of ``"none"``, ``"inverse"``, ``"effective"``.
        beta: β in [0, 1) for ``"effective"``.
        pos_weight: optional positive-class weight β > 0 (only with C = 2 and ``scheme="none"``).

    Returns:
        ``(C,)`` float32 tensor.

    Raises:
        ValueError: for an unknown scheme, invalid counts, ``beta`` or ``pos_weight``.

    Example:
        >>> class_weights([1, 3, 0], scheme="inverse")
        tensor([2.0000, 0.6667, 0.0000])
    """
    n = _check_counts(counts)
    raw = _raw_weights(n, scheme, beta, pos_weight)
    return torch.as_tensor(raw * n.sum() / (raw * n).sum(), dtype=torch.float32)


def _check_counts(counts: Sequence[int] | np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(counts, torch.Tensor):
        counts = counts.detach().cpu().numpy()
    n = np.asarray(counts, dtype=np.float64)
    if n.ndim != 1 or n.size == 0 or not np.all(np.isfinite(n)) or np.any(n < 0) or n.sum() == 0:
        raise ValueError(
            "Expected argument `counts` to be a non-empty 1-D sequence of non-negative counts with a "
            f"positive total, but got {counts!r}"
        )
    return n


def _raw_weights(n: np.ndarray, scheme: str, beta: float, pos_weight: float | None) -> np.ndarray:
    if scheme not in WEIGHTING_SCHEMES:
        raise ValueError(f"Expected argument `scheme` to be one of {WEIGHTING_SCHEMES}, but got {scheme!r}")
    if pos_weight is not None:
        if n.size != 2 or scheme != "none" or not (0 < pos_weight < math.inf):
            raise ValueError(
                "Expected argument `pos_weight` to be a positive number, with 2 classes and scheme 'none', "
                f"but got {pos_weight!r} with {n.size} classes and scheme {scheme!r}"
            )
        return np.array([1.0, float(pos_weight)])
    if scheme == "none":
        return np.ones_like(n)
    present = n > 0
    if scheme == "inverse":
        return np.where(present, 1.0 / np.where(present, n, 1.0), 0.0)
    if not 0 <= beta < 1:
        raise ValueError(f"Expected argument `beta` to be a number in [0, 1), but got {beta!r}")
    return np.where(present, (1.0 - beta) / (1.0 - beta ** np.where(present, n, 1.0)), 0.0)


@dataclass
class LossConfig:
    """Training-loss settings, validated on construction.

    Attributes:
        kind: ``"ce"`` (cross-entropy) or ``"focal"``.
        gamma: focal γ ≥ 0 (focal only).
        alpha: focal α (focal only): None, a float in (0, 1) for binary tasks (α for class 1, 1 - α for
            class 0) or one non-negative factor per class. Exclusive with ``class_weighting``.
        class_weighting: ``"none"``, ``"inverse"`` or ``"effective"`` (see :func:`class_weights`); used as CE
            class weights, or as focal α.
        beta: β in [0, 1) of the ``"effective"`` scheme.
        label_smoothing: ε in [0, 1) (CE only).
        jsd_lambda: λ ≥ 0 of the adjacent-residue JSD penalty (residue tasks only).
    """

    kind: str = "ce"
    gamma: float = 2.0
    alpha: float | tuple[float, ...] | None = None
    class_weighting: str = "none"
    beta: float = 0.999
    label_smoothing: float = 0.0
    jsd_lambda: float = 0.0

    def __post_init__(self):
        _check_choice("kind", self.kind, LOSS_KINDS)
        _check_choice("class_weighting", self.class_weighting, WEIGHTING_SCHEMES)
        _check_number("gamma", self.gamma, lambda v: 0 <= v < math.inf, ">= 0")
        _check_number("beta", self.beta, lambda v: 0 <= v < 1, "in [0, 1)")
        _check_number("label_smoothing", self.label_smoothing, lambda v: 0 <= v < 1, "in [0, 1)")
        _check_number("jsd_lambda", self.jsd_lambda, lambda v: 0 <= v < math.inf, ">= 0")
        if self.kind == "focal" and self.label_smoothing > 0:
            raise ValueError(
                f"Expected field `label_smoothing` to be 0 with kind 'focal', but got {self.label_smoothing}"
            )
        if self.alpha is not None:
            self._check_alpha()

    def _check_alpha(self) -> None:
        if self.kind != "focal" or self.class_weighting != "none":
            raise ValueError(
                "Expected field `alpha` to be None unless kind is 'focal' and class_weighting is 'none', "
                f"but got {self.alpha!r} with kind {self.kind!r} and class_weighting {self.class_weighting!r}"
            )
        if isinstance(self.alpha, int | float):
            _check_number("alpha", self.alpha, lambda v: 0 < v < 1, "in (0, 1)")
            return
        self.alpha = tuple(float(a) for a in self.alpha)
        if not self.alpha or not all(0.0 <= a < math.inf for a in self.alpha):
            raise ValueError(f"Expected field `alpha` to hold non-negative numbers, but got {self.alpha!r}")


def _check_choice(name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"Expected field `{name}` to be one of {choices}, but got {value!r}")


def _check_number(name: str, value: float, ok: Callable[[float], bool], expectation: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not ok(value):
        raise ValueError(f"Expected field `{name}` to be a number {expectation}, but got {value!r}")


@dataclass
class LossOutput:
    """A training loss and its parts.

    Attributes:
        total: scalar tensor to call ``backward()`` on.
        parts: detached floats for monitoring: ``"ce"`` (plain, unweighted, unsmoothed cross-entropy, always),
            ``"focal"`` (kind "focal") and ``"jsd"`` (when λ > 0 and the logits are 3-D).
    """

    total: torch.Tensor
    parts: dict[str, float] = field(default_factory=dict)


class Loss:
    """Callable training loss built by :func:`build_loss`: ``loss(logits, target, mask) -> LossOutput``."""

    def __init__(
        self, config: LossConfig, weight: torch.Tensor | None = None, alpha: torch.Tensor | None = None
    ):
        self.config = config
        self.weight = weight
        self.alpha = alpha

    def __call__(
        self, logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None
    ) -> LossOutput:
        """Compute ``main + λ·JSD`` where main is (weighted, smoothed) CE or focal loss.

        Args:
            logits: ``(B, C)`` or ``(B, C, L)``.
            target: ``(B,)`` or ``(B, L)``, -100 at padding.
            mask: optional bool, shape of ``target``; targets outside it are ignored. For 3-D logits it
                also selects the JSD pairs (default ``target != -100``, which also drops pairs next to
                unlabelled residues). The JSD term is skipped for 2-D logits.

        Returns:
            :class:`LossOutput`.
        """
        if mask is not None:
            _check_shape("mask", mask, target.shape)
            target = target.masked_fill(~mask.bool(), IGNORE_INDEX)
        config = self.config
        weight = None if self.weight is None else self.weight.to(logits.device, logits.dtype)
        if config.kind == "focal":
            alpha = None if self.alpha is None else self.alpha.to(logits.device, logits.dtype)
            main = focal_loss(logits, target, gamma=config.gamma, alpha=alpha)
        else:
            main = masked_cross_entropy(logits, target, weight=weight, label_smoothing=config.label_smoothing)
        plain = config.kind == "ce" and weight is None and config.label_smoothing == 0
        with torch.no_grad():
            parts = {"ce": float(main if plain else masked_cross_entropy(logits, target))}
        if config.kind == "focal":
            parts["focal"] = float(main.detach())
        total = main
        if config.jsd_lambda > 0 and logits.dim() == 3:
            jsd = adjacent_jsd(logits, target != IGNORE_INDEX if mask is None else mask)
            parts["jsd"] = float(jsd.detach())
            total = main + config.jsd_lambda * jsd
        return LossOutput(total, parts)


def build_loss(config: LossConfig, class_counts: Sequence[int] | np.ndarray | None = None) -> Loss:
    """Build the training loss from a :class:`LossConfig` and the training-set class counts.

    Args:
        config: loss settings.
        class_counts: ``(C,)`` training counts; required when ``config.class_weighting`` is not "none".

    Returns:
        A :class:`Loss`.

    Raises:
        ValueError: if counts are missing for class weighting, or ``alpha`` does not fit the classes.

    Example:
        >>> loss = build_loss(LossConfig(jsd_lambda=0.5))
        >>> out = loss(torch.zeros(1, 2, 3), torch.tensor([[0, 1, -100]]))
        >>> round(out.parts["ce"], 4), out.parts["jsd"]
        (0.6931, 0.0)
    """
    n_classes = None if class_counts is None else len(class_counts)
    weight = None
    if config.class_weighting != "none":
        if class_counts is None:
            scheme = config.class_weighting
            raise ValueError(f"Expected argument `class_counts` for class_weighting {scheme!r}, but got None")
        weight = class_weights(class_counts, config.class_weighting, config.beta)
    if config.kind == "ce":
        return Loss(config, weight=weight)
    alpha = weight
    if isinstance(config.alpha, float | int):
        alpha = torch.tensor([1.0 - config.alpha, float(config.alpha)])
    elif config.alpha is not None:
        alpha = torch.tensor(config.alpha)
    if alpha is not None and n_classes is not None and len(alpha) != n_classes:
        raise ValueError(
            f"Expected field `alpha` to have one value per class ({n_classes}), but got {config.alpha!r}"
        )
    return Loss(config, alpha=alpha)
