import logging
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch

import seqxent.train.loop
from seqxent.cli import main
from seqxent.data.alphabet import Alphabet
from seqxent.data.dataset import PreparedData, write_dataset
from seqxent.data.io import default_file_mode
from seqxent.model.checkpoint import load_checkpoint
from seqxent.train.config import TrainConfig
from seqxent.train.loop import train_model
from seqxent.train.resume import TrainingState, capture_rng, fingerprint, load_state, restore_rng, save_state


def _sequence_data(n=60, length=30, seed=0) -> PreparedData:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        label = "abc"[i % 3]
        seq = "".join(rng.choice(list({"a": "AAAC", "b": "GGGT", "c": "ACGT"}[label]), size=length))
        split = "train" if i < 0.7 * n else "valid" if i < 0.85 * n else "test"
        rows.append({"id": f"r{i}", "sequence": seq, "label": label, "group": i, "split": split, "reason": ""})
    return PreparedData("toy", "sequence", Alphabet.from_name("dna"), "label", pd.DataFrame(rows))


def _residue_data(n=24) -> PreparedData:
    rng = np.random.default_rng(1)
    state = {"A": "H", "L": "H", "V": "E", "I": "E", "G": "C", "P": "C"}
    rows = []
    for i in range(n):
        seq = "".join(rng.choice(list(state), size=int(rng.integers(20, 40))))
        split = "train" if i < 16 else "valid" if i < 20 else "test"
        rows.append({"id": f"c{i}", "sequence": seq, "label": "".join(state[c] for c in seq), "group": i,
                     "split": split, "reason": ""})
    return PreparedData("toy", "residue", Alphabet.from_name("protein"), "ss3", pd.DataFrame(rows))


CFG = dict(epochs=5, batch_size=8, channels=8, kernel_size=3, layers=2, dropout=0.3, device="cpu", threads=1,
           lr=5e-3, patience=5)


def _assert_same_run(a, b):
    (ckpt_a, hist_a), (ckpt_b, hist_b) = a, b
    for (name, x), (_, y) in zip(ckpt_a.model.state_dict().items(), ckpt_b.model.state_dict().items(), strict=True):
        assert torch.equal(x, y), name
    pd.testing.assert_frame_equal(hist_a.drop(columns="seconds"), hist_b.drop(columns="seconds"), check_exact=True)
    assert ckpt_a.meta["best_epoch"] == ckpt_b.meta["best_epoch"]


class _Killed(Exception):
    pass


def _interrupt_after(monkeypatch, epoch: int):
    """Make training stop (as if killed) right after the state of ``epoch`` was saved."""
    def save_then_die(state, path):
        save_state(state, path)
        if state.epoch == epoch:
            raise _Killed
    monkeypatch.setattr(seqxent.train.loop, "save_state", save_then_die)


@pytest.mark.parametrize(("data", "extra"), [
    (_sequence_data, {"mixup_alpha": 0.4, "label_smoothing": 0.1}),  # dropout, batch order and mixup draws
    (_sequence_data, {"max_length": 20, "loss": "focal"}),  # random crops
    (_residue_data, {"jsd_lambda": 0.2, "max_length": 25}),
    (_sequence_data, {"ema_decay": 0.9}),  # the weight average
])
def test_resumed_run_equals_uninterrupted_run(tmp_path, monkeypatch, data, extra):
    cfg = TrainConfig(**CFG, **extra)
    uninterrupted = train_model(data(), cfg)
    state_path = tmp_path / "state.pt"
    with monkeypatch.context() as patch:
        _interrupt_after(patch, epoch=2)
        with pytest.raises(_Killed):
            train_model(data(), cfg, state_path)
    assert load_state(state_path, fingerprint(vars(cfg), data().table)).epoch == 2
    resumed = train_model(data(), cfg, state_path)
    assert resumed[0].meta["resumed_after_epoch"] == 2 and uninterrupted[0].meta["resumed_after_epoch"] is None
    _assert_same_run(uninterrupted, resumed)


