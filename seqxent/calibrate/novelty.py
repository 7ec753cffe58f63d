"""Novelty scores of a trained model and the abstain rule chosen on validation.

Sign convention: every score here is a *novelty* score, **higher = more likely out-of-distribution (OOD)**;
an item whose score is above the threshold of the :class:`AbstainRule` is reported as unassigned.

- ``seqxent calibrate`` fits an :class:`AbstainRule` on the validation split (:func:`fit_abstain_rule`): the
  novelty-score threshold that keeps a target share (``recall``) of in-distribution items
  (:func:`threshold_for_recall`); the rule is stored in the checkpoint's ``meta["ood"]``.
- ``seqxent predict`` writes the scores of :func:`novelty_scores` and labels items above the threshold
  ``unassigned``.
- ``seqxent ood`` scores held-out classes against the test split (:mod:`seqxent.ood`); ``seqxent prepare
  --novel-classes`` holds them out (:mod:`seqxent.prepare.holdout`).

Scores take logits ``(N, C)`` (torch tensor or numpy array; for residue tasks flattened over valid residues),
are computed in float64 and returned as a numpy float64 array ``(N,)``, at a temperature ``T`` (the fitted one
by default): ``energy = -T * logsumexp(z / T)`` (:func:`energy_score`), ``msp = 1 - max softmax(z / T)``
(:func:`msp_score`) and ``nll = -log max softmax(z / T)`` (:func:`nll_score`), so ``msp`` and ``nll`` agree
with the calibrated probabilities. Log-probabilities can stand in for logits in :func:`msp_score` and
:func:`nll_score` (softmax of log-probabilities gives the probabilities back), but not in
:func:`energy_score`, whose value depends on the logits' offset. DNA barcode models also carry their training
sequences (:mod:`seqxent.calibrate.reference`) and score ``kmer_distance``: the share of a query's 12-mers
that its closest training record lacks. It needs no logits and no temperature, and it is the one that
notices held-out species (docs/calibration.md).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt
import torch

from seqxent.calibrate.temperature import check_temperature

ArrayLike = npt.ArrayLike | torch.Tensor

#: Names of the novelty scores computed from logits, in output column order.
SCORES = ("energy", "msp", "nll")
#: The novelty score of a model with a reference (:class:`seqxent.calibrate.reference.KmerReference`).
REFERENCE_SCORE = "kmer_distance"
#: Every score an abstain rule can use.
ALL_SCORES = (*SCORES, REFERENCE_SCORE)
#: Label given to an item whose novelty score is above the threshold.
UNASSIGNED = "unassigned"


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
    check_temperature(temperature)
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

    Ranks items like :func:`msp_score` (same argument, result shape and errors) but spreads confident items
    apart (range ``[0, log C]``). Higher = more likely OOD.

    Example:
        >>> nll_score([[0.0, 0.0], [5.0, 5.0 - np.log(3.0)]]).round(4)  # log 2, log(4/3)
        array([0.6931, 0.2877])
    """
    z = _logits_float64(logits)
    return (torch.logsumexp(z, dim=1) - z.amax(dim=1)).numpy()


def novelty_scores(logits: npt.ArrayLike, temperature: float = 1.0,
                   distance: npt.ArrayLike | None = None) -> dict[str, np.ndarray]:
    """Energy, MSP and NLL novelty scores of logits at a temperature (higher = more likely novel).

    Args:
        logits: Logits of shape ``(N, C)``.
        temperature: A finite number larger than 0 dividing the logits, e.g. the fitted temperature.
        distance: The items' k-mer distances to the model's reference ``(N,)``, added as
            ``kmer_distance`` (:data:`REFERENCE_SCORE`); None for a model without a reference.

    Returns:
        Dict ``score name -> float64 array (N,)`` with the keys of :data:`SCORES` (and ``kmer_distance``).

    Raises:
        ValueError: If ``logits`` is not a finite ``(N, C)`` array, ``temperature`` is not a finite number
            larger than 0, or ``distance`` does not have one value per item.

    Example:
        >>> {k: v.round(4).tolist() for k, v in novelty_scores([[2.0, 0.0]], temperature=2.0).items()}
        {'energy': [-2.6265], 'msp': [0.2689], 'nll': [0.3133]}
    """
    z = np.asarray(logits, dtype=np.float64)
    energy = energy_score(z, temperature)  # validates logits and temperature first
    scores = {"energy": energy, "msp": msp_score(z / temperature), "nll": nll_score(z / temperature)}
    if distance is not None:
        distance = np.asarray(distance, dtype=np.float64)
        if distance.shape != energy.shape:
            raise ValueError(f"Expected argument `distance` to hold one value per item {energy.shape}, "
                             f"but got shape {distance.shape}")
        scores[REFERENCE_SCORE] = distance
    return scores


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
    s_in = np.sort(check_scores(scores_in, "scores_in"))
    # ceil(recall * N) items must be kept; the small slack absorbs rounding in recall * N (0.95 * N etc.).
    n_keep = max(1, math.ceil(recall * s_in.size - 1e-9))
    return float(s_in[n_keep - 1])


