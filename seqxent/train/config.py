"""Training settings: the ``train:`` block of ``config.yaml``, the flags of ``seqxent train``, checked once here.

The defaults and choices are those of ``workflow/schemas/config.schema.yaml`` (tests/train/test_config_defaults.py
checks that the three agree).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from seqxent.data.batching import Augment
from seqxent.errors import InputError
from seqxent.model.losses import LossConfig

# Valid ranges of the float settings: name -> (test, interval as shown in the error).
_RANGES = {"dropout": (lambda v: 0 <= v < 1, "[0, 1)"), "focal_alpha": (lambda v: 0 <= v < 1, "[0, 1)"),
           "effective_beta": (lambda v: 0 <= v < 1, "[0, 1)"), "pos_weight": (lambda v: 0 <= v < math.inf, "[0, ∞)"),
           "label_smoothing": (lambda v: 0 <= v < 1, "[0, 1)"), "mixup_alpha": (lambda v: 0 <= v < math.inf, "[0, ∞)"),
           "distill_alpha": (lambda v: 0 <= v <= 1, "[0, 1]"), "kmer_k": (lambda v: 0 <= v <= 10, "[0, 10]"),
           "distill_temperature": (lambda v: 0 < v < math.inf, "(0, ∞)"),
           "kmer_c": (lambda v: 0 < v < math.inf, "(0, ∞)"),
           "ema_decay": (lambda v: 0 <= v < 1, "[0, 1)")}


#: Where training runs (``auto``: CUDA when available).
DEVICES = ("auto", "cpu", "cuda")
#: Starting weights of the k-mer branch: PyTorch's default, or the k-mer logistic regression of the training split.
KMER_INITS = ("random", "logreg")
# Output layers of lineage models: one softmax head per rank, or one softmax over the reference's lineages
# (leaves) whose probabilities are summed up the tree into every rank (seqxent.model.rank_heads.LeafMarginals).
LINEAGE_HEADS = ("ranks", "leaf")


@dataclass
class TrainConfig:
    """Training hyperparameters (the ``train:`` block of ``config.yaml``; CLI flags of ``seqxent train``)."""

    epochs: int = 20
    batch_size: int = 32
    max_tokens: int = 0
    lr: float = 1e-3
    weight_decay: float = 1e-2
    patience: int = 4
    channels: int = 64
    kernel_size: int = 9
    layers: int = 4
    dropout: float = 0.2
    kmer_k: int = 0
    kmer_init: str = "random"
    kmer_c: float = 100.0
    jsd_lambda: float = 0.0
    loss: str = "ce"
    focal_gamma: float = 2.0
    focal_alpha: float = 0.0
    class_weighting: str = "none"
    effective_beta: float = 0.999
    pos_weight: float = 0.0
    label_smoothing: float = 0.0
    mixup_alpha: float = 0.0
    teacher: str = ""
    distill_alpha: float = 0.5
    distill_temperature: float = 2.0
    max_length: int = 0
    fragment_prob: float = 0.0
    fragment_min: int = 200
    noise_rate: float = 0.0
    ema_decay: float = 0.0
    ensemble: int = 1
    lineage_head: str = "ranks"
    seed: int = 1
    device: str = "auto"
    threads: int = 2

    def __post_init__(self):
        for name in ("epochs", "batch_size", "patience", "channels", "layers", "threads", "ensemble"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"Expected argument `{name}` to be ≥ 1, but got {getattr(self, name)}")
        for name, (test, interval) in _RANGES.items():
            if not test(getattr(self, name)):
                raise InputError(f"Expected argument `{name}` to be in {interval}, but got {getattr(self, name)}")
        if self.lr <= 0:
            raise InputError(f"Expected argument `lr` to be > 0, but got {self.lr}")
        if self.device not in DEVICES:
            raise InputError(f"Expected argument `device` to be one of {list(DEVICES)}, but got {self.device!r}")
        if self.lineage_head not in LINEAGE_HEADS:
            raise InputError(f"Expected argument `lineage_head` to be one of {list(LINEAGE_HEADS)}, "
                             f"but got {self.lineage_head!r}")
        if self.kmer_init not in KMER_INITS:
            raise InputError(f"Expected argument `kmer_init` to be one of {list(KMER_INITS)}, "
                             f"but got {self.kmer_init!r}")
        if self.kmer_k and self.mixup_alpha:  # a mixture of two one-hot sequences has no k-mers to count
            raise InputError(f"Expected argument `mixup_alpha` to be 0 with `kmer_k` {self.kmer_k}, "
                             f"but got {self.mixup_alpha}")
        self.augment()  # checks fragment_prob, fragment_min and noise_rate

    def augment(self) -> Augment:
        """The :class:`~seqxent.data.batching.Augment` (training-time corruption) these settings describe."""
        return Augment(self.fragment_prob, self.fragment_min, self.noise_rate)

    def loss_config(self) -> LossConfig:
        """The :class:`~seqxent.model.losses.LossConfig` these settings describe (``pos_weight`` is applied apart)."""
        return LossConfig(kind=self.loss, gamma=self.focal_gamma, alpha=self.focal_alpha or None,
                          class_weighting=self.class_weighting, beta=self.effective_beta,
                          label_smoothing=self.label_smoothing, jsd_lambda=self.jsd_lambda)

