"""Predict every record of a FASTA or FASTQ file (plain or gzip) with a trained or pretrained model.

MODEL is a checkpoint path (e.g. results/ss3/model.pt) or the name of a model shipped in the package
(`seqxent predict --list-models` lists them). `--input -` reads standard input, `--output -` writes standard
output (any other output is written atomically). Every input id appears in the output, predicted or with the
reason it was skipped. Probabilities are temperature-calibrated unless --uncalibrated is given. Sequence
models also write their novelty scores (energy, msp, nll, and for DNA models kmer_distance: the share of
the query's 12-mers that its closest training sequence lacks; higher = more likely a class the model never
saw) and label a record `unassigned` when the score of its abstain rule is above the threshold that
`seqxent calibrate` chose on the validation split (--no-abstain keeps the top label). DNA models that
predict whole records can also try each record's reverse complement (--strand both) and, for a model of a
taxonomic rank, write the taxonomy table of vsearch SINTAX (--format sintax) or QIIME 2 (--format qiime).
Lineage models (one head per rank) write consistent per-rank calls cut at --cutoff (default: the model's own,
else the format's) in tsv, json, sintax and qiime, and the RDP classifier's fixrank table (--format rdp). Examples:

  seqxent predict --model results/coi_species/model.pt --input my_barcodes.fasta --output calls.tsv
  seqxent predict --model ss3 --input proteins.fasta.gz --output proteins.ss2 --format ss2
  zcat reads.fastq.gz | seqxent predict --model coi_species --input - --output - --format sintax --strand both
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from pathlib import Path

import torch
from tqdm import tqdm

from seqxent.calibrate.novelty import score_names
from seqxent.data.io import STDIO, atomic_write
from seqxent.data.labels import THRESHOLD
from seqxent.data.taxon_tree import TaxonTree
from seqxent.errors import InputError
from seqxent.model.checkpoint import Checkpoint, load_checkpoint, pretrained_models
from seqxent.model.engine import PRECISIONS, select_device
from seqxent.predict.formats import FORMATS, get_writer
from seqxent.predict.stream import STRANDS, predict_fasta

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``seqxent predict``."""
    parser.add_argument("--model", help="checkpoint path or pretrained model name")
    parser.add_argument("--input", type=Path, help="FASTA or FASTQ, plain or gzip (told from the content); - for stdin")
    parser.add_argument("--output", type=Path, help="file to write (atomically); - for stdout")
    parser.add_argument("--format", choices=sorted(FORMATS), default="tsv",
                        help="tsv, json; ss2, horiz (3-state residue models); sintax, qiime (DNA models of a rank "
                             "or lineage models); rdp (RDP classifier's fixrank, lineage models)")
    parser.add_argument("--strand", choices=STRANDS, default="plus",
                        help="both: also predict each record's reverse complement and keep the orientation with "
                             "the higher top probability (DNA models; adds a strand column)")
    parser.add_argument("--cutoff", type=float, default=None,
                        help="sintax, qiime (and tsv, json of lineage models): the probability a call needs "
                             "(default: a lineage model's own, else 0.8 for sintax, tsv, json, 0.7 for qiime)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=200_000, help="cap on padded positions per batch")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads, each running whole batches side by side (0 = torch default)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default="float32",
                        help="bfloat16: faster on CPUs with AMX/AVX-512 BF16 and on GPUs; probabilities differ "
                             "from float32 by up to about 1e-2")
    parser.add_argument("--uncalibrated", action="store_true",
                        help="raw softmax and scores, ignoring the fitted temperature (and the abstain rule)")
    parser.add_argument("--no-abstain", action="store_true",
                        help="always write the top label, never `unassigned` (the scores are still written)")
    parser.add_argument("--threshold", type=float, default=THRESHOLD,
                        help="multilabel models: predict every label with at least this probability (default 0.5)")
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
    writer = get_writer(args.format, ckpt.classes, ckpt.task, threshold=args.threshold,
                        scores=score_names(ckpt.meta), strand=args.strand == "both", alphabet=ckpt.alphabet.name,
                        label_column=ckpt.meta.get("label_column"), cutoff=args.cutoff, **lineage_options(ckpt))
    if args.uncalibrated and not args.no_abstain and "ood" in ckpt.meta:
        log.warning("--uncalibrated: no record is unassigned (the abstain threshold is for calibrated scores)")
    start, n, skipped = time.perf_counter(), 0, 0
    with _output(args.output) as out:
        writer.begin(out)
        preds = predict_fasta(ckpt, args.input, batch_size=args.batch_size, max_tokens=args.max_tokens,
                              device=device, calibrated=not args.uncalibrated, abstain=not args.no_abstain,
                              precision=args.precision, strand=args.strand)
        for pred in tqdm(preds, unit="rec", disable=None, mininterval=2):
            writer.write(out, pred)
            n, skipped = n + 1, skipped + bool(pred.skipped)
        writer.end(out)
    seconds = time.perf_counter() - start
    log.info("%d records (%d skipped) in %.1f s: %.0f records/s", n, skipped, seconds, n / max(seconds, 1e-9))


def lineage_options(ckpt: Checkpoint) -> dict:
    """The writer options of a lineage model (``tree``, ``model_cutoff``), or none for another model.

    Built from ``meta["lineage"]`` (:meth:`TaxonTree.to_meta`, and the ``cutoff`` chosen on validation
    when calibration stored one) and the checkpoint's classes.
    """
    if "lineage" not in ckpt.meta:
        return {}
    meta = ckpt.meta["lineage"]
    return {"tree": TaxonTree.from_meta(meta, ckpt.classes), "model_cutoff": meta.get("cutoff")}


@contextlib.contextmanager
def _output(path: Path):
    """Standard output for ``-`` (written as it goes), else a temporary file moved into place at the end."""
    if str(path) != STDIO:
        with atomic_write(path) as out:
            yield out
        return
    yield sys.stdout
    sys.stdout.flush()
