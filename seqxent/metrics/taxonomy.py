"""Per-rank evaluation of lineage calls: IDTAXA's rates, TAXXI's identity bins, over- vs misclassification.

:func:`classification_rates` and :func:`forced_accuracy` score one set of calls, :func:`rates_by_identity`
splits them by identity to the training set, and :func:`over_vs_mis_curve` sweeps the confidence cut-off.

A lineage classifier calls, for each query, one taxon per rank (ranks top down, e.g. domain … genus), each
with a confidence. A cut-off truncates the lineage at the first rank whose confidence is below it, so the
calls of a query stand at its first ``depth`` ranks (``depth`` in 0..R, see
:meth:`seqxent.data.taxon_tree.TaxonTree.truncate`). Truth per query per rank is a class index, or
:data:`~seqxent.data.taxon_tree.MISSING` (-100) where the reference does not name that rank for the query; such
a (query, rank) is left out of that rank. The true taxon of a query at a rank is *known* when it is among the
training taxa of that rank, *novel* otherwise (the caller decides and passes a boolean ``known`` array).

Outcomes, per rank, as in IDTAXA (Murali, Bhargava & Wright 2018, *Microbiome* 6:140):

- known true taxon: **correct** (CR; the call stands and equals the truth), **misclassified** (MC; the call
  stands and differs) or **underclassified** (UC; the call does not stand: rank index >= ``depth``);
- novel true taxon: **overclassified** (OC; a call stands, and it must be wrong) or **withheld** (no call
  stands: the right answer for a taxon the classifier cannot know).

Rates: correct ``CR / n_known``, misclassification ``MC / n_known``, underclassification ``UC / n_known``,
overclassification ``OC / n_novel`` and error ``(MC + OC) / (n_known + n_novel)``; a rate over an empty
denominator is None. Forced accuracy (:func:`forced_accuracy`) scores the calls whatever their confidence.

Identity bins follow the identity levels of TAXXI (Edgar 2018, *PeerJ* 6:e4652): a query's identity is that of
its closest training sequence, in [0, 1], and with the default edges ``(1.0, 0.99, 0.97, 0.95, 0.90)`` its bin
is ``"100"`` (identity 1), ``"99"`` ([0.99, 1)), ``"97"`` ([0.97, 0.99)), ``"95"`` ([0.95, 0.97)), ``"90"``
([0.90, 0.95)) or ``"<90"`` (below 0.90); 0.985 falls in ``"97"``. Every edge is lowered by 1e-9 so that
an identity a rounding error below an edge (0.97 - 1e-12) lands in the bin of that edge.

All dict outputs are JSON-ready: python ints and floats, None for undefined rates.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqxent.data.taxon_tree import MISSING, TaxonTree
from seqxent.metrics._checks import to_json_value
from seqxent.metrics.bootstrap import bootstrap_ci

#: Outcome codes of :func:`lineage_outcomes`; ``OUTCOMES[code]`` names each (``"missing"``: truth not named).
OUTCOMES = ("missing", "correct", "misclassified", "underclassified", "overclassified", "withheld")
_SKIP, _CR, _MC, _UC, _OC, _WH = range(len(OUTCOMES))
#: TAXXI's identity levels, top down; a query is in the bin of the highest edge its identity reaches.
IDENTITY_EDGES = (1.0, 0.99, 0.97, 0.95, 0.90)
_IDENTITY_TOL = 1e-9  # floating-point slack below every edge: 1 - 1e-12 counts as identity 1
# Rates of a rank: name -> (numerator outcomes, denominator outcomes).
_RATES = {
    "correct_rate": ((_CR,), (_CR, _MC, _UC)),
    "misclassification_rate": ((_MC,), (_CR, _MC, _UC)),
    "underclassification_rate": ((_UC,), (_CR, _MC, _UC)),
    "overclassification_rate": ((_OC,), (_OC, _WH)),
    "error_rate": ((_MC, _OC), (_CR, _MC, _UC, _OC, _WH)),
}


# --------------------------------------------------------------------------- checks


def _check_lineage_args(truth, calls, known, ranks) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Arrays of `truth` (N, R), `calls` (N, R) and `known` (N, R), checked against the R `ranks`."""
    if not len(ranks):
        raise ValueError("Expected argument `ranks` to name at least one rank, but got none")
    truth, calls, known = np.asarray(truth), np.asarray(calls), np.asarray(known)
    shape = (truth.shape[0] if truth.ndim == 2 else -1, len(ranks))
    for name, value in (("truth", truth), ("calls", calls), ("known", known)):
        if value.shape != shape:
            raise ValueError(f"Expected argument `{name}` to have shape (N, {len(ranks)}) with N = "
                             f"{shape[0]} (one column per rank), but got {value.shape}")
    for name, value in (("truth", truth), ("calls", calls)):
        if value.size and not np.issubdtype(value.dtype, np.integer):
            raise ValueError(f"Expected argument `{name}` to be an integer array, but got dtype {value.dtype}")
    if known.size and known.dtype != np.bool_:
        raise ValueError(f"Expected argument `known` to be a boolean array, but got dtype {known.dtype}")
    return truth.astype(np.int64), calls.astype(np.int64), known.astype(bool)


