"""Reading sequences and label tables into typed records, and writing outputs (text, bytes, FASTA) atomically.

Sequence files are FASTA or FASTQ (told apart by their first character, ``>`` or ``@``), plain or gzip
(detected from the file's magic bytes, not its name), or standard input for ``-``. They are parsed line by line
by this module's own reader: any character is kept, so that the alphabet can reject one record instead of the
parser the whole file, and a FASTQ record with a bad quality line is kept with its problem, so that a caller can
skip it alone (benchmarks/readers.py compares this reader with Biopython's and dnaio's, which stop at the first
bad record). Tables (TSV, plain or gzip) are read by pandas with every column as text, so that a label such as
``NA`` or ``1e5`` stays a string. Problems are reported as :class:`~seqxent.errors.InputError` naming the
file, the record and the problem.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
import sys
import tempfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seqxent.errors import InputError

if TYPE_CHECKING:  # pandas is imported where tables are read: `seqxent predict` never needs it
    import pandas as pd

GZIP_MAGIC = b"\x1f\x8b"
#: The file name that stands for standard input (readers) or standard output (``seqxent predict --output``).
STDIO = "-"


@dataclass(frozen=True)
class FastaRecord:
    """One FASTA or FASTQ record: ``id`` is the first word of the header, ``sequence`` the raw residues.

    ``description`` is the whole header line after ``>`` or ``@``. ``problem`` says why the record cannot be
    used as it is ("" when it can): a FASTQ quality line whose length differs from the sequence's.
    """

    id: str
    sequence: str
    description: str = ""
    problem: str = ""


@dataclass(frozen=True)
class Skipped:
    """A record that was not used, and why (written to the outputs, never dropped silently)."""

    id: str
    reason: str


def display_name(path: Path | str) -> str:
    """The name of an input in messages: its path, or ``<stdin>`` for ``-``."""
    return "<stdin>" if str(path) == STDIO else str(path)


class _Borrowed(io.RawIOBase):
    """Standard input's bytes behind a buffer of our own, so that closing the reader leaves ``sys.stdin`` open."""

    def __init__(self, source):
        self.source = source

    def readable(self) -> bool:  # noqa: D102
        return True

    def readinto(self, buffer) -> int:  # noqa: D102
        data = self.source.read1(len(buffer))  # what the pipe holds now: records stream as they arrive
        buffer[:len(data)] = data
        return len(data)


def open_text(path: Path | str, errors: str = "strict") -> io.TextIOBase:
    """Open a plain or gzip-compressed text file (UTF-8, BOM removed, any line ending) for reading.

    ``-`` reads standard input (gzip detected from its first bytes too). ``errors="surrogateescape"`` lets the
    caller find the line of a byte that is not UTF-8 (see :func:`iter_fasta`) instead of failing on the block of
    text that holds it.

    Raises:
        InputError: when the path does not exist or is a directory.
    """
    if str(path) == STDIO:
        raw = io.BufferedReader(_Borrowed(sys.stdin.buffer))
        source = gzip.GzipFile(fileobj=raw, mode="rb") if raw.peek(2)[:2] == GZIP_MAGIC else raw
        return io.TextIOWrapper(source, encoding="utf-8-sig", errors=errors, newline=None)
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    with path.open("rb") as fh:
        magic = fh.read(2)
    raw = gzip.open(path, "rb") if magic == GZIP_MAGIC else path.open("rb")
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors=errors, newline=None)


