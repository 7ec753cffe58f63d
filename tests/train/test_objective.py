import logging
import re

import pandas as pd
import pytest
import torch

from seqxent.data.alphabet import Alphabet
from seqxent.data.batching import Batch
from seqxent.data.dataset import PreparedData
from seqxent.errors import InputError
from seqxent.model.checkpoint import Checkpoint, save_checkpoint
from seqxent.model.losses import masked_cross_entropy
from seqxent.model.networks import build_model, count_parameters
from seqxent.model.soft_targets import distillation_loss, mixup, soft_cross_entropy
from seqxent.tasks import get_task
from seqxent.train.config import TrainConfig
from seqxent.train.loop import train_model
from seqxent.train.objective import _MIXUP_SEED_OFFSET, Objective, build_objective

build_train_loss = get_task("sequence").loss  # the configured loss of single-label tasks

DNA = Alphabet.from_name("dna")


def _data(labels, task="sequence") -> PreparedData:
    """A prepared data set whose training split holds one record per label."""
    rows = [{"id": f"r{i}", "sequence": "ACGTAC" if task == "sequence" else "MKV", "label": label, "group": i,
             "split": "train", "reason": ""} for i, label in enumerate(labels)]
    alphabet = DNA if task == "sequence" else Alphabet.from_name("protein")
    return PreparedData("toy", task, alphabet, "label", pd.DataFrame(rows))


def _batch(seed=0, n=4, classes=3, length=7) -> Batch:
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (n, length), generator=gen)
    x = torch.nn.functional.one_hot(codes, 4).permute(0, 2, 1).float()  # (B, L, C) -> (B, C, L)
    mask = torch.ones(n, length, dtype=torch.bool)
    mask[0, 5:] = False
    x[0, :, 5:] = 0.0
    return Batch([str(i) for i in range(n)], x, mask, torch.randint(0, classes, (n,), generator=gen))


def _model(classes=3, channels=4, seed=0):
    torch.manual_seed(seed)
    hparams = {"in_channels": 4, "n_classes": classes, "channels": channels, "kernel_size": 3, "layers": 1,
               "dropout": 0.0}
    return build_model("sequence_cnn", hparams).eval(), hparams


# ---- the configured loss -------------------------------------------------------------------------------


@pytest.mark.parametrize("beta", [0.5, 3.0])
def test_pos_weight_gives_binary_weights_one_and_beta(beta):
    loss = build_train_loss(TrainConfig(pos_weight=beta), [30, 10])
    w = loss.weight
    assert w[1] / w[0] == pytest.approx(beta)
    assert float((w * torch.tensor([30.0, 10.0])).sum() / 40) == pytest.approx(1.0)  # normalised


def test_pos_weight_is_focal_alpha_with_focal_loss():
    loss = build_train_loss(TrainConfig(loss="focal", pos_weight=2.0), [5, 5])
    assert loss.weight is None and torch.allclose(loss.alpha, torch.tensor([2 / 3, 4 / 3]))


def test_focal_alpha_and_effective_beta_reach_the_loss():
    focal = build_train_loss(TrainConfig(loss="focal", focal_alpha=0.25), [5, 5])
    assert torch.allclose(focal.alpha, torch.tensor([0.75, 0.25]))
    effective = build_train_loss(TrainConfig(class_weighting="effective", effective_beta=0.9), [1, 10])
    raw = torch.tensor([(1 - 0.9) / (1 - 0.9**1), (1 - 0.9) / (1 - 0.9**10)])
    assert torch.allclose(effective.weight, raw * 11 / (raw * torch.tensor([1.0, 10.0])).sum())


