r"""Evaluate a model on a split of a prepared data set.

Writes metrics.json (headline metrics with 95 % bootstrap intervals, per-class scores, confusion matrix,
calibration before/after temperature scaling, information in bits, baselines side by side, split summary,
training summary and provenance), per-record predictions, and plots. Example:

  seqxent evaluate --model results/ss3/model.pt --dataset results/ss3/dataset.tsv.gz --split test \
      --output results/ss3/metrics.json --predictions results/ss3/test_predictions.tsv.gz \
      --plots-dir results/ss3/plots --history results/ss3/history.tsv
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import pandas as pd
import torch

from seqxent.checkpoint import load_checkpoint
from seqxent.dataset import read_dataset
from seqxent.evaluate import evaluate_split, prediction_table, split_predictions, write_plots
from seqxent.io import atomic_write, write_table
from seqxent.provenance import collect_provenance

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``seqxent evaluate``."""
    parser.add_argument("--model", required=True, help="calibrated checkpoint (model.pt)")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset.tsv.gz from `seqxent prepare`")
    parser.add_argument("--split", default="test", choices=["valid", "test"])
    parser.add_argument("--output", type=Path, required=True, help="metrics.json to write")
    parser.add_argument("--predictions", type=Path, help="per-record predictions TSV[.gz] to write")
    parser.add_argument("--plots-dir", type=Path, help="folder for confusion, reliability, learning-curve PNGs")
    parser.add_argument("--history", type=Path, help="history.tsv of training (learning curves)")
    parser.add_argument("--baselines", type=Path, nargs="*", default=[], help="baseline JSON files to include")
    parser.add_argument("--summary", type=Path, help="split_summary.json of `seqxent prepare`")
    parser.add_argument("--data-files", type=Path, nargs="*", default=[], help="input files to checksum")
    parser.add_argument("--n-bins", type=int, default=15, help="calibration bins")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates for the intervals")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)


def run(args: argparse.Namespace) -> None:
    """Evaluate, then write metrics.json, predictions and plots."""
    torch.set_num_threads(args.threads)
    ckpt = load_checkpoint(args.model)
    data = read_dataset(args.dataset)
    preds = split_predictions(ckpt, data, args.split)
    result = {"dataset": data.name, "task": data.task, "split": args.split, "label_column": data.label_column,
              "classes": ckpt.classes, "n_records": len(preds.rows), "n_items": int(preds.target.size)}
    result.update(evaluate_split(ckpt, preds, args.n_bins, args.bootstrap, args.seed))
    result["baselines"] = {b.stem: json.loads(b.read_text()) for b in args.baselines}
    if args.summary:
        result["split_summary"] = json.loads(args.summary.read_text())
    meta = ckpt.meta
    result["training"] = {k: meta.get(k) for k in ("epochs_run", "best_epoch", "seconds", "parameters",
                                                    "best_valid_ce")}
    result["training"].update(architecture=ckpt.architecture, **ckpt.hparams)
    seeds = {"train": meta.get("train_config", {}).get("seed"), "evaluate": args.seed,
             "split": (result.get("split_summary") or {}).get("seed")}
    result["provenance"] = collect_provenance(data_files=args.data_files, seeds=seeds,
                                              config=meta.get("train_config"), argv=sys.argv)
    if args.predictions:
        write_table(prediction_table(ckpt, preds), args.predictions)
    if args.plots_dir:
        history = pd.read_csv(args.history, sep="\t") if args.history else None
        write_plots(result, history, args.plots_dir)
    with atomic_write(args.output) as handle:
        json.dump(result, handle, indent=2, sort_keys=False, allow_nan=False, default=_json_default)
    head = result["headline"]
    log.info("%s %s: %s", data.name, args.split,
             ", ".join(f"{k} {v['value']:.4f} [{v['ci95'][0]:.4f}, {v['ci95'][1]:.4f}]" for k, v in head.items()))


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
