"""Homology groups for the splits: mmseqs2 clustering (or a k-mer fallback) and the leakage check.

Homology groups come from mmseqs2 when it is installed, else from a k-mer fallback that is fast but misses
many remote homologs (see :func:`cluster_sequences`). :func:`check_leakage` searches held-out sequences
against the training ones with mmseqs2.
"""

from __future__ import annotations

import logging
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy import sparse

from seqxent import tools
from seqxent.data.io import write_fasta
from seqxent.data.kmers import AMINO_ACIDS, DNA, kmer_codes
from seqxent.prepare.splits import connected_groups, group_identical

log = logging.getLogger(__name__)

_NUCLEOTIDES = frozenset("ACGTUN")


class LeakageHit(NamedTuple):
    """One alignment between a query (e.g. test) and a target (e.g. train) sequence.

    Attributes:
        query_index: Position of the query in ``query_seqs``.
        target_index: Position of the target in ``target_seqs``.
        identity: Fraction of identical residues over the alignment length (mmseqs ``fident``).
        coverage: Fraction of the query covered by the alignment (mmseqs ``qcov``).
    """

    query_index: int
    target_index: int
    identity: float
    coverage: float


def _run_mmseqs(args: list[str]) -> None:
    result = subprocess.run(["mmseqs", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout)[-2000:]
        raise RuntimeError(f"mmseqs {args[0]} failed with exit code {result.returncode}:\n{tail}")


# mmseqs' k-mer prefilter cannot index very short sequences (it fails when a database holds no k-mer), and
# identity over a handful of residues means little: shorter sequences are grouped only when identical.
MIN_ALIGN_LENGTH = 20


def _alignable(seqs: Sequence[str], prefix: str) -> Iterator[tuple[str, str]]:
    """FASTA records ``({prefix}{index}, SEQUENCE)`` of the sequences of at least MIN_ALIGN_LENGTH."""
    return ((f"{prefix}{i}", seq.upper()) for i, seq in enumerate(seqs) if len(seq) >= MIN_ALIGN_LENGTH)


def _is_nucleotide(seqs: Sequence[str]) -> bool:
    return all(set(s.upper()) <= _NUCLEOTIDES for s in seqs)


def _mmseqs_search(
    query_seqs: Sequence[str], target_seqs: Sequence[str], opts: list[str], workdir: str | None
) -> list[tuple[int, int, float, float, float]]:
    """Run ``mmseqs easy-search``; returns (query, target, fident, qcov, tcov) rows."""
    tools.require("mmseqs2", "the homology search")
    with tempfile.TemporaryDirectory(prefix="seqxent_mmseqs_", dir=workdir) as tmp:
        tmp_path = Path(tmp)
        n_query = write_fasta(tmp_path / "query.fasta", _alignable(query_seqs, "q"))
        n_target = write_fasta(tmp_path / "target.fasta", _alignable(target_seqs, "t"))
        if n_query == 0 or n_target == 0:
            return []
        extra = ["--search-type", "3"] if _is_nucleotide([*query_seqs, *target_seqs]) else []
        fields = ["--format-output", "query,target,fident,qcov,tcov"]
        out = tmp_path / "hits.tsv"
        _run_mmseqs(["easy-search", str(tmp_path / "query.fasta"), str(tmp_path / "target.fasta"), str(out),
                     str(tmp_path / "tmp"), *opts, *extra, *fields])
        rows = []
        for line in out.read_text().splitlines():
            query, target, fident, qcov, tcov = line.split("\t")
            rows.append((int(query[1:]), int(target[1:]), float(fident), float(qcov), float(tcov)))
    return rows


def _search_options(
    min_seq_id: float, coverage: float, cov_mode: int, threads: int, max_seqs: int
) -> list[str]:
    return ["--min-seq-id", str(min_seq_id), "-c", str(coverage), "--cov-mode", str(cov_mode),
            "--threads", str(threads), "--max-seqs", str(max_seqs)]


def _cluster_mmseqs_greedy(seqs: Sequence[str], min_seq_id: float, coverage: float, threads: int,
                           workdir: str | None) -> np.ndarray:
    """Run ``mmseqs easy-cluster`` (set cover); returns the representative's index per record."""
    rep = np.arange(len(seqs), dtype=np.int64)
    with tempfile.TemporaryDirectory(prefix="seqxent_mmseqs_", dir=workdir) as tmp:
        tmp_path = Path(tmp)
        if write_fasta(tmp_path / "in.fasta", _alignable(seqs, "s")) == 0:
            return rep
        _run_mmseqs(["easy-cluster", str(tmp_path / "in.fasta"), str(tmp_path / "out"), str(tmp_path / "tmp"),
                     "--min-seq-id", str(min_seq_id), "-c", str(coverage), "--cov-mode", "0",
                     "--threads", str(threads)])
        for line in (tmp_path / "out_cluster.tsv").read_text().splitlines():
            representative, member = line.split("\t")
            rep[int(member[1:])] = int(representative[1:])
    return rep


def _kmer_matrix(seqs: Sequence[str], k: int, alphabet: tuple[str, ...]) -> sparse.csr_matrix:
    """Binary (N, |alphabet|**k) matrix of each sequence's distinct k-mers (other letters are skipped)."""
    cols = [np.unique(kmer_codes(seq, k, alphabet)) for seq in seqs]
    row = np.repeat(np.arange(len(seqs)), [len(c) for c in cols])
    col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    data = np.ones(len(row), dtype=np.float32)
    return sparse.csr_matrix((data, (row, col)), shape=(len(seqs), len(alphabet) ** k))


def _cluster_kmer(seqs: Sequence[str], k: int | None, min_shared_fraction: float, min_shared: int,
                  block: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Link pairs sharing enough distinct k-mers; returns the (left, right) index arrays of the links."""
    alphabet = DNA if _is_nucleotide(seqs) else AMINO_ACIDS
    k = k or (8 if alphabet == DNA else 4)
    kmers = _kmer_matrix([s.replace("U", "T").replace("u", "t") for s in seqs], k, alphabet)
    n_kmers = np.asarray(kmers.sum(axis=1)).ravel()
    kmers_t = kmers.T.tocsr()
    left, right = [], []
    for start in range(0, kmers.shape[0], block):
        shared = (kmers[start : start + block] @ kmers_t).tocoo()  # (block, N) shared distinct k-mers
        row, col = shared.row + start, shared.col
        shorter = np.maximum(np.minimum(n_kmers[row], n_kmers[col]), 1)
        keep = (row < col) & (shared.data >= min_shared) & (shared.data >= min_shared_fraction * shorter)
        left.append(row[keep])
        right.append(col[keep])
    return np.concatenate(left), np.concatenate(right)


def cluster_sequences(
    ids: Sequence[str],
    seqs: Sequence[str],
    *,
    min_seq_id: float = 0.3,
    coverage: float = 0.5,
    threads: int = 1,
    method: str = "auto",
    workdir: str | None = None,
    linkage: str = "single",
    max_seqs: int = 300,
    kmer_k: int | None = None,
    kmer_min_fraction: float = 0.08,
    kmer_min_shared: int = 10,
) -> np.ndarray:
    """Cluster sequences into homology groups.

    Methods:
        - ``"mmseqs"`` with ``linkage="single"`` (default): all-against-all ``mmseqs easy-search`` and
          connected components of the hits (identity ≥ ``min_seq_id`` over ≥ ``coverage`` of *either*
          sequence, mmseqs ``--cov-mode 2`` with every sequence the query once), so a domain inside a longer
          chain joins that chain's group and no two groups are linked by a hit that the same search finds;
          :func:`check_leakage` checks this.
        - ``"mmseqs"`` with ``linkage="greedy"``: ``mmseqs easy-cluster`` (set cover around representatives).
          Faster, but members of different clusters can still be ≥ ``min_seq_id`` identical (on the PDB chains
          at 30 % it leaves ~21k such pairs), so it is not leakage-free.
        - ``"kmer"``: single linkage of pairs sharing ≥ ``kmer_min_shared`` distinct k-mers and ≥
          ``kmer_min_fraction`` of the shorter sequence's k-mers (k = 4 for proteins, 8 for nucleotides). It
          ignores ``min_seq_id`` and ``coverage`` and is *not* conservative: exact k-mers barely detect pairs
          below ~50 % identity, so on the PDB chains it keeps only ~30 % of mmseqs's 30 % pairs together.
        - ``"auto"``: ``"mmseqs"`` when it is on PATH, else ``"kmer"`` (logged).
    Identical sequences are always in one group.

    Args:
        ids: Record ids (N,), used only to check the length of ``seqs``.
        seqs: Sequences (N,).
        min_seq_id: Minimum fraction of identical aligned residues for a link (mmseqs ``--min-seq-id``).
        coverage: Minimum fraction of the query covered by the alignment (``-c``, ``--cov-mode 2``); as every
            sequence is the query once, a pair links when either sequence is covered this much.
        threads: CPU threads for mmseqs.
        method: One of ``"auto"``, ``"mmseqs"``, ``"kmer"``.
        workdir: Directory for temporary files (default: the system temporary directory).
        linkage: ``"single"`` or ``"greedy"`` (mmseqs only).
        max_seqs: Prefilter hits kept per query in the single-linkage search (mmseqs ``--max-seqs``).
        kmer_k: k-mer length of the fallback; None picks 4 for proteins, 8 for nucleotides.
        kmer_min_fraction: Fallback link threshold, a fraction of the shorter sequence's distinct k-mers.
        kmer_min_shared: Fallback link threshold, a number of shared distinct k-mers.

    Returns:
        Integer cluster ids, shape (N,), numbered in order of first appearance.

    Raises:
        ValueError: If an argument is out of range or ``ids`` and ``seqs`` differ in length.
    """
    _check_cluster_args(ids, seqs, min_seq_id, coverage, method, linkage)
    if method == "auto":
        method = "mmseqs" if tools.is_installed("mmseqs2") else "kmer"
        if method == "kmer":
            log.warning(tools.skip_message("mmseqs2", "homology groups come from k-mer single linkage ('kmer') "
                                                      "instead, which keeps fewer distant homologs together"))
        log.info("cluster_sequences: using method %r", method)
    identical = group_identical(seqs)
    _, first = np.unique(identical, return_index=True)
    unique_seqs = [seqs[i].upper() for i in first]  # unique_seqs[g] is the sequence of identical-group g
    if method == "kmer":
        left, right = _cluster_kmer(unique_seqs, kmer_k, kmer_min_fraction, kmer_min_shared)
    elif linkage == "greedy":
        left = np.arange(len(unique_seqs))
        right = _cluster_mmseqs_greedy(unique_seqs, min_seq_id, coverage, threads, workdir)
    else:
        # cov-mode 2 (query coverage): the search is all against all, so each pair is seen with either
        # sequence as the query and links when either one is covered (cov-mode 0 needs both covered and
        # would split a domain from the multi-domain chain that contains it).
        opts = _search_options(min_seq_id, coverage, 2, threads, max_seqs)
        hits = _mmseqs_search(unique_seqs, unique_seqs, opts, workdir)
        left = np.array([h[0] for h in hits], dtype=np.int64)
        right = np.array([h[1] for h in hits], dtype=np.int64)
    # Unique sequences are ordered by first appearance, so the numbering carries over to the records.
    return connected_groups(len(unique_seqs), left, right)[identical]


def _check_cluster_args(ids: Sequence[str], seqs: Sequence[str], min_seq_id: float, coverage: float,
                        method: str, linkage: str) -> None:
    if len(ids) != len(seqs):
        raise ValueError(f"Expected argument `ids` to have length {len(seqs)}, but got {len(ids)}")
    for name, value in (("min_seq_id", min_seq_id), ("coverage", coverage)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"Expected argument `{name}` to be a number in [0, 1], but got {value!r}")
    if method not in ("auto", "mmseqs", "kmer"):
        raise ValueError(f"Expected argument `method` to be 'auto', 'mmseqs' or 'kmer', but got {method!r}")
    if linkage not in ("single", "greedy"):
        raise ValueError(f"Expected argument `linkage` to be one of 'single', 'greedy', but got {linkage!r}")


def check_leakage(query_seqs: Sequence[str], target_seqs: Sequence[str], *, min_seq_id: float = 0.3,
                  coverage: float = 0.5, threads: int = 1, cov_mode: int = 0, max_seqs: int = 300,
                  workdir: str | None = None) -> list[LeakageHit]:
    """Find query sequences (e.g. test) that are similar to target sequences (e.g. train) with mmseqs.

    Args:
        query_seqs: Query sequences (Q,).
        target_seqs: Target sequences (T,).
        min_seq_id: Minimum fraction of identical aligned residues for a hit.
        coverage: Minimum alignment coverage for a hit, measured as set by ``cov_mode``.
        threads: CPU threads for mmseqs.
        cov_mode: mmseqs ``--cov-mode``: 0 = both sequences, 2 = query only (e.g. "≥ 50 % of the test chain's
            length", the rule :func:`cluster_sequences` links by).
        max_seqs: Prefilter hits kept per query (mmseqs ``--max-seqs``); higher is more sensitive.
        workdir: Directory for temporary files.

    Returns:
        Hits sorted by query and target index.

    Raises:
        RuntimeError: If mmseqs is not installed or fails.
    """
    opts = _search_options(min_seq_id, coverage, cov_mode, threads, max_seqs)
    rows = _mmseqs_search(query_seqs, target_seqs, opts, workdir)
    return sorted(LeakageHit(q, t, fident, qcov) for q, t, fident, qcov, _ in rows)
