"""End-to-end: the Snakemake workflow on a tiny config, then predictions from FASTA with its models."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from seqxent import tools

REPO = Path(__file__).resolve().parents[2]
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


def test_lineage_dataset_end_to_end(tiny_run):
    """A lineage data set: per-rank metrics, peers at the label rank, predictions in RDP's fixrank layout."""
    out = tiny_run / "results" / "rdp_lineage"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "lineage" and "genus_accuracy" in metrics["headline"]
    assert set(metrics["per_rank"]) <= {"domain", "phylum", "class", "order", "family", "genus"}
    assert set(metrics["rates_at_cutoff"]["genus"]) >= {"misclassification_rate", "overclassification_rate"}
    assert (out / "report.html").is_file() and (out / "plots" / "reliability.png").is_file()
    lines = (tiny_run / "results" / "predictions" / "barcodes_lineage.rdp").read_text().splitlines()
    assert lines and all(line.split("\t")[1] in ("", "-") for line in lines)


def test_novel_class_evaluation_and_decisions(tiny_run):
    out = tiny_run / "results" / "coi_species"
    ood = json.loads((out / "ood.json").read_text())
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["ood"] == ood and ood["n_novel"] > 0
    assert ood["novel_classes"] and set(ood["novel_classes"]).isdisjoint(metrics["classes"])
    assert {"energy T=1", "msp T=5", "nll T=cal"} <= set(ood)
    assert {"expected_cost_bayes", "expected_cost_argmax"} <= set(metrics["decisions"])
    assert (out / "plots" / "reliability_before_scaling.png").is_file()
    assert not (tiny_run / "results" / "ss3" / "ood.json").exists()


def test_index_report_links_every_dataset(tiny_run):
    html = (tiny_run / "results" / "report.html").read_text()
    for dataset in ("coi_species", "ss3"):
        assert f"{dataset}/report.html" in html
    assert 'src="http' not in html


def test_baselines_side_by_side(tiny_run):
    """Every activated peer has a result: scores where its tool is installed, the reason where it is not."""
    metrics = json.loads((tiny_run / "results" / "coi_species" / "metrics.json").read_text())
    assert set(metrics["baselines"]) == {"majority", "kmer_logreg", *tools.PEER_TOOLS}
    html = (tiny_run / "results" / "report.html").read_text()
    for method, tool in tools.PEER_TOOLS.items():
        result = metrics["baselines"][method]
        if tools.is_installed(tool):
            assert "not_run" not in result and 0 <= result["accuracy"] <= 1
        else:
            assert result["not_run"] == f"{tools.TOOLS[tool].package} not installed"
            assert f"not run: {tools.TOOLS[tool].package} not installed" in html


# Executables of the optional tools (seqxent.tools.TOOLS), hidden from the run below.
HIDDEN = {exe for tool in tools.TOOLS.values() for exe in tool.executables}


def _path_without_tools(folder: Path) -> str:
    """A PATH with the venv and links to every other executable on PATH except those of the optional tools."""
    folder.mkdir()
    for directory in os.environ["PATH"].split(os.pathsep):
        if not Path(directory).is_dir():
            continue
        for exe in sorted(Path(directory).iterdir()):
            link = folder / exe.name
            if exe.name not in HIDDEN and not link.exists() and exe.is_file() and os.access(exe, os.X_OK):
                link.symlink_to(exe)
    return f"{BIN}{os.pathsep}{folder}"


