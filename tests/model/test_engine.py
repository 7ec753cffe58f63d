"""Tests of seqxent.model.engine: the fast engines give the logits of the network's own forward, record by record."""

import numpy as np
import pytest
import torch
from torch import nn

from seqxent.data.alphabet import Alphabet
from seqxent.data.batching import Collate, Example
from seqxent.errors import InputError
from seqxent.model.engine import (
    EnsembleEngine,
    ModelEngine,
    ResidueEngine,
    SequenceEngine,
    build_engine,
    fold_batch_norm,
)
from seqxent.model.networks import Ensemble, ResidueCNN, SequenceCNN

DNA, PROTEIN = Alphabet.from_name("dna"), Alphabet.from_name("protein")


def _randomise_norms(model: nn.Module, seed: int) -> nn.Module:
    """Non-trivial running statistics and affine parameters, so that folding batch norm is really tested."""
    gen = torch.Generator().manual_seed(seed)
    for module in model.modules():
        if isinstance(module, nn.BatchNorm1d | nn.LayerNorm):
            with torch.no_grad():
                module.weight.copy_(torch.rand(module.weight.shape, generator=gen) + 0.5)
                module.bias.copy_(torch.randn(module.bias.shape, generator=gen))
                if isinstance(module, nn.BatchNorm1d):
                    module.running_mean.copy_(torch.randn(module.running_mean.shape, generator=gen))
                    module.running_var.copy_(torch.rand(module.running_var.shape, generator=gen) + 0.1)
    return model.eval()


def _examples(alphabet: Alphabet, lengths: list[int], seed: int, ambiguous: str) -> list[Example]:
    rng = np.random.default_rng(seed)
    chars = np.array(list(alphabet.tokens + (ambiguous,)))
    return [Example(f"r{i}", alphabet.to_codes("".join(rng.choice(chars, n)))) for i, n in enumerate(lengths)]


def _one_at_a_time(model: nn.Module, examples: list[Example], alphabet: Alphabet) -> list[np.ndarray]:
    """Independent reference: the model's own forward on each record alone (no padding, channels-first)."""
    collate, out = Collate(alphabet), []
    with torch.inference_mode():
        for ex in examples:
            batch = collate([ex])
            z = model(batch.x, batch.mask)[0]
            out.append((z if z.dim() == 1 else z.T).numpy())  # (K, L) -> (L, K)
    return out


# Lengths: single positions, odd lengths (partial pooling windows), and spreads that force padding.
LENGTHS = [1, 2, 3, 7, 16, 17, 40, 41, 100, 5, 63]


@pytest.mark.parametrize("layers", [1, 2, 4])
@pytest.mark.parametrize("kernel_size", [3, 9])
@pytest.mark.parametrize("batch_size", [1, 64])
def test_sequence_engine_matches_model(layers, kernel_size, batch_size):
    torch.manual_seed(layers * 10 + kernel_size)
    model = _randomise_norms(SequenceCNN(4, 5, channels=8, kernel_size=kernel_size, layers=layers), seed=layers)
    examples = _examples(DNA, LENGTHS, seed=1, ambiguous="N")
    engine = build_engine(model, DNA)
    assert isinstance(engine, SequenceEngine) and engine.multiple == max(64, 2**layers)
    got = engine.logits(examples, batch_size=batch_size)
    for g, want in zip(got, _one_at_a_time(model, examples, DNA), strict=True):
        assert g.shape == (5,)
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("batch_size", [1, 64])
def test_sequence_engine_with_kmer_branch_matches_model(batch_size):
    torch.manual_seed(7)
    model = _randomise_norms(SequenceCNN(4, 5, channels=8, kernel_size=5, layers=2, kmer_k=3), seed=7)
    with torch.no_grad():  # a branch as large as the CNN's logits, so that leaving it out would show
        model.kmers.linear.weight.normal_(0.0, 3.0)
    examples = _examples(DNA, LENGTHS, seed=4, ambiguous="N")
    want = _one_at_a_time(model, examples, DNA)
    for precision, tol in (("float32", 1e-5), ("bfloat16", 0.1)):
        got = build_engine(model, DNA, precision=precision).logits(examples, batch_size=batch_size)
        for g, w in zip(got, want, strict=True):
            np.testing.assert_allclose(g, w, rtol=1e-4, atol=tol * max(1.0, np.abs(w).max()))