def iter_fasta(path: Path | str) -> Iterator[FastaRecord]:
    """Yield the records of a FASTA or FASTQ file one at a time (memory stays flat for any file size).

    The format comes from the first line that is not blank (``>`` FASTA, ``@`` FASTQ), gzip from the first
    bytes; ``-`` reads standard input. The id is the first word of the header, the description the whole
    header. FASTA: blank lines are allowed; whitespace inside sequence lines is removed. FASTQ: four lines a
    record (header, sequence, ``+``, qualities; blank lines between records allowed; the text after ``+`` is
    not read); a quality line of another length than the sequence keeps the record, with that ``problem``.
    Any character is passed on (the alphabet decides what is valid), so an odd letter costs one record, never
    the file.

    Duplicate ids are not checked here (that needs memory in the number of records); see :func:`read_fasta`.

    Raises:
        InputError: for a file that is neither FASTA nor FASTQ, not UTF-8 (naming the line and record), a
            truncated or corrupt gzip stream (naming the last record read), a record without id, or a FASTQ
            record whose third line does not start with ``+`` (the records after it cannot be found).
    """
    reader = _Reader(display_name(path))
    with open_text(path, errors="surrogateescape") as handle:
        try:
            first = reader.first_line(handle)
            yield from (reader.fasta if first[0] == ">" else reader.fastq)(handle, first)
        except (EOFError, OSError, zlib.error) as err:
            raise InputError(f"{reader.name}: truncated or corrupt gzip stream {reader.where()}: "
                             f"unreadable ({type(err).__name__}: {err})") from err


class _Reader:
    """FASTA and FASTQ parsing with the line count and last id that error messages name.

    The hot loops only collect lines; the checks run once per record, the UTF-8 check only for a record that is
    not all ASCII (:meth:`_check_text`).
    """

    def __init__(self, name: str):
        self.name, self.line, self.count = name, 0, 0
        self.last_id: str | None = None

    def where(self) -> str:
        return f"after record {self.last_id!r}" if self.last_id is not None else "before the first record"

    def first_line(self, handle) -> str:
        """The first line that is not blank; it must start a FASTA or a FASTQ record."""
        for line in handle:
            if not line.isspace():
                self._check_text([line], None)
                if line[0] in ">@":
                    return line
                raise InputError(f"{self.name}: not FASTA or FASTQ: expected '>' or '@' at the start, "
                                 f"got {line[:30]!r}")
            self.line += 1
        raise InputError(f"{self.name}: empty file, expected FASTA or FASTQ records")

    def fasta(self, handle, first: str) -> Iterator[FastaRecord]:  # noqa: D102
        header, lines = first, []
        for line in handle:
            if line[0] == ">":
                yield self._fasta_record(header, lines)
                header, lines = line, []
            else:
                lines.append(line)
        yield self._fasta_record(header, lines)

    def fastq(self, handle, first: str) -> Iterator[FastaRecord]:  # noqa: D102
        header = first
        while True:
            yield self._fastq_record(header, next(handle, ""), next(handle, ""), next(handle, ""))  # "": the end
            header = next(handle, "")
            while header.isspace():  # blank lines between records
                self.line, header = self.line + 1, next(handle, "")
            if not header:
                return
            if header[0] != "@":
                raise InputError(f"{self.name}: line {self.line + 1}: not FASTQ: expected '@' at the start of the "
                                 f"record {self.where()}, got {header[:30]!r}")

    def _start(self, line: str) -> tuple[str, str]:
        """``(id, description)`` of the header line of the next record."""
        self.count += 1
        header = line[1:].strip()
        words = header.split(None, 1)
        if not words:
            raise InputError(f"{self.name}: record {self.count}: header has no id")
        return words[0], header

    def _fasta_record(self, line: str, lines: list[str]) -> FastaRecord:
        rid, header = self._start(line)
        sequence = "".join("".join(lines).split())
        if not (line.isascii() and sequence.isascii()):  # whitespace is ASCII: the removed part needs no check
            self._check_text([line, *lines], rid)
        self.line, self.last_id = self.line + 1 + len(lines), rid
        return FastaRecord(rid, sequence, header)

    def _fastq_record(self, line: str, seq: str, plus: str, qual: str) -> FastaRecord:
        """The record of a header ``line`` and the three lines after it ("" past the end of the file)."""
        rid, header = self._start(line)
        if not (line.isascii() and seq.isascii() and plus.isascii() and qual.isascii()):
            self._check_text([line, seq, plus, qual], rid)
        sequence, quality = seq.strip(), qual.strip()
        if not qual:
            problem = "incomplete FASTQ record: the file ends before its quality line"
        elif plus[0] != "+":
            raise InputError(f"{self.name}: line {self.line + 3} (record {rid!r}): not FASTQ: expected a '+' "
                             f"line after the sequence, got {plus[:30]!r}")
        elif len(quality) != len(sequence):
            problem = f"FASTQ quality line has {len(quality)} characters for {len(sequence)} bases"
        else:
            problem = ""
        self.line, self.last_id = self.line + 1 + bool(seq) + bool(plus) + bool(qual), rid
        return FastaRecord(rid, sequence, header, problem)

    def _check_text(self, lines: list[str], rid: str | None) -> None:
        """Raise for the first line holding a byte that is not UTF-8 (escaped as a lone surrogate by open_text).

        ``lines`` are a record's lines from its header on (``rid`` its id), starting at line ``self.line + 1``.
        """
        for i, line in enumerate(lines):
            try:
                line.encode("utf-8")
            except UnicodeEncodeError as err:
                byte = ord(line[err.start]) - 0xDC00
                where = f"header {self.where()}" if i == 0 else f"record {rid!r}"
                raise InputError(f"{self.name}: line {self.line + 1 + i} ({where}): not UTF-8 text, unreadable "
                                 f"(UnicodeDecodeError: byte 0x{byte:02x} is not valid UTF-8)") from None


