r"""Write one shard of a FASTA[.gz] file: records [i·n/N, (i+1)·n/N) of its n records, in input order.

Shards are contiguous and never empty (the input needs at least N records), so predicting each shard and
merging the outputs with `seqxent merge` gives the output of one run on the whole file. Each shard is
written by its own call (they can run in parallel). Example:

  for i in 0 1 2 3; do seqxent shard --input reads.fasta.gz --shards 4 --index $i --output shard_$i.fasta; done
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from seqxent.predict.shards import write_shard

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``seqxent shard``."""
    parser.add_argument("--input", type=Path, required=True, help="FASTA or FASTA.gz to split")
    parser.add_argument("--shards", type=int, required=True, help="number of shards N (≥ 1)")
    parser.add_argument("--index", type=int, required=True, help="which shard to write, 0 to N - 1")
    parser.add_argument("--output", type=Path, required=True, help="plain FASTA to write (atomically)")


def run(args: argparse.Namespace) -> None:
    """Write the shard."""
    shard = write_shard(args.input, args.shards, args.index, args.output)
    log.info("shard %d of %d: records %d to %d of %d", shard.index, shard.n_shards, shard.start + 1, shard.stop,
             shard.n_records)
