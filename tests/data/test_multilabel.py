import io
import json
import math

import numpy as np
import pandas as pd
import pytest
import torch

from seqxent.data.alphabet import Alphabet
from seqxent.data.batching import Collate, Example
from seqxent.data.dataset import PreparedData
from seqxent.data.io import FastaRecord
from seqxent.data.labels import (
    drop_rare_labels,
    multi_hot,
    normalize_labels,
    predicted_labels,
    stratification_labels,
)
from seqxent.errors import InputError
from seqxent.model.checkpoint import Checkpoint
from seqxent.model.networks import SequenceCNN
from seqxent.model.probs import sigmoid
from seqxent.predict.formats import get_writer
from seqxent.predict.stream import Prediction, predict_records
from seqxent.prepare.build import PrepareConfig, prepare_dataset
from seqxent.tasks import get_task
from seqxent.tasks.multilabel import MultilabelLoss
from seqxent.train.config import TrainConfig

DNA = Alphabet.from_name("dna")


# --------------------------------------------------------------------------- label sets


@pytest.mark.parametrize(("cell", "separator", "expected"), [
    ("a", ";", "a"),
    ("b;a", ";", "a;b"),
    (" b ; a ;; b ", ";", "a;b"),
    ("United States;Canada", ";", "Canada;United States"),
    ("x|y|x", "|", "x;y"),
    ("a, b", ",", "a;b"),
    (";;", ";", ""),
    ("", ";", ""),
])
def test_normalize_labels(cell, separator, expected):
    assert normalize_labels(cell, separator) == expected


def test_normalize_labels_rejects_the_joining_character_inside_a_label():
    with pytest.raises(InputError, match="Expected labels without ';'.*'a;b'"):
        normalize_labels("a;b|c", separator="|")
    with pytest.raises(InputError, match="`label_separator` to be a non-empty string"):
        normalize_labels("a", separator="")


def test_drop_rare_labels_and_stratification_by_rarest_label():
    labels = ["a;b", "a", "a;c", "c", "b;c", "d"]
    kept, rare = drop_rare_labels(labels, min_count=2)
    assert kept == ["a;b", "a", "a;c", "c", "b;c", ""] and rare == {"d": 1}
    # counts a 3, b 2, c 3: the rarest label of each record, ties broken by name
    assert stratification_labels(kept) == ["b", "a", "a", "c", "b", ""]


def test_multi_hot_ignores_labels_unseen_in_training():
    index = {"a": 0, "b": 1, "c": 2}
    assert multi_hot("a;c", index).tolist() == [1.0, 0.0, 1.0]
    assert multi_hot("z", index).tolist() == [0.0, 0.0, 0.0]
    assert multi_hot("b", index).dtype == np.float32


# --------------------------------------------------------------------------- encoding and collation


