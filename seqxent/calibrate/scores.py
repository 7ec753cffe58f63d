"""Out-of-distribution (novelty) scores, their evaluation, and abstention.

Sign convention: every score in this module is a *novelty* score, **higher = more likely
out-of-distribution (OOD)**. Items whose score is above a threshold are reported as unassigned.

Scores take logits ``(N, C)`` (torch tensor or numpy array; for residue tasks flattened over valid residues)
and return a numpy float64 array ``(N,)``. They are computed in float64. Log-probabilities can stand in for
logits in :func:`msp_score` and :func:`nll_score` (softmax of log-probabilities gives the probabilities back),
but not in :func:`energy_score`, whose value depends on the logits' offset.
"""

import math

import numpy as np
import numpy.typing as npt
import torch

ArrayLike = npt.ArrayLike | torch.Tensor


def energy_score(logits: ArrayLike, temperature: float = 1.0) -> np.ndarray:
    """Energy score ``-T * logsumexp(logits / T)`` (Liu et al. 2020); higher = more likely OOD.

    Args:
        logits: Logits of shape ``(N, C)``.
        temperature: A finite number larger than 0.

    Returns:
        Float64 array of shape ``(N,)``.

    Raises:
        ValueError: If ``logits`` is not a finite 2-D array with at least one class, or ``temperature`` is
            not a finite number larger than 0.

    Example:
        >>> energy_score([[0.0, 0.0], [10.0, 0.0]]).round(4)
        array([ -0.6931, -10.    ])
    """
    is_number = isinstance(temperature, int | float) and not isinstance(temperature, bool)
    if not is_number or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(
            f"Expected argument `temperature` to be a finite number larger than 0, but got {temperature!r}"
        )
    z = _logits_float64(logits)
    return (-temperature * torch.logsumexp(z / temperature, dim=1)).numpy()


def msp_score(logits: ArrayLike) -> np.ndarray:
    """Maximum-softmax-probability score ``1 - max_c softmax(logits)_c`` (Hendrycks & Gimpel 2017).

    ``1 - MSP`` rather than ``-MSP`` so that the score is non-negative: it lies in ``[0, 1 - 1/C]``, 0 for a
    certain prediction. Both rank items identically. Higher = more likely OOD.

    Args:
        logits: Logits of shape ``(N, C)``.

    Returns:
        Float64 array of shape ``(N,)``.

    Raises:
        ValueError: If ``logits`` is not a finite 2-D array with at least one class.

    Example:
        >>> msp_score([[0.0, 0.0], [3.0, 3.0 - np.log(3.0)]]).round(4)
        array([0.5 , 0.25])
    """
    z = _logits_float64(logits)
    return (1.0 - torch.softmax(z, dim=1).amax(dim=1)).numpy()


def nll_score(logits: ArrayLike) -> np.ndarray:
    """NLL of the predicted class, ``-log max_c softmax(logits)_c = logsumexp(logits) - max(logits)``.

    Ranks items like :func:`msp_score` but spreads confident items apart (range ``[0, log C]``). Higher =
    more likely OOD.

    Args:
        logits: Logits of shape ``(N, C)``.

    Returns:
        Float64 array of shape ``(N,)``.

    Raises:
        ValueError: If ``logits`` is not a finite 2-D array with at least one class.

    Example:
        >>> nll_score([[0.0, 0.0], [5.0, 5.0 - np.log(3.0)]]).round(4)  # log 2, log(4/3)
        array([0.6931, 0.2877])
    """
    z = _logits_float64(logits)
    return (torch.logsumexp(z, dim=1) - z.amax(dim=1)).numpy()


def ood_metrics(scores_in: npt.ArrayLike, scores_out: npt.ArrayLike) -> dict[str, float]:
    """Separation of in-distribution and OOD items by a novelty score (higher = more likely OOD).

    - ``auroc``: area under the ROC curve with OOD as the positive class, i.e. the probability that a random
      OOD item scores higher than a random in-distribution item, ties counting one half.
    - ``aupr``: average precision with OOD as the positive class (step-wise, as
      ``sklearn.metrics.average_precision_score``).
    - ``fpr_at_95_tpr``: the usual FPR95, with *in-distribution as the positive class*. Items with
      ``score <= t`` are accepted, where ``t = threshold_for_recall(scores_in, 0.95)`` is the smallest
      observed in-distribution score at which at least 95 % of in-distribution items are accepted;
      ``fpr_at_95_tpr`` is the fraction of OOD items accepted, ``mean(scores_out <= t)``. This equals the
      FPR at the first point of ``sklearn.metrics.roc_curve(labels_in, -scores)`` with TPR >= 0.95.

    Args:
        scores_in: Scores of in-distribution items, shape ``(N_in,)``.
        scores_out: Scores of OOD items, shape ``(N_out,)``.

    Returns:
        A dict with float values for ``auroc``, ``aupr`` and ``fpr_at_95_tpr``.

    Raises:
        ValueError: If either argument is empty, not 1-D, or holds a non-finite value.

    Example:
        >>> ood_metrics([0.1, 0.2, 0.3, 0.4], [0.35, 0.5])
        {'auroc': 0.875, 'aupr': 0.8333333333333333, 'fpr_at_95_tpr': 0.5}
    """
    s_in = _scores_float64(scores_in, "scores_in")
    s_out = _scores_float64(scores_out, "scores_out")
    return {
        "auroc": _auroc(s_in, s_out),
        "aupr": _average_precision(s_in, s_out),
        "fpr_at_95_tpr": float(np.mean(s_out <= threshold_for_recall(s_in, 0.95))),
    }


