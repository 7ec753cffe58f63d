r"""Read a data set (FASTA + label table, or one table), check every record, group and split it.

Writes the canonical table (every input record, with its label, group, split and — when excluded — the
reason) and a JSON summary of the split. Example:

  seqxent prepare --name coi_species --task sequence --alphabet dna \
      --fasta data/coi_bold.fasta.gz --labels data/coi_bold.tsv --label-column species --min-per-class 5 \
      --output results/coi_species/dataset.tsv.gz --summary results/coi_species/split_summary.json

A reference with lineages (SINTAX, QIIME 2, RDP, or a table with a column per rank) gives a column per rank;
the label is the name at the rank --label-column:

  seqxent prepare --name rdp_genus --task sequence --alphabet dna --reference-format rdp \
      --fasta data/rdp_trainset_sample.fasta.gz --taxonomy data/rdp_taxonomy.txt \
      --ranks domain phylum class order family genus --label-column genus \
      --output results/rdp_genus/dataset.tsv.gz --summary results/rdp_genus/split_summary.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from seqxent.data.dataset import write_dataset
from seqxent.data.io import atomic_write
from seqxent.data.labels import SEPARATOR
from seqxent.data.taxonomy import RANKS
from seqxent.prepare.build import SOURCES, PrepareConfig, prepare_dataset
from seqxent.tasks import TASKS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``seqxent prepare``."""
    parser.add_argument("--name", required=True, help="data set name (used in reports)")
    parser.add_argument("--task", required=True, choices=list(TASKS),
                        help="sequence: one label per record; residue: one per position; multilabel: a label set")
    parser.add_argument("--alphabet", required=True, choices=["dna", "protein"])
    src = parser.add_argument_group("input (either --fasta with --labels, or --table; or a --reference-format)")
    src.add_argument("--fasta", type=Path, help="FASTA[.gz] of the sequences (SINTAX and RDP: with the lineages)")
    src.add_argument("--labels", type=Path, help="TSV of labels, joined to the FASTA on --id-column "
                                                 "(qiime: the taxonomy TSV)")
    src.add_argument("--table", type=Path, help="TSV[.gz] holding sequences and labels")
    src.add_argument("--reference-format", choices=[name for name in SOURCES if name],
                     help="read lineages: sintax (--fasta), qiime (--fasta, --labels), rdp (--fasta, --taxonomy), "
                          "table (a column per rank, as --table or --fasta with --labels)")
    src.add_argument("--taxonomy", type=Path, help="rdp: the taxonomy file (taxid*name*parent*depth*rank)")
    src.add_argument("--ranks", nargs="+", default=[], metavar="RANK",
                     help=f"ranks to keep as columns, top down (sintax/qiime/rdp: of {', '.join(RANKS)}; default: "
                          "those the reference names; table: the rank columns, required)")
    src.add_argument("--id-column", default="id")
    src.add_argument("--sequence-column", default="sequence")
    parser.add_argument("--label-column", required=True, help="column to predict")
    parser.add_argument("--label-separator", default=SEPARATOR,
                        help="multilabel: separator of the labels within the label column (default ';')")
    parser.add_argument("--group-column", help="records sharing a value stay on one side (e.g. BOLD bin)")
    parser.add_argument("--min-per-class", type=int, default=1, help="exclude rarer classes (sequence tasks)")
    parser.add_argument("--max-records", type=int, default=0, help="seeded subsample of usable records; 0 = all")
    parser.add_argument("--fractions", type=float, nargs=3, default=[0.8, 0.1, 0.1], metavar=("TRAIN", "VALID", "TEST"))
    parser.add_argument("--cluster-identity", type=float, default=0.3, help="homology clustering (residue tasks)")
    parser.add_argument("--cluster-coverage", type=float, default=0.5)
    parser.add_argument("--on-invalid", choices=["error", "skip"], default="error",
                        help="invalid records: stop with an error, or exclude them with a reason")
    parser.add_argument("--extra-columns", nargs="*", default=[], help="label-table columns to keep")
    parser.add_argument("--novel-classes", type=float, default=0.0, metavar="FRACTION",
                        help="hold out this share of the classes (seeded) as split 'novel' for the novel-class "
                             "evaluation of `seqxent ood` (sequence tasks; 0 = none)")
    parser.add_argument("--novel-rank", metavar="RANK",
                        help="hold out the --novel-classes share of the taxa at this rank (one of --ranks, e.g. "
                             "genus: whole genera) instead of the classes of --label-column; records without a "
                             "name at the rank stay known")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--output", type=Path, required=True, help="dataset.tsv.gz to write")
    parser.add_argument("--summary", type=Path, required=True, help="split_summary.json to write")


def run(args: argparse.Namespace) -> None:
    """Prepare the data set and write the table and summary."""
    cfg = PrepareConfig(name=args.name, task=args.task, alphabet=args.alphabet, label_column=args.label_column,
                        fasta=args.fasta, labels=args.labels, table=args.table, id_column=args.id_column,
                        sequence_column=args.sequence_column, group_column=args.group_column,
                        min_per_class=args.min_per_class, max_records=args.max_records,
                        fractions=tuple(args.fractions), cluster_identity=args.cluster_identity,
                        cluster_coverage=args.cluster_coverage, on_invalid=args.on_invalid,
                        extra_columns=args.extra_columns, seed=args.seed, threads=args.threads,
                        label_separator=args.label_separator, novel_classes=args.novel_classes,
                        reference_format=args.reference_format, taxonomy=args.taxonomy, ranks=args.ranks,
                        novel_rank=args.novel_rank)
    table, summary = prepare_dataset(cfg)
    meta = {"name": cfg.name, "task": cfg.task, "alphabet": cfg.alphabet, "label_column": cfg.label_column}
    if "ranks" in summary:  # a reference with lineages: which columns hold the ranks, top down
        meta["ranks"] = summary["ranks"]
    write_dataset(table, args.output, meta)
    with atomic_write(args.summary) as handle:
        json.dump(summary, handle, indent=2, sort_keys=True)
