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


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    out = capsys.readouterr().out
    assert exc.value.code == 0 and all(command in out for command in COMMANDS)


def test_predict_starts_without_the_training_and_plotting_stacks():
    # Only the named command's module is imported: `seqxent predict` stays free of scipy, matplotlib and
    # pandas (about 3 s of start-up on 2 cores), which each Snakemake job and prediction shard pays.
    code = ("import sys\nfrom seqxent.cli import main\nmain(['predict', '--list-models'])\n"
            "print(sorted(m for m in ('scipy', 'matplotlib', 'pandas', 'seqxent.train.loop') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip().splitlines()[-1] == "[]"
    assert "coi_species" in proc.stdout  # and the command did run
