r"""Evaluate a model on a split of a prepared data set.

Writes metrics.json (headline metrics with 95 % bootstrap intervals, per-class scores, confusion matrix,
calibration before/after temperature scaling, information in bits, baselines side by side, split summary,
training summary and provenance), per-record predictions, and plots. With --ood it adds the novel-class
results of `seqxent ood`; with --decisions the expected cost of cost-sensitive (Bayes) decisions. Example:

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
import yaml

from seqxent import tools
from seqxent.data.dataset import read_dataset
from seqxent.data.io import atomic_write, write_table
from seqxent.data.labels import THRESHOLD
from seqxent.errors import InputError
from seqxent.evaluate.decisions import decision_summary
from seqxent.evaluate.identity import nearest_identity
from seqxent.evaluate.provenance import collect_provenance
from seqxent.evaluate.split import split_predictions, write_plots
from seqxent.model.checkpoint import load_checkpoint
from seqxent.model.engine import select_device
from seqxent.tasks import get_task

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``seqxent evaluate``."""
    parser.add_argument("--model", required=True, help="calibrated checkpoint (model.pt)")
    parser.add_argument("--dataset", type=Path, required=True, help="dataset.tsv.gz from `seqxent prepare`")
    parser.add_argument("--split", default="test", choices=["valid", "test", "novel"],
                        help="novel: the taxa held out by `prepare --novel-classes` (lineage models: "
                             "leave-clade-out, scored by the over-classification of the held-out rank)")
    parser.add_argument("--output", type=Path, required=True, help="metrics.json to write")
    parser.add_argument("--predictions", type=Path, help="per-record predictions TSV[.gz] to write")
    parser.add_argument("--plots-dir", type=Path, help="folder for confusion, reliability, learning-curve PNGs")
    parser.add_argument("--history", type=Path, help="history.tsv of training (learning curves)")
    parser.add_argument("--baselines", type=Path, nargs="*", default=[], help="baseline JSON files to include")
    parser.add_argument("--summary", type=Path, help="split_summary.json of `seqxent prepare`")
    parser.add_argument("--data-files", type=Path, nargs="*", default=[], help="input files to checksum")
    parser.add_argument("--n-bins", type=int, default=15, help="calibration bins")
    parser.add_argument("--ood", type=Path, help="ood.json of `seqxent ood`, copied into metrics.json")
    parser.add_argument("--decisions", metavar="JSON_OR_FILE",
                        help="cost-sensitive decisions: a JSON object (or a JSON/YAML file) with `cost_matrix` "
                             "(rows: called class, columns: true class) or `fn_cost`/`fp_cost` (class -> cost); "
                             "reports the expected cost of the Bayes action vs the arg-max")
    parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates for the intervals")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threshold", type=float, default=THRESHOLD,
                        help="multilabel models: probability at which a label counts as predicted (default 0.5)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="where the model runs (auto: CUDA when available)")
    parser.add_argument("--timings", type=Path,
                        help="JSON of the wall-clock values (training and baseline seconds, time of the run), kept "
                             "out of metrics.json so that a rerun gives identical bytes (default: timings.json "
                             "beside --output)")


def split_timings(result: dict) -> dict:
    """Move the wall-clock values out of a metrics.json dict and return them as their own dict.

    What is left in ``result`` is the same on every rerun of the same inputs and seeds; the report shows the
    timings next to it. Keys: ``created`` (time of the run), ``training.seconds``, ``baselines.<name>.seconds``.

    Example:
        >>> result = {"training": {"seconds": 4.2, "epochs_run": 3}, "baselines": {"majority": {"seconds": 0.1}},
        ...           "provenance": {"created": "2026-01-01T00:00:00+00:00"}}
        >>> timings = split_timings(result)
        >>> timings["created"], timings["training"], timings["baselines"]
        ('2026-01-01T00:00:00+00:00', {'seconds': 4.2}, {'majority': {'seconds': 0.1}})
        >>> result
        {'training': {'epochs_run': 3}, 'baselines': {'majority': {}}, 'provenance': {}}
    """
    baselines = {name: {"seconds": entry.pop("seconds", None)}
                 for name, entry in result.get("baselines", {}).items() if isinstance(entry, dict)}
    return {"created": result.get("provenance", {}).pop("created", None),
            "training": {"seconds": result.get("training", {}).pop("seconds", None)}, "baselines": baselines}


