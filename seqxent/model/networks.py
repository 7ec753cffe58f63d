"""1D convolutional networks on channels-first one-hot input ``(B, C, L)``; ``forward`` returns logits.

Both networks zero the padded positions after every layer, and normalise either each position on its own
(layer norm over channels) or with batch statistics of unpadded positions that are frozen in eval mode
(:class:`MaskedBatchNorm1d`), so in eval mode a record's prediction does not depend on what else is in its
batch or how much padding it got: batched and one-at-a-time predictions agree.

- :class:`SequenceCNN` (barcodes → one class): convolution blocks (conv → masked batch norm → ReLU) with max
  pooling, then masked global max and
  mean pooling → logits ``(B, K)``; optionally plus a linear map of the record's k-mer profile
  (:class:`KmerProfile`, a "wide and deep" network trained with one cross-entropy).
- :class:`ResidueCNN` (proteins → one class per residue): a stem convolution, residual blocks of dilated
  convolutions (dilation cycling 1, 2, 4, 8, …, so the receptive field grows geometrically with depth), and a
  1×1 output convolution → logits ``(B, K, L)``. Length-preserving, with no length limit.
- :class:`Ensemble` (either kind, trained with several seeds): the log of the members' mean probability, so a
  softmax (or sigmoid) of its output is the average of the members' predictions.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F  # noqa: N812

from seqxent.errors import InputError


class ChannelLayerNorm(nn.LayerNorm):
    """Layer norm over the channel axis of a ``(B, C, L)`` tensor, position by position."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return super().forward(x.transpose(1, 2)).transpose(1, 2)  # (B, C, L) -> (B, L, C) -> (B, C, L)


class MaskedBatchNorm1d(nn.BatchNorm1d):
    """Batch norm over the valid positions of a ``(B, C, L)`` tensor only.

    In training, the mean and variance come from unpadded positions, so padding never shifts the statistics;
    in eval mode the running statistics make it a fixed per-channel affine map, so a record's output does not
    depend on its batch.
    """

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:  # noqa: D102
        if not self.training:
            return super().forward(x)
        n = m.sum().clamp(min=2.0)
        mean = (x * m).sum(dim=(0, 2)) / n  # (C,)
        var = (((x - mean[None, :, None]) * m) ** 2).sum(dim=(0, 2)) / n
        with torch.no_grad():
            self.num_batches_tracked += 1
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var * n / (n - 1), self.momentum)
        x = (x - mean[None, :, None]) / torch.sqrt(var[None, :, None] + self.eps)
        return x * self.weight[None, :, None] + self.bias[None, :, None]


def _check_positive(**kwargs) -> None:
    for name, value in kwargs.items():
        if not isinstance(value, int) or value < 1:
            raise InputError(f"Expected argument `{name}` to be an integer ≥ 1, but got {value!r}")


