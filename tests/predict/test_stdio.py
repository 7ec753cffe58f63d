"""``seqxent predict`` on reads as users have them: FASTQ, gzip, standard input (``--input -``), standard output.

The same records as FASTA, FASTQ, gzip or not, from a file or from standard input, give the same output byte for
byte; ``--output -`` writes it to standard output and no file. One test runs a real pipe in a subprocess and
checks that a default prediction, even of FASTQ, does not import Biopython (only ``--strand both`` does).
"""

import gzip
import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from seqxent.cli import main
from seqxent.data.alphabet import Alphabet
from seqxent.data.io import read_fasta
from seqxent.model.checkpoint import Checkpoint, save_checkpoint
from seqxent.model.networks import build_model

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    hparams = {"in_channels": 4, "n_classes": 2, "channels": 8, "kernel_size": 5, "layers": 2}
    path = tmp_path_factory.mktemp("models") / "m.pt"
    save_checkpoint(Checkpoint(build_model("sequence_cnn", hparams).eval(), "sequence", Alphabet.from_name("dna"),
                               ["a", "b"], "sequence_cnn", hparams, 1.0, {"label_column": "genus"}), path)
    return path


def _fastq(fasta: Path) -> bytes:
    """The records of a FASTA file as FASTQ (whole header line kept, quality 'I' at every base)."""
    text = "".join(f"@{r.description}\n{r.sequence}\n+\n{'I' * len(r.sequence)}\n" for r in read_fasta(fasta))
    return text.encode()


def _predict(model: Path, inp: str, out: str, *extra: str) -> int:
    return main(["-q", "predict", "--model", str(model), "--input", inp, "--output", out, "--device", "cpu", *extra])


@pytest.mark.parametrize("fmt", ["tsv", "sintax"])
def test_fastq_and_gzip_give_the_fasta_output(tmp_path, model, fmt):
    fasta = EXAMPLES / "barcodes.fasta"
    inputs = {"plain.fasta": fasta.read_bytes(), "reads.fastq": _fastq(fasta),
              "reads.fq.gz": gzip.compress(_fastq(fasta)), "reads.dat": gzip.compress(fasta.read_bytes())}
    outputs = {}
    for name, data in inputs.items():
        (tmp_path / name).write_bytes(data)
        assert _predict(model, str(tmp_path / name), str(tmp_path / f"{name}.out"), "--format", fmt) == 0
        outputs[name] = (tmp_path / f"{name}.out").read_bytes()
    assert len(set(outputs.values())) == 1
    assert outputs["plain.fasta"].count(b"\n") == 5 + (fmt == "tsv")  # every record (and the TSV header)


def test_dash_reads_stdin_and_writes_stdout(tmp_path, model, monkeypatch, capsys):
    data = gzip.compress(_fastq(EXAMPLES / "barcodes.fasta"))
    (tmp_path / "reads.fq.gz").write_bytes(data)
    assert _predict(model, str(tmp_path / "reads.fq.gz"), str(tmp_path / "want.tsv")) == 0
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    monkeypatch.chdir(tmp_path)
    assert _predict(model, "-", "-") == 0
    assert capsys.readouterr().out == (tmp_path / "want.tsv").read_text()
    assert not (tmp_path / "-").exists()


def test_stdin_error_names_stdin(model, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"ACGT\n")))
    assert _predict(model, "-", "-") == 2
    err = capsys.readouterr().err
    assert err == ("seqxent predict: error: <stdin>: not FASTA or FASTQ: expected '>' or '@' at the start, "
                   "got 'ACGT\\n'\n")


def test_real_pipe_and_lazy_biopython(tmp_path, model):
    code = textwrap.dedent(f"""
        import sys
        from seqxent.cli import main
        argv = ["-q", "predict", "--model", {str(model)!r}, "--input", "-", "--output", "-", "--device", "cpu"]
        status = main(argv + ["--format", "sintax"])
        print("modules:", sorted(m for m in ("Bio", "scipy", "pandas", "matplotlib") if m in sys.modules),
              file=sys.stderr)
        main(argv[:5] + [{str(EXAMPLES / "barcodes.fasta")!r}] + argv[6:] + ["--strand", "both"])
        print("after --strand both:", "Bio.Seq" in sys.modules, file=sys.stderr)
        sys.exit(status)
    """)
    data = gzip.compress(_fastq(EXAMPLES / "barcodes.fasta"))
    proc = subprocess.run([sys.executable, "-c", code], input=data, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stderr.decode().splitlines() == ["modules: []", "after --strand both: True"]
    lines = proc.stdout.decode().splitlines()
    headers = [r.description for r in read_fasta(EXAMPLES / "barcodes.fasta")]
    assert [line.split("\t")[0] for line in lines[:5]] == headers  # SINTAX: the query label is the whole header
    assert lines[5].split("\t")[-2:] == ["strand", "status"]  # then the TSV of the --strand both run
    assert lines[6].split("\t")[-2] in ("+", "-")
