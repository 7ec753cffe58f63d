"""The training sequences of a barcode model, kept with it to tell how far a query is from anything it knows.

A softmax never says "none of these": a barcode of a species missing from the training data still gets a
confident label of its nearest known species. :class:`KmerReference` keeps the (deduplicated) training
sequences in the checkpoint and scores a query by its **k-mer distance**

    kmer_distance(q) = 1 − max over training records r of |K(q) ∩ K(r)| / |K(q)|

where ``K(s)`` is the set of distinct k-mers of ``s`` made of A, C, G and T only (k = 12 by default; for
references of more than 2,000 sequences a fixed hash-chosen share of them, see :func:`kmers`). It is
the share of the query's k-mers that even its closest training record lacks: containment, not Jaccard, so a
partial read of a known barcode still scores 0. A query with no unambiguous k-mer scores 1.

Measured on the COI data (4 of 41 species held out, 6 hold-out seeds, threshold kept 95 % of validation
records): over-classification of the held-out species 1.9 % with this score against 25 % with the energy
score, and 2.9 % against 58 % on 300 bp fragments (docs/calibration.md).

The index is a k-mer × record incidence matrix, built when first used; a chunk of queries (a sparse
query × k-mer matrix) times it counts the shared k-mers of every (query, record) pair. For a small
reference (up to 2^24 k-mer × record cells: COI's 310 distinct barcodes hold 12,756 distinct 12-mers) the
incidence matrix is dense, so each query k-mer adds one contiguous row, about 3x faster than the sparse
product; larger references (16S) keep it sparse, where the work grows with how many records share each
k-mer, so a conserved marker costs more per query than COI.
"""

from __future__ import annotations

import gzip
from collections.abc import Sequence

import numpy as np
import torch

from seqxent.data.kmers import DNA, kmer_windows
from seqxent.errors import InputError

#: k of the k-mer distance.
DEFAULT_K = 12
#: Queries counted together (bounds the (queries × records) count matrix).
_CHUNK = 256
#: Largest k-mer × record incidence matrix kept dense (float32: 64 MB).
DENSE_CELLS = 1 << 24


def kmers(sequence: str, k: int = DEFAULT_K, scaled: int = 1) -> np.ndarray:
    """Sorted distinct k-mers of A/C/G/T (2 bits a base, as int64) of one sequence.

    With ``scaled`` > 1 only the k-mers whose hash is divisible by ``scaled`` are kept (FracMinHash, as in
    sourmash): about one in ``scaled``, the same ones in every sequence, so shared shares are estimated
    from the sample.

    Example:
        >>> kmers("ACGTA", k=3).tolist()  # ACG, CGT, GTA
        [6, 27, 44]
        >>> kmers("ACNGT", k=3).tolist()  # every 3-mer holds the N
        []
    """
    return chunk_kmers([sequence], k, scaled)[1]


