"""Reader benchmark: how fast FASTA and FASTQ records are parsed, by seqxent's reader and by the maintained ones.

``python -m benchmarks.readers --output results/bench_readers`` writes 1M COI-like records (640–660 bp, 70 %
A+T as in insect COI, ids ``BOLD0000001 COI-5P``, each sequence on one line; FASTQ with Phred+33 qualities)
to a temporary folder, then reads each file with every candidate and keeps the median of ``--repeats`` runs.
Each candidate is timed twice: yielding what seqxent's stages consume, a :class:`~seqxent.data.io.FastaRecord`
(id = first word of the header, sequence, description; ``records/s``), and yielding its own objects (tuples,
SeqRecords, dnaio records; ``own objects/s``). Candidates: seqxent's :func:`~seqxent.data.io.iter_fasta`
(FASTA and FASTQ), Biopython's ``SeqIO.parse``, ``SimpleFastaParser`` and ``FastqGeneralIterator``, and dnaio
when it is installed (``pip install dnaio==1.2.4``; not a dependency of seqxent: a row "not installed"
otherwise). It writes ``readers.tsv`` and ``readers.md`` (also printed).

Per-record errors (the last column) is what a reader does with one bad record in the middle of a file: a
quality line of the wrong length (FASTQ) or a letter outside ASCII (FASTA). ``skip`` means the other records
are still read and the bad one can be reported on its own (what ``seqxent predict`` needs: every input id in the
output); ``stops`` means the reader raises and the rest of the file is lost.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from seqxent.data.io import FastaRecord, atomic_write, iter_fasta

#: COI-like composition: insect COI-5P is about 70 % A+T.
BASE_PROBS = {"A": 0.32, "C": 0.15, "G": 0.15, "T": 0.38}


@dataclass(frozen=True)
class Reader:
    """One candidate: its name, the format it reads, its records and what it does with a bad record."""

    name: str
    fmt: str
    records: Callable[[Path], Iterator[FastaRecord]]
    errors: str
    own: Callable[[Path], Iterator] | None = None  # the reader's own objects (None: ``records`` are its own)


def _records(n: int, seed: int, chunk: int = 10_000) -> Iterator[tuple[str, str]]:
    """``n`` COI-like ``(header, sequence)`` pairs of 640-660 bp, drawn from a seeded generator."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer("".join(BASE_PROBS).encode(), dtype=np.uint8)
    for start in range(0, n, chunk):
        size = min(chunk, n - start)
        codes = rng.choice(letters, size=(size, 660), p=list(BASE_PROBS.values()))
        lengths = rng.integers(640, 661, size=size)
        for i in range(size):
            yield f"BOLD{start + i + 1:07d} COI-5P", codes[i, :lengths[i]].tobytes().decode()


def write_inputs(directory: Path, n: int, seed: int = 0) -> dict[str, Path]:
    """Write ``reads.fasta`` and ``reads.fastq`` of ``n`` records each; return their paths by format.

    Example:
        >>> paths = write_inputs(Path(tempfile.mkdtemp()), 3)
        >>> [(r.description, len(r.sequence)) for r in iter_fasta(paths["fastq"])]
        [('BOLD0000001 COI-5P', 642), ('BOLD0000002 COI-5P', 649), ('BOLD0000003 COI-5P', 642)]
        >>> [r.sequence for r in iter_fasta(paths["fasta"])] == [r.sequence for r in iter_fasta(paths["fastq"])]
        True
    """
    paths = {"fasta": directory / "reads.fasta", "fastq": directory / "reads.fastq"}
    with atomic_write(paths["fasta"]) as fasta, atomic_write(paths["fastq"]) as fastq:
        for header, seq in _records(n, seed):
            fasta.write(f">{header}\n{seq}\n")
            fastq.write(f"@{header}\n{seq}\n+\n{'I' * len(seq)}\n")
    return paths


def _record(title: str, sequence: str) -> FastaRecord:
    return FastaRecord(title.split(None, 1)[0], sequence, title)


def _seqio_own(fmt: str) -> Callable[[Path], Iterator]:
    def own(path: Path) -> Iterator:
        from Bio import SeqIO

        return SeqIO.parse(path, fmt)
    return own


def _seqio(fmt: str) -> Callable[[Path], Iterator[FastaRecord]]:
    def records(path: Path) -> Iterator[FastaRecord]:
        return (_record(rec.description, str(rec.seq)) for rec in _seqio_own(fmt)(path))
    return records


def _simple_fasta_own(path: Path) -> Iterator[tuple[str, str]]:
    from Bio.SeqIO.FastaIO import SimpleFastaParser

    with open(path) as handle:
        yield from SimpleFastaParser(handle)


