"""Training: AdamW on the configured cross-entropy loss, early stopping on validation cross-entropy.

Same seed, same machine → same weights: torch, numpy and the batch order are seeded, torch runs with
deterministic algorithms, and the number of CPU threads is fixed by the config.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.optim.swa_utils import AveragedModel
from tqdm import tqdm

from seqxent.baseline.kmer import KmerLogisticRegression
from seqxent.data.batching import Collate, iterate_batches
from seqxent.data.dataset import PreparedData
from seqxent.errors import InputError
from seqxent.model.checkpoint import Checkpoint
from seqxent.model.engine import select_device
from seqxent.model.networks import Ensemble, count_parameters
from seqxent.tasks import get_task
from seqxent.train.config import TrainConfig
from seqxent.train.objective import build_objective
from seqxent.train.resume import TrainingState, capture_rng, fingerprint, load_state, restore_rng, save_state

log = logging.getLogger(__name__)

def init_kmer_branch(model: torch.nn.Module, data: PreparedData, classes: list[str], cfg: TrainConfig) -> None:
    """Set the k-mer branch of ``model`` to the k-mer logistic regression fitted on the training split.

    The baseline ``kmer_logreg`` (:class:`~seqxent.baseline.kmer.KmerLogisticRegression`: the same L2-normalised
    k-mer profile, scikit-learn's lbfgs to convergence, inverse regularisation strength ``kmer_c``) fitted to
    the training records; its weights and intercepts become the branch's, class by class, so training starts
    from the linear model at its optimum and the network learns what the k-mers miss. Two classes: sklearn's
    one weight vector goes to the second.
    """
    rows = data.split("train")
    fit = KmerLogisticRegression(k=cfg.kmer_k, C=cfg.kmer_c, seed=cfg.seed, threads=cfg.threads).fit(
        rows["sequence"].tolist(), rows["label"].tolist())
    if fit.model_ is None:  # a single training class: nothing to learn
        return
    coef, intercept = fit.model_.coef_, fit.model_.intercept_
    if coef.shape[0] == 1:  # binary: scores (0, w·x + b)
        coef, intercept = np.vstack([np.zeros_like(coef), coef]), np.array([0.0, intercept[0]])
    linear, rows_of = model.kmers.linear, [classes.index(label) for label in fit.classes_]  # sklearn's order -> ours
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.zero_()
        linear.weight[rows_of] = torch.as_tensor(coef, dtype=linear.weight.dtype)
        linear.bias[rows_of] = torch.as_tensor(intercept, dtype=linear.bias.dtype)
    log.info("k-mer branch initialised with the k-mer logistic regression of %d training records", len(rows))


def seed_everything(seed: int, threads: int) -> None:
    """Seed torch, fix CPU threads, and require deterministic kernels."""
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True, warn_only=True)


def build_network(data: PreparedData, classes: list[str], cfg: TrainConfig) -> tuple[str, dict, torch.nn.Module]:
    """Architecture name, hyperparameters and a freshly initialised network for the task.

    With ``kmer_init: logreg`` the network's k-mer branch starts as :func:`init_kmer_branch` sets it.
    """
    task = get_task(data.task)
    task.check_training(cfg, data.alphabet.name)
    hparams = {"in_channels": data.alphabet.size, "n_classes": len(classes), "channels": cfg.channels,
               "kernel_size": cfg.kernel_size, "layers": cfg.layers, "dropout": cfg.dropout}
    if cfg.kmer_k:  # left out when off, so checkpoints of networks without it keep their hyperparameters
        hparams["kmer_k"] = cfg.kmer_k
    kind, hparams, model = task.network(cfg, data, classes, hparams)  # multilabel: one logit per label
    if cfg.kmer_k and cfg.kmer_init == "logreg":
        init_kmer_branch(model, data, classes, cfg)
    return kind, hparams, model


def _ema(model: torch.nn.Module, decay: float) -> AveragedModel | None:
    """An exponential moving average of the weights and batch-norm statistics (None when ``decay`` is 0).

    Updated after every optimizer step; validation, early stopping and the saved checkpoint use the average,
    which smooths the step-to-step noise of small, noisy training sets. The decay warms up as
    ``min(decay, (1 + n) / (10 + n))`` after ``n`` updates, so the random initial weights fade out quickly.
    """
    if decay == 0:
        return None

    def lerp(averaged: list[torch.Tensor], current: list[torch.Tensor], n: torch.Tensor) -> None:
        if not averaged[0].is_floating_point():  # a group of counters (num_batches_tracked): keep the latest
            torch._foreach_copy_(averaged, current)
            return
        step = min(decay, (1 + float(n)) / (10 + float(n)))
        torch._foreach_lerp_(averaged, current, 1 - step)

    return AveragedModel(model, multi_avg_fn=lerp, use_buffers=True)


def _train_epoch(model, examples, collate, cfg, objective, optimizer, rng, device, epoch, ema=None
                 ) -> dict[str, float]:
    model.train()
    sums: dict[str, float] = {}
    n_batches = 0
    batches = iterate_batches(examples, collate, cfg.batch_size, cfg.max_tokens, rng)
    for batch in tqdm(batches, desc=f"epoch {epoch}", unit="batch", disable=None, mininterval=5, leave=False):
        out = objective(model, batch.to(device))
        optimizer.zero_grad(set_to_none=True)
        out.total.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        optimizer.step()
        if ema is not None:
            ema.update_parameters(model)
        sums["loss"] = sums.get("loss", 0.0) + float(out.total.detach())
        for key, value in out.parts.items():
            sums[key] = sums.get(key, 0.0) + value
        n_batches += 1
    return {f"train_{k}": v / max(n_batches, 1) for k, v in sums.items()}


def _restore(state_path, fp, model, optimizer, scheduler, objective, rng, ema) -> TrainingState:
    """The saved state of this run (loaded into the model, its average, optimizer, scheduler, RNGs), or a fresh one."""
    saved = load_state(state_path, fp) if state_path else None
    if saved is None:
        return TrainingState(fp, 0, {}, {}, {}, {}, math.inf, 0, 0, [])
    model.load_state_dict(saved.model)
    if ema is not None:
        ema.load_state_dict(saved.ema)
    optimizer.load_state_dict(saved.optimizer)
    scheduler.load_state_dict(saved.scheduler)
    restore_rng(saved.rng, rng)
    objective.load_state_dict(saved.rng)
    log.info("resuming from %s after epoch %d", state_path, saved.epoch)
    return saved


def _snapshot(state: TrainingState, state_path, model, optimizer, scheduler, objective, rng, ema) -> None:
    """Save everything the next epoch depends on (atomically)."""
    state.model, state.optimizer, state.scheduler = model.state_dict(), optimizer.state_dict(), scheduler.state_dict()
    state.ema = ema.state_dict() if ema is not None else {}
    state.rng = {**capture_rng(rng), **objective.state_dict()}
    save_state(state, state_path)


def train_model(data: PreparedData, cfg: TrainConfig, state_path: Path | None = None
                ) -> tuple[Checkpoint, pd.DataFrame]:
    """Train on the ``train`` split, early-stop on ``valid`` cross-entropy, return the best model and history.

    With ``state_path``, the training state is saved there after every epoch, and a state found there that
    belongs to the same settings and data is resumed (see :mod:`seqxent.train.resume`).

    With ``cfg.ensemble`` = n > 1, n members are trained this way with seeds ``seed`` … ``seed + n − 1`` and
    averaged (:func:`train_ensemble`).

    Raises:
        InputError: when the train or valid split is empty, or the loss settings do not fit together.
    """
    if cfg.ensemble > 1:
        return train_ensemble(data, cfg, state_path)
    seed_everything(cfg.seed, cfg.threads)
    device = select_device(cfg.device)
    task = get_task(data.task)
    classes = task.classes(data)
    train, valid = task.examples(data, "train", classes), task.examples(data, "valid", classes)
    if not train or not valid:
        raise InputError(f"data set {data.name!r}: empty split (train {len(train)}, valid {len(valid)})")
    kind, hparams, model = build_network(data, classes, cfg)
    model.to(device)
    objective = build_objective(cfg, data, classes, device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    rng = np.random.default_rng(cfg.seed)
    train_collate = Collate(data.alphabet, cfg.max_length, rng, cfg.augment())
    eval_collate = Collate(data.alphabet)
    log.info("%s: %d train / %d valid records, %d classes, %s with %d parameters on %s", data.name, len(train),
             len(valid), len(classes), kind, count_parameters(model), device)
    fp = fingerprint(asdict(cfg), data.table, cfg.teacher) if state_path else ""
    ema = _ema(model, cfg.ema_decay)
    evaluated = ema.module if ema is not None else model  # validated, early-stopped on and saved
    state = _restore(state_path, fp, model, optimizer, scheduler, objective, rng, ema)
    resumed_after, history = state.epoch, state.history
    start = time.perf_counter() - (history[-1]["seconds"] if history else 0.0)
    for epoch in range(state.epoch + 1, cfg.epochs + 1):
        if state.waited >= cfg.patience:  # a resumed run that had already stopped early
            break
        row = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"]}
        row.update(_train_epoch(model, train, train_collate, cfg, objective, optimizer, rng, device, epoch, ema))
        row["valid_ce"], row["valid_accuracy"] = task.validate(evaluated, valid, eval_collate, cfg.batch_size, device,
                                                                classes)
        row["seconds"] = time.perf_counter() - start
        history.append(row)
        scheduler.step()
        log.info("epoch %d: train loss %.4f, valid CE %.4f, valid accuracy %.4f (%.0f s)", epoch,
                 row["train_loss"], row["valid_ce"], row["valid_accuracy"], row["seconds"])
        if row["valid_ce"] < state.best_ce - 1e-6:
            state.best, state.best_ce, state.waited = copy.deepcopy(evaluated.state_dict()), row["valid_ce"], 0
            state.best_epoch = epoch
        else:
            state.waited += 1
        state.epoch = epoch
        if state_path:
            _snapshot(state, state_path, model, optimizer, scheduler, objective, rng, ema)
        if state.waited >= cfg.patience:
            log.info("early stop: no validation improvement in %d epochs", cfg.patience)
            break
    model.load_state_dict(state.best)
    model.eval()
    meta = {"dataset": data.name, "label_column": data.label_column, "train_config": asdict(cfg),
            "best_epoch": state.best_epoch, "epochs_run": len(history), "seconds": history[-1]["seconds"],
            "parameters": count_parameters(model), "best_valid_ce": state.best_ce,
            "resumed_after_epoch": resumed_after or None, **objective.meta(), **task.model_meta(data)}
    ckpt = Checkpoint(model.cpu(), data.task, data.alphabet, classes, kind, hparams, 1.0, meta)
    return ckpt, pd.DataFrame(history)


def _member_state(state_path: Path | None, member: int) -> Path | None:
    """Resumable state of one ensemble member, beside the ensemble's own ``state_path``."""
    return state_path.with_name(f"{state_path.stem}.member{member}{state_path.suffix}") if state_path else None


def train_ensemble(data: PreparedData, cfg: TrainConfig, state_path: Path | None = None
                   ) -> tuple[Checkpoint, pd.DataFrame]:
    """A deep ensemble: ``cfg.ensemble`` networks trained alone with consecutive seeds, predictions averaged.

    Each member is trained and early-stopped on its own (:func:`train_model` with ``ensemble=1`` and seed
    ``cfg.seed + i``); the checkpoint holds an :class:`~seqxent.model.networks.Ensemble` whose softmax (sigmoid for
    multi-label tasks) is the members' mean. Member states live beside ``state_path`` until every member is
    done, so an interrupted ensemble resumes inside the member it was training. The history has one block of
    rows per member (column ``member``); ``meta["members"]`` records each member's seed and best epoch, and
    ``best_valid_ce`` / ``valid_accuracy`` are the ensemble's own.
    """
    members, histories = [], []
    for i in range(cfg.ensemble):
        ckpt, history = train_model(data, replace(cfg, ensemble=1, seed=cfg.seed + i), _member_state(state_path, i + 1))
        members.append(ckpt)
        histories.append(history.assign(member=i + 1))
    first = members[0]
    task = get_task(data.task)
    hparams = {"member": first.architecture, "n_members": cfg.ensemble, "combine": task.activation, **first.hparams}
    model = Ensemble(**hparams)
    for net, ckpt in zip(model.members, members, strict=True):
        net.load_state_dict(ckpt.model.state_dict())
    model.eval()
    classes = first.classes
    valid_ce, valid_accuracy = task.validate(model, task.examples(data, "valid", classes), Collate(data.alphabet),
                                             cfg.batch_size, torch.device("cpu"), classes)
    per_member = ("best_epoch", "epochs_run", "best_valid_ce", "seconds")
    meta = {**{k: v for k, v in first.meta.items() if k not in per_member + ("train_config",)},
            "train_config": asdict(cfg), "parameters": count_parameters(model),
            "members": [{"seed": cfg.seed + i, **{k: m.meta[k] for k in per_member}} for i, m in enumerate(members)],
            "best_epoch": None, "epochs_run": sum(m.meta["epochs_run"] for m in members),
            "seconds": sum(m.meta["seconds"] for m in members), "best_valid_ce": valid_ce,
            "valid_accuracy": valid_accuracy}
    log.info("ensemble of %d: valid CE %.4f (members %s), valid accuracy %.4f", cfg.ensemble, valid_ce,
             ", ".join(f"{m.meta['best_valid_ce']:.4f}" for m in members), valid_accuracy)
    if state_path:  # every member is done: a later run with the same settings trains again
        for i in range(cfg.ensemble):
            _member_state(state_path, i + 1).unlink(missing_ok=True)
    history = pd.concat(histories, ignore_index=True)
    history = history[["member"] + [c for c in history.columns if c != "member"]]
    return Checkpoint(model, data.task, data.alphabet, classes, "ensemble", hparams, 1.0, meta), history
