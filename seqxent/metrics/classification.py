"""Classification, calibration and information metrics on numpy arrays (SOV'99: sov.py; intervals: bootstrap.py).

Conventions: ``probs`` is a float array (N, C) whose rows sum to 1 and ``target`` an integer array (N,).
Public functions take ``ignore_index`` (items whose target equals it are dropped before anything else,
so padding rows may hold anything) and ``validate_args`` (skip the checks on trusted, hot paths).
Each metric is split into private ``_update`` (sufficient statistics) and ``_compute`` steps.
A metric over zero items is ``nan``; the dict-returning summaries write it as ``None`` for JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from seqxent.metrics.sov import sov99

_CLIP = 1e-15  # probabilities are clipped to [_CLIP, 1] before taking logarithms
_ROW_SUM_ATOL = 1e-3  # float32 softmax rows sum to 1 within ~1e-6; allow for rounding in files


# --------------------------------------------------------------------------- validation and preparation


def _check_int(name: str, value: object, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(
            f"Expected argument `{name}` to be an integer larger than {minimum - 1}, but got {value!r}"
        )


def _check_choice(name: str, value: object, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"Expected argument `{name}` to be one of {choices}, but got {value!r}")


def _validate_args(values: np.ndarray, target: np.ndarray, ignore_index: int | None) -> None:
    """Check shapes and dtypes of `values` (probs (N, C) or preds (N,)) and `target` (N,)."""
    if values.ndim not in (1, 2):
        raise ValueError(
            f"Expected argument `probs` to have shape (N, C) or `preds` (N,), but got {values.shape}"
        )
    if target.ndim != 1 or target.shape[0] != values.shape[0]:
        raise ValueError(
            f"Expected argument `target` to have shape ({values.shape[0]},), but got {target.shape}"
        )
    if target.size and not np.issubdtype(target.dtype, np.integer):
        raise ValueError(f"Expected argument `target` to be an integer array, but got dtype {target.dtype}")
    if ignore_index is not None and (isinstance(ignore_index, bool) or not isinstance(ignore_index, int)):
        raise ValueError(
            f"Expected argument `ignore_index` to be an integer or None, but got {ignore_index!r}"
        )


def _validate_values(values: np.ndarray, target: np.ndarray, n_classes: int) -> None:
    """Check kept items: target in [0, C); probs finite in [0, 1] with unit row sums; preds in [0, C)."""
    if target.size and (target.min() < 0 or target.max() >= n_classes):
        raise ValueError(f"Expected argument `target` to hold values in [0, {n_classes}), but got "
                         f"[{target.min()}, {target.max()}]")
    if values.ndim == 1:
        if values.size and (not np.issubdtype(values.dtype, np.integer) or values.min() < 0
                            or values.max() >= n_classes):
            raise ValueError(
                f"Expected argument `preds` to be integers in [0, {n_classes}), but got {values[:5]}"
            )
        return
    if not np.all(np.isfinite(values)) or values.size and (values.min() < 0 or values.max() > 1):
        raise ValueError("Expected argument `probs` to hold finite values in [0, 1], but it does not")
    sums = values.sum(axis=1)
    if sums.size and not np.allclose(sums, 1.0, atol=_ROW_SUM_ATOL):
        bad = sums[np.argmax(np.abs(sums - 1.0))]
        raise ValueError(
            f"Expected argument `probs` to have rows summing to 1, but got a row summing to {bad}"
        )


def _prepare(values, target, ignore_index, validate_args, n_classes=None):
    """Convert to arrays, drop ignored items and validate; return (values, target, n_classes)."""
    values, target = np.asarray(values), np.asarray(target)
    if validate_args:
        _validate_args(values, target, ignore_index)
        if n_classes is not None:
            _check_int("n_classes", n_classes, 1)
    if ignore_index is not None:
        keep = target != ignore_index
        values, target = values[keep], target[keep]
    if values.ndim == 2:
        values = values.astype(np.float64)
        n_classes = values.shape[1] if n_classes is None else n_classes
    elif n_classes is None:
        n_classes = int(max(values.max(initial=-1), target.max(initial=-1))) + 1
    if validate_args:
        _validate_values(values, target, n_classes)
    return values, target.astype(np.int64), n_classes


def _to_preds(values: np.ndarray) -> np.ndarray:
    return values.argmax(axis=1) if values.ndim == 2 else values.astype(np.int64)


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else math.nan


def _nanmean(values: np.ndarray) -> float:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else math.nan


def _json_value(value):
    """Turn numpy scalars/arrays into plain floats/ints/lists, non-finite floats into None."""
    if isinstance(value, dict):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [_json_value(v) for v in value]
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


# --------------------------------------------------------------------------- label metrics


def _confusion_matrix_update(preds: np.ndarray, target: np.ndarray, n_classes: int) -> np.ndarray:
    flat = np.bincount(target * n_classes + preds, minlength=n_classes * n_classes)
    return flat.reshape(n_classes, n_classes)  # (C * C,) -> (C, C), rows = true class


def _per_class_compute(confmat: np.ndarray) -> dict[str, np.ndarray]:
    tp = np.diag(confmat).astype(np.float64)
    support, predicted = confmat.sum(axis=1), confmat.sum(axis=0)
    f1_den = support + predicted  # = 2 tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(support > 0, tp / support, 0.0)
        f1 = np.where(f1_den > 0, 2 * tp / f1_den, 0.0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support.astype(np.int64)}


def confusion_matrix(preds, target, n_classes: int, ignore_index: int | None = None,
                     validate_args: bool = True) -> np.ndarray:
    """Count items by true class (rows) and predicted class (columns).

    Args:
        preds: Predicted classes (N,) or probabilities (N, C), reduced by argmax.
        target: True classes (N,).
        n_classes: Number of classes C.
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Integer array (C, C); entry [i, j] counts items of true class i predicted as j.

    Raises:
        ValueError: If an argument has the wrong shape, dtype or range.

    Example:
        >>> confusion_matrix([0, 1, 1, 2], [0, 1, 2, 2], n_classes=3).tolist()
        [[1, 0, 0], [0, 1, 0], [0, 1, 1]]
    """
    values, target, n_classes = _prepare(preds, target, ignore_index, validate_args, n_classes)
    return _confusion_matrix_update(_to_preds(values), target, n_classes)


def per_class_scores(preds, target, n_classes: int, ignore_index: int | None = None,
                     validate_args: bool = True) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class; undefined ratios (0/0) are 0, as in sklearn.

    Args:
        preds: Predicted classes (N,) or probabilities (N, C).
        target: True classes (N,).
        n_classes: Number of classes C.
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Dict with float arrays (C,) ``precision``, ``recall``, ``f1`` and int array (C,) ``support``.

    Example:
        >>> scores = per_class_scores([0, 1, 1, 2], [0, 1, 2, 2], n_classes=3)
        >>> scores["precision"].tolist(), scores["recall"].tolist(), scores["support"].tolist()
        ([1.0, 0.5, 1.0], [1.0, 1.0, 0.5], [1, 1, 2])
    """
    return _per_class_compute(confusion_matrix(preds, target, n_classes, ignore_index, validate_args))


