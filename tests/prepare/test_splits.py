import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqxent.prepare.splits import (
    assign_splits,
    combine_groups,
    connected_groups,
    group_identical,
    summarize_splits,
)


def slow_union_find(*arrays):
    """Reference: merge records pairwise in a loop, then number groups by first appearance."""
    n = len(arrays[0])
    parent = list(range(n))

    def find(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for keys in arrays:
        for i in range(n):
            for j in range(i):
                if keys[i] not in (None, "") and keys[i] == keys[j]:
                    parent[find(i)] = find(j)
    roots = {}
    return [roots.setdefault(find(i), len(roots)) for i in range(n)]


# --- connected_groups -------------------------------------------------------------------------------------


def test_connected_groups_numbers_components_by_their_first_record():
    # links 4-2 and 2-0 join records 0, 2, 4; record 3 alone; 1-5 together
    got = connected_groups(6, np.array([4, 2, 5]), np.array([2, 0, 1]))
    assert got.tolist() == [0, 1, 0, 2, 0, 1]


# --- group_identical ---------------------------------------------------------------------------------------


def test_group_identical_ignores_case_and_numbers_by_first_appearance():
    assert group_identical(["GG", "acgt", "ACGT", "gg", "T"]).tolist() == [0, 1, 1, 0, 2]


def test_group_identical_empty():
    assert group_identical([]).tolist() == []


# --- combine_groups ----------------------------------------------------------------------------------------


def test_combine_groups_identical_or_same_bin():
    identical = [0, 1, 2, 1, 3, 4]
    bins = ["A", "B", "A", None, float("nan"), ""]
    # records 0 and 2 share bin A; 1 and 3 share a sequence; missing bins link nothing
    assert combine_groups(identical, bins).tolist() == [0, 1, 0, 1, 2, 3]


def test_combine_groups_transitive_chain():
    assert combine_groups([0, 0, 1, 1, 2], ["x", "y", "y", "z", "z"]).tolist() == [0, 0, 0, 0, 0]


def test_combine_groups_single_array_renumbers():
    assert combine_groups([7, 3, 7, 9]).tolist() == [0, 1, 0, 2]


@pytest.mark.parametrize("arrays", [(), ([0, 1], [0])])
def test_combine_groups_bad_input(arrays):
    with pytest.raises(ValueError, match="group_arrays"):
        combine_groups(*arrays)


KEYS = st.sampled_from(["a", "b", "c", "d", None, ""])


ROWS_OF_KEYS = st.integers(1, 12).flatmap(
    lambda n: st.lists(st.lists(KEYS, min_size=n, max_size=n), min_size=1, max_size=3)
)


@settings(max_examples=60, deadline=None)
@given(ROWS_OF_KEYS)
def test_combine_groups_matches_slow_union_find(arrays):
    assert combine_groups(*arrays).tolist() == slow_union_find(*arrays)


# --- assign_splits -----------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 15), min_size=1, max_size=60),
    st.lists(st.sampled_from("xyz"), min_size=60, max_size=60),
    st.integers(0, 2**31),
)
def test_group_never_straddles_splits(groups, labels, seed):
    groups = np.array(groups)
    split = assign_splits(groups, labels[: len(groups)], seed=seed)
    for g in np.unique(groups):
        assert len(set(split[groups == g])) == 1
    assert set(split) <= {"train", "valid", "test"}


def test_assign_splits_stratified_every_label_everywhere():
    # 3 labels x 10 singleton groups each, plus a label with 2 groups and one with a single group
    labels = [lab for lab in "abc" for _ in range(10)] + ["d", "d", "e"]
    groups = np.arange(len(labels))
    split = assign_splits(groups, labels, seed=3)
    for lab in "abc":
        got = split[np.array(labels) == lab]
        assert sorted(set(got)) == ["test", "train", "valid"]
        assert (got == "train").sum() == 8  # 80 % of 10 equally sized groups
    assert split[-1] == "train"  # a single group goes to train
    assert "train" in split[30:32]


def test_assign_splits_majority_label_decides_group():
    # group 0 has labels a,a,b: it counts as an "a" group; b has only group 0's minority record
    groups = np.array([0, 0, 0, 1, 2, 3])
    labels = ["a", "a", "b", "a", "a", "a"]
    split = assign_splits(groups, labels, seed=0)
    assert len(set(split[:3])) == 1
    assert sorted(set(split)) == ["test", "train", "valid"]


def test_assign_splits_record_fractions_on_unequal_groups():
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(400), rng.integers(1, 6, size=400))
    split = assign_splits(groups, fractions=(0.6, 0.2, 0.2), seed=1)
    shares = [np.mean(split == s) for s in ("train", "valid", "test")]
    np.testing.assert_allclose(shares, [0.6, 0.2, 0.2], atol=0.01)


def test_assign_splits_deterministic_and_seed_dependent():
    groups = np.arange(200) // 2
    labels = np.where(np.arange(200) % 4 < 2, "p", "q")
    first = assign_splits(groups, labels, seed=7)
    assert first.tolist() == assign_splits(groups, labels, seed=7).tolist()
    assert first.tolist() != assign_splits(groups, labels, seed=8).tolist()


def test_assign_splits_zero_fraction_split_stays_empty():
    split = assign_splits(np.arange(50), ["a"] * 50, fractions=(0.9, 0.0, 0.1))
    assert (split == "valid").sum() == 0
    assert (split == "test").sum() == 5


@pytest.mark.parametrize(
    "fractions", [(0.8, 0.1), (0.8, 0.1, 0.2), (1.1, -0.05, -0.05), (0.5, 0.5, 0.5, -0.5), (0.3, 0.3, 0.3)]
)
def test_assign_splits_bad_fractions(fractions):
    with pytest.raises(ValueError, match=r"Expected argument `fractions` .* but got \("):
        assign_splits(np.arange(5), fractions=fractions)


def test_assign_splits_fraction_tolerance():
    assign_splits(np.arange(5), fractions=(0.8, 0.1, 0.1 + 5e-7))


def test_assign_splits_label_length_mismatch():
    with pytest.raises(ValueError, match="`labels` to have length 3, but got 2"):
        assign_splits(np.arange(3), ["a", "b"])


# --- summarize_splits --------------------------------------------------------------------------------------


def test_summarize_splits_exact():
    split = ["train", "train", "valid", "test", "test", "excluded"]
    labels = ["a", "b", "a", "c", "c", "d"]
    groups = [0, 1, 2, 3, 3, 4]
    summary = summarize_splits(split, labels, groups)
    assert summary == {
        "n_records": {"train": 2, "valid": 1, "test": 2, "excluded": 1},
        "n_groups": {"train": 2, "valid": 1, "test": 1, "excluded": 1},
        "n_labels": {"train": 2, "valid": 1, "test": 1, "excluded": 1},
        "labels_absent_from_train": ["c"],
        "groups_straddling_splits": 0,
    }
    json.dumps(summary)


def test_summarize_splits_counts_straddling_group():
    assert summarize_splits(["train", "test"], ["a", "a"], [5, 5])["groups_straddling_splits"] == 1