def chunk_kmers(sequences: Sequence[str], k: int = DEFAULT_K, scaled: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(owner, kmer)``: the distinct k-mers of each of (at most 256) sequences at once, sorted by owner.

    The sequences are joined with a separator that no k-mer may hold, so one vectorised pass finds them all.
    """
    if len(sequences) > _CHUNK:
        raise InputError(f"Expected at most {_CHUNK} sequences a chunk, but got {len(sequences)}")
    # \x00 (like any letter but A, C, G, T) breaks k-mers: no k-mer spans two sequences.
    valid, values = kmer_windows("\x00".join(sequences), k, DNA)  # 2 bits a base, first base highest
    if scaled > 1:  # Fibonacci hashing: the high bits of x · 2^64/φ (mod 2^64) mix every base of the k-mer
        keep = ((values.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)) % np.uint64(scaled) == 0
        valid, values = valid[keep], values[keep]
    starts = np.cumsum([0] + [len(s) + 1 for s in sequences[:-1]])
    owner = np.searchsorted(starts, valid, side="right") - 1
    keys = np.sort(owner * 4**k + values)  # owner < 2^8 and k <= 24: fits 64 bits
    keys = keys[np.diff(keys, prepend=-1) != 0]  # distinct (sort and compare: faster than np.unique here)
    return keys // 4**k, keys % 4**k


def auto_scaled(n_sequences: int, per: int = 2000) -> int:
    """One k-mer in ``ceil(n / per)``: the work per query grows with the records, so this keeps it bounded.

    Example:
        >>> auto_scaled(600), auto_scaled(12_559)
        (1, 7)
    """
    return max(1, -(-n_sequences // per))


class KmerReference:
    """Training sequences and their k-mer index; :meth:`distance` scores queries (higher = more novel).

    Args:
        sequences: the training sequences (duplicates are dropped).
        k: k-mer length, 4 to 24.
        scaled: keep one k-mer in ``scaled`` (:func:`kmers`); 0 chooses :func:`auto_scaled` of the number of
            distinct sequences (1, exact, up to 2,000 of them).
    """

    def __init__(self, sequences: Sequence[str], k: int = DEFAULT_K, scaled: int = 0):
        if not isinstance(k, int) or not 4 <= k <= 24:
            raise InputError(f"Expected argument `k` to be an integer in [4, 24], but got {k!r}")
        if not isinstance(scaled, int) or scaled < 0:
            raise InputError(f"Expected argument `scaled` to be an integer ≥ 0, but got {scaled!r}")
        self.sequences, self.k = sorted(set(sequences)), k
        self.scaled = scaled or auto_scaled(len(self.sequences))
        if not self.sequences:
            raise InputError("Expected at least one reference sequence, but got none")
        self._index = None

    def __len__(self) -> int:
        return len(self.sequences)

    def index(self):
        """The k-mer × record incidence matrix ``(V, M)`` and its sorted vocabulary ``(V,)``.

        The matrix is a dense float32 array when it has at most :data:`DENSE_CELLS` cells, else scipy CSR.
        """
        if self._index is None:
            from scipy import sparse  # here, not at the top: only models with a reference need scipy

            pairs = [chunk_kmers(self.sequences[i:i + _CHUNK], self.k, self.scaled)
                     for i in range(0, len(self.sequences), _CHUNK)]
            owner = np.concatenate([o + i * _CHUNK for i, (o, _) in enumerate(pairs)])
            vocabulary, row = np.unique(np.concatenate([km for _, km in pairs]), return_inverse=True)
            # float32 counts are exact up to 2^24 shared k-mers, far more than any sequence holds.
            incidence = sparse.csr_matrix((np.ones(len(row), dtype=np.float32), (row, owner)),
                                          shape=(len(vocabulary), len(self.sequences)))
            if len(vocabulary) * len(self.sequences) <= DENSE_CELLS:
                incidence = incidence.toarray()
            self._index = (incidence, vocabulary)
        return self._index

    def distance(self, queries: Sequence[str]) -> np.ndarray:
        """``1 − max containment`` of each query in a training record: float64 ``(N,)`` in [0, 1].

        Example:
            >>> ref = KmerReference(["ACGTACGTTT", "GGGGCCCCAA"], k=4)
            >>> ref.distance(["ACGTACG", "GGGGCCCTT", "NNNN"]).round(3).tolist()  # 4 of 6 4-mers: 1 - 4/6
            [0.0, 0.333, 1.0]
        """
        return self.nearest(queries)[0]

    def nearest(self, queries: Sequence[str], top: int = 0) -> tuple[np.ndarray, ...]:
        """:meth:`distance` and the closest record of each query: ``(distance (N,), index (N,))``.

        ``index`` points into :attr:`sequences` (the sorted distinct training sequences); on a tie the lowest
        index wins; ``-1`` for a query that shares no k-mer with any record. With ``top`` > 0 two more arrays,
        ``(N, top)`` each: the ``top`` closest records (by containment, then index; ``-1`` past the records that
        share a k-mer with the query) and their containment ``1 − distance`` (0 there).

        Example:
            >>> ref = KmerReference(["ACGTACGTTT", "GGGGCCCCAA", "ACGTACGAAA"], k=4)
            >>> distance, index = ref.nearest(["GGGGCCCTT", "ACGTACG", "TTTTTTT"])
            >>> distance.round(3).tolist(), index.tolist()
            ([0.333, 0.0, 1.0], [2, 0, -1])
            >>> _, _, closest, containment = ref.nearest(["ACGTACG"], top=3)
            >>> closest.tolist(), containment.round(3).tolist()
            ([[0, 1, -1]], [[1.0, 1.0, 0.0]])
        """
        n = len(queries)
        out, index = np.ones(n, dtype=np.float64), np.full(n, -1, dtype=np.int64)
        closest, containment = np.full((n, top), -1, dtype=np.int64), np.zeros((n, top), dtype=np.float64)
        for start in range(0, n, _CHUNK):
            part = self._distance_chunk(queries[start:start + _CHUNK], top)
            out[start:start + _CHUNK], index[start:start + _CHUNK] = part[0], part[1]
            if top:
                closest[start:start + _CHUNK], containment[start:start + _CHUNK] = part[2], part[3]
        return (out, index, closest, containment) if top else (out, index)

    def _distance_chunk(self, queries: Sequence[str], top: int = 0) -> tuple[np.ndarray, ...]:
        from scipy import sparse

        incidence, vocabulary = self.index()
        query, flat = chunk_kmers(queries, self.k, self.scaled)
        sizes = np.bincount(query, minlength=len(queries))
        if not len(flat):
            none = (np.ones(len(queries)), np.full(len(queries), -1))
            return none if not top else (*none, np.full((len(queries), top), -1), np.zeros((len(queries), top)))
        pos = np.searchsorted(vocabulary, flat).clip(max=len(vocabulary) - 1)
        found = vocabulary[pos] == flat  # k-mers no training record holds count only in |K(q)|
        hits = sparse.csr_matrix((np.ones(int(found.sum()), dtype=np.float32), (query[found], pos[found])),
                                 shape=(len(queries), len(vocabulary)))
        shared = hits @ incidence  # (queries, records): shared k-mers of every pair; the best record per query
        best, where = _row_max(shared)
        distance = np.where(sizes > 0, 1.0 - best / np.maximum(sizes, 1), 1.0)
        where = np.where(best > 0, where, -1)
        if not top:
            return distance, where
        return (distance, where, *_top_records(shared, sizes, top))

    def to_meta(self) -> dict:
        """The reference for a checkpoint's ``meta["reference"]``: k and the gzipped sequences as bytes."""
        blob = gzip.compress("\n".join(self.sequences).encode("ascii"), compresslevel=9, mtime=0)
        return {"k": self.k, "scaled": self.scaled, "n_sequences": len(self.sequences),
                "sequences_gz": torch.frombuffer(bytearray(blob), dtype=torch.uint8)}

    @classmethod
    def from_meta(cls, meta: dict | None) -> KmerReference | None:
        """The reference stored in a checkpoint's ``meta`` (under ``"reference"``), or None."""
        stored = (meta or {}).get("reference")
        if not stored:
            return None
        text = gzip.decompress(stored["sequences_gz"].numpy().tobytes()).decode("ascii")
        return cls(text.split("\n"), int(stored["k"]), int(stored["scaled"]))


def _top_records(shared, sizes: np.ndarray, top: int) -> tuple[np.ndarray, np.ndarray]:
    """``(index, containment)``, both ``(N, top)``: each row's ``top`` largest shares, largest first.

    Equal shares are kept in index order (which of several equal shares at the edge of the ``top`` is kept is
    up to ``np.argpartition``, the same on every run). Records sharing no k-mer are left out (index -1,
    containment 0). A sparse ``shared`` is made dense a few
    rows at a time (at most :data:`DENSE_CELLS` cells).

    Example:
        >>> index, share = _top_records(np.array([[0.0, 2, 2, 1], [0, 0, 0, 0]]), np.array([4, 0]), 3)
        >>> index.tolist(), share.tolist()
        ([[1, 2, 3], [-1, -1, -1]], [[0.5, 0.5, 0.25], [0.0, 0.0, 0.0]])
    """
    n, m = shared.shape
    index, containment = np.full((n, top), -1, dtype=np.int64), np.zeros((n, top))
    step = max(1, DENSE_CELLS // max(m, 1))
    for start in range(0, n, step):
        block = shared[start:start + step]
        block = np.asarray(block if isinstance(block, np.ndarray) else block.toarray(), dtype=np.float64)
        keep = min(top, m)
        if keep < m:
            part = np.argpartition(-block, keep - 1, axis=1)[:, :keep]
        else:
            part = np.tile(np.arange(m), (len(block), 1))
        values = np.take_along_axis(block, part, axis=1)
        order = np.lexsort((part, -values), axis=1)  # by share, then index
        part, values = np.take_along_axis(part, order, axis=1), np.take_along_axis(values, order, axis=1)
        rows = slice(start, start + len(block))
        index[rows, :keep] = np.where(values > 0, part, -1)
        containment[rows, :keep] = values / np.maximum(sizes[rows], 1)[:, None]
    return index, containment


def _row_max(matrix) -> tuple[np.ndarray, np.ndarray]:
    """Largest value of each row of a dense array or a non-negative scipy CSR matrix, and its column.

    An empty row gives 0 and column -1; on a tie the lowest column wins. A CSR product's column indices are
    unsorted; this reads its stored values directly rather than letting scipy sort them first (a third of the
    time of a 16S chunk).

    Example:
        >>> from scipy import sparse
        >>> m = sparse.csr_matrix(np.array([[0, 2, 2], [0, 0, 0], [5, 1, 0]], dtype=np.float32))
        >>> [v.tolist() for v in _row_max(m)], [v.tolist() for v in _row_max(m.toarray())]
        ([[2.0, 0.0, 5.0], [1, -1, 0]], [[2.0, 0.0, 5.0], [1, 0, 0]])
    """
    if isinstance(matrix, np.ndarray):
        return matrix.max(axis=1), matrix.argmax(axis=1)
    n = matrix.shape[0]
    out, where = np.zeros(n, dtype=matrix.dtype), np.full(n, -1, dtype=np.int64)
    counts = np.diff(matrix.indptr)
    filled = counts > 0
    if filled.any():
        out[filled] = np.maximum.reduceat(matrix.data, matrix.indptr[:-1][filled])
        rows = np.repeat(np.arange(n), counts)
        at_max = np.flatnonzero(matrix.data == out[rows])
        where[filled] = matrix.shape[1]
        np.minimum.at(where, rows[at_max], matrix.indices[at_max].astype(np.int64))
    return out, where
