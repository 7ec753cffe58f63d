"""The ``seqxent`` console script: one subcommand per stage (``seqxent <command> --help`` for each).

Each subcommand lives in :mod:`seqxent.commands` as a module with ``add_arguments(parser)`` and ``run(args)``.
Bad input ends with a one-line error naming the file, record and problem, and exit status 2 (no traceback);
progress and logs go to stderr, results only to the paths given on the command line.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from seqxent import __version__
from seqxent.errors import InputError

COMMANDS = {
    "prepare": "Read, check, group and split a data set into results/<name>/dataset.tsv.gz.",
    "train": "Train a CNN on a prepared data set.",
    "calibrate": "Fit the softmax temperature of a trained model on the validation split.",
    "ood": "Score held-out (novel) classes against the test split: AUROC, over-classification.",
    "evaluate": "Score a model on a split: metrics.json, predictions and plots.",
    "baseline": "Run a baseline or peer tool on a prepared data set's split.",
    "predict": "Predict classes (or per-residue states) for the records of a FASTA file.",
    "report": "Render a self-contained HTML report from results directories.",
    "shard": "Write one of N contiguous shards of a FASTA file (for sharded prediction).",
    "merge": "Merge per-shard prediction files in input order; check every id is there.",
    "ablation": "Summarise an ablation of loss variants (mean ± sd over seeds) into a TSV and JSON.",
}


def create_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser with one subparser per command.

    Args:
        only: build the full subparser (importing the command's module) for this command alone; the others
            get a bare entry that is enough for the top-level ``--help``. ``seqxent predict`` then starts
            without importing the training, evaluation and plotting stacks (about 3 s on 2 cores).
    """
    parser = argparse.ArgumentParser(prog="seqxent", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"seqxent {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, help_text in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(f"seqxent.commands.{name}")
        cmd = sub.add_parser(name, help=help_text, description=module.__doc__,
                             formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(cmd)
        cmd.set_defaults(run=module.run)
    return parser


def _command_in(argv: list[str]) -> str | None:
    """The first argument that names a command (options of the top-level parser take no values)."""
    return next((arg for arg in argv if arg in COMMANDS), None)


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the command, and turn input errors into a clean message and exit status 2."""
    argv = sys.argv[1:] if argv is None else argv
    parser = create_parser(only=_command_in(argv) or "")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        args.run(args)
    except (InputError, FileNotFoundError, IsADirectoryError, PermissionError) as err:
        print(f"seqxent {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"seqxent {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
