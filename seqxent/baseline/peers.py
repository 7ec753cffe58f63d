"""Peer classifiers run through external tools: SINTAX, BLAST top hit, RDP (:mod:`.methods` runs any method).

Each peer trains on (reference) sequences with labels and classifies query sequences, returning a
:class:`PeerResult`: a label (or ``None`` with a reason) and a confidence in [0, 1] per query id, plus the
wall-clock seconds of the whole run (writing inputs, building the database or model, classifying).

Tools are called with internal record ids (``r0, r1, ...`` for the reference, ``q0, q1, ...`` for queries),
so odd characters in the caller's ids never reach a command line or a FASTA header. Class names travel
inside headers (SINTAX, RDP) percent-encoded by :func:`encode_label`, which is reversible for any string.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from seqxent import tools
from seqxent.data.io import write_fasta
from seqxent.data.kmers import NUCLEOTIDES, kmer_codes

# The properties file that `classify -t` reads; it names the files written by `train` (RDP's
# samplefiles/rRNAClassifier.properties; `train` does not write it).
RDP_PROPERTIES = """# Sample ResourceBundle properties file
bergeyTree=bergeyTrainingTree.xml
probabilityList=genus_wordConditionalProbList.txt
probabilityIndex=wordConditionalProbIndexArr.txt
wordPrior=logWordPrior.txt
classifierVersion=RDP Naive Bayesian rRNA Classifier Version 2.5, May 2012
"""


def encode_label(label: str) -> str:
    """Return ``label`` percent-encoded to letters, digits and ``_.-~%`` (safe in SINTAX and RDP headers).

    Example:
        >>> encode_label("Osmia sp. 1, a:b;c")
        'Osmia%20sp.%201%2C%20a%3Ab%3Bc'
        >>> decode_label(encode_label("Osmia sp. 1, a:b;c"))
        'Osmia sp. 1, a:b;c'
    """
    return quote(label, safe="")


def decode_label(token: str) -> str:
    """Invert :func:`encode_label`."""
    return unquote(token)


@dataclass
class PeerResult:
    """Predictions of one peer tool.

    Attributes:
        tool: the peer's name (``"sintax"``, ``"blastn"``, ``"rdp"``).
        labels: query id -> predicted label, ``None`` when the tool gave none.
        confidence: query id -> confidence in [0, 1], ``None`` when there is none.
        skipped: query id -> reason, for every query whose label is ``None``.
        seconds: wall-clock seconds of the whole run.
    """

    tool: str
    labels: dict[str, str | None]
    confidence: dict[str, float | None]
    skipped: dict[str, str]
    seconds: float


def _run(command: list[str], cwd: Path) -> None:
    """Run ``command``; raise RuntimeError with the end of its stderr when it fails."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"Expected command `{' '.join(command)}` to exit with 0, but got {done.returncode}: "
            f"{done.stderr[-2000:]}"
        )


# A peer's raw output: internal query index -> (label or None, confidence or None, reason if no label).
Calls = dict[int, tuple[str | None, float | None, str]]


