"""Tests of seqxent.metrics.taxonomy: IDTAXA's per-rank rates by hand and against a brute-force loop, forced
accuracy, TAXXI identity bins at their edges, rates per bin and the over- vs misclassification curve."""

import json

import numpy as np
import pytest

from seqxent.metrics import taxonomy as T

MISSING = -100
RANKS = ["phylum", "class", "genus"]
T_, F_ = True, False

# Five queries, three ranks; the outcome of every (query, rank) is written beside it.
TRUTH = np.array([[0, 1, 2],          # depth 3, all known:        CR  CR  CR
                  [0, 1, 3],          # depth 3, all known:        CR  MC  CR
                  [1, 0, 4],          # depth 1, genus novel:      CR  UC  withheld
                  [1, MISSING, 5],    # depth 3, genus novel:      MC  --  OC
                  [0, 0, MISSING]])   # depth 0, class novel:      UC  withheld  --
CALLS = np.array([[0, 1, 2], [0, 2, 3], [1, 0, 0], [0, 0, 0], [0, 0, 1]])
DEPTH = np.array([3, 3, 1, 3, 0])
KNOWN = np.array([[T_, T_, T_], [T_, T_, T_], [T_, T_, F_], [T_, T_, F_], [T_, F_, T_]])
RATE_NAMES = ("correct_rate", "misclassification_rate", "underclassification_rate", "overclassification_rate",
              "error_rate")


def _brute_force_rates(truth, calls, depth, known, ranks):
    """Independent reference: one pass over the queries per rank, counting with if-chains."""
    out = {}
    for r, rank in enumerate(ranks):
        c = dict.fromkeys(("correct", "misclassified", "underclassified", "overclassified", "withheld"), 0)
        for i in range(len(truth)):
            if truth[i][r] == MISSING:
                continue
            stands = r < depth[i]
            if known[i][r]:
                key = "underclassified" if not stands else "correct" if calls[i][r] == truth[i][r] else "misclassified"
            else:
                key = "overclassified" if stands else "withheld"
            c[key] += 1
        n_known = c["correct"] + c["misclassified"] + c["underclassified"]
        n_novel = c["overclassified"] + c["withheld"]
        div = lambda a, b: a / b if b else None  # noqa: E731
        out[rank] = {"n_known": n_known, "n_novel": n_novel, **c,
                     "correct_rate": div(c["correct"], n_known),
                     "misclassification_rate": div(c["misclassified"], n_known),
                     "underclassification_rate": div(c["underclassified"], n_known),
                     "overclassification_rate": div(c["overclassified"], n_novel),
                     "error_rate": div(c["misclassified"] + c["overclassified"], n_known + n_novel)}
    return out


def _random_lineages(seed, n=200, n_ranks=4, n_classes=4):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_classes, (n, n_ranks))
    calls = np.where(rng.random((n, n_ranks)) < 0.6, truth, rng.integers(0, n_classes, (n, n_ranks)))
    truth[rng.random((n, n_ranks)) < 0.15] = MISSING
    known = rng.random((n, n_ranks)) < 0.7
    return truth, calls, rng.integers(0, n_ranks + 1, n), known, rng.random((n, n_ranks))


# --------------------------------------------------------------------------- classification_rates


def test_classification_rates_by_hand():
    out = T.classification_rates(TRUTH, CALLS, DEPTH, KNOWN, RANKS)
    assert out["phylum"] == {"n_known": 5, "n_novel": 0, "correct": 3, "misclassified": 1, "underclassified": 1,
                             "overclassified": 0, "withheld": 0, "correct_rate": 3 / 5,
                             "misclassification_rate": 1 / 5, "underclassification_rate": 1 / 5,
                             "overclassification_rate": None, "error_rate": 1 / 5}  # no novel phylum
    assert out["class"] == {"n_known": 3, "n_novel": 1, "correct": 1, "misclassified": 1, "underclassified": 1,
                            "overclassified": 0, "withheld": 1, "correct_rate": 1 / 3,
                            "misclassification_rate": 1 / 3, "underclassification_rate": 1 / 3,
                            "overclassification_rate": 0.0, "error_rate": 1 / 4}
    assert out["genus"] == {"n_known": 2, "n_novel": 2, "correct": 2, "misclassified": 0, "underclassified": 0,
                            "overclassified": 1, "withheld": 1, "correct_rate": 1.0,
                            "misclassification_rate": 0.0, "underclassification_rate": 0.0,
                            "overclassification_rate": 0.5, "error_rate": 1 / 4}