def accuracy(probs_or_preds, target, ignore_index: int | None = None, validate_args: bool = True) -> float:
    """Fraction of items whose predicted class (argmax of probs, ties to the lowest index) is the target.

    Args:
        probs_or_preds: Probabilities (N, C) or predicted classes (N,).
        target: True classes (N,).
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Accuracy in [0, 1]; nan without items.

    Example:
        >>> accuracy([[0.9, 0.1], [0.4, 0.6], [0.7, 0.3]], [0, 1, 1])
        0.6666666666666666
    """
    values, target, _ = _prepare(probs_or_preds, target, ignore_index, validate_args)
    return _ratio(np.sum(_to_preds(values) == target), target.size)


def balanced_accuracy(probs_or_preds, target, ignore_index: int | None = None,
                      validate_args: bool = True) -> float:
    """Mean recall over the classes present in `target` (as sklearn's ``balanced_accuracy_score``).

    Args:
        probs_or_preds: Probabilities (N, C) or predicted classes (N,).
        target: True classes (N,).
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Balanced accuracy in [0, 1]; nan without items.

    Example:
        >>> balanced_accuracy([0, 0, 0, 1], [0, 0, 0, 1])
        1.0
        >>> balanced_accuracy([0, 0, 0, 0], [0, 0, 0, 1])
        0.5
    """
    values, target, n_classes = _prepare(probs_or_preds, target, ignore_index, validate_args)
    confmat = _confusion_matrix_update(_to_preds(values), target, n_classes)
    support = confmat.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(confmat)[present] / support[present])) if present.any() else math.nan