def test_interrupted_ensemble_resumes_inside_its_second_member(tmp_path, monkeypatch):
    cfg = TrainConfig(**CFG, ensemble=2)
    uninterrupted = train_model(_sequence_data(), cfg)
    state_path = tmp_path / "state.pt"
    with monkeypatch.context() as patch:
        def save_then_die(state, path):
            save_state(state, path)
            if path.name == "state.member2.pt" and state.epoch == 2:
                raise _Killed
        patch.setattr(seqxent.train.loop, "save_state", save_then_die)
        with pytest.raises(_Killed):
            train_model(_sequence_data(), cfg, state_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.member1.pt", "state.member2.pt"]
    resumed = train_model(_sequence_data(), cfg, state_path)
    assert list(tmp_path.iterdir()) == []  # member states are removed once the ensemble is done
    for (name, x), (_, y) in zip(uninterrupted[0].model.state_dict().items(),
                                 resumed[0].model.state_dict().items(), strict=True):
        assert torch.equal(x, y), name
    pd.testing.assert_frame_equal(uninterrupted[1].drop(columns="seconds"), resumed[1].drop(columns="seconds"))


def test_state_of_a_finished_early_stopped_run_gives_the_same_result(tmp_path, caplog):
    cfg = TrainConfig(**{**CFG, "patience": 1, "epochs": 30})
    first = train_model(_sequence_data(), cfg, tmp_path / "state.pt")
    assert len(first[1]) < 30, "stopped early"
    with caplog.at_level(logging.INFO):
        again = train_model(_sequence_data(), cfg, tmp_path / "state.pt")
    assert f"after epoch {len(first[1])}" in caplog.text
    _assert_same_run(first, again)
    assert again[1]["seconds"].tolist() == first[1]["seconds"].tolist()  # nothing was retrained


def test_state_of_other_settings_is_ignored(tmp_path, monkeypatch, caplog):
    with monkeypatch.context() as patch:
        _interrupt_after(patch, epoch=1)
        with pytest.raises(_Killed):
            train_model(_sequence_data(), TrainConfig(**{**CFG, "lr": 1e-3}), tmp_path / "state.pt")
    cfg = TrainConfig(**CFG)
    with caplog.at_level(logging.WARNING):
        fresh = train_model(_sequence_data(), cfg, tmp_path / "state.pt")
    assert "saved for other settings or data; training from scratch" in caplog.text
    _assert_same_run(train_model(_sequence_data(), cfg), fresh)


def test_fingerprint_covers_settings_train_and_valid_rows_but_not_threads_or_test_rows(tmp_path):
    data = _sequence_data()
    base = fingerprint(vars(TrainConfig()), data.table)
    assert fingerprint(vars(TrainConfig(threads=7, device="cpu")), data.table) == base
    assert fingerprint(vars(TrainConfig(seed=2)), data.table) != base
    changed = data.table.copy()
    changed.loc[changed["split"] == "test", "sequence"] = "ACGT"
    assert fingerprint(vars(TrainConfig()), changed) == base
    changed.loc[changed["split"] == "valid", "label"] = "a"
    assert fingerprint(vars(TrainConfig()), changed) != base
    teacher = tmp_path / "t.pt"
    teacher.write_bytes(b"one")
    with_teacher = fingerprint(vars(TrainConfig()), data.table, str(teacher))
    teacher.write_bytes(b"two")
    assert fingerprint(vars(TrainConfig()), data.table, str(teacher)) != with_teacher != base


def test_state_round_trip_and_rng_restore(tmp_path):
    generator = np.random.default_rng(3)
    torch.manual_seed(4)
    rng = capture_rng(generator)
    expected = (torch.rand(3), generator.integers(0, 10**9, 3))
    state = TrainingState("fp", 2, {"w": torch.ones(2)}, {"state": {}, "param_groups": [{"lr": 0.1}]},
                          {"last_epoch": 2}, {"w": torch.zeros(2)}, 0.5, 1, 1, [{"epoch": 1, "lr": 0.1}], rng)
    save_state(state, tmp_path / "s.pt")
    loaded = load_state(tmp_path / "s.pt", "fp")
    assert loaded.epoch == 2 and loaded.history == [{"epoch": 1, "lr": 0.1}] and torch.equal(loaded.best["w"],
                                                                                             torch.zeros(2))
    restore_rng(loaded.rng, generator)
    assert torch.equal(torch.rand(3), expected[0])
    assert generator.integers(0, 10**9, 3).tolist() == expected[1].tolist()
    assert [p.name for p in tmp_path.iterdir()] == ["s.pt"], "no temporary file is left behind"
    assert (tmp_path / "s.pt").stat().st_mode & 0o777 == default_file_mode()  # not mkstemp's 0o600


@pytest.mark.parametrize("content", [b"", b"not a torch file", None])
def test_unreadable_or_foreign_state_is_ignored(tmp_path, caplog, content):
    path = tmp_path / "s.pt"
    if content is None:
        torch.save({"format": "something else"}, path)
    else:
        path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        assert load_state(path, "fp") is None
    assert "training from scratch" in caplog.text


def _train_command(dataset, out, history, state=None):
    cmd = [sys.executable, "-m", "seqxent.cli", "train", "--dataset", str(dataset), "--output", str(out),
           "--history", str(history), "--epochs", "8", "--patience", "8", "--batch-size", "8", "--channels",
           "8", "--kernel-size", "5", "--layers", "2", "--dropout", "0.2", "--lr", "0.003", "--device", "cpu",
           "--threads", "1", "--max-length", "80"]
    return cmd + (["--state", str(state)] if state else [])


@pytest.mark.slow
def test_sigkill_mid_training_then_resume_gives_identical_weights_and_history(tmp_path):
    """A training subprocess is SIGKILLed after an epoch; run again, it ends exactly as an uninterrupted run."""
    data = _sequence_data(n=160, length=100, seed=2)
    dataset = tmp_path / "dataset.tsv.gz"
    write_dataset(data.table, dataset, {"name": "toy", "task": "sequence", "alphabet": "dna",
                                        "label_column": "label"})
    assert main(_train_command(dataset, tmp_path / "full.pt", tmp_path / "full.tsv")[3:]) == 0  # in-process
    state = tmp_path / "state.pt"
    cmd = _train_command(dataset, tmp_path / "resumed.pt", tmp_path / "resumed.tsv", state)
    victim = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not state.exists() and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(victim.pid, signal.SIGKILL)
    assert victim.wait() == -signal.SIGKILL, "training ended before it could be killed"
    killed_after = torch.load(state, weights_only=True)["epoch"]
    assert 1 <= killed_after < 8 and not (tmp_path / "resumed.pt").exists()
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"resuming from {state} after epoch" in resumed.stderr
    assert not state.exists(), "the state is removed once the checkpoint is written"
    a, b = load_checkpoint(tmp_path / "full.pt"), load_checkpoint(tmp_path / "resumed.pt")
    for (name, x), (_, y) in zip(a.model.state_dict().items(), b.model.state_dict().items(), strict=True):
        assert torch.equal(x, y), name
    hist_a, hist_b = (pd.read_csv(tmp_path / f"{n}.tsv", sep="\t").drop(columns="seconds") for n in ("full", "resumed"))
    pd.testing.assert_frame_equal(hist_a, hist_b, check_exact=True)
    assert len(hist_b) == 8