def test_classification_rates_is_json_ready():
    out = T.classification_rates(TRUTH, CALLS, DEPTH, KNOWN, RANKS, n_boot=20)
    assert json.loads(json.dumps(out, allow_nan=False)) == out
    assert all(type(v) in (int, float, type(None)) for block in out.values() for k, v in block.items() if k != "ci")


def test_lineage_outcomes_codes():
    codes = T.lineage_outcomes(TRUTH, CALLS, DEPTH, KNOWN)
    names = [[T.OUTCOMES[c] for c in row] for row in codes]
    assert names == [["correct", "correct", "correct"], ["correct", "misclassified", "correct"],
                     ["correct", "underclassified", "withheld"], ["misclassified", "missing", "overclassified"],
                     ["underclassified", "withheld", "missing"]]


def test_all_missing_rank_has_no_rates():
    truth = TRUTH.copy()
    truth[:, 2] = MISSING
    genus = T.classification_rates(truth, CALLS, DEPTH, KNOWN, RANKS)["genus"]
    assert genus["n_known"] == genus["n_novel"] == 0
    assert all(genus[name] is None for name in RATE_NAMES)
    assert genus["correct"] == genus["overclassified"] == genus["withheld"] == 0


def test_depth_zero_calls_nothing():
    out = T.classification_rates(TRUTH, CALLS, np.zeros(5, int), KNOWN, RANKS)
    assert out["phylum"]["underclassified"] == 5 and out["phylum"]["underclassification_rate"] == 1.0
    assert out["genus"]["withheld"] == 2 and out["genus"]["overclassification_rate"] == 0.0
    for block in out.values():
        assert block["correct"] == block["misclassified"] == block["overclassified"] == 0
        assert block["error_rate"] == 0.0


def test_calls_below_depth_are_ignored():
    garbage = np.where(np.arange(3) < DEPTH[:, None], CALLS, 99)
    assert T.classification_rates(TRUTH, garbage, DEPTH, KNOWN, RANKS) == \
        T.classification_rates(TRUTH, CALLS, DEPTH, KNOWN, RANKS)


def test_no_queries():
    empty = np.zeros((0, 3), int)
    out = T.classification_rates(empty, empty, np.zeros(0, int), empty.astype(bool), RANKS, n_boot=10)
    assert out["class"]["n_known"] == 0 and out["class"]["error_rate"] is None
    assert out["class"]["ci"]["error_rate"] is None


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_classification_rates_match_brute_force(seed):
    truth, calls, depth, known, _ = _random_lineages(seed)
    ranks = ["d", "p", "c", "g"]
    out = T.classification_rates(truth, calls, depth, known, ranks)
    expected = _brute_force_rates(truth.tolist(), calls.tolist(), depth.tolist(), known.tolist(), ranks)
    assert out.keys() == expected.keys()
    for rank in ranks:
        assert out[rank] == pytest.approx(expected[rank])
        assert out[rank]["correct_rate"] + out[rank]["misclassification_rate"] + \
            out[rank]["underclassification_rate"] == pytest.approx(1.0)


def test_bootstrap_intervals():
    truth, calls, depth, known, _ = _random_lineages(5)
    ranks = ["d", "p", "c", "g"]
    out = T.classification_rates(truth, calls, depth, known, ranks, n_boot=200, seed=1)
    assert out == T.classification_rates(truth, calls, depth, known, ranks, n_boot=200, seed=1)
    for block in out.values():
        for name in RATE_NAMES:
            low, high = block["ci"][name]
            assert 0.0 <= low <= block[name] <= high <= 1.0
    no_novel = T.classification_rates(TRUTH, CALLS, DEPTH, KNOWN, RANKS, n_boot=50)["phylum"]["ci"]
    assert no_novel["overclassification_rate"] is None and len(no_novel["error_rate"]) == 2
    assert "ci" not in T.classification_rates(TRUTH, CALLS, DEPTH, KNOWN, RANKS)["phylum"]


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"depth": [3, 3, 1, 3, 4]}, r"`depth` to hold integers in \[0, 3\]"),
    ({"depth": [3, 3, 1, 3]}, r"`depth` to have shape \(5,\)"),
    ({"depth": [3.0, 3, 1, 3, 0]}, r"`depth` to hold integers"),
    ({"truth": TRUTH[:, :2]}, r"`truth` to have shape \(N, 3\)"),
    ({"calls": CALLS[:4]}, r"`calls` to have shape \(N, 3\) with N = 5"),
    ({"truth": TRUTH.astype(float)}, "`truth` to be an integer array"),
    ({"known": KNOWN.astype(int)}, "`known` to be a boolean array"),
    ({"ranks": ["phylum", "genus"]}, r"`truth` to have shape \(N, 2\)"),
    ({"ranks": []}, "`ranks` to name at least one rank"),
])
def test_classification_rates_rejects_bad_input(kwargs, match):
    args = {"truth": TRUTH, "calls": CALLS, "depth": DEPTH, "known": KNOWN, "ranks": RANKS, **kwargs}
    with pytest.raises(ValueError, match=match):
        T.classification_rates(**args)


