"""Label sets of multi-label records: normalising, counting, multi-hot targets, predicted sets.

A multi-label record carries a *set* of labels (e.g. the countries where a barcode's BIN was sampled). In
the prepared table (``dataset.tsv.gz``) the set is one string, its labels sorted, deduplicated and joined
by ``;`` (``"Canada;United States"``). The task itself (network, loss, calibration, evaluation) is
:mod:`seqxent.tasks.multilabel`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from seqxent.errors import InputError

#: Joins the labels of one record in the prepared table and in predictions.
SEPARATOR = ";"
#: Default probability at or above which a label is predicted.
THRESHOLD = 0.5


def normalize_labels(label: str, separator: str = SEPARATOR) -> str:
    """Split a label cell on ``separator`` and join its distinct, stripped, non-empty labels sorted with ``;``.

    Raises:
        InputError: when ``separator`` is empty, or a label contains ``;`` (possible with another separator).

    Example:
        >>> normalize_labels(" Spain;France ;; Spain")
        'France;Spain'
        >>> normalize_labels("b|a", separator="|")
        'a;b'
    """
    if not separator:
        raise InputError("Expected argument `label_separator` to be a non-empty string, but got ''")
    parts = {part.strip() for part in label.split(separator)} - {""}
    bad = sorted(part for part in parts if SEPARATOR in part)
    if bad:
        raise InputError(f"Expected labels without {SEPARATOR!r} (it joins the labels of a record), "
                         f"but got {bad[0]!r} in {label!r}")
    return SEPARATOR.join(sorted(parts))


def split_labels(label: str) -> list[str]:
    """The labels of a normalized label string (``""`` → no labels).

    Example:
        >>> split_labels("Canada;United States"), split_labels("")
        (['Canada', 'United States'], [])
    """
    return [part for part in label.split(SEPARATOR) if part]


def label_counts(labels: Iterable[str]) -> Counter:
    """Number of records carrying each label."""
    return Counter(part for label in labels for part in split_labels(label))


def drop_rare_labels(labels: Sequence[str], min_count: int) -> tuple[list[str], dict[str, int]]:
    """Remove labels carried by fewer than ``min_count`` of the records from every label set.

    Returns:
        The new label strings (``""`` where nothing is left) and the removed labels with their counts.

    Example:
        >>> drop_rare_labels(["a;b", "a", "a;c", "c"], min_count=2)
        (['a', 'a', 'a;c', 'c'], {'b': 1})
    """
    counts = label_counts(labels)
    rare = {lab: n for lab, n in sorted(counts.items()) if n < min_count}
    kept = [SEPARATOR.join(p for p in split_labels(label) if p not in rare) for label in labels]
    return kept, rare


def stratification_labels(labels: Sequence[str]) -> list[str]:
    """The rarest label of each record (ties by name), to stratify splits so rare labels reach train.

    Example:
        >>> stratification_labels(["a;b", "a", "b;c", "a"])
        ['b', 'a', 'c', 'a']
    """
    counts = label_counts(labels)
    return [min(split_labels(label), key=lambda lab: (counts[lab], lab), default="") for label in labels]


def multi_hot(label: str, index: Mapping[str, int]) -> np.ndarray:
    """Float32 multi-hot vector ``(K,)`` of a label string; labels outside ``index`` (unseen in training) are left out.

    Example:
        >>> multi_hot("a;c;z", {"a": 0, "b": 1, "c": 2}).tolist()
        [1.0, 0.0, 1.0]
    """
    out = np.zeros(len(index), dtype=np.float32)
    for part in split_labels(label):
        if part in index:
            out[index[part]] = 1.0
    return out


def predicted_labels(probs: np.ndarray, classes: Sequence[str], threshold: float = THRESHOLD) -> str:
    """The ``;``-joined labels whose probability is at least ``threshold`` (``""`` when none).

    Example:
        >>> predicted_labels(np.array([0.9, 0.2, 0.5]), ["a", "b", "c"])
        'a;c'
    """
    return SEPARATOR.join(c for c, p in zip(classes, probs, strict=True) if p >= threshold)


def check_threshold(threshold: float) -> float:
    """Return ``threshold`` when it is a number in [0, 1].

    Raises:
        InputError: otherwise.
    """
    if isinstance(threshold, bool) or not isinstance(threshold, int | float) or not 0 <= threshold <= 1:
        raise InputError(f"Expected argument `threshold` to be a number in [0, 1], but got {threshold!r}")
    return float(threshold)