def _check_depth(depth, n_queries: int, n_ranks: int) -> np.ndarray:
    depth = np.asarray(depth)
    if depth.shape != (n_queries,):
        raise ValueError(f"Expected argument `depth` to have shape ({n_queries},), but got {depth.shape}")
    if depth.size and (not np.issubdtype(depth.dtype, np.integer) or depth.min() < 0 or depth.max() > n_ranks):
        raise ValueError(f"Expected argument `depth` to hold integers in [0, {n_ranks}], but got "
                         f"{depth[:5].tolist()} (dtype {depth.dtype})")
    return depth.astype(np.int64)


def _check_unit_interval(name: str, values, ndim: int) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != ndim:
        raise ValueError(f"Expected argument `{name}` to have {ndim} dimension(s), but got shape {values.shape}")
    if not np.all(np.isfinite(values)) or values.size and (values.min() < 0 or values.max() > 1 + _IDENTITY_TOL):
        raise ValueError(f"Expected argument `{name}` to hold finite values in [0, 1], but it does not")
    return values


# --------------------------------------------------------------------------- outcomes and rates


def lineage_outcomes(truth, calls, depth, known) -> np.ndarray:
    """Outcome of every (query, rank): an index into :data:`OUTCOMES`.

    Args:
        truth: True class per query and rank (N, R); :data:`~seqxent.data.taxon_tree.MISSING` where unnamed.
        calls: Called class per query and rank (N, R); entries at ranks >= `depth` may hold anything.
        depth: Number of leading ranks whose calls stand per query (N,), in [0, R].
        known: Whether the true taxon is among the training taxa of its rank (N, R).

    Returns:
        Integer array (N, R): 0 missing, 1 correct, 2 misclassified, 3 underclassified, 4 overclassified,
        5 withheld.

    Example:
        >>> lineage_outcomes([[0, 1, MISSING]], [[0, 2, 5]], [2], [[True, True, True]]).tolist()
        [[1, 2, 0]]
    """
    truth, calls, known = np.asarray(truth), np.asarray(calls), np.asarray(known, dtype=bool)
    stands = np.arange(truth.shape[1]) < np.asarray(depth)[:, None]  # (R,) vs (N, 1) -> (N, R)
    on_known = np.where(stands, np.where(calls == truth, _CR, _MC), _UC)
    outcomes = np.where(known, on_known, np.where(stands, _OC, _WH))
    return np.where(truth == MISSING, _SKIP, outcomes).astype(np.int8)


def _rank_block(outcome: np.ndarray) -> dict:
    """Counts and rates of one rank from its outcome codes (M,)."""
    counts = np.bincount(outcome, minlength=len(OUTCOMES))
    block = {"n_known": counts[[_CR, _MC, _UC]].sum(), "n_novel": counts[[_OC, _WH]].sum()}
    block.update({name: counts[code] for code, name in enumerate(OUTCOMES) if code != _SKIP})
    for name, (num, den) in _RATES.items():
        block[name] = counts[list(num)].sum() / counts[list(den)].sum() if counts[list(den)].any() else None
    return block


