"""Segment realism of per-residue predictions: how long the predicted helices and strands are.

A *segment* is a maximal run of one state inside one chain. Per-residue accuracy cannot tell a prediction
that flickers ``HHCHHCHH`` from a clean ``HHHHHHHH``; the length distribution of the segments can. For each
state this module reports the mean segment length and the fraction of segments of length 1–2 (too short to
be a real helix or strand: a DSSP α-helix is at least 4 residues, a strand usually ≥ 3), in the reference
and in the prediction, so the report can show what the Jensen–Shannon smoothness penalty buys.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqxent.errors import InputError

SHORT = 2  # segments of at most this many residues count as "short"


def run_lengths(codes, chain_index) -> tuple[np.ndarray, np.ndarray]:
    """Maximal runs of equal codes that do not cross a chain boundary.

    Args:
        codes: State code per residue (N,).
        chain_index: Chain of each residue (N,); residues of a chain contiguous and in sequence order.

    Returns:
        ``(state, length)`` of every run, in order, each of shape (R,).

    Example:
        >>> state, length = run_lengths([0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 1, 1])
        >>> state.tolist(), length.tolist()
        ([0, 1, 1, 0], [2, 1, 2, 1])
    """
    codes, chain_index = np.asarray(codes), np.asarray(chain_index)
    if codes.shape != chain_index.shape or codes.ndim != 1:
        raise InputError(f"Expected arguments `codes` and `chain_index` to be 1-d arrays of one shape, but got "
                         f"{codes.shape} and {chain_index.shape}")
    if codes.size == 0:
        return codes.astype(np.int64), np.zeros(0, np.int64)
    starts = np.flatnonzero(np.r_[True, (codes[1:] != codes[:-1]) | (chain_index[1:] != chain_index[:-1])])
    lengths = np.diff(np.r_[starts, codes.size])
    return codes[starts], lengths


def segment_statistics(pred, target, chain_index, classes: Sequence[str]) -> dict:
    """Mean segment length and share of short (≤ 2) segments per state, in the reference and the prediction.

    Args:
        pred: Predicted class per residue (N,).
        target: True class per residue (N,).
        chain_index: Chain of each residue (N,), chains contiguous.
        classes: One state letter per class, e.g. ``"HEC"``.

    Returns:
        ``{letter: {"true": {...}, "pred": {...}}}`` where each inner dict holds ``n_segments``,
        ``mean_length`` and ``short_fraction`` (None where a state has no segment).

    Example:
        >>> stats = segment_statistics([0, 0, 0, 2, 0, 2], [0, 0, 0, 0, 2, 2], [0] * 6, "HEC")
        >>> stats["H"]["true"]
        {'n_segments': 1, 'mean_length': 4.0, 'short_fraction': 0.0}
        >>> stats["H"]["pred"]
        {'n_segments': 2, 'mean_length': 2.0, 'short_fraction': 0.5}
    """
    out = {}
    runs = {"true": run_lengths(target, chain_index), "pred": run_lengths(pred, chain_index)}
    for code, letter in enumerate(classes):
        out[letter] = {}
        for side, (state, length) in runs.items():
            mine = length[state == code]
            out[letter][side] = {
                "n_segments": int(mine.size),
                "mean_length": float(mine.mean()) if mine.size else None,
                "short_fraction": float((mine <= SHORT).mean()) if mine.size else None,
            }
    return out
