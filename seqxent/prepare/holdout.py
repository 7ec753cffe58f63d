"""Hold whole classes out of training (``seqxent prepare --novel-classes``) as the split ``novel``.

The model never sees the held-out classes, so their records stand in for taxa missing from the reference;
``seqxent ood`` (:mod:`seqxent.ood`) scores them against the test split.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import numpy as np


def hold_out_classes(labels: Sequence[str], fraction: float, seed: int = 1) -> list[str]:
    """Choose a seeded share of the classes to hold out of training as novel classes.

    ``round(fraction * K)`` of the ``K`` distinct labels (at least one when ``fraction > 0``) are drawn
    uniformly without replacement, so every class that survives the rare-class filter is a candidate.

    Args:
        labels: Label of every usable record (classes already filtered by ``min_per_class``).
        fraction: Share of the classes to hold out, in ``[0, 1)``; 0 holds out none.
        seed: Seed of the draw.

    Returns:
        The held-out class names, sorted.

    Raises:
        ValueError: If ``fraction`` is outside ``[0, 1)`` or fewer than 2 classes would remain to train on.

    Example:
        >>> hold_out_classes(["a", "b", "b", "c", "d", "e"], 0.2, seed=1)
        ['c']
        >>> hold_out_classes(["a", "b", "c"], 0.0)
        []
    """
    is_number = isinstance(fraction, int | float) and not isinstance(fraction, bool)
    if not is_number or not 0 <= fraction < 1:
        raise ValueError(f"Expected argument `fraction` to be a number in [0, 1), but got {fraction!r}")
    classes = sorted(Counter(labels))
    if fraction == 0:
        return []
    n_novel = max(1, math.floor(fraction * len(classes) + 0.5))
    if len(classes) - n_novel < 2:
        raise ValueError(
            f"Expected at least 2 classes to remain after holding out {n_novel} of {len(classes)} classes "
            f"(fraction {fraction}), but got {len(classes) - n_novel}"
        )
    rng = np.random.default_rng(seed)
    return sorted(str(c) for c in rng.choice(classes, size=n_novel, replace=False))