def _rate_ci(outcome: np.ndarray, name: str, n_boot: int, alpha: float, seed: int) -> list[float] | None:
    """Bootstrap interval of rate `name` over resampled queries of one rank's outcome codes (N,)."""
    num, den = (np.isin(outcome, codes) for codes in _RATES[name])

    def statistic(idx: np.ndarray) -> float:
        total = den[idx].sum()
        return num[idx].sum() / total if total else np.nan

    return bootstrap_ci(statistic, outcome.size, n_boot, alpha, seed)


def _rates_from_outcomes(outcomes: np.ndarray, ranks: Sequence[str], n_boot: int, alpha: float,
                         seed: int) -> dict:
    out = {}
    for r, rank in enumerate(ranks):
        block = _rank_block(outcomes[:, r])
        if n_boot:
            block["ci"] = {name: None if block[name] is None else _rate_ci(outcomes[:, r], name, n_boot, alpha, seed)
                           for name in _RATES}
        out[rank] = block
    return to_json_value(out)


def classification_rates(truth, calls, depth, known, ranks: Sequence[str], n_boot: int = 0,
                         alpha: float = 0.05, seed: int = 0) -> dict[str, dict]:
    """IDTAXA's per-rank counts and rates of correct, mis-, under- and overclassified queries.

    Args:
        truth: True class per query and rank (N, R); :data:`~seqxent.data.taxon_tree.MISSING` where unnamed.
        calls: Called class per query and rank (N, R); entries at ranks >= `depth` may hold anything.
        depth: Number of leading ranks whose calls stand per query (N,), in [0, R].
        known: Whether the true taxon is among the training taxa of its rank (N, R); ignored where MISSING.
        ranks: Rank names (R,), top down.
        n_boot: Bootstrap replicates over queries for 95 % intervals of the rates; 0 = none.
        alpha: Two-sided miscoverage of the intervals.
        seed: Seed of the bootstrap.

    Returns:
        ``{rank: block}``; a block holds ``n_known``, ``n_novel``, the counts ``correct``, ``misclassified``,
        ``underclassified``, ``overclassified``, ``withheld``, and ``correct_rate``,
        ``misclassification_rate``, ``underclassification_rate``, ``overclassification_rate``, ``error_rate``
        (None over an empty denominator); with `n_boot` also ``ci`` {rate: [low, high] or None}.

    Raises:
        ValueError: If an array has the wrong shape, dtype or range.

    Example:
        >>> truth = [[0, 1], [0, 2], [1, MISSING]]
        >>> calls = [[0, 1], [0, 1], [0, 0]]
        >>> known = [[True, True], [True, False], [True, True]]
        >>> out = classification_rates(truth, calls, depth=[2, 2, 0], known=known, ranks=["phylum", "genus"])
        >>> out["phylum"]["correct_rate"], out["phylum"]["underclassification_rate"], out["phylum"]["n_novel"]
        (0.6666666666666666, 0.3333333333333333, 0)
        >>> out["genus"]["correct"], out["genus"]["overclassified"], out["genus"]["error_rate"]
        (1, 1, 0.5)
    """
    truth, calls, known = _check_lineage_args(truth, calls, known, ranks)
    depth = _check_depth(depth, truth.shape[0], len(ranks))
    return _rates_from_outcomes(lineage_outcomes(truth, calls, depth, known), ranks, n_boot, alpha, seed)


