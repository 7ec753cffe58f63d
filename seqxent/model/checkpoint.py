"""Save and load trained models with everything needed to use them: alphabet, classes, hyperparameters.

A checkpoint is a plain dict of tensors, strings and numbers (so it loads with ``torch.load(weights_only=True)``:
no pickled code runs). Loading checks the key set strictly, then the state dict strictly, so a file from an
incompatible version fails loudly instead of predicting garbage.

``MODEL`` arguments of the CLI are a path, or the name of a pretrained model shipped in
``seqxent/pretrained/`` (``ss3``, ``coi_species``, …): see :func:`resolve_model`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from seqxent.data.alphabet import Alphabet
from seqxent.data.io import atomic_write
from seqxent.errors import InputError
from seqxent.model.networks import build_model

FORMAT = "seqxent-checkpoint"
VERSION = 1
KEYS = frozenset({"format", "version", "task", "alphabet", "classes", "architecture", "hparams", "state_dict",
                  "temperature", "meta"})


@dataclass
class Checkpoint:
    """A loaded model and what it needs to be used.

    Attributes:
        model: the network, in eval mode.
        task: ``"sequence"`` or ``"residue"``.
        alphabet: the input alphabet.
        classes: class names in logit order.
        architecture: ``"sequence_cnn"`` or ``"residue_cnn"``.
        hparams: the network's constructor arguments.
        temperature: divides the logits before the softmax (1.0 until calibrated).
        meta: training config, history summary, provenance, data set name and label column.
    """

    model: nn.Module
    task: str
    alphabet: Alphabet
    classes: list[str]
    architecture: str
    hparams: dict
    temperature: float = 1.0
    meta: dict = field(default_factory=dict)


def save_checkpoint(ckpt: Checkpoint, path: Path | str) -> None:
    """Write a checkpoint atomically (temporary file, then rename)."""
    state = {k: v.detach().cpu().clone() for k, v in ckpt.model.state_dict().items()}
    payload = {"format": FORMAT, "version": VERSION, "task": ckpt.task, "alphabet": ckpt.alphabet.name,
               "classes": list(ckpt.classes), "architecture": ckpt.architecture, "hparams": dict(ckpt.hparams),
               "state_dict": state, "temperature": float(ckpt.temperature), "meta": ckpt.meta}
    with atomic_write(path, "wb") as handle:
        torch.save(payload, handle)


def load_checkpoint(model: Path | str, device: str | torch.device = "cpu") -> Checkpoint:
    """Load a checkpoint path or pretrained model name, with a strict check of keys and weights.

    Raises:
        InputError: when the file is missing, not a seqxent checkpoint, or its keys or weights do not match.
    """
    path = resolve_model(model)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for a corrupt or foreign file
        raise InputError(f"{path}: not a readable seqxent checkpoint ({type(err).__name__}: {err})") from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise InputError(f"{path}: not a seqxent checkpoint (format {FORMAT!r} expected)")
    if set(payload) != KEYS:
        raise InputError(f"{path}: checkpoint keys differ: missing {sorted(KEYS - set(payload))}, "
                         f"unexpected {sorted(set(payload) - KEYS)}")
    if payload["version"] != VERSION:
        raise InputError(f"{path}: checkpoint version {payload['version']} is not supported (expected {VERSION})")
    try:
        net = build_model(payload["architecture"], payload["hparams"])
        alphabet = Alphabet.from_name(payload["alphabet"])
    except (TypeError, ValueError) as err:  # an unknown hyperparameter or alphabet (a newer or foreign file)
        raise InputError(f"{path}: checkpoint does not describe a known model: {err}") from err
    try:
        net.load_state_dict(payload["state_dict"], strict=True)
    except RuntimeError as err:
        raise InputError(f"{path}: weights do not match the architecture: {err}") from err
    net.to(device).eval()
    return Checkpoint(net, payload["task"], alphabet, payload["classes"],
                      payload["architecture"], payload["hparams"], payload["temperature"], payload["meta"])


def pretrained_models() -> dict[str, Path]:
    """Name → path of the pretrained models shipped in the package."""
    folder = resources.files("seqxent") / "pretrained"
    if not folder.is_dir():
        return {}
    return {Path(p.name).stem: Path(str(p)) for p in folder.iterdir() if p.name.endswith(".pt")}


def resolve_model(model: Path | str) -> Path:
    """Turn a ``MODEL`` argument (a path, or a pretrained model name) into a file path.

    Raises:
        InputError: when it is neither an existing file nor a shipped model name.
    """
    path = Path(model)
    if path.is_file():
        return path
    shipped = pretrained_models()
    if str(model) in shipped:
        return shipped[str(model)]
    raise InputError(f"Expected argument `model` to be a checkpoint file or one of the pretrained models "
                     f"{sorted(shipped)}, but got {str(model)!r}")