@pytest.mark.parametrize("layers,dilation_cycle", [(1, 1), (3, 2), (4, 4)])
@pytest.mark.parametrize("batch_size", [1, 64])
def test_residue_engine_matches_model(layers, dilation_cycle, batch_size):
    torch.manual_seed(layers)
    model = _randomise_norms(ResidueCNN(20, 3, channels=8, kernel_size=5, layers=layers,
                                        dilation_cycle=dilation_cycle), seed=layers)
    examples = _examples(PROTEIN, LENGTHS, seed=2, ambiguous="X")
    engine = build_engine(model, PROTEIN)
    assert isinstance(engine, ResidueEngine)
    got = engine.logits(examples, batch_size=batch_size)
    for ex, g, want in zip(examples, got, _one_at_a_time(model, examples, PROTEIN), strict=True):
        assert g.shape == (len(ex.codes), 3)
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("model,alphabet", [(SequenceCNN(4, 3, channels=8, layers=2), DNA),
                                            (ResidueCNN(20, 3, channels=8, layers=2), PROTEIN)])
def test_bfloat16_close_to_float32(model, alphabet):
    model = _randomise_norms(model, seed=3)
    examples = _examples(alphabet, [30, 31, 64], seed=3, ambiguous="N" if alphabet is DNA else "X")
    full = build_engine(model, alphabet).logits(examples)
    half = build_engine(model, alphabet, precision="bfloat16").logits(examples)
    for f, h in zip(full, half, strict=True):
        assert h.dtype == np.float32
        np.testing.assert_allclose(h, f, atol=0.1 * max(1.0, np.abs(f).max()))


