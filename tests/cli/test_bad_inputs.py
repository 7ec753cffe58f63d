"""The bad-input corpus (tests/cli/bad_inputs/cases.tsv) run through the real command line.

Each case names a command, its input files (FASTA or FASTQ) and the expected outcome: exit status 2 with a
one-line error that names the file, the record and the problem (no traceback, no output file), or exit status
0 with every input record in the output, used or with the reason it was excluded or skipped. Binary, large,
compressed and truncated inputs are generated here instead of being committed.
"""

from __future__ import annotations

import csv
import gzip
import json
import re
import shlex
import subprocess
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from seqxent.cli import main
from seqxent.data.alphabet import Alphabet
from seqxent.model.checkpoint import Checkpoint, save_checkpoint
from seqxent.model.networks import build_model

CORPUS = Path(__file__).parent / "bad_inputs"
GOOD = ">good1\nACGTACGTACGTAAAC\n>good2\nTTGACCAGTACGATCG\n>good3\nGGCATCGATCGATTAC\n>good4\nCCATGCATGCAAGTCA\n"


@dataclass
class Case:
    """One row of cases.tsv."""

    case: str
    command: str
    input: str
    labels: str
    args: str
    exit: int
    expect: str


def _load_cases() -> list[Case]:
    lines = [line for line in (CORPUS / "cases.tsv").read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [Case(**{**row, "exit": int(row["exit"])}) for row in rows]


CASES = _load_cases()


# --- inputs generated at test time -----------------------------------------------------------------------

def _random_dna(n: int, seed: int) -> str:
    return "".join(np.random.default_rng(seed).choice(list("ACGT"), size=n))


def _wrap(seq: str, width: int = 80) -> str:
    return "\n".join(seq[i:i + width] for i in range(0, len(seq), width)) + "\n"


def _junk(seed: int, n: int = 4096) -> bytes:
    data = bytearray(np.random.default_rng(seed).integers(0, 256, size=n, dtype=np.uint8).tobytes())
    data[:2] = b"\x80\xff"  # not '>' nor a gzip magic number: the file must be recognised as junk
    return bytes(data)


def _truncated_gzip(text: str) -> bytes:
    whole = gzip.compress(text.encode(), mtime=0)
    return whole[: len(whole) // 2]


def _many_records(n: int = 400) -> str:
    return "".join(f">r{i}\n{_random_dna(60, i)}\n" for i in range(n))


GENERATED = {
    "long_100kb": lambda: (GOOD + ">long\n" + _wrap(_random_dna(100_000, 1))).encode(),
    "long_protein": lambda: (">longp\n" + _wrap("".join(np.random.default_rng(2).choice(
        list("ACDEFGHIKLMNPQRSTVWY"), size=100_000)))).encode(),
    "binary_junk": lambda: _junk(3),
    "binary_after_header": lambda: GOOD.encode() + _junk(4),
    "gzip_truncated": lambda: _truncated_gzip(_many_records()),
    "labels_gzip_truncated": lambda: _truncated_gzip("id\tlabel\n" + "".join(f"r{i}\tA\n" for i in range(3000))),
    "fasta_for_nan": lambda: (GOOD + "".join(f">nan{i}\nACGTACGTAC\n" for i in range(1, 7))).encode(),
    "fasta_for_singleton": lambda: (GOOD + ">one\nACGTTTTACG\n").encode(),
    "fastq_gzip": lambda: gzip.compress((CORPUS / "fastq" / "reads.fastq").read_bytes()),
}


def _materialise(spec: str, tmp: Path, role: str) -> Path:
    """The path of an input: a corpus file, or a generated file / directory / missing path under ``tmp``."""
    if not spec.startswith("gen:"):
        return CORPUS / spec
    name = spec[4:]
    path = tmp / f"{role}_{name}"
    if name == "missing":
        return path
    if name == "directory":
        path.mkdir()
        return path
    path.write_bytes(GENERATED[name]())
    return path


def _naive_ids(path: Path) -> list[str]:
    """FASTA or FASTQ ids by plain text processing, independent of the package's reader (in order, with repeats)."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        data = zlib.decompressobj(wbits=31).decompress(data)  # what a truncated stream holds
    lines = [line for line in data.decode("utf-8-sig", errors="replace").splitlines() if line.strip()]
    if lines and lines[0].startswith("@"):  # FASTQ: a header every 4 lines
        return [line[1:].split()[0] for line in lines[::4]]
    return [line[1:].split()[0] for line in lines if line.startswith(">") and line[1:].split()]


def _auto_labels(fasta: Path, tmp: Path) -> Path:
    ids = list(dict.fromkeys(_naive_ids(fasta)))
    path = tmp / "auto_labels.tsv"
    path.write_text("id\tlabel\n" + "".join(f"{rid}\t{'AB'[i % 2]}\n" for i, rid in enumerate(ids)))
    return path


# --- tiny models for `seqxent predict` -------------------------------------------------------------------

def _tiny_checkpoint(path: Path, alphabet: str, task: str, classes: list[str], label_column: str) -> Path:
    torch.manual_seed(0)
    kind = "sequence_cnn" if task == "sequence" else "residue_cnn"
    hparams = {"in_channels": Alphabet.from_name(alphabet).size, "n_classes": len(classes), "channels": 4,
               "kernel_size": 3, "layers": 1, "dropout": 0.0}
    model = build_model(kind, hparams).eval()
    save_checkpoint(Checkpoint(model, task, Alphabet.from_name(alphabet), classes, kind, hparams,
                               meta={"label_column": label_column}), path)
    return path


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("models")
    junk = tmp / "junk_model.pt"
    junk.write_bytes(b"this is not a checkpoint\n")
    return {"dna": _tiny_checkpoint(tmp / "dna.pt", "dna", "sequence", ["A", "B"], "country"),
            "protein": _tiny_checkpoint(tmp / "protein.pt", "protein", "residue", ["H", "E", "C"], "ss3"),
            "junk": junk}


# --- running a case --------------------------------------------------------------------------------------

PREPARE = {"prepare": ("sequence", "dna"), "prepare-protein": ("sequence", "protein"),
           "prepare-table": ("residue", "protein")}


def _command(case: Case, inp: Path, labels: Path | None, out: Path, models: dict[str, Path],
             tmp: Path) -> list[str]:
    if case.command in PREPARE:
        task, alphabet = PREPARE[case.command]
        source = (["--table", str(inp), "--label-column", "ss3", "--on-invalid", "skip"]
                  if case.command == "prepare-table" else
                  ["--fasta", str(inp), "--labels", str(labels), "--label-column", "label"])
        argv = ["prepare", "--name", "case", "--task", task, "--alphabet", alphabet, *source,
                "--output", str(out), "--summary", str(out.with_name("summary.json"))]
    else:
        alphabet = case.command.removeprefix("predict-")
        fmt = ["--format", "json"] if alphabet == "protein" else []
        argv = ["predict", "--model", str(models[alphabet]), "--input", str(inp), "--output", str(out), *fmt]
    extra = case.args.replace("{junk_model}", str(models["junk"])).replace("{tmp}", str(tmp))
    return ["-q", *argv, *shlex.split(extra)]


def _placeholders(case: Case, inp: Path, labels: Path | None, models: dict[str, Path], tmp: Path) -> dict:
    return {"{input}": re.escape(str(inp)), "{labels}": re.escape(str(labels)),
            "{junk_model}": re.escape(str(models["junk"])), "{tmp}": re.escape(str(tmp))}


def _expand(regex: str, values: dict) -> str:
    for key, value in values.items():
        regex = regex.replace(key, value)
    return regex


def _checks(case: Case) -> list[str]:
    return [c.strip() for c in case.expect.split(" ; ") if c.strip()]


def _prepared(out: Path) -> pd.DataFrame:
    with gzip.open(out, "rt", encoding="utf-8") as handle:
        assert handle.readline().startswith("#seqxent ")
        table = pd.read_csv(handle, sep="\t", dtype=str, keep_default_na=False)
    return table


def _predicted(out: Path, fmt: str) -> pd.DataFrame:
    """One row per record: id, status, label and length of the prediction."""
    if fmt == "json":
        objs = json.loads(out.read_text())
        return pd.DataFrame({"id": [o["id"] for o in objs], "status": [o["status"] for o in objs],
                             "label": [o.get("label", "") for o in objs],
                             "length": [len(o.get("label", "")) for o in objs]})
    lines = [line.split("\t") for line in out.read_text().splitlines()]
    header, rows = lines[0], lines[1:]
    assert all(len(row) == len(header) for row in rows), "every TSV row has every column"
    table = pd.DataFrame(rows, columns=header)
    table["length"] = 1
    return table


def _check_record(check: str, table: pd.DataFrame, kind: str) -> None:
    rid, _, what = check.partition(":")
    rows = table[table["id"] == rid]
    assert len(rows) >= 1, f"record {rid!r} missing from the output"
    row = rows.iloc[0]
    key, op, value = re.match(r"([a-z]+)(=|~)?(.*)$", what).groups()
    if key == "used":
        assert row["split"] in ("train", "valid", "test"), (rid, row["split"], row["reason"])
    elif key == "excluded":
        assert row["split"] == "excluded" and re.search(value, row["reason"]), (rid, row["split"], row["reason"])
    elif key == "predicted":
        assert row["status"] == "predicted", (rid, row["status"])
    elif key == "skipped":
        assert row["status"].startswith("skipped: "), (rid, row["status"])
        assert re.search(value, row["status"].removeprefix("skipped: ")), (rid, row["status"])
    elif key == "seq":
        assert row["sequence"] == value, (rid, row["sequence"])
    elif key == "label":
        assert row["label"] == value, (rid, row["label"])
    elif key == "len":
        length = len(row["sequence"]) if kind == "prepare" else int(row["length"])
        assert length == int(value), (rid, length)
    else:
        raise AssertionError(f"unknown check {check!r} in cases.tsv")


def _check_success(case: Case, out: Path, inp: Path, labels: Path | None) -> None:
    if case.command in PREPARE:
        table = _prepared(out)
        assert not table["id"].duplicated().any(), "each record appears once"
        expected = set(_naive_ids(inp)) if case.command != "prepare-table" else set(
            pd.read_csv(inp, sep="\t", dtype=str, keep_default_na=False)["id"])
        assert expected <= set(table["id"]), f"records lost: {sorted(expected - set(table['id']))}"
        assert (table["split"] == "excluded").eq(table["reason"] != "").all(), "a reason exactly when excluded"
        kind = "prepare"
    else:
        table = _predicted(out, "json" if case.command == "predict-protein" else "tsv")
        assert table["id"].tolist() == _naive_ids(inp), "every input record, in input order"
        assert table["status"].str.match(r"^(predicted|skipped: .+)$").all()
        kind = "predict"
    for check in _checks(case):
        if check.startswith("rows="):
            assert len(table) == int(check[5:]), (len(table), check)
        else:
            _check_record(check, table, kind)


def _run_case(case: Case, tmp: Path, models: dict[str, Path], capsys) -> None:
    inp = _materialise(case.input, tmp, "input")
    labels = None
    if case.command in ("prepare", "prepare-protein"):
        labels = _auto_labels(inp, tmp) if case.labels == "auto" else _materialise(case.labels, tmp, "labels")
    out = tmp / ("dataset.tsv.gz" if case.command in PREPARE else "predictions.out")
    argv = _command(case, inp, labels, out, models, tmp)
    status = main(argv)
    err = capsys.readouterr().err
    assert status == case.exit, f"{case.case}: exit {status}, stderr: {err}"
    if case.exit == 0:
        _check_success(case, out, inp, labels)
        return
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"seqxent {argv[1]}: error: "), err
    for check in _checks(case):
        assert check.startswith("stderr~"), check
        regex = _expand(check[len("stderr~"):], _placeholders(case, inp, labels, models, tmp))
        assert re.search(regex, lines[0]), f"{case.case}: {lines[0]!r} does not match {regex!r}"
    assert not out.exists() or out.is_dir(), "no output file after an error"
    assert not list(tmp.glob(".*.tmp")), "no temporary file left behind"


@pytest.mark.parametrize("case", CASES, ids=[c.case for c in CASES])
def test_bad_input_case(case, tmp_path, models, capsys):
    _run_case(case, tmp_path, models, capsys)


def test_corpus_is_large_and_varied():
    assert len(CASES) >= 30
    assert len({c.case for c in CASES}) == len(CASES), "case names are unique"
    assert {c.exit for c in CASES} == {0, 2}
    assert {c.command for c in CASES} == {"prepare", "prepare-protein", "prepare-table", "predict-dna",
                                          "predict-protein"}


def test_committed_corpus_files_are_small_and_used():
    used = {c.input for c in CASES} | {c.labels for c in CASES}
    for path in CORPUS.rglob("*"):
        if path.is_file() and path.name != "cases.tsv":
            assert path.stat().st_size < 20_000, path
            assert str(path.relative_to(CORPUS)) in used, f"{path} is not used by any case"


def test_console_script_exits_2_without_traceback(tmp_path, models):
    """One case through the installed console script in a subprocess (the others run in-process)."""
    case = next(c for c in CASES if c.case == "predict_gzip_truncated")
    inp = _materialise(case.input, tmp_path, "input")
    labels = _materialise(case.labels, tmp_path, "labels") if case.labels else None
    out = tmp_path / "out"
    argv = _command(case, inp, labels, out, models, tmp_path)
    proc = subprocess.run([str(Path(sys.executable).parent / "seqxent"), *argv], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"seqxent {argv[1]}: error: ")
    assert not out.exists()
