"""K-mer codes of sequences: the one numpy k-mer indexer of the package.

A k-mer made only of letters of an alphabet is read as a number in base ``len(alphabet)``, first letter most
significant (for DNA: A=0, C=1, G=2, T=3, so ``ACG`` is 0·16 + 1·4 + 2 = 6, the same number as 2 bits a
base). A window holding any other character (N, an IUPAC code, a gap, a non-ASCII letter) is no k-mer at all:
ambiguity breaks k-mers rather than guessing. Case is ignored.

Used by the k-mer baselines (:mod:`seqxent.baseline.kmer`: counts, U read as T), the k-mer distance of a
barcode model (:mod:`seqxent.calibrate.reference`: distinct k-mers of A, C, G, T) and the k-mer clustering
fallback of ``seqxent prepare`` (:mod:`seqxent.prepare.clusters`: distinct k-mers of DNA or amino acids). The
torch k-mer profile inside the network (:class:`seqxent.model.networks.KmerProfile`) computes the same DNA
codes on the device.
"""

from __future__ import annotations

import functools

import numpy as np

#: A, C, G, T; U and every other letter break a k-mer.
DNA = ("A", "C", "G", "T")
#: A, C, G, T with U read as T (RNA input).
NUCLEOTIDES = ("A", "C", "G", "TU")
#: The 20 standard amino acids.
AMINO_ACIDS = tuple("ACDEFGHIKLMNPQRSTVWY")


@functools.cache
def _code_table(alphabet: tuple[str, ...]) -> np.ndarray:
    """Byte -> letter code (the position of its group in ``alphabet``, either case), -1 for any other byte."""
    table = np.full(256, -1, dtype=np.int64)
    for code, letters in enumerate(alphabet):
        for letter in letters:
            table[ord(letter.upper())] = table[ord(letter.lower())] = code
    return table


def _check_k(k: int, base: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1 or base**k >= 2**63:
        raise ValueError(
            f"Expected argument `k` to be an integer of at least 1 with {base}**k below 2**63, but got {k!r}"
        )


def kmer_windows(text: str, k: int, alphabet: tuple[str, ...] = DNA) -> tuple[np.ndarray, np.ndarray]:
    r"""Start position and code of every window of ``k`` letters of ``alphabet`` in ``text``, in text order.

    ``text`` may hold several sequences joined by a character outside the alphabet (e.g. ``"\x00"``): no
    window crosses it, and the start positions tell which sequence a k-mer came from.

    Args:
        text: one or more sequences; every character is one position (non-ASCII ones break k-mers).
        k: k-mer length, at least 1 (``len(alphabet)**k`` must fit in int64).
        alphabet: letter groups; group ``i`` has code ``i`` (``("A", "C", "G", "TU")`` reads U as T).

    Returns:
        ``(start, code)``: two int64 arrays of shape ``(n_kmers,)``.

    Raises:
        ValueError: if ``k`` is not a valid k-mer length for the alphabet.

    Example:
        >>> start, code = kmer_windows("ACGTNACG", 3)  # ACG, CGT, then ACG after the N
        >>> start.tolist(), code.tolist()
        ([0, 1, 5], [6, 27, 6])
    """
    base = len(alphabet)
    _check_k(k, base)
    codes = _code_table(alphabet)[np.frombuffer(text.encode("ascii", errors="replace"), dtype=np.uint8)]
    n_windows = codes.size - k + 1
    if n_windows <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    invalid = np.concatenate(([0], np.cumsum(codes < 0)))  # invalid letters before each position
    start = np.flatnonzero(invalid[k:] == invalid[:n_windows])  # windows without one
    value = np.zeros(n_windows, dtype=np.int64)
    for offset in range(k):  # a loop over the k positions, vectorised over all windows
        value *= base  # a window with an invalid letter holds garbage here; it is dropped below
        value += codes[offset : offset + n_windows]
    return start, value[start]


def kmer_codes(seq: str, k: int, alphabet: tuple[str, ...] = DNA) -> np.ndarray:
    """Code of every k-mer of ``seq`` made only of letters of ``alphabet``, in sequence order (repeats kept).

    Args:
        seq: a sequence.
        k: k-mer length (see :func:`kmer_windows`).
        alphabet: letter groups, e.g. :data:`DNA`, :data:`NUCLEOTIDES` or :data:`AMINO_ACIDS`.

    Returns:
        int64 array of shape ``(n_kmers,)``.

    Example:
        >>> kmer_codes("ACGTA", 2).tolist()  # AC, CG, GT, TA
        [1, 6, 11, 12]
        >>> kmer_codes("acNgt", 2).tolist()  # AC, GT; CN and NG are skipped
        [1, 11]
        >>> kmer_codes("ACGU", 2).tolist(), kmer_codes("ACGU", 2, NUCLEOTIDES).tolist()
        ([1, 6], [1, 6, 11])
    """
    return kmer_windows(seq, k, alphabet)[1]
