"""Fast inference: the trained networks re-expressed for prediction throughput, with the same logits.

:func:`build_engine` turns the eval-mode network of a checkpoint into an engine that computes the same
logits as ``model(x, mask)`` (to float rounding, about 1e-6) with less work per position:

- **channels-last layout**: a batch is ``(B, L, C)`` in memory, so convolutions run as oneDNN (CPU) or cuDNN
  (GPU) channels-last kernels and layer norm needs no transposes;
- **folded batch norm**: in eval mode :class:`~seqxent.model.networks.MaskedBatchNorm1d` is a per-channel affine map,
  merged into the weights and bias of the convolution before it;
- **fewer passes over memory**: ReLU commutes with max pooling, so it runs after pooling on half the
  positions; the width of a batch is padded to a multiple of ``2 ** layers`` (at least 64) so that every
  pooling is an exact pairwise maximum (extra zero padding never changes a valid position: see
  :mod:`seqxent.model.networks`); padded positions are zeroed only past the shortest record of the batch (batches
  are length-sorted, so that tail is short), not over the whole batch;
- **batches side by side**: on CPU, ``workers`` threads each run whole batches with single-threaded
  operations, and :meth:`ModelEngine.map_chunks` computes the next chunk while the caller writes this one;
- optional **bfloat16** (``precision="bfloat16"``): weights and activations in bfloat16; pooled features,
  logits, probabilities and the k-mer branch (:class:`~seqxent.model.networks.KmerProfile`) in float32. On CPUs
  with AMX or AVX-512 BF16 this is 1.5–2x faster end to end;
  probabilities then differ from float32 by up to about 1e-2 (the benchmark reports the agreement).

An :class:`~seqxent.model.networks.Ensemble` runs each member through its own engine and averages their
probabilities (:class:`EnsembleEngine`). Networks without a fast form fall back to their own ``forward``
(:class:`ModelEngine`). ``torch.compile`` was measured and left out: on 2 CPU cores it took 1–2 minutes to
compile (again for new batch shapes) and gained only 1.3–1.6x.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import TypeVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from seqxent.data.alphabet import Alphabet
from seqxent.data.batching import Example, length_batches
from seqxent.errors import InputError
from seqxent.model.networks import Ensemble, ResidueCNN, SequenceCNN, combine_logits

T = TypeVar("T")

#: Names accepted by ``precision`` and the compute dtype of each.
PRECISIONS = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def fold_batch_norm(conv: nn.Conv1d, norm: nn.BatchNorm1d | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight ``(C_out, C_in, k)`` and bias ``(C_out,)`` of ``norm(conv(x))`` in eval mode as one convolution.

    Example:
        >>> conv, norm = nn.Conv1d(2, 3, 3), nn.BatchNorm1d(3).eval()
        >>> _ = norm.running_mean.fill_(0.5), norm.running_var.fill_(4.0)
        >>> weight, bias = fold_batch_norm(conv, norm)
        >>> x = torch.randn(1, 2, 5)
        >>> torch.allclose(F.conv1d(x, weight, bias), norm(conv(x)), atol=1e-6)
        True
    """
    weight, bias = conv.weight.detach(), conv.bias.detach()
    if norm is not None:
        scale = norm.weight.detach() / torch.sqrt(norm.running_var + norm.eps)  # (C_out,)
        weight = weight * scale[:, None, None]
        bias = (bias - norm.running_mean) * scale + norm.bias.detach()
    return weight, bias