def macro_f1(probs_or_preds, target, ignore_index: int | None = None, validate_args: bool = True) -> float:
    """Unweighted mean F1 over classes occurring in `target` or in the predictions.

    A class absent from both has an undefined F1 (0/0) and is excluded, so a test split without a rare
    class is not penalised for it. A class only predicted, or only true, scores F1 = 0. This matches
    sklearn's ``f1_score(average="macro")`` without an explicit ``labels`` argument.

    Args:
        probs_or_preds: Probabilities (N, C) or predicted classes (N,).
        target: True classes (N,).
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Macro F1 in [0, 1]; nan without items.

    Example:
        >>> macro_f1([0, 1, 1, 2], [0, 1, 2, 2])  # F1 per class: 1, 2/3, 2/3
        0.7777777777777777
    """
    values, target, n_classes = _prepare(probs_or_preds, target, ignore_index, validate_args)
    confmat = _confusion_matrix_update(_to_preds(values), target, n_classes)
    present = (confmat.sum(axis=0) + confmat.sum(axis=1)) > 0
    f1 = _per_class_compute(confmat)["f1"]
    return float(np.mean(f1[present])) if present.any() else math.nan


# --------------------------------------------------------------------------- probabilistic scores


def log_loss(probs, target, base: str | int = "e", ignore_index: int | None = None,
             validate_args: bool = True) -> float:
    """Mean negative log-probability of the true class, -mean log p(y|x), clipping p at 1e-15.

    Args:
        probs: Probabilities (N, C).
        target: True classes (N,).
        base: ``"e"`` for nats or ``2`` for bits.
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Log loss (cross-entropy) in nats or bits; nan without items.

    Raises:
        ValueError: If `base` is neither ``"e"`` nor ``2``.

    Example:
        >>> log_loss([[0.5, 0.5], [0.25, 0.75]], [0, 0], base=2)
        1.5
    """
    _check_choice("base", base, ("e", 2))
    probs, target, _ = _prepare(probs, target, ignore_index, validate_args)
    total = -np.sum(np.log(np.clip(probs[np.arange(target.size), target], _CLIP, 1.0)))
    return _ratio(total, target.size) / (math.log(2) if base == 2 else 1.0)


def brier_score(probs, target, ignore_index: int | None = None, validate_args: bool = True) -> float:
    """Multiclass Brier score: mean over items of sum_k (p_k - y_k)^2 with one-hot y; in [0, 2].

    Args:
        probs: Probabilities (N, C).
        target: True classes (N,).
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Brier score; nan without items.

    Example:
        >>> brier_score([[1.0, 0.0], [0.5, 0.5]], [0, 1])
        0.25
    """
    probs, target, _ = _prepare(probs, target, ignore_index, validate_args)
    onehot = np.eye(probs.shape[1])[target]  # (N,) -> (N, C)
    return _ratio(np.sum((probs - onehot) ** 2), target.size)


# --------------------------------------------------------------------------- calibration


@dataclass
class ReliabilityBins:
    """Per-bin statistics for a reliability diagram; empty bins have nan confidence and accuracy.

    Attributes:
        bin_confidence: Mean top-class probability per bin (n_bins,).
        bin_accuracy: Fraction of correct top-class predictions per bin (n_bins,).
        bin_count: Number of items per bin (n_bins,).
    """

    bin_confidence: np.ndarray
    bin_accuracy: np.ndarray
    bin_count: np.ndarray

    def to_dict(self) -> dict[str, list]:
        """Return the bins as JSON-serialisable lists (nan written as None)."""
        return _json_value({"bin_confidence": self.bin_confidence, "bin_accuracy": self.bin_accuracy,
                            "bin_count": self.bin_count})


def _calibration_validate_args(n_bins: object, norm: object, binning: object) -> None:
    _check_int("n_bins", n_bins, 1)
    _check_choice("norm", norm, ("l1", "l2", "max"))
    _check_choice("binning", binning, ("width", "mass"))


def _bin_indices(confidences: np.ndarray, n_bins: int, binning: str) -> np.ndarray:
    """Bin per item. width: bin b = (b/n, (b+1)/n], 0 in bin 0. mass: equal counts by sorted confidence."""
    if binning == "width":
        inner_edges = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
        return np.searchsorted(inner_edges, confidences, side="left")
    order = np.argsort(confidences, kind="stable")
    sizes = [len(chunk) for chunk in np.array_split(order, n_bins)]  # first N % n_bins bins get one more
    indices = np.empty(confidences.size, dtype=np.int64)
    indices[order] = np.repeat(np.arange(n_bins), sizes)
    return indices


