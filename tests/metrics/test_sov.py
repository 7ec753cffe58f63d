"""SOV'99 against hand-computed cases and an independent all-pairs implementation."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqxent.metrics.sov import sov99, sov99_per_state


@settings(max_examples=60, deadline=None)
@given(ref=st.text("HEC-", max_size=40), pred=st.text("HEC-", max_size=40))
def test_sov_bounded_and_matches_slow(ref, pred):
    n = min(len(ref), len(pred))
    ref, pred = ref[:n], pred[:n]
    got = sov99(pred, ref)
    if not any(c in "HEC" for c in ref):
        assert math.isnan(got)
        return
    assert 0.0 <= got <= 100.0
    assert got == pytest.approx(_slow_sov(pred, ref))
    assert sov99(ref, ref) == 100.0


def _slow_sov(pred, ref, states="HEC"):
    """All-pairs SOV'99 on residue sets, independent of the segment sweep in the package."""
    def segments(s, state):
        runs, run = [], []
        for i, c in enumerate(s + "\0"):
            if c == state:
                run.append(i)
            elif run:
                runs.append(set(run))
                run = []
        return runs

    score = norm = 0.0
    for state in states:
        for s1 in segments(ref, state):
            partners = [s2 for s2 in segments(pred, state) if s1 & s2]
            norm += len(s1) * max(len(partners), 1)
            for s2 in partners:
                minov, maxov = len(s1 & s2), max(s1 | s2) - min(s1 | s2) + 1
                delta = min(maxov - minov, minov, int(len(s1) / 2), int(len(s2) / 2))
                score += (minov + delta) / maxov * len(s1)
    return 100 * score / norm


@pytest.mark.parametrize(
    ("pred", "ref", "expected"),
    [
        # identical: every pair has minov = maxov, delta = 0 -> 100
        ("CHHHHEEEC", "CHHHHEEEC", 100.0),
        # no residue right: no overlapping pair of equal state; N = 4 -> 0
        ("EEEE", "HHHH", 0.0),
        # swapped halves: H [0,2] vs H [3,5] and E [3,5] vs E [0,2] do not overlap -> 0
        ("EEEHHH", "HHHEEE", 0.0),
        # H: s1 [1,8] len 8, s2 [3,6] len 4: minov 4, maxov 8, delta min(4, 4, 4, 2) = 2 -> 6 of N 8.
        # C: s1 [0,0] vs s2 [0,2]: minov 1, maxov 3, delta min(2, 1, 0, 1) = 0 -> 1/3 (twice, N 1 each).
        # SOV = (6 + 2/3) / 10
        ("CCCHHHHCCC", "CHHHHHHHHC", 100 * (6 + 2 / 3) / 10),
        # one s1 [0,9] split by a predicted coil into s2 [0,3] and [6,9]: each pair minov 4, maxov 10,
        # delta min(6, 4, 5, 2) = 2 -> 6; SOV'99 counts len(s1) once per pair: N = 20 -> 12 / 20
        ("HHHHCCHHHH", "HHHHHHHHHH", 60.0),
        # delta limited by int(len(s2)/2) = 0: s1 [0,7], s2 [0,0]: minov 1, maxov 8 -> 1 of N 8
        ("HCCCCCCC", "HHHHHHHH", 12.5),
        # shift by one. H: minov 3, maxov 5, delta min(2, 3, 2, 2) = 2 -> (3 + 2) / 5 * 4 = 4 of N 4.
        # C: [0,1] vs [0,2]: minov 2, maxov 3, delta 1 -> 2; [6,7] vs [7,7]: minov 1, maxov 2, delta 0 -> 1.
        # SOV = (4 + 2 + 1) / (4 + 2 + 2)
        ("CCCHHHHC", "CCHHHHCC", 87.5),
        # letters outside `states` split segments: s1 [0,1] and [4,5] each pair with s2 [0,5]:
        # minov 2, maxov 6, delta min(4, 2, 1, 3) = 1 -> 3 / 6 * 2 = 1 each; N = 4
        ("HHHHHH", "HH--HH", 50.0),
    ],
)
def test_sov99_hand_computed(pred, ref, expected):
    assert sov99(pred, ref) == pytest.approx(expected)
    assert _slow_sov(pred, ref) == pytest.approx(expected)


def test_sov99_per_state_hand_computed():
    # from the shift-by-one case above: H 4 / 4, C 3 / 4, no reference E
    got = sov99_per_state("CCCHHHHC", "CCHHHHCC")
    assert got["H"] == 100.0 and got["C"] == 75.0 and math.isnan(got["E"])


def test_sov99_other_alphabets_and_errors():
    assert sov99("AAB", "AAB", states="AB") == 100.0
    assert math.isnan(sov99("", ""))
    with pytest.raises(ValueError, match="Expected argument `pred` to have the length of `ref`"):
        sov99("HH", "HHH")
    with pytest.raises(ValueError, match="Expected argument `states` to be non-empty distinct letters"):
        sov99("HH", "HH", states="HH")
