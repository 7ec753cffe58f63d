import numpy as np
import pandas as pd
import pytest
import torch

from seqxent.baseline.kmer import KmerLogisticRegression
from seqxent.data.alphabet import Alphabet
from seqxent.data.batching import Collate
from seqxent.data.dataset import PreparedData
from seqxent.errors import InputError
from seqxent.model.networks import SequenceCNN
from seqxent.tasks import get_task
from seqxent.train.config import TrainConfig
from seqxent.train.loop import init_kmer_branch, train_model

RNG = np.random.default_rng(0)


def _toy_sequence_data(n=60) -> PreparedData:
    """Class a: poly-A rich; class b: poly-G rich. Separable in one epoch or two."""
    rows = []
    for i in range(n):
        label = "ab"[i % 2]
        seq = "".join(RNG.choice(list("AAAC" if label == "a" else "GGGT"), size=30))
        split = "train" if i < 40 else ("valid" if i < 50 else "test")
        rows.append({"id": f"r{i}", "sequence": seq, "label": label, "group": i, "split": split, "reason": ""})
    return PreparedData("toy", "sequence", Alphabet.from_name("dna"), "label", pd.DataFrame(rows))


def _toy_residue_data(n=30) -> PreparedData:
    """H on A/L/E residues, E on V/I/Y, C elsewhere: learnable from the residue alone."""
    state = {"A": "H", "L": "H", "E": "H", "V": "E", "I": "E", "Y": "E", "G": "C", "P": "C", "S": "C"}
    rows = []
    for i in range(n):
        seq = "".join(RNG.choice(list(state), size=40))
        split = "train" if i < 20 else ("valid" if i < 25 else "test")
        rows.append({"id": f"c{i}", "sequence": seq, "label": "".join(state[c] for c in seq), "group": i,
                     "split": split, "reason": ""})
    return PreparedData("toy", "residue", Alphabet.from_name("protein"), "ss3", pd.DataFrame(rows))


CFG = dict(epochs=6, batch_size=8, channels=8, kernel_size=3, layers=2, dropout=0.0, device="cpu", threads=1,
           lr=5e-3, patience=6)


def test_sequence_model_learns_and_history_columns():
    ckpt, history = train_model(_toy_sequence_data(), TrainConfig(**CFG))
    assert list(history.columns[:2]) == ["epoch", "lr"]
    assert {"train_loss", "train_ce", "valid_ce", "valid_accuracy", "seconds"} <= set(history.columns)
    assert history["valid_ce"].iloc[-1] < history["valid_ce"].iloc[0]
    assert ckpt.classes == ["a", "b"] and ckpt.task == "sequence"
    assert ckpt.meta["best_epoch"] == int(history["valid_ce"].idxmin()) + 1


def test_residue_model_with_jsd_penalty_records_it():
    ckpt, history = train_model(_toy_residue_data(), TrainConfig(**CFG, jsd_lambda=0.5))
    assert ckpt.classes == ["H", "E", "C"]
    assert "train_jsd" in history.columns and (history["train_jsd"] >= 0).all()
    assert history["valid_accuracy"].max() > 0.6


def test_same_seed_same_weights():
    data = _toy_sequence_data()
    a, _ = train_model(data, TrainConfig(**{**CFG, "epochs": 2}))
    b, _ = train_model(data, TrainConfig(**{**CFG, "epochs": 2}))
    for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items(), strict=True):
        assert torch.equal(x, y), name


def test_ema_checkpoint_is_the_warmed_up_average_of_the_steps(monkeypatch):
    """With ema_decay, the saved weights are the average an independent loop computes from every step's weights."""
    import seqxent.train.loop

    steps = []  # the network's weights after every optimizer step
    original = seqxent.train.loop.AveragedModel.update_parameters

    def record(self, model):
        steps.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        original(self, model)

    monkeypatch.setattr(seqxent.train.loop.AveragedModel, "update_parameters", record)
    data = _toy_sequence_data()
    ckpt, history = train_model(data, TrainConfig(**{**CFG, "epochs": 1, "ema_decay": 0.8}))
    assert len(steps) == 5  # 40 training records in batches of 8
    expected = {k: v.clone() for k, v in steps[0].items()}  # the first update copies
    for n, weights in enumerate(steps[1:], start=1):
        decay = min(0.8, (1 + n) / (10 + n))  # 2/11, 3/12, ... below 0.8 for these steps
        for key, value in weights.items():
            expected[key] = expected[key] * decay + value * (1 - decay) if value.is_floating_point() else value
    for key, value in ckpt.model.state_dict().items():
        torch.testing.assert_close(value, expected[key], msg=key)
    assert not torch.equal(ckpt.model.state_dict()["head.weight"], steps[-1]["head.weight"])