@pytest.mark.parametrize(("settings", "counts", "message"), [
    ({"pos_weight": 2.0}, [1, 2, 3], "`pos_weight` to be a positive number, with 2 classes"),
    ({"pos_weight": 2.0, "class_weighting": "inverse"}, [1, 2], "scheme 'none'"),
    ({"loss": "focal", "pos_weight": 2.0, "focal_alpha": 0.3}, [1, 2], "`focal_alpha` 0 with `pos_weight`"),
    ({"focal_alpha": 0.3}, [1, 2], "`alpha` to be None unless kind is 'focal'"),
    ({"loss": "focal", "focal_alpha": 0.3}, [1, 2, 3], "one value per class"),
])
def test_loss_setting_errors_are_input_errors(settings, counts, message):
    with pytest.raises(InputError, match=message):
        build_train_loss(TrainConfig(**settings), counts)


@pytest.mark.parametrize(("settings", "message"), [
    ({"mixup_alpha": 0.2, "loss": "focal"}, "`mixup_alpha` to be used with the plain cross-entropy.*`loss`"),
    ({"mixup_alpha": 0.2, "class_weighting": "inverse"}, "`class_weighting` 'inverse'"),
    ({"teacher": "t.pt", "label_smoothing": 0.1}, "`teacher` to be used .*`label_smoothing` 0.1"),
    ({"teacher": "t.pt", "mixup_alpha": 0.2, "pos_weight": 2.0}, "`pos_weight` 2.0, `mixup_alpha` 0.2"),
])
def test_mixup_and_distillation_need_plain_cross_entropy(settings, message):
    with pytest.raises(InputError, match=message):
        build_objective(TrainConfig(**settings), _data(["a", "b"]), ["a", "b"], torch.device("cpu"))


@pytest.mark.parametrize(("name", "value", "interval"), [
    ("focal_alpha", 1.0, "[0, 1)"), ("effective_beta", -0.1, "[0, 1)"), ("pos_weight", -1.0, "[0, ∞)"),
    ("mixup_alpha", -0.5, "[0, ∞)"), ("distill_alpha", 1.5, "[0, 1]"), ("distill_temperature", 0.0, "(0, ∞)"),
    ("label_smoothing", 1.0, "[0, 1)"),
])
def test_train_config_rejects_out_of_range_values(name, value, interval):
    with pytest.raises(InputError, match=re.escape(f"`{name}` to be in {interval}, but got {value}")):
        TrainConfig(**{name: value})


# ---- mixup -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_mixup_objective_equals_soft_cross_entropy_on_the_mixed_batch(smoothing):
    model, _ = _model()
    batch = _batch()
    cfg = TrainConfig(mixup_alpha=0.4, label_smoothing=smoothing, seed=2)  # λ ≈ 0.67, partners 2 3 1 0
    objective = build_objective(cfg, _data(["a", "b", "c"]), ["a", "b", "c"], torch.device("cpu"))
    out = objective(model, batch)
    gen = torch.Generator().manual_seed(2 + _MIXUP_SEED_OFFSET)  # the objective's generator, replayed
    onehot = torch.eye(3)[batch.target]
    x, mask, target, lam = mixup(batch.x, batch.mask, onehot, 0.4, gen)
    assert lam == pytest.approx(0.6712, abs=1e-4) and not torch.equal(x, batch.x)
    expected = soft_cross_entropy(model(x, mask), (1 - smoothing) * target + smoothing / 3)
    assert out.total.item() == pytest.approx(expected.item(), abs=1e-6)
    assert out.parts == {"ce": pytest.approx(expected.item(), abs=1e-6)}


def test_mixup_generator_state_round_trips():
    model, _ = _model()
    objective = Objective(build_train_loss(TrainConfig(), [1, 1, 1]), 3, mixup_alpha=1.0)
    objective(model, _batch())
    saved = objective.state_dict()
    first = objective(model, _batch(1)).total.item()
    objective.load_state_dict(saved)
    assert objective(model, _batch(1)).total.item() == first


def test_mixup_is_ignored_for_residue_tasks_with_a_warning(caplog):
    with caplog.at_level(logging.WARNING):
        objective = build_objective(TrainConfig(mixup_alpha=0.2), _data(["HEC"], "residue"), ["H", "E", "C"],
                                    torch.device("cpu"))
    assert objective.mixup_alpha == 0.0
    assert "mixup_alpha 0.2 ignored: mixup applies to sequence tasks only" in caplog.text


