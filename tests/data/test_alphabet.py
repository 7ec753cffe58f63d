"""Tests of seqxent.data.alphabet: exact one-hot vectors on tiny hand-written sequences (ESM, tangermeme)."""

import numpy as np
import pytest

from seqxent.data.alphabet import PROTEIN_TOKENS, Alphabet
from seqxent.errors import InputError


@pytest.fixture(scope="module")
def dna():
    return Alphabet.from_name("dna")


@pytest.fixture(scope="module")
def protein():
    return Alphabet.from_name("protein")


def _protein_vector(members: str) -> list[float]:
    """Reference vector written independently of Alphabet.table: equal weight on each member residue."""
    return [1.0 / len(members) if tok in members else 0.0 for tok in PROTEIN_TOKENS]


def test_dna_tokens_and_indices(dna):
    assert dna.name == "dna"
    assert dna.tokens == ("A", "C", "G", "T")
    assert dna.size == 4
    assert dna.tok_to_idx == {"A": 0, "C": 1, "G": 2, "T": 3}


def test_protein_tokens_and_indices(protein):
    assert protein.size == 20
    assert "".join(protein.tokens) == "ACDEFGHIKLMNPQRSTVWY"
    assert protein.tok_to_idx["Y"] == 19


def test_dna_one_hot_exact(dna):
    # Channels-first (C, L): columns are positions A, C, G, T.
    expected = np.array([[1, 0, 0, 0],
                         [0, 1, 0, 0],
                         [0, 0, 1, 0],
                         [0, 0, 0, 1]], dtype=np.float32)
    out = dna.encode("ACGT")
    assert out.dtype == np.float32
    assert out.shape == (4, 4)
    np.testing.assert_array_equal(out, expected)


def test_dna_ambiguity_codes_fractional(dna):
    # R = A or G; N = any; Y = C or T; B = not A (C, G or T).
    expected = np.array([[0.5, 0.25, 0.0, 0.0],
                         [0.0, 0.25, 0.5, 1 / 3],
                         [0.5, 0.25, 0.0, 1 / 3],
                         [0.0, 0.25, 0.5, 1 / 3]], dtype=np.float32)
    np.testing.assert_allclose(dna.encode("RNYB"), expected, rtol=0, atol=1e-7)


@pytest.mark.parametrize(("code", "members"), [
    ("R", "AG"), ("Y", "CT"), ("S", "CG"), ("W", "AT"), ("K", "GT"), ("M", "AC"),
    ("B", "CGT"), ("D", "AGT"), ("H", "ACT"), ("V", "ACG"), ("N", "ACGT"),
])
def test_dna_every_iupac_code(dna, code, members):
    expected = [1.0 / len(members) if tok in members else 0.0 for tok in "ACGT"]
    np.testing.assert_allclose(dna.encode(code)[:, 0], expected, rtol=0, atol=1e-7)
    assert dna.encode(code).sum() == pytest.approx(1.0)


def test_dna_u_is_read_as_t(dna):
    np.testing.assert_array_equal(dna.encode("U"), dna.encode("T"))
    np.testing.assert_array_equal(dna.encode("acgu"), dna.encode("ACGT"))


def test_dna_lower_case_equals_upper_case(dna):
    np.testing.assert_array_equal(dna.encode("acgtrn"), dna.encode("ACGTRN"))


def test_dna_gaps_and_whitespace_removed(dna):
    np.testing.assert_array_equal(dna.encode("A-C.G T\n"), dna.encode("ACGT"))
    assert dna.clean("a-c.g t\n") == "ACGT"


def test_dna_star_is_not_stripped(dna):
    # Only proteins drop a trailing stop codon; for DNA '*' is an invalid character.
    with pytest.raises(InputError, match=r"'\*' at position 3"):
        dna.encode("AC*")


def test_dna_invalid_character_names_character_and_position(dna):
    with pytest.raises(InputError) as info:
        dna.encode("ACGTZ")
    assert str(info.value) == "invalid dna character(s): 'Z' at position 5"


