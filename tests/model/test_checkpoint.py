"""Tests of seqxent.model.checkpoint: save/load round trip, strict key checks and model name resolution."""

import os

import pytest
import torch

from seqxent.data.alphabet import Alphabet
from seqxent.data.batching import Collate, Example
from seqxent.errors import InputError
from seqxent.model import checkpoint as ckpt_module
from seqxent.model.checkpoint import KEYS, Checkpoint, load_checkpoint, resolve_model, save_checkpoint
from seqxent.model.networks import build_model

HPARAMS = {"in_channels": 20, "n_classes": 3, "channels": 8, "kernel_size": 3, "layers": 2, "dropout": 0.1}


def _checkpoint() -> Checkpoint:
    torch.manual_seed(0)
    model = build_model("residue_cnn", HPARAMS).eval()
    return Checkpoint(model, "residue", Alphabet.from_name("protein"), ["H", "E", "C"], "residue_cnn",
                      dict(HPARAMS), temperature=1.5, meta={"dataset": "toy", "epochs": 2, "lr": 1e-3})


def _logits(model, seqs=("MKVLAAG", "WY")):
    alphabet = Alphabet.from_name("protein")
    batch = Collate(alphabet)([Example(str(i), alphabet.to_codes(s)) for i, s in enumerate(seqs)])
    with torch.no_grad():
        return model(batch.x, batch.mask)


@pytest.fixture
def saved(tmp_path):
    ckpt = _checkpoint()
    path = tmp_path / "models" / "model.pt"
    save_checkpoint(ckpt, path)
    return ckpt, path


def test_round_trip_identical_logits(saved):
    ckpt, path = saved
    loaded = load_checkpoint(path)
    assert torch.equal(_logits(ckpt.model), _logits(loaded.model))
    assert not loaded.model.training


def test_ensemble_round_trip_identical_logits(tmp_path):
    torch.manual_seed(0)
    hparams = {"member": "residue_cnn", "n_members": 2, "combine": "softmax", **HPARAMS}
    ckpt = Checkpoint(build_model("ensemble", hparams).eval(), "residue", Alphabet.from_name("protein"),
                      ["H", "E", "C"], "ensemble", hparams, meta={"members": [{"seed": 1}, {"seed": 2}]})
    save_checkpoint(ckpt, tmp_path / "ensemble.pt")
    loaded = load_checkpoint(tmp_path / "ensemble.pt")
    assert loaded.architecture == "ensemble" and len(loaded.model.members) == 2
    assert torch.equal(_logits(ckpt.model), _logits(loaded.model))


def test_round_trip_metadata(saved):
    _, path = saved
    loaded = load_checkpoint(str(path))
    assert loaded.task == "residue"
    assert loaded.alphabet == Alphabet.from_name("protein")
    assert loaded.classes == ["H", "E", "C"]
    assert loaded.architecture == "residue_cnn"
    assert loaded.hparams == HPARAMS
    assert loaded.temperature == 1.5
    assert loaded.meta == {"dataset": "toy", "epochs": 2, "lr": 1e-3}


def test_saved_file_is_plain_dict_loadable_with_weights_only(saved):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    assert set(payload) == KEYS
    assert payload["format"] == "seqxent-checkpoint"
    assert payload["version"] == 1
    assert payload["alphabet"] == "protein"


def test_save_is_atomic_no_leftover_files(saved):
    _, path = saved
    assert os.listdir(path.parent) == ["model.pt"]


def _rewrite(path, **changes):
    payload = torch.load(path, weights_only=True)
    for key, value in changes.items():
        if value is None:
            del payload[key]
        else:
            payload[key] = value
    torch.save(payload, path)


def test_extra_key_named(saved):
    _, path = saved
    _rewrite(path, optimizer={"lr": 0.1})
    with pytest.raises(InputError) as info:
        load_checkpoint(path)
    assert str(info.value) == f"{path}: checkpoint keys differ: missing [], unexpected ['optimizer']"