def test_collate_multi_hot_targets_exact_tensors():
    examples = get_task("multilabel").encode(["r1", "r2", "r3"], ["ACG", "T", "NA"], ["a;c", "b", "c;z"], DNA,
                                             ["a", "b", "c"])
    batch = Collate(DNA)(examples)
    assert batch.target.dtype == torch.float32
    assert batch.target.tolist() == [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    assert batch.mask.tolist() == [[True, True, True], [True, False, False], [True, True, False]]
    assert batch.x.shape == (3, 4, 3)
    assert batch.x[2, :, 0].tolist() == [0.25, 0.25, 0.25, 0.25]  # N = ¼ each
    assert batch.x[1, :, 1:].abs().sum() == 0  # padding is zero


def test_crop_keeps_the_multi_hot_target_whole():
    ex = Example("r", DNA.to_codes("ACGTACGT"), np.array([0.0, 1.0, 1.0], dtype=np.float32))
    batch = Collate(DNA, max_length=3, generator=np.random.default_rng(0))([ex])
    assert batch.x.shape == (1, 4, 3)
    assert batch.target.tolist() == [[0.0, 1.0, 1.0]]


def _table(rows) -> pd.DataFrame:
    return pd.DataFrame([{"id": i, "sequence": s, "label": lab, "group": n, "split": sp, "reason": ""}
                         for n, (i, s, lab, sp) in enumerate(rows)])


def test_prepared_data_classes_counts_and_examples():
    table = _table([("r1", "ACGT", "b;a", "train"), ("r2", "AC", "a", "train"), ("r3", "GG", "c;a", "valid")])
    data = PreparedData("toy", "multilabel", DNA, "countries", table)
    task = get_task(data.task)
    classes = task.classes(data)
    assert classes == ["a", "b"]  # c is not in the training split
    assert task.class_counts(data, classes).tolist() == [2, 1]
    assert [ex.target.tolist() for ex in task.examples(data, "valid", classes)] == [[1.0, 0.0]]


# --------------------------------------------------------------------------- loss, validation, temperature


def _bce_loop(logits, target):
    """Independent computation: per record, the sum over labels of -[y log s + (1 - y) log(1 - s)]."""
    total = 0.0
    for row, truth in zip(logits.tolist(), target.tolist(), strict=True):
        for z, y in zip(row, truth, strict=True):
            s = 1 / (1 + math.exp(-z))
            total -= y * math.log(s) + (1 - y) * math.log(1 - s)
    return total / len(logits)


def test_loss_is_the_summed_binary_cross_entropy():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]], requires_grad=True)
    target = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
    out = MultilabelLoss()(logits, target, torch.ones(2, 5, dtype=torch.bool))
    assert out.total.item() == pytest.approx(_bce_loop(logits.detach(), target), rel=1e-6)
    assert out.parts == {"ce": pytest.approx(out.total.item())}
    out.total.backward()
    assert logits.grad is not None


@pytest.mark.parametrize(("setting", "value"), [("loss", "focal"), ("class_weighting", "inverse"),
                                                ("label_smoothing", 0.1), ("mixup_alpha", 0.2),
                                                ("teacher", "t.pt"), ("pos_weight", 2.0)])
def test_loss_rejects_settings_it_does_not_implement(setting, value):
    with pytest.raises(InputError, match=f"`{setting}` to be .* for task 'multilabel', but got"):
        get_task("multilabel").check_training(TrainConfig(**{setting: value}), "dna")


def test_validate_reports_summed_bce_and_subset_accuracy():
    model = _constant_model([math.log(3.0), -1.0])  # p = 0.75, 0.269 for every record
    examples = [Example("a", DNA.to_codes("ACGT"), np.array([1.0, 0.0], np.float32)),
                Example("b", DNA.to_codes("GG"), np.array([1.0, 1.0], np.float32))]
    ce, exact = get_task("multilabel").validate(model, examples, Collate(DNA), batch_size=1, device="cpu")
    assert exact == 0.5
    logits = torch.tensor([[math.log(3.0), -1.0]] * 2)
    assert ce == pytest.approx(_bce_loop(logits, torch.tensor([[1.0, 0.0], [1.0, 1.0]])), rel=1e-6)


# --------------------------------------------------------------------------- predict output


def _constant_model(bias) -> SequenceCNN:
    """A sequence CNN whose logits are ``bias`` whatever the input (zero output weights)."""
    model = SequenceCNN(in_channels=DNA.size, n_classes=len(bias), channels=2, kernel_size=3, layers=1)
    with torch.no_grad():
        model.head.weight.zero_()
        model.head.bias.copy_(torch.tensor(bias))
    return model.eval()


