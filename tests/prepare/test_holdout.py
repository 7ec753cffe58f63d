"""Tests of seqxent.prepare.holdout: the seeded choice of classes held out of training (`--novel-classes`).

How prepare_dataset uses it (whole classes in split `novel`) is tested with the rest of the novelty wiring in
tests/calibrate/test_novelty.py.
"""

import pytest

from seqxent.data.dataset import NOVEL
from seqxent.prepare.holdout import hold_out_classes


@pytest.mark.parametrize(("n_classes", "fraction", "expected"),
                         [(41, 0.1, 4), (10, 0.25, 3), (10, 0.05, 1), (20, 0.125, 3), (3, 0.2, 1), (5, 0.5, 3)])
def test_hold_out_classes_count(n_classes, fraction, expected):
    labels = [f"c{i:02d}" for i in range(n_classes) for _ in range(i % 3 + 1)]
    held = hold_out_classes(labels, fraction, seed=7)
    assert len(held) == expected and held == sorted(held) and set(held) <= set(labels)


def test_hold_out_classes_is_seeded():
    labels = [f"c{i}" for i in range(30)]
    assert hold_out_classes(labels, 0.2, seed=1) == hold_out_classes(labels[::-1], 0.2, seed=1)
    draws = {tuple(hold_out_classes(labels, 0.2, seed=s)) for s in range(5)}
    assert len(draws) > 1


def test_hold_out_classes_exact_draw_and_split_name():
    assert hold_out_classes(["a", "b", "b", "c", "d", "e"], 0.2, seed=1) == ["c"]
    assert hold_out_classes(["a", "b", "c"], 0.0) == []
    assert NOVEL == "novel"  # the split name written into prepared tables


@pytest.mark.parametrize(("labels", "fraction", "match"), [
    (["a", "b", "c"], 1.0, "Expected argument `fraction`"),
    (["a", "b", "c"], -0.1, "Expected argument `fraction`"),
    (["a", "b", "c"], True, "Expected argument `fraction`"),
    (["a", "b"], 0.1, "Expected at least 2 classes to remain"),
    (["a", "b", "c", "d"], 0.7, "Expected at least 2 classes to remain"),
])
def test_hold_out_classes_rejects(labels, fraction, match):
    with pytest.raises(ValueError, match=match):
        hold_out_classes(labels, fraction)
