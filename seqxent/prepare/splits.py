"""Group-aware, label-stratified train/valid/test splits.

Records that are too similar (identical sequences, the same BOLD bin, homologous protein chains: see
:mod:`seqxent.prepare.clusters`) are put in one group, and a group never straddles two splits.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from seqxent.data.dataset import SPLITS


def _is_missing(value: object) -> bool:
    if value is None or (isinstance(value, str) and value == ""):
        return True
    return isinstance(value, float) and math.isnan(value)


def connected_groups(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Group ids of ``n`` records linked in pairs ``(left[i], right[i])``: the connected components.

    Args:
        n: number of records.
        left: int array (M,) of record indices.
        right: int array (M,) of the records each ``left`` record is linked to.

    Returns:
        Integer group ids, shape (n,), numbered in order of first appearance (lowest record index first).

    Example:
        >>> connected_groups(5, np.array([3, 1]), np.array([1, 4])).tolist()
        [0, 1, 2, 1, 1]
    """
    graph = sparse.coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse]


def group_identical(seqs: Sequence[str]) -> np.ndarray:
    """Give identical sequences (ignoring case) the same group id.

    Args:
        seqs: Sequences, one per record.

    Returns:
        Integer group ids, shape (N,), numbered in order of first appearance.

    Example:
        >>> group_identical(["ACGT", "ttt", "acgt", "TTT", "GG"]).tolist()
        [0, 1, 0, 1, 2]
    """
    first_seen: dict[str, int] = {}
    return np.array([first_seen.setdefault(s.upper(), len(first_seen)) for s in seqs], dtype=np.int64)


def combine_groups(*group_arrays: Sequence[object]) -> np.ndarray:
    """Merge groupings so that records sharing any key end up in one group (union-find).

    Missing values (None, NaN, "") never link records; a record missing every key is a group of its own.

    Args:
        *group_arrays: One or more arrays of group keys of the same length N (e.g. identical-sequence ids and
            BOLD bins).

    Returns:
        Integer group ids, shape (N,), numbered in order of first appearance.

    Raises:
        ValueError: If no arrays are given or their lengths differ.

    Example:
        >>> combine_groups([0, 1, 2, 3], ["binA", None, "binA", ""]).tolist()
        [0, 1, 0, 2]
        >>> combine_groups([0, 0, 1, 2], [None, "b", "b", "c"], [5, 6, 7, 5]).tolist()
        [0, 0, 0, 0]
    """
    if not group_arrays:
        raise ValueError("Expected argument `group_arrays` to hold at least one array, but got none")
    n = len(group_arrays[0])
    left: list[int] = []
    right: list[int] = []
    for k, keys in enumerate(group_arrays):
        if len(keys) != n:
            raise ValueError(f"Expected all `group_arrays` to have length {n}, but array {k} has {len(keys)}")
        first: dict[object, int] = {}
        for i, key in enumerate(keys):
            if not _is_missing(key):
                left.append(first.setdefault(key, i))
                right.append(i)
    return connected_groups(n, np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64))


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    values = np.asarray(fractions, dtype=float) if len(fractions) == 3 else None
    if values is None or (values < 0).any() or abs(values.sum() - 1.0) > 1e-6:
        raise ValueError(
            "Expected argument `fractions` to be three non-negative numbers (train, valid, test) summing to "
            f"1, but got {tuple(fractions)!r}"
        )
    return values


def _group_labels(groups: np.ndarray, labels: Sequence[object] | None) -> dict[int, str]:
    """Majority label of each group (ties broken by the smallest label)."""
    if labels is None:
        return dict.fromkeys(np.unique(groups).tolist(), "")
    counts: dict[int, Counter] = {}
    for g, label in zip(groups.tolist(), labels, strict=True):
        counts.setdefault(g, Counter())["" if _is_missing(label) else str(label)] += 1
    return {g: min(c.items(), key=lambda item: (-item[1], item[0]))[0] for g, c in counts.items()}