def read_fasta(path: Path | str, keep_problems: bool = False) -> list[FastaRecord]:
    """Read a whole FASTA or FASTQ file; reject duplicate ids and (unless ``keep_problems``) records with a problem.

    Raises:
        InputError: as :func:`iter_fasta`, when an id occurs twice, or for a record with a ``problem`` (a FASTQ
            quality line of the wrong length) when ``keep_problems`` is False.
    """
    records, seen = [], set()
    for rec in iter_fasta(path):
        if rec.id in seen:
            raise InputError(f"{display_name(path)}: record {rec.id!r}: duplicate id")
        if rec.problem and not keep_problems:
            raise InputError(f"{display_name(path)}: record {rec.id!r}: {rec.problem}")
        seen.add(rec.id)
        records.append(rec)
    return records


def read_table(path: Path | str, required: tuple[str, ...] = (), id_column: str = "id") -> pd.DataFrame:
    """Read a tab-separated table (plain or gzip) with every column as text; missing values become ``""``.

    Raises:
        InputError: when the file is not a TSV table, a required column is missing, ids are empty or
            duplicated, or a cell holds a line break (a stray double quote joins the lines up to the next one).
    """
    import pandas as pd

    path = Path(path)
    with open_text(path) as handle:
        try:
            table = pd.read_csv(handle, sep="\t", dtype=str, keep_default_na=False, na_filter=False)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise InputError(f"{path}: not a readable TSV table ({err})") from err
        except (EOFError, OSError, zlib.error) as err:
            raise InputError(f"{path}: truncated or corrupt gzip stream: unreadable "
                             f"({type(err).__name__}: {err})") from err
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
    _check_line_breaks(table, path, id_column)
    return table


def _check_line_breaks(table: pd.DataFrame, path: Path, id_column: str) -> None:
    """A quoted cell may span lines; in a TSV of ids and labels that means a stray quote ate later rows."""
    for column in table.columns:
        broken = table[column].str.contains("[\r\n]", regex=True).to_numpy()
        if broken.any():
            rid = table[id_column].iloc[int(broken.argmax())]
            raise InputError(f"{path}: record {rid!r}: column {column!r} holds a line break "
                             "(an unbalanced double quote?)")


