"""The per-rank heads of lineage models: their loss, their softmax, and the nearest-reference mixture.

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


#: Floor of the head's probability inside the log of :func:`nearest_weight`.
P_FLOOR = 1e-6


def nearest_weight(distance: np.ndarray, a: float, b: float, c: float = 0.0, e: float = 0.0,
                   p_neighbour: np.ndarray | None = None, margin: np.ndarray | None = None) -> np.ndarray:
    """Weight of the closest reference sequence's taxon: ``sigmoid(a + b·d + c·log p + e·m)``.

    ``d`` is the k-mer distance to the closest sequence, ``p`` the head's own probability of that sequence's
    taxon (floored at :data:`P_FLOOR`) and ``m`` the margin: how much farther the closest sequence of another
    taxon is. The neighbour is trusted more when it is close, when the network finds its taxon plausible and
    when no other taxon comes near. A zero coefficient (or a missing input) leaves its term out.

    Example:
        >>> nearest_weight(np.array([0.0, 0.1]), 2.0, -40.0).round(3).tolist()
        [0.881, 0.119]
        >>> nearest_weight(np.array([0.1, 0.1]), 2.0, -40.0, 1.0, p_neighbour=np.array([1.0, 0.01])).round(3).tolist()
        [0.119, 0.001]
    """
    z = a + b * np.asarray(distance, dtype=np.float64)
    if c and p_neighbour is not None:
        z = z + c * np.log(np.maximum(np.asarray(p_neighbour, dtype=np.float64), P_FLOOR))
    if e and margin is not None:
        z = z + e * np.asarray(margin, dtype=np.float64)
    return 1.0 / (1.0 + np.exp(-z))


def mix_nearest(probs: np.ndarray, offsets: Sequence[int], distance: np.ndarray, neighbour: np.ndarray,
                weights: Sequence[Sequence[float]], runner_up: np.ndarray | None = None) -> np.ndarray:
    """Per rank, ``(1 − w) · probs + w · onehot(neighbour)`` (in place); ``neighbour`` ``(N, R)`` class indices.

    ``weights``: per rank the parameters ``(a, b[, c[, e]])`` of :func:`nearest_weight`; ``runner_up``
    ``(N, R)``: the distance to the closest sequence of another taxon (the margin is its excess over ``distance``).

    A neighbour class of :data:`MISSING` (the closest sequence names no taxon there, or there is none) leaves
    the rank's probabilities alone.

    Example:
        >>> p = np.array([[0.5, 0.5, 0.2, 0.8]])
        >>> mix_nearest(p, [0, 2, 4], np.array([0.0]), np.array([[0, 2]]), [(0.0, 0.0), (-50.0, 0.0)]).tolist()
        [[0.75, 0.25, 0.2, 0.8]]
    """
    rows = np.arange(len(probs))
    for r, params in enumerate(weights):
        has = neighbour[:, r] != MISSING
        p_neighbour = probs[rows, np.where(has, neighbour[:, r], 0)]  # the head's probability of that taxon
        margin = runner_up[:, r] - distance if runner_up is not None else None
        w = np.where(has, nearest_weight(distance, *params, p_neighbour=p_neighbour, margin=margin), 0.0)
        probs[:, offsets[r]:offsets[r + 1]] *= (1.0 - w)[:, None]
        probs[rows[has], neighbour[has, r]] += w[has]
    return probs
