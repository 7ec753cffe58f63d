import itertools

import numpy as np
import pytest

from seqxent.baseline.kmer import (
    KmerLogisticRegression,
    KmerNearestNeighbour,
    LabelLookup,
    MajorityClass,
    kmer_features,
)


def slow_kmer_counts(seq: str, k: int) -> dict[str, int]:
    """Reference: count every k-mer made only of A, C, G, T (after upper-casing, U -> T) with a plain loop."""
    seq = seq.upper().replace("U", "T")
    counts: dict[str, int] = {}
    for i in range(len(seq) - k + 1):
        word = seq[i : i + k]
        if set(word) <= set("ACGT"):
            counts[word] = counts.get(word, 0) + 1
    return counts


def kmer_column(word: str) -> int:
    return int("".join(str("ACGT".index(b)) for b in word), 4)


SEQS = ["ACGTA", "AAAA", "ACNGT", "acgtRYacgt", "ACGU", "", "A", "NNNN", "GATTACAGATTACA", "TTTTTTTTTC"]


def test_kmer_features_exact_acgta():
    x = kmer_features(["ACGTA"], k=2, norm=None).toarray()
    expected = np.zeros((1, 16))
    expected[0, [kmer_column(w) for w in ("AC", "CG", "GT", "TA")]] = 1
    np.testing.assert_array_equal(x, expected)


def test_kmer_features_repeated_kmer_is_counted():
    x = kmer_features(["AAAA"], k=2, norm=None)
    assert x[0, 0] == 3 and x.nnz == 1


@pytest.mark.parametrize(("k", "norm"), list(itertools.product([1, 2, 3, 5], [None, "l1", "l2"])))
def test_kmer_features_match_slow_loop(k, norm):
    x = kmer_features(SEQS, k=k, norm=norm).toarray()
    assert x.shape == (len(SEQS), 4**k)
    for row, seq in zip(x, SEQS, strict=True):
        expected = np.zeros(4**k)
        for word, count in slow_kmer_counts(seq, k).items():
            expected[kmer_column(word)] = count
        total = {"l1": expected.sum(), "l2": np.sqrt((expected**2).sum()), None: 1.0}[norm]
        np.testing.assert_allclose(row, expected / total if total else expected)


def test_kmer_features_float32_and_csr():
    x = kmer_features(["ACGTACGT"], k=3, dtype=np.float32)
    assert x.format == "csr" and x.dtype == np.float32 and x.has_sorted_indices


@pytest.mark.parametrize("k", [0, -1, 16, 2.0, True])
def test_kmer_features_reject_bad_k(k):
    with pytest.raises(ValueError, match="Expected argument `k`"):
        kmer_features(["ACGT"], k=k)


def test_kmer_features_reject_bad_norm():
    with pytest.raises(ValueError, match="Expected argument `norm`"):
        kmer_features(["ACGT"], k=2, norm="max")


def test_kmer_features_no_sequences():
    assert kmer_features([], k=3).shape == (0, 64)


@pytest.mark.parametrize("model", [KmerLogisticRegression(k=2), KmerNearestNeighbour(k=2), MajorityClass()])
def test_predict_proba_without_queries(model):
    assert model.fit(TOY_SEQS, TOY_LABELS).predict_proba([]).shape == (0, 3)


# Three trivially separable classes: each sequence is built from one dinucleotide repeat plus a mutation.
TOY_SEQS = ["ACACACACAC", "ACACACTCAC", "CACACACAGA", "GTGTGTGTGT", "GTGTGAGTGT", "TGTGTGTGCG"]
TOY_SEQS += ["AAAAAAAAAA", "AAAATAAAAA", "AAAAAAAAGA"]
TOY_LABELS = ["ac"] * 3 + ["gt"] * 3 + ["a"] * 3
TOY_QUERIES, TOY_TRUTH = ["CACACACAC", "TGTGTGTGT", "AAAAAAAAC"], ["ac", "gt", "a"]


