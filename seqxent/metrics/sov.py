"""Segment overlap SOV'99 of secondary-structure strings (Zemla et al., Proteins 34:220-223, 1999).

Segments are maximal runs of one state; SOV rewards a predicted segment by how much of a reference segment
it covers, with an allowance ``delta`` for near misses at the ends, so it tells a fragmented helix from a
whole one where Q3 cannot. :func:`sov99` scores all states together, :func:`sov99_per_state` each one.
"""

from __future__ import annotations

import math
import re


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else math.nan


def _segments(labels: str, state: str) -> list[tuple[int, int]]:
    """Maximal runs of `state` in `labels` as inclusive (start, end) positions."""
    return [(m.start(), m.end() - 1) for m in re.finditer(f"{re.escape(state)}+", labels)]


def _sov_pair(seg1: tuple[int, int], seg2: tuple[int, int]) -> float:
    """Score (minov + delta) / maxov * len(s1) of reference segment s1 against predicted s2."""
    (start1, end1), (start2, end2) = seg1, seg2
    len1, len2 = end1 - start1 + 1, end2 - start2 + 1
    minov = min(end1, end2) - max(start1, start2) + 1  # residues in both
    maxov = max(end1, end2) - min(start1, start2) + 1  # extent of the union
    delta = min(maxov - minov, minov, len1 // 2, len2 // 2)  # int(len/2) as in Zemla et al. (1999)
    return (minov + delta) / maxov * len1


def _sov_update(pred: str, ref: str, state: str) -> tuple[float, int]:
    """Return (summed pair scores, normalisation N(i)) of one state."""
    ref_segs, pred_segs = _segments(ref, state), _segments(pred, state)
    score, norm, first = 0.0, 0, 0
    for seg1 in ref_segs:
        while first < len(pred_segs) and pred_segs[first][1] < seg1[0]:
            first += 1  # predicted segments ending before s1 cannot overlap later ones either
        pairs = 0
        for seg2 in pred_segs[first:]:
            if seg2[0] > seg1[1]:
                break
            score += _sov_pair(seg1, seg2)
            pairs += 1
        norm += (seg1[1] - seg1[0] + 1) * max(pairs, 1)  # len(s1) per pair, or once if none overlap
    return score, norm


def _sov_validate_args(pred: object, ref: object, states: object) -> None:
    for name, value in (("pred", pred), ("ref", ref), ("states", states)):
        if not isinstance(value, str):
            raise ValueError(f"Expected argument `{name}` to be a string, but got {type(value).__name__}")
    if len(pred) != len(ref):
        raise ValueError(
            f"Expected argument `pred` to have the length of `ref` ({len(ref)}), but got {len(pred)}"
        )
    if not states or len(set(states)) != len(states):
        raise ValueError(f"Expected argument `states` to be non-empty distinct letters, but got {states!r}")


def sov99_per_state(pred: str, ref: str, states: str = "HEC") -> dict[str, float]:
    """SOV'99 of each state: 100 / N(i) * sum over overlapping pairs of (minov + delta) / maxov * len(s1).

    Segments are maximal runs of one state; letters outside `states` (e.g. ``-`` for unobserved residues)
    belong to no segment. See :func:`sov99` for the definition.

    Args:
        pred: Predicted per-residue states.
        ref: Reference (observed) per-residue states, same length.
        states: The states scored, one letter each.

    Returns:
        Dict state -> SOV in [0, 100]; nan for a state absent from `ref`.

    Example:
        >>> sov99_per_state("CCCHHHHCCC", "CHHHHHHHHC")
        {'H': 75.0, 'E': nan, 'C': 33.33333333333333}
    """
    _sov_validate_args(pred, ref, states)
    parts = {state: _sov_update(pred, ref, state) for state in states}
    return {state: _ratio(100.0 * score, norm) for state, (score, norm) in parts.items()}


def sov99(pred: str, ref: str, states: str = "HEC") -> float:
    """Segment overlap score SOV'99 over all states (Zemla et al., Proteins 34:220-223, 1999).

    For state i, S(i) holds the pairs (s1, s2) of a reference segment s1 and an overlapping predicted
    segment s2 of state i; S'(i) the reference segments without such a partner. With minov the overlap,
    maxov the extent of the union and delta = min(maxov - minov, minov, int(len(s1)/2), int(len(s2)/2)),
    SOV = 100 / N * sum_i sum_{S(i)} (minov + delta) / maxov * len(s1), where
    N = sum_i [sum_{S(i)} len(s1) + sum_{S'(i)} len(s1)].

    Args:
        pred: Predicted per-residue states.
        ref: Reference (observed) per-residue states, same length.
        states: The states scored, one letter each.

    Returns:
        SOV in [0, 100]; nan when `ref` has no residue in `states`.

    Raises:
        ValueError: If the strings differ in length or `states` is empty or repeats a letter.

    Example:
        >>> sov99("HHHHEEEE", "HHHHEEEE")
        100.0
        >>> round(sov99("CCCHHHHCCC", "CHHHHHHHHC"), 4)  # (6 + 1/3 + 1/3) / (8 + 1 + 1)
        66.6667
    """
    _sov_validate_args(pred, ref, states)
    parts = [_sov_update(pred, ref, state) for state in states]
    return _ratio(100.0 * sum(score for score, _ in parts), sum(norm for _, norm in parts))