def test_workflow_without_the_optional_tools(tmp_path):
    """The tools hidden from PATH: the run finishes, and the report lists each peer as not run."""
    workdir = tmp_path / "run"
    workdir.mkdir()
    (workdir / "data").symlink_to(REPO / "data")
    env = {**_env(), "PATH": _path_without_tools(tmp_path / "bin")}
    env.pop(tools.RDP_JAR_VARIABLE, None)
    cmd = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--configfile", str(REPO / "tests" / "workflow" / "config_no_tools" / "config.yaml"), "--cores", "2"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr[-5000:]
    for package in ("vsearch", "ncbi-blast+", "rdp-classifier", "mmseqs2"):  # one line each, with the install
        lines = [line for line in proc.stderr.splitlines() if line.startswith(f"seqxent: {package} not installed")]
        assert len(lines) == 1 and "Install: apt-get install" in lines[0], (package, lines)
    metrics = json.loads((workdir / "results" / "coi_species" / "metrics.json").read_text())
    assert {method: metrics["baselines"][method]["not_run"] for method in tools.PEER_TOOLS} == {
        "sintax": "vsearch not installed", "blastn": "ncbi-blast+ not installed",
        "rdp": "rdp-classifier not installed"}
    assert metrics["baselines"]["majority"]["accuracy"] >= 0
    html = (workdir / "results" / "report.html").read_text()
    for package in ("vsearch", "ncbi-blast+", "rdp-classifier"):
        assert f"not run: {package} not installed" in html
    summary = json.loads((workdir / "results" / "ss3" / "split_summary.json").read_text())
    assert summary["leakage"]["skipped"] == "mmseqs2 not installed"
    assert "mmseqs2 not installed" in (workdir / "logs" / "ss3" / "prepare_dataset.log").read_text()


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


def test_ablation_summary_in_the_index_report(tiny_run):
    out = tiny_run / "results" / "ablation"
    table = (out / "ablation.tsv").read_text().splitlines()
    assert table[0].startswith("variant\tn_runs\tseeds\taccuracy_mean\taccuracy_sd")
    assert [row.split("\t")[0] for row in table[1:]] == ["ce", "distill"]
    ablation = json.loads((out / "ablation.json").read_text())
    assert list(ablation["distillation"]) == ["teacher (ce)", "student (distill)"]
    assert not list(out.glob("*/seed1/train_state.pt")), "training states are removed after success"
    html = (tiny_run / "results" / "report.html").read_text()
    assert "ablation/report.html" in html and "ECE after T" in html


def test_rerun_gives_identical_metrics_and_predictions(tiny_run, tmp_path_factory):
    """A second run of the same config in a fresh directory: metrics.json and predictions byte for byte."""
    rerun = tmp_path_factory.mktemp("workflow_rerun")
    (rerun / "data").symlink_to(REPO / "data")
    targets = [f"results/{d}/{f}" for d in ("coi_species", "ss3") for f in ("metrics.json", "test_predictions.tsv.gz")]
    proc = _snakemake(rerun, *targets)
    assert proc.returncode == 0, proc.stderr[-5000:]
    for target in targets:
        assert (rerun / target).read_bytes() == (tiny_run / target).read_bytes(), target
    fasta = rerun / "query.fasta"
    fasta.write_text(">b1\n" + "ACGT" * 100 + "\n>b2\nacgtnnnnacgt\n>p1\nMKTAYIAKQRQISFVKSHFSRQLEERLGLIEV\n")
    for model in ("coi_species", "ss3"):
        outputs = []
        for run in (tiny_run, rerun):
            out = rerun / f"{model}_{run.name}.tsv"
            cmd = [str(BIN / "seqxent"), "predict", "--model", str(run / "results" / model / "model.pt"),
                   "--input", str(fasta), "--output", str(out), "--threads", "1"]
            assert subprocess.run(cmd, env=_env(), capture_output=True, text=True).returncode == 0
            outputs.append(out.read_bytes())
        assert outputs[0] == outputs[1], model


def test_outputs_have_ordinary_permissions(tiny_run):
    """Atomic writes (temporary file + rename) must not leave the 0600 of a temporary file on any output."""
    from seqxent.data.io import default_file_mode

    modes = {str(p.relative_to(tiny_run)): p.stat().st_mode & 0o777
             for p in (tiny_run / "results").rglob("*") if p.is_file()}
    wrong = {name: oct(mode) for name, mode in modes.items() if mode != default_file_mode()}
    assert not wrong
    assert not list((tiny_run / "results").rglob(".*.tmp")), "no temporary file left behind"