def test_logistic_regression_separates_toy_set():
    model = KmerLogisticRegression(k=2, C=100.0).fit(TOY_SEQS, TOY_LABELS)
    probs = model.predict_proba(TOY_QUERIES)
    assert model.classes_ == ["a", "ac", "gt"]
    assert probs.shape == (3, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert model.predict(TOY_QUERIES) == TOY_TRUTH
    assert model.predict(TOY_SEQS) == TOY_LABELS


def test_logistic_regression_is_deterministic():
    first = KmerLogisticRegression(k=3).fit(TOY_SEQS, TOY_LABELS).predict_proba(TOY_QUERIES)
    second = KmerLogisticRegression(k=3).fit(TOY_SEQS, TOY_LABELS).predict_proba(TOY_QUERIES)
    np.testing.assert_array_equal(first, second)


def test_logistic_regression_single_class():
    model = KmerLogisticRegression(k=2).fit(["ACGT", "ACGA"], ["x", "x"])
    np.testing.assert_array_equal(model.predict_proba(["TTTT"]), [[1.0]])


def test_logistic_regression_rejects_bad_c():
    with pytest.raises(ValueError, match="Expected argument `C`"):
        KmerLogisticRegression(C=0)


def test_nearest_neighbour_top_hit():
    model = KmerNearestNeighbour(k=2, proba="onehot").fit(TOY_SEQS, TOY_LABELS)
    probs = model.predict_proba(TOY_QUERIES)
    np.testing.assert_array_equal(probs, np.eye(3)[[1, 2, 0]])
    assert model.predict(TOY_QUERIES) == TOY_TRUTH


@pytest.mark.parametrize("chunk_size", [1, 2, 256])
def test_nearest_neighbour_similarity_matches_dense_cosine(chunk_size):
    model = KmerNearestNeighbour(k=3, chunk_size=chunk_size).fit(TOY_SEQS, TOY_LABELS)
    ref, query = (kmer_features(s, 3, norm=None).toarray() for s in (TOY_SEQS, TOY_QUERIES))
    cosine = (query @ ref.T) / np.outer(np.linalg.norm(query, axis=1), np.linalg.norm(ref, axis=1))
    expected = np.stack([cosine[:, [i for i, y in enumerate(TOY_LABELS) if y == c]].max(axis=1)
                         for c in model.classes_], axis=1)  # fmt: skip
    np.testing.assert_allclose(model.class_similarity(TOY_QUERIES), expected)


def test_nearest_neighbour_softmax_probabilities():
    model = KmerNearestNeighbour(k=3, temperature=0.1).fit(TOY_SEQS, TOY_LABELS)
    best = model.class_similarity(TOY_QUERIES)
    expected = np.exp(best / 0.1) / np.exp(best / 0.1).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(TOY_QUERIES), expected)


def test_nearest_neighbour_query_without_kmers_gets_uniform():
    model = KmerNearestNeighbour(k=3).fit(TOY_SEQS, TOY_LABELS)
    np.testing.assert_allclose(model.predict_proba(["NNNN"]), [[1 / 3] * 3])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"proba": "max"}, "proba"), ({"temperature": 0}, "temperature")],
    ids=["proba", "temp"],
)
def test_nearest_neighbour_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        KmerNearestNeighbour(**kwargs)


def test_majority_class_prior_and_tie_break():
    model = MajorityClass().fit(["A"] * 4, ["b", "a", "b", "a"])
    np.testing.assert_array_equal(model.predict_proba(["C", "G"]), [[0.5, 0.5], [0.5, 0.5]])
    assert model.predict(["C"]) == ["a"]  # ties go to the first class in sorted order


def test_majority_class_labels_become_strings():
    model = MajorityClass().fit(["A", "C", "G"], [2, 10, 10])
    assert model.classes_ == ["10", "2"]
    assert model.predict(["T"]) == ["10"]


def test_label_lookup_most_common_and_fallback():
    keys = ["sp1", "sp1", "sp1", "sp2", "sp3", "sp3"]
    labels = ["DE", "DE", "FR", "US", "US", "CA"]
    model = LabelLookup().fit(keys, labels)
    assert model.classes_ == ["CA", "DE", "FR", "US"]
    assert model.predict(["sp1", "sp2", "sp3", "never seen"]) == ["DE", "US", "CA", "DE"]
    np.testing.assert_allclose(model.predict_proba(["sp1"]), [[0, 2 / 3, 1 / 3, 0]])
    np.testing.assert_allclose(model.predict_proba(["never seen"]), [[1 / 6, 2 / 6, 1 / 6, 2 / 6]])


def test_label_lookup_alpha_shrinks_towards_prior():
    model = LabelLookup(alpha=2.0).fit(["k", "k", "j", "j"], ["x", "x", "y", "y"])
    # key k: counts (2, 0), prior (0.5, 0.5): ((2, 0) + 2 * 0.5) / (2 + 2)
    np.testing.assert_allclose(model.predict_proba(["k"]), [[0.75, 0.25]])


def test_label_lookup_rejects_negative_alpha():
    with pytest.raises(ValueError, match="Expected argument `alpha`"):
        LabelLookup(alpha=-1)


@pytest.mark.parametrize("model", [MajorityClass(), LabelLookup(), KmerNearestNeighbour(k=2)])
def test_length_mismatch_raises(model):
    with pytest.raises(ValueError, match="same length"):
        model.fit(["ACGT", "ACGA"], ["x"])


def test_empty_labels_raise():
    with pytest.raises(ValueError, match="at least one label"):
        MajorityClass().fit([], [])
