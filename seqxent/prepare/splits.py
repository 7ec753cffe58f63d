"""Group-aware, label-stratified train/valid/test splits and homology checks.

Records that are too similar (identical sequences, the same BOLD bin, homologous protein chains) are put in
one group, and a group never straddles two splits. Homology groups come from mmseqs2 when it is installed,
else from a k-mer fallback that is fast but misses many remote homologs (see :func:`cluster_sequences`).
"""

from __future__ import annotations

import logging
import math
import subprocess
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from seqxent import tools

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
_NUCLEOTIDES = frozenset("ACGTUN")
_AMINO_ACIDS = "ACDEFGHIKLMNPQRSTVWY"


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


def _is_missing(value: object) -> bool:
    if value is None or (isinstance(value, str) and value == ""):
        return True
    return isinstance(value, float) and math.isnan(value)


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected components numbered in order of first appearance (lowest record index first)."""
    graph = sparse.coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    _, first, inverse = np.unique(labels, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[inverse]


def group_identical(seqs: Sequence[str]) -> np.ndarray:
    """Give identical sequences (ignoring case) the same group id.

    Args:
        seqs: Sequences, one per record.

    Returns:
        Integer group ids, shape (N,), numbered in order of first appearance.

    Example:
        >>> group_identical(["ACGT", "ttt", "acgt", "TTT", "GG"]).tolist()
        [0, 1, 0, 1, 2]
    """
    first_seen: dict[str, int] = {}
    return np.array([first_seen.setdefault(s.upper(), len(first_seen)) for s in seqs], dtype=np.int64)


def combine_groups(*group_arrays: Sequence[object]) -> np.ndarray:
    """Merge groupings so that records sharing any key end up in one group (union-find).

    Missing values (None, NaN, "") never link records; a record missing every key is a group of its own.

    Args:
        *group_arrays: One or more arrays of group keys of the same length N (e.g. identical-sequence ids and
            BOLD bins).

    Returns:
        Integer group ids, shape (N,), numbered in order of first appearance.

    Raises:
        ValueError: If no arrays are given or their lengths differ.

    Example:
        >>> combine_groups([0, 1, 2, 3], ["binA", None, "binA", ""]).tolist()
        [0, 1, 0, 2]
        >>> combine_groups([0, 0, 1, 2], [None, "b", "b", "c"], [5, 6, 7, 5]).tolist()
        [0, 0, 0, 0]
    """
    if not group_arrays:
        raise ValueError("Expected argument `group_arrays` to hold at least one array, but got none")
    n = len(group_arrays[0])
    left: list[int] = []
    right: list[int] = []
    for k, keys in enumerate(group_arrays):
        if len(keys) != n:
            raise ValueError(f"Expected all `group_arrays` to have length {n}, but array {k} has {len(keys)}")
        first: dict[object, int] = {}
        for i, key in enumerate(keys):
            if not _is_missing(key):
                left.append(first.setdefault(key, i))
                right.append(i)
    return _components(n, np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64))


def _run_mmseqs(args: list[str]) -> None:
    result = subprocess.run(["mmseqs", *args], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        tail = (result.stderr or result.stdout)[-2000:]
        raise RuntimeError(f"mmseqs {args[0]} failed with exit code {result.returncode}:\n{tail}")


# mmseqs' k-mer prefilter cannot index very short sequences (it fails when a database holds no k-mer), and
# identity over a handful of residues means little: shorter sequences are grouped only when identical.
MIN_ALIGN_LENGTH = 20


def _write_fasta(path: Path, seqs: Sequence[str], prefix: str) -> int:
    """Write sequences of at least MIN_ALIGN_LENGTH as ``>{prefix}{index}``; returns how many were written."""
    n = 0
    with open(path, "w") as handle:
        for i, seq in enumerate(seqs):
            if len(seq) >= MIN_ALIGN_LENGTH:
                handle.write(f">{prefix}{i}\n{seq.upper()}\n")
                n += 1
    return n


def _is_nucleotide(seqs: Sequence[str]) -> bool:
    return all(set(s.upper()) <= _NUCLEOTIDES for s in seqs)


def _mmseqs_search(
    query_seqs: Sequence[str], target_seqs: Sequence[str], opts: list[str], workdir: str | None
) -> list[tuple[int, int, float, float, float]]:
    """Run ``mmseqs easy-search``; returns (query, target, fident, qcov, tcov) rows."""
    tools.require("mmseqs2", "the homology search")
    with tempfile.TemporaryDirectory(prefix="seqxent_mmseqs_", dir=workdir) as tmp:
        tmp_path = Path(tmp)
        n_query = _write_fasta(tmp_path / "query.fasta", query_seqs, "q")
        n_target = _write_fasta(tmp_path / "target.fasta", target_seqs, "t")
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
        if _write_fasta(tmp_path / "in.fasta", seqs, "s") == 0:
            return rep
        _run_mmseqs(["easy-cluster", str(tmp_path / "in.fasta"), str(tmp_path / "out"), str(tmp_path / "tmp"),
                     "--min-seq-id", str(min_seq_id), "-c", str(coverage), "--cov-mode", "0",
                     "--threads", str(threads)])
        for line in (tmp_path / "out_cluster.tsv").read_text().splitlines():
            representative, member = line.split("\t")
            rep[int(member[1:])] = int(representative[1:])
    return rep


def _kmer_matrix(seqs: Sequence[str], k: int, alphabet: str) -> sparse.csr_matrix:
    """Binary (N, |alphabet|**k) matrix of each sequence's distinct k-mers (other letters are skipped)."""
    lookup = np.full(256, -1, dtype=np.int64)
    lookup[np.frombuffer(alphabet.encode(), dtype=np.uint8)] = np.arange(len(alphabet))
    rows, cols = [], []
    for i, seq in enumerate(seqs):
        x = lookup[np.frombuffer(seq.upper().encode("ascii", "replace"), dtype=np.uint8)]
        if len(x) < k:
            continue
        windows = np.lib.stride_tricks.sliding_window_view(x, k)  # (L - k + 1, k)
        windows = windows[(windows >= 0).all(axis=1)]
        codes = np.unique(windows @ (len(alphabet) ** np.arange(k - 1, -1, -1)))
        rows.append(np.full(len(codes), i))
        cols.append(codes)
    row = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    col = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
    data = np.ones(len(row), dtype=np.float32)
    return sparse.csr_matrix((data, (row, col)), shape=(len(seqs), len(alphabet) ** k))