class Peer:
    """Base class: writes inputs, times the run and maps ids back; subclasses implement ``_classify``."""

    name = ""
    tool = ""  # key of seqxent.tools.TOOLS: the external tool this peer runs
    min_words = 0  # queries with fewer valid 8-mers are skipped before the tool runs
    missing_reason = "no output line for this query"  # reason for queries absent from the tool's output

    @classmethod
    def is_available(cls) -> bool:
        """Return whether the tool the peer runs is installed (:func:`seqxent.tools.is_installed`)."""
        return tools.is_installed(cls.tool)

    def classify(
        self,
        train_seqs: Sequence[str],
        train_labels: Sequence,
        query_ids: Sequence[str],
        query_seqs: Sequence[str],
        *,
        threads: int = 1,
        workdir: str | Path | None = None,
    ) -> PeerResult:
        """Train on the reference and classify the queries.

        Args:
            train_seqs: reference sequences.
            train_labels: their labels (converted to ``str``).
            query_ids: unique query ids, used as keys of the result.
            query_seqs: query sequences, parallel to ``query_ids``.
            threads: threads the tool may use.
            workdir: directory for the tool's files (kept); a temporary directory (removed) when ``None``.

        Returns:
            The :class:`PeerResult`; queries missing from the tool's output are skipped with a reason.

        Raises:
            ValueError: if the inputs are inconsistent. RuntimeError: if the tool fails.
        """
        check_inputs(train_seqs, train_labels, query_ids, query_seqs)
        start = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix=f"seqxent_{self.name}_") as tmp:
            folder = Path(workdir if workdir is not None else tmp).resolve()  # tools run with cwd=folder
            folder.mkdir(parents=True, exist_ok=True)
            screened, query_fasta = write_queries(folder, query_seqs, self.min_words)
            labels = [str(y) for y in train_labels]
            calls = self._classify(folder, list(train_seqs), labels, query_fasta, threads)
        calls.update({i: (None, None, reason) for i, reason in screened.items()})
        return _collect(self.name, query_ids, calls, self.missing_reason, time.perf_counter() - start)

    def _screen(self, query_seqs: Sequence[str]) -> dict[int, str]:
        """Return query index -> reason for empty queries and those with fewer than ``min_words`` 8-mers."""
        return screen_queries(query_seqs, self.min_words)

    def _classify(
        self, folder: Path, train_seqs: list[str], train_labels: list[str], query_fasta: Path, threads: int
    ) -> Calls:  # pragma: no cover - abstract
        raise NotImplementedError


def screen_queries(query_seqs: Sequence[str], min_words: int = 0) -> dict[int, str]:
    """Return query index -> reason for empty queries and those with fewer than ``min_words`` 8-mers.

    Example:
        >>> screen_queries(["", "ACGTACGTA", "NNNNNNNN"], min_words=1)
        {0: 'empty sequence', 2: 'fewer than 1 8-mers made of A, C, G, T only'}
    """
    screened = {}
    for i, seq in enumerate(query_seqs):
        if not seq:
            screened[i] = "empty sequence"
        elif min_words and kmer_codes(seq, 8, NUCLEOTIDES).size < min_words:
            screened[i] = f"fewer than {min_words} 8-mers made of A, C, G, T only"
    return screened


def write_queries(folder: Path, query_seqs: Sequence[str], min_words: int = 0) -> tuple[dict[int, str], Path]:
    """Write ``folder/query.fa`` with ids ``q<i>``, leaving out the queries a tool cannot take.

    Returns:
        ``(screened, path)``: query index -> reason for every query left out (:func:`screen_queries`), and the
        FASTA's path.
    """
    screened = screen_queries(query_seqs, min_words)  # queries the tool cannot take never reach it
    query_fasta = folder / "query.fa"
    write_fasta(query_fasta, ((f"q{i}", seq) for i, seq in enumerate(query_seqs) if i not in screened))
    return screened, query_fasta


def check_inputs(train_seqs, train_labels, query_ids, query_seqs) -> None:
    """Raise ValueError unless the reference is non-empty and parallel, and the query ids unique and parallel."""
    if len(train_seqs) != len(train_labels) or len(train_seqs) == 0:
        raise ValueError(
            "Expected arguments `train_seqs` and `train_labels` to be non-empty and of the same length, "
            f"but got {len(train_seqs)} and {len(train_labels)}"
        )
    if len(query_ids) != len(query_seqs):
        raise ValueError(
            "Expected arguments `query_ids` and `query_seqs` to have the same length, "
            f"but got {len(query_ids)} and {len(query_seqs)}"
        )
    if len(set(query_ids)) != len(query_ids):
        raise ValueError(
            f"Expected argument `query_ids` to be unique, but got {len(query_ids)} ids "
            f"with {len(query_ids) - len(set(query_ids))} duplicates"
        )


def _collect(tool: str, query_ids, calls: Calls, missing_reason: str, seconds: float) -> PeerResult:
    labels, confidence, skipped = {}, {}, {}
    for i, query_id in enumerate(query_ids):
        label, conf, reason = calls.get(i, (None, None, missing_reason))
        labels[query_id], confidence[query_id] = label, conf
        if label is None:
            skipped[query_id] = reason
    return PeerResult(tool, labels, confidence, skipped, seconds)