class KmerProfile(nn.Module):
    """Logits from a linear map of a record's L2-normalised k-mer counts (the k-mer logistic regression).

    A k-mer is counted where all its ``k`` positions are valid and unambiguous (a one-hot column equal to 1), so
    ``N`` and IUPAC codes break k-mers as in :func:`seqxent.baseline.kmer.kmer_features`; the index reads the k-mer
    as a base-``C`` number, first position most significant. A record without a valid k-mer gets the bias alone.

    Args:
        in_channels: alphabet size ``C``.
        n_classes: number of classes ``K``.
        k: k-mer length; the layer has ``C**k · K`` weights.
    """

    def __init__(self, in_channels: int, n_classes: int, k: int):
        super().__init__()
        _check_positive(k=k)
        if in_channels**k > 2**20:
            raise InputError(f"Expected argument `k` to give at most 2**20 k-mers, but got {in_channels}**{k}")
        self.k = k
        self.register_buffer("powers", in_channels ** torch.arange(k - 1, -1, -1), persistent=False)
        self.linear = nn.Linear(in_channels**k, n_classes)

    def profile(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """L2-normalised k-mer counts ``(B, C**k)`` (float32) of a batch ``x`` ``(B, C, L)`` with ``mask``."""
        batch, length = x.shape[0], x.shape[2]
        counts = x.new_zeros((batch, self.linear.in_features), dtype=torch.float32)
        if length < self.k:
            return counts
        top, token = x.float().max(dim=1)  # (B, L)
        valid = (top == 1.0) & mask.bool()
        code = (token.unfold(1, self.k, 1) * self.powers).sum(dim=2)  # (B, L - k + 1)
        whole = valid.unfold(1, self.k, 1).all(dim=2)
        counts.scatter_add_(1, code, whole.float())
        return counts / counts.norm(dim=1, keepdim=True).clamp(min=1e-12)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, K)``."""
        return self.linear(self.profile(x, mask).to(self.linear.weight.dtype))


class SequenceCNN(nn.Module):
    """Convolution blocks → masked global max + mean pooling → a linear layer over classes.

    Args:
        in_channels: alphabet size ``C``.
        n_classes: number of classes ``K``.
        channels: width of every convolution block.
        kernel_size: odd convolution width.
        layers: number of blocks; each halves the length with max pooling.
        dropout: dropout before the output layer.
        kmer_k: if > 0, add the logits of a :class:`KmerProfile` of this k (the "wide" half) to the CNN's.
    """

    def __init__(self, in_channels: int, n_classes: int, channels: int = 64, kernel_size: int = 9,
                 layers: int = 4, dropout: float = 0.2, kmer_k: int = 0):
        super().__init__()
        _check_positive(in_channels=in_channels, n_classes=n_classes, channels=channels, layers=layers,
                        kernel_size=kernel_size)
        if kernel_size % 2 != 1:
            raise InputError(f"Expected argument `kernel_size` to be odd, but got {kernel_size}")
        widths = [in_channels] + [channels] * layers
        self.convs = nn.ModuleList(nn.Conv1d(a, b, kernel_size, padding=kernel_size // 2)
                                   for a, b in zip(widths[:-1], widths[1:], strict=True))
        self.norms = nn.ModuleList(MaskedBatchNorm1d(channels) for _ in range(layers))
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * channels, n_classes)
        self.kmers = KmerProfile(in_channels, n_classes, kmer_k) if kmer_k else None

    def embed(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Pooled features ``(B, 2·channels)`` of a batch ``x`` ``(B, C, L)`` with ``mask`` ``(B, L)``."""
        m = mask[:, None, :].to(x.dtype)  # (B, 1, L)
        for conv, norm in zip(self.convs, self.norms, strict=True):
            x = F.relu(norm(conv(x * m), m)) * m
            # ceil_mode keeps the last, partial window, so padding never changes a valid position's value.
            x = F.max_pool1d(x, 2, ceil_mode=True)
            m = F.max_pool1d(m, 2, ceil_mode=True)
        valid = m > 0  # (B, 1, L')
        x_max = x.masked_fill(~valid, float("-inf")).amax(dim=2)
        x_mean = (x * m).sum(dim=2) / m.sum(dim=2).clamp(min=1.0)
        return torch.cat([x_max, x_mean], dim=1)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, K)``."""
        logits = self.head(self.dropout(self.embed(x, mask)))
        return logits if self.kmers is None else logits + self.kmers(x, mask)


class ResidualBlock(nn.Module):
    """Pre-norm residual block: ``x + dropout(conv_d(gelu(norm(x))))`` with dilation ``d``."""

    def __init__(self, channels: int, kernel_size: int, dilation: int, dropout: float):
        super().__init__()
        self.norm = ChannelLayerNorm(channels)
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation,
                              padding=dilation * (kernel_size // 2))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, m: torch.Tensor) -> torch.Tensor:  # noqa: D102
        return (x + self.dropout(self.conv(F.gelu(self.norm(x)) * m))) * m


class ResidueCNN(nn.Module):
    """Dilated residual CNN predicting one class per position.

    Args:
        in_channels: alphabet size ``C``.
        n_classes: number of classes ``K`` per residue.
        channels: width of the residual stream.
        kernel_size: odd convolution width.
        layers: number of residual blocks; block ``i`` has dilation ``2 ** (i % dilation_cycle)``.
        dropout: dropout inside the blocks.
        dilation_cycle: how many doublings before the dilation restarts at 1.
    """

    def __init__(self, in_channels: int, n_classes: int, channels: int = 64, kernel_size: int = 5,
                 layers: int = 8, dropout: float = 0.1, dilation_cycle: int = 4):
        super().__init__()
        _check_positive(in_channels=in_channels, n_classes=n_classes, channels=channels, layers=layers,
                        kernel_size=kernel_size, dilation_cycle=dilation_cycle)
        if kernel_size % 2 != 1:
            raise InputError(f"Expected argument `kernel_size` to be odd, but got {kernel_size}")
        self.stem = nn.Conv1d(in_channels, channels, kernel_size, padding=kernel_size // 2)
        self.blocks = nn.ModuleList(ResidualBlock(channels, kernel_size, 2 ** (i % dilation_cycle), dropout)
                                    for i in range(layers))
        self.norm = ChannelLayerNorm(channels)
        self.head = nn.Conv1d(channels, n_classes, 1)
        self.receptive_field = kernel_size + sum((kernel_size - 1) * b.conv.dilation[0] for b in self.blocks)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, K, L)``; values at padded positions are meaningless and must be masked."""
        m = mask[:, None, :].to(x.dtype)  # (B, 1, L)
        x = self.stem(x * m) * m
        for block in self.blocks:
            x = block(x, m)
        return self.head(F.gelu(self.norm(x)))


