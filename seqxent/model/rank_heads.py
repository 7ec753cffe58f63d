"""The per-rank heads of lineage models: their loss, their softmax, and the closest reference sequences' votes.

A lineage model (:mod:`seqxent.tasks.lineage`) has one softmax head per rank; its ``K = K_1 + … + K_R``
outputs are the heads side by side, rank by rank (``offsets``: the start of each rank's block, then ``K``).
Targets are ``(N, R)`` class indices (global, into the ``K`` columns), :data:`MISSING` where a record names
no taxon of the model at that rank.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F  # noqa: N812

from seqxent.data.taxon_tree import MISSING
from seqxent.model.losses import LossOutput


class LineageLoss:
    """Sum over ranks of ``weight_r ·`` the cross-entropy of rank ``r``'s block of logits.

    Args:
        offsets: ``(R + 1,)`` start of each rank's block of columns, and ``K``.
        ranks: the rank names (the history gets ``ce_<rank>``).
        weights: per-rank weights (default 1 each).
        label_smoothing: ε of every rank's cross-entropy.

    Example:
        >>> loss = LineageLoss([0, 2, 5], ["family", "genus"])
        >>> out = loss(torch.zeros(1, 5), torch.tensor([[1, -100]]))  # genus missing: the family term only
        >>> round(float(out.total), 4), round(out.parts["ce_family"], 4), out.parts["ce_genus"]
        (0.6931, 0.6931, 0.0)
    """

    def __init__(self, offsets: Sequence[int], ranks: Sequence[str], weights: Sequence[float] | None = None,
                 label_smoothing: float = 0.0):
        self.offsets, self.ranks = [int(o) for o in offsets], list(ranks)
        self.weights = list(weights) if weights is not None else [1.0] * len(self.ranks)
        self.label_smoothing = label_smoothing

    def __call__(self, logits: torch.Tensor, target: torch.Tensor, mask=None) -> LossOutput:  # noqa: D102
        total, parts = logits.new_zeros(()), {}
        for r, rank in enumerate(self.ranks):
            start, stop = self.offsets[r], self.offsets[r + 1]
            t = target[:, r]
            known = t != MISSING
            if not bool(known.any()):
                parts[f"ce_{rank}"] = 0.0
                continue
            ce = F.cross_entropy(logits[known, start:stop], t[known] - start, label_smoothing=self.label_smoothing)
            total = total + self.weights[r] * ce
            parts[f"ce_{rank}"] = float(ce.detach())
        parts["ce"] = sum(parts[f"ce_{rank}"] for rank in self.ranks)
        return LossOutput(total, parts)


def rank_softmax(logits: np.ndarray, offsets: Sequence[int], temperatures: Sequence[float] | float = 1.0
                 ) -> np.ndarray:
    """Softmax of each rank's block of ``logits / T_r``, in the input's float type (float64 for integers).

    Computed in place in one output array (tens of thousands of classes a record: prediction time matters); the
    maximum is subtracted first, so no logit overflows.

    Example:
        >>> rank_softmax(np.array([[0.0, 0.0, 1.0, 1.0, 1.0]]), [0, 2, 5]).round(3).tolist()
        [[0.5, 0.5, 0.333, 0.333, 0.333]]
    """
    logits = np.asarray(logits)
    dtype = logits.dtype if logits.dtype.kind == "f" else np.dtype(np.float64)
    temps = np.broadcast_to(np.asarray(temperatures, dtype=np.float64), (len(offsets) - 1,))
    out = np.array(logits, dtype=dtype, copy=True)
    for r in range(len(offsets) - 1):
        z = out[:, offsets[r]:offsets[r + 1]]  # a view: every step below writes into `out`
        z -= z.max(axis=1, keepdims=True)
        z *= dtype.type(1.0 / temps[r])
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
    return out


def reference_votes(closest: np.ndarray, containment: np.ndarray, taxa: np.ndarray, beta: float
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """How the closest reference sequences vote at one rank: ``(rows, classes, share)``, one entry per pair.

    Neighbour ``j`` of a record votes for its taxon with weight ``exp(β · (s_j − s_1))`` (``s``: containment,
    ``s_1`` the closest one's): near-ties share the vote, a clearly closer sequence takes it. Neighbours that
    name no taxon at the rank (or none at all: ``closest`` -1) do not vote; a record's shares sum to 1 when any
    neighbour votes.

    Args:
        closest: ``(N, m)`` reference sequences, closest first (-1: none).
        containment: ``(N, m)`` their containment of the query.
        taxa: ``(M,)`` class of each reference sequence at the rank (:data:`MISSING`: none).
        beta: how fast the vote falls with containment.

    Example:
        >>> rows, classes, share = reference_votes(np.array([[0, 1, 2], [2, -1, -1]]),
        ...                                        np.array([[0.9, 0.9, 0.5], [0.4, 0.0, 0.0]]),
        ...                                        np.array([7, 7, 8]), beta=10.0)
        >>> rows.tolist(), classes.tolist(), share.round(4).tolist()
        ([0, 0, 1], [7, 8, 8], [0.9909, 0.0091, 1.0])
    """
    groups = VoteGroups(closest, taxa)
    return groups.rows, groups.classes, groups.shares(containment, beta)


class VoteGroups:
    """Which (record, class) pairs the closest sequences vote for; :meth:`shares` weighs them for a ``β``.

    ``rows`` and ``classes``: one entry per voted pair, sorted by record then class.
    """

    def __init__(self, closest: np.ndarray, taxa: np.ndarray):
        n, m = closest.shape
        cls = np.where(closest >= 0, taxa[np.maximum(closest, 0)], MISSING)
        self.votes = cls >= 0  # (N, m): the neighbours that name a taxon at the rank
        self.row = np.repeat(np.arange(n), m)[self.votes.ravel()]
        width = int(taxa.max(initial=0)) + 1
        keys, self.inverse = np.unique(self.row * width + cls[self.votes], return_inverse=True)
        self.rows, self.classes, self.n = keys // width, keys % width, n

    def shares(self, containment: np.ndarray, beta: float) -> np.ndarray:
        """Each pair's share of its record's vote: weights ``exp(β · (s_j − s_1))`` summed per pair."""
        weight = np.exp(beta * (containment - containment[:, :1]))[self.votes]
        return np.bincount(self.inverse, weight) / np.bincount(self.row, weight, minlength=self.n)[self.rows]


def apply_votes(probs: np.ndarray, block: slice, rows: np.ndarray, classes: np.ndarray, share: np.ndarray,
                gamma: float | np.ndarray, eps: float) -> np.ndarray:
    """One rank's block of ``probs`` times ``(1 + share / ε)^γ`` at the voted classes, renormalised (in place).

    With ``probs`` the head at temperature ``T/α`` this is the product of the two experts
    ``p ∝ p_head^α · (q + ε)^γ`` (``q``: the neighbours' shares, :func:`reference_votes`; the factor ``ε^γ``
    common to every class drops out), computed at the voted classes only. ``gamma``: one value, or one per
    record (``(N,)``).

    Example:
        >>> p = np.array([[0.5, 0.5, 0.2, 0.8]])
        >>> apply_votes(p, slice(2, 4), np.array([0]), np.array([2]), np.array([1.0]), 1.0, 1.0).round(4).tolist()
        [[0.5, 0.5, 0.3333, 0.6667]]
    """
    log_factor = (gamma[rows] if np.ndim(gamma) else gamma) * np.log1p(share / eps)
    before = probs[rows, classes].astype(np.float64)
    log_voted = np.log(np.maximum(before, np.finfo(np.float64).tiny)) + log_factor
    log_norm = pooled_log_normaliser(rows, before, log_voted, len(probs))
    probs[:, block] *= np.exp(-log_norm)[:, None].astype(probs.dtype)
    probs[rows, classes] = np.exp(log_voted - log_norm[rows])
    return probs


def pooled_log_normaliser(rows: np.ndarray, voted: np.ndarray, log_voted: np.ndarray, n: int) -> np.ndarray:
    """``(N,)`` log of each record's sum after its voted entries ``p`` became ``exp(log_voted)``.

    ``log(1 − Σ p + Σ exp(log_voted))``, computed in log space: a factor of ``(1 + q/ε)^γ`` can exceed any float.

    Example:
        >>> pooled_log_normaliser(np.array([0, 0]), np.array([0.2, 0.3]), np.log([0.4, 0.6]), 2).round(4).tolist()
        [0.4055, 0.0]
    """
    with np.errstate(divide="ignore"):  # log 0 = -inf: every class got a vote
        rest = np.log(np.clip(1.0 - np.bincount(rows, voted, minlength=n), 0.0, 1.0))  # the classes without a vote
    top = np.full(n, -np.inf)
    np.maximum.at(top, rows, log_voted)
    top = np.maximum(top, rest)
    top = np.where(np.isfinite(top), top, 0.0)
    return top + np.log(np.exp(rest - top) + np.bincount(rows, np.exp(log_voted - top[rows]), minlength=n))


def vote_exponent(gamma: float, delta: float, containment: np.ndarray) -> np.ndarray:
    """``(N,)`` exponent of each record's votes: ``γ · exp(δ · d)``, ``d = 1 − s_1`` the closest sequence's distance.

    A record without closest sequences (``containment`` with no columns) has ``d = 1``.

    Example:
        >>> vote_exponent(2.0, -1.0, np.array([[1.0, 0.5], [0.0, 0.0]])).round(4).tolist()
        [2.0, 0.7358]
    """
    distance = 1.0 - containment[:, 0] if containment.shape[1] else np.ones(len(containment))
    return gamma * np.exp(delta * distance)


def mix_reference(probs: np.ndarray, offsets: Sequence[int], closest: np.ndarray, containment: np.ndarray,
                  taxa: np.ndarray, params: Sequence[Sequence[float]]) -> np.ndarray:
    """Every rank's head times its closest reference sequences' votes (in place; see :func:`apply_votes`).

    ``taxa`` ``(M, R)``: each reference sequence's class per rank; ``params`` per rank ``(α, γ, β, ε, δ)`` (α is
    applied by the caller, as the head's temperature ``T/α``): the votes' exponent is ``γ · exp(δ · d)``, ``d``
    the distance to the closest sequence (``1 − containment``), so a distant closest sequence can count less.

    Example:
        >>> p = np.array([[0.5, 0.5, 0.2, 0.8]])
        >>> taxa = np.array([[0, 2], [1, 3]])
        >>> mix_reference(p, [0, 2, 4], np.array([[0, 1]]), np.array([[1.0, 0.5]]), taxa,
        ...               [(1, 0.0, 1, 1, 0), (1, 1.0, 1e9, 1.0, 0)]).round(4).tolist()
        [[0.5, 0.5, 0.3333, 0.6667]]
    """
    for r, (_, gamma, beta, eps, delta) in enumerate(params):
        if gamma:
            rows, classes, share = reference_votes(closest, containment, taxa[:, r], beta)
            apply_votes(probs, slice(offsets[r], offsets[r + 1]), rows, classes, share,
                        vote_exponent(gamma, delta, containment), eps)
    return probs