@dataclass(frozen=True)
class AbstainRule:
    """Label an item ``unassigned`` when its novelty ``score`` (at ``temperature``) exceeds ``threshold``.

    Attributes:
        score: One of :data:`SCORES`.
        threshold: Items with a score above it are unassigned.
        recall: Share of validation items the threshold keeps (the target in-distribution recall).
        temperature: Temperature the scores are computed at (the checkpoint's fitted temperature).
        n_valid: Number of validation items the threshold was chosen on.
    """

    score: str
    threshold: float
    recall: float
    temperature: float
    n_valid: int

    def abstains(self, scores: Mapping[str, npt.ArrayLike]) -> np.ndarray:
        """Boolean array: which items of ``scores`` (from :func:`novelty_scores`) are unassigned.

        Example:
            >>> rule = AbstainRule("msp", 0.3, 0.95, 1.0, 20)
            >>> rule.abstains({"msp": [0.1, 0.3, 0.5]}).tolist()
            [False, False, True]
        """
        return np.asarray(scores[self.score], dtype=np.float64) > self.threshold

    def to_meta(self) -> dict:
        """The rule as a plain dict for the checkpoint's ``meta["ood"]``."""
        return asdict(self)

    @classmethod
    def from_meta(cls, meta: Mapping | None) -> AbstainRule | None:
        """The rule stored in a checkpoint's ``meta`` (under ``"ood"``), or None when there is none.

        Example:
            >>> AbstainRule.from_meta({"ood": AbstainRule("nll", 0.5, 0.95, 1.2, 40).to_meta()}).threshold
            0.5
            >>> AbstainRule.from_meta({}) is None
            True
        """
        stored = (meta or {}).get("ood")
        return None if not stored else cls(**{key: stored[key] for key in cls.__dataclass_fields__})


def score_names(meta: Mapping | None) -> list[str]:
    """The novelty scores a sequence model's predictions carry (``kmer_distance`` only with a reference).

    Example:
        >>> score_names({}), score_names({"reference": {"k": 12}})[-1]
        (['energy', 'msp', 'nll'], 'kmer_distance')
    """
    return [*SCORES, REFERENCE_SCORE] if (meta or {}).get("reference") else list(SCORES)


def fit_abstain_rule(logits: npt.ArrayLike, temperature: float = 1.0, score: str = "energy",
                     recall: float = 0.95, distance: npt.ArrayLike | None = None) -> AbstainRule:
    """Choose the threshold of ``score`` that keeps a share ``recall`` of in-distribution (validation) items.

    Args:
        logits: Validation logits of shape ``(N, C)``.
        temperature: Temperature of the scores (the fitted temperature).
        score: One of :data:`ALL_SCORES`.
        recall: Target in-distribution recall, in ``(0, 1]``.
        distance: Validation k-mer distances ``(N,)``; needed for ``score="kmer_distance"``.

    Returns:
        The :class:`AbstainRule`; its threshold is :func:`threshold_for_recall` of the scores.

    Raises:
        ValueError: For an unknown ``score``, ``kmer_distance`` without distances, a ``recall`` outside
            ``(0, 1]``, or bad logits or temperature.

    Example:
        >>> rule = fit_abstain_rule([[3.0, 0.0], [1.0, 0.0], [0.0, 0.0]], score="nll", recall=0.6)
        >>> round(rule.threshold, 4)  # keeps 2 of 3 items: the second-lowest NLL, log(1 + e^-1)
        0.3133
    """
    if score not in ALL_SCORES:
        raise ValueError(f"Expected argument `score` to be one of {list(ALL_SCORES)}, but got {score!r}")
    if score == REFERENCE_SCORE and distance is None:
        raise ValueError(f"Expected k-mer distances for score {score!r} (a model with a reference of training "
                         f"sequences: DNA sequence tasks), but got none")
    values = novelty_scores(logits, temperature, distance)[score]
    return AbstainRule(score, threshold_for_recall(values, recall), float(recall), float(temperature),
                       int(values.size))


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


def check_scores(scores: npt.ArrayLike, name: str) -> np.ndarray:
    """Return novelty scores as a float64 array after checking they are non-empty, 1-D and finite.

    Raises:
        ValueError: Naming argument ``name`` otherwise.
    """
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().numpy()
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1 or s.size == 0:
        raise ValueError(f"Expected argument `{name}` to be a non-empty 1-D array, but got shape {s.shape}")
    if not np.isfinite(s).all():
        raise ValueError(f"Expected argument `{name}` to be finite, but got NaN or infinite values")
    return s
