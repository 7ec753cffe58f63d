"""Smoke tests of the benchmark code (benchmarks.bench, benchmarks.bench_report) on tiny inputs; not the benchmark."""

import math
from collections import Counter

import pandas as pd
import pytest
import torch

from benchmarks import bench
from benchmarks.bench import DATA, TASKS, Row, breakdown_models, load_reference, main, measure, simulate_queries
from benchmarks.bench_report import markdown_table, target_lines
from seqxent import tools
from seqxent.data.io import read_fasta, read_table
from seqxent.model.checkpoint import load_checkpoint, resolve_model


def test_simulate_queries_mutates_at_the_rate(tmp_path):
    path = tmp_path / "q.fasta"
    assert simulate_queries(["A" * 1000], 20, "C", path, rate=0.1, seed=3) == 20_000
    records = read_fasta(path)
    assert [r.id for r in records] == [f"q{i}" for i in range(20)]
    changed = sum(r.sequence.count("C") for r in records) / 20_000
    assert 0.08 < changed < 0.12  # binomial(20000, 0.1): sd 0.002
    assert len({r.sequence for r in records}) == 20  # no two queries are the same copy


def test_load_reference_of_the_bundled_barcodes():
    seqs, labels = load_reference(TASKS["coi"])
    table = read_table(DATA / "coi_bold.tsv")
    species = dict(zip(table["id"], table["species"], strict=True))
    want = [(r.sequence.upper().replace("-", ""), species[r.id]) for r in read_fasta(DATA / "coi_bold.fasta.gz")
            if species.get(r.id)]
    counts = Counter(label for _, label in want)
    want = [(seq, label) for seq, label in want if counts[label] >= 5]  # min_per_class of coi_species
    assert list(zip(seqs, labels, strict=True)) == want and len(set(labels)) == 41
    assert all(set(s) <= set("ACGTRYSWKMBDHVN") for s in seqs)


def test_lineage_task_reads_lineages_and_writes_a_sintax_lineage_reference(tmp_path):
    spec = TASKS["16s_taxonomy"]
    seqs, lineages = load_reference(spec)
    table = read_table(DATA / "16s_taxonomy.tsv").set_index("id")
    first = next(r for r in read_fasta(DATA / "16s_refseq.fasta.gz") if r.id in table.index)
    assert lineages[0] == tuple(table.loc[first.id, list(spec.ranks)]) and len(seqs) == len(lineages) > 20_000
    sintax, _ = bench.write_reference(seqs[:2], lineages[:2], tmp_path, spec.ranks)
    header = read_fasta(sintax)[0].description
    assert header.startswith("r0;tax=d:Bacteria,p:") and header.endswith(";") and ",g:" in header


def test_measure_reports_exit_status_and_memory(tmp_path):
    ok = measure(["python3", "-c", "x = bytearray(200 * 1024 * 1024)"], tmp_path / "log")
    assert ok["returncode"] == 0 and 200 < ok["peak_rss_mb"] < 400 and ok["seconds"] > 0
    assert measure(["python3", "-c", "raise SystemExit(3)"], tmp_path / "log")["returncode"] == 3


def _row(task, tool, n, seconds, precision="float32", residues=None, rss=100.0, steady=None):
    row = Row(task, tool, precision, n, residues or n * 100, 2, seconds=seconds, peak_rss_mb=rss)
    row.seq_per_s, row.res_per_s = n / seconds, row.n_residues / seconds
    row.steady_seq_per_s = steady if steady is not None else row.seq_per_s
    return row.__dict__


def test_target_lines_compare_with_sintax_and_the_residue_target():
    table = pd.DataFrame([
        _row("coi", "seqxent", 1000, 1.0, steady=2000.0), _row("coi", "sintax", 1000, 20.0),
        _row("ss3", "seqxent", 100, 0.5, residues=40_000), _row("coi", "seqxent", 1_000_000, 900.0, rss=700.0),
        _row("16s_taxonomy", "seqxent", 1000, 4.0), _row("16s_taxonomy", "sintax", 1000, 12.0),
    ])
    lines = target_lines(table)
    assert lines[0].endswith("same threads; 16s_taxonomy ≥ 2×):")
    assert lines[1] == ("  - coi, 1,000 sequences, float32: 1,000 vs 50 seq/s = 20.00× "
                        "(start-up excluded: 40.00×; target 10×) — met")
    assert lines[2] == ("  - 16s_taxonomy, 1,000 sequences, float32: 250 vs 83 seq/s = 3.00× "
                        "(start-up excluded: 3.00×; target 2×) — met")  # a lineage model's own target
    assert lines[3] == ("  - coi, 1,000,000 sequences vs SINTAX's rate on 1,000 (extrapolated), float32: "
                        "1,111 vs 50 seq/s = 22.22× (start-up excluded: 22.22×; target 10×) — met")
    assert lines[5] == ("  - 100 proteins (40,000 residues), float32, 2 threads: 80,000 residues/s "
                        "(start-up excluded: 80,000) — NOT met")
    assert lines[7] == "  - coi, 1,000,000 sequences, float32: 700 MB — met"
    assert "| coi | sintax | float32 | 1,000 | 100,000 | 20.0 | 50 |" in markdown_table(table)


