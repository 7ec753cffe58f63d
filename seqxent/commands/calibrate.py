r"""Fit the softmax temperature of a trained model on the validation split (temperature scaling).

The temperature T minimises the validation negative log-likelihood of softmax(logits / T) (plus, by
default, a weak normal prior on log T centred at T = 1: --temperature-prior-sd); it is stored in
the new checkpoint and applied by `seqxent predict` and `seqxent evaluate` (multilabel models: one T for
all sigmoids, minimising the summed binary cross-entropy). For sequence tasks it also
chooses the abstain threshold: the novelty score (--ood-score) above which `seqxent predict` labels a record
`unassigned`, set so that a share --ood-recall of the validation records keeps its label. DNA sequence
models also keep their (deduplicated) training sequences, so that prediction can score how far a query is
from anything the model was trained on (`kmer_distance`, --reference-k; seqxent/calibrate/reference.py). Example:

  seqxent calibrate --model results/ss3/model_raw.pt --dataset results/ss3/dataset.tsv.gz \
      --output results/ss3/model.pt
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from seqxent.calibrate.nearest import HEAD_ALONE, NOVEL_SHARE, REFERENCE_TOP, VoteProblem, clade_out, fit_votes
from seqxent.calibrate.novelty import ALL_SCORES, REFERENCE_SCORE, fit_abstain_rule
from seqxent.calibrate.reference import DEFAULT_K, KmerReference
from seqxent.calibrate.temperature import DEFAULT_PRIOR_SD, check_prior_sd, fit_temperature, temperature_nll
from seqxent.data.dataset import PreparedData, read_dataset
from seqxent.errors import InputError
from seqxent.evaluate.split import split_predictions
from seqxent.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from seqxent.model.engine import select_device
from seqxent.tasks import get_task
from seqxent.tasks.lineage import MAX_MISCLASSIFICATION

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``seqxent calibrate``."""
    parser.add_argument("--model", required=True, help="uncalibrated checkpoint (model_raw.pt)")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset.tsv.gz (its valid split is used)")
    parser.add_argument("--output", type=Path, required=True, help="calibrated checkpoint to write (model.pt)")
    parser.add_argument("--temperature-prior-sd", type=float, default=DEFAULT_PRIOR_SD,
                        help="standard deviation of a normal prior on log T centred at T = 1 (0: plain "
                             "maximum-likelihood fit); keeps a few dozen validation records that the model gets "
                             "all right from driving T to its sharpest bound, and hardly matters on thousands")
    parser.add_argument("--ood-score", choices=ALL_SCORES, default="energy",
                        help="novelty score of the abstain rule (sequence tasks): energy -T*logsumexp(z/T), "
                             "msp 1 - max probability, nll -log max probability, or kmer_distance (DNA: share "
                             "of the query's k-mers that its closest training record lacks)")
    parser.add_argument("--reference-k", type=int, default=DEFAULT_K,
                        help="DNA sequence tasks: k of the k-mer reference stored with the model (0: none)")
    parser.add_argument("--reference-scaled", type=int, default=0,
                        help="keep one k-mer in N of the reference and queries (0: 1 up to 2,000 training "
                             "sequences, more for larger references)")
    parser.add_argument("--reference-top", type=int, default=REFERENCE_TOP,
                        help="lineage models: how many closest reference sequences vote at each rank")
    parser.add_argument("--novel-share", type=float, default=NOVEL_SHARE,
                        help="lineage models: share of the votes' fit given to simulated queries of taxa absent "
                             "from training (each validation record again, its own taxon removed), per rank")
    parser.add_argument("--ood-recall", type=float, default=0.95,
                        help="share of validation records that keep their label; the rest score as novel")
    parser.add_argument("--max-misclassification", type=float, default=MAX_MISCLASSIFICATION,
                        help="lineage models: the default cut-off of their calls is the lowest whose validation "
                             "misclassification rate at the label rank is at most this (IDTAXA's definition)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="where the model runs (auto: CUDA when available)")


def run(args: argparse.Namespace) -> None:
    """Fit T on the validation split and write the calibrated checkpoint."""
    prior_sd = args.temperature_prior_sd
    try:  # before the model runs, so a bad flag fails at once
        check_prior_sd(prior_sd)
    except ValueError as err:
        raise InputError(f"--temperature-prior-sd: {err}") from None
    if args.reference_top < 1:
        raise InputError(f"Expected --reference-top to be at least 1, but got {args.reference_top}")
    if not 0 <= args.novel_share < 1:
        raise InputError(f"Expected --novel-share to be in [0, 1), but got {args.novel_share}")
    torch.set_num_threads(args.threads)
    device = select_device(args.device)
    ckpt = load_checkpoint(args.model, device)
    data = read_dataset(args.dataset)
    preds = split_predictions(ckpt, data, "valid", device=device)
    task = get_task(ckpt.task)
    _fit_temperatures(ckpt, task, preds, prior_sd)
    if task.novelty or task.nearest_reference:  # for DNA the k-mer reference
        reference = _add_reference(ckpt, data, args.reference_k, args.reference_scaled)
        if reference is not None and task.nearest_reference:  # sets preds.nearest, with the closest sequences
            _fit_nearest(ckpt, task, data, preds, reference, args.reference_top, args.novel_share)
        elif reference is not None:
            preds.nearest = reference.nearest(preds.rows["sequence"].tolist())
    if task.lineages:  # the default cut-off of the lineage calls
        chosen = task.choose_cutoff(ckpt, preds, args.max_misclassification)
        ckpt.meta["calibration"]["cutoff"] = chosen
        log.info("cut-off %.2f: validation %s misclassification %s, underclassification %s", chosen["cutoff"],
                 chosen["rank"], chosen["misclassification_rate"], chosen["underclassification_rate"])
    if task.novelty:  # an abstain rule
        _fit_abstain_rule(ckpt, preds, args)
    save_checkpoint(ckpt, args.output)


def _fit_temperatures(ckpt: Checkpoint, task, preds, prior_sd: float) -> None:
    """Fit and keep the temperature(s) and their validation NLLs.

    One temperature for the task's output activation (softmax, or all sigmoids at once: summed BCE), or one per
    problem the task names (lineage models: one per rank).
    """
    temperatures, fits = {}, {}
    for name, (logits, target) in task.temperature_problems(ckpt, preds).items():
        logits, target = torch.from_numpy(logits), torch.from_numpy(target)
        if not len(target):  # e.g. a rank that no validation record names: left at T = 1
            temperatures[name], fits[name] = 1.0, {"temperature": 1.0, "n": 0}
            continue
        temperatures[name] = fit_temperature(logits, target, prior_sd=prior_sd, activation=task.activation)
        fits[name] = {"temperature": temperatures[name], "n": len(target),
                      **{key: temperature_nll(logits, target, t, activation=task.activation)
                         for key, t in (("valid_nll_before", 1.0), ("valid_nll_after", temperatures[name]))}}
        log.info("temperature %s %.4f: validation NLL %.4f -> %.4f nats", name, temperatures[name],
                 fits[name]["valid_nll_before"], fits[name]["valid_nll_after"])
    task.store_temperatures(ckpt, temperatures)
    if set(fits) == {"all"}:
        fit = fits["all"]
        ckpt.meta["calibration"] = {"temperature": fit["temperature"], "prior_sd": prior_sd,
                                    "valid_nll_before": fit["valid_nll_before"],
                                    "valid_nll_after": fit["valid_nll_after"]}
    else:
        ckpt.meta["calibration"] = {"prior_sd": prior_sd, "per_problem": fits}


def _fit_abstain_rule(ckpt: Checkpoint, preds, args: argparse.Namespace) -> None:
    """The novelty-score threshold above which a record is ``unassigned`` (sequence tasks)."""
    distance = preds.nearest[0] if preds.nearest is not None else None
    if args.ood_score == REFERENCE_SCORE and distance is None:
        raise InputError(f"{args.model}: Expected a DNA sequence model with --reference-k > 0 for "
                         f"--ood-score {REFERENCE_SCORE}, but got a {ckpt.alphabet.name} model with "
                         f"--reference-k {args.reference_k}")
    try:
        rule = fit_abstain_rule(preds.logits, ckpt.temperature, args.ood_score, args.ood_recall, distance)
    except ValueError as err:
        raise InputError(f"{args.dataset}: cannot choose the abstain threshold: {err}") from None
    ckpt.meta["ood"] = rule.to_meta()
    log.info("abstain when %s > %.4f (keeps %.1f %% of %d validation records)", rule.score, rule.threshold,
             100 * rule.recall, rule.n_valid)


def _add_reference(ckpt: Checkpoint, data: PreparedData, k: int, scaled: int) -> KmerReference | None:
    """Store the training sequences of a DNA model as its k-mer reference (None: not DNA, or ``k`` 0)."""
    ckpt.meta.pop("reference", None)
    if ckpt.alphabet.name != "dna" or k == 0:
        return None
    reference = KmerReference(data.split("train")["sequence"].tolist(), k, scaled)
    ckpt.meta["reference"] = reference.to_meta()
    log.info("k-mer reference: %d distinct training sequences, k %d, one k-mer in %d", len(reference),
             reference.k, reference.scaled)
    return reference


def _fit_nearest(ckpt: Checkpoint, task, data: PreparedData, preds, reference: KmerReference, top: int,
                 novel_share: float) -> None:
    """Fit, per rank, how the closest sequences' votes pool with the head (:mod:`seqxent.calibrate.nearest`)."""
    targets = task.reference_targets(ckpt, data, reference.sequences)
    preds.nearest = reference.nearest(preds.rows["sequence"].tolist(), top)
    params, fits = {}, {}
    for rank, args in task.vote_problems(ckpt, preds, targets).items():
        _, truth, closest, _, taxa = args
        problem = VoteProblem(*clade_out(*args, novel_share))
        params[rank] = fit_votes(problem)
        alpha, gamma, beta, eps, delta = params[rank]
        nll = {key: problem.nll(np.array([a, g, np.log(b), np.log(e), dd])) if len(problem) else None
               for key, (a, g, b, e, dd) in (("valid_nll_head", HEAD_ALONE), ("valid_nll_pooled", params[rank]))}
        closest_right = (taxa[np.maximum(closest[:, 0], 0)] == truth) & (closest[:, 0] >= 0)
        fits[rank] = {"alpha": alpha, "gamma": gamma, "beta": beta, "eps": eps, "delta": delta, "n": len(truth),
                      "n_novel": int((truth < 0).sum()), "novel_share": novel_share,
                      "closest_right": float(np.mean(closest_right)) if len(truth) else None, **nll}
        log.info("nearest reference, %s: p ∝ p_head^%.3f (q + %.2g)^(%.3f exp(%.2f d)), votes exp(%.1f Δs); closest "
                 "sequence right for %.3f of %d records, validation NLL %.4f -> %.4f", rank, alpha, eps, gamma, delta,
                 beta, fits[rank]["closest_right"] or 0.0, len(truth), nll["valid_nll_head"] or 0.0,
                 nll["valid_nll_pooled"] or 0.0)
    task.store_nearest(ckpt, targets, top, params)
    ckpt.meta["calibration"]["nearest"] = fits