def _simple_fasta(path: Path) -> Iterator[FastaRecord]:
    return (_record(title, seq) for title, seq in _simple_fasta_own(path))


def _fastq_general_own(path: Path) -> Iterator[tuple[str, str, str]]:
    from Bio.SeqIO.QualityIO import FastqGeneralIterator

    with open(path) as handle:
        yield from FastqGeneralIterator(handle)


def _fastq_general(path: Path) -> Iterator[FastaRecord]:
    return (_record(title, seq) for title, seq, _ in _fastq_general_own(path))


def _dnaio_own(path: Path) -> Iterator:
    import dnaio

    with dnaio.open(path) as records:
        yield from records


def _dnaio(path: Path) -> Iterator[FastaRecord]:
    return (_record(rec.name, rec.sequence) for rec in _dnaio_own(path))


READERS = [
    Reader("seqxent iter_fasta", "fasta", iter_fasta, "skip"),
    Reader("Bio.SeqIO.parse", "fasta", _seqio("fasta"), "skip", _seqio_own("fasta")),
    Reader("Bio SimpleFastaParser", "fasta", _simple_fasta, "skip", _simple_fasta_own),
    Reader("dnaio", "fasta", _dnaio, "stops", _dnaio_own),
    Reader("seqxent iter_fasta", "fastq", iter_fasta, "skip"),
    Reader("Bio.SeqIO.parse", "fastq", _seqio("fastq"), "stops", _seqio_own("fastq")),
    Reader("Bio FastqGeneralIterator", "fastq", _fastq_general, "stops", _fastq_general_own),
    Reader("dnaio", "fastq", _dnaio, "stops", _dnaio_own),
]


def time_reader(records: Callable[[Path], Iterator], path: Path, repeats: int) -> tuple[float, int]:
    """Median seconds of ``repeats`` full reads of ``path`` by ``records``, and the number of records read."""
    seconds, n = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        n = sum(1 for _ in records(path))
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), n


def _installed(reader: Reader) -> bool:
    if reader.records is not _dnaio:
        return True
    try:
        import dnaio  # noqa: F401
    except ImportError:
        return False
    return True


def run(n: int, repeats: int, workdir: Path) -> list[dict]:
    """Time every reader on ``n`` records of each format; one row per reader and format."""
    paths = write_inputs(workdir, n)
    rows = []
    for reader in READERS:
        row = {"reader": reader.name, "format": reader.fmt, "records": n, "errors": reader.errors,
               "records_per_s": float("nan"), "own_per_s": float("nan"), "note": ""}
        if not _installed(reader):
            rows.append({**row, "note": "not installed"})
            continue
        for key, records in (("records_per_s", reader.records), ("own_per_s", reader.own or reader.records)):
            seconds, count = time_reader(records, paths[reader.fmt], repeats)
            if count != n:
                raise AssertionError(f"{reader.name} read {count} {reader.fmt} records, expected {n}")
            row[key] = n / seconds
        rows.append(row)
        print(f"{reader.fmt}\t{reader.name}\t{row['records_per_s']:,.0f} records/s\t{row['own_per_s']:,.0f} own/s",
              flush=True)
    return rows


def write_report(rows: list[dict], output: Path) -> str:
    """Write ``readers.tsv`` and ``readers.md`` into ``output``; return the Markdown table."""
    columns = ["reader", "format", "records", "records_per_s", "own_per_s", "errors", "note"]
    with atomic_write(output / "readers.tsv") as out:
        out.write("\t".join(columns) + "\n")
        for row in rows:
            out.write("\t".join(f"{row[c]:.0f}" if isinstance(row[c], float) else str(row[c]) for c in columns) + "\n")
    md = io.StringIO()
    md.write("| reader | format | records/s (FastaRecord) | own objects/s | one bad record |\n|---|---|---|---|---|\n")
    for row in rows:
        rates = [row["note"]] * 2 if row["note"] else [f"{row[k]:,.0f}" for k in ("records_per_s", "own_per_s")]
        md.write(f"| {row['reader']} | {row['format'].upper()} | {rates[0]} | {rates[1]} | {row['errors']} |\n")
    with atomic_write(output / "readers.md") as out:
        out.write(md.getvalue())
    return md.getvalue()


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m benchmarks.readers [--records N] [--repeats R] --output DIR``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="runs per reader; the median is reported")
    parser.add_argument("--output", type=Path, default=Path("results/bench_readers"))
    parser.add_argument("--workdir", type=Path, default=None, help="where the inputs go (default: a temporary folder)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        rows = run(args.records, args.repeats, Path(tmp))
    print(write_report(rows, args.output))


if __name__ == "__main__":
    main()