def _cluster_kmer(seqs: Sequence[str], k: int | None, min_shared_fraction: float, min_shared: int,
                  block: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Link pairs sharing enough distinct k-mers; returns the (left, right) index arrays of the links."""
    alphabet = "ACGT" if _is_nucleotide(seqs) else _AMINO_ACIDS
    k = k or (8 if alphabet == "ACGT" else 4)
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
    return _components(len(unique_seqs), left, right)[identical]


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


def check_leakage(
    query_seqs: Sequence[str],
    target_seqs: Sequence[str],
    min_seq_id: float = 0.3,
    coverage: float = 0.5,
    threads: int = 1,
    cov_mode: int = 0,
    max_seqs: int = 300,
    workdir: str | None = None,
) -> list[LeakageHit]:
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


def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    values = np.asarray(fractions, dtype=float) if len(fractions) == 3 else None
    if values is None or (values < 0).any() or abs(values.sum() - 1.0) > 1e-6:
        raise ValueError(
            "Expected argument `fractions` to be three non-negative numbers (train, valid, test) summing to "
            f"1, but got {tuple(fractions)!r}"
        )
    return values


def _group_labels(groups: np.ndarray, labels: Sequence[object] | None) -> dict[int, str]:
    """Majority label of each group (ties broken by the smallest label)."""
    if labels is None:
        return dict.fromkeys(np.unique(groups).tolist(), "")
    counts: dict[int, Counter] = {}
    for g, label in zip(groups.tolist(), labels, strict=True):
        counts.setdefault(g, Counter())["" if _is_missing(label) else str(label)] += 1
    return {g: min(c.items(), key=lambda item: (-item[1], item[0]))[0] for g, c in counts.items()}


def _deal_groups(sizes: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Deal shuffled groups of one label to splits (0, 1, 2), each to the split furthest below its share.

    With ≥ 3 groups every split with a positive fraction gets at least one; with fewer, train gets the first.
    """
    open_splits = np.flatnonzero(fractions > 0)
    largest = int(open_splits[np.argmax(fractions[open_splits])])
    required = set(open_splits.tolist()) if len(sizes) >= 3 else {largest}
    records, n_groups = np.zeros(3), np.zeros(3, dtype=int)
    out = np.empty(len(sizes), dtype=np.int64)
    for i, size in enumerate(sizes):
        empty = [s for s in sorted(required) if n_groups[s] == 0]
        candidates = empty if len(sizes) - i <= len(empty) else open_splits
        deficit = fractions[candidates] * (records.sum() + size) - records[candidates]
        split = int(candidates[int(np.argmax(deficit))]) if len(candidates) else 0
        out[i] = split
        records[split] += size
        n_groups[split] += 1
    return out


def assign_splits(
    groups: np.ndarray,
    labels: Sequence[object] | None = None,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
) -> np.ndarray:
    """Assign whole groups to train/valid/test, stratified by label.

    Each group takes its majority label. Per label (in sorted order), its groups are shuffled with ``seed``
    and dealt one by one to the split whose record count is furthest below ``fractions``. A label with ≥ 3
    groups gets at least one group in every split with a positive fraction; with 1–2 groups, the first goes to
    the split with the largest fraction (train by default).

    Args:
        groups: Integer group ids (N,), e.g. from :func:`cluster_sequences` or :func:`combine_groups`.
        labels: Optional class labels (N,) to stratify by.
        fractions: Target fractions of records in (train, valid, test).
        seed: Seed of the shuffle; the same seed gives the same splits.

    Returns:
        Array (N,) of "train", "valid" or "test".

    Raises:
        ValueError: If ``fractions`` is not three non-negative numbers summing to 1, or ``labels`` has another
            length than ``groups``.

    Example:
        >>> assign_splits(np.array([0, 0, 1, 2, 3]), fractions=(0.5, 0.25, 0.25), seed=0).tolist()
        ['valid', 'valid', 'train', 'train', 'test']
    """
    share = _check_fractions(fractions)
    groups = np.asarray(groups)
    if labels is not None and len(labels) != len(groups):
        raise ValueError(f"Expected argument `labels` to have length {len(groups)}, but got {len(labels)}")
    uniq, sizes = np.unique(groups, return_counts=True)
    size_of = dict(zip(uniq.tolist(), sizes.tolist(), strict=True))
    by_label: dict[str, list[int]] = {}
    for g, label in sorted(_group_labels(groups, labels).items()):
        by_label.setdefault(label, []).append(g)
    rng = np.random.default_rng(seed)
    split_of: dict[int, int] = {}
    for label in sorted(by_label):
        members = np.array(by_label[label])[rng.permutation(len(by_label[label]))]
        dealt = _deal_groups(np.array([size_of[g] for g in members.tolist()]), share)
        split_of.update(zip(members.tolist(), dealt.tolist(), strict=True))
    return np.array(SPLITS, dtype=object)[[split_of[g] for g in groups.tolist()]].astype(str)


def summarize_splits(split: Sequence[str], labels: Sequence[object], groups: Sequence[int]) -> dict:
    """Count records, groups and labels per split (JSON-serialisable).

    Args:
        split: Split name per record (N,), e.g. "train", "valid", "test", "excluded".
        labels: Label per record (N,).
        groups: Group id per record (N,).

    Returns:
        Dict with ``n_records``, ``n_groups``, ``n_labels`` (each split name → count),
        ``labels_absent_from_train`` (labels found in valid/test but not train, sorted) and
        ``groups_straddling_splits`` (should be 0).

    Example:
        >>> summary = summarize_splits(["train", "train", "test"], ["a", "b", "c"], [0, 1, 2])
        >>> summary["n_records"], summary["labels_absent_from_train"]
        ({'train': 2, 'test': 1}, ['c'])
    """
    split = np.asarray(split, dtype=str)
    label_arr = np.array(["" if _is_missing(x) else str(x) for x in labels], dtype=str)
    group_arr = np.asarray(groups)
    names = [s for s in (*SPLITS, "excluded") if s in set(split)] + sorted(set(split) - {*SPLITS, "excluded"})
    per = {name: split == name for name in names}
    per_train = split == "train"
    evaluated = np.isin(split, ["valid", "test"])
    group_split_pairs = np.unique(np.stack([group_arr.astype(str), split]), axis=1)  # (2, distinct pairs)
    straddling = group_split_pairs.shape[1] - len(np.unique(group_arr))
    return {
        "n_records": {name: int(mask.sum()) for name, mask in per.items()},
        "n_groups": {name: len(np.unique(group_arr[mask])) for name, mask in per.items()},
        "n_labels": {name: len(np.unique(label_arr[mask])) for name, mask in per.items()},
        "labels_absent_from_train": sorted(map(str, set(label_arr[evaluated]) - set(label_arr[per_train]))),
        "groups_straddling_splits": int(straddling),
    }
