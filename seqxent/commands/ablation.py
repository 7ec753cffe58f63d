r"""Summarise an ablation of the loss variants: mean ± sd over seeds of accuracy, NLL, ECE, minority recall.

Reads the metrics.json of every run (paths .../<variant>/seed<N>/metrics.json, as the workflow's ablation
rules write them), times each run's model.pt on the test split of --dataset (one CPU thread), and writes a
TSV with one row per variant (<metric>_mean, <metric>_sd), a JSON document that `seqxent report` renders
(display table, means, sds, the settings that differ between variants, teacher vs student, every run) and
an optional figure. Example:

  seqxent ablation results/ablation/*/seed*/metrics.json --dataset results/coi_species/dataset.tsv.gz \
      --output results/ablation/ablation.tsv --json results/ablation/ablation.json \
      --plot results/ablation/plots/ablation.png
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pandas as pd

from seqxent.ablation.summary import ablation_document, plot_ablation, read_run, summarise
from seqxent.data.dataset import read_dataset
from seqxent.data.io import atomic_write, write_table
from seqxent.errors import InputError
from seqxent.tasks import get_task

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``seqxent ablation``."""
    parser.add_argument("metrics", type=Path, nargs="+", metavar="METRICS",
                        help="metrics.json of each run, as .../<variant>/seed<N>/metrics.json")
    parser.add_argument("--dataset", type=Path, help="prepared data set whose test split times every model")
    parser.add_argument("--output", type=Path, required=True, help="TSV to write: one row per variant")
    parser.add_argument("--json", type=Path, required=True, help="ablation.json to write (rendered by the report)")
    parser.add_argument("--plot", type=Path, help="PNG to write: bar charts of the main scores")


def run(args: argparse.Namespace) -> None:
    """Read the runs, summarise them, write TSV, JSON and plot."""
    examples = None
    if args.dataset:
        data = read_dataset(args.dataset)
        rows = data.split("test")
        examples = get_task(data.task).encode(rows["id"].tolist(), rows["sequence"].tolist(), None, data.alphabet, [])
    runs = pd.DataFrame([read_run(path, examples) for path in args.metrics])
    duplicated = runs[runs.duplicated(["variant", "seed"])]
    if not duplicated.empty:
        raise InputError(f"Expected one metrics.json per variant and seed, but got {len(duplicated)} repeated: "
                         f"{duplicated[['variant', 'seed']].values.tolist()}")
    summary = summarise(runs)
    write_table(summary, args.output)
    document = ablation_document(runs, summary)
    with atomic_write(args.json) as handle:
        json.dump(document, handle, indent=2, allow_nan=False)
    if args.plot:
        plot_ablation(summary, args.plot)
    for variant, row in document["summary"]["Accuracy"].items():
        log.info("%s: accuracy %s, ECE after T %s", variant, row, document["summary"]["ECE after T"][variant])