def forced_accuracy(truth, calls, ranks: Sequence[str], known=None, n_boot: int = 0, alpha: float = 0.05,
                    seed: int = 0) -> dict[str, dict]:
    """Per-rank accuracy of the calls whatever their confidence (no cut-off); MISSING truth is skipped.

    Args:
        truth: True class per query and rank (N, R); :data:`~seqxent.data.taxon_tree.MISSING` where unnamed.
        calls: Called class per query and rank (N, R).
        ranks: Rank names (R,), top down.
        known: Optional (N, R) booleans; when given, only queries whose true taxon is known count.
        n_boot: Bootstrap replicates over queries for a 95 % interval; 0 = none.
        alpha: Two-sided miscoverage of the interval.
        seed: Seed of the bootstrap.

    Returns:
        ``{rank: {"n": queries scored, "accuracy": fraction correct or None}}``, plus ``ci`` with `n_boot`.

    Example:
        >>> forced_accuracy([[0, 1], [0, MISSING]], [[0, 2], [1, 2]], ["phylum", "genus"])
        {'phylum': {'n': 2, 'accuracy': 0.5}, 'genus': {'n': 1, 'accuracy': 0.0}}
    """
    known = np.ones(np.shape(truth), dtype=bool) if known is None else known
    truth, calls, known = _check_lineage_args(truth, calls, known, ranks)
    depth = np.full(truth.shape[0], len(ranks))  # every call stands
    rates = _rates_from_outcomes(lineage_outcomes(truth, calls, depth, known), ranks, n_boot, alpha, seed)
    out = {}
    for rank, block in rates.items():
        out[rank] = {"n": block["n_known"], "accuracy": block["correct_rate"]}
        if n_boot:
            out[rank]["ci"] = block["ci"]["correct_rate"]
    return out


# --------------------------------------------------------------------------- identity bins


def identity_bin_labels(edges: Sequence[float] = IDENTITY_EDGES) -> list[str]:
    """Bin labels for `edges`, top down: each edge in percent, then ``"<"`` the lowest edge.

    Example:
        >>> identity_bin_labels()
        ['100', '99', '97', '95', '90', '<90']
    """
    edges = np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or not edges.size or edges.max() > 1 or edges.min() <= 0 or np.any(np.diff(edges) >= 0):
        raise ValueError(f"Expected argument `edges` to be strictly decreasing values in (0, 1], but got "
                         f"{edges.tolist()}")
    labels = [f"{round(100 * edge, 6):g}" for edge in edges]
    return [*labels, f"<{labels[-1]}"]


def identity_bins(identity, edges: Sequence[float] = IDENTITY_EDGES) -> np.ndarray:
    """TAXXI identity bin of each query: the label of the highest edge its identity reaches (``"<…"`` if none).

    Args:
        identity: Identity of each query to its closest training sequence (N,), in [0, 1] (no hit: 0).
        edges: Bin edges, strictly decreasing in (0, 1]; each is lowered by 1e-9 for rounding.

    Returns:
        String array (N,) of labels from :func:`identity_bin_labels`.

    Raises:
        ValueError: If `identity` is not finite in [0, 1] or `edges` is not strictly decreasing in (0, 1].

    Example:
        >>> identity_bins([1.0, 0.995, 0.99, 0.985, 0.95, 0.9, 0.5]).tolist()
        ['100', '99', '99', '97', '95', '90', '<90']
    """
    labels = identity_bin_labels(edges)
    identity = _check_unit_interval("identity", identity, ndim=1)
    thresholds = np.asarray(edges, dtype=np.float64)[::-1] - _IDENTITY_TOL  # ascending
    reached = np.searchsorted(thresholds, identity, side="right")  # number of edges at or below identity
    return np.asarray(labels)[len(thresholds) - reached]


