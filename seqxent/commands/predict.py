"""Predict every record of a FASTA[.gz] file with a trained or pretrained model.

MODEL is a checkpoint path (e.g. results/ss3/model.pt) or the name of a model shipped in the package
(`seqxent predict --list-models` lists them). Every input id appears in the output, predicted or with the
reason it was skipped. Probabilities are temperature-calibrated unless --uncalibrated is given. Examples:

  seqxent predict --model results/coi_species/model.pt --input my_barcodes.fasta --output calls.tsv
  seqxent predict --model ss3 --input proteins.fasta.gz --output proteins.ss2 --format ss2
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

import torch
from tqdm import tqdm

from seqxent.checkpoint import load_checkpoint, pretrained_models
from seqxent.errors import InputError
from seqxent.formats import FORMATS, get_writer
from seqxent.inference import select_device
from seqxent.io import atomic_write
from seqxent.predict import predict_fasta

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``seqxent predict``."""
    parser.add_argument("--model", help="checkpoint path or pretrained model name")
    parser.add_argument("--input", type=Path, help="FASTA or FASTA.gz")
    parser.add_argument("--output", type=Path, help="file to write (atomically)")
    parser.add_argument("--format", choices=sorted(FORMATS), default="tsv")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=200_000, help="cap on padded positions per batch")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0 = torch default)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--uncalibrated", action="store_true", help="raw softmax, ignoring the fitted temperature")
    parser.add_argument("--list-models", action="store_true", help="list the pretrained models and exit")


def run(args: argparse.Namespace) -> None:
    """Stream predictions from the input FASTA into the output file."""
    if args.list_models:
        for name, path in sorted(pretrained_models().items()):
            print(f"{name}\t{path}")
        return
    missing = [f"--{k}" for k in ("model", "input", "output") if getattr(args, k) is None]
    if missing:
        raise InputError(f"missing required argument(s): {', '.join(missing)}")
    if args.threads:
        torch.set_num_threads(args.threads)
    device = select_device(args.device)
    ckpt = load_checkpoint(args.model, device)
    writer = get_writer(args.format, ckpt.classes, ckpt.task)
    start, n, skipped = time.perf_counter(), 0, 0
    with atomic_write(args.output) as out:
        writer.begin(out)
        preds = predict_fasta(ckpt, args.input, batch_size=args.batch_size, max_tokens=args.max_tokens,
                              device=device, calibrated=not args.uncalibrated)
        for pred in tqdm(preds, unit="rec", disable=None, mininterval=2):
            writer.write(out, pred)
            n, skipped = n + 1, skipped + bool(pred.skipped)
        writer.end(out)
    seconds = time.perf_counter() - start
    log.info("%d records (%d skipped) in %.1f s: %.0f records/s", n, skipped, seconds, n / max(seconds, 1e-9))
