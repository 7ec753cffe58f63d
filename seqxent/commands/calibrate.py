r"""Fit the softmax temperature of a trained model on the validation split (temperature scaling).

The temperature T minimises the validation negative log-likelihood of softmax(logits / T); it is stored in
the new checkpoint and applied by `seqxent predict` and `seqxent evaluate` (multilabel models: one T for
all sigmoids, minimising the summed binary cross-entropy). For sequence tasks it also
chooses the abstain threshold: the novelty score (--ood-score) above which `seqxent predict` labels a record
`unassigned`, set so that a share --ood-recall of the validation records keeps its label. Example:

  seqxent calibrate --model results/ss3/model_raw.pt --dataset results/ss3/dataset.tsv.gz \
      --output results/ss3/model.pt
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import torch

from seqxent import metrics
from seqxent.calibration import fit_temperature
from seqxent.checkpoint import load_checkpoint, save_checkpoint
from seqxent.dataset import read_dataset
from seqxent.errors import InputError
from seqxent.evaluate import split_predictions
from seqxent.inference import select_device, softmax
from seqxent.multilabel import calibrate_multilabel
from seqxent.novelty import SCORES, fit_abstain_rule

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``seqxent calibrate``."""
    parser.add_argument("--model", required=True, help="uncalibrated checkpoint (model_raw.pt)")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset.tsv.gz (its valid split is used)")
    parser.add_argument("--output", type=Path, required=True, help="calibrated checkpoint to write (model.pt)")
    parser.add_argument("--ood-score", choices=SCORES, default="energy",
                        help="novelty score of the abstain rule (sequence tasks): energy -T*logsumexp(z/T), "
                             "msp 1 - max probability, or nll -log max probability")
    parser.add_argument("--ood-recall", type=float, default=0.95,
                        help="share of validation records that keep their label; the rest score as novel")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="where the model runs (auto: CUDA when available)")


def run(args: argparse.Namespace) -> None:
    """Fit T on the validation split and write the calibrated checkpoint."""
    torch.set_num_threads(args.threads)
    device = select_device(args.device)
    ckpt = load_checkpoint(args.model, device)
    preds = split_predictions(ckpt, read_dataset(args.dataset), "valid", device=device)
    if ckpt.task == "multilabel":  # one temperature shared by all sigmoids, fitted on the summed BCE
        temperature, nll = calibrate_multilabel(preds.logits, preds.target)
    else:
        temperature = fit_temperature(torch.from_numpy(preds.logits), torch.from_numpy(preds.target))
        nll = {name: metrics.log_loss(softmax(preds.logits, t), preds.target)
               for name, t in (("valid_nll_before", 1.0), ("valid_nll_after", temperature))}
    log.info("temperature %.4f: validation NLL %.4f -> %.4f nats", temperature, *nll.values())
    ckpt.temperature = temperature
    ckpt.meta["calibration"] = {"temperature": temperature, **nll}
    if ckpt.task == "sequence":
        try:
            rule = fit_abstain_rule(preds.logits, temperature, args.ood_score, args.ood_recall)
        except ValueError as err:
            raise InputError(f"{args.dataset}: cannot choose the abstain threshold: {err}") from None
        ckpt.meta["ood"] = rule.to_meta()
        log.info("abstain when %s > %.4f (keeps %.1f %% of %d validation records)", rule.score, rule.threshold,
                 100 * rule.recall, rule.n_valid)
    save_checkpoint(ckpt, args.output)