def threshold_for_recall(scores_in: npt.ArrayLike, recall: float = 0.95) -> float:
    """Smallest observed in-distribution score ``t`` with ``mean(scores_in <= t) >= recall``.

    Items scoring ``<= t`` are kept (assigned); at least a fraction ``recall`` of the in-distribution items
    are kept, and the rest, scoring above ``t``, become unassigned (ties at ``t`` are all kept).

    Args:
        scores_in: Scores of in-distribution (e.g. validation) items, shape ``(N,)``.
        recall: Fraction of in-distribution items to keep, in ``(0, 1]``.

    Returns:
        The threshold ``t``.

    Raises:
        ValueError: If ``recall`` is outside ``(0, 1]``, or ``scores_in`` is empty, not 1-D or not finite.

    Example:
        >>> threshold_for_recall([0.4, 0.1, 0.3, 0.2], recall=0.75)
        0.3
        >>> threshold_for_recall([0.4, 0.1, 0.3, 0.2], recall=0.76)
        0.4
    """
    is_number = isinstance(recall, int | float) and not isinstance(recall, bool)
    if not is_number or not 0 < recall <= 1:
        raise ValueError(f"Expected argument `recall` to be a number in (0, 1], but got {recall!r}")
    s_in = np.sort(_scores_float64(scores_in, "scores_in"))
    # ceil(recall * N) items must be kept; the small slack absorbs rounding in recall * N (0.95 * N etc.).
    n_keep = max(1, math.ceil(recall * s_in.size - 1e-9))
    return float(s_in[n_keep - 1])


def abstain(
    labels: npt.ArrayLike, scores: npt.ArrayLike, threshold: float, unassigned: str = "unassigned"
) -> np.ndarray:
    """Replace the labels of items whose novelty score is above ``threshold`` with ``unassigned``.

    Args:
        labels: Predicted labels, shape ``(N,)`` (class names or indices).
        scores: Novelty scores, shape ``(N,)``; higher = more likely OOD.
        threshold: Items with ``score > threshold`` are unassigned, e.g. from :func:`threshold_for_recall`.
        unassigned: Label given to abstained items.

    Returns:
        Object array of shape ``(N,)``.

    Raises:
        ValueError: If ``labels`` and ``scores`` differ in length, or ``scores`` is not finite.

    Example:
        >>> abstain(["Apis", "Bombus", "Osmia"], [0.1, 0.9, 0.5], threshold=0.5).tolist()
        ['Apis', 'unassigned', 'Osmia']
    """
    s = _scores_float64(scores, "scores", allow_empty=True)
    labels = list(labels)
    if len(labels) != s.size:
        raise ValueError(
            f"Expected arguments `labels` and `scores` to have the same length, but got {len(labels)} and "
            f"{s.size}"
        )
    out = np.empty(s.size, dtype=object)  # object: keeps labels of any type and length intact
    out[:] = labels
    out[s > threshold] = unassigned
    return out


def _auroc(s_in: np.ndarray, s_out: np.ndarray) -> float:
    """Mann-Whitney AUROC: P(out > in) + P(out == in) / 2, via binary search in the sorted in-scores."""
    sorted_in = np.sort(s_in)
    below = np.searchsorted(sorted_in, s_out, side="left")  # in-scores strictly below each out-score
    below_or_tied = np.searchsorted(sorted_in, s_out, side="right")
    return float((below + below_or_tied).sum() / (2.0 * s_in.size * s_out.size))


def _average_precision(s_in: np.ndarray, s_out: np.ndarray) -> float:
    """Average precision with OOD positive: sum over distinct thresholds of (R_n - R_{n-1}) * P_n."""
    scores = np.concatenate([s_out, s_in])
    is_out = np.concatenate([np.ones(s_out.size), np.zeros(s_in.size)])
    order = np.argsort(-scores, kind="stable")
    scores, is_out = scores[order], is_out[order]
    # Last position of each run of tied scores: a threshold admits a whole run at once.
    ends = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]
    tp = np.cumsum(is_out)[ends]
    precision = tp / (ends + 1)
    recall_gain = np.diff(tp, prepend=0.0) / s_out.size
    return float(np.sum(recall_gain * precision))


def _logits_float64(logits: ArrayLike) -> torch.Tensor:
    """Validate logits and return them as a float64 CPU tensor of shape (N, C)."""
    if isinstance(logits, torch.Tensor):
        z = logits.detach().to(device="cpu", dtype=torch.float64)
    else:
        z = torch.as_tensor(np.asarray(logits, dtype=np.float64))
    if z.ndim != 2 or z.shape[1] < 1:
        raise ValueError(
            f"Expected argument `logits` to have shape (N, C) with C >= 1, but got {tuple(z.shape)}"
        )
    if not torch.isfinite(z).all():
        raise ValueError("Expected argument `logits` to be finite, but got NaN or infinite values")
    return z


def _scores_float64(scores: npt.ArrayLike, name: str, allow_empty: bool = False) -> np.ndarray:
    """Validate a 1-D array of finite scores and return it as float64."""
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().numpy()
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or (s.size == 0 and not allow_empty):
        raise ValueError(f"Expected argument `{name}` to be a non-empty 1-D array, but got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"Expected argument `{name}` to be finite, but got NaN or infinite values")
    return s
