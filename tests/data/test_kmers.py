import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seqxent.data.kmers import AMINO_ACIDS, DNA, NUCLEOTIDES, kmer_codes, kmer_windows


def slow_codes(seq: str, k: int, letters: str) -> list[int]:
    """Reference: every window of k letters of ``letters`` (upper-cased) as a base-len(letters) number."""
    seq, base = seq.upper(), len(letters)
    windows = [seq[i : i + k] for i in range(len(seq) - k + 1)]
    return [sum(letters.index(c) * base ** (k - 1 - j) for j, c in enumerate(w)) for w in windows
            if set(w) <= set(letters)]


def dna_code(word: str) -> int:
    return int("".join(str("ACGT".index(b)) for b in word), 4)


@pytest.mark.parametrize(
    ("seq", "expected"),
    [
        ("ACNGT", ["AC", "GT"]),  # N breaks every window that contains it
        ("ACRGT", ["AC", "GT"]),  # IUPAC code R
        ("AC-GT", ["AC", "GT"]),  # gap
        ("acgt", ["AC", "CG", "GT"]),  # lower case
        ("ACGU", ["AC", "CG", "GT"]),  # U reads as T
        ("AéCG", ["CG"]),  # a non-ASCII letter is one position and breaks k-mers
        ("A", []),  # shorter than k
        ("", []),
    ],
    ids=["N", "IUPAC", "gap", "lowercase", "uracil", "non-ascii", "short", "empty"],
)
def test_nucleotide_codes_skip_windows_with_other_letters(seq, expected):
    assert kmer_codes(seq, 2, NUCLEOTIDES).tolist() == [dna_code(w) for w in expected]


def test_dna_alphabet_breaks_kmers_at_u():
    assert kmer_codes("ACGUAC", 2, DNA).tolist() == [dna_code("AC"), dna_code("CG"), dna_code("AC")]


def test_amino_acid_codes_are_base_20():
    # M = 10, K = 8, T = 16 in "ACDEFGHIKLMNPQRSTVWY"; X breaks the k-mer.
    assert kmer_codes("mkXTk", 2, AMINO_ACIDS).tolist() == [10 * 20 + 8, 16 * 20 + 8]


@pytest.mark.parametrize(("k", "alphabet"), list(itertools.product([1, 3, 8], [DNA, AMINO_ACIDS])))
def test_codes_match_a_slow_loop(k, alphabet):
    seq = "GATTACAnnMKVLAAGcgtXACDEFGHIKLMNPQRSTVWYACGT"
    assert kmer_codes(seq, k, alphabet).tolist() == slow_codes(seq, k, "".join(alphabet))


def test_windows_of_joined_sequences_never_cross_the_separator():
    start, code = kmer_windows("ACG\x00GTA", 2)
    assert start.tolist() == [0, 1, 4, 5]
    assert code.tolist() == [dna_code("AC"), dna_code("CG"), dna_code("GT"), dna_code("TA")]
    assert start.dtype == code.dtype == np.int64


@pytest.mark.parametrize("k", [0, -1, 1.5, True, 32])
def test_bad_k_is_named(k):
    with pytest.raises(ValueError, match=f"Expected argument `k` to be an integer .*, but got {k!r}"):
        kmer_codes("ACGT", k)


@settings(max_examples=100, deadline=None)
@given(st.text(alphabet="ACGTNacgu-", max_size=40), st.integers(1, 6))
def test_codes_match_the_slow_loop_on_any_nucleotide_text(seq, k):
    codes = kmer_codes(seq, k, NUCLEOTIDES)
    assert codes.tolist() == slow_codes(seq.replace("u", "t"), k, "ACGT")
    assert ((codes >= 0) & (codes < 4**k)).all()
