"""Tests of seqxent.metrics.segments: run lengths and segment statistics against hand-counted cases."""

import numpy as np
import pytest

from seqxent.errors import InputError
from seqxent.metrics.segments import run_lengths, segment_statistics


def _codes(text: str) -> list[int]:
    return ["HEC".index(c) for c in text]


def test_run_lengths_split_at_chain_boundaries():
    state, length = run_lengths(_codes("HHHEECHHH"), [0, 0, 0, 0, 0, 0, 1, 1, 1])
    assert state.tolist() == _codes("HECH") and length.tolist() == [3, 2, 1, 3]


def test_run_lengths_empty_and_bad_shapes():
    state, length = run_lengths([], [])
    assert state.size == length.size == 0
    with pytest.raises(InputError, match="`codes` and `chain_index`"):
        run_lengths([0, 1], [0])


def test_segment_statistics_hand_counted():
    # chain 0: true HHHHCCEEE  pred HHCHCCEEC  | chain 1: true HHHHH  pred HHHHH
    true = _codes("HHHHCCEEE" + "HHHHH")
    pred = _codes("HHCHCCEEC" + "HHHHH")
    chains = [0] * 9 + [1] * 5
    stats = segment_statistics(pred, true, chains, "HEC")
    assert stats["H"]["true"] == {"n_segments": 2, "mean_length": 4.5, "short_fraction": 0.0}
    # predicted helices: HH, H, HHHHH -> lengths 2, 1, 5; two of three are short
    assert stats["H"]["pred"] == {"n_segments": 3, "mean_length": pytest.approx(8 / 3),
                                  "short_fraction": pytest.approx(2 / 3)}
    assert stats["E"]["true"] == {"n_segments": 1, "mean_length": 3.0, "short_fraction": 0.0}
    assert stats["E"]["pred"] == {"n_segments": 1, "mean_length": 2.0, "short_fraction": 1.0}
    # coil: true CC; predicted C, CC, C
    assert stats["C"]["pred"]["n_segments"] == 3 and stats["C"]["pred"]["mean_length"] == pytest.approx(4 / 3)


def test_segment_statistics_absent_state_is_none():
    stats = segment_statistics(np.zeros(4, int), np.zeros(4, int), np.zeros(4, int), "HEC")
    assert stats["E"]["pred"] == {"n_segments": 0, "mean_length": None, "short_fraction": None}


def test_segment_statistics_matches_a_python_loop():
    rng = np.random.default_rng(0)
    pred, true = rng.integers(0, 3, 500), rng.integers(0, 3, 500)
    chains = np.repeat(np.arange(10), 50)
    stats = segment_statistics(pred, true, chains, "HEC")
    for side, codes in (("pred", pred), ("true", true)):
        runs = []  # (state, length), counted one chain at a time
        for c in range(10):
            seg = codes[chains == c]
            start = 0
            for i in range(1, len(seg) + 1):
                if i == len(seg) or seg[i] != seg[start]:
                    runs.append((seg[start], i - start))
                    start = i
        for code, letter in enumerate("HEC"):
            mine = [n for s, n in runs if s == code]
            assert stats[letter][side]["n_segments"] == len(mine)
            assert stats[letter][side]["mean_length"] == pytest.approx(np.mean(mine))
            assert stats[letter][side]["short_fraction"] == pytest.approx(np.mean(np.array(mine) <= 2))
