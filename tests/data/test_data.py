"""Tests of seqxent.data.batching: exact padded batches, cropping, length-bucketed batching and label encoding."""

import numpy as np
import pytest
import torch

from seqxent.data.alphabet import Alphabet
from seqxent.data.batching import (
    IGNORE_INDEX,
    Augment,
    Collate,
    Example,
    iterate_batches,
    length_batches,
)
from seqxent.errors import InputError
from seqxent.tasks import get_task

DNA = Alphabet.from_name("dna")
PROTEIN = Alphabet.from_name("protein")


def _ex(rid: str, seq: str, target=None, alphabet: Alphabet = DNA) -> Example:
    return Example(rid, alphabet.to_codes(seq), target)


# --- Collate ----------------------------------------------------------------------------------------------


def test_collate_sequence_task_exact():
    batch = Collate(DNA)([_ex("a", "ACN", 1), _ex("b", "G", 0)])
    assert batch.ids == ["a", "b"]
    expected_x = torch.tensor([
        [[1, 0, 0.25], [0, 1, 0.25], [0, 0, 0.25], [0, 0, 0.25]],  # A C N
        [[0, 0, 0.00], [0, 0, 0.00], [1, 0, 0.00], [0, 0, 0.00]],  # G, then two padded (zero) positions
    ])
    assert batch.x.dtype == torch.float32
    assert batch.x.shape == (2, 4, 3)
    torch.testing.assert_close(batch.x, expected_x, rtol=0, atol=0)
    assert batch.mask.dtype == torch.bool
    assert batch.mask.tolist() == [[True, True, True], [True, False, False]]
    assert batch.target.dtype == torch.long
    assert batch.target.tolist() == [1, 0]


def test_collate_residue_targets_padded_with_ignore_index():
    examples = [_ex("p1", "MK", np.array([0, 2]), PROTEIN),
                _ex("p2", "MKVA", np.array([1, 1, 0, 2]), PROTEIN)]
    batch = Collate(PROTEIN)(examples)
    assert IGNORE_INDEX == -100
    assert batch.x.shape == (2, 20, 4)
    assert batch.target.tolist() == [[0, 2, -100, -100], [1, 1, 0, 2]]
    assert batch.mask.tolist() == [[True, True, False, False], [True, True, True, True]]
    torch.testing.assert_close(batch.x[0, :, 2:], torch.zeros(20, 2), rtol=0, atol=0)
    assert batch.x[0, PROTEIN.tok_to_idx["M"], 0] == 1.0
    assert batch.x[0, PROTEIN.tok_to_idx["K"], 1] == 1.0


def test_collate_without_targets():
    batch = Collate(DNA)([_ex("a", "AC")])
    assert batch.target is None
    assert batch.to(torch.device("cpu")).target is None


def test_collate_x_matches_alphabet_encode():
    seqs = ["ACGTRN", "TT", "YKM"]
    batch = Collate(DNA)([_ex(str(i), s) for i, s in enumerate(seqs)])
    for i, seq in enumerate(seqs):
        expected = torch.from_numpy(DNA.encode(seq))
        torch.testing.assert_close(batch.x[i, :, : len(seq)], expected, rtol=0, atol=0)
        assert batch.x[i, :, len(seq):].abs().sum() == 0


def test_collate_batch_to_device_keeps_values():
    batch = Collate(DNA)([_ex("a", "AC", 1)])
    moved = batch.to(torch.device("cpu"))
    assert moved.ids == ["a"]
    torch.testing.assert_close(moved.x, batch.x)
    assert moved.target.tolist() == [1]


# --- cropping ---------------------------------------------------------------------------------------------


def test_crop_centred_without_generator():
    # Length 7 cropped to 3: extra = 4, centred start = 2 -> "GTA" and the matching residue labels.
    ex = _ex("a", "ACGTACG", np.arange(7))
    batch = Collate(DNA, max_length=3)([ex])
    torch.testing.assert_close(batch.x[0], torch.from_numpy(DNA.encode("GTA")), rtol=0, atol=0)
    assert batch.target.tolist() == [[2, 3, 4]]
    assert batch.mask.tolist() == [[True, True, True]]


def test_crop_odd_extra_rounds_down():
    # Length 6 to 3: extra = 3, start = 1.
    batch = Collate(DNA, max_length=3)([_ex("a", "ACGTAC", np.arange(6))])
    assert batch.target.tolist() == [[1, 2, 3]]


def test_crop_leaves_short_sequences_and_sequence_targets():
    batch = Collate(DNA, max_length=4)([_ex("long", "ACGTACGT", 1), _ex("short", "AC", 0)])
    assert batch.x.shape == (2, 4, 4)
    assert batch.mask.tolist() == [[True] * 4, [True, True, False, False]]
    assert batch.target.tolist() == [1, 0]