def _predict(fmt: str, temperature: float = 1.0, threshold: float = 0.5, calibrated: bool = True) -> str:
    ckpt = Checkpoint(_constant_model([math.log(3.0), 0.0, -math.log(3.0)]), "multilabel", DNA,
                      ["Canada", "Germany", "United States"], "sequence_cnn", {}, temperature)
    records = [FastaRecord("s1", "ACGTTGCA"), FastaRecord("bad", "AC1T"), FastaRecord("s2", "gg")]
    out = io.StringIO()
    writer = get_writer(fmt, ckpt.classes, ckpt.task, threshold=threshold)
    writer.begin(out)
    for pred in predict_records(ckpt, records, batch_size=2, calibrated=calibrated):
        writer.write(out, pred)
    writer.end(out)
    return out.getvalue()


GOLDEN_TSV = (
    "id\tlabel\tp_Canada\tp_Germany\tp_United States\tstatus\n"
    "s1\tCanada;Germany\t0.7500\t0.5000\t0.2500\tpredicted\n"
    "bad\t\t\t\t\tskipped: invalid dna character(s): '1' at position 3\n"
    "s2\tCanada;Germany\t0.7500\t0.5000\t0.2500\tpredicted\n"
)


def test_predict_tsv_golden():
    assert _predict("tsv") == GOLDEN_TSV


def test_predict_threshold_and_temperature():
    lines = _predict("tsv", threshold=0.7).splitlines()
    assert lines[1] == "s1\tCanada\t0.7500\t0.5000\t0.2500\tpredicted"
    # T = 2: sigmoid(ln 3 / 2) = √3 / (1 + √3) = 0.6340; the 0.5 decisions keep the sign of the logit
    lines = _predict("tsv", temperature=2.0).splitlines()
    assert lines[1] == "s1\tCanada;Germany\t0.6340\t0.5000\t0.3660\tpredicted"
    assert _predict("tsv", temperature=2.0, calibrated=False) == GOLDEN_TSV
    assert _predict("tsv", threshold=1.0).splitlines()[1] == "s1\t\t0.7500\t0.5000\t0.2500\tpredicted"


def test_predict_json_golden():
    records = json.loads(_predict("json", threshold=0.6))
    assert records == [
        {"id": "s1", "label": "Canada", "labels": ["Canada"],
         "probs": {"Canada": 0.75, "Germany": 0.5, "United States": 0.25}, "status": "predicted"},
        {"id": "bad", "status": "skipped: invalid dna character(s): '1' at position 3"},
        {"id": "s2", "label": "Canada", "labels": ["Canada"],
         "probs": {"Canada": 0.75, "Germany": 0.5, "United States": 0.25}, "status": "predicted"},
    ]


@pytest.mark.parametrize(("fmt", "threshold", "message"), [
    ("ss2", 0.5, "one of \\['json', 'tsv'\\] for a multilabel model, but got 'ss2'"),
    ("tsv", 1.5, "`threshold` to be a number in \\[0, 1\\], but got 1.5"),
])
def test_writer_errors(fmt, threshold, message):
    with pytest.raises(InputError, match=message):
        get_writer(fmt, ["a"], "multilabel", threshold=threshold)


def test_predicted_labels_and_sigmoid():
    assert predicted_labels(np.array([0.5, 0.49, 1.0]), ["x", "y", "z"]) == "x;z"
    assert predicted_labels(np.array([0.1]), ["x"]) == ""
    assert sigmoid(np.array([[0.0, 2.0]]), temperature=2.0).tolist() == [[0.5, 1 / (1 + math.exp(-1.0))]]
    with pytest.raises(InputError, match="`temperature` to be > 0"):
        sigmoid(np.zeros(1), 0.0)


def test_prediction_probs_are_independent_sigmoids():
    ckpt = Checkpoint(_constant_model([2.0, 2.0]), "multilabel", DNA, ["a", "b"], "sequence_cnn", {}, 1.0)
    (pred,) = list(predict_records(ckpt, [FastaRecord("s", "ACGT")]))
    assert isinstance(pred, Prediction) and pred.novelty is None
    assert pred.probs.sum() == pytest.approx(2 / (1 + math.exp(-2.0)))  # rows need not sum to 1


# --------------------------------------------------------------------------- prepare


