"""Reading sequences and label tables into typed records, and writing outputs atomically.

FASTA (plain or gzip, detected from the file's magic bytes, not its name) is parsed by Biopython's
``SeqIO``; tables (TSV, plain or gzip) by pandas with every column read as text, so that a label such as
``NA`` or ``1e5`` stays a string. Problems are reported as :class:`~seqxent.errors.InputError` naming the
file, the record and the problem.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from Bio import SeqIO

from seqxent.errors import InputError

GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class FastaRecord:
    """One FASTA record: ``id`` is the first word of the header, ``sequence`` the raw residues."""

    id: str
    sequence: str
    description: str = ""


@dataclass(frozen=True)
class Skipped:
    """A record that was not used, and why (written to the outputs, never dropped silently)."""

    id: str
    reason: str


def open_text(path: Path | str) -> io.TextIOBase:
    """Open a plain or gzip-compressed text file (UTF-8, BOM removed, any line ending) for reading.

    Raises:
        InputError: when the file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with path.open("rb") as fh:
        magic = fh.read(2)
    raw = gzip.open(path, "rb") if magic == GZIP_MAGIC else path.open("rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="strict", newline=None)


def iter_fasta(path: Path | str) -> Iterator[FastaRecord]:
    """Yield the records of a FASTA file one at a time (memory stays flat for any file size).

    Blank lines before the first header are allowed (Biopython's ``fasta-pearson`` flavour is used once the
    first non-blank line is known to be a header).

    Duplicate ids are not checked here (that needs memory in the number of records); see :func:`read_fasta`.

    Raises:
        InputError: for a file that is not FASTA, not UTF-8, a truncated gzip stream, or a record without id.
    """
    path = Path(path)
    with open_text(path) as handle:
        first = _first_non_blank(handle, path)
    if first is None:
        raise InputError(f"{path}: empty file, expected FASTA records")
    if not first.startswith(">"):
        raise InputError(f"{path}: not FASTA: expected '>' at the start, got {first[:30]!r}")
    with open_text(path) as handle:
        try:
            for n, rec in enumerate(SeqIO.parse(handle, "fasta-pearson"), start=1):
                if not rec.id:
                    raise InputError(f"{path}: record {n}: header has no id")
                yield FastaRecord(rec.id, str(rec.seq), rec.description)
        except (UnicodeDecodeError, EOFError, gzip.BadGzipFile, OSError) as err:
            raise InputError(f"{path}: unreadable ({type(err).__name__}: {err})") from err


def read_fasta(path: Path | str) -> list[FastaRecord]:
    """Read a whole FASTA file; reject duplicate ids.

    Raises:
        InputError: as :func:`iter_fasta`, or when an id occurs twice.
    """
    records, seen = [], set()
    for rec in iter_fasta(path):
        if rec.id in seen:
            raise InputError(f"{path}: record {rec.id!r}: duplicate id")
        seen.add(rec.id)
        records.append(rec)
    return records


def read_table(path: Path | str, required: tuple[str, ...] = (), id_column: str = "id") -> pd.DataFrame:
    """Read a tab-separated table (plain or gzip) with every column as text; missing values become ``""``.

    Raises:
        InputError: when a required column is missing, or ids are empty or duplicated.
    """
    path = Path(path)
    with open_text(path) as handle:
        try:
            table = pd.read_csv(handle, sep="\t", dtype=str, keep_default_na=False, na_filter=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise InputError(f"{path}: not a readable TSV table ({err})") from err
    if not isinstance(table.index, pd.RangeIndex):  # pandas turns surplus leading fields into an index
        raise InputError(f"{path}: not a readable TSV table (data rows have more fields than the header)")
    missing = [c for c in (id_column, *required) if c not in table.columns]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}; the table has {list(table.columns)}")
    ids = table[id_column].str.strip()
    if (ids == "").any():
        row = int((ids == "").to_numpy().argmax()) + 2
        raise InputError(f"{path}: line {row}: empty value in id column {id_column!r}")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise InputError(f"{path}: record {dup.iloc[0]!r}: duplicate id in column {id_column!r}")
    table[id_column] = ids
    return table


@contextlib.contextmanager
def atomic_write(path: Path | str, mode: str = "w", gzip_level: int | None = None):
    """Open a temporary file beside ``path`` and move it into place only when the block succeeds.

    Readers never see a half-written output, and a failed run leaves no file that looks complete.
    ``gzip_level`` writes gzip (``mtime=0``, so equal content gives equal bytes).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with contextlib.ExitStack() as stack:
            if gzip_level is not None:
                # filename="": no random temporary name in the gzip header; equal content, equal bytes.
                fileobj = stack.enter_context(open(tmp, "wb"))
                raw = gzip.GzipFile(filename="", mode="wb", compresslevel=gzip_level, fileobj=fileobj,
                                    mtime=0)
                handle = io.TextIOWrapper(raw, encoding="utf-8", newline="") if "b" not in mode else raw
            else:
                handle = open(tmp, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""}))
            with handle:
                yield handle
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_table(table: pd.DataFrame, path: Path | str) -> None:
    """Write a DataFrame as TSV atomically (gzip when the name ends in ``.gz``)."""
    level = 6 if str(path).endswith(".gz") else None
    with atomic_write(path, gzip_level=level) as handle:
        table.to_csv(handle, sep="\t", index=False, lineterminator="\n")


def _first_non_blank(handle: io.TextIOBase, path: Path) -> str | None:
    try:
        for line in handle:
            if line.strip():
                return line
    except (UnicodeDecodeError, EOFError, gzip.BadGzipFile, OSError) as err:
        raise InputError(f"{path}: unreadable ({type(err).__name__}: {err})") from err
    return None