# --------------------------------------------------------------------------- forced_accuracy


def test_forced_accuracy_by_hand():
    # cut-off ignored: phylum right for queries 0 1 2 4, class for 0 2 4 (3 MISSING), genus for 0 1 (4 MISSING)
    assert T.forced_accuracy(TRUTH, CALLS, RANKS) == {"phylum": {"n": 5, "accuracy": 0.8},
                                                      "class": {"n": 4, "accuracy": 0.75},
                                                      "genus": {"n": 4, "accuracy": 0.5}}
    # known only: class drops query 4 (novel, right by luck), genus drops queries 2 and 3 (novel)
    assert T.forced_accuracy(TRUTH, CALLS, RANKS, known=KNOWN) == {"phylum": {"n": 5, "accuracy": 0.8},
                                                                   "class": {"n": 3, "accuracy": 2 / 3},
                                                                   "genus": {"n": 2, "accuracy": 1.0}}


def test_forced_accuracy_equals_full_depth_correct_rate():
    truth, calls, _, known, _ = _random_lineages(7)
    ranks = ["d", "p", "c", "g"]
    rates = T.classification_rates(truth, calls, np.full(len(truth), 4), known, ranks)
    forced = T.forced_accuracy(truth, calls, ranks, known=known, n_boot=50)
    for rank in ranks:
        assert forced[rank]["accuracy"] == rates[rank]["correct_rate"]
        assert forced[rank]["n"] == rates[rank]["n_known"]
        low, high = forced[rank]["ci"]
        assert low <= forced[rank]["accuracy"] <= high
    truth[:, 1] = MISSING
    assert T.forced_accuracy(truth, calls, ranks)["p"] == {"n": 0, "accuracy": None}


# --------------------------------------------------------------------------- identity bins


def test_identity_bins_at_edges():
    identity = [1.0, 1 - 1e-12, 0.9999, 0.99, 0.99 - 1e-12, 0.9899, 0.985, 0.97, 0.9699, 0.95, 0.9499, 0.90,
                0.97 - 1e-12, 0.8999, 0.0]
    expected = ["100", "100", "99", "99", "99", "97", "97", "97", "95", "95", "90", "90", "97", "<90", "<90"]
    assert T.identity_bins(identity).tolist() == expected


def test_identity_bins_custom_edges_and_labels():
    assert T.identity_bin_labels((0.975, 0.8)) == ["97.5", "80", "<80"]
    assert T.identity_bins([1.0, 0.975, 0.9, 0.5], edges=(0.975, 0.8)).tolist() == ["97.5", "97.5", "80", "<80"]


@pytest.mark.parametrize(("identity", "edges", "match"), [
    ([0.5, np.nan], T.IDENTITY_EDGES, r"`identity` to hold finite values in \[0, 1\]"),
    ([1.01], T.IDENTITY_EDGES, r"`identity` to hold finite values in \[0, 1\]"),
    ([[0.5]], T.IDENTITY_EDGES, "`identity` to have 1 dimension"),
    ([0.5], (0.9, 0.95), "`edges` to be strictly decreasing"),
    ([0.5], (1.5, 0.9), "`edges` to be strictly decreasing"),
    ([0.5], (), "`edges` to be strictly decreasing"),
])
def test_identity_bins_rejects_bad_input(identity, edges, match):
    with pytest.raises(ValueError, match=match):
        T.identity_bins(identity, edges)