def test_missing_key_named(saved):
    _, path = saved
    _rewrite(path, temperature=None)
    with pytest.raises(InputError) as info:
        load_checkpoint(path)
    assert str(info.value) == f"{path}: checkpoint keys differ: missing ['temperature'], unexpected []"


def test_unsupported_version(saved):
    _, path = saved
    _rewrite(path, version=99)
    with pytest.raises(InputError, match="checkpoint version 99 is not supported"):
        load_checkpoint(path)


def test_state_dict_with_extra_weight(saved):
    _, path = saved
    state = torch.load(path, weights_only=True)["state_dict"]
    state["extra.weight"] = torch.zeros(1)
    _rewrite(path, state_dict=state)
    with pytest.raises(InputError, match=r"(?s)do not match the architecture: .*Unexpected.*extra\.weight"):
        load_checkpoint(path)


def test_state_dict_with_missing_weight(saved):
    _, path = saved
    state = torch.load(path, weights_only=True)["state_dict"]
    del state["head.bias"]
    _rewrite(path, state_dict=state)
    with pytest.raises(InputError, match=r"(?s)weights do not match the architecture: .*Missing.*head\.bias"):
        load_checkpoint(path)


def test_hparams_that_do_not_match_weights(saved):
    _, path = saved
    _rewrite(path, hparams={**HPARAMS, "channels": 16})
    with pytest.raises(InputError, match="weights do not match the architecture"):
        load_checkpoint(path)


def test_unknown_hyperparameter(saved):
    _, path = saved
    _rewrite(path, hparams={**HPARAMS, "attention_heads": 4})
    with pytest.raises(InputError, match="checkpoint does not describe a known model: .*attention_heads"):
        load_checkpoint(path)


@pytest.mark.parametrize(("key", "value"), [("alphabet", "rna"), ("architecture", "transformer")])
def test_unknown_alphabet_or_architecture(saved, key, value):
    _, path = saved
    _rewrite(path, **{key: value})
    with pytest.raises(InputError, match=f"checkpoint does not describe a known model: .*but got '{value}'"):
        load_checkpoint(path)


def test_text_file_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("not a checkpoint\n")
    with pytest.raises(InputError, match=f"^{path}: not a readable seqxent checkpoint"):
        load_checkpoint(path)


@pytest.mark.parametrize("payload", [{"weights": torch.zeros(2)}, [1, 2], {"format": "other"}])
def test_foreign_torch_file_is_not_a_checkpoint(tmp_path, payload):
    path = tmp_path / "foreign.pt"
    torch.save(payload, path)
    with pytest.raises(InputError) as info:
        load_checkpoint(path)
    assert str(info.value) == f"{path}: not a seqxent checkpoint (format 'seqxent-checkpoint' expected)"


def test_resolve_model_existing_path(saved):
    _, path = saved
    assert resolve_model(path) == path
    assert resolve_model(str(path)) == path


def test_resolve_model_unknown_name_lists_pretrained(tmp_path, monkeypatch):
    shipped = {"ss3": tmp_path / "ss3.pt", "coi_species": tmp_path / "coi_species.pt"}
    monkeypatch.setattr(ckpt_module, "pretrained_models", lambda: shipped)
    with pytest.raises(InputError) as info:
        resolve_model("ss8")
    assert str(info.value) == ("Expected argument `model` to be a checkpoint file or one of the pretrained "
                               "models ['coi_species', 'ss3'], but got 'ss8'")


def test_resolve_model_pretrained_name(saved, monkeypatch):
    _, path = saved
    monkeypatch.setattr(ckpt_module, "pretrained_models", lambda: {"toy": path})
    assert resolve_model("toy") == path
    assert load_checkpoint("toy").classes == ["H", "E", "C"]


def test_load_missing_file(tmp_path):
    with pytest.raises(InputError, match="Expected argument `model` to be a checkpoint file"):
        load_checkpoint(tmp_path / "absent.pt")


def test_pretrained_models_are_loadable():
    # Whatever the package ships (possibly nothing yet) must load.
    for name in ckpt_module.pretrained_models():
        assert load_checkpoint(name).classes