def _calibration_update(probs: np.ndarray, target: np.ndarray, n_bins: int, binning: str) -> ReliabilityBins:
    confidences = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == target).astype(np.float64)
    indices = _bin_indices(confidences, n_bins, binning)
    count = np.bincount(indices, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(indices, weights=confidences, minlength=n_bins) / count
        acc = np.bincount(indices, weights=correct, minlength=n_bins) / count
    return ReliabilityBins(bin_confidence=conf, bin_accuracy=acc, bin_count=count)


def _calibration_compute(bins: ReliabilityBins, norm: str) -> float:
    full = bins.bin_count > 0
    if not full.any():
        return math.nan
    gaps = np.abs(bins.bin_accuracy[full] - bins.bin_confidence[full])
    weights = bins.bin_count[full] / bins.bin_count.sum()
    if norm == "l1":
        return float(np.sum(weights * gaps))
    if norm == "l2":
        return float(np.sqrt(np.sum(weights * gaps**2)))
    return float(np.max(gaps))


def reliability_bins(probs, target, n_bins: int = 15, binning: str = "width", ignore_index: int | None = None,
                     validate_args: bool = True) -> ReliabilityBins:
    """Bin items by top-class probability and report mean confidence, accuracy and count per bin.

    Args:
        probs: Probabilities (N, C).
        target: True classes (N,).
        n_bins: Number of bins.
        binning: ``"width"`` for equal-width bins over [0, 1] or ``"mass"`` for equal-count bins.
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        A :class:`ReliabilityBins` record.

    Example:
        >>> bins = reliability_bins([[0.9, 0.1], [0.3, 0.7], [0.6, 0.4]], [0, 0, 0], n_bins=2)
        >>> bins.bin_count.tolist(), bins.bin_accuracy.tolist()
        ([0, 3], [nan, 0.6666666666666666])
    """
    if validate_args:
        _calibration_validate_args(n_bins, "l1", binning)
    probs, target, _ = _prepare(probs, target, ignore_index, validate_args)
    return _calibration_update(probs, target, n_bins, binning)


def calibration_error(probs, target, n_bins: int = 15, norm: str = "l1", binning: str = "width",
                      ignore_index: int | None = None, validate_args: bool = True) -> float:
    """Top-label calibration error: count-weighted mean (l1: ECE), root-mean-square (l2) or max (MCE) gap.

    The gap of a bin is |accuracy - mean confidence| over its items; empty bins are skipped.

    Args:
        probs: Probabilities (N, C).
        target: True classes (N,).
        n_bins: Number of bins.
        norm: ``"l1"`` (expected calibration error), ``"l2"`` or ``"max"`` (maximum calibration error).
        binning: ``"width"`` for equal-width bins over [0, 1] or ``"mass"`` for equal-count bins.
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Calibration error in [0, 1]; nan without items.

    Example:
        >>> probs = [[0.9, 0.1], [0.3, 0.7], [0.6, 0.4], [0.2, 0.8]]
        >>> round(calibration_error(probs, [0, 0, 0, 1], n_bins=2), 4)  # one bin: |0.75 - 0.75|
        0.0
        >>> round(calibration_error(probs, [0, 0, 0, 1], n_bins=2, binning="mass", norm="max"), 4)
        0.15
    """
    if validate_args:
        _calibration_validate_args(n_bins, norm, binning)
    probs, target, _ = _prepare(probs, target, ignore_index, validate_args)
    return _calibration_compute(_calibration_update(probs, target, n_bins, binning), norm)


# --------------------------------------------------------------------------- residue tasks


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
    return _json_value(out)


# --------------------------------------------------------------------------- information and summaries


def information_summary(probs, target, n_symbols: int | None = None, length: float | None = None,
                        ignore_index: int | None = None, validate_args: bool = True) -> dict[str, float]:
    """Cross-entropy of the model against reference points, in bits.

    With q the empirical label marginal and p̄ the mean predicted distribution, the constant predictor p̄
    scores CE(q, p̄) = H(q) + KL(q‖p̄) (``marginal_ce_bits``), so H(q) (``label_entropy_bits``) is the
    cross-entropy of the best constant predictor and KL(q‖p̄) (``kl_marginal_bits``) the cost of the
    model's label frequencies alone. Per item, CE = -log2 p(y|x) = H(y) + KL(y‖p) with one-hot y and
    H(y) = 0, so ``ce_bits`` is the mean KL to the one-hot targets. ``information_gain_bits`` =
    H(q) - ce_bits: bits per item gained over the best constant predictor (negative if worse).

    Args:
        probs: Probabilities (N, C).
        target: True classes (N,).
        n_symbols: Alphabet size of the input sequences (4 for DNA, 20 for protein), optional.
        length: Mean input length in symbols, optional.
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Dict of floats: ``n_items``, ``n_classes``, ``ce_bits``, ``label_entropy_bits``, ``uniform_bits``
        (log2 C), ``kl_marginal_bits``, ``marginal_ce_bits``, ``information_gain_bits``,
        ``mean_entropy_bits`` (mean entropy of the predictions); with `length` also
        ``information_gain_bits_per_symbol``; with both also ``input_capacity_bits`` = length log2 n_symbols,
        an upper bound on the information a sequence can carry.

    Example:
        >>> info = information_summary([[0.5, 0.5], [0.5, 0.5]], [0, 1])
        >>> [info[k] for k in ("ce_bits", "label_entropy_bits", "kl_marginal_bits", "information_gain_bits")]
        [1.0, 1.0, 0.0, 0.0]
    """
    probs, target, n_classes = _prepare(probs, target, ignore_index, validate_args)
    marginal = np.bincount(target, minlength=n_classes) / max(target.size, 1)  # q
    mean_probs = np.clip(probs.mean(axis=0), _CLIP, 1.0) if target.size else np.full(n_classes, math.nan)
    seen = marginal > 0
    entropy = float(-np.sum(marginal[seen] * np.log2(marginal[seen])))
    kl = float(np.sum(marginal[seen] * (np.log2(marginal[seen]) - np.log2(mean_probs[seen]))))
    ce = log_loss(probs, target, base=2, validate_args=False)
    safe = np.clip(probs, _CLIP, 1.0)
    out = {"n_items": target.size, "n_classes": n_classes, "ce_bits": ce, "label_entropy_bits": entropy,
           "uniform_bits": math.log2(n_classes), "kl_marginal_bits": kl, "marginal_ce_bits": entropy + kl,
           "information_gain_bits": entropy - ce,
           "mean_entropy_bits": _ratio(-np.sum(probs * np.log2(safe)), target.size)}
    if length is not None:
        out["information_gain_bits_per_symbol"] = (entropy - ce) / length
        if n_symbols is not None:
            out["input_capacity_bits"] = length * math.log2(n_symbols)
    if not target.size:
        out.update(label_entropy_bits=math.nan, kl_marginal_bits=math.nan, marginal_ce_bits=math.nan)
    return _json_value(out)


def classification_metrics(probs, target, classes: Sequence[str], n_bins: int = 15,
                           ignore_index: int | None = None, validate_args: bool = True) -> dict:
    """All classification scores of a split as one JSON-serialisable dict (the ``metrics.json`` blocks).

    Args:
        probs: Probabilities (N, C).
        target: True classes (N,).
        classes: Class names (C,).
        n_bins: Number of calibration bins.
        ignore_index: Target value of items to drop.
        validate_args: Check shapes and value ranges.

    Returns:
        Dict with ``accuracy``, ``balanced_accuracy``, ``macro_f1``, ``log_loss_nats``, ``log_loss_bits``,
        ``brier``, ``ece`` (equal width), ``ece_mass`` (equal mass), ``mce`` (equal width), ``n_items``,
        ``per_class`` {class: {precision, recall, f1, support}}, ``confusion`` {classes, matrix} and
        ``information`` (see :func:`information_summary`); nan is written as None.

    Raises:
        ValueError: If `classes` does not name every column of `probs`.

    Example:
        >>> out = classification_metrics([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]], [0, 1, 1], ["a", "b"])
        >>> out["accuracy"], out["confusion"]
        (0.6666666666666666, {'classes': ['a', 'b'], 'matrix': [[1, 0], [1, 1]]})
    """
    probs, target, n_classes = _prepare(probs, target, ignore_index, validate_args)
    if len(classes) != n_classes:
        raise ValueError(f"Expected argument `classes` to have {n_classes} names, but got {len(classes)}")
    preds = probs.argmax(axis=1)
    confmat = _confusion_matrix_update(preds, target, n_classes)
    scores = _per_class_compute(confmat)
    ece = {(norm, binning): calibration_error(probs, target, n_bins, norm, binning, validate_args=False)
           for norm, binning in (("l1", "width"), ("l1", "mass"), ("max", "width"))}
    out = {"n_items": target.size, "accuracy": accuracy(preds, target, validate_args=False),
           "balanced_accuracy": balanced_accuracy(preds, target, validate_args=False),
           "macro_f1": macro_f1(preds, target, validate_args=False),
           "log_loss_nats": log_loss(probs, target, validate_args=False),
           "log_loss_bits": log_loss(probs, target, base=2, validate_args=False),
           "brier": brier_score(probs, target, validate_args=False), "ece": ece["l1", "width"],
           "ece_mass": ece["l1", "mass"], "mce": ece["max", "width"],
           "per_class": {name: {k: v[i] for k, v in scores.items()} for i, name in enumerate(classes)},
           "confusion": {"classes": list(classes), "matrix": confmat},
           "information": information_summary(probs, target, validate_args=False)}
    return _json_value(out)
