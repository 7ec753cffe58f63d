"""Peers that call a whole lineage per record, and their per-rank scores by the lineage model's own definitions.

Each peer trains on the training split's lineages (one name per rank, ``""`` where a record leaves a rank out)
and calls every query: per rank a name (``""`` where the peer names nothing) and its confidence (NaN where the
tool gives none), and ``depth``, the number of leading ranks that stand at the peer's usual cut-off. A query
the tool does not classify (empty, screened out, absent from its output) gets empty calls and depth 0.

- ``sintax`` (vsearch): headers ``>r<i>;tax=d:...,p:...,g:...;`` (letters of
  :data:`~seqxent.data.taxonomy.RANK_LETTERS`; a missing rank is left out, as SINTAX references do), names
  percent-encoded (:func:`~seqxent.baseline.peers.encode_label`: SINTAX splits at ``,`` ``:`` ``;``) and decoded
  back; ``--sintax_cutoff 0.8 --strand plus``, seeded. A rank the winning reference lacks is ``""`` (NaN);
  depth is what the 4th column keeps (the tool's own truncation).
- ``rdp``: the RDP classifier retrained on the lineages. RDP needs every sequence at every rank and taxon
  names unique per rank (case-insensitively), so the training tree is built from the records' paths: a taxon
  is one node per distinct path above it, named by its encoded name (``%%2``, ``%%3`` … appended to repeats);
  a missing rank becomes the node ``<parent node>_unclassified_<rank>`` (``Root_unclassified_domain`` at the
  top). Output nodes map back to the real name, placeholders to ``""`` (their confidence is kept).
  Classified in RDP's ``allrank`` format; cut-off 0.8.
- ``qiime_nb``: q2-feature-classifier's naive Bayes (:mod:`~seqxent.baseline.naive_bayes`) with the whole
  lineage string as the class (``d__A; p__B; …``, an empty level ``g__`` for a missing rank, as Greengenes
  writes). As ``classify-sklearn`` (``_predict_chunk_with_conf``), the calls are the levels of the most
  probable class and a level's confidence is the summed probability of the classes sharing the lineage down
  to it (:func:`prefix_confidence`); the lineage stops at the first level below 0.7. Fitted in chunks, like
  QIIME 2's ``LowMemoryMultinomialNB`` (same counts, less memory).
- ``blastn``: megablast top hit (:class:`~seqxent.baseline.peers.BlastTopHit`) → the hit's whole lineage,
  confidence 1 at every named rank; no cut-off (every named rank stands).

Scores (:func:`seqxent.baseline.score.score_lineage_calls`) use :mod:`seqxent.metrics.taxonomy` on the model's
classes: the truth as :meth:`~seqxent.tasks.lineage.LineageTask.truth` gives it (tree of the training split), a
call that is no class (``""``, or a name absent from the training taxa) is
:data:`~seqxent.data.taxon_tree.NO_CALL`, never equal to any truth. A call stands at rank ``r`` when
``r < depth`` and it names a taxon; a ``""`` call inside ``depth`` (SINTAX's absent rank, RDP's placeholder) is
no call at that rank: under-classified (or withheld) there.
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from seqxent import tools
from seqxent.baseline.naive_bayes import CONFIDENCE, ChunkedNaiveBayes, prefix_confidence, qiime_taxon
from seqxent.baseline.peers import (
    BlastTopHit,
    RdpClassifier,
    Sintax,
    check_inputs,
    decode_label,
    encode_label,
    rdp_triples,
    write_queries,
)
from seqxent.data.taxonomy import RANK_LETTERS

if TYPE_CHECKING:
    pass

#: The usual cut-offs: SINTAX's and the RDP classifier's 0.8, classify-sklearn's 0.7.
SINTAX_CUTOFF, RDP_CUTOFF = 0.8, 0.8

# One classified query: (name per rank, confidence per rank (NaN: none), depth).
Row = tuple[list[str], list[float], int]


@dataclass
class LineageCalls:
    """The lineage calls of one peer, one row per query (query order).

    Attributes:
        tool: the peer's method name.
        ranks: the ranks, top down.
        ids: query ids.
        calls: ``N`` lists of ``R`` names, ``""`` where the peer names nothing.
        confidence: ``(N, R)`` the tool's confidence of each call, NaN where it gives none.
        depth: ``(N,)`` leading ranks standing at the cut-off, in ``0..R``.
        cutoff: the peer's cut-off (None: every named rank stands).
        seconds: wall-clock seconds of training and classifying.
        skipped: query id -> reason, for every query without any call.
    """

    tool: str
    ranks: list[str]
    ids: list[str]
    calls: list[list[str]]
    confidence: np.ndarray
    depth: np.ndarray
    cutoff: float | None
    seconds: float
    skipped: dict[str, str] = field(default_factory=dict)

    def table(self) -> dict[str, list]:
        """Per query: ``predicted_<rank>`` and ``p_<rank>`` (None for NaN) per rank, and ``depth``."""
        out: dict[str, list] = {"id": list(self.ids)}
        for r, rank in enumerate(self.ranks):
            out[f"predicted_{rank}"] = [row[r] for row in self.calls]
            out[f"p_{rank}"] = [None if math.isnan(c) else round(float(c), 4) for c in self.confidence[:, r]]
        out["depth"] = self.depth.tolist()
        return out


def cut_depth(confidence: Sequence[float], cutoff: float | None) -> int:
    """Leading ranks that stand: those above the first confidence below ``cutoff``; NaN ranks are passed over.

    With no rank below the cut-off the lineage stands down to its last rank with a confidence (0 if none).

    Example:
        >>> nan = float("nan")
        >>> cut_depth([0.9, nan, 0.85, 0.5], 0.8), cut_depth([nan, 0.9, nan], 0.8), cut_depth([1.0, 0.2], None)
        (3, 2, 2)
    """
    depth = 0
    for r, value in enumerate(confidence):
        if math.isnan(value):
            continue
        if cutoff is not None and value < cutoff:
            return r
        depth = r + 1
    return depth


def _check_lineages(train_lineages: Sequence[Sequence[str]], ranks: Sequence[str]) -> None:
    bad = [i for i, lin in enumerate(train_lineages) if len(lin) != len(ranks)]
    if bad:
        raise ValueError(f"Expected argument `train_lineages` to hold one name per rank ({len(ranks)}), but "
                         f"record {bad[0]} has {len(train_lineages[bad[0]])}")


class LineagePeer:
    """Base class: checks inputs, writes the queries, times the run, one row per query; subclasses ``_classify``."""

    name = ""
    tool: str | None = None  # key of seqxent.tools.TOOLS; None: nothing to install
    min_words = 0  # queries with fewer valid 8-mers never reach the tool
    cutoff: float | None = None
    missing_reason = "no prediction in the tool's output"

    @classmethod
    def is_available(cls) -> bool:
        """Whether the tool the peer runs is installed (always, without one)."""
        return cls.tool is None or tools.is_installed(cls.tool)

    def classify(self, train_seqs: Sequence[str], train_lineages: Sequence[Sequence[str]], ranks: Sequence[str],
                 query_ids: Sequence[str], query_seqs: Sequence[str], *, threads: int = 1,
                 workdir: str | Path | None = None) -> LineageCalls:
        """Train on the reference lineages and call a lineage for every query.

        Args:
            train_seqs: reference sequences.
            train_lineages: one name per rank of each reference record, ``""`` for a missing rank.
            ranks: the ranks, top down.
            query_ids: unique query ids.
            query_seqs: query sequences, parallel to ``query_ids``.
            threads: threads the tool may use.
            workdir: directory for the tool's files (kept); a removed temporary directory when ``None``.

        Returns:
            The :class:`LineageCalls`.

        Raises:
            ValueError: if the inputs are inconsistent. RuntimeError: if the tool fails.
        """
        check_inputs(train_seqs, train_lineages, query_ids, query_seqs)
        ranks = list(ranks)
        _check_lineages(train_lineages, ranks)
        lineages = [[str(name) for name in lin] for lin in train_lineages]
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"seqxent_{self.name}_") as tmp:
            folder = Path(workdir if workdir is not None else tmp).resolve()  # tools run with cwd=folder
            folder.mkdir(parents=True, exist_ok=True)
            screened, query_fasta = write_queries(folder, query_seqs, self.min_words)
            queries = {i: seq for i, seq in enumerate(query_seqs) if i not in screened}
            rows = self._classify(folder, list(train_seqs), lineages, ranks, query_fasta, queries, threads) \
                if queries else {}
        return self._collect(ranks, list(query_ids), rows, screened, time.perf_counter() - start)

    def _collect(self, ranks, query_ids, rows: dict[int, Row], screened, seconds) -> LineageCalls:
        n, n_ranks = len(query_ids), len(ranks)
        calls, confidence, depth = [], np.full((n, n_ranks), np.nan), np.zeros(n, dtype=np.int64)
        skipped = {}
        for i, query_id in enumerate(query_ids):
            names, conf, depth[i] = rows.get(i, ([""] * n_ranks, [math.nan] * n_ranks, 0))
            calls.append(list(names))
            confidence[i] = conf
            if not any(names):  # nothing named: unclassified, whatever the tool's placeholders
                skipped[query_id], depth[i] = screened.get(i, self.missing_reason), 0
        return LineageCalls(self.name, ranks, query_ids, calls, confidence, depth, self.cutoff, seconds, skipped)

    def _classify(self, folder: Path, train_seqs: list[str], lineages: list[list[str]], ranks: list[str],
                  query_fasta: Path, queries: dict[int, str], threads: int) -> dict[int, Row]:  # pragma: no cover
        raise NotImplementedError


# --------------------------------------------------------------------------- SINTAX


def _letters(ranks: Sequence[str]) -> list[str]:
    unknown = [rank for rank in ranks if rank not in RANK_LETTERS]
    if unknown:
        raise ValueError(f"Expected argument `ranks` to be SINTAX ranks ({', '.join(RANK_LETTERS)}), but got "
                         f"{unknown}")
    return [RANK_LETTERS[rank] for rank in ranks]


def sintax_header(record_id: str, lineage: Sequence[str], ranks: Sequence[str]) -> str:
    """A SINTAX reference header: named ranks only, names percent-encoded.

    Example:
        >>> sintax_header("r0", ["Bacteria", "", "Bacillaceae 1"], ["domain", "phylum", "family"])
        'r0;tax=d:Bacteria,f:Bacillaceae%201;'
    """
    named = [f"{letter}:{encode_label(name)}" for letter, name in zip(_letters(ranks), lineage, strict=True) if name]
    return f"{record_id};tax={','.join(named)};"


def _sintax_entries(column: str, letters: dict[str, int]) -> list[tuple[int, str, float]]:
    """``(rank index, decoded name, confidence)`` of each ``x:name(0.99)`` entry of a SINTAX column."""
    entries = []
    for entry in filter(None, column.split(",")):
        letter, _, rest = entry.partition(":")
        token, _, value = rest.rpartition("(")
        if letter not in letters or not value.endswith(")"):
            raise ValueError(f"Expected SINTAX entries `x:name(confidence)` with x one of {sorted(letters)}, "
                             f"but got {entry!r}")
        entries.append((letters[letter], decode_label(token), float(value[:-1])))
    return entries


def parse_sintax(text: str, ranks: Sequence[str], cutoff: float | None = SINTAX_CUTOFF) -> dict[str, Row]:
    r"""Rows of a vsearch ``--sintax --tabbedout`` file, keyed by the query label (the whole first column).

    Depth is what the 4th column (``--sintax_cutoff``) keeps; without it, :func:`cut_depth` at ``cutoff``.

    Example:
        >>> line = "q1\td:Bacteria(1.00),g:Bacillus%201(0.62)\t+\td:Bacteria"
        >>> parse_sintax(line, ["domain", "family", "genus"])
        {'q1': (['Bacteria', '', 'Bacillus 1'], [1.0, nan, 0.62], 2)}
    """
    letters = {letter: r for r, letter in enumerate(_letters(ranks))}
    out = {}
    for line in text.splitlines():
        fields = line.split("\t")
        names, conf = [""] * len(ranks), [math.nan] * len(ranks)
        entries = _sintax_entries(fields[1], letters) if len(fields) > 1 else []
        for r, name, value in entries:
            names[r], conf[r] = name, value
        if len(fields) > 3:  # the lineage as the tool truncated it: a prefix of the entries
            kept = len([entry for entry in fields[3].split(",") if entry])
            depth = entries[kept][0] if kept < len(entries) else (entries[-1][0] + 1 if entries else 0)
        else:
            depth = cut_depth(conf, cutoff)
        out[fields[0]] = (names, conf, depth)
    return out


class SintaxLineage(LineagePeer):
    """SINTAX (vsearch) on the lineages (module docstring)."""

    name, tool = "sintax", "vsearch"

    def __init__(self, cutoff: float = SINTAX_CUTOFF, seed: int = 1) -> None:
        self.cutoff, self.seed = cutoff, seed

    def _classify(self, folder, train_seqs, lineages, ranks, query_fasta, queries, threads) -> dict[int, Row]:
        headers = [sintax_header(f"r{i}", lin, ranks) for i, lin in enumerate(lineages)]
        out = Sintax(self.cutoff, self.seed).search(folder, headers, train_seqs, query_fasta, threads,
                                                    extra=("--strand", "plus"))
        rows = parse_sintax(out.read_text(), ranks, self.cutoff)
        return {int(label[1:]): row for label, row in rows.items() if any(row[0])}


# --------------------------------------------------------------------------- RDP


def rdp_training_files(lineages: Sequence[Sequence[str]], ranks: Sequence[str]
                       ) -> tuple[list[str], list[str], dict[tuple[str, str], str]]:
    """RDP's taxonomy lines and training lineages, and each node's real name (module docstring).

    Returns:
        ``(taxonomy, paths, names)``: ``taxid*name*parent*depth*rank`` lines from ``0*Root*-1*0*rootrank``;
        ``Root;<node>;...`` per record (every rank); ``(rank, node) -> name`` (``""`` for a placeholder).

    Example:
        >>> taxonomy, paths, names = rdp_training_files([["Bacteria", "", "Bacillus"]], ["domain", "family", "genus"])
        >>> taxonomy[2], paths[0], names[("family", "Bacteria_unclassified_family")]
        ('2*Bacteria_unclassified_family*1*2*family', 'Root;Bacteria;Bacteria_unclassified_family;Bacillus', '')
    """
    taxonomy = ["0*Root*-1*0*rootrank"]
    nodes: dict[tuple[str, ...], tuple[int, str]] = {(): (0, "Root")}  # path of names -> (taxid, node name)
    used: set[tuple[str, str]] = set()  # (rank, lower-cased node name): RDP rejects repeats, ignoring case
    names: dict[tuple[str, str], str] = {}
    paths = []
    for lineage in lineages:
        path: tuple[str, ...] = ()
        for r, (rank, name) in enumerate(zip(ranks, lineage, strict=True)):
            parent_id, parent = nodes[path]
            path = (*path, name)
            if path not in nodes:
                base = encode_label(name) if name else f"{parent}_unclassified_{rank}"
                node, repeat = base, 1
                while (rank, node.lower()) in used:  # a homonym, or a name under two parents: another node
                    repeat += 1
                    node = f"{base}%%{repeat}"
                used.add((rank, node.lower()))
                nodes[path] = (len(taxonomy), node)
                names[(rank, node)] = name
                taxonomy.append(f"{len(taxonomy)}*{node}*{parent_id}*{r + 1}*{rank}")
        paths.append(";".join(["Root"] + [nodes[path[: r + 1]][1] for r in range(len(ranks))]))
    return taxonomy, paths, names


class RdpLineage(LineagePeer):
    """The RDP classifier retrained on the lineages (module docstring).

    Args:
        cutoff: the bootstrap cut-off.
        jar: the RDP classifier's jar (default :func:`seqxent.tools.rdp_jar`).
        memory: Java heap; by default 1 GB per :data:`LEAVES_PER_GB` leaves of the tree, at least 2 GB (RDP keeps
            a word table per leaf: 15,793 leaves need more than 4 GB).
    """

    name, tool = "rdp", "rdp-classifier"
    min_words = RdpClassifier.min_words  # RDP aborts the whole run on a query without a valid 8-mer
    missing_reason = RdpClassifier.missing_reason
    #: Leaves per GB of Java heap (training on 15,793 leaves succeeds with 6 GB, fails with 4 GB).
    LEAVES_PER_GB = 2000

    def __init__(self, cutoff: float = RDP_CUTOFF, jar: str | Path | None = None, memory: str | None = None) -> None:
        self.cutoff, self.jar, self.memory = cutoff, jar, memory

    def _classify(self, folder, train_seqs, lineages, ranks, query_fasta, queries, threads) -> dict[int, Row]:
        taxonomy, paths, names = rdp_training_files(lineages, ranks)
        headers = [f"r{i}\t{path}" for i, path in enumerate(paths)]
        memory = self.memory or f"{max(2, math.ceil(len(set(paths)) / self.LEAVES_PER_GB))}g"
        index = {rank: r for r, rank in enumerate(ranks)}
        rows = {}
        rdp = RdpClassifier(self.jar, memory)
        for fields in rdp.train_and_classify(folder, taxonomy, headers, train_seqs, query_fasta):
            calls, conf = [""] * len(ranks), [math.nan] * len(ranks)
            for node, rank, value in rdp_triples(fields):
                if rank in index:  # rootrank is no rank of ours
                    calls[index[rank]], conf[index[rank]] = names[(rank, node)], float(value)
            rows[int(fields[0][1:])] = (calls, conf, cut_depth(conf, self.cutoff))
        return rows


# --------------------------------------------------------------------------- QIIME 2 naive Bayes


class QiimeNaiveBayesLineage(LineagePeer):
    """q2-feature-classifier's naive Bayes on whole lineage strings (module docstring)."""

    name = "qiime_nb"

    def __init__(self, cutoff: float = CONFIDENCE) -> None:
        self.cutoff = cutoff

    def _classify(self, folder, train_seqs, lineages, ranks, query_fasta, queries, threads) -> dict[int, Row]:
        labels = [qiime_taxon(lin, ranks) for lin in lineages]
        lineage_of = dict(zip(labels, lineages, strict=True))
        model = ChunkedNaiveBayes(self.cutoff, threads=threads).fit(train_seqs, labels)
        order = list(queries)
        probs = model.predict_proba([queries[i] for i in order])
        top, confidence = prefix_confidence(probs, [lineage_of[c] for c in model.classes_])
        return {i: (list(lineage_of[model.classes_[top[j]]]), confidence[j].tolist(),
                    cut_depth(confidence[j], self.cutoff)) for j, i in enumerate(order)}