class LeafMarginals(nn.Module):
    """A lineage model with one softmax over the training lineages (leaves), summed up the tree into every rank.

    The member network (a :class:`SequenceCNN` with one output per leaf) gives the leaves' probabilities;
    rank ``r``'s output for taxon ``c`` is the log of the summed probability of the leaves under ``c``
    (``leaf_classes[r, leaf]``: the leaf's class at rank ``r``, ``-1`` where its lineage names none there).
    A per-rank softmax of the output is then the marginal of each rank (renormalised over the leaves that
    name the rank), the same layout as the per-rank heads of a plain lineage network.

    Args:
        member: the :class:`SequenceCNN` hyperparameters (``n_classes`` = number of leaves).
        n_ranks: number of ranks ``R``.
        n_outputs: number of classes ``K`` over all ranks.

    Example:
        >>> net = LeafMarginals({"in_channels": 4, "n_classes": 3, "layers": 1, "channels": 4}, 2, 4).eval()
        >>> _ = net.leaf_classes.copy_(torch.tensor([[0, 0, 1], [2, 3, -1]]))  # two families; two genera
        >>> p = net(torch.eye(4)[None].repeat(1, 1, 2), torch.ones(1, 8, dtype=torch.bool)).exp().detach()
        >>> round(float(p[0, :2].sum()), 5), bool(p[0, 2:].sum() < 1)  # the third leaf names no genus
        (1.0, True)
    """

    def __init__(self, member: dict, n_ranks: int, n_outputs: int):
        super().__init__()
        _check_positive(n_ranks=n_ranks, n_outputs=n_outputs)
        self.member = SequenceCNN(**member)
        self.n_outputs = n_outputs
        self.register_buffer("leaf_classes", torch.full((n_ranks, member["n_classes"]), -1, dtype=torch.long))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Log of the summed leaf probabilities per taxon ``(B, K)`` (``log 1e-30`` for a taxon without mass)."""
        probs = torch.softmax(self.member(x, mask).float(), dim=1)  # (B, leaves)
        out = probs.new_zeros((probs.shape[0], self.n_outputs))
        for classes in self.leaf_classes:
            named = classes >= 0
            out.index_add_(1, classes[named], probs[:, named])
        return torch.log(out.clamp(min=1e-30))


COMBINES = ("softmax", "sigmoid")


def combine_logits(logits: list[torch.Tensor], dim: int, combine: str = "softmax") -> torch.Tensor:
    """Logits whose activation is the mean of the members' activations.

    ``softmax``: ``log mean_i softmax(z_i)`` along ``dim`` (a log-probability, so its softmax is the mean).
    ``sigmoid``: ``log p̄ − log(1 − p̄)`` with ``p̄ = mean_i sigmoid(z_i)`` element by element, from log-sigmoids
    (``dim`` unused). Both are computed in log space, without overflow for large logits.

    Example:
        >>> z = combine_logits([torch.tensor([[0.0, 2.0]]), torch.tensor([[2.0, 0.0]])], dim=1)
        >>> torch.softmax(z, dim=1)
        tensor([[0.5000, 0.5000]])
    """
    n = torch.log(torch.tensor(float(len(logits))))
    if combine == "softmax":
        return torch.logsumexp(torch.stack([F.log_softmax(z, dim=dim) for z in logits]), dim=0) - n
    if combine == "sigmoid":
        log_p = torch.logsumexp(torch.stack([F.logsigmoid(z) for z in logits]), dim=0) - n
        log_q = torch.logsumexp(torch.stack([F.logsigmoid(-z) for z in logits]), dim=0) - n
        return log_p - log_q
    raise InputError(f"Expected argument `combine` to be one of {list(COMBINES)}, but got {combine!r}")


class Ensemble(nn.Module):
    """Members of one architecture (trained with different seeds) whose predictions are averaged.

    Args:
        member: architecture of every member (``"sequence_cnn"`` or ``"residue_cnn"``).
        n_members: how many.
        combine: ``"softmax"`` (single-label tasks) or ``"sigmoid"`` (multi-label): what is averaged.
        **hparams: the members' constructor arguments.
    """

    def __init__(self, member: str, n_members: int, combine: str = "softmax", **hparams):
        super().__init__()
        _check_positive(n_members=n_members)
        if member not in ARCHITECTURES or member == "ensemble":
            raise InputError(f"Expected argument `member` to be one of {sorted(set(ARCHITECTURES) - {'ensemble'})}, "
                             f"but got {member!r}")
        if combine not in COMBINES:
            raise InputError(f"Expected argument `combine` to be one of {list(COMBINES)}, but got {combine!r}")
        self.combine = combine
        self.members = nn.ModuleList(ARCHITECTURES[member](**hparams) for _ in range(n_members))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Combined logits, shaped like a member's: ``(B, K)`` or ``(B, K, L)``."""
        return combine_logits([m(x, mask) for m in self.members], dim=1, combine=self.combine)


ARCHITECTURES = {"sequence_cnn": SequenceCNN, "residue_cnn": ResidueCNN, "ensemble": Ensemble,
                 "leaf_marginals": LeafMarginals}


def build_model(kind: str, hparams: dict) -> nn.Module:
    """Build a network by name (``"sequence_cnn"``, ``"residue_cnn"`` or ``"ensemble"``) from its hyperparameters.

    Raises:
        InputError: for an unknown name.
    """
    if kind not in ARCHITECTURES:
        raise InputError(f"Expected argument `kind` to be one of {sorted(ARCHITECTURES)}, but got {kind!r}")
    return ARCHITECTURES[kind](**hparams)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
