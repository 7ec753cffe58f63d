"""Render a self-contained HTML report (plots embedded) from one or more results/<dataset> directories.

With one directory it is that data set's report; with several, an index with a section per data set and a
link to each one's own report. Example:

  seqxent report results/coi_species results/ss3 --config results/config.yaml --output results/report.html
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from seqxent.report.html import render_report


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of ``seqxent report``."""
    parser.add_argument("dirs", type=Path, nargs="+", metavar="DIR", help="results/<dataset> directories")
    parser.add_argument("--output", type=Path, required=True, help="HTML file to write")
    parser.add_argument("--config", type=Path, help="workflow config (YAML) to embed")
    parser.add_argument("--title", default="seqxent report")


def run(args: argparse.Namespace) -> None:
    """Render the report."""
    config = yaml.safe_load(args.config.read_text()) if args.config else None
    render_report(args.dirs, args.output, config=config, title=args.title)