# --------------------------------------------------------------------------- BLAST top hit


class BlastLineage(LineagePeer):
    """Megablast top hit: the hit's whole lineage, confidence 1 at every named rank, no cut-off."""

    name, tool = "blastn", "ncbi-blast+"
    missing_reason = BlastTopHit.missing_reason

    def _classify(self, folder, train_seqs, lineages, ranks, query_fasta, queries, threads) -> dict[int, Row]:
        hits = BlastTopHit().top_hits(folder, train_seqs, query_fasta, threads)
        rows = {}
        for i, (ref, _) in hits.items():
            conf = [1.0 if name else math.nan for name in lineages[ref]]
            rows[i] = (list(lineages[ref]), conf, cut_depth(conf, None))
        return rows


#: ``seqxent baseline --method`` → its lineage peer.
LINEAGE_PEERS: dict[str, type[LineagePeer]] = {"sintax": SintaxLineage, "rdp": RdpLineage,
                                                "qiime_nb": QiimeNaiveBayesLineage, "blastn": BlastLineage}


def run_lineage_peer(method: str, train_seqs: Sequence[str], train_lineages: Sequence[Sequence[str]],
                     ranks: Sequence[str], query_ids: Sequence[str], query_seqs: Sequence[str], *, threads: int = 1,
                     workdir: str | Path | None = None) -> LineageCalls:
    """Train the lineage peer ``method`` (a key of :data:`LINEAGE_PEERS`) and call the queries.

    Raises:
        ValueError: for a method without a lineage peer. ToolMissingError: if its tool is not installed.
    """
    if method not in LINEAGE_PEERS:
        raise ValueError(f"Expected argument `method` to be one of {sorted(LINEAGE_PEERS)}, but got {method!r}")
    peer = LINEAGE_PEERS[method]()
    if peer.tool is not None:
        tools.require(peer.tool, f"method `{method}`")
    return peer.classify(train_seqs, train_lineages, ranks, query_ids, query_seqs, threads=threads, workdir=workdir)