def _deal_groups(sizes: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Deal shuffled groups of one label to splits (0, 1, 2), each to the split furthest below its share.

    With ≥ 3 groups every split with a positive fraction gets at least one; with fewer, train gets the first.
    """
    open_splits = np.flatnonzero(fractions > 0)
    largest = int(open_splits[np.argmax(fractions[open_splits])])
    required = set(open_splits.tolist()) if len(sizes) >= 3 else {largest}
    records, n_groups = np.zeros(3), np.zeros(3, dtype=int)
    out = np.empty(len(sizes), dtype=np.int64)
    for i, size in enumerate(sizes):
        empty = [s for s in sorted(required) if n_groups[s] == 0]
        candidates = empty if len(sizes) - i <= len(empty) else open_splits
        deficit = fractions[candidates] * (records.sum() + size) - records[candidates]
        split = int(candidates[int(np.argmax(deficit))]) if len(candidates) else 0
        out[i] = split
        records[split] += size
        n_groups[split] += 1
    return out


def assign_splits(
    groups: np.ndarray,
    labels: Sequence[object] | None = None,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> np.ndarray:
    """Assign whole groups to train/valid/test, stratified by label.

    Each group takes its majority label. Per label (in sorted order), its groups are shuffled with ``seed``
    and dealt one by one to the split whose record count is furthest below ``fractions``. A label with ≥ 3
    groups gets at least one group in every split with a positive fraction; with 1–2 groups, the first goes to
    the split with the largest fraction (train by default).

    Args:
        groups: Integer group ids (N,), e.g. from :func:`cluster_sequences` or :func:`combine_groups`.
        labels: Optional class labels (N,) to stratify by.
        fractions: Target fractions of records in (train, valid, test).
        seed: Seed of the shuffle; the same seed gives the same splits.

    Returns:
        Array (N,) of "train", "valid" or "test".

    Raises:
        ValueError: If ``fractions`` is not three non-negative numbers summing to 1, or ``labels`` has another
            length than ``groups``.

    Example:
        >>> assign_splits(np.array([0, 0, 1, 2, 3]), fractions=(0.5, 0.25, 0.25), seed=0).tolist()
        ['valid', 'valid', 'train', 'train', 'test']
    """
    share = _check_fractions(fractions)
    groups = np.asarray(groups)
    if labels is not None and len(labels) != len(groups):
        raise ValueError(f"Expected argument `labels` to have length {len(groups)}, but got {len(labels)}")
    uniq, sizes = np.unique(groups, return_counts=True)
    size_of = dict(zip(uniq.tolist(), sizes.tolist(), strict=True))
    by_label: dict[str, list[int]] = {}
    for g, label in sorted(_group_labels(groups, labels).items()):
        by_label.setdefault(label, []).append(g)
    rng = np.random.default_rng(seed)
    split_of: dict[int, int] = {}
    for label in sorted(by_label):
        members = np.array(by_label[label])[rng.permutation(len(by_label[label]))]
        dealt = _deal_groups(np.array([size_of[g] for g in members.tolist()]), share)
        split_of.update(zip(members.tolist(), dealt.tolist(), strict=True))
    return np.array(SPLITS, dtype=object)[[split_of[g] for g in groups.tolist()]].astype(str)


def summarize_splits(split: Sequence[str], labels: Sequence[object], groups: Sequence[int]) -> dict:
    """Count records, groups and labels per split (JSON-serialisable).

    Args:
        split: Split name per record (N,), e.g. "train", "valid", "test", "excluded".
        labels: Label per record (N,).
        groups: Group id per record (N,).

    Returns:
        Dict with ``n_records``, ``n_groups``, ``n_labels`` (each split name → count),
        ``labels_absent_from_train`` (labels found in valid/test but not train, sorted) and
        ``groups_straddling_splits`` (should be 0).

    Example:
        >>> summary = summarize_splits(["train", "train", "test"], ["a", "b", "c"], [0, 1, 2])
        >>> summary["n_records"], summary["labels_absent_from_train"]
        ({'train': 2, 'test': 1}, ['c'])
    """
    split = np.asarray(split, dtype=str)
    label_arr = np.array(["" if _is_missing(x) else str(x) for x in labels], dtype=str)
    group_arr = np.asarray(groups)
    names = [s for s in (*SPLITS, "excluded") if s in set(split)] + sorted(set(split) - {*SPLITS, "excluded"})
    per = {name: split == name for name in names}
    per_train = split == "train"
    evaluated = np.isin(split, ["valid", "test"])
    group_split_pairs = np.unique(np.stack([group_arr.astype(str), split]), axis=1)  # (2, distinct pairs)
    straddling = group_split_pairs.shape[1] - len(np.unique(group_arr))
    return {
        "n_records": {name: int(mask.sum()) for name, mask in per.items()},
        "n_groups": {name: len(np.unique(group_arr[mask])) for name, mask in per.items()},
        "n_labels": {name: len(np.unique(label_arr[mask])) for name, mask in per.items()},
        "labels_absent_from_train": sorted(map(str, set(label_arr[evaluated]) - set(label_arr[per_train]))),
        "groups_straddling_splits": int(straddling),
    }
