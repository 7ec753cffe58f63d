r"""Fit the softmax temperature of a trained model on the validation split (temperature scaling).

The temperature T minimises the validation negative log-likelihood of softmax(logits / T); it is stored in
the new checkpoint and applied by `seqxent predict` and `seqxent evaluate`. Example:

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
from seqxent.evaluate import split_predictions
from seqxent.inference import softmax

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``seqxent calibrate``."""
    parser.add_argument("--model", required=True, help="uncalibrated checkpoint (model_raw.pt)")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset.tsv.gz (its valid split is used)")
    parser.add_argument("--output", type=Path, required=True, help="calibrated checkpoint to write (model.pt)")
    parser.add_argument("--threads", type=int, default=2)


def run(args: argparse.Namespace) -> None:
    """Fit T on the validation split and write the calibrated checkpoint."""
    torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.model)
    preds = split_predictions(ckpt, read_dataset(args.dataset), "valid")
    temperature = fit_temperature(torch.from_numpy(preds.logits), torch.from_numpy(preds.target))
    nll = {name: metrics.log_loss(softmax(preds.logits, t), preds.target)
           for name, t in (("valid_nll_before", 1.0), ("valid_nll_after", temperature))}
    log.info("temperature %.4f: validation NLL %.4f -> %.4f nats", temperature, *nll.values())
    ckpt.temperature = temperature
    ckpt.meta["calibration"] = {"temperature": temperature, **nll}
    save_checkpoint(ckpt, args.output)