def run(args: argparse.Namespace) -> None:
    """Evaluate, then write metrics.json, timings.json, predictions and plots."""
    torch.set_num_threads(args.threads)
    device = select_device(args.device)
    ckpt = load_checkpoint(args.model, device)
    task = get_task(ckpt.task)
    data = read_dataset(args.dataset)
    preds = split_predictions(ckpt, data, args.split, device=device)
    result = {"dataset": data.name, "task": data.task, "split": args.split, "label_column": data.label_column,
              "classes": ckpt.classes, "n_records": len(preds.rows), "n_items": int(preds.target.size)}
    train_counts = task.class_counts(data, ckpt.classes)
    result.update(task.evaluate(ckpt, preds, args.n_bins, args.bootstrap, args.seed, args.threshold, train_counts))
    if task.lineages:  # TAXXI: the rates by identity to the closest training sequence (vsearch)
        result["rates_by_identity"] = _rates_by_identity(task, ckpt, data, preds, args)
    if args.decisions:
        result["decisions"] = _decisions(args.decisions, ckpt, preds)
    if args.ood:
        result["ood"] = json.loads(args.ood.read_text())
    result["baselines"] = {b.stem: json.loads(b.read_text()) for b in args.baselines}
    if args.summary:
        result["split_summary"] = json.loads(args.summary.read_text())
    meta = ckpt.meta
    result["training"] = {k: meta.get(k) for k in ("epochs_run", "best_epoch", "seconds", "parameters",
                                                    "best_valid_ce")}
    result["training"].update(architecture=ckpt.architecture, **ckpt.hparams)
    if meta.get("members"):  # an ensemble: each member's seed, best epoch and validation cross-entropy
        result["training"]["members"] = meta["members"]
    seeds = {"train": meta.get("train_config", {}).get("seed"), "evaluate": args.seed,
             "split": (result.get("split_summary") or {}).get("seed")}
    result["provenance"] = collect_provenance(data_files=args.data_files, seeds=seeds,
                                              config=meta.get("train_config"), argv=sys.argv)
    timings = split_timings(result)
    if args.predictions:
        write_table(pd.DataFrame(task.prediction_table(ckpt, preds, args.threshold)), args.predictions)
    if args.plots_dir:
        history = pd.read_csv(args.history, sep="\t") if args.history else None
        write_plots(result, history, args.plots_dir)
    with atomic_write(args.output) as handle:
        json.dump(result, handle, indent=2, sort_keys=False, allow_nan=False, default=_json_default)
    with atomic_write(args.timings or args.output.with_name("timings.json")) as handle:
        json.dump(timings, handle, indent=2, allow_nan=False, default=_json_default)
    head = result["headline"]
    log.info("%s %s: %s", data.name, args.split,
             ", ".join(f"{k} {v['value']:.4f} [{v['ci95'][0]:.4f}, {v['ci95'][1]:.4f}]" for k, v in head.items()))


def _rates_by_identity(task, ckpt, data, preds, args: argparse.Namespace) -> dict:
    """The lineage rates per identity bin, or ``{"not_run": reason}`` without vsearch."""
    if not tools.is_installed("vsearch"):
        log.warning(tools.skip_message("vsearch", "the rates by identity (TAXXI's bins) are not computed"))
        return {"not_run": tools.not_run_reason("vsearch")}
    identity = nearest_identity(data.split("train")["sequence"].tolist(), preds.rows["sequence"].tolist(),
                                args.threads)
    return task.rates_by_identity(ckpt, preds, identity, n_boot=args.bootstrap, seed=args.seed)


def _decisions(spec: str, ckpt, preds) -> dict:
    """The cost setting and the expected cost of the Bayes action vs the arg-max on the evaluated split."""
    text = spec if spec.lstrip().startswith("{") else Path(spec).read_text()
    try:
        config = yaml.safe_load(text)  # JSON is YAML
    except yaml.YAMLError as err:
        raise InputError(f"--decisions: Expected a JSON or YAML mapping, but got: {err}") from None
    task = get_task(ckpt.task)
    if not isinstance(config, dict) or not task.decisions:
        raise InputError(f"--decisions: Expected a mapping for a single-label model, but got {config!r} for a "
                         f"{ckpt.task} model")
    try:
        summary = decision_summary(task.probs(preds.logits, ckpt.temperature), preds.target, ckpt.classes, config)
    except ValueError as err:
        raise InputError(f"--decisions: {err}") from None
    return {**summary, **config}


def _json_default(value):
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