def test_dna_invalid_position_counts_cleaned_sequence(dna):
    # Positions are 1-based in the cleaned sequence (gaps removed).
    with pytest.raises(InputError, match=r"'E' at position 3"):
        dna.encode("A-CE")


def test_dna_several_invalid_characters_listed(dna):
    with pytest.raises(InputError) as info:
        dna.encode("AXCJ")
    assert str(info.value) == "invalid dna character(s): 'X' at position 2, 'J' at position 4"


@pytest.mark.parametrize(("seq", "bad"), [("AéC", "é"), ("Aßc", "ß"), ("AΩC", "Ω")])
def test_non_ascii_character_is_invalid(dna, seq, bad):
    # 'ß'.upper() is "SS" (S = C or G): non-ASCII letters are rejected, never upper-cased into codes.
    with pytest.raises(InputError) as info:
        dna.encode(seq)
    assert str(info.value) == f"invalid dna character(s): {bad!r} at position 2"


def test_dotless_i_is_not_read_as_isoleucine(protein):
    with pytest.raises(InputError, match="'ı' at position 2"):
        protein.encode("Mı")


def test_protein_x_is_uniform(protein):
    out = protein.encode("X")
    assert out.shape == (20, 1)
    np.testing.assert_allclose(out[:, 0], np.full(20, 1 / 20), rtol=0, atol=1e-7)


@pytest.mark.parametrize(("code", "members"), [("B", "DN"), ("Z", "EQ"), ("J", "IL")])
def test_protein_ambiguity_halves(protein, code, members):
    np.testing.assert_allclose(protein.encode(code)[:, 0], _protein_vector(members), rtol=0, atol=1e-7)


@pytest.mark.parametrize(("code", "standard"), [("U", "C"), ("O", "K"), ("u", "C"), ("o", "K")])
def test_protein_rare_residues_aliased(protein, code, standard):
    np.testing.assert_array_equal(protein.encode(code), protein.encode(standard))


def test_protein_exact_small_sequence(protein):
    expected = np.zeros((20, 3), dtype=np.float32)
    expected[10, 0] = 1.0  # M
    expected[[2, 11], 1] = 0.5  # B = D or N
    expected[:, 2] = 1 / 20  # X
    np.testing.assert_allclose(protein.encode("mbx"), expected, rtol=0, atol=1e-7)


def test_protein_trailing_stop_removed(protein):
    assert protein.clean("MK*") == "MK"
    assert protein.clean("MK**") == "MK"
    assert protein.encode("MK*").shape == (20, 2)


def test_protein_internal_stop_is_invalid(protein):
    with pytest.raises(InputError) as info:
        protein.encode("M*K")
    assert str(info.value) == "invalid protein character(s): '*' at position 2"


def test_empty_sequence_encodes_to_zero_length(dna):
    assert dna.encode("").shape == (4, 0)
    assert dna.encode("--").shape == (4, 0)


def test_table_padding_row_is_zero_and_rows_sum_to_one(dna, protein):
    for alphabet in (dna, protein):
        table = alphabet.table
        assert table.shape == (len(alphabet.codes), alphabet.size)
        np.testing.assert_array_equal(table[0], 0.0)
        np.testing.assert_allclose(table[1:].sum(axis=1), 1.0, rtol=0, atol=1e-6)


def test_to_codes_uint8_and_table_lookup(dna):
    codes = dna.to_codes("ACGTN")
    assert codes.dtype == np.uint8
    assert codes.tolist() == [1, 2, 3, 4, dna.codes.index("N")]
    np.testing.assert_array_equal(dna.table[codes].T, dna.encode("ACGTN"))


def test_invalid_characters_lists_positions(protein):
    assert protein.invalid_characters("MK1*") == [(2, "1"), (3, "*")]
    assert protein.invalid_characters("MKV") == []


@pytest.mark.parametrize("name", ["rna", "DNA", ""])
def test_from_name_unknown(name):
    with pytest.raises(ValueError) as info:
        Alphabet.from_name(name)
    expected = f"Expected argument `alphabet` to be one of ['dna', 'protein'], but got {name!r}"
    assert str(info.value) == expected
