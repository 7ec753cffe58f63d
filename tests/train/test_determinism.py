"""Reruns give identical bytes: the command chain prepare → train → calibrate → baseline → evaluate → predict,
run twice in two directories with the same seeds, writes byte-identical metrics.json, predictions and
`seqxent predict` output. Wall-clock values live in timings.json, which is the only file allowed to differ.

(tests/workflow/test_workflow.py checks the same for two runs of the whole Snakemake workflow.)
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import torch

from seqxent.cli import main
from seqxent.data.io import atomic_write, default_file_mode
from seqxent.model.checkpoint import load_checkpoint
from seqxent.report.html import render_report

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "data"
QUERY = ">q1\n" + "ACGT" * 60 + "\n>q2 odd\nacgtnnnnACGT--ACGU\n>q3\nACGT1\n>q4\n\n"


def _chain(out: Path) -> None:
    """The workflow's commands for one small data set, in-process, with fixed seeds and threads."""
    ds, fasta = out / "dataset.tsv.gz", out / "query.fasta"
    fasta.write_text(QUERY)
    steps = [
        ["prepare", "--name", "coi", "--task", "sequence", "--alphabet", "dna", "--fasta",
         str(DATA / "coi_bold.fasta.gz"), "--labels", str(DATA / "coi_bold.tsv"), "--label-column", "species",
         "--min-per-class", "3", "--max-records", "80", "--seed", "1", "--output", str(ds),
         "--summary", str(out / "split_summary.json")],
        ["train", "--dataset", str(ds), "--output", str(out / "model_raw.pt"), "--history", str(out / "history.tsv"),
         "--epochs", "2", "--batch-size", "16", "--channels", "8", "--kernel-size", "5", "--layers", "2",
         "--device", "cpu", "--threads", "1", "--seed", "1"],
        ["calibrate", "--model", str(out / "model_raw.pt"), "--dataset", str(ds), "--output", str(out / "model.pt"),
         "--threads", "1"],
        ["baseline", "--dataset", str(ds), "--method", "kmer_logreg", "--k", "4",
         "--output", str(out / "baselines" / "kmer_logreg.json")],
        ["evaluate", "--model", str(out / "model.pt"), "--dataset", str(ds), "--output", str(out / "metrics.json"),
         "--predictions", str(out / "test_predictions.tsv.gz"), "--plots-dir", str(out / "plots"),
         "--history", str(out / "history.tsv"), "--summary", str(out / "split_summary.json"),
         "--baselines", str(out / "baselines" / "kmer_logreg.json"), "--bootstrap", "20", "--threads", "1",
         "--data-files", "data/coi_bold.tsv"],
        ["predict", "--model", str(out / "model.pt"), "--input", str(fasta), "--output", str(out / "calls.tsv"),
         "--threads", "1", "--device", "cpu"],
    ]
    for argv in steps:
        assert main(["-q", *argv]) == 0, argv


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path]:
    threads = torch.get_num_threads()
    cwd = os.getcwd()
    os.chdir(REPO)  # --data-files is given relative, as the workflow does
    try:
        runs = (tmp_path_factory.mktemp("run_a"), tmp_path_factory.mktemp("run_b"))
        for out in runs:
            _chain(out)
    finally:
        os.chdir(cwd)
        torch.set_num_threads(threads)
    return runs


@pytest.mark.parametrize("name", ["dataset.tsv.gz", "split_summary.json", "metrics.json", "test_predictions.tsv.gz",
                                  "calls.tsv", "plots/confusion.png", "plots/reliability.png"])
def test_rerun_gives_identical_bytes(two_runs, name):
    first, second = two_runs
    assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_rerun_gives_identical_weights(two_runs):
    first, second = (load_checkpoint(run / "model.pt") for run in two_runs)
    assert first.temperature == second.temperature
    for key, value in first.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[key]), key


def test_wall_clock_values_are_in_timings_json_only(two_runs):
    first, _ = two_runs
    metrics = json.loads((first / "metrics.json").read_text())
    timings = json.loads((first / "timings.json").read_text())
    assert "seconds" not in metrics["training"] and "created" not in metrics["provenance"]
    assert all("seconds" not in entry for entry in metrics["baselines"].values())
    assert timings["training"]["seconds"] > 0 and timings["created"]
    assert set(timings["baselines"]) == {"kmer_logreg"}


def test_report_shows_timings_and_provenance(two_runs, tmp_path):
    first, _ = two_runs
    html = render_report([first], tmp_path / "report.html").read_text()
    for text in ("Seconds", "Run at (UTC)", "Git commit", "Uncommitted changes", "Data files (SHA-256)",
                 "data/coi_bold.tsv", "Seeds", "Command line", "Packages", "torch", "Configuration used"):
        assert text in html, text


# --- atomic outputs keep ordinary permissions -------------------------------------------------------------

def test_atomic_outputs_get_umask_permissions(two_runs, tmp_path):
    first, _ = two_runs
    mode = default_file_mode()
    for path in [first / "metrics.json", first / "timings.json", first / "model.pt", first / "dataset.tsv.gz",
                 first / "calls.tsv", first / "history.tsv", first / "plots" / "confusion.png",
                 first / "baselines" / "kmer_logreg.json"]:
        assert stat.S_IMODE(path.stat().st_mode) == mode, path
    assert not list(first.rglob(".*.tmp")), "no temporary file left behind"


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_atomic_write_follows_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        with atomic_write(tmp_path / "x.txt") as handle:
            handle.write("x")
        with open(tmp_path / "plain.txt", "w") as handle:  # what an ordinary write gives
            handle.write("x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "x.txt").stat().st_mode) == stat.S_IMODE((tmp_path / "plain.txt").stat().st_mode)
    assert stat.S_IMODE((tmp_path / "x.txt").stat().st_mode) == 0o666 & ~umask
