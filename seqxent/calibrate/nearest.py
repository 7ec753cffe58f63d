"""The nearest-reference component of lineage models: how much the closest training sequences count, per rank.

A network cannot learn a taxon from one or two records; the closest reference sequences can name it. For each
rank ``r`` a lineage model pools its head with the votes of the query's ``m`` closest training sequences
(:meth:`seqxent.calibrate.reference.KmerReference.nearest`, k-mer containment ``s``) as a product of experts:

    p_r(t) ∝ p_head,r(t)^α_r · (q_r(t) + ε_r)^(γ_r · exp(δ_r · d)),
    q_r(t) = Σ_{j names t} exp(β_r (s_j − s_1)) / Σ_j exp(β_r (s_j − s_1))

(:func:`seqxent.model.rank_heads.reference_votes` and :func:`~seqxent.model.rank_heads.apply_votes`). Near-ties
between sequences of several taxa share the vote and the network decides between them; a clearly closer
sequence takes the vote, and how far it overrides the head is ``γ`` and ``ε``; ``d = 1 − s_1`` is the distance
to the closest sequence, so with ``δ < 0`` a distant one (a query of a taxon absent from the reference) counts
less. ``α, γ, β, ε, δ`` minimise the
validation negative log-likelihood at the true taxon (the validation records are not in the reference, so the
fit learns how often the neighbours are right at that rank). A validation record of a taxon the model lacks
counts by ``1 − max_t p_r(t)``, the probability left off the call, which is wrong for sure: without these
records the fit makes calls of new species overconfident.

A validation split rarely holds whole taxa absent from training at the upper ranks (a split stratified by genus
has no new genus), so :func:`clade_out` adds, per rank, a simulated copy of each validation record with its own
taxon removed: the reference sequences of that taxon do not vote and the head's class of it is gone. The copies
weigh ``novel_share`` of the fit (``seqxent calibrate --novel-share``, 0 by default): how often the queries are
expected to belong to a taxon absent from the reference. Measured with whole genera held out of the 16S lineages
(docs/taxonomy.md): 0.1 lowers the over-classification of the new genera at a cut-off of 0.8 from 24 % to 11 %, but
makes the known genera underconfident (genus ECE 1.5 → 3.7 %), so it is a choice for data expected to hold many
new taxa, not the default.

Measured on the 16S lineages (validation fit, test records; docs/taxonomy.md): against the earlier mixture with
the single closest sequence (``(1 − w)·p_head + w·onehot``), genus NLL 0.47 → 0.36 nats and ECE 2.3 → 1.4 %.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import logsumexp

from seqxent.model.rank_heads import VoteGroups, pooled_log_normaliser, vote_exponent

#: How many closest reference sequences vote (``seqxent calibrate --reference-top``).
REFERENCE_TOP = 50
#: Share of the pooling fit given to simulated records of taxa absent from training (:func:`clade_out`).
NOVEL_SHARE = 0.0
#: Floor of a probability inside the log-likelihood (a confident wrong call costs at most -log of it).
EPS = 1e-9
#: ``(α, γ, β, ε, δ)`` that leave the head alone (γ = 0: the votes have no weight).
HEAD_ALONE = (1.0, 0.0, 1.0, 1.0, 0.0)
#: Bounds of ``(α, γ, log β, log ε, δ)`` and the starting points of ``(γ, log β, log ε, δ)`` in the fit.
BOUNDS = [(0.05, 5.0), (0.0, 10.0), (0.0, np.log(5000.0)), (-40.0, 0.0), (-50.0, 10.0)]
STARTS = ([None, 0.5, np.log(100.0), np.log(1e-3), 0.0], [None, 0.3, np.log(150.0), -30.0, 0.0])


class VoteProblem:
    """One rank's validation records: the head, the truth and the closest sequences, and the pooled NLL.

    Args:
        logits: ``(N, K)`` the head's logits over the rank's classes, divided by its temperature.
        truth: ``(N,)`` true class (column of ``logits``); -1 for a taxon the model lacks.
        closest: ``(N, m)`` closest reference sequences (-1: none).
        containment: ``(N, m)`` their containment.
        taxa: ``(M,)`` each reference sequence's class at the rank (column of ``logits``; negative: none).
        weight: ``(N,)`` weight of each record in the mean (default: equal).

    Example:
        >>> problem = VoteProblem(np.zeros((1, 2)), np.array([0]), np.array([[0]]), np.array([[1.0]]), np.array([0]))
        >>> round(problem.nll(np.array([1.0, 0.0, 0.0, 0.0, 0.0])), 4)
        0.6931
        >>> round(problem.nll(np.array([1.0, 1.0, 0.0, 0.0, 0.0])), 4)
        0.4055
    """

    def __init__(self, logits: np.ndarray, truth: np.ndarray, closest: np.ndarray, containment: np.ndarray,
                 taxa: np.ndarray, weight: np.ndarray | None = None):
        self.logits, self.truth = np.asarray(logits, dtype=np.float64), np.asarray(truth, dtype=np.int64)
        self.containment = np.asarray(containment, dtype=np.float64)
        self.groups = VoteGroups(closest, taxa)  # the voted (record, class) pairs: the same for every β
        rows, classes = self.groups.rows, self.groups.classes
        self.voted_logits = self.logits[rows, classes]
        n, k = self.logits.shape
        keys, index = rows * k + classes, np.arange(n)
        where = np.searchsorted(keys, index * k + self.truth).clip(max=max(len(keys) - 1, 0))
        self.truth_pair = np.where((self.truth >= 0) & (keys[where] == index * k + self.truth) if len(keys)
                                   else False, where, -1)  # the pair of the true class, -1: not voted for
        self.top_logit = self.logits.max(axis=1)
        self.weight = np.full(n, 1.0 / max(n, 1)) if weight is None else np.asarray(weight) / np.sum(weight)
        self._lse: dict[float, np.ndarray] = {}  # log-normaliser of α · logits, by α (the costly part)

    def __len__(self) -> int:
        return len(self.truth)

    def _log_normaliser(self, alpha: float) -> np.ndarray:
        if alpha not in self._lse:
            self._lse = {alpha: logsumexp(alpha * self.logits, axis=1)}
        return self._lse[alpha]

    def nll(self, x: np.ndarray) -> float:
        """Mean negative log-likelihood at ``x = (α, γ, log β, log ε, δ)``."""
        alpha, beta, eps = float(x[0]), float(np.exp(x[2])), float(np.exp(x[3]))
        n = len(self.truth)
        lse = self._log_normaliser(alpha)
        rows = self.groups.rows
        gamma = vote_exponent(float(x[1]), float(x[4]), self.containment)[rows]
        log_factor = gamma * np.log1p(self.groups.shares(self.containment, beta) / eps)
        log_p = alpha * self.voted_logits - lse[rows]
        log_norm = pooled_log_normaliser(rows, np.exp(log_p), log_p + log_factor, n)
        known = self.truth >= 0
        at_truth = alpha * self.logits[np.arange(n), np.maximum(self.truth, 0)] - lse
        voted = np.where(self.truth_pair >= 0, log_factor[np.maximum(self.truth_pair, 0)] if len(rows) else 0.0, 0.0)
        ll = np.where(known, at_truth + voted - log_norm, 0.0)
        if (~known).any():  # the call is wrong for sure: the probability left off it
            top = np.exp(alpha * self.top_logit - lse)
            top_voted = np.full(n, -np.inf)
            np.maximum.at(top_voted, rows, log_p + log_factor)
            with np.errstate(divide="ignore"):
                p_call = np.exp(np.maximum(np.log(top), top_voted) - log_norm)
            ll = np.where(known, ll, np.log(np.clip(1.0 - p_call, 0.0, 1.0) + EPS))
        return float(-np.sum(self.weight * ll))


def clade_out(logits: np.ndarray, truth: np.ndarray, closest: np.ndarray, containment: np.ndarray,
              taxa: np.ndarray, novel_share: float) -> tuple[np.ndarray, ...]:
    """The arguments of :class:`VoteProblem` with a simulated copy of each record of a known taxon, its taxon out.

    In a copy the reference sequences of the record's taxon are dropped from its closest sequences (the others
    move up) and the head's logit of it is ``-inf``; its truth is -1 (a taxon the model lacks). The records weigh
    ``1 − novel_share`` together, the copies ``novel_share``. With ``novel_share`` 0 the records alone (weight 1).

    Example:
        >>> args = clade_out(np.zeros((1, 3)), np.array([0]), np.array([[0, 1]]), np.array([[1.0, 0.8]]),
        ...                  np.array([0, 2]), 0.25)
        >>> args[0].tolist(), args[1].tolist(), args[2].tolist(), args[3].tolist(), args[5].tolist()
        ([[0.0, 0.0, 0.0], [-inf, 0.0, 0.0]], [0, -1], [[0, 1], [1, -1]], [[1.0, 0.8], [0.8, 0.0]], [0.75, 0.25])
    """
    n = len(truth)
    known = np.flatnonzero(truth >= 0)
    if not novel_share or not len(known):
        return logits, truth, closest, containment, taxa, np.ones(n)
    out_logits = np.array(logits[known], dtype=np.float64)
    out_logits[np.arange(len(known)), truth[known]] = -np.inf
    own = (closest[known] >= 0) & (taxa[np.maximum(closest[known], 0)] == truth[known, None])
    order = np.argsort(own, axis=1, kind="stable")  # the others first, in their order
    out_closest = np.where(np.take_along_axis(own, order, axis=1), -1, np.take_along_axis(closest[known], order, 1))
    out_containment = np.where(out_closest >= 0, np.take_along_axis(containment[known], order, axis=1), 0.0)
    weight = np.concatenate([np.full(n, (1.0 - novel_share) / n), np.full(len(known), novel_share / len(known))])
    return (np.concatenate([logits, out_logits]), np.concatenate([truth, np.full(len(known), -1)]),
            np.concatenate([closest, out_closest]), np.concatenate([containment, out_containment]), taxa, weight)


def fit_votes(problem: VoteProblem) -> tuple[float, float, float, float, float]:
    """``(α, γ, β, ε, δ)`` minimising :meth:`VoteProblem.nll`; without records :data:`HEAD_ALONE`.

    ``α`` by a bounded scalar search on ``log α`` (each ``α`` costs one pass over the ``N × K`` logits); for
    each ``α`` the other four by L-BFGS-B from each of :data:`STARTS` (cheap: only the voted classes change).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> truth = rng.integers(0, 5, 300)
        >>> logits = rng.normal(0, 1, (300, 5))  # a head that knows nothing
        >>> right = rng.uniform(size=300) < 0.9  # the closest sequence names the true class 9 times in 10
        >>> taxa = np.where(right, truth, (truth + 1) % 5)  # reference sequence i is record i's closest
        >>> problem = VoteProblem(logits, truth, np.arange(300)[:, None], np.ones((300, 1)), taxa)
        >>> alpha, gamma, beta, eps, delta = fit_votes(problem)
        >>> fitted = np.array([alpha, gamma, np.log(beta), np.log(eps), delta])
        >>> problem.nll(np.array([1.0, 0.0, 0.0, 0.0, 0.0])) > 1.5 > 0.5 > problem.nll(fitted)
        True
    """
    if not len(problem):
        return HEAD_ALONE
    fits: dict[float, tuple[float, np.ndarray]] = {}

    def given_alpha(log_alpha: float) -> float:
        alpha, best = float(np.exp(log_alpha)), None
        for start in STARTS:
            result = minimize(lambda rest: problem.nll(np.concatenate([[alpha], rest])), np.array(start[1:]),
                              method="L-BFGS-B", bounds=BOUNDS[1:])
            if best is None or result.fun < best.fun:
                best = result
        fits[alpha] = (float(best.fun), best.x)
        return float(best.fun)

    minimize_scalar(given_alpha, bounds=tuple(np.log(BOUNDS[0])), method="bounded", options={"xatol": 0.02})
    alpha = min(fits, key=lambda a: fits[a][0])
    gamma, log_beta, log_eps, delta = (float(v) for v in fits[alpha][1])
    return alpha, gamma, float(np.exp(log_beta)), float(np.exp(log_eps)), delta
