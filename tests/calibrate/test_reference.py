"""The k-mer reference: k-mers and containment against brute-force sets, hash sampling, storage."""

import random

import numpy as np
import pytest
import torch

from seqxent.calibrate import reference
from seqxent.calibrate.reference import KmerReference, auto_scaled, kmers
from seqxent.errors import InputError


def _brute_kmers(seq: str, k: int) -> set[str]:
    return {seq[i:i + k] for i in range(len(seq) - k + 1) if set(seq[i:i + k]) <= set("ACGT")}


def _brute_distance(query: str, references: list[str], k: int) -> float:
    mine = _brute_kmers(query.upper(), k)
    if not mine:
        return 1.0
    return 1.0 - max(len(mine & _brute_kmers(r, k)) for r in references) / len(mine)


def _random_dna(rng: random.Random, n: int, alphabet: str = "ACGT") -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


@pytest.mark.parametrize("k", [5, 12, 24])
def test_kmers_are_the_distinct_unambiguous_words_in_base_4(k):
    rng = random.Random(1)
    seq = _random_dna(rng, 300, "ACGTACGTACGT" + "ACGTN" * (k < 10))  # no 24-mer would survive many Ns
    got = kmers(seq, k=k)
    want = sorted(sum("ACGT".index(c) * 4 ** (k - 1 - i) for i, c in enumerate(w)) for w in _brute_kmers(seq, k))
    assert got.tolist() == want and len(want) > 100
    assert kmers(seq.lower(), k=k).tolist() == want  # soft-masked bases count
    assert kmers("ACG", k=k).size == 0


@pytest.mark.parametrize("dense_cells", [reference.DENSE_CELLS, 0], ids=["dense", "sparse"])
def test_distance_is_one_minus_the_best_containment(monkeypatch, dense_cells):
    monkeypatch.setattr(reference, "DENSE_CELLS", dense_cells)  # both kinds of incidence matrix
    rng = random.Random(2)
    references = [_random_dna(rng, rng.randint(40, 120)) for _ in range(30)]
    # queries: exact fragments, mutated copies, unrelated sequences, N runs, lower case, too short
    queries = [references[3][10:60], references[7].lower(), _random_dna(rng, 80), "N" * 50, "ACGT",
               references[5][:30] + "NNNN" + references[9][:30]]
    for _ in range(10):
        q = list(rng.choice(references))
        for i in rng.sample(range(len(q)), 5):
            q[i] = rng.choice("ACGT")
        queries.append("".join(q))
    ref = KmerReference(references, k=8)
    got = ref.distance(queries)
    assert isinstance(ref.index()[0], np.ndarray) == (dense_cells > 0)
    want = [_brute_distance(q, references, 8) for q in queries]
    np.testing.assert_allclose(got, want)
    assert got[0] == 0.0 and got[1] == 0.0 and got[3] == 1.0 and got[4] == 1.0


def test_hash_sampling_keeps_the_same_kmers_everywhere_and_estimates_the_distance():
    rng = random.Random(3)
    seq = _random_dna(rng, 2000)
    every, sampled = set(kmers(seq, 12).tolist()), kmers(seq, 12, scaled=8)
    assert set(sampled.tolist()) <= every and 0.08 < len(sampled) / len(every) < 0.17
    assert set(kmers(seq[500:1500], 12, scaled=8).tolist()) <= set(sampled.tolist())
    references = [_random_dna(rng, 1500) for _ in range(20)]
    query = references[4][:700] + _random_dna(rng, 700)  # contains half of reference 4
    exact = KmerReference(references, scaled=1).distance([query])[0]
    estimate = KmerReference(references, scaled=8).distance([query])[0]
    assert exact == pytest.approx(0.5, abs=0.02) and estimate == pytest.approx(exact, abs=0.12)


def test_scaled_grows_with_the_reference():
    assert [auto_scaled(n) for n in (1, 2000, 2001, 12_559)] == [1, 1, 2, 7]
    assert KmerReference(["ACGTACGTAAAA"] * 3 + ["CCCCGGGGTTTT"]).scaled == 1


def test_stored_and_restored_through_a_checkpoint_meta(tmp_path):
    ref = KmerReference(["ACGTACGTTTGACCA", "GGGGCCCCAAAT", "ACGTACGTTTGACCA"], k=6, scaled=2)
    meta = {"reference": ref.to_meta()}
    torch.save(meta, tmp_path / "m.pt")
    back = KmerReference.from_meta(torch.load(tmp_path / "m.pt", weights_only=True))
    assert (back.sequences, back.k, back.scaled) == (ref.sequences, 6, 2) and len(back) == 2
    assert KmerReference.from_meta({}) is None


@pytest.mark.parametrize(("kwargs", "message"), [({"k": 3}, "`k` to be an integer in \\[4, 24\\], but got 3"),
                                                 ({"k": 25}, "but got 25"),
                                                 ({"scaled": -1}, "`scaled` to be an integer ≥ 0, but got -1")])
def test_bad_arguments_are_named(kwargs, message):
    with pytest.raises(InputError, match=message):
        KmerReference(["ACGTACGT"], **kwargs)
    with pytest.raises(InputError, match="at least one reference sequence"):
        KmerReference([])
