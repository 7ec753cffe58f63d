"""Tests of seqxent.model.networks: logits shapes, padding invariance, receptive field and argument checks."""

import numpy as np
import pytest
import torch

from seqxent.baseline.kmer import kmer_features
from seqxent.data.alphabet import Alphabet
from seqxent.data.batching import Collate, Example
from seqxent.errors import InputError
from seqxent.model.networks import (
    Ensemble,
    KmerProfile,
    ResidueCNN,
    SequenceCNN,
    build_model,
    combine_logits,
    count_parameters,
)

DNA = Alphabet.from_name("dna")
PROTEIN = Alphabet.from_name("protein")


@pytest.fixture(params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    if request.param == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA is not available")
    return torch.device(request.param)


def _sequence_cnn(**kwargs) -> SequenceCNN:
    torch.manual_seed(0)
    return SequenceCNN(**{"in_channels": 4, "n_classes": 3, "channels": 8, "kernel_size": 5, "layers": 3,
                          **kwargs}).eval()


def _residue_cnn(**kwargs) -> ResidueCNN:
    torch.manual_seed(0)
    return ResidueCNN(**{"in_channels": 20, "n_classes": 3, "channels": 8, "kernel_size": 3, "layers": 4,
                         **kwargs}).eval()


def _batch(alphabet: Alphabet, seqs: list[str]):
    return Collate(alphabet)([Example(str(i), alphabet.to_codes(s)) for i, s in enumerate(seqs)])


def test_sequence_cnn_logits_shape(device):
    batch = _batch(DNA, ["ACGTACGTAC", "ACG", "T"]).to(device)
    logits = _sequence_cnn().to(device)(batch.x, batch.mask)
    assert logits.shape == (3, 3)
    assert torch.isfinite(logits).all()


def test_residue_cnn_logits_shape(device):
    batch = _batch(PROTEIN, ["MKVLAAGIVG", "MK", "W"]).to(device)
    logits = _residue_cnn().to(device)(batch.x, batch.mask)
    assert logits.shape == (3, 3, 10)
    assert torch.isfinite(logits).all()


@pytest.mark.parametrize("length", [1, 2, 3, 7, 8, 9])
def test_sequence_cnn_any_length_including_shorter_than_pooling(length):
    batch = _batch(DNA, ["A" * length])
    assert _sequence_cnn(layers=4)(batch.x, batch.mask).shape == (1, 3)


# Padding invariance: the key property that makes batched prediction equal one-at-a-time prediction.
# Lengths are chosen to hit odd/even pooling windows and padding that crosses a pooling boundary.


@pytest.mark.parametrize(("short", "long"), [("ACGTA", "ACGTACGTACGTAGGCTTAC"), ("ACGTACGT", "ACGTACGTA"),
                                             ("G", "ACGTACGTACGTACGTACGTACGTACGTAC")])
def test_sequence_cnn_padding_invariance(short, long):
    model = _sequence_cnn()
    with torch.no_grad():
        alone = _batch(DNA, [short])
        logits_alone = model(alone.x, alone.mask)
        padded = _batch(DNA, [short, long])
        logits_padded = model(padded.x, padded.mask)
    assert padded.x.shape[2] > alone.x.shape[2]
    assert torch.allclose(logits_alone[0], logits_padded[0], atol=1e-5)


@pytest.mark.parametrize(("short", "long"), [("MKVLA", "MKVLAAGIVGHHEECCKLMNPQRSTVW"), ("MK", "MKV"),
                                             ("W", "ACDEFGHIKLMNPQRSTVWY" * 3)])
def test_residue_cnn_padding_invariance(short, long):
    model = _residue_cnn()
    with torch.no_grad():
        alone = _batch(PROTEIN, [short])
        logits_alone = model(alone.x, alone.mask)
        padded = _batch(PROTEIN, [short, long])
        logits_padded = model(padded.x, padded.mask)
    n = len(short)
    assert logits_alone.shape == (1, 3, n)
    assert torch.allclose(logits_alone[0], logits_padded[0, :, :n], atol=1e-5)


def test_padding_invariance_also_in_train_mode_without_dropout():
    # Layer norm (not batch norm): even in train mode other records in the batch do not leak in.
    model = _residue_cnn(dropout=0.0).train()
    alone = _batch(PROTEIN, ["MKVLA"])
    padded = _batch(PROTEIN, ["MKVLA", "ACDEFGHIKLMNPQ"])
    with torch.no_grad():
        logits_alone, logits_padded = model(alone.x, alone.mask), model(padded.x, padded.mask)
    assert torch.allclose(logits_alone[0], logits_padded[0, :, :5], atol=1e-5)


def test_residue_cnn_long_chain():
    model = _residue_cnn()
    x = torch.zeros(1, 20, 5000)
    x[0, 0] = 1.0
    with torch.no_grad():
        logits = model(x, torch.ones(1, 5000, dtype=torch.bool))
    assert logits.shape == (1, 3, 5000)
    assert torch.isfinite(logits).all()


def test_residue_cnn_receptive_field_value():
    # kernel 5, 8 blocks, dilations 1, 2, 4, 8, 1, 2, 4, 8: 5 + 4 * 30 = 125.
    model = ResidueCNN(20, 3, channels=4, kernel_size=5, layers=8, dilation_cycle=4)
    assert [b.conv.dilation[0] for b in model.blocks] == [1, 2, 4, 8, 1, 2, 4, 8]
    assert model.receptive_field == 125


@pytest.mark.parametrize(("kernel_size", "layers", "cycle"), [(3, 4, 4), (5, 3, 2), (3, 1, 1)])
def test_residue_cnn_receptive_field_matches_gradient(kernel_size, layers, cycle):
    # Independent check: the input positions with a nonzero gradient of one output position.
    torch.manual_seed(0)
    model = ResidueCNN(20, 3, channels=6, kernel_size=kernel_size, layers=layers, dropout=0.0,
                       dilation_cycle=cycle).eval()
    length = 2 * model.receptive_field + 11
    x = torch.rand(1, 20, length, requires_grad=True)
    model(x, torch.ones(1, length, dtype=torch.bool))[0, :, length // 2].sum().backward()
    touched = (x.grad.abs().sum(dim=1)[0] > 0).nonzero().flatten()
    assert touched.max().item() - touched.min().item() + 1 == model.receptive_field


@pytest.mark.parametrize("model_class", [SequenceCNN, ResidueCNN])
@pytest.mark.parametrize("kernel_size", [4, 2])
def test_even_kernel_size_rejected(model_class, kernel_size):
    with pytest.raises(InputError) as info:
        model_class(4, 2, kernel_size=kernel_size)
    assert str(info.value) == f"Expected argument `kernel_size` to be odd, but got {kernel_size}"


@pytest.mark.parametrize("model_class", [SequenceCNN, ResidueCNN])
@pytest.mark.parametrize(("name", "value"),
                         [("n_classes", 0), ("channels", -1), ("layers", 0), ("channels", 2.0),
                          ("kernel_size", 0), ("kernel_size", -1), ("in_channels", 0)])
def test_non_positive_sizes_rejected(model_class, name, value):
    with pytest.raises(InputError) as info:
        model_class(**{"in_channels": 4, "n_classes": 2, name: value})
    assert str(info.value) == f"Expected argument `{name}` to be an integer ≥ 1, but got {value!r}"


def test_constructor_arguments_are_used():
    model = SequenceCNN(4, 5, channels=16, kernel_size=7, layers=2, dropout=0.3)
    assert len(model.convs) == 2
    assert model.convs[0].kernel_size == (7,)
    assert model.convs[1].in_channels == 16
    assert model.head.out_features == 5
    assert model.dropout.p == 0.3
    res = ResidueCNN(20, 8, channels=12, kernel_size=3, layers=5, dropout=0.25, dilation_cycle=2)
    assert len(res.blocks) == 5
    assert [b.conv.dilation[0] for b in res.blocks] == [1, 2, 1, 2, 1]
    assert res.head.out_channels == 8
    assert res.blocks[0].dropout.p == 0.25


def test_build_model_by_name():
    model = build_model("residue_cnn", {"in_channels": 20, "n_classes": 3, "channels": 4, "layers": 1})
    assert isinstance(model, ResidueCNN)
    assert isinstance(build_model("sequence_cnn", {"in_channels": 4, "n_classes": 2}), SequenceCNN)


def test_build_model_unknown_kind():
    with pytest.raises(InputError) as info:
        build_model("transformer", {})
    assert str(info.value) == ("Expected argument `kind` to be one of ['ensemble', 'leaf_marginals', 'residue_cnn', "
                               "'sequence_cnn'], but got 'transformer'")


def test_count_parameters_exact():
    # stem 20*2*1+2, one block: norm 2+2, conv 2*2*1+2; final norm 2+2; head 2*3+3.
    model = ResidueCNN(20, 3, channels=2, kernel_size=1, layers=1)
    assert count_parameters(model) == 42 + 4 + 6 + 4 + 9
    model.head.weight.requires_grad_(False)
    assert count_parameters(model) == 65 - 6


def test_combine_logits_is_the_mean_probability_of_an_independent_computation():
    rng = np.random.default_rng(0)
    members = [rng.normal(scale=30, size=(4, 3, 7)) for _ in range(3)]  # large logits: no overflow allowed
    got = combine_logits([torch.tensor(z) for z in members], dim=1)
    probs = [np.exp(z - z.max(axis=1, keepdims=True)) for z in members]
    mean = np.mean([p / p.sum(axis=1, keepdims=True) for p in probs], axis=0)  # (4, 3, 7)
    np.testing.assert_allclose(torch.softmax(got, dim=1).numpy(), mean, rtol=1e-9, atol=1e-12)
    small = [rng.normal(size=(5, 4)) for _ in range(2)]
    got = combine_logits([torch.tensor(z) for z in small], dim=1, combine="sigmoid")
    mean = np.mean([1 / (1 + np.exp(-z)) for z in small], axis=0)
    np.testing.assert_allclose(got.numpy(), np.log(mean / (1 - mean)), rtol=1e-9)
    with pytest.raises(InputError, match="`combine` to be one of \\['softmax', 'sigmoid'\\], but got 'mean'"):
        combine_logits([torch.zeros(1, 2)], dim=1, combine="mean")


@pytest.mark.parametrize(("member", "make"), [("sequence_cnn", _sequence_cnn), ("residue_cnn", _residue_cnn)])
def test_ensemble_forward_averages_its_members(member, make):
    hparams = ({"in_channels": 4, "n_classes": 3, "channels": 8, "kernel_size": 5, "layers": 3}
               if member == "sequence_cnn" else
               {"in_channels": 20, "n_classes": 3, "channels": 8, "kernel_size": 3, "layers": 4})
    ensemble = build_model("ensemble", {"member": member, "n_members": 2, **hparams}).eval()
    alphabet = DNA if member == "sequence_cnn" else PROTEIN
    batch = _batch(alphabet, ["ACGTACGTAC", "ACG"] if alphabet is DNA else ["MKVLAAGIVG", "MKV"])
    with torch.no_grad():
        a, b = (m(batch.x, batch.mask) for m in ensemble.members)
        want = (torch.softmax(a, dim=1) + torch.softmax(b, dim=1)) / 2
        torch.testing.assert_close(torch.softmax(ensemble(batch.x, batch.mask), dim=1), want)
    assert count_parameters(ensemble) == 2 * count_parameters(make())


def test_ensemble_argument_errors():
    with pytest.raises(InputError, match="`member` to be one of .'leaf_marginals', 'residue_cnn', 'sequence_cnn'.,"):
        Ensemble("ensemble", 2)
    with pytest.raises(InputError, match="`n_members` to be an integer ≥ 1, but got 0"):
        Ensemble("sequence_cnn", 0, in_channels=4, n_classes=2)
    with pytest.raises(InputError, match="`combine` to be one of"):
        Ensemble("sequence_cnn", 2, combine="vote", in_channels=4, n_classes=2)


# The k-mer branch ("wide and deep"): its profile is the k-mer logistic regression's feature vector.


@pytest.mark.parametrize("k", [1, 2, 3, 6])
def test_kmer_profile_equals_the_baseline_features(k):
    seqs = ["ACGTACGGTNACGTRAC", "AAAA", "ACG", "A", "NNNNNN", "TTGCAYCCGTA"]
    batch = _batch(DNA, seqs)
    profile = KmerProfile(4, 2, k).profile(batch.x, batch.mask)
    want = kmer_features(seqs, k, norm="l2").toarray()
    np.testing.assert_allclose(profile.numpy(), want, atol=1e-6)


def test_kmer_profile_exact_counts_and_index_order():
    # ACGTAC: 2-mers AC, CG, GT, TA, AC -> codes 1, 6, 11, 12 (A=0, C=1, G=2, T=3, first base most significant)
    batch = _batch(DNA, ["ACGTAC"])
    profile = KmerProfile(4, 2, 2).profile(batch.x, batch.mask)[0]
    want = torch.zeros(16)
    want[[1, 6, 11, 12]] = torch.tensor([2.0, 1.0, 1.0, 1.0]) / 7**0.5  # L2 norm sqrt(4 + 1 + 1 + 1)
    assert torch.allclose(profile, want)


def test_kmer_profile_shorter_than_k_and_all_ambiguous_give_the_bias():
    branch = KmerProfile(4, 3, 4)
    batch = _batch(DNA, ["ACG", "NNNNNNN"])
    assert torch.equal(branch.profile(batch.x, batch.mask), torch.zeros(2, 256))
    assert torch.allclose(branch(batch.x, batch.mask), branch.linear.bias.expand(2, 3))
    short = _batch(DNA, ["AC"])
    assert torch.equal(branch.profile(short.x, short.mask), torch.zeros(1, 256))


def test_sequence_cnn_kmer_branch_adds_its_logits():
    with_branch, without = _sequence_cnn(kmer_k=3), _sequence_cnn()
    batch = _batch(DNA, ["ACGTACGTAC", "ACGGT", "T"])
    with torch.no_grad():
        got = with_branch(batch.x, batch.mask)
        want = without(batch.x, batch.mask) + with_branch.kmers(batch.x, batch.mask)
    assert torch.allclose(got, want, atol=1e-6)
    assert count_parameters(with_branch) == count_parameters(without) + 4**3 * 3 + 3
    assert without.kmers is None


@pytest.mark.parametrize(("short", "long"), [("ACGTA", "ACGTACGTACGTAGGCTTAC"), ("G", "ACGTACGTAC")])
def test_sequence_cnn_kmer_branch_padding_invariance(short, long):
    model = _sequence_cnn(kmer_k=2)
    with torch.no_grad():
        alone, padded = _batch(DNA, [short]), _batch(DNA, [short, long])
        got_alone, got_padded = model(alone.x, alone.mask), model(padded.x, padded.mask)
    assert torch.allclose(got_alone[0], got_padded[0], atol=1e-5)


def test_kmer_profile_argument_errors():
    with pytest.raises(InputError, match="`k` to be an integer ≥ 1, but got 0"):
        KmerProfile(4, 2, 0)
    with pytest.raises(InputError, match="`k` to give at most 2\\*\\*20 k-mers, but got 4\\*\\*11"):
        KmerProfile(4, 2, 11)
