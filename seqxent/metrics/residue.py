"""Scores of residue tasks (e.g. secondary structure): per residue, per chain and SOV'99 segment overlap.

Residue predictions are flattened over chains: ``probs`` (N, C) and ``target`` (N,) over residues, and
``chain_index`` (N,) names the chain of each residue (its residues in sequence order). Padding residues carry
``ignore_index``. SOV'99 is :func:`seqxent.metrics.sov.sov99`; segment statistics are in
:mod:`seqxent.metrics.segments`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from seqxent.metrics._checks import _nanmean, _prepare, _ratio, to_json_value
from seqxent.metrics.classification import _confusion_matrix_update, _per_class_compute
from seqxent.metrics.sov import sov99


def _residue_validate_args(
    chain_index: np.ndarray, n_items: int, classes: Sequence[str], n_classes: int
) -> None:
    if chain_index.shape != (n_items,) or n_items and not np.issubdtype(chain_index.dtype, np.integer):
        raise ValueError(f"Expected argument `chain_index` to be an integer array of shape ({n_items},), "
                         f"but got {chain_index.dtype} {chain_index.shape}")
    if len(classes) != n_classes or any(not isinstance(c, str) or len(c) != 1 for c in classes):
        raise ValueError(
            f"Expected argument `classes` to be {n_classes} single letters, but got {list(classes)}"
        )


def per_chain_scores(probs, target, chain_index, classes: Sequence[str], ignore_index: int | None = None,
                     validate_args: bool = True) -> dict[str, np.ndarray]:
    """Per-chain accuracy and SOV'99 for a flattened residue task, chains ordered by `chain_index` value.

    Ignored residues are written ``-`` in both strings, so they split segments instead of joining them.

    Args:
        probs: Probabilities (N, C) over residues.
        target: True classes (N,).
        chain_index: Chain of each residue (N,); residues of a chain in sequence order.
        classes: One state letter per class, e.g. ``"HEC"`` or ``["H", "E", "C"]``.
        ignore_index: Target value of residues to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Dict with ``chain`` (chain_index values), ``accuracy``, ``sov99`` and ``n_residues`` arrays (K,).
    """
    target, chain_index = np.asarray(target), np.asarray(chain_index)
    keep = np.ones(target.shape, bool) if ignore_index is None else target != ignore_index
    kept_probs, kept_target, n_classes = _prepare(probs, target, ignore_index, validate_args)
    if validate_args:
        _residue_validate_args(chain_index, target.size, classes, n_classes)
    chains, inverse = np.unique(chain_index, return_inverse=True)
    letters = np.array([*classes, "-"])  # code n_classes marks ignored residues
    pred_codes, ref_codes = np.full(target.size, n_classes), np.full(target.size, n_classes)
    pred_codes[keep], ref_codes[keep] = kept_probs.argmax(axis=1), kept_target
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=chains.size))[:-1]
    states = "".join(classes)
    sov = [sov99("".join(letters[pred_codes[pos]]), "".join(letters[ref_codes[pos]]), states)
           for pos in np.split(order, bounds)]
    n_residues = np.bincount(inverse[keep], minlength=chains.size)
    correct = np.bincount(inverse[keep], weights=pred_codes[keep] == ref_codes[keep], minlength=chains.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        chain_accuracy = correct / n_residues
    return {"chain": chains, "accuracy": chain_accuracy, "sov99": np.array(sov, float),
            "n_residues": n_residues}


def residue_metrics(probs, target, chain_index, classes: Sequence[str], ignore_index: int | None = None,
                    validate_args: bool = True) -> dict:
    """Per-residue and per-chain scores of a residue (e.g. secondary structure) task.

    Args:
        probs: Probabilities (N, C) over residues.
        target: True classes (N,).
        chain_index: Chain of each residue (N,); residues of a chain in sequence order.
        classes: One state letter per class, e.g. ``"HEC"``.
        ignore_index: Target value of residues to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        JSON-serialisable dict: ``q`` (per-residue accuracy, also under ``q<C>``, e.g. ``q3``),
        ``chain_accuracy_mean``, ``sov99`` (mean over chains), ``n_chains``, ``n_residues`` and
        ``per_class`` {letter: {precision, recall, f1, support}}.

    Example:
        >>> probs = [[0.8, 0.1, 0.1], [0.6, 0.2, 0.2], [0.1, 0.1, 0.8], [0.2, 0.7, 0.1]]
        >>> out = residue_metrics(probs, [0, 0, 2, 2], [0, 0, 1, 1], "HEC")
        >>> out["q3"], out["chain_accuracy_mean"], out["sov99"]
        (0.75, 0.75, 75.0)
    """
    chains = per_chain_scores(probs, target, chain_index, classes, ignore_index, validate_args)
    kept_probs, kept_target, n_classes = _prepare(probs, target, ignore_index, validate_args=False)
    confmat = _confusion_matrix_update(kept_probs.argmax(axis=1), kept_target, n_classes)
    scores = _per_class_compute(confmat)
    q = _ratio(np.trace(confmat), confmat.sum())
    out = {"q": q, f"q{n_classes}": q, "chain_accuracy_mean": _nanmean(chains["accuracy"]),
           "sov99": _nanmean(chains["sov99"]), "n_chains": chains["chain"].size,
           "n_residues": kept_target.size,
           "per_class": {c: {k: v[i] for k, v in scores.items()} for i, c in enumerate(classes)}}
    return to_json_value(out)
