"""Novelty scores of a trained model, the abstain rule chosen on validation, and the novel-class evaluation.

This module wires the building blocks of :mod:`seqxent.calibrate.scores` into the commands:

- ``seqxent prepare --novel-classes F`` holds out whole classes (:func:`hold_out_classes`) as the split
  ``novel``: the model never sees them, so they stand in for taxa missing from the reference.
- ``seqxent calibrate`` fits an :class:`AbstainRule` on the validation split (:func:`fit_abstain_rule`): the
  novelty-score threshold that keeps a target share (``recall``) of in-distribution items; the rule is stored
  in the checkpoint's ``meta["ood"]``.
- ``seqxent predict`` writes the scores of :func:`novelty_scores` and labels items above the threshold
  ``unassigned``.
- ``seqxent ood`` scores the held-out classes against the test split (:func:`evaluate_novelty`).

All scores are novelty scores, higher = more likely out-of-distribution, computed at a temperature ``T``
(the fitted one by default): ``energy = -T * logsumexp(z / T)``, ``msp = 1 - max softmax(z / T)`` and
``nll = -log max softmax(z / T)``, so ``msp`` and ``nll`` agree with the calibrated probabilities. DNA
barcode models also carry their training sequences (:mod:`seqxent.calibrate.reference`) and score
``kmer_distance``: the share of a query's 12-mers that its closest training record lacks. It needs no
logits and no temperature, and it is the one that notices held-out species (docs/calibration.md).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import numpy.typing as npt

from seqxent.calibrate.scores import energy_score, msp_score, nll_score, ood_metrics, threshold_for_recall

#: Names of the novelty scores computed from logits, in output column order.
SCORES = ("energy", "msp", "nll")
#: The novelty score of a model with a reference (:class:`seqxent.calibrate.reference.KmerReference`).
REFERENCE_SCORE = "kmer_distance"
#: Every score an abstain rule can use.
ALL_SCORES = (*SCORES, REFERENCE_SCORE)
#: Split name of the records of held-out classes in the prepared data set.
NOVEL = "novel"
#: Label given to an item whose novelty score is above the threshold.
UNASSIGNED = "unassigned"


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
        The :class:`AbstainRule`; its threshold is :func:`seqxent.calibrate.scores.threshold_for_recall` of the scores.

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


@dataclass
class NoveltyInputs:
    """Logits (and k-mer distances) of the three item sets of a novel-class evaluation.

    Attributes:
        valid: Validation logits ``(N_valid, C)``: thresholds are chosen on them.
        test: Test logits ``(N_test, C)``: the in-distribution items.
        test_target: True classes of the test items ``(N_test,)``.
        novel: Logits of records of held-out classes ``(N_novel, C)``: the out-of-distribution items.
        distances: ``(valid, test, novel)`` k-mer distances to the model's reference, or None.
    """

    valid: np.ndarray
    test: np.ndarray
    test_target: np.ndarray
    novel: np.ndarray
    distances: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None


def evaluate_novelty(inputs: NoveltyInputs, rule: AbstainRule,
                     temperatures: Sequence[float] = (1.0, 2.0, 5.0)) -> dict:
    """Separation of novel-class from test items, per score and temperature, and the abstain rule's effect.

    For every score and temperature (the given ones, plus ``T=cal``: the rule's, fitted temperature) an
    entry ``"<score> T=<t>"`` holds ``auroc``, ``aupr``, ``fpr95``
    (:func:`~seqxent.calibrate.scores.ood_metrics`, novel =
    positive), and, at the threshold chosen on validation for ``rule.recall``: ``threshold``,
    ``test_recall`` (share of test items kept), ``over_classification`` (share of novel items wrongly kept,
    i.e. given a known label) and ``accuracy_kept`` (accuracy of the kept test items). With distances, the
    entry ``kmer_distance`` (no temperature) holds the same. The top-level scalars report the rule itself
    (the ``predict`` default) and the entry with the best AUROC.

    Args:
        inputs: Validation, test and novel logits (and distances).
        rule: The abstain rule of the checkpoint (or fitted for this evaluation).
        temperatures: Further temperatures to score at.

    Returns:
        A JSON-serialisable dict (the ``ood`` block of metrics.json).

    Raises:
        ValueError: If an item set is empty, a temperature is not a finite number larger than 0, or the rule
            uses ``kmer_distance`` without distances.
    """
    correct = np.asarray(inputs.test).argmax(axis=1) == np.asarray(inputs.test_target)
    entries = {}
    for name, t in [*((f"T={t:g}", float(t)) for t in temperatures), ("T=cal", rule.temperature)]:
        scores = [novelty_scores(z, t) for z in (inputs.valid, inputs.test, inputs.novel)]
        for score in SCORES:
            entries[f"{score} {name}"] = _score_entry(*(s[score] for s in scores), correct, rule.recall)
    if inputs.distances is not None:
        entries[REFERENCE_SCORE] = _score_entry(*inputs.distances, correct, rule.recall)
    key = rule.score if rule.score == REFERENCE_SCORE else f"{rule.score} T=cal"
    if key not in entries:
        raise ValueError(f"Expected k-mer distances for the abstain rule's score {rule.score!r}, but got none")
    selected = entries[key]
    best = max(entries, key=lambda k: entries[k]["auroc"])
    return {"n_test": int(correct.size), "n_novel": int(len(inputs.novel)), "score": rule.score,
            "temperature": rule.temperature, "recall_target": rule.recall, "threshold": rule.threshold,
            "test_recall": selected["test_recall"], "over_classification": selected["over_classification"],
            "accuracy_kept": selected["accuracy_kept"], "auroc": selected["auroc"],
            "best": best, "best_auroc": entries[best]["auroc"], **entries}


def _score_entry(valid: np.ndarray, test: np.ndarray, novel: np.ndarray, correct: np.ndarray,
                 recall: float) -> dict[str, float | None]:
    """Separation metrics of one score, and the effect of its validation threshold on test and novel items."""
    separation = ood_metrics(test, novel)
    threshold = threshold_for_recall(valid, recall)
    kept = test <= threshold
    return {"auroc": separation["auroc"], "aupr": separation["aupr"], "fpr95": separation["fpr_at_95_tpr"],
            "threshold": threshold, "test_recall": float(kept.mean()),
            "over_classification": float(np.mean(novel <= threshold)),
            "accuracy_kept": float(correct[kept].mean()) if kept.any() else None}
