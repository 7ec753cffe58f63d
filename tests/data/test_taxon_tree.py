"""TaxonTree: classes and ancestors of a lineage model, consistent calls checked against a brute-force search."""

import numpy as np
import pytest

from seqxent.data.taxon_tree import MISSING, NO_CALL, TaxonTree, rank_offsets

RANKS = ["phylum", "family", "genus", "species"]


def _brute_force(tree: TaxonTree, probs: np.ndarray) -> np.ndarray:
    """Top down, the most probable class whose every known ancestor equals the call at its rank."""
    calls = np.full((len(probs), len(tree.ranks)), NO_CALL)
    for i, p in enumerate(probs):
        for r in range(len(tree.ranks)):
            block = tree.rank_slice(r)
            ok = [c for c in range(block.start, block.stop)
                  if all(tree.ancestors[c, a] in (-1, calls[i, a]) for a in range(r))]
            if not ok:  # a gap: the ranks below are still called
                continue
            calls[i, r] = max(ok, key=lambda c: (p[c], -c))
    return calls


def _random_lineages(rng, n: int) -> list[list[str]]:
    """Lineages with gaps (a missing family or phylum) and a homonym genus under two families."""
    out = []
    for _ in range(n):
        phylum, family = f"P{rng.integers(3)}", f"F{rng.integers(6)}"
        genus = f"G{rng.integers(12)}"
        lineage = [phylum, family, genus, f"{genus}_s{rng.integers(3)}"]
        for r in rng.choice(4, size=rng.integers(0, 2), replace=False):
            lineage[r] = ""
        out.append(lineage)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_decode_equals_a_brute_force_search(seed):
    rng = np.random.default_rng(seed)
    tree = TaxonTree.from_lineages(_random_lineages(rng, 80), RANKS)
    probs = np.exp(rng.normal(0, 3, (200, len(tree.classes))))
    for start, stop in zip(tree.offsets[:-1], tree.offsets[1:], strict=True):
        probs[:, start:stop] /= probs[:, start:stop].sum(axis=1, keepdims=True)
    calls, conf = tree.decode(probs)
    np.testing.assert_array_equal(calls, _brute_force(tree, probs))
    rows = np.arange(len(probs))[:, None]
    called = calls >= 0
    np.testing.assert_allclose(conf[called], probs[rows, np.maximum(calls, 0)][called])
    for r in range(len(RANKS)):  # a gap carries the confidence of the rank above
        gap = ~called[:, r]
        np.testing.assert_allclose(conf[gap, r], conf[gap, r - 1] if r else 1.0)


def test_a_rank_without_a_taxon_under_the_calls_is_a_gap():
    # F2 has no genus: once F2 is called, nothing can be called below it.
    tree = TaxonTree.from_lineages([["P", "F1", "g1"], ["P", "F2", ""]], ["phylum", "family", "genus"])
    calls, conf = tree.decode(np.array([[1.0, 0.3, 0.7, 1.0]]))
    assert calls.tolist() == [[0, 2, NO_CALL]] and conf.tolist() == [[1.0, 0.7, 0.7]]
    # O1 has genera but no family: with O1 called the family is a gap, and its genus is still called.
    tree = TaxonTree.from_lineages([["O1", "", "g1"], ["O1", "", "g2"], ["O2", "F2", "g3"]],
                                   ["order", "family", "genus"])
    probs = np.zeros((1, len(tree.classes)))
    probs[0, tree.classes.index("order:O1")], probs[0, tree.classes.index("family:F2")] = 0.9, 1.0
    probs[0, [tree.classes.index("genus:g2"), tree.classes.index("genus:g3")]] = 0.6, 0.4
    calls, conf = tree.decode(probs)
    assert [tree.classes[c] if c >= 0 else c for c in calls[0]] == ["order:O1", NO_CALL, "genus:g2"]
    assert conf.tolist() == [[0.9, 0.9, 0.6]] and TaxonTree.truncate(conf, 0.5).tolist() == [3]


def test_ancestors_follow_the_majority_and_form_one_tree():
    lineages = [["P1", "F1", "g1"], ["P1", "F1", "g1"], ["P2", "F2", "g1"], ["P2", "F1", ""]]
    tree = TaxonTree.from_lineages(lineages, ["phylum", "family", "genus"])
    g1, f1 = tree.classes.index("genus:g1"), tree.classes.index("family:F1")
    assert tree.ancestors[g1, 1] == f1  # two of three records put g1 under F1
    assert tree.ancestors[g1, 0] == tree.ancestors[f1, 0]  # and above F1, g1 has F1's phylum
    assert tree.targets(["P2", "", "g1"]) == (1, MISSING, g1)
    assert rank_offsets(tree.classes) == tree.offsets.tolist()


def test_meta_round_trip():
    tree = TaxonTree.from_lineages([["P", "F1", "g1"], ["P", "", "g2"]], ["phylum", "family", "genus"])
    back = TaxonTree.from_meta(tree.to_meta(), tree.classes)
    assert back.ranks == tree.ranks and back.sizes == tree.sizes
    np.testing.assert_array_equal(back.ancestors, tree.ancestors)
