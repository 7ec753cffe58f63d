"""What the single-label tasks share: one class per unit (a record or a residue), softmax, cross-entropy family.

:class:`SingleLabelTask` is the base of :class:`~seqxent.tasks.sequence.SequenceTask` and
:class:`~seqxent.tasks.residue.ResidueTask`. Its evaluation blocks: metrics with bootstrap intervals (over
records, or over chains for residues: the residues of one chain are not independent), calibration before
(T = 1) and after temperature scaling, and the information view in bits per unit.
"""

from __future__ import annotations

import numpy as np

from seqxent.errors import InputError
from seqxent.metrics import bootstrap
from seqxent.metrics import classification as metrics
from seqxent.metrics.calibration import calibration_error, ece_noise_floor, reliability_bins
from seqxent.model.losses import Loss, build_loss, class_weights
from seqxent.tasks.base import SplitPredictions, Task


class SingleLabelTask(Task):
    """One class per unit with a softmax output, trained with the configured cross-entropy-family loss."""

    decisions = True

    def loss(self, cfg, class_counts: np.ndarray, classes=()) -> Loss:
        """The configured (weighted, focal or smoothed) loss; ``pos_weight`` gives the binary weights ``(1, β)``.

        Raises:
            InputError: for settings that do not fit together or do not fit the classes.
        """
        try:
            config = cfg.loss_config()
            if not cfg.pos_weight:
                return build_loss(config, class_counts)
            if cfg.focal_alpha:
                raise ValueError(f"Expected `focal_alpha` 0 with `pos_weight` {cfg.pos_weight}, "
                                 f"but got {cfg.focal_alpha}")
            weight = class_weights(class_counts, config.class_weighting, pos_weight=cfg.pos_weight)
        except ValueError as err:
            raise InputError(f"training loss: {err}") from None
        return Loss(config, alpha=weight) if config.kind == "focal" else Loss(config, weight=weight)

    def headline(self, probs: np.ndarray, target: np.ndarray, unit: np.ndarray, classes: list[str],
                 n_boot: int, seed: int) -> dict:
        """The headline metrics, each ``{"value", "ci95"}``."""
        raise NotImplementedError

    def extra_metrics(self, probs: np.ndarray, preds: SplitPredictions, classes: list[str]) -> dict:
        """Task-specific entries of the ``metrics`` block (none by default)."""
        return {}

    def evaluate(self, ckpt, preds: SplitPredictions, n_bins: int = 15, n_boot: int = 1000, seed: int = 1,
                 threshold: float = 0.5, train_counts: np.ndarray | None = None) -> dict:
        """The metric blocks of ``metrics.json`` for one split.

        With ``train_counts`` (training items per class) the mean recall of the rarest classes is added
        (``minority``); ``threshold`` is for label sets and unused here.
        """
        raw = self.probs(preds.logits)
        probs = self.probs(preds.logits, ckpt.temperature)
        out = metrics.classification_metrics(probs, preds.target, ckpt.classes, n_bins)
        result = {"headline": self.headline(probs, preds.target, preds.unit, ckpt.classes, n_boot, seed),
                  "per_class": out.pop("per_class"), "confusion": out.pop("confusion"),
                  "information": out.pop("information"), "metrics": out}
        result["metrics"].update(self.extra_metrics(probs, preds, ckpt.classes))
        result["information"] = self.information_view(result["information"], ckpt.alphabet.size,
                                                      preds.rows["sequence"].str.len().mean())
        result["calibration"] = {
            "temperature": ckpt.temperature, "n_bins": n_bins,
            "before": _calibration(raw, preds.target, n_bins), "after": _calibration(probs, preds.target, n_bins),
            # The ECE a perfectly calibrated model would show on this many items: read "after" against it.
            **{f"ece_noise_floor_{k}": v for k, v in ece_noise_floor(probs, n_bins, seed=seed).items()},
            "bins_before": reliability_bins(raw, preds.target, n_bins).to_dict(),
            "bins_after": reliability_bins(probs, preds.target, n_bins).to_dict()}
        if train_counts is not None:
            result["minority"] = minority_recall(result["per_class"], train_counts, ckpt.classes)
            result["metrics"]["minority_recall"] = result["minority"]["recall"]
        return result

    def information_view(self, info: dict, n_symbols: int, mean_length: float) -> dict:
        """How much the model compresses the labels: cross-entropy next to the label entropy and uniform codes.

        Puts first, per unit (a sequence, or a residue for residue tasks): the model's cross-entropy in bits,
        the entropy of the label distribution (the best input-blind code), the uniform label code (log2 of
        the number of classes), the bits saved over the label entropy and the factor of compression, then
        the uniform code of the input (2 bits per base, log2 20 bits per residue; times the mean length for
        whole sequences). The other keys of the ``information`` block follow (``ce_bits``, ``uniform_bits``
        and ``information_gain_bits`` under the names above).

        Args:
            info: The ``information`` block of :func:`seqxent.metrics.classification.classification_metrics`.
            n_symbols: Size of the input alphabet (4 for DNA, 20 for protein).
            mean_length: Mean length of the evaluated sequences.

        Returns:
            A new dict; values that cannot be computed (a missing input, a zero denominator) are None.

        Example:
            >>> from seqxent.tasks import get_task
            >>> info = {"ce_bits": 0.5, "label_entropy_bits": 2.0, "uniform_bits": 3.0}
            >>> view = get_task("sequence").information_view(info, 4, 600.0)
            >>> [view[k] for k in ("cross_entropy_bits_per_sequence", "bits_saved_per_sequence",
            ...                    "compression_factor", "uniform_input_bits_per_symbol",
            ...                    "uniform_input_bits_per_sequence")]
            [0.5, 1.5, 4.0, 2.0, 1200.0]
        """
        unit = "residue" if self.per_residue else "sequence"
        ce, entropy = info["ce_bits"], info["label_entropy_bits"]
        symbol_bits = float(np.log2(n_symbols))
        known = ce is not None and entropy is not None  # classification_metrics writes nan as None
        view = {"unit": unit, f"cross_entropy_bits_per_{unit}": ce, "label_entropy_bits": entropy,
                "uniform_label_code_bits": info["uniform_bits"],
                f"bits_saved_per_{unit}": entropy - ce if known else None,
                "label_entropy_explained": 1.0 - ce / entropy if known and entropy else None,
                "compression_factor": entropy / ce if known and ce else None,
                "uniform_input_bits_per_symbol": symbol_bits}
        if not self.per_residue:
            view.update(mean_length=float(mean_length),
                        uniform_input_bits_per_sequence=float(mean_length) * symbol_bits)
        renamed = {"ce_bits", "uniform_bits", "information_gain_bits"}  # shown above under clearer names
        return {**view, **{key: value for key, value in info.items() if key not in view and key not in renamed}}