class Sintax(Peer):
    """SINTAX (vsearch): k-mer bootstrap classifier; confidence = bootstrap support of the top label.

    The reference headers are ``>r<i>;tax=s:<encoded label>``. The top label is reported whatever its
    support; vsearch's ``--sintax_cutoff`` (``cutoff``) only shapes its 4th column, which is not used, so
    apply a cutoff on ``confidence`` yourself (0.8 is SINTAX's usual choice). Bootstraps use ``--randseed``.
    """

    name = "sintax"
    tool = "vsearch"
    _pattern = re.compile(r"^s:(?P<token>[^(,]+)\((?P<conf>[0-9.]+)\)$")

    def __init__(self, cutoff: float = 0.8, seed: int = 1) -> None:
        self.cutoff, self.seed = cutoff, seed

    def search(self, folder: Path, headers: Sequence[str], train_seqs: Sequence[str], query_fasta: Path,
               threads: int, extra: Sequence[str] = ()) -> Path:
        """Write ``folder/reference.fa`` (``headers``: ``r<i>;tax=...``), run ``vsearch --sintax``; the output's path.

        ``extra`` arguments are appended to the command (the lineage peer adds ``--strand plus``).
        """
        reference = folder / "reference.fa"
        write_fasta(reference, zip(headers, train_seqs, strict=True))
        out = folder / "sintax.tsv"
        command = ["vsearch", "--sintax", str(query_fasta), "--db", str(reference), "--tabbedout", str(out),
                   "--sintax_cutoff", str(self.cutoff), "--randseed", str(self.seed),
                   "--threads", str(threads), *extra]  # fmt: skip
        _run(command, folder)
        return out

    def _classify(self, folder, train_seqs, train_labels, query_fasta, threads) -> Calls:
        ref_ids = [f"r{i};tax=s:{encode_label(y)}" for i, y in enumerate(train_labels)]
        out = self.search(folder, ref_ids, train_seqs, query_fasta, threads)
        calls: Calls = {}
        for line in out.read_text().splitlines():
            fields = line.split("\t")
            match = self._pattern.match(fields[1]) if len(fields) > 1 else None
            if match is None:
                calls[int(fields[0][1:])] = (None, None, "no SINTAX prediction (too few shared k-mers)")
            else:
                calls[int(fields[0][1:])] = (decode_label(match["token"]), float(match["conf"]), "")
        return calls


class BlastTopHit(Peer):
    """BLAST top hit: megablast; label of the best-bitscore hit, confidence = its percent identity / 100.

    Ties on bitscore keep BLAST's own order (the first listed hit). Queries without a hit are skipped.
    """

    name = "blastn"
    tool = "ncbi-blast+"
    missing_reason = "no BLAST hit (default e-value cutoff 10)"

    def __init__(self, max_target_seqs: int = 5, task: str = "megablast") -> None:
        self.max_target_seqs, self.task = max_target_seqs, task

    def top_hits(self, folder: Path, train_seqs: Sequence[str], query_fasta: Path, threads: int
                 ) -> dict[int, tuple[int, float]]:
        """Build the database, run blastn; query index -> (reference index, percent identity) of its top hit."""
        ref_ids = [f"r{i}" for i in range(len(train_seqs))]
        reference = folder / "reference.fa"
        write_fasta(reference, zip(ref_ids, train_seqs, strict=True))
        database = str(folder / "reference")
        _run(["makeblastdb", "-in", str(reference), "-dbtype", "nucl", "-out", database], folder)
        out = folder / "blastn.tsv"
        command = ["blastn", "-task", self.task, "-query", str(query_fasta), "-db", database,
                   "-outfmt", "6 qseqid sseqid pident length evalue bitscore",
                   "-max_target_seqs", str(self.max_target_seqs), "-num_threads", str(threads),
                   "-out", str(out)]  # fmt: skip
        _run(command, folder)
        best: dict[int, tuple[float, int, float]] = {}  # query -> (bitscore, reference index, pident)
        for line in out.read_text().splitlines():
            qseqid, sseqid, pident, _, _, bitscore = line.split("\t")
            query, score = int(qseqid[1:]), float(bitscore)
            if query not in best or score > best[query][0]:
                best[query] = (score, int(sseqid[1:]), float(pident))
        return {i: (ref, pident) for i, (_, ref, pident) in best.items()}

    def _classify(self, folder, train_seqs, train_labels, query_fasta, threads) -> Calls:
        hits = self.top_hits(folder, train_seqs, query_fasta, threads)
        return {i: (train_labels[ref], pident / 100.0, "") for i, (ref, pident) in hits.items()}