def test_crop_zero_means_no_crop():
    batch = Collate(DNA, max_length=0)([_ex("a", "ACGTACGT")])
    assert batch.x.shape == (1, 4, 8)


def test_crop_random_with_generator_is_a_window_and_seeded():
    seq = "ACGTTGCAAC"
    ex = _ex("a", seq, np.arange(10))
    starts = []
    for seed in range(20):
        batch = Collate(DNA, max_length=4, generator=np.random.default_rng(seed))([ex])
        start = batch.target[0, 0].item()
        assert batch.target[0].tolist() == list(range(start, start + 4))
        window = torch.from_numpy(DNA.encode(seq[start:start + 4]))
        torch.testing.assert_close(batch.x[0], window, rtol=0, atol=0)
        starts.append(start)
    assert set(starts) <= set(range(7))
    assert len(set(starts)) > 1  # the offset is random, not always centred
    again = [Collate(DNA, 4, np.random.default_rng(seed))([ex]).target[0, 0].item() for seed in range(20)]
    assert again == starts


# --- length_batches ---------------------------------------------------------------------------------------


def test_length_batches_sorted_by_length():
    batches = length_batches([5, 1, 3, 2, 4], batch_size=2)
    assert [b.tolist() for b in batches] == [[1, 3], [2, 4], [0]]


def test_length_batches_ties_keep_input_order_without_generator():
    assert [b.tolist() for b in length_batches([2, 1, 2, 1], batch_size=4)] == [[1, 3, 0, 2]]


def test_length_batches_max_tokens_caps_padded_positions():
    lengths = [10, 10, 10, 30, 30, 100]
    batches = length_batches(lengths, batch_size=4, max_tokens=60)
    assert [b.tolist() for b in batches] == [[0, 1, 2], [3, 4], [5]]
    for b in batches:
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 60


def test_length_batches_single_record_over_cap_gets_own_batch():
    assert [b.tolist() for b in length_batches([500, 1], batch_size=8, max_tokens=10)] == [[1], [0]]


@pytest.mark.parametrize("max_tokens", [0, 25])
def test_length_batches_seeded_shuffle_deterministic_and_complete(max_tokens):
    lengths = np.random.default_rng(0).integers(1, 20, size=50)
    first = length_batches(lengths, 4, max_tokens, generator=np.random.default_rng(7))
    second = length_batches(lengths, 4, max_tokens, generator=np.random.default_rng(7))
    other = length_batches(lengths, 4, max_tokens, generator=np.random.default_rng(8))
    assert [b.tolist() for b in first] == [b.tolist() for b in second]
    assert [b.tolist() for b in first] != [b.tolist() for b in other]
    assert sorted(np.concatenate(first).tolist()) == list(range(50))
    for b in first:  # every batch is still a run of similar lengths from the sorted order
        assert len(b) <= 4
        assert max(lengths[b]) - min(lengths[b]) <= 3


def test_length_batches_empty():
    assert length_batches([], batch_size=3) == []


@pytest.mark.parametrize("batch_size", [0, -1])
def test_length_batches_bad_batch_size(batch_size):
    with pytest.raises(InputError, match=f"Expected argument `batch_size` to be ≥ 1, but got {batch_size}"):
        length_batches([1, 2], batch_size=batch_size)


def test_iterate_batches_yields_every_example_once():
    examples = [_ex(f"r{i}", "A" * n, i % 2) for i, n in enumerate([3, 1, 2, 5, 4])]
    batches = list(iterate_batches(examples, Collate(DNA), batch_size=2))
    assert [b.ids for b in batches] == [["r1", "r2"], ["r0", "r4"], ["r3"]]
    assert [b.x.shape[2] for b in batches] == [2, 4, 5]


# --- encode_examples --------------------------------------------------------------------------------------


def test_encode_examples_sequence_task():
    out = get_task("sequence").encode(["a", "b"], ["ACG", "T"], ["y", "x"], DNA, ["x", "y"])
    assert [ex.id for ex in out] == ["a", "b"]
    assert [ex.target for ex in out] == [1, 0]
    assert out[0].codes.tolist() == DNA.to_codes("ACG").tolist()


def test_encode_examples_residue_task():
    out = get_task("residue").encode(["p"], ["MKV"], ["HEC"], PROTEIN, ["H", "E", "C"])
    assert out[0].target.dtype == np.int64
    assert out[0].target.tolist() == [0, 1, 2]


def test_encode_examples_without_labels():
    out = get_task("sequence").encode(["a"], ["AC"], None, DNA, [])
    assert out[0].target is None