def _calibration(probs: np.ndarray, target: np.ndarray, n_bins: int) -> dict:
    return {"ece": calibration_error(probs, target, n_bins),
            "ece_mass": calibration_error(probs, target, n_bins, binning="mass"),
            "mce": calibration_error(probs, target, n_bins, norm="max"),
            "nll": metrics.log_loss(probs, target), "brier": metrics.brier_score(probs, target)}


def bootstrapped(funcs: dict, probs: np.ndarray, target: np.ndarray, n_boot: int, seed: int) -> dict:
    """``{name: {"value", "ci95"}}`` of metric functions ``f(probs, target, validate_args=...)``, over records."""
    out = {}
    for name, func in funcs.items():
        fast = lambda p, t, f=func: f(p, t, validate_args=False)  # noqa: E731 (inputs checked once below)
        ci = bootstrap.bootstrap_metric(fast, probs, target, n_boot=n_boot, seed=seed)
        out[name] = {"value": func(probs, target), "ci95": ci}
    return out


def minority_recall(per_class: dict, train_counts, classes: list[str], fraction: float = 0.25) -> dict:
    """Mean recall of the rarest classes: the ``ceil(fraction · K)`` classes with the fewest training items.

    Ties in the training count keep the class order. Classes absent from the evaluated split (recall None)
    are left out of the mean; None when none is left. For a binary task this is the minority class's recall.

    Args:
        per_class: ``{class: {"recall": ..., ...}}`` as in ``metrics.json``.
        train_counts: ``(K,)`` training items per class, in the order of ``classes``.
        classes: class names.
        fraction: share of the classes that counts as the minority (0.25: the rarest quartile).

    Returns:
        ``{"fraction", "classes", "train_counts", "recall"}``.

    Example:
        >>> per_class = {"a": {"recall": 1.0}, "b": {"recall": 0.5}, "c": {"recall": None}, "d": {"recall": 0.8}}
        >>> minority_recall(per_class, [50, 3, 2, 40], ["a", "b", "c", "d"], fraction=0.5)["recall"]
        0.5
    """
    counts = np.asarray(train_counts)
    n_minority = int(np.ceil(fraction * len(classes)))
    rarest = [classes[i] for i in np.argsort(counts, kind="stable")[:n_minority]]
    recalls = [per_class[name]["recall"] for name in rarest if per_class[name].get("recall") is not None]
    return {"fraction": fraction, "classes": rarest, "train_counts": [int(counts[classes.index(c)]) for c in rarest],
            "recall": float(np.mean(recalls)) if recalls else None}