@contextlib.contextmanager
def atomic_write(path: Path | str, mode: str = "w", gzip_level: int | None = None):
    r"""Open a temporary file beside ``path`` and move it into place only when the block succeeds.

    The one writer of every output of the package. Readers never see a half-written output, and a failed
    run leaves no file that looks complete. ``mode`` ``"w"`` gives a UTF-8 text handle (``"\n"`` written as
    is), ``"wb"`` a binary one (for ``torch.save`` or PNG bytes). ``gzip_level`` writes gzip (``mtime=0``, so
    equal content gives equal bytes). The file gets the permissions of a plain ``open(path, "w")``
    (``0o666`` minus the umask), not the ``0o600`` of a temporary file. A ``path`` that exists and is not a
    regular file (``/dev/null``, a named pipe, ``/dev/stdout``) is written in place: renaming a temporary file
    over it would replace the device or pipe with a plain file.

    Args:
        path: the file to write; missing parent directories are created.
        mode: ``"w"`` (text) or ``"wb"`` (bytes).
        gzip_level: gzip compression level 0-9, or None for an uncompressed file.

    Raises:
        InputError: when ``path`` is a directory (checked first, so no work is lost at the end).
        ValueError: for a ``mode`` other than ``"w"`` or ``"wb"``.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "out" / "table.bin"
        >>> with atomic_write(path, "wb") as handle:
        ...     _ = handle.write(b"ok")
        >>> path.read_bytes(), oct(path.stat().st_mode & 0o777) == oct(default_file_mode())
        (b'ok', True)
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"Expected argument `mode` to be 'w' or 'wb', but got {mode!r}")
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file name to write")
    if path.exists() and not path.is_file():  # a device or a pipe: no temporary file, no rename
        with contextlib.ExitStack() as stack:
            with _open(path, mode, gzip_level, stack) as handle:
                yield handle
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, default_file_mode())
    try:
        with contextlib.ExitStack() as stack:
            with _open(tmp, mode, gzip_level, stack) as handle:
                yield handle
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _open(path: Path | str, mode: str, gzip_level: int | None, stack: contextlib.ExitStack):
    r"""The handle :func:`atomic_write` yields: text (UTF-8, ``\n`` as is) or bytes, optionally gzip."""
    if gzip_level is None:
        return open(path, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""}))
    # filename="": no random temporary name in the gzip header; equal content, equal bytes.
    fileobj = stack.enter_context(open(path, "wb"))
    raw = gzip.GzipFile(filename="", mode="wb", compresslevel=gzip_level, fileobj=fileobj, mtime=0)
    return io.TextIOWrapper(raw, encoding="utf-8", newline="") if "b" not in mode else raw


def default_file_mode() -> int:
    """Permission bits of a new file: ``0o666`` minus the process umask (``0o644`` for the usual ``022``)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_fasta(path: Path | str, records: Iterable[tuple[str, str]]) -> int:
    r"""Write ``(header, sequence)`` pairs as FASTA atomically, each sequence on one line; return the count.

    ``header`` is the whole line after ``>`` (an id, optionally followed by a description or a tool's own
    syntax, e.g. SINTAX's ``r0;tax=s:label``), written as it is. One line per sequence is what every tool
    called here reads, and it keeps the file a pair of lines per record.

    Args:
        path: the FASTA file to write (plain text).
        records: ``(header, sequence)`` pairs, consumed once (a generator is fine).

    Returns:
        The number of records written.

    Raises:
        ValueError: if a header or a sequence holds a line break (it would start a new line of the file).

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "q.fasta"
        >>> write_fasta(path, [("q0 first", "ACGT"), ("q1", "GG")]), path.read_text()
        (2, '>q0 first\nACGT\n>q1\nGG\n')
    """
    n = 0
    with atomic_write(path) as handle:
        for header, sequence in records:
            if "\n" in header or "\r" in header or "\n" in sequence or "\r" in sequence:
                raise ValueError(f"Expected FASTA record {n} to hold no line break, but got header {header!r}")
            handle.write(f">{header}\n{sequence}\n")
            n += 1
    return n


def write_table(table: pd.DataFrame, path: Path | str) -> None:
    """Write a DataFrame as TSV atomically (gzip when the name ends in ``.gz``)."""
    level = 6 if str(path).endswith(".gz") else None
    with atomic_write(path, gzip_level=level) as handle:
        table.to_csv(handle, sep="\t", index=False, lineterminator="\n")