def rates_by_identity(truth, calls, depth, known, identity, ranks: Sequence[str],
                      edges: Sequence[float] = IDENTITY_EDGES, n_boot: int = 0, alpha: float = 0.05,
                      seed: int = 0) -> dict[str, dict]:
    """:func:`classification_rates` within each TAXXI identity bin (every bin listed, empty ones too).

    Args:
        truth: True class per query and rank (N, R).
        calls: Called class per query and rank (N, R).
        depth: Number of leading ranks whose calls stand per query (N,).
        known: Whether the true taxon is among the training taxa of its rank (N, R).
        identity: Identity of each query to its closest training sequence (N,), in [0, 1].
        ranks: Rank names (R,), top down.
        edges: Bin edges, as in :func:`identity_bins`.
        n_boot: Bootstrap replicates per bin; 0 = none.
        alpha: Two-sided miscoverage of the intervals.
        seed: Seed of the bootstrap.

    Returns:
        ``{label: {"n": queries in the bin, "ranks": {rank: block of classification_rates}}}``, top bin first.

    Example:
        >>> out = rates_by_identity([[0], [0]], [[0], [1]], [1, 1], [[True], [True]], [1.0, 0.96], ["genus"])
        >>> [(label, b["n"], b["ranks"]["genus"]["correct_rate"]) for label, b in out.items()][:3]
        [('100', 1, 1.0), ('99', 0, None), ('97', 0, None)]
    """
    truth, calls, known = _check_lineage_args(truth, calls, known, ranks)
    depth = _check_depth(depth, truth.shape[0], len(ranks))
    bins = identity_bins(identity, edges)
    if bins.shape != (truth.shape[0],):
        raise ValueError(f"Expected argument `identity` to have shape ({truth.shape[0]},), but got {bins.shape}")
    outcomes = lineage_outcomes(truth, calls, depth, known)
    out = {}
    for label in identity_bin_labels(edges):
        inside = bins == label
        out[label] = {"n": int(inside.sum()),
                      "ranks": _rates_from_outcomes(outcomes[inside], ranks, n_boot if inside.any() else 0,
                                                    alpha, seed)}
    return out


# --------------------------------------------------------------------------- cut-off curve


def over_vs_mis_curve(truth, calls, confidence, known, cutoffs, ranks: Sequence[str]) -> dict[str, dict]:
    """Mis-, over- and underclassification rate per rank at each confidence cut-off.

    At a cut-off the calls stand down to the first rank whose confidence is below it
    (:meth:`~seqxent.data.taxon_tree.TaxonTree.truncate`); the rates are those of :func:`classification_rates`.

    Args:
        truth: True class per query and rank (N, R).
        calls: Called class per query and rank (N, R).
        confidence: Confidence of each call (N, R), in [0, 1].
        known: Whether the true taxon is among the training taxa of its rank (N, R).
        cutoffs: Cut-offs (T,), e.g. ``np.linspace(0, 1, 21)``.
        ranks: Rank names (R,), top down.

    Returns:
        ``{rank: {"cutoff": [T], "misclassification_rate": [T], "overclassification_rate": [T],
        "underclassification_rate": [T]}}``, None where a rate is undefined.

    Example:
        >>> curve = over_vs_mis_curve([[0], [3]], [[0], [1]], [[0.9], [0.6]], [[True], [False]], [0.5, 0.8, 1.0],
        ...                           ["genus"])
        >>> curve["genus"]["misclassification_rate"], curve["genus"]["overclassification_rate"]
        ([0.0, 0.0, 0.0], [1.0, 0.0, 0.0])
    """
    truth, calls, known = _check_lineage_args(truth, calls, known, ranks)
    confidence = _check_unit_interval("confidence", confidence, ndim=2)
    if confidence.shape != truth.shape:
        raise ValueError(f"Expected argument `confidence` to have shape {truth.shape}, but got {confidence.shape}")
    cutoffs = np.asarray(cutoffs, dtype=np.float64)
    if cutoffs.ndim != 1 or not np.all(np.isfinite(cutoffs)):
        raise ValueError(f"Expected argument `cutoffs` to be a 1-D array of finite values, but got {cutoffs}")
    names = ("misclassification_rate", "overclassification_rate", "underclassification_rate")
    out = {rank: {"cutoff": cutoffs.tolist(), **{name: [] for name in names}} for rank in ranks}
    for cutoff in cutoffs:
        depth = TaxonTree.truncate(confidence, cutoff)
        rates = _rates_from_outcomes(lineage_outcomes(truth, calls, depth, known), ranks, 0, 0.05, 0)
        for rank in ranks:
            for name in names:
                out[rank][name].append(rates[rank][name])
    return out