def test_encode_examples_unknown_sequence_label():
    with pytest.raises(InputError) as info:
        get_task("sequence").encode(["a", "b"], ["A", "C"], ["x", "z"], DNA, ["x", "y"])
    assert str(info.value) == "record 'b': label 'z' is not one of the classes ['x', 'y']"


def test_encode_examples_unknown_residue_label():
    with pytest.raises(InputError) as info:
        get_task("residue").encode(["p"], ["MKV"], ["HGC"], PROTEIN, ["H", "E", "C"])
    assert str(info.value) == "record 'p': label 'G' is not one of the classes ['H', 'E', 'C']"


@pytest.mark.parametrize("label", ["HE", "HECC"])
def test_encode_examples_wrong_residue_label_length(label):
    with pytest.raises(InputError) as info:
        get_task("residue").encode(["p"], ["MKV"], [label], PROTEIN, ["H", "E", "C"])
    assert str(info.value) == f"record 'p': {len(label)} residue labels for 3 residues"


def test_encode_examples_invalid_character():
    with pytest.raises(InputError, match="invalid dna character"):
        get_task("sequence").encode(["a"], ["AXC"], ["x"], DNA, ["x"])


def test_encode_examples_length_mismatch_of_inputs():
    with pytest.raises(ValueError):
        get_task("sequence").encode(["a", "b"], ["A"], None, DNA, [])


# --- Augment ----------------------------------------------------------------------------------------------


def test_augment_fragment_is_a_contiguous_piece_with_its_labels():
    seq = "ACDEFGHIKLMNPQRSTVWY"
    target = np.arange(20, dtype=np.int64)
    aug = Augment(fragment_prob=1.0, fragment_min=5)
    rng = np.random.default_rng(0)
    lengths = set()
    for _ in range(50):
        ex = aug(_ex("p", seq, target, PROTEIN), rng, Collate(PROTEIN).noise_codes)
        piece = "".join(PROTEIN.codes[c] for c in ex.codes)
        start = seq.index(piece)
        assert len(piece) >= 5 and ex.target.tolist() == list(range(start, start + len(piece)))
        lengths.add(len(piece))
    assert min(lengths) < 10 and max(lengths) > 15  # lengths spread over [5, 20]


def test_augment_noise_uses_canonical_tokens_and_n():
    collate = Collate(DNA)
    assert [DNA.codes[c] for c in collate.noise_codes] == ["A", "C", "G", "T", "N"]
    ex = Augment(noise_rate=1.0)(_ex("a", "A" * 400, 3), np.random.default_rng(1), collate.noise_codes)
    letters = [DNA.codes[c] for c in ex.codes]
    assert ex.target == 3 and len(letters) == 400
    counts = {b: letters.count(b) for b in "ACGTN"}
    assert sum(counts.values()) == 400
    assert 70 <= counts["N"] <= 130  # one time in four: 100 expected
    assert all(55 <= counts[b] <= 100 for b in "ACGT")  # 75 expected each


def test_augment_noise_rate_zero_keeps_sequence_and_fragment_min_keeps_short_ones():
    ex = _ex("a", "ACGTACGT", 0)
    out = Augment(fragment_prob=1.0, fragment_min=8)(ex, np.random.default_rng(0), Collate(DNA).noise_codes)
    assert out.codes.tolist() == ex.codes.tolist()


def test_collate_without_augmentation_draws_no_random_numbers():
    rng = np.random.default_rng(5)
    Collate(DNA, generator=rng, augment=Augment())([_ex("a", "ACGT", 0)])
    assert rng.random() == np.random.default_rng(5).random()


def test_collate_augments_training_batches_deterministically():
    examples = [_ex(f"s{i}", "ACGT" * 100, 0) for i in range(4)]
    aug = Augment(fragment_prob=0.5, fragment_min=50, noise_rate=0.05)
    one = Collate(DNA, generator=np.random.default_rng(3), augment=aug)(examples)
    two = Collate(DNA, generator=np.random.default_rng(3), augment=aug)(examples)
    assert torch.equal(one.x, two.x) and torch.equal(one.mask, two.mask)
    assert one.mask.sum() < 1600  # some examples were cut to fragments


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"fragment_prob": 1.5}, r"`fragment_prob` to be in \[0, 1\], but got 1.5"),
    ({"noise_rate": -0.1}, r"`noise_rate` to be in \[0, 1\], but got -0.1"),
    ({"fragment_min": 0}, r"`fragment_min` to be ≥ 1, but got 0"),
])
def test_augment_bad_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        Augment(**kwargs)


def test_collate_augmentation_needs_a_generator():
    with pytest.raises(InputError, match="`generator`"):
        Collate(DNA, augment=Augment(noise_rate=0.1))