# ---- distillation ---------------------------------------------------------------------------------------


def _teacher_file(tmp_path, classes=("a", "b", "c"), task="sequence"):
    model, hparams = _model(len(classes), channels=8, seed=1)
    path = tmp_path / "teacher.pt"
    save_checkpoint(Checkpoint(model, task, DNA, list(classes), "sequence_cnn", hparams, 1.5, {}), path)
    return path, model


@pytest.mark.parametrize(("alpha", "temperature"), [(0.0, 2.0), (0.5, 2.0), (0.9, 4.0)])
def test_distillation_objective_matches_distillation_loss(tmp_path, alpha, temperature):
    path, teacher = _teacher_file(tmp_path)
    student, _ = _model(channels=4, seed=2)
    student.train()
    batch = _batch()
    cfg = TrainConfig(teacher=str(path), distill_alpha=alpha, distill_temperature=temperature)
    objective = build_objective(cfg, _data(["a", "b", "c"]), ["a", "b", "c"], torch.device("cpu"))
    out = objective(student, batch)
    out.total.backward()
    student_logits = student(batch.x, batch.mask)
    expected = distillation_loss(student_logits, teacher(batch.x, batch.mask), batch.target, alpha, temperature)
    assert out.total.item() == pytest.approx(expected.item(), abs=1e-6)
    assert out.parts["ce"] == pytest.approx(masked_cross_entropy(student_logits, batch.target).item(), abs=1e-6)
    teacher_model = objective.teacher.model
    assert not teacher_model.training and all(p.grad is None for p in teacher_model.parameters())
    assert objective.meta()["teacher"]["parameters"] == count_parameters(teacher) == 171
    if alpha == 0.0:
        assert out.total.item() == pytest.approx(out.parts["ce"], abs=1e-6)


@pytest.mark.parametrize(("classes", "message"), [(("a", "b"), "with classes \\['a', 'b', 'c'\\], but"),
                                                   (("a", "b", "x"), "has sequence, dna, \\['a', 'b', 'x'\\]")])
def test_teacher_must_match_task_alphabet_and_classes(tmp_path, classes, message):
    path, _ = _teacher_file(tmp_path, classes)
    with pytest.raises(InputError, match=message):
        build_objective(TrainConfig(teacher=str(path)), _data(["a", "b", "c"]), ["a", "b", "c"],
                        torch.device("cpu"))


def _toy(n=48) -> PreparedData:
    gen = torch.Generator().manual_seed(5)
    rows = []
    for i in range(n):
        label = "ab"[i % 2]
        pool = "AAAC" if label == "a" else "GGGT"
        seq = "".join(pool[j] for j in torch.randint(0, 4, (24,), generator=gen).tolist())
        split = "train" if i < 32 else "valid" if i < 40 else "test"
        rows.append({"id": f"r{i}", "sequence": seq, "label": label, "group": i, "split": split, "reason": ""})
    return PreparedData("toy", "sequence", DNA, "label", pd.DataFrame(rows))


def test_train_a_smaller_student_from_a_teacher_checkpoint(tmp_path):
    small = dict(epochs=3, batch_size=8, kernel_size=3, layers=1, dropout=0.0, device="cpu", threads=1, lr=5e-3)
    data = _toy()
    teacher, _ = train_model(data, TrainConfig(**small, channels=16))
    save_checkpoint(teacher, tmp_path / "teacher.pt")
    student, history = train_model(data, TrainConfig(**small, channels=4, teacher=str(tmp_path / "teacher.pt"),
                                                     distill_alpha=0.7, distill_temperature=3.0))
    assert student.meta["teacher"]["parameters"] == teacher.meta["parameters"] > student.meta["parameters"]
    assert student.meta["teacher"]["path"] == str(tmp_path / "teacher.pt")
    assert {"train_loss", "train_ce", "train_distill"} <= set(history.columns)
    assert (history["train_loss"] == history["train_distill"]).all()
