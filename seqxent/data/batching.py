"""Encoded data sets, length-bucketed batches and the collate function that pads them.

Sequences are stored as ``uint8`` code arrays (one byte per position, see :mod:`seqxent.data.alphabet`); the
collate function turns a list of them into a channels-first float batch ``x`` of shape ``(B, C, L)``, a
``mask`` ``(B, L)`` (True at real positions) and targets: ``(B,)`` class indices for sequence tasks,
``(B, L)`` per-residue indices padded with ``-100`` (``CrossEntropyLoss``'s default ``ignore_index``), or
``(B, K)`` float multi-hot vectors for multi-label tasks.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from seqxent.data.alphabet import Alphabet
from seqxent.errors import InputError

IGNORE_INDEX = -100


@dataclass
class Example:
    """One encoded record: ``codes`` (L,) uint8 and ``target``.

    ``target`` is a class index (sequence task), an (L,) int64 array (residue task), a (K,) float32 multi-hot
    array (multilabel task), or None (unlabelled).
    """

    id: str
    codes: np.ndarray
    target: int | np.ndarray | None = None


@dataclass
class Batch:
    """A padded batch: ``x`` (B, C, L) float, ``mask`` (B, L) bool, ``target`` (B,) or (B, L) long, or (B, K) float."""

    ids: list[str]
    x: torch.Tensor
    mask: torch.Tensor
    target: torch.Tensor | None

    def to(self, device: torch.device) -> Batch:
        """Move the tensors to ``device``."""
        target = None if self.target is None else self.target.to(device)
        return Batch(self.ids, self.x.to(device), self.mask.to(device), target)


@dataclass(frozen=True)
class Augment:
    """Training-time corruption that mimics partial and noisy reads (applied after the ``max_length`` crop).

    Attributes:
        fragment_prob: probability that an example is cut to a random fragment: a length drawn uniformly
            from ``[fragment_min, L]`` at a uniform offset (residue targets are cut along); examples of at
            most ``fragment_min`` positions stay whole.
        fragment_min: shortest fragment, in positions.
        noise_rate: per-position probability of a substitution: a uniformly drawn canonical token, or —
            one time in four — the fully ambiguous code (``N`` for DNA, ``X`` for proteins).
    """

    fragment_prob: float = 0.0
    fragment_min: int = 200
    noise_rate: float = 0.0

    def __post_init__(self):
        for name in ("fragment_prob", "noise_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise InputError(f"Expected argument `{name}` to be in [0, 1], but got {getattr(self, name)}")
        if self.fragment_min < 1:
            raise InputError(f"Expected argument `fragment_min` to be ≥ 1, but got {self.fragment_min}")

    @property
    def active(self) -> bool:
        """Whether any corruption is switched on (if not, no random numbers are drawn)."""
        return self.fragment_prob > 0 or self.noise_rate > 0

    def __call__(self, ex: Example, rng: np.random.Generator, noise_codes: np.ndarray) -> Example:
        """A corrupted copy of ``ex``; ``noise_codes`` are the substitute codes, the ambiguous one last."""
        codes, target = ex.codes, ex.target
        length = len(codes)
        if self.fragment_prob and rng.random() < self.fragment_prob and length > self.fragment_min:
            size = int(rng.integers(self.fragment_min, length + 1))
            start = int(rng.integers(0, length - size + 1))
            codes = codes[start:start + size]
            target = target[start:start + size] if _is_per_residue(target) else target
        if self.noise_rate:
            hit = rng.random(len(codes)) < self.noise_rate
            if hit.any():
                n_canonical = len(noise_codes) - 1
                pick = rng.integers(0, n_canonical, size=int(hit.sum()))
                pick[rng.random(len(pick)) < 0.25] = n_canonical  # the fully ambiguous code
                codes = codes.copy()
                codes[hit] = noise_codes[pick]
        return Example(ex.id, codes, target)


class Collate:
    """Pad a list of :class:`Example` into a :class:`Batch`.

    Args:
        alphabet: gives the code → vector table.
        max_length: when > 0, longer sequences are cropped to this length — at a random offset drawn from
            ``generator`` (training augmentation: partial reads) or centred when ``generator`` is None.
        generator: numpy random generator for the crops and the augmentation.
        augment: corruption of training examples (:class:`Augment`); needs ``generator``.

    Example:
        >>> dna = Alphabet.from_name("dna")
        >>> batch = Collate(dna)([Example("a", dna.to_codes("AC"), 1), Example("b", dna.to_codes("G"), 0)])
        >>> batch.x.shape, batch.mask.tolist(), batch.target.tolist()
        (torch.Size([2, 4, 2]), [[True, True], [True, False]], [1, 0])
    """

    def __init__(self, alphabet: Alphabet, max_length: int = 0, generator: np.random.Generator | None = None,
                 augment: Augment | None = None):
        self.table = torch.from_numpy(alphabet.table)
        self.max_length = max_length
        self.generator = generator
        self.augment = augment if augment is not None and augment.active else None
        if self.augment is not None and generator is None:
            raise InputError("Expected argument `generator` for a Collate with augmentation, but got None")
        everything = next(code for code, members in alphabet.ambiguity.items()
                          if set(members) == set(alphabet.tokens))
        self.noise_codes = np.array([*range(1, alphabet.size + 1), alphabet.codes.index(everything)],
                                    dtype=np.uint8)

    def _crop(self, ex: Example) -> Example:
        length = len(ex.codes)
        if not self.max_length or length <= self.max_length:
            return ex
        extra = length - self.max_length
        start = int(self.generator.integers(0, extra + 1)) if self.generator is not None else extra // 2
        stop = start + self.max_length
        target = ex.target[start:stop] if _is_per_residue(ex.target) else ex.target
        return Example(ex.id, ex.codes[start:stop], target)

    def __call__(self, examples: Sequence[Example]) -> Batch:  # noqa: D102
        examples = [self._crop(ex) for ex in examples]
        if self.augment is not None:
            examples = [self.augment(ex, self.generator, self.noise_codes) for ex in examples]
        lengths = [len(ex.codes) for ex in examples]
        width = max(lengths)
        codes = torch.zeros((len(examples), width), dtype=torch.long)  # code 0 = padding (zero vector)
        for i, ex in enumerate(examples):
            codes[i, : lengths[i]] = torch.from_numpy(ex.codes.astype(np.int64))
        x = self.table[codes].permute(0, 2, 1).contiguous()  # (B, L, C) -> (B, C, L)
        mask = torch.arange(width)[None, :] < torch.tensor(lengths)[:, None]
        return Batch([ex.id for ex in examples], x, mask, self._targets(examples, width))

    @staticmethod
    def _targets(examples: Sequence[Example], width: int) -> torch.Tensor | None:
        if examples[0].target is None:
            return None
        if not isinstance(examples[0].target, np.ndarray):
            return torch.tensor([ex.target for ex in examples], dtype=torch.long)
        if not _is_per_residue(examples[0].target):  # multi-hot (K,) -> (B, K)
            return torch.from_numpy(np.stack([ex.target for ex in examples]).astype(np.float32))
        target = torch.full((len(examples), width), IGNORE_INDEX, dtype=torch.long)
        for i, ex in enumerate(examples):
            target[i, : len(ex.target)] = torch.from_numpy(ex.target)
        return target


def _is_per_residue(target) -> bool:
    """Whether a target is per-residue (an integer array), not a class index or a float multi-hot vector."""
    return isinstance(target, np.ndarray) and target.dtype.kind in "iu"


def length_batches(lengths: Sequence[int], batch_size: int, max_tokens: int = 0,
                   generator: np.random.Generator | None = None) -> list[np.ndarray]:
    """Group indices into batches of similar length, so that padding wastes little compute.

    Indices are sorted by length (ties broken by a random permutation when ``generator`` is given) and cut into
    batches of at most ``batch_size`` records and, when ``max_tokens`` > 0, at most ``max_tokens`` padded
    positions. With a generator, the order of the batches is shuffled too.

    Example:
        >>> [b.tolist() for b in length_batches([5, 1, 3, 2], batch_size=2)]
        [[1, 3], [2, 0]]
    """
    if batch_size < 1:
        raise InputError(f"Expected argument `batch_size` to be ≥ 1, but got {batch_size}")
    lengths = np.asarray(lengths)
    tiebreak = generator.permutation(len(lengths)) if generator is not None else np.arange(len(lengths))
    order = np.lexsort((tiebreak, lengths))
    batches, start = [], 0
    while start < len(order):
        stop = min(start + batch_size, len(order))
        while max_tokens and stop - start > 1 and lengths[order[stop - 1]] * (stop - start) > max_tokens:
            stop -= 1
        batches.append(order[start:stop])
        start = stop
    if generator is not None:
        batches = [batches[i] for i in generator.permutation(len(batches))]
    return batches


def iterate_batches(examples: Sequence[Example], collate: Collate, batch_size: int, max_tokens: int = 0,
                    generator: np.random.Generator | None = None) -> Iterator[Batch]:
    """Yield collated batches of ``examples`` in length-bucketed order."""
    for idx in length_batches([len(ex.codes) for ex in examples], batch_size, max_tokens, generator):
        yield collate([examples[i] for i in idx])