class _Conv:
    """A 1D convolution applied to channels-last ``(B, L, C)`` activations (as a 2D channels-last conv)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, conv: nn.Conv1d, dtype: torch.dtype):
        # (C_out, C_in, k) -> (C_out, C_in, 1, k) stored channels-last, like the activations.
        self.weight = weight[:, :, None, :].to(dtype).contiguous(memory_format=torch.channels_last)
        self.bias = bias.to(dtype)
        self.padding, self.dilation = (0, conv.padding[0]), (1, conv.dilation[0])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        x4 = x.permute(0, 2, 1)[:, :, None, :]  # (B, L, C) -> (B, C, 1, L), a channels-last view
        y = F.conv2d(x4, self.weight, self.bias, padding=self.padding, dilation=self.dilation)
        return y.permute(0, 2, 3, 1)[:, 0].contiguous()  # (B, C, 1, L) -> (B, L, C); no copy when channels-last


class ModelEngine:
    """Batches records and runs a network; subclasses replace :meth:`forward` with a faster equivalent.

    Args:
        model: the network (eval mode), already on ``device``.
        alphabet: gives the code → vector table.
        device: where the batches go.
        precision: ``"float32"`` or ``"bfloat16"`` (ignored by this generic engine: the model runs as it is).
        workers: CPU threads running batches side by side (0: torch's thread count); always 1 on a GPU.
    """

    multiple = 1  # batch widths are rounded up to a multiple of this

    def __init__(self, model: nn.Module, alphabet: Alphabet, device: torch.device | str = "cpu",
                 precision: str = "float32", workers: int = 0):
        if precision not in PRECISIONS:
            raise InputError(f"Expected argument `precision` to be one of {sorted(PRECISIONS)}, "
                             f"but got {precision!r}")
        if workers < 0:
            raise InputError(f"Expected argument `workers` to be an integer ≥ 0, but got {workers}")
        self.model, self.device, self.dtype = model.eval(), torch.device(device), PRECISIONS[precision]
        self.table = torch.from_numpy(alphabet.table).to(self.device)  # (n_codes, C)
        cpu_workers = workers or torch.get_num_threads()
        self.workers = cpu_workers if self.device.type == "cpu" else 1

    def encode(self, codes: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
        """Pad code arrays into ``x`` ``(B, W, C)`` float and ``mask`` ``(B, W)`` bool on the device.

        ``W`` is the longest length rounded up to :attr:`multiple`; padding is code 0, the zero vector.
        """
        width = -(-max(len(c) for c in codes) // self.multiple) * self.multiple
        padded = np.zeros((len(codes), width), dtype=np.uint8)
        for row, c in enumerate(codes):
            padded[row, : len(c)] = c
        idx = torch.from_numpy(padded).to(self.device, non_blocking=True).long()
        return self.table[idx], idx != 0  # (B, W) -> (B, W, C)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits, channels-last: ``(B, K)`` or ``(B, W, K)``, from ``x`` ``(B, W, C)`` and ``mask`` ``(B, W)``."""
        logits = self.model(x.permute(0, 2, 1).contiguous(), mask)  # (B, W, C) -> (B, C, W)
        return logits if logits.dim() == 2 else logits.permute(0, 2, 1)  # (B, K, W) -> (B, W, K)

    @torch.inference_mode()
    def _run(self, codes: Sequence[np.ndarray]) -> np.ndarray:
        x, mask = self.encode(codes)
        return self.forward(x, mask).float().cpu().numpy()

    def logits(self, examples: Sequence[Example], batch_size: int = 64, max_tokens: int = 0) -> list[np.ndarray]:
        """Float32 logits of every example in input order: ``(K,)`` per record or ``(L, K)`` per residue.

        Examples run in length-bucketed batches of at most ``batch_size`` records and (when > 0)
        ``max_tokens`` padded positions; the output order is the input order whatever order they ran in.
        On CPU, :attr:`workers` threads run whole batches side by side, each with single-threaded torch
        operations: many small operations split over threads wait at every barrier, and much longer so
        when other processes share the cores (measured 4x slower on a loaded 2-core machine).
        """
        lengths = [len(ex.codes) for ex in examples]
        batches = length_batches(lengths, batch_size, max_tokens)
        jobs = [[examples[i].codes for i in idx] for idx in batches]
        if self.workers > 1 and len(jobs) > 1:
            with _torch_threads(1), ThreadPoolExecutor(self.workers) as pool:
                results = list(pool.map(self._run, jobs))
        else:
            results = [self._run(job) for job in jobs]
        out: list[np.ndarray | None] = [None] * len(examples)
        for idx, z in zip(batches, results, strict=True):
            for row, i in enumerate(idx):
                out[i] = z[row] if z.ndim == 2 else z[row, : lengths[i]]
        _release_freed_memory()
        return out


    def map_chunks(self, chunks: Iterable[tuple[T, Sequence[Example]]], batch_size: int = 64,
                   max_tokens: int = 0) -> Iterator[tuple[T, list[np.ndarray]]]:
        """:meth:`logits` of each ``(payload, examples)`` chunk, yielded as ``(payload, logits)`` in order.

        From the second chunk on, the next chunk is read (the caller's iterator) and computed in a background
        thread while the caller handles the current one, so parsing and writing overlap with the network. The
        first chunk is yielded before anything more is read.
        """
        with ThreadPoolExecutor(1) as background:
            pending = None
            for n, (payload, examples) in enumerate(chunks):
                future = background.submit(self.logits, examples, batch_size, max_tokens)
                if n == 0:
                    yield payload, future.result()
                    continue
                if pending is not None:
                    yield pending[0], pending[1].result()
                pending = (payload, future)
            if pending is not None:
                yield pending[0], pending[1].result()


class SequenceEngine(ModelEngine):
    """:class:`~seqxent.model.networks.SequenceCNN` with folded batch norm, channels-last and pooling before ReLU."""

    def __init__(self, model: SequenceCNN, alphabet: Alphabet, device: torch.device | str = "cpu",
                 precision: str = "float32", workers: int = 0):
        super().__init__(model, alphabet, device, precision, workers)
        self.convs = [_Conv(*fold_batch_norm(conv, norm), conv, self.dtype)
                      for conv, norm in zip(model.convs, model.norms, strict=True)]
        # Every pooling halves an even width; 64 also limits how many batch shapes oneDNN compiles kernels for.
        self.multiple = max(64, 2 ** len(self.convs))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if x.shape[1] % self.multiple:
            raise InputError(f"Expected a batch width divisible by {self.multiple}, but got {x.shape[1]}")
        m = mask[:, :, None].to(self.dtype)  # (B, W, 1)
        one_hot, x, lo = x, x.to(self.dtype) * m, _shortest(mask)
        for conv in self.convs:
            y = conv(x)
            y[:, lo:].mul_(m[:, lo:])  # (B, W, C); zero at padded positions (all of them lie past `lo`)
            # max(relu(a), relu(b)) == relu(max(a, b)): pool pairs of positions first, then ReLU on half of them.
            x = torch.maximum(y[:, 0::2], y[:, 1::2]).relu_()  # (B, W, C) -> (B, W / 2, C)
            m, lo = torch.maximum(m[:, 0::2], m[:, 1::2]), lo // 2
        x, m = x.float(), m.float()
        x_max = x.masked_fill(m == 0, float("-inf")).amax(dim=1)  # (B, C); x is already 0 where m is 0
        x_mean = x.sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
        logits = self.model.head(torch.cat([x_max, x_mean], dim=1))  # (B, K)
        if self.model.kmers is None:
            return logits
        return logits + self.model.kmers(one_hot.permute(0, 2, 1), mask)  # the k-mer branch, in float32


class ResidueEngine(ModelEngine):
    """:class:`~seqxent.model.networks.ResidueCNN` channels-last: layer norm over the last axis, no transposes."""

    # Fewer distinct batch shapes: oneDNN compiles kernels per shape (about 0.1 s each in bfloat16).
    multiple = 32

    def __init__(self, model: ResidueCNN, alphabet: Alphabet, device: torch.device | str = "cpu",
                 precision: str = "float32", workers: int = 0):
        super().__init__(model, alphabet, device, precision, workers)
        self.stem = _Conv(*fold_batch_norm(model.stem), model.stem, self.dtype)
        self.blocks = [(self._norm(b.norm), _Conv(*fold_batch_norm(b.conv), b.conv, self.dtype))
                       for b in model.blocks]
        self.norm = self._norm(model.norm)
        self.head_weight = model.head.weight.detach()[:, :, 0].to(self.dtype)  # (K, C, 1) -> (K, C)
        self.head_bias = model.head.bias.detach().to(self.dtype)

    def _norm(self, norm: nn.LayerNorm) -> tuple:
        return norm.normalized_shape, norm.weight.detach().to(self.dtype), norm.bias.detach().to(self.dtype), norm.eps

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # noqa: D102
        m, lo = mask[:, :, None].to(self.dtype), _shortest(mask)  # (B, W, 1); all padding lies past `lo`
        x = self.stem(x.to(self.dtype) * m)
        x[:, lo:].mul_(m[:, lo:])
        for norm, conv in self.blocks:
            h = F.gelu(F.layer_norm(x, *norm))
            h[:, lo:].mul_(m[:, lo:])
            x = conv(h).add_(x)
            x[:, lo:].mul_(m[:, lo:])
        h = F.gelu(F.layer_norm(x, *self.norm))
        return F.linear(h, self.head_weight, self.head_bias)  # (B, W, C) -> (B, W, K)


class EnsembleEngine(ModelEngine):
    """:class:`~seqxent.model.networks.Ensemble`: each member through its own fast engine, predictions averaged."""

    def __init__(self, model: Ensemble, alphabet: Alphabet, device: torch.device | str = "cpu",
                 precision: str = "float32", workers: int = 0):
        super().__init__(model, alphabet, device, precision, workers)
        self.members = [build_engine(m, alphabet, device, precision, workers=1) for m in model.members]
        self.multiple = max(e.multiple for e in self.members)  # powers of two: the largest is a multiple of all

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # noqa: D102
        logits = [e.forward(x, mask).float() for e in self.members]  # (B, K) or (B, W, K)
        return combine_logits(logits, dim=-1, combine=self.model.combine)


def _shortest(mask: torch.Tensor) -> int:
    """Length of the shortest record of a batch: positions before it are valid in every row."""
    return int(mask.sum(dim=1).min())


def _release_freed_memory() -> None:
    """Hand memory freed by finished batches back to the system (glibc ``malloc_trim``; a no-op elsewhere).

    Batches of varying shapes leave freed blocks of many sizes in glibc's per-thread arenas, which it keeps:
    measured on 10k proteins, peak RSS 0.86–1.18 GB without trimming after each chunk, 0.77 GB with.
    """
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _load_libc():
    try:
        libc = ctypes.CDLL("libc.so.6")
        return libc if hasattr(libc, "malloc_trim") else None
    except OSError:  # not glibc (macOS, musl)
        return None


_LIBC = _load_libc()


@contextmanager
def _torch_threads(n: int) -> Iterator[None]:
    """Set torch's intra-op thread count for the block, then restore it."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


_ENGINES = {SequenceCNN: SequenceEngine, ResidueCNN: ResidueEngine, Ensemble: EnsembleEngine}


def select_device(device: str = "auto") -> torch.device:
    """Resolve ``auto`` / ``cpu`` / ``cuda`` to a torch device.

    Raises:
        InputError: for ``cuda`` without a CUDA device, or an unknown name.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InputError("Expected argument `device` 'cuda' to name an available GPU, but CUDA is not available")
    if device not in ("cpu", "cuda"):
        raise InputError(f"Expected argument `device` to be one of ['auto', 'cpu', 'cuda'], but got {device!r}")
    return torch.device(device)


def predict_logits(model: nn.Module, examples: Sequence[Example], alphabet: Alphabet, batch_size: int = 64,
                   max_tokens: int = 0, device: torch.device | str = "cpu", workers: int = 0) -> list[np.ndarray]:
    """Logits of every example in input order, through the engine that ``seqxent predict`` serves with.

    The one inference path of seqxent: calibration, evaluation, novelty scoring, the ablation's timing and
    prediction all run :func:`build_engine`, so the temperature and the abstain threshold are fitted on the
    logits that prediction will produce.

    Returns:
        One float32 array per example: ``(K,)`` for sequence models, ``(L, K)`` for residue models.
    """
    return build_engine(model, alphabet, device, workers=workers).logits(examples, batch_size, max_tokens)


def build_engine(model: nn.Module, alphabet: Alphabet, device: torch.device | str = "cpu",
                 precision: str = "float32", fast: bool = True, workers: int = 0) -> ModelEngine:
    """The fastest engine for ``model`` (its exact class; subclasses may change ``forward``).

    Args:
        model: a trained network in eval mode, on ``device``.
        alphabet: its input alphabet.
        device: torch device of the model.
        precision: ``"float32"`` (default) or ``"bfloat16"``.
        fast: False runs the model's own ``forward`` (the reference the fast engines are tested against).
        workers: CPU threads running batches side by side (0: torch's thread count); 1 on a GPU.

    Example:
        >>> from seqxent.model.networks import build_model
        >>> dna = Alphabet.from_name("dna")
        >>> model = build_model("sequence_cnn", {"in_channels": 4, "n_classes": 3, "layers": 2}).eval()
        >>> examples = [Example("a", dna.to_codes("ACGTTGCA")), Example("b", dna.to_codes("GATTACA"))]
        >>> fast = build_engine(model, dna).logits(examples)
        >>> slow = build_engine(model, dna, fast=False).logits(examples)
        >>> type(build_engine(model, dna)).__name__, all(np.allclose(f, s, atol=1e-5) for f, s in zip(fast, slow))
        ('SequenceEngine', True)
    """
    engine = _ENGINES.get(type(model)) if fast else None
    return (engine or ModelEngine)(model, alphabet, device, precision, workers)

