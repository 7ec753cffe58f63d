r"""Run a baseline or a peer tool on a prepared data set: train on the train split, score the test split.

Built-in baselines: k-mer multinomial logistic regression (the classic cross-entropy linear model), k-mer
nearest neighbour, majority class, and a label lookup through another column (e.g. species → most common
country). Peer tools (when installed): vsearch SINTAX, BLAST top hit, RDP classifier. Multilabel data sets
run the built-in baselines on whole label sets as classes (label powerset), scored label by label. A peer
whose tool is not installed stops with a one-line error (exit status 2); with --missing-tool skip (what the
workflow passes) it writes a result saying "not run: <tool> not installed", shown in the report.

On a lineage data set (task lineage) the flat scores compare at the label rank (e.g. genus); the peers sintax,
rdp, qiime_nb and blastn are also retrained on the whole lineages and scored rank by rank with the lineage
model's definitions (seqxent.metrics.taxonomy): `per_rank` {rank: forced accuracy with its bootstrap interval,
accuracy on known taxa, IDTAXA rates at the peer's usual `cutoff`}, and `lineage` (ranks, seconds, unclassified
queries). --predictions writes the peer's calls per record. Example:

  seqxent baseline --dataset results/coi_species/dataset.tsv.gz --method sintax \
      --output results/coi_species/baselines/sintax.json
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from seqxent import tools
from seqxent.baseline.lineage_peers import LINEAGE_PEERS, run_lineage_peer
from seqxent.baseline.methods import METHODS, run_method
from seqxent.baseline.score import score_lineage_calls, score_powerset_baseline, score_result
from seqxent.data.dataset import read_dataset
from seqxent.data.io import atomic_write, write_table
from seqxent.errors import InputError
from seqxent.tasks import get_task

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``seqxent baseline``."""
    parser.add_argument("--dataset", type=Path, required=True, help="dataset.tsv.gz from `seqxent prepare`")
    parser.add_argument("--method", required=True, choices=METHODS)
    parser.add_argument("--output", type=Path, required=True, help="JSON to write")
    parser.add_argument("--k", type=int, default=None, help="k-mer length (k-mer methods)")
    parser.add_argument("--key-column", help="label_lookup: column mapped to the label (e.g. species)")
    parser.add_argument("--split", default="test", choices=["valid", "test", "novel"],
                        help="novel: the taxa held out by `prepare --novel-classes` (lineage data sets: "
                             "leave-clade-out, as `seqxent evaluate --split novel`)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--missing-tool", choices=["error", "skip"], default="error",
                        help="a peer whose tool is not installed: stop with an error (default), or write a "
                             "'not run' result and exit 0 (the workflow's choice)")
    parser.add_argument("--bootstrap", type=int, default=1000,
                        help="lineage data sets: bootstrap replicates of the per-rank intervals")
    parser.add_argument("--seed", type=int, default=1, help="lineage data sets: seed of the bootstrap")
    parser.add_argument("--predictions", type=Path,
                        help="lineage data sets: per-record calls TSV[.gz] of the lineage peer to write")


def not_run_result(method: str, split: str) -> dict:
    """The result of a peer whose tool is missing: the reason and how to install it, no scores.

    Example:
        >>> not_run_result("rdp", "test")["not_run"]
        'rdp-classifier not installed'
    """
    tool = tools.PEER_TOOLS[method]
    return {"method": method, "split": split, "not_run": tools.not_run_reason(tool), "tool": tool,
            "install": tools.TOOLS[tool].install}


def run(args: argparse.Namespace) -> None:
    """Train the method on the train split, predict the chosen split, and write its scores."""
    tool = tools.PEER_TOOLS.get(args.method)
    if tool is not None and not tools.is_installed(tool):
        if args.missing_tool == "error":
            tools.require(tool, f"method `{args.method}`")
        log.warning(tools.skip_message(tool, f"the {args.method} peer is not run"))
        with atomic_write(args.output) as handle:
            json.dump(not_run_result(args.method, args.split), handle, indent=2, sort_keys=True)
        return
    data = read_dataset(args.dataset)
    task = get_task(data.task)
    if task.baselines is None:  # the baselines label whole records
        raise InputError(f"{args.dataset}: baselines are for sequence tasks, but the task is {data.task!r}")
    train, query = data.split("train"), data.split(args.split)
    keys = {}
    if args.method == "label_lookup":
        if not args.key_column or args.key_column not in data.table.columns:
            raise InputError(f"Expected argument `--key-column` to name a column of {args.dataset} "
                             f"({list(data.table.columns)}), but got {args.key_column!r}")
        keys = {"train_keys": train[args.key_column].tolist(), "query_keys": query[args.key_column].tolist()}
    result = run_method(args.method, train["sequence"].tolist(), train["label"].tolist(), query["id"].tolist(),
                        query["sequence"].tolist(), k=args.k, threads=args.threads, **keys)
    if task.baselines == "powerset":  # label sets as classes (label powerset), scored label by label
        score = score_powerset_baseline(result, query["label"].tolist(), task.classes(data))
    else:
        score = score_result(result, query["label"].tolist())
    scores = {"method": args.method, "split": args.split, **score, "k": args.k, "key_column": args.key_column,
              "skipped": result.skipped}
    if task.lineages and args.method in LINEAGE_PEERS:
        scores.update(_score_lineages(args, data, train, query))
    log.info("%s on %s: %s (%.1f s)", args.method, data.name,
             ", ".join(f"{k} {scores[k]:.4f}" for k in ("accuracy", "subset_accuracy", "macro_f1") if k in scores),
             scores["seconds"])
    with atomic_write(args.output) as handle:
        json.dump(scores, handle, indent=2, sort_keys=True, default=float)


def _score_lineages(args: argparse.Namespace, data, train, query) -> dict:
    """The lineage peer of ``args.method`` on the whole lineages: ``per_rank``, ``cutoff`` and ``lineage``."""
    import pandas as pd  # loaded with the data set already

    ranks = list(data.ranks)
    calls = run_lineage_peer(args.method, train["sequence"].tolist(), train[ranks].to_numpy().tolist(), ranks,
                             query["id"].tolist(), query["sequence"].tolist(), threads=args.threads)
    if args.predictions:
        table = calls.table()  # id, then the true taxa, then the calls (LineageTask.prediction_table's layout)
        columns = {"id": table.pop("id"), **{rank: query[rank].tolist() for rank in ranks}, **table}
        write_table(pd.DataFrame(columns), args.predictions)
    score = score_lineage_calls(calls, train, query, args.bootstrap, args.seed)
    log.info("%s lineages on %s: %s (%.1f s)", args.method, data.name,
             ", ".join(f"{rank} {block['accuracy']['value']:.4f}" for rank, block in score["per_rank"].items()
                       if block["accuracy"]["value"] is not None), calls.seconds)
    return {**score, "lineage": {"ranks": ranks, "label_rank": data.label_column, "seconds": calls.seconds,
                                 "n_unclassified": len(calls.skipped), "skipped": calls.skipped,
                                 "bootstrap": args.bootstrap, "seed": args.seed}}
