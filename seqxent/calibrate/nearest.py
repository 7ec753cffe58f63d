"""The nearest-reference component of lineage models: how much to trust the closest training sequence, per rank.

A network cannot learn a taxon from one or two records; the closest reference sequence can name it. For each
rank ``r`` a lineage model mixes its calibrated head with the taxon of the query's closest training sequence
(:meth:`seqxent.calibrate.reference.KmerReference.nearest`, k-mer containment distance ``d``):

    p_r = (1 − w_r) · p_head,r + w_r · onehot(taxon t of the closest sequence at r),
    w_r = sigmoid(a_r + b_r · d + c_r · log p_head,r(t))

(:func:`seqxent.model.rank_heads.nearest_weight`): the neighbour counts more when it is close and when the
network finds its taxon plausible. ``a_r``, ``b_r``, ``c_r`` minimise the validation negative log-likelihood
of the mixture at the true taxon (the validation records are not in the reference, so the
weights learn how often a neighbour at distance ``d`` shares the query's taxon at that rank). Where the closest
sequence names no taxon at a rank, or none shares a k-mer with the query, the head stands alone. The mixture
is a proper distribution, and its confidence at each rank is fitted, not assumed: near-identical neighbours
get their taxon's weight, distant ones hand back to the network.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from seqxent.model.rank_heads import nearest_weight

#: Floor of a probability inside the log-likelihood (a confident wrong call costs at most -log of it).
EPS = 1e-9


def mixture_nll(params: np.ndarray, p_true: np.ndarray, neighbour_right: np.ndarray, distance: np.ndarray,
                p_neighbour: np.ndarray | None = None, novel: np.ndarray | None = None,
                margin: np.ndarray | None = None) -> float:
    """Mean negative log-likelihood of the mixture at the true taxon.

    A record of a taxon the model lacks (``novel``) counts by the probability left off the closest sequence's
    taxon, ``1 − ((1 − w)·p_neighbour + w)``: its neighbour is wrong for sure, and without this term the weights
    would be fitted on known taxa only and make the calls of new species overconfident.

    Args:
        params: ``(a, b)``, ``(a, b, c)`` or ``(a, b, c, e)``.
        p_true: the head's probability of the true taxon ``(N,)``.
        neighbour_right: whether the closest sequence's taxon is the true one ``(N,)``.
        distance: k-mer distance to the closest sequence ``(N,)``.
        p_neighbour: the head's probability of the closest sequence's taxon ``(N,)`` (needed with ``c`` or
            ``novel``).
        novel: whether each record's taxon is no class of the model ``(N,)`` (None: none is).
        margin: how much farther the closest sequence of another taxon is ``(N,)`` (needed with ``e``).

    Example:
        >>> round(mixture_nll(np.array([0.0, 0.0]), np.array([0.5]), np.array([True]), np.array([0.0])), 4)
        0.2877
    """
    w = nearest_weight(distance, *params, p_neighbour=p_neighbour, margin=margin)
    likelihood = (1.0 - w) * p_true + w * neighbour_right
    if novel is not None and np.any(novel):
        likelihood = np.where(novel, 1.0 - ((1.0 - w) * p_neighbour + w), likelihood)
    return float(-np.mean(np.log(likelihood + EPS)))


def fit_nearest_weight(p_true: np.ndarray, neighbour_right: np.ndarray, distance: np.ndarray,
                       p_neighbour: np.ndarray | None = None, novel: np.ndarray | None = None,
                       margin: np.ndarray | None = None) -> tuple[float, ...]:
    """``(a, b[, c])`` of :func:`~seqxent.model.rank_heads.nearest_weight` minimising :func:`mixture_nll`.

    L-BFGS-B from ``(0, 0[, 0])`` (weight one half), with ``a`` in [-20, 20], ``b`` in [-200, 200] and ``c``
    in [-5, 5], ``e`` in [-200, 200]; ``c`` is fitted when ``p_neighbour`` is given, ``e`` when ``margin`` is
    (then ``p_neighbour`` is needed too); ``novel`` as in :func:`mixture_nll`. Without
    records it returns ``(-20, 0[, 0])``: the weight vanishes and the head stands alone.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> d = rng.uniform(0, 0.3, 400)
        >>> right = rng.uniform(size=400) < np.where(d < 0.1, 0.95, 0.2)  # close neighbours are usually right
        >>> a, b = fit_nearest_weight(np.full(400, 0.3), right, d)
        >>> nearest_weight(np.array([0.02, 0.25]), a, b).round(1).tolist()
        [1.0, 0.0]
    """
    p_true, neighbour_right = np.asarray(p_true, dtype=np.float64), np.asarray(neighbour_right, dtype=np.float64)
    distance = np.asarray(distance, dtype=np.float64)
    bounds = [(-20.0, 20.0), (-200.0, 200.0)] + ([(-5.0, 5.0)] if p_neighbour is not None else [])
    bounds += [(-200.0, 200.0)] if margin is not None else []
    if not len(p_true):
        return (-20.0,) + (0.0,) * (len(bounds) - 1)
    result = minimize(mixture_nll, np.zeros(len(bounds)),
                      args=(p_true, neighbour_right, distance, p_neighbour, novel, margin), method="L-BFGS-B",
                      bounds=bounds)
    return tuple(float(x) for x in result.x)
