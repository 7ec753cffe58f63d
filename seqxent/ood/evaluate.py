"""Novel-class evaluation of ``seqxent ood``: how well novelty scores separate held-out classes from test items.

``seqxent prepare --novel-classes`` holds whole classes out of training (:mod:`seqxent.prepare.holdout`);
their records stand in for taxa missing from the reference. :func:`evaluate_novelty` scores them and the
in-distribution test items with every novelty score of :mod:`seqxent.calibrate.novelty`, at several
temperatures, and reports the separation (:func:`ood_metrics`) and the effect of the abstain rule chosen on
the validation split: the share of test items kept, and of novel items wrongly given a known label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from seqxent.calibrate.novelty import (
    REFERENCE_SCORE,
    SCORES,
    AbstainRule,
    check_scores,
    novelty_scores,
    threshold_for_recall,
)
from seqxent.metrics.ranking import average_precision, binary_auroc


def ood_metrics(scores_in: npt.ArrayLike, scores_out: npt.ArrayLike) -> dict[str, float]:
    """Separation of in-distribution and OOD items by a novelty score (higher = more likely OOD).

    - ``auroc``: area under the ROC curve with OOD as the positive class, i.e. the probability that a random
      OOD item scores higher than a random in-distribution item, ties counting one half
      (:func:`~seqxent.metrics.ranking.binary_auroc`).
    - ``aupr``: average precision with OOD as the positive class
      (:func:`~seqxent.metrics.ranking.average_precision`: step-wise, scikit-learn's).
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
    s_in, s_out = check_scores(scores_in, "scores_in"), check_scores(scores_out, "scores_out")
    scores, is_out = np.r_[s_out, s_in], np.r_[np.ones(s_out.size), np.zeros(s_in.size)]
    return {"auroc": binary_auroc(scores, is_out), "aupr": average_precision(scores, is_out),
            "fpr_at_95_tpr": float(np.mean(s_out <= threshold_for_recall(s_in, 0.95)))}


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
    (:func:`ood_metrics`, novel =
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