def test_rows_that_did_not_run_print_dashes():
    row = Row("16s", "blastn", "-", 10, 100, 2, status="not run: blastn not installed").__dict__
    text = markdown_table(pd.DataFrame([row]))
    dashes = " | ".join(["–"] * 6)
    assert text.splitlines()[-1] == f"| 16s | blastn | - | 10 | 100 | {dashes} | not run: blastn not installed |"
    assert math.isnan(row["seconds"])


NUMERIC = ["n_sequences", "n_residues", "threads", "seconds", "cpu_seconds", "peak_rss_mb", "seq_per_s", "res_per_s",
           "steady_seq_per_s", "setup_seconds", "repeats"]


def _read_bench(path):
    """bench.tsv as written: an unmeasured value is an empty field, read back as NaN (numeric dtype kept)."""
    table = pd.read_csv(path, sep="\t")
    assert all(pd.api.types.is_numeric_dtype(table[col]) for col in NUMERIC), table.dtypes
    return table


@pytest.mark.slow
def test_bench_end_to_end_on_tiny_inputs(tmp_path, capsys):
    assert main(["--output", str(tmp_path), "--sizes", "30", "--tasks", "coi", "ss3", "--peer-max", "30"]) == 0
    table = _read_bench(tmp_path / "bench.tsv")
    ours = table[table["tool"] == "seqxent"]
    assert list(ours["task"]) == ["coi", "coi", "ss3", "ss3"] and set(ours["status"]) == {"ok"}
    # wait4 measures every run of seqxent: a Python process with torch loaded holds well over 50 MB.
    assert (ours["n_sequences"] == 30).all() and (ours["peak_rss_mb"] > 50).all() and (ours["seconds"] > 0).all()
    assert "vs float32: max |Δp|" in ours["note"].iloc[1]
    peers = table[table["tool"] != "seqxent"].set_index("tool")
    for tool, package in (("sintax", "vsearch"), ("blastn", "ncbi-blast+")):
        if tools.is_installed(package):
            assert peers.loc[tool, "status"] == "ok" and peers.loc[tool, "seconds"] > 0
        else:  # a missing peer is a row that says so, with NaN measurements
            assert peers.loc[tool, "status"] == f"not run: {package} not installed"
            assert math.isnan(peers.loc[tool, "seconds"]) and math.isnan(peers.loc[tool, "peak_rss_mb"])
    assert (tmp_path / "bench.png").stat().st_size > 0 and (tmp_path / "bench.json").is_file()
    assert "## Targets" in (tmp_path / "bench.md").read_text() and "## Targets" in capsys.readouterr().out
    assert not list(tmp_path.glob("work-*"))  # the queries and outputs are removed


def test_bench_with_unavailable_measurements_keeps_numeric_columns(tmp_path, monkeypatch):
    """Peers hidden and memory unmeasurable: the rows say so, the columns stay numeric (NaN, not text)."""
    monkeypatch.setattr(tools.shutil, "which", lambda name: None)
    real = bench.measure

    def no_memory(command, log):
        return {**real(command, log), "peak_rss_mb": float("nan")}

    monkeypatch.setattr(bench, "measure", no_memory)
    assert main(["--output", str(tmp_path), "--sizes", "10", "--tasks", "coi", "--peer-max", "10",
                 "--precisions", "float32"]) == 0
    table = _read_bench(tmp_path / "bench.tsv").set_index("tool")
    assert table.loc["seqxent", "status"] == "ok" and math.isnan(table.loc["seqxent", "peak_rss_mb"])
    assert table.loc["seqxent", "seconds"] > 0
    assert table.loc["sintax", "status"] == "not run: vsearch not installed"
    assert table.loc["blastn", "status"] == "not run: ncbi-blast+ not installed"
    assert "–" in (tmp_path / "bench.md").read_text()


def test_breakdown_models_drop_the_kmer_reference_and_shrink_the_network(tmp_path):
    shipped = load_checkpoint("coi_species")
    assert "reference" in shipped.meta and "ood" in shipped.meta
    paths = breakdown_models(resolve_model("coi_species"), tmp_path)
    assert list(paths) == ["seqxent-no-kmer", "seqxent-1x8"]
    same, minimal = (load_checkpoint(paths[tool]) for tool in paths)
    for ckpt in (same, minimal):
        assert "reference" not in ckpt.meta and "ood" not in ckpt.meta and ckpt.classes == shipped.classes
    x, mask = torch.nn.functional.one_hot(torch.randint(0, 4, (3, 200)), 4).float().transpose(1, 2), torch.ones(3, 200)
    with torch.no_grad():
        torch.testing.assert_close(same.model(x, mask), shipped.model(x, mask), rtol=0, atol=0)
    assert (minimal.hparams["channels"], minimal.hparams["layers"]) == (8, 1) and same.hparams == shipped.hparams


def test_bench_breakdown_rows(tmp_path):
    assert main(["--output", str(tmp_path), "--sizes", "20", "--tasks", "coi", "--peer-max", "1", "--precisions",
                 "float32", "--breakdown"]) == 0
    table = _read_bench(tmp_path / "bench.tsv")
    ours = table[table["tool"].str.startswith("seqxent")].set_index("tool")
    assert list(ours.index) == ["seqxent", "seqxent-no-kmer", "seqxent-1x8"] and set(ours["status"]) == {"ok"}
    assert (ours["n_sequences"] == 20).all()
