r"""Score held-out (novel) classes against the test split: does the model notice what it has never seen?

Needs a data set prepared with --novel-classes (the records of held-out classes have split `novel`) and a
calibrated sequence-task checkpoint. For each novelty score (energy, msp, nll, and kmer_distance for DNA
models with a k-mer reference) and temperature it reports
AUROC, AUPR and FPR at 95 % TPR (novel records are the positives) and, at the abstain threshold chosen on
the validation split for the target in-distribution recall, the share of test records that keep their label
(test recall) and the share of novel records wrongly given a known label (over-classification). The
temperature `cal` is the fitted one, as used by `seqxent predict`. Example:

  seqxent ood --model results/coi_species/model.pt --dataset results/coi_species/dataset.tsv.gz \
      --output results/coi_species/ood.json --temperatures 1 2 5
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch

from seqxent.calibrate.novelty import ALL_SCORES, AbstainRule, fit_abstain_rule
from seqxent.calibrate.reference import KmerReference
from seqxent.data.dataset import NOVEL, read_dataset
from seqxent.data.io import atomic_write
from seqxent.errors import InputError
from seqxent.evaluate.split import split_predictions
from seqxent.model.checkpoint import Checkpoint, load_checkpoint
from seqxent.model.engine import predict_logits, select_device
from seqxent.ood.evaluate import NoveltyInputs, evaluate_novelty
from seqxent.tasks import get_task

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``seqxent ood``."""
    parser.add_argument("--model", required=True, help="calibrated checkpoint (model.pt) of a sequence task")
    parser.add_argument("--dataset", type=Path, required=True,
                        help="dataset.tsv.gz prepared with --novel-classes (split 'novel')")
    parser.add_argument("--output", type=Path, required=True, help="ood.json to write")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0, 2.0, 5.0],
                        help="temperatures to score at, besides the fitted one")
    parser.add_argument("--score", choices=ALL_SCORES,
                        help="score of the abstain rule (default: the checkpoint's, from `seqxent calibrate`)")
    parser.add_argument("--recall", type=float,
                        help="target in-distribution recall of the thresholds (default: the checkpoint's)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, default=2)


def run(args: argparse.Namespace) -> None:
    """Score valid, test and novel records and write ood.json."""
    torch.set_num_threads(args.threads)
    device = select_device(args.device)
    ckpt = load_checkpoint(args.model, device)
    task = get_task(ckpt.task)
    if not task.novelty:
        raise InputError(f"{args.model}: Expected a sequence-task model, but got a {ckpt.task} model")
    data = read_dataset(args.dataset)
    novel_rows = data.table[data.table["split"] == NOVEL]
    if novel_rows.empty:
        raise InputError(f"{args.dataset}: no records with split {NOVEL!r}; prepare it with --novel-classes")
    valid = split_predictions(ckpt, data, "valid", args.batch_size, device)
    test = split_predictions(ckpt, data, "test", args.batch_size, device)
    examples = task.encode(novel_rows["id"].tolist(), novel_rows["sequence"].tolist(), None, ckpt.alphabet,
                           ckpt.classes)
    novel = np.stack(predict_logits(ckpt.model, examples, ckpt.alphabet, args.batch_size, device=device))
    reference = KmerReference.from_meta(ckpt.meta)
    distances = None if reference is None else tuple(
        reference.distance(rows["sequence"].tolist()) for rows in (valid.rows, test.rows, novel_rows))
    rule = _abstain_rule(ckpt, valid.logits, args.score, args.recall, distances)
    try:
        result = evaluate_novelty(NoveltyInputs(valid.logits, test.logits, test.target, novel, distances), rule,
                                  args.temperatures)
    except ValueError as err:
        raise InputError(f"{args.dataset}: {err}") from None
    result = {"novel_classes": sorted(set(novel_rows["label"])), **result}
    with atomic_write(args.output) as handle:
        json.dump(result, handle, indent=2, allow_nan=False)
    log.info("%s: %d novel vs %d test records; %s AUROC %.3f; at %.0f %% target recall: test recall %.3f, "
             "over-classification %.3f; best %s (AUROC %.3f)", data.name, result["n_novel"], result["n_test"],
             rule.score, result["auroc"], 100 * rule.recall, result["test_recall"], result["over_classification"],
             result["best"], result["best_auroc"])


def _abstain_rule(ckpt: Checkpoint, valid_logits: np.ndarray, score: str | None, recall: float | None,
                  distances: tuple | None) -> AbstainRule:
    """The checkpoint's abstain rule, or one fitted on the validation logits when asked for another."""
    stored = AbstainRule.from_meta(ckpt.meta)
    if stored is None:
        log.warning("the checkpoint has no abstain rule (run `seqxent calibrate`); fitting one here")
    wanted_score = score or (stored.score if stored else "energy")
    wanted_recall = recall if recall is not None else (stored.recall if stored else 0.95)
    if stored is not None and (stored.score, stored.recall) == (wanted_score, wanted_recall):
        return stored
    try:
        return fit_abstain_rule(valid_logits, ckpt.temperature, wanted_score, wanted_recall,
                                None if distances is None else distances[0])
    except ValueError as err:
        raise InputError(str(err)) from None
