r"""Merge the per-shard outputs of `seqxent predict`, in shard order, into one file.

TSV keeps one header, JSON becomes one array, ss2 / horiz blocks are concatenated: the result is what one
run on the whole input writes. With --fasta, the merged file is checked to list every record of the
original input once, in input order (exit status 2 naming the first missing, extra or misplaced id). For
example:

  seqxent merge --inputs shard_0.tsv shard_1.tsv --output calls.tsv --fasta reads.fasta.gz
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from seqxent.errors import InputError
from seqxent.predict.shards import MERGE_FORMATS, check_ids, merge_outputs

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``seqxent merge``."""
    parser.add_argument("--inputs", type=Path, nargs="+", required=True, help="per-shard outputs, in shard order")
    parser.add_argument("--output", type=Path, required=True, help="merged file to write (atomically)")
    parser.add_argument("--format", choices=MERGE_FORMATS, help="output format (default: the --output suffix)")
    parser.add_argument("--fasta", type=Path, help="the unsharded input: check every id is there, in order")


def run(args: argparse.Namespace) -> None:
    """Merge, then (with --fasta) check the ids."""
    fmt = args.format or args.output.suffix.lstrip(".")
    if fmt not in MERGE_FORMATS:
        raise InputError(f"Expected argument `format` (or the suffix of --output) to be one of "
                         f"{list(MERGE_FORMATS)}, but got {fmt!r}")
    merge_outputs(args.inputs, args.output, fmt)
    if args.fasta:
        n = check_ids(args.fasta, args.output, fmt)
        log.info("%s: all %d records of %s, in input order", args.output, n, args.fasta)
    else:
        log.info("%s: merged %d parts", args.output, len(args.inputs))