def test_rates_by_identity_splits_queries():
    identity = np.array([1.0, 0.985, 0.985, 0.5, 0.96])
    out = T.rates_by_identity(TRUTH, CALLS, DEPTH, KNOWN, identity, RANKS)
    assert list(out) == ["100", "99", "97", "95", "90", "<90"]
    assert [block["n"] for block in out.values()] == [1, 0, 2, 1, 0, 1]
    for label, rows in (("100", [0]), ("97", [1, 2]), ("95", [4]), ("<90", [3])):
        assert out[label]["ranks"] == T.classification_rates(TRUTH[rows], CALLS[rows], DEPTH[rows], KNOWN[rows],
                                                             RANKS)
    assert out["97"]["ranks"]["class"]["misclassification_rate"] == 0.5  # query 1 MC, query 2 UC
    assert out["99"]["ranks"]["genus"]["n_known"] == 0
    assert all(out["99"]["ranks"]["genus"][name] is None for name in RATE_NAMES)
    with pytest.raises(ValueError, match=r"`identity` to have shape \(5,\)"):
        T.rates_by_identity(TRUTH, CALLS, DEPTH, KNOWN, identity[:4], RANKS)


def test_rates_by_identity_bootstrap_skips_empty_bins():
    out = T.rates_by_identity(TRUTH, CALLS, DEPTH, KNOWN, [1.0] * 5, RANKS, n_boot=20)
    assert "ci" in out["100"]["ranks"]["genus"] and "ci" not in out["99"]["ranks"]["genus"]
    assert json.loads(json.dumps(out, allow_nan=False)) == out


# --------------------------------------------------------------------------- over- vs misclassification curve


def test_over_vs_mis_curve_by_hand():
    truth, calls = [[0, 0], [1, 2]], [[0, 1], [1, 0]]
    confidence = [[0.9, 0.6], [0.4, 0.95]]
    known = [[T_, T_], [T_, F_]]
    curve = T.over_vs_mis_curve(truth, calls, confidence, known, [0.0, 0.5, 0.95], ["family", "genus"])
    # cut-off 0: both lineages whole; 0.5: query 1 cut at family (0.4); 0.95: both cut at family
    assert curve["family"] == {"cutoff": [0.0, 0.5, 0.95], "misclassification_rate": [0.0, 0.0, 0.0],
                               "overclassification_rate": [None, None, None],
                               "underclassification_rate": [0.0, 0.5, 1.0]}
    assert curve["genus"] == {"cutoff": [0.0, 0.5, 0.95], "misclassification_rate": [1.0, 1.0, 0.0],
                              "overclassification_rate": [1.0, 0.0, 0.0],
                              "underclassification_rate": [0.0, 0.0, 1.0]}


def _brute_force_depth(confidence, cutoff):
    depth = []
    for row in confidence:
        d = 0
        while d < len(row) and row[d] >= cutoff:
            d += 1
        depth.append(d)
    return np.array(depth)


@pytest.mark.parametrize("seed", [0, 1])
def test_over_vs_mis_curve_matches_rates_and_is_monotone(seed):
    truth, calls, _, known, confidence = _random_lineages(seed)
    ranks = ["d", "p", "c", "g"]
    cutoffs = np.linspace(0, 1, 21)
    curve = T.over_vs_mis_curve(truth, calls, confidence, known, cutoffs, ranks)
    for i in (0, 7, 20):
        rates = _brute_force_rates(truth, calls, _brute_force_depth(confidence, cutoffs[i]), known, ranks)
        for rank in ranks:
            assert curve[rank]["misclassification_rate"][i] == pytest.approx(rates[rank]["misclassification_rate"])
            assert curve[rank]["overclassification_rate"][i] == pytest.approx(rates[rank]["overclassification_rate"])
    for rank in ranks:
        # a higher cut-off only withdraws calls: fewer mis- and overclassified, more underclassified
        assert np.all(np.diff(curve[rank]["misclassification_rate"]) <= 0)
        assert np.all(np.diff(curve[rank]["overclassification_rate"]) <= 0)
        assert np.all(np.diff(curve[rank]["underclassification_rate"]) >= 0)
    assert curve["d"]["cutoff"] == cutoffs.tolist()


def test_over_vs_mis_curve_rejects_bad_input():
    with pytest.raises(ValueError, match=r"`confidence` to hold finite values in \[0, 1\]"):
        T.over_vs_mis_curve(TRUTH, CALLS, np.full((5, 3), 1.5), KNOWN, [0.5], RANKS)
    with pytest.raises(ValueError, match=r"`confidence` to have shape \(5, 3\)"):
        T.over_vs_mis_curve(TRUTH, CALLS, np.full((5, 2), 0.5), KNOWN, [0.5], RANKS)
    with pytest.raises(ValueError, match="`cutoffs` to be a 1-D array of finite values"):
        T.over_vs_mis_curve(TRUTH, CALLS, np.full((5, 3), 0.5), KNOWN, [np.nan], RANKS)
