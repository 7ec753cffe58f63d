"""Sharded prediction in the workflow: shard_fasta -> predict_fasta per shard -> merge_predictions = one whole job.

Runs tests/workflow/config_shards/config.yaml (a random-weight model file, 7 proteins in 2 shards) with the
local executor; tests/workflow/test_slurm.py runs the same config through SLURM. Helpers here are shared with it.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from seqxent.data.alphabet import Alphabet
from seqxent.data.io import iter_fasta
from seqxent.model.checkpoint import Checkpoint, save_checkpoint
from seqxent.model.networks import build_model

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CONFIG = REPO / "tests" / "workflow" / "config_shards" / "config.yaml"
# Ids in an order no sort would give; an empty and an invalid record are kept (status "skipped: ...").
PROTEINS = ">p7 seven\nMKV\n>p2\nACDEFG\n>p10\n\n>p1\nMK1\n>p5\nmmmmkkkk\n>p3\nGG\n>p4\nW\n"

pytestmark = pytest.mark.slow


def prepare_workdir(workdir: Path) -> None:
    """Data link, a random-weight 3-state residue model (model.pt) and the input FASTA (proteins.fasta)."""
    (workdir / "data").symlink_to(REPO / "data")
    torch.manual_seed(0)
    hparams = {"in_channels": 20, "n_classes": 3, "channels": 8, "kernel_size": 5, "layers": 2}
    model = build_model("residue_cnn", hparams).eval()
    save_checkpoint(Checkpoint(model, "residue", Alphabet.from_name("protein"), ["H", "E", "C"], "residue_cnn",
                               hparams), workdir / "model.pt")
    (workdir / "proteins.fasta").write_text(PROTEINS)


def snakemake_command(workdir: Path, *args: str) -> list[str]:
    """The snakemake call on the sharded-prediction config in ``workdir``."""
    return [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(CONFIG), *args]


def env() -> dict:
    """The environment with the venv's console scripts (seqxent) first on PATH."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def check_outputs(workdir: Path) -> None:
    """Every input id once, in input order; sharded output = one-job output; shard FASTA files removed (temp)."""
    sharded = workdir / "results" / "predictions" / "sharded.tsv"
    whole = workdir / "results" / "predictions" / "whole.tsv"
    rows = [line.split("\t") for line in sharded.read_text().splitlines()[1:]]
    ids = [row[0] for row in rows if row[1] in ("1", "")]  # a record starts at pos 1, or is one skipped row
    assert ids == [rec.id for rec in iter_fasta(workdir / "proteins.fasta")]
    assert ids == ["p7", "p2", "p10", "p1", "p5", "p3", "p4"]
    assert sharded.read_text() == whole.read_text()
    # The shards' inputs are temporary; their predictions stay (the one predict rule also makes final outputs).
    assert not list((workdir / "results" / "predictions" / "sharded" / "shards").glob("*.fasta"))
    assert len(list((workdir / "results" / "predictions" / "sharded" / "shards").glob("*.tsv"))) == 2


def test_sharded_prediction_workflow(tmp_path):
    prepare_workdir(tmp_path)
    dry = subprocess.run(snakemake_command(tmp_path, "-n", "--cores", "2"), env=env(), capture_output=True,
                         text=True, timeout=300)
    assert dry.returncode == 0, dry.stderr[-3000:]
    for rule, count in (("shard_fasta", 2), ("merge_predictions", 1), ("predict_fasta", 3)):  # 2 shards + whole
        assert any(line.split() == [rule, str(count)] for line in dry.stdout.splitlines()), dry.stdout
    proc = subprocess.run(snakemake_command(tmp_path, "--cores", "2"), env=env(), capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-5000:]
    check_outputs(tmp_path)