def _write_inputs(tmp_path, n_groups=12):
    """Records whose label set depends on the sequence family; a few rare labels and unusable records."""
    families = {"AAAACCCCAAAACCCC": "x;y", "GGGGTTTTGGGGTTTT": "y", "ACACACACGTGTGTGT": "x;z"}
    fasta, rows = [], ["id\tsets"]
    for i in range(n_groups):
        for j, (motif, labels) in enumerate(families.items()):
            rid = f"r{i}_{j}"
            fasta.append(f">{rid}\n{motif}{'ACGT'[i % 4] * (i + 1)}\n")
            rows.append(f"{rid}\t{labels.replace(';', '|')}")
    fasta += [">rare\nACGTACGT\n", ">empty_label\nACGT\n", ">only_sep\nACGA\n"]
    rows += ["rare\tw|x", "empty_label\t", "only_sep\t| |"]
    (tmp_path / "s.fasta").write_text("".join(fasta))
    (tmp_path / "l.tsv").write_text("\n".join(rows) + "\n")
    return tmp_path / "s.fasta", tmp_path / "l.tsv"


def test_prepare_multilabel_normalizes_drops_rare_labels_and_stratifies(tmp_path):
    fasta, labels = _write_inputs(tmp_path)
    cfg = PrepareConfig(name="toy", task="multilabel", alphabet="dna", label_column="sets", fasta=fasta,
                        labels=labels, label_separator="|", min_per_class=2, seed=1)
    table, summary = prepare_dataset(cfg)
    by_id = table.set_index("id")
    assert by_id.loc["r0_0", "label"] == "x;y" and by_id.loc["r0_2", "label"] == "x;z"
    assert by_id.loc["rare", "label"] == "x"  # w (1 record) is removed from the set
    assert by_id.loc["empty_label", "reason"] == "no label in column 'sets'"
    assert by_id.loc["only_sep", "reason"] == "no label in column 'sets'"
    assert summary["labels_dropped_rare"] == {"w": 1}
    assert summary["labels_absent_from_train"] == []
    # every label reaches every split: the split is stratified by each record's rarest label
    assert all(set(summary["label_counts"][s]) == {"x", "y", "z"} for s in ("train", "valid", "test"))
    assert summary["mean_labels_per_record"] == pytest.approx((12 * 5 + 1) / 37)


def test_prepare_excludes_a_record_whose_labels_are_all_rare(tmp_path):
    fasta, labels = _write_inputs(tmp_path)
    cfg = PrepareConfig(name="toy", task="multilabel", alphabet="dna", label_column="sets", fasta=fasta,
                        labels=labels, label_separator="|", min_per_class=13)
    table, _ = prepare_dataset(cfg)
    # x 25, y 24, z 12 records: z is dropped; rare (w;x) keeps x
    assert table.set_index("id").loc["r0_2", "label"] == "x"
    cfg.min_per_class = 25
    table, _ = prepare_dataset(cfg)
    assert table.set_index("id").loc["r0_1", "reason"] == "every label has < min_per_class 25 records"


def test_prepare_rejects_unknown_task():
    with pytest.raises(InputError, match="`task` to be one of \\['sequence', 'residue', 'multilabel', 'lineage'\\]"):
        PrepareConfig(name="x", task="multi", alphabet="dna", label_column="y", table="t.tsv")


# --------------------------------------------------------------------------- end to end on the command line


def _write_table(path, n=16):
    """Label a when the sequence holds AAAA, b when it holds GGGG (records may carry both, or neither)."""
    rng = np.random.default_rng(0)
    lines = ["id\tsequence\tsets"]
    for i in range(n):
        for j, (motif, labels) in enumerate([("AAAAAAAA", "a"), ("GGGGGGGG", "b"), ("AAAAGGGG", "a;b"),
                                             ("CTCTCTCT", "c")]):
            seq = "".join(rng.choice(list("CT"), size=12)) + motif + "".join(rng.choice(list("CT"), size=i % 5))
            lines.append(f"r{i}_{j}\t{seq}\t{labels}")
    path.write_text("\n".join(lines) + "\n")


