r"""Train a CNN on the train split of a prepared data set; early-stop on validation cross-entropy.

Writes the best checkpoint (alphabet, classes, hyperparameters and training config inside) and the
per-epoch history. With --state, a killed run started again with the same command resumes after its last
finished epoch and ends with the same weights as an uninterrupted run. Example:

  seqxent train --dataset results/ss3/dataset.tsv.gz --output results/ss3/model_raw.pt \
      --history results/ss3/history.tsv --jsd-lambda 0.1 --epochs 10
"""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from seqxent.data.dataset import read_dataset
from seqxent.data.io import write_table
from seqxent.model.checkpoint import save_checkpoint
from seqxent.model.losses import LOSS_KINDS, WEIGHTING_SCHEMES
from seqxent.train.config import DEVICES, KMER_INITS, LINEAGE_HEADS, TrainConfig
from seqxent.train.loop import train_model

# The choices of the settings that have them, from where they are checked (the config schema states them too:
# tests/train/test_config_defaults.py checks the copies agree).
CHOICES = {"device": list(DEVICES), "loss": list(LOSS_KINDS), "class_weighting": list(WEIGHTING_SCHEMES),
           "kmer_init": list(KMER_INITS), "lineage_head": list(LINEAGE_HEADS)}
HELP = {"max_tokens": "cap on padded positions per batch (0 = no cap)",
        "max_length": "random crops of this length in training (0 = whole sequences)",
        "fragment_prob": "probability that a training example is cut to a random fragment (partial reads)",
        "fragment_min": "shortest random fragment, in positions",
        "noise_rate": "per-position substitution rate in training (random token, or N/X one time in four)",
        "ema_decay": "exponential moving average of the weights, used for validation and saved (0 = off)",
        "ensemble": "train this many networks (seeds seed, seed+1, ...) and average their probabilities",
        "lineage_head": "lineage tasks: one softmax head per rank, or one softmax over the training lineages "
                        "summed up the tree into every rank",
        "kmer_c": "inverse regularisation strength C of the logistic regression that kmer_init logreg fits",
        "jsd_lambda": "weight of the adjacent-residue Jensen-Shannon penalty (0 disables it)",
        "class_weighting": "class weights of the cross-entropy", "loss": "ce or focal",
        "focal_alpha": "focal alpha of the positive (second) class of a binary task; 0 = no alpha",
        "effective_beta": "beta of class_weighting effective (effective number of samples)",
        "pos_weight": "weight of the positive (second) class of a binary task; 0 = none",
        "label_smoothing": "target mass spread uniformly over the classes",
        "mixup_alpha": "Beta(alpha, alpha) mixup of inputs and targets (sequence tasks); 0 = off",
        "teacher": "checkpoint of a teacher to distil from (empty = no distillation)",
        "distill_alpha": "weight a of the distillation term (1 - a)*CE + a*T^2*KL",
        "distill_temperature": "temperature T of the distillation term"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``seqxent train``: the data set, outputs, and one flag per :class:`TrainConfig` field."""
    parser.add_argument("--dataset", type=Path, required=True, help="dataset.tsv.gz from `seqxent prepare`")
    parser.add_argument("--output", type=Path, required=True, help="checkpoint to write (model_raw.pt)")
    parser.add_argument("--history", type=Path, help="per-epoch history TSV to write")
    parser.add_argument("--state", type=Path, help="resumable training state, written after every epoch and "
                        "resumed from when it exists (same settings and data); removed after success")
    for f in fields(TrainConfig):
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default,
                            choices=CHOICES.get(f.name), help=HELP.get(f.name, f"default {f.default}"))


def run(args: argparse.Namespace) -> None:
    """Train and write the checkpoint and history."""
    cfg = TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})
    ckpt, history = train_model(read_dataset(args.dataset), cfg, args.state)
    save_checkpoint(ckpt, args.output)
    if args.history:
        write_table(history, args.history)
    if args.state:  # finished: a later run with the same settings trains again (ensembles clear their members')
        args.state.unlink(missing_ok=True)
