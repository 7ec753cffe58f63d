"""The training objective of ``seqxent train``: a cross-entropy variant, optional mixup, optional distillation.

Every variant is a :class:`~seqxent.train.config.TrainConfig` field (a ``train:`` key of ``config.yaml`` and a flag of
``seqxent train``); the mathematics lives in :mod:`seqxent.model.losses` and :mod:`seqxent.model.soft_targets`:

- ``loss: ce | focal`` with ``focal_gamma`` γ and, for a binary task, ``focal_alpha`` α (weight of the positive
  class, 1 - α for the other).
- ``class_weighting: none | inverse | effective`` (``effective_beta`` β of the effective number of samples),
  or for a binary task ``pos_weight`` β: the positive class counts β times (``BCEWithLogitsLoss(pos_weight)``).
  The positive class of a binary task is the second class in sorted order (e.g. ``yes`` over ``no``). Weights
  act as CE class weights, or as focal α.
- ``label_smoothing`` ε (cross-entropy only).
- ``mixup_alpha`` α > 0 (sequence tasks): each batch is mixed with a permutation of itself, one-hot inputs
  and one-hot targets alike, ``λ ~ Beta(α, α)``, and trained with the soft-target cross-entropy (smoothed by ε
  when both are set). Residue tasks ignore it, with a warning: position ``i`` of two unrelated protein chains
  (the splits keep homologs apart) are not corresponding residues, so a position-wise blend is not a blend of
  two labelled examples; and where the chains differ in length one side is padding, so the mixed target there
  has no partner label. COI barcodes, in contrast, are fragments of the same gene, roughly aligned at their
  first base, so mixing them position by position blends homologous positions.
- ``teacher`` (a checkpoint path) with ``distill_alpha`` a and ``distill_temperature`` T: knowledge
  distillation ``(1 - a)·CE + a·T²·KL(p_teacher^T ‖ p_student^T)``. The teacher runs in eval mode without
  gradients on the same (cropped) batch; its raw logits are used (its fitted temperature, if any, is ignored:
  T plays that role). It must share the task, alphabet and classes; the student may be smaller
  (``channels``, ``layers``, ``kernel_size``).

Mixup and distillation use the plain cross-entropy: combining them with focal loss, class weights or each
other is rejected with an error naming both settings. The adjacent-residue JSD penalty (``jsd_lambda``) is
added on top of every variant for residue tasks.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F  # noqa: N812

from seqxent.errors import InputError
from seqxent.model.checkpoint import Checkpoint, load_checkpoint
from seqxent.model.losses import Loss, LossOutput, adjacent_jsd, masked_cross_entropy
from seqxent.model.soft_targets import distillation_loss, mixup, soft_cross_entropy
from seqxent.tasks import get_task

if TYPE_CHECKING:
    from seqxent.data.batching import Batch
    from seqxent.data.dataset import PreparedData
    from seqxent.train.config import TrainConfig

log = logging.getLogger(__name__)

# Seed offset of the mixup generator, so that its draws differ from the torch seed's.
_MIXUP_SEED_OFFSET = 7919


def load_teacher(path: str, data: PreparedData, classes: list[str], device: torch.device) -> Checkpoint:
    """Load the distillation teacher, frozen and in eval mode, and check that it fits the data set.

    Raises:
        InputError: when it is unreadable or its task, alphabet or classes differ from the student's.
    """
    teacher = load_checkpoint(path, device)
    found = (teacher.task, teacher.alphabet.name, list(teacher.classes))
    wanted = (data.task, data.alphabet.name, list(classes))
    if found != wanted:
        raise InputError(f"Expected argument `teacher` to be a {wanted[0]} model over the {wanted[1]} alphabet "
                         f"with classes {wanted[2]}, but {path} has {found[0]}, {found[1]}, {found[2]}")
    teacher.model.requires_grad_(False)
    return teacher


def _check_combination(cfg: TrainConfig) -> None:
    """Mixup and distillation need the plain cross-entropy (label smoothing is allowed with mixup)."""
    used = "teacher" if cfg.teacher else "mixup_alpha" if cfg.mixup_alpha else None
    clash = [name for name, bad in (("loss", cfg.loss != "ce"), ("class_weighting", cfg.class_weighting != "none"),
                                    ("pos_weight", cfg.pos_weight > 0)) if bad]
    if cfg.teacher:
        clash += [name for name in ("label_smoothing", "mixup_alpha") if getattr(cfg, name)]
    if used and clash:
        raise InputError(f"Expected `{used}` to be used with the plain cross-entropy, but it is combined with "
                         + ", ".join(f"`{name}` {getattr(cfg, name)!r}" for name in clash))


class Objective:
    """Callable training objective: ``objective(model, batch) -> LossOutput`` for one training batch.

    Args:
        loss: the configured loss (also used for batches that are not mixed).
        n_classes: number of classes K.
        mixup_alpha: Beta concentration of mixup; 0 turns it off.
        label_smoothing: ε applied to the mixed targets.
        teacher: distillation teacher, or None.
        distill_alpha: weight a of the distillation term.
        distill_temperature: temperature T of the distillation term.
        seed: seed of the mixup generator.
    """

    def __init__(self, loss: Loss, n_classes: int, mixup_alpha: float = 0.0, label_smoothing: float = 0.0,
                 teacher: Checkpoint | None = None, distill_alpha: float = 0.5, distill_temperature: float = 2.0,
                 seed: int = 1):
        self.loss = loss
        self.n_classes = n_classes
        self.mixup_alpha = mixup_alpha
        self.label_smoothing = label_smoothing
        self.teacher = teacher
        self.distill_alpha = distill_alpha
        self.distill_temperature = distill_temperature
        self.generator = torch.Generator().manual_seed(seed + _MIXUP_SEED_OFFSET)
        self.teacher_path: str | None = None

    def __call__(self, model: torch.nn.Module, batch: Batch) -> LossOutput:
        """Loss of one batch, in nats; ``parts`` holds detached values for the history."""
        if self.mixup_alpha > 0 and batch.target.dim() == 1:
            return self._mixup(model, batch)
        logits = model(batch.x, batch.mask)
        mask = batch.mask if logits.dim() == 3 else None  # residue logits (B, C, L): targets outside the mask
        if self.teacher is not None:
            return self._distill(logits, batch, mask)
        return self.loss(logits, batch.target, mask)

    def _mixup(self, model: torch.nn.Module, batch: Batch) -> LossOutput:
        onehot = F.one_hot(batch.target, self.n_classes).to(batch.x.dtype)  # (B,) -> (B, K)
        x, mask, target, _ = mixup(batch.x, batch.mask, onehot, self.mixup_alpha, self.generator)
        if self.label_smoothing:
            target = (1.0 - self.label_smoothing) * target + self.label_smoothing / self.n_classes
        total = soft_cross_entropy(model(x, mask), target)
        return LossOutput(total, {"ce": float(total.detach())})

    def _distill(self, logits: torch.Tensor, batch: Batch, mask: torch.Tensor | None) -> LossOutput:
        target = batch.target if mask is None else batch.target.masked_fill(~mask, -100)
        with torch.no_grad():
            teacher_logits = self.teacher.model(batch.x, batch.mask)
        total = distillation_loss(logits, teacher_logits, target, self.distill_alpha, self.distill_temperature)
        with torch.no_grad():
            parts = {"ce": float(masked_cross_entropy(logits, target)), "distill": float(total)}
        jsd_lambda = self.loss.config.jsd_lambda
        if jsd_lambda > 0 and logits.dim() == 3:
            jsd = adjacent_jsd(logits, target != -100)
            parts["jsd"] = float(jsd.detach())
            total = total + jsd_lambda * jsd
        return LossOutput(total, parts)

    def state_dict(self) -> dict:
        """Random state to save for resuming (the mixup generator)."""
        return {"mixup_generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` returned."""
        self.generator.set_state(state["mixup_generator"])

    def meta(self) -> dict:
        """Checkpoint metadata of the objective: the teacher's path, architecture and size."""
        if self.teacher is None:
            return {}
        return {"teacher": {"path": self.teacher_path, "architecture": self.teacher.architecture,
                            "hparams": dict(self.teacher.hparams),
                            "parameters": sum(p.numel() for p in self.teacher.model.parameters()),
                            "best_valid_ce": self.teacher.meta.get("best_valid_ce")}}


def build_objective(cfg: TrainConfig, data: PreparedData, classes: list[str], device: torch.device) -> Objective:
    """The training objective a :class:`~seqxent.train.config.TrainConfig` describes, for one data set.

    Raises:
        InputError: for incompatible settings, or a teacher that does not fit the data set.
    """
    task = get_task(data.task)
    task.check_training(cfg, data.alphabet.name)
    _check_combination(cfg)
    loss = task.loss(cfg, task.class_counts(data, classes), classes)
    mixup_alpha = cfg.mixup_alpha
    if mixup_alpha and not task.mixup:
        log.warning("mixup_alpha %s ignored: mixup applies to sequence tasks only", mixup_alpha)
        mixup_alpha = 0.0
    teacher = None
    if cfg.teacher:
        teacher = load_teacher(cfg.teacher, data, classes, device)
        log.info("distilling from %s, a = %s, T = %s", cfg.teacher, cfg.distill_alpha, cfg.distill_temperature)
    objective = Objective(loss, len(classes), mixup_alpha, cfg.label_smoothing, teacher, cfg.distill_alpha,
                          cfg.distill_temperature, cfg.seed)
    objective.teacher_path = str(cfg.teacher) if cfg.teacher else None
    return objective
