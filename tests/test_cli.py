import subprocess
import sys

import pytest

from seqxent.cli import COMMANDS, main


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_of_every_subcommand(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert "usage: seqxent " + command in capsys.readouterr().out


def test_contract_subcommands_exist():
    assert {"train", "evaluate", "predict", "report"} <= set(COMMANDS)


def test_bad_input_is_one_line_without_traceback(tmp_path):
    fasta = tmp_path / "x.fasta"
    fasta.write_text("not fasta\n")
    proc = subprocess.run([sys.executable, "-m", "seqxent.cli", "predict", "--model", "no_such_model",
                           "--input", str(fasta), "--output", str(tmp_path / "o.tsv")],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert "seqxent predict: error: Expected argument `model` to be a checkpoint file" in proc.stderr
    assert not (tmp_path / "o.tsv").exists()
