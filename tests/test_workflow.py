"""End-to-end: the Snakemake workflow on a tiny config, then predictions from FASTA with its models."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
TINY = REPO / "tests" / "workflow" / "config_tiny" / "config.yaml"

pytestmark = pytest.mark.slow


def _env() -> dict:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(TINY), "--cores", "2", *args]
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=1200)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    workdir = tmp_path_factory.mktemp("workflow")
    (workdir / "data").symlink_to(REPO / "data")
    proc = _snakemake(workdir)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return workdir


def test_dry_run_and_lint(tmp_path):
    (tmp_path / "data").symlink_to(REPO / "data")
    dry = _snakemake(tmp_path, "-n")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "train_model" in dry.stdout + dry.stderr


@pytest.mark.parametrize("dataset", ["coi_species", "ss3"])
def test_outputs_per_dataset(tiny_run, dataset):
    out = tiny_run / "results" / dataset
    for name in ("model.pt", "model_raw.pt", "metrics.json", "history.tsv", "dataset.tsv.gz", "report.html",
                 "plots/confusion.png", "plots/learning_curves.png", "plots/reliability.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["dataset"] == dataset
    assert 0.0 <= metrics["headline"]["accuracy"]["value"] <= 1.0
    low, high = metrics["headline"]["accuracy"]["ci95"]
    assert low <= metrics["headline"]["accuracy"]["value"] <= high
    assert metrics["provenance"]["data_files"], "data checksums are recorded"


def test_index_report_links_every_dataset(tiny_run):
    html = (tiny_run / "results" / "report.html").read_text()
    for dataset in ("coi_species", "ss3"):
        assert f"{dataset}/report.html" in html
    assert 'src="http' not in html


def test_baselines_side_by_side(tiny_run):
    metrics = json.loads((tiny_run / "results" / "coi_species" / "metrics.json").read_text())
    assert set(metrics["baselines"]) == {"majority", "kmer_logreg"}


def test_predict_unseen_fasta_with_workflow_models(tiny_run, tmp_path):
    proteins = tmp_path / "proteins.fasta"
    proteins.write_text(">p1\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQAPILSRVGDGTQDNLSGAEKAVQVKVKALPDAQ\n>bad\nMK1\n")
    barcodes = tmp_path / "barcodes.fasta"
    barcodes.write_text(">b1\n" + "ACGT" * 100 + "\n>b2\nacgtnnnnacgt\n")
    for model, fasta in (("ss3", proteins), ("coi_species", barcodes)):
        out = tmp_path / f"{model}.tsv"
        cmd = [str(BIN / "seqxent"), "predict", "--model", str(tiny_run / "results" / model / "model.pt"),
               "--input", str(fasta), "--output", str(out)]
        proc = subprocess.run(cmd, env=_env(), capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        rows = [line.split("\t") for line in out.read_text().splitlines()]
        ids = {row[0] for row in rows[1:]}
        assert ids == ({"p1", "bad"} if model == "ss3" else {"b1", "b2"})
    assert "skipped: invalid protein character(s): '1' at position 3" in (tmp_path / "ss3.tsv").read_text()


def test_snakemake_report_zip(tiny_run):
    proc = _snakemake(tiny_run, "--report", str(tiny_run / "report.zip"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (tiny_run / "report.zip").stat().st_size > 0
