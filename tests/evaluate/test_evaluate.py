import numpy as np
import pytest
from sklearn.metrics import recall_score

from seqxent.metrics import classification as metrics
from seqxent.tasks.single_label import minority_recall


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("fraction", [0.25, 0.5])
def test_minority_recall_matches_sklearn_on_the_rarest_classes(seed, fraction):
    rng = np.random.default_rng(seed)
    classes = [f"c{i}" for i in range(7)]
    counts = rng.permutation([1, 2, 5, 9, 20, 40, 80])
    target = rng.integers(0, 7, 200)
    probs = rng.dirichlet(np.ones(7), size=200)
    per_class = metrics.classification_metrics(probs, target, classes)["per_class"]
    out = minority_recall(per_class, counts, classes, fraction)
    rarest = np.argsort(counts)[: int(np.ceil(7 * fraction))]  # 2 or 4 classes
    assert out["classes"] == [classes[i] for i in rarest] and out["train_counts"] == sorted(counts)[: len(rarest)]
    recalls = recall_score(target, probs.argmax(axis=1), labels=rarest, average=None)
    assert out["recall"] == pytest.approx(recalls.mean())


def test_minority_recall_binary_is_the_minority_class_recall():
    per_class = {"no": {"recall": 0.9}, "yes": {"recall": 0.4}}
    assert minority_recall(per_class, [90, 10], ["no", "yes"]) == {
        "fraction": 0.25, "classes": ["yes"], "train_counts": [10], "recall": 0.4}


def test_minority_recall_skips_classes_absent_from_the_split_and_breaks_ties_by_class_order():
    per_class = {"a": {"recall": None}, "b": {"recall": 0.5}, "c": {"recall": 1.0}, "d": {"recall": 0.0}}
    assert minority_recall(per_class, [3, 3, 3, 9], list("abcd"), fraction=0.5)["classes"] == ["a", "b"]
    assert minority_recall(per_class, [3, 3, 3, 9], list("abcd"), fraction=0.5)["recall"] == 0.5
    assert minority_recall(per_class, [1, 3, 3, 9], list("abcd"))["recall"] is None


@pytest.mark.parametrize("task", ["sequence", "residue"])
def test_evaluate_split_without_bootstrap_has_no_intervals(task):
    from types import SimpleNamespace

    import pandas as pd

    from seqxent.data.alphabet import Alphabet
    from seqxent.tasks import SplitPredictions, get_task

    rng = np.random.default_rng(0)
    ckpt = SimpleNamespace(task=task, temperature=1.0, classes=["H", "E", "C"],
                           alphabet=Alphabet.from_name("protein"))
    rows = pd.DataFrame({"id": ["a", "b"], "sequence": ["MKVL", "MKVLA"]})
    n = 9 if task == "residue" else 2
    unit = np.repeat([0, 1], [4, 5]) if task == "residue" else np.arange(2)
    preds = SplitPredictions(rows, rng.normal(size=(n, 3)), rng.integers(0, 3, n), unit)
    result = get_task(task).evaluate(ckpt, preds, n_boot=0)
    assert all(entry["ci95"] is None for entry in result["headline"].values())
    assert result["headline"]["accuracy"]["value"] == pytest.approx(
        (preds.logits.argmax(axis=1) == preds.target).mean())