class RdpClassifier(Peer):
    """RDP naive Bayesian classifier (8-mer words, bootstrap confidence), trained on the reference.

    RDP needs a taxonomy and lineage-labelled sequences. The lineage is minimal, ``Root;<label>``: a
    ``rootrank`` node and one child per class at RDP's ``genus`` rank (RDP stores its word probabilities
    per genus-rank node, whatever the label means). Taxonomy lines read ``id*name*parent*depth*rank``;
    training headers ``>r<i><TAB>Root;<encoded label>``. ``classify`` needs :data:`RDP_PROPERTIES` beside the
    trained files. Java is called directly (Debian's ``/usr/bin/rdp_classifier`` wrapper is broken).
    """

    name = "rdp"
    tool = "rdp-classifier"
    min_words = 1  # RDP aborts the whole run on a query without a valid 8-mer
    missing_reason = "no RDP output (RDP silently drops queries shorter than 50 bases)"
    _main = "edu.msu.cme.rdp.classifier.cli.ClassifierMain"

    def __init__(self, jar: str | Path | None = None, memory: str = "2g") -> None:
        self.jar, self.memory = (Path(jar) if jar is not None else tools.rdp_jar()), memory

    def train_and_classify(self, folder: Path, taxonomy: Sequence[str], headers: Sequence[str],
                           train_seqs: Sequence[str], query_fasta: Path) -> list[list[str]]:
        """Train RDP on ``taxonomy`` lines and ``headers`` (``r<i><TAB>Root;...``), classify the queries.

        Returns:
            One ``[seqname, orientation, taxon, rank, confidence, taxon, rank, confidence, ...]`` per output line
            (RDP's default ``allrank`` format: every node from ``Root`` down).
        """
        (folder / "taxonomy.txt").write_text("\n".join(taxonomy) + "\n")
        write_fasta(folder / "train.fa", zip(headers, train_seqs, strict=True))
        java = ["java", f"-Xmx{self.memory}", "-cp", str(self.jar), self._main]
        _run(java + ["train", "-o", "model", "-s", "train.fa", "-t", "taxonomy.txt"], folder)
        (folder / "model" / "rRNAClassifier.properties").write_text(RDP_PROPERTIES)
        _run(
            java + ["classify", "-t", "model/rRNAClassifier.properties", "-o", "rdp.tsv", str(query_fasta)],
            folder,
        )
        return [line.split("\t") for line in (folder / "rdp.tsv").read_text().splitlines()]

    def _classify(self, folder, train_seqs, train_labels, query_fasta, threads) -> Calls:
        classes = sorted(set(train_labels))
        taxonomy = ["0*Root*-1*0*rootrank"]  # id*name*parent id*depth*rank
        taxonomy += [f"{i + 1}*{encode_label(c)}*0*1*genus" for i, c in enumerate(classes)]
        headers = [f"r{i}\tRoot;{encode_label(y)}" for i, y in enumerate(train_labels)]
        calls: Calls = {}
        for fields in self.train_and_classify(folder, taxonomy, headers, train_seqs, query_fasta):
            triples = rdp_triples(fields)
            genus = [(name, float(conf)) for name, rank, conf in triples if rank == "genus"]
            query = int(fields[0][1:])
            calls[query] = (
                (decode_label(genus[0][0]), genus[0][1], "")
                if genus
                else (None, None, "RDP assigned no label below Root")
            )
        return calls


def rdp_triples(fields: Sequence[str]) -> list[list[str]]:
    """The ``[taxon, rank, confidence]`` triples of one RDP output line split at tabs (after name, orientation).

    Example:
        >>> rdp_triples(["q0", "", "Root", "rootrank", "1.0", "Bacteria", "domain", "0.97"])
        [['Root', 'rootrank', '1.0'], ['Bacteria', 'domain', '0.97']]
    """
    return [list(fields[j : j + 3]) for j in range(2, len(fields) - 2, 3)]
