"""The Task abstraction: the registry, what each task kind decides, and that nothing else asks for the kind."""

import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from seqxent.data.alphabet import Alphabet
from seqxent.data.dataset import PreparedData
from seqxent.errors import InputError
from seqxent.tasks import TASKS, Task, get_task
from seqxent.train.config import TrainConfig

PACKAGE = Path(__file__).resolve().parents[2] / "seqxent"
DNA, PROTEIN = Alphabet.from_name("dna"), Alphabet.from_name("protein")


def test_registry_names_every_task_by_its_own_name():
    assert list(TASKS) == ["sequence", "residue", "multilabel", "lineage"]
    assert all(isinstance(task, Task) and task.name == name for name, task in TASKS.items())
    with pytest.raises(InputError, match=r"`task` to be one of \[.*, .lineage.\], but got .x."):
        get_task("x")


def test_no_module_outside_the_tasks_package_compares_task_names():
    """The acceptance of the Task abstraction: the stages ask their task, they never test which one it is."""
    pattern = re.compile(r"""\btask\w*\s*(==|!=|\bin\b|\bnot in\b)\s*[("'\[]"""
                         r"""|["'](sequence|residue|multilabel|lineage)["']\s*(==|!=)""")
    offenders = [f"{path.relative_to(PACKAGE)}:{n}: {line.strip()}"
                 for path in PACKAGE.rglob("*.py") if "tasks" not in path.relative_to(PACKAGE).parts
                 for n, line in enumerate(path.read_text().splitlines(), 1) if pattern.search(line)]
    assert not offenders, "\n".join(offenders)


def _data(task: str, labels: list[str], seqs: list[str], alphabet=DNA) -> PreparedData:
    rows = pd.DataFrame({"id": [f"r{i}" for i in range(len(labels))], "sequence": seqs, "label": labels,
                         "split": ["train"] * (len(labels) - 1) + ["valid"]})
    return PreparedData("toy", task, alphabet, "label", rows)


def test_classes_and_counts_per_task():
    sequence = _data("sequence", ["b", "a", "b", "c"], ["A", "C", "G", "T"])
    assert get_task("sequence").classes(sequence) == ["a", "b"]  # c is only in valid
    assert get_task("sequence").class_counts(sequence, ["a", "b", "c"]).tolist() == [1, 2, 0]
    residue = _data("residue", ["CCH", "EEC", "HHH"], ["MKV", "MKV", "MKV"], PROTEIN)
    assert get_task("residue").classes(residue) == ["H", "E", "C"]  # PSIPRED's order, not sorted
    assert get_task("residue").class_counts(residue, ["H", "E", "C"]).tolist() == [1, 2, 3]
    multilabel = _data("multilabel", ["x;y", "y", "z"], ["A", "C", "G"])
    assert get_task("multilabel").classes(multilabel) == ["x", "y"]
    assert get_task("multilabel").class_counts(multilabel, ["x", "y"]).tolist() == [1, 2]


def test_targets_per_task():
    assert [ex.target for ex in get_task("sequence").encode(["a"], ["ACG"], ["y"], DNA, ["x", "y"])] == [1]
    residue = get_task("residue").encode(["p"], ["MKV"], ["HEC"], PROTEIN, ["H", "E", "C"])[0].target
    assert residue.dtype == np.int64 and residue.tolist() == [0, 1, 2]
    multi = get_task("multilabel").encode(["a"], ["AC"], ["z;x"], DNA, ["x", "y"])[0].target
    assert multi.dtype == np.float32 and multi.tolist() == [1.0, 0.0]  # z is unseen: left out


def test_label_problems_per_task():
    cfg = SimpleNamespace(label_separator=";", label_column="countries")
    assert get_task("sequence").label_problem("ACGT", "anything", cfg) == ""
    assert get_task("residue").label_problem("MKV", "HE", cfg) == "invalid: 2 residue labels for 3 residues"
    assert get_task("multilabel").label_problem("ACGT", " ; ;", cfg) == "no label in column 'countries'"
    assert get_task("multilabel").label_problem("ACGT", "a;b", cfg) == ""


def test_activations_per_task():
    logits = np.array([[0.0, np.log(3.0)]])
    np.testing.assert_allclose(get_task("sequence").probs(logits), [[0.25, 0.75]])
    np.testing.assert_allclose(get_task("multilabel").probs(logits), [[0.5, 0.75]])
    np.testing.assert_allclose(get_task("residue").probs(logits, temperature=2.0), [[1 / (1 + 3 ** 0.5), 0.634]],
                               atol=1e-3)


@pytest.mark.parametrize(("task", "settings", "message"), [
    ("residue", {"kmer_k": 5}, "`kmer_k` to be 0 for residue tasks, but got 5"),
    ("multilabel", {"kmer_k": 5, "kmer_init": "logreg"}, "`kmer_init` to be 'random' for multilabel tasks on dna"),
    ("multilabel", {"label_smoothing": 0.1}, "`label_smoothing` to be 0.0 for task 'multilabel', but got 0.1"),
])
def test_training_settings_a_task_cannot_use(task, settings, message):
    with pytest.raises(InputError, match=re.escape(message)):
        get_task(task).check_training(TrainConfig(**settings), "dna")
    get_task("sequence").check_training(TrainConfig(**settings), "dna")  # the sequence task takes them all


def test_sequence_kmer_start_needs_dna():
    with pytest.raises(InputError, match="`kmer_init` to be 'random' for sequence tasks on protein"):
        get_task("sequence").check_training(TrainConfig(kmer_k=3, kmer_init="logreg"), "protein")


def test_capabilities_are_declared_per_task():
    capabilities = {name: (t.activation, t.architecture, t.novelty, t.per_residue, t.label_sets, t.baselines)
                    for name, t in TASKS.items()}
    assert capabilities == {"sequence": ("softmax", "sequence_cnn", True, False, False, "labels"),
                            "residue": ("softmax", "residue_cnn", False, True, False, None),
                            "multilabel": ("sigmoid", "sequence_cnn", False, False, True, "powerset"),
                            "lineage": ("softmax", "sequence_cnn", False, False, False, "labels")}
