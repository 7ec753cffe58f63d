"""Alphabets: which characters a sequence may hold and how each one is one-hot encoded.

A sequence is encoded channels-first, shape ``(C, L)``, one channel per canonical token. Ambiguity codes are
*fractional* one-hot vectors: DNA ``R`` (A or G) is ``0.5·A + 0.5·G``, ``N`` is uniform over A, C, G, T. The
padding vector is all zeros, so a padded position is distinguishable from every real character.

Encoding is done in two steps so that a data set stays small in memory: :meth:`Alphabet.to_codes` maps a
sequence to ``uint8`` code indices, and :attr:`Alphabet.table` (``(n_codes, C)``) turns codes into vectors.
"""

from __future__ import annotations

import string
from dataclasses import dataclass, field

import numpy as np

from seqxent.errors import InputError

DNA_TOKENS = ("A", "C", "G", "T")
# IUPAC nucleotide ambiguity codes (Cornish-Bowden 1985). U is read as T (RNA input).
DNA_AMBIGUITY = {
    "R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
    "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT",
}
DNA_ALIASES = {"U": "T"}

PROTEIN_TOKENS = tuple("ACDEFGHIKLMNPQRSTVWY")
# X: any residue (uniform); B: D or N; Z: E or Q; J: I or L (mass spectrometry).
PROTEIN_AMBIGUITY = {"X": "".join(PROTEIN_TOKENS), "B": "DN", "Z": "EQ", "J": "IL"}
# Selenocysteine (U) and pyrrolysine (O) are encoded as their closest standard residues, C and K.
PROTEIN_ALIASES = {"U": "C", "O": "K"}

# Alignment gap characters are removed before encoding; a trailing stop codon '*' of a protein is removed.
GAP_CHARS = "-."


@dataclass(frozen=True)
class Alphabet:
    """Tokens of one molecule type and the fractional one-hot vector of every accepted character.

    Attributes:
        name: ``"dna"`` or ``"protein"``.
        tokens: canonical tokens in channel order.
        ambiguity: code → the canonical tokens it stands for (equal weights).
        aliases: code → the canonical token it is read as (``U`` → ``T`` for DNA).
        trailing: characters dropped at the end of a sequence only (``*`` stop for proteins).

    Example:
        >>> dna = Alphabet.from_name("dna")
        >>> dna.encode("ACgR").tolist()
        [[1.0, 0.0, 0.0, 0.5], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.5], [0.0, 0.0, 0.0, 0.0]]
    """

    name: str
    tokens: tuple[str, ...]
    ambiguity: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    trailing: str = ""

    @classmethod
    def from_name(cls, name: str) -> Alphabet:
        """Build the ``"dna"`` or ``"protein"`` alphabet.

        Raises:
            ValueError: for any other name.
        """
        if name == "dna":
            return cls("dna", DNA_TOKENS, DNA_AMBIGUITY, DNA_ALIASES)
        if name == "protein":
            return cls("protein", PROTEIN_TOKENS, PROTEIN_AMBIGUITY, PROTEIN_ALIASES, trailing="*")
        raise ValueError(f"Expected argument `alphabet` to be one of ['dna', 'protein'], but got {name!r}")

    @property
    def size(self) -> int:
        """Number of channels ``C`` of the encoding."""
        return len(self.tokens)

    @property
    def tok_to_idx(self) -> dict[str, int]:
        """Canonical token → channel index."""
        return {tok: i for i, tok in enumerate(self.tokens)}

    @property
    def codes(self) -> tuple[str, ...]:
        """Every accepted upper-case character, in code-index order (code 0 is padding)."""
        return ("",) + self.tokens + tuple(self.ambiguity) + tuple(self.aliases)

    @property
    def table(self) -> np.ndarray:
        """``(n_codes, C)`` float32 matrix: row ``i`` is the vector of code ``i``; row 0 (padding) is zero."""
        idx = self.tok_to_idx
        table = np.zeros((len(self.codes), self.size), dtype=np.float32)
        for row, code in enumerate(self.codes[1:], start=1):
            members = self.ambiguity.get(code) or self.aliases.get(code) or code
            for tok in members:
                table[row, idx[tok]] = 1.0 / len(members)
        return table

    def _lookup(self) -> np.ndarray:
        """256-entry byte → code index map; 255 marks a character the alphabet rejects."""
        lut = np.full(256, 255, dtype=np.uint8)
        for i, code in enumerate(self.codes[1:], start=1):
            lut[ord(code)] = i
            lut[ord(code.lower())] = i
        return lut

    def clean(self, seq: str) -> str:
        """Remove whitespace, gap characters and trailing stop symbols; upper-case the rest (ASCII only)."""
        seq = seq.translate(_CLEAN)
        return seq.rstrip(self.trailing) if self.trailing else seq

    def invalid_characters(self, seq: str) -> list[tuple[int, str]]:
        """``(position, character)`` of each character of a cleaned sequence that the alphabet rejects."""
        valid = set(self.codes[1:])
        return [(i, c) for i, c in enumerate(seq) if c not in valid]

    def to_codes(self, seq: str) -> np.ndarray:
        """Map a cleaned sequence to ``uint8`` code indices into :attr:`table`.

        Raises:
            InputError: when the sequence holds a character outside the alphabet (the first few are named).
        """
        raw = np.frombuffer(seq.encode("latin-1", errors="replace"), dtype=np.uint8)
        codes = self._cached_lookup()[raw]
        if (codes == 255).any():
            bad = ", ".join(f"{c!r} at position {i + 1}" for i, c in self.invalid_characters(seq)[:5])
            raise InputError(f"invalid {self.name} character(s): {bad}")
        return codes

    def encode(self, seq: str) -> np.ndarray:
        """One-hot encode a sequence, channels-first ``(C, L)`` float32."""
        return self.table[self.to_codes(self.clean(seq))].T  # (L, C) -> (C, L)

    def _cached_lookup(self) -> np.ndarray:
        cache = _LOOKUPS.get(self.name)
        if cache is None:
            cache = _LOOKUPS[self.name] = self._lookup()
        return cache


# ASCII-only upper-casing: str.upper() would turn 'ß' into "SS" and 'ı' into "I", valid codes, silently.
_CLEAN = str.maketrans(string.ascii_lowercase, string.ascii_uppercase, GAP_CHARS + string.whitespace)
_LOOKUPS: dict[str, np.ndarray] = {}