def test_ensemble_holds_the_members_trained_alone_and_reports_its_own_validation():
    data = _toy_sequence_data()
    cfg = {**CFG, "epochs": 3, "seed": 4}
    ckpt, history = train_model(data, TrainConfig(**cfg, ensemble=2))
    alone = [train_model(data, TrainConfig(**{**cfg, "seed": seed}))[0] for seed in (4, 5)]
    assert ckpt.architecture == "ensemble" and ckpt.hparams["member"] == "sequence_cnn"
    for member, single in zip(ckpt.model.members, alone, strict=True):
        for (name, x), (_, y) in zip(member.state_dict().items(), single.model.state_dict().items(), strict=True):
            assert torch.equal(x, y), name
    assert [m["seed"] for m in ckpt.meta["members"]] == [4, 5]
    assert [m["best_valid_ce"] for m in ckpt.meta["members"]] == [a.meta["best_valid_ce"] for a in alone]
    assert list(history.columns[:2]) == ["member", "epoch"] and history["member"].tolist() == [1, 1, 1, 2, 2, 2]
    # The ensemble's validation cross-entropy: the mean of the members' probabilities, computed apart.
    valid = data.table[data.table["split"] == "valid"]
    batch = Collate(data.alphabet)(get_task(data.task).examples(data, "valid", ckpt.classes))
    with torch.no_grad():
        probs = sum(torch.softmax(a.model(batch.x, batch.mask), dim=1) for a in alone) / 2
    target = torch.tensor([ckpt.classes.index(y) for y in valid["label"]])
    want = float(-torch.log(probs[torch.arange(len(target)), target]).mean())
    assert ckpt.meta["best_valid_ce"] == pytest.approx(want, rel=1e-5)
    assert ckpt.meta["valid_accuracy"] == pytest.approx(float((probs.argmax(dim=1) == target).float().mean()))


def test_config_errors():
    with pytest.raises(InputError, match="`epochs` to be ≥ 1, but got 0"):
        TrainConfig(epochs=0)
    with pytest.raises(InputError, match="`dropout` to be in \\[0, 1\\), but got 1.5"):
        TrainConfig(dropout=1.5)
    with pytest.raises(InputError, match="`ema_decay` to be in \\[0, 1\\), but got 1"):
        TrainConfig(ema_decay=1.0)
    with pytest.raises(InputError, match="`ensemble` to be ≥ 1, but got 0"):
        TrainConfig(ensemble=0)
    with pytest.raises(InputError, match="`kmer_k` to be in \\[0, 10\\], but got -1"):
        TrainConfig(kmer_k=-1)
    with pytest.raises(InputError, match="`mixup_alpha` to be 0 with `kmer_k` 6, but got 0.2"):
        TrainConfig(kmer_k=6, mixup_alpha=0.2)
    with pytest.raises(InputError, match="`kmer_k` to be 0 for residue tasks, but got 3"):
        train_model(_toy_residue_data(), TrainConfig(**CFG, kmer_k=3))


def test_kmer_branch_is_trained_and_saved_in_the_checkpoint():
    ckpt, history = train_model(_toy_sequence_data(), TrainConfig(**CFG, kmer_k=2))
    assert ckpt.hparams["kmer_k"] == 2
    assert ckpt.model.kmers is not None and ckpt.model.kmers.linear.weight.abs().sum() > 0
    assert history["valid_ce"].iloc[-1] < history["valid_ce"].iloc[0]
    plain, _ = train_model(_toy_sequence_data(), TrainConfig(**CFG))
    assert "kmer_k" not in plain.hparams


def test_empty_valid_split_is_an_error():
    data = _toy_sequence_data()
    data.table["split"] = "train"
    with pytest.raises(InputError, match="empty split"):
        train_model(data, TrainConfig(**CFG))


def _three_class_data() -> PreparedData:
    rng = np.random.default_rng(5)
    rows = [{"id": f"r{i}", "sequence": "".join(rng.choice(list(("AAAC", "GGGT", "ACGT")[i % 3]), size=25)),
             "label": "xyz"[i % 3], "group": i, "split": "train" if i < 30 else "valid", "reason": ""}
            for i in range(36)]
    return PreparedData("toy3", "sequence", Alphabet.from_name("dna"), "label", pd.DataFrame(rows))


@pytest.mark.parametrize("c", [100.0, 0.5])
@pytest.mark.parametrize("make", [_toy_sequence_data, _three_class_data])
def test_kmer_branch_starts_as_the_kmer_logistic_regression(make, c):
    data = make()
    classes = get_task(data.task).classes(data)
    model = SequenceCNN(4, len(classes), channels=8, layers=1, kmer_k=3).eval()
    init_kmer_branch(model, data, classes, TrainConfig(**CFG, kmer_k=3, kmer_init="logreg", kmer_c=c))
    train = data.split("train")
    seqs = train["sequence"].tolist()
    peer = KmerLogisticRegression(k=3, C=c, seed=1).fit(seqs, train["label"].tolist())
    batch = Collate(data.alphabet)(get_task(data.task).examples(data, "train", classes))
    with torch.no_grad():
        probs = torch.softmax(model.kmers(batch.x, batch.mask), dim=1).numpy()
    order = [classes.index(c) for c in peer.classes_]
    # batch rows follow the examples, which follow the table's training rows
    np.testing.assert_allclose(probs[:, order], peer.predict_proba(seqs), atol=1e-5)


def test_kmer_init_errors():
    with pytest.raises(InputError, match="`kmer_c` to be in \\(0, ∞\\), but got 0"):
        TrainConfig(kmer_c=0)
    with pytest.raises(InputError, match="`kmer_init` to be one of \\['random', 'logreg'\\], but got 'zeros'"):
        TrainConfig(kmer_init="zeros")
    protein = _toy_sequence_data()
    protein.alphabet = Alphabet.from_name("protein")
    with pytest.raises(InputError, match="`kmer_init` to be 'random' for sequence tasks on protein, but got 'logreg'"):
        train_model(protein, TrainConfig(**CFG, kmer_k=2, kmer_init="logreg"))