def test_max_tokens_and_input_order_kept():
    model = _randomise_norms(SequenceCNN(4, 3, channels=8, layers=2), seed=4)
    examples = _examples(DNA, [50, 3, 20, 3, 80], seed=4, ambiguous="R")
    engine = build_engine(model, DNA)
    capped = engine.logits(examples, batch_size=64, max_tokens=60)
    for c, want in zip(capped, _one_at_a_time(model, examples, DNA), strict=True):
        np.testing.assert_allclose(c, want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize(("member", "hparams", "alphabet", "ambiguous"), [
    ("sequence_cnn", {"in_channels": 4, "n_classes": 5, "channels": 8, "layers": 3}, DNA, "N"),
    ("residue_cnn", {"in_channels": 20, "n_classes": 3, "channels": 8, "layers": 3}, PROTEIN, "X"),
])
def test_ensemble_engine_matches_model(member, hparams, alphabet, ambiguous):
    torch.manual_seed(3)
    model = Ensemble(member, 3, **hparams)
    for seed, net in enumerate(model.members):
        _randomise_norms(net, seed)
    model.eval()
    engine = build_engine(model, alphabet)
    assert isinstance(engine, EnsembleEngine) and engine.multiple == engine.members[0].multiple
    examples = _examples(alphabet, LENGTHS, seed=2, ambiguous=ambiguous)
    for g, want in zip(engine.logits(examples, batch_size=4), _one_at_a_time(model, examples, alphabet), strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-5)


def test_unknown_architecture_and_slow_path_use_the_model_forward():
    class Wrapped(SequenceCNN):  # a subclass may change forward: never replaced by the fast engine
        pass

    model = _randomise_norms(Wrapped(4, 3, channels=8, layers=2), seed=5)
    assert type(build_engine(model, DNA)) is ModelEngine
    plain = _randomise_norms(SequenceCNN(4, 3, channels=8, layers=2), seed=5)
    assert type(build_engine(plain, DNA, fast=False)) is ModelEngine
    examples = _examples(DNA, [9, 4], seed=5, ambiguous="N")
    got = build_engine(model, DNA).logits(examples)
    for g, want in zip(got, _one_at_a_time(model, examples, DNA), strict=True):
        np.testing.assert_allclose(g, want, rtol=1e-5, atol=1e-6)


def test_encode_pads_to_the_multiple_with_zero_vectors():
    engine = build_engine(SequenceCNN(4, 3, channels=8, layers=3).eval(), DNA)
    x, mask = engine.encode([DNA.to_codes("ACGTN"), DNA.to_codes("R")])
    assert x.shape == (2, 64, 4) and mask.tolist() == [[True] * 5 + [False] * 59, [True] + [False] * 63]
    assert x[0, 4].tolist() == [0.25] * 4 and x[1, 0].tolist() == [0.5, 0.0, 0.5, 0.0]
    assert x[0, 5:].abs().sum() == 0 and x[1, 1:].abs().sum() == 0
    assert build_engine(SequenceCNN(4, 3, channels=8, layers=7).eval(), DNA).multiple == 128


def test_fold_batch_norm_without_norm_is_the_conv():
    conv = nn.Conv1d(2, 3, 3)
    weight, bias = fold_batch_norm(conv)
    assert torch.equal(weight, conv.weight) and torch.equal(bias, conv.bias)


def test_bad_precision_and_bad_width():
    model = SequenceCNN(4, 3, channels=8, layers=2).eval()
    with pytest.raises(InputError, match="Expected argument `precision` to be one of"):
        build_engine(model, DNA, precision="float16")
    with pytest.raises(InputError, match="Expected a batch width divisible by 64, but got 6"):
        build_engine(model, DNA).forward(torch.zeros(1, 6, 4), torch.ones(1, 6, dtype=torch.bool))


def test_map_chunks_keeps_order_and_reads_one_chunk_ahead():
    model = _randomise_norms(SequenceCNN(4, 3, channels=8, layers=2), seed=6)
    engine = build_engine(model, DNA)
    chunks = [_examples(DNA, lengths, seed=i, ambiguous="N") for i, lengths in enumerate([[5, 9], [30], [7, 2, 8]])]
    read = []

    def source():
        for i, chunk in enumerate(chunks):
            read.append(i)
            yield i, chunk

    results = engine.map_chunks(source(), batch_size=2)
    assert next(results)[0] == 0 and read == [0]  # the first chunk comes before anything more is read
    rest = list(results)
    assert [payload for payload, _ in rest] == [1, 2] and read == [0, 1, 2]
    for (_, logits), chunk in zip(rest, chunks[1:], strict=True):
        for got, want in zip(logits, _one_at_a_time(model, chunk, DNA), strict=True):
            np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_device_flags_refuse_cuda_without_a_gpu(capsys):
    from seqxent.cli import main

    if torch.cuda.is_available():
        pytest.skip("CUDA is available")
    for command in ("calibrate", "evaluate", "predict"):
        source = ["--input", "x.fasta"] if command == "predict" else ["--dataset", "missing.tsv"]
        assert main([command, "--model", "missing.pt", *source, "--output", "out", "--device", "cuda"]) == 2
        assert "CUDA is not available" in capsys.readouterr().err


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_engines_on_cuda_match_cpu(precision):
    for model, alphabet, amb in ((SequenceCNN(4, 3, channels=8, layers=2), DNA, "N"),
                                 (ResidueCNN(20, 3, channels=8, layers=2), PROTEIN, "X")):
        model = _randomise_norms(model, seed=7)
        examples = _examples(alphabet, LENGTHS, seed=7, ambiguous=amb)
        cpu = build_engine(model, alphabet, precision=precision).logits(examples)
        gpu = build_engine(model.cuda(), alphabet, "cuda", precision).logits(examples)
        for c, g in zip(cpu, gpu, strict=True):
            np.testing.assert_allclose(g, c, rtol=0.05, atol=0.05)