def test_multilabel_dataset_from_a_derived_label_table(tiny_run):
    derived = (tiny_run / "results" / "derived" / "coi_bold_bin_countries.tsv").read_text().splitlines()
    assert derived[0].split("\t")[-1] == "bin_countries" and len(derived) == 1 + 1051
    out = tiny_run / "results" / "coi_bin_countries"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["task"] == "multilabel"
    assert {"micro_f1", "macro_f1", "subset_accuracy", "hamming_loss"} <= set(metrics["headline"])
    assert set(metrics["per_class"]) == set(metrics["classes"])
    assert metrics["calibration"]["shared_by_all_labels"]
    assert (out / "report.html").is_file()
    assert set(metrics["baselines"]) == {"majority", "kmer_logreg"}  # no peers for label sets
    rows = [line.split("\t") for line in (tiny_run / "results" / "predictions" / "barcodes_countries.tsv")
            .read_text().splitlines()]
    assert rows[0] == ["id", "label"] + [f"p_{c}" for c in metrics["classes"]] + ["status"]
    assert [row[0] for row in rows[1:]] == ["ABEE108-17", "BBHEC461-09", "BEECA075-06", "bad_char", "empty"]
    for row in rows[1:4]:  # threshold 0.3 from the config
        probs = dict(zip(metrics["classes"], map(float, row[2:-1]), strict=True))
        assert row[1] == ";".join(c for c, p in probs.items() if p >= 0.3) and row[-1] == "predicted"


def _dry_run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    (workdir / "data").symlink_to(REPO / "data")
    cmd = [str(BIN / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir), "-n",
           "--cores", "2", *args]
    return subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)


def test_jsd_ablation_preset_plans_only_its_variants(tmp_path):
    proc = _dry_run(tmp_path, "ablation", "--configfile", str(REPO / "config.yaml"),
                    str(REPO / "presets" / "ablation_jsd.yaml"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    planned = proc.stdout + proc.stderr
    for variant in ("jsd_0", "jsd_0p1", "jsd_0p3"):
        for seed in (1, 2):
            assert f"results/ablation/{variant}/seed{seed}/model_raw.pt" in planned
    assert "results/ablation/focal/" not in planned and "results/ss3/dataset.tsv.gz" in planned


def test_ablation_run_naming_an_unknown_variant_fails(tmp_path):
    proc = _dry_run(tmp_path, "ablation", "--configfile", str(REPO / "config.yaml"),
                    "--config", "ablation={'run': ['nope']}")
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    assert "`ablation: run` to name variants among" in output and "['nope']" in output


def test_full_preset_plans_ss8_and_16s(tmp_path):
    proc = _dry_run(tmp_path, "--configfile", str(REPO / "config.yaml"), str(REPO / "presets" / "full.yaml"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    planned = proc.stdout + proc.stderr
    assert "--label-column dssp8" in planned and "results/16s_genus/model.pt" in planned


def test_predict_entries_take_the_taxonomy_formats_strand_and_cutoff(tmp_path):
    """A `predict:` entry by config alone: FASTQ/FASTA in, vsearch SINTAX or QIIME 2 layout out, both strands."""
    config = tmp_path / "config.yaml"
    config.write_text("datasets:\n  coi_species:\n    activate: false\n    task: sequence\n    alphabet: dna\n"
                      "    fasta: data/coi_bold.fasta.gz\n    labels: data/coi_bold.tsv\n    label_column: species\n"
                      "predict:\n  - {name: s, model: coi_species, input: data/examples/barcodes.fasta, "
                      "format: sintax, strand: both}\n"
                      "  - {name: q, model: 16s_genus, input: data/examples/barcodes.fasta, format: qiime, "
                      "cutoff: 0.5}\n")
    proc = _dry_run(tmp_path, "--configfile", str(config), "-p")
    assert proc.returncode == 0, proc.stderr[-3000:]
    planned = proc.stdout + proc.stderr
    assert "--output results/predictions/s.sintax --format sintax" in planned and "--strand both" in planned
    assert "--output results/predictions/q.qiime --format qiime" in planned and "--cutoff 0.5" in planned