def test_cli_prepare_train_calibrate_evaluate_predict(tmp_path):
    from seqxent.cli import main

    _write_table(tmp_path / "t.tsv")
    d = tmp_path / "out"
    assert main(["-q", "prepare", "--name", "toy", "--task", "multilabel", "--alphabet", "dna", "--table",
                 str(tmp_path / "t.tsv"), "--label-column", "sets", "--min-per-class", "2",
                 "--output", str(d / "dataset.tsv.gz"), "--summary", str(d / "split_summary.json")]) == 0
    assert main(["-q", "train", "--dataset", str(d / "dataset.tsv.gz"), "--output", str(d / "model_raw.pt"),
                 "--history", str(d / "history.tsv"), "--epochs", "2", "--channels", "4", "--layers", "1",
                 "--kernel-size", "3", "--batch-size", "8", "--device", "cpu", "--threads", "1"]) == 0
    assert main(["-q", "calibrate", "--model", str(d / "model_raw.pt"), "--dataset", str(d / "dataset.tsv.gz"),
                 "--output", str(d / "model.pt"), "--threads", "1"]) == 0
    assert main(["-q", "evaluate", "--model", str(d / "model.pt"), "--dataset", str(d / "dataset.tsv.gz"),
                 "--output", str(d / "metrics.json"), "--predictions", str(d / "pred.tsv.gz"), "--plots-dir",
                 str(d / "plots"), "--history", str(d / "history.tsv"), "--bootstrap", "10", "--threads", "1"]) == 0
    assert main(["-q", "baseline", "--dataset", str(d / "dataset.tsv.gz"), "--method", "kmer_knn", "--k", "4",
                 "--output", str(d / "knn.json")]) == 0
    knn = json.loads((d / "knn.json").read_text())
    assert {"micro_f1", "macro_f1", "subset_accuracy", "hamming_loss", "log_loss_bits"} <= set(knn)
    metrics = json.loads((d / "metrics.json").read_text())
    assert metrics["task"] == "multilabel" and metrics["classes"] == ["a", "b", "c"]
    assert set(metrics["per_class"]["a"]) >= {"precision", "recall", "f1", "auroc", "average_precision", "brier",
                                              "ece", "support"}
    assert {"micro_f1", "macro_f1", "subset_accuracy", "hamming_loss"} <= set(metrics["headline"])
    assert {p.name for p in (d / "plots").iterdir()} == {"confusion.png", "learning_curves.png", "reliability.png",
                                                         "reliability_before_scaling.png"}
    history = pd.read_csv(d / "history.tsv", sep="\t")
    assert {"train_ce", "valid_ce", "valid_accuracy"} <= set(history.columns) and len(history) == 2
    test_rows = pd.read_csv(d / "pred.tsv.gz", sep="\t", keep_default_na=False)
    assert len(test_rows) == metrics["n_records"]

    fasta = tmp_path / "q.fasta"
    fasta.write_text(">q1\nCTCTAAAAAAAACTCT\n>q2\nCTCTGGGGGGGGTC\n>bad\nAC-1\n")
    assert main(["-q", "predict", "--model", str(d / "model.pt"), "--input", str(fasta), "--output",
                 str(tmp_path / "q.tsv"), "--threshold", "0.4", "--device", "cpu"]) == 0
    rows = pd.read_csv(tmp_path / "q.tsv", sep="\t", keep_default_na=False)
    assert rows.columns.tolist() == ["id", "label", "p_a", "p_b", "p_c", "status"]
    assert rows["id"].tolist() == ["q1", "q2", "bad"]
    for _, row in rows.iloc[:2].iterrows():  # label = the labels at or above the threshold
        assert row["label"] == ";".join(c for c in "abc" if float(row[f"p_{c}"]) >= 0.4)
