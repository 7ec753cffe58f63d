"""Reading sequences and label tables into typed records, and writing outputs (text, bytes, FASTA) atomically.

FASTA (plain or gzip, detected from the file's magic bytes, not its name) is parsed line by line; any
character is kept, so that the alphabet can reject one record instead of the parser the whole file. Tables
(TSV, plain or gzip) are read by pandas with every column as text, so that a label such as ``NA`` or ``1e5``
stays a string. Problems are reported as :class:`~seqxent.errors.InputError` naming the
file, the record and the problem.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import os
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


def open_text(path: Path | str, errors: str = "strict") -> io.TextIOBase:
    """Open a plain or gzip-compressed text file (UTF-8, BOM removed, any line ending) for reading.

    ``errors="surrogateescape"`` lets the caller find the line of a byte that is not UTF-8 (see
    :func:`iter_fasta`) instead of failing on the block of text that holds it.

    Raises:
        InputError: when the path does not exist or is a directory.
    """
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
    """Yield the records of a FASTA file one at a time (memory stays flat for any file size).

    Blank lines before the first header are allowed. The id is the first word of the header; whitespace inside
    sequence lines is removed. Any character is passed on (the alphabet decides what is valid), so an odd
    letter costs one record, never the file.

    Duplicate ids are not checked here (that needs memory in the number of records); see :func:`read_fasta`.

    Raises:
        InputError: for a file that is not FASTA, not UTF-8 (naming the line and record), a truncated or corrupt
            gzip stream (naming the last record read), or a record without id.
    """
    path = Path(path)
    with open_text(path, errors="surrogateescape") as handle:
        state = _FastaState(path)
        try:
            for line in handle:
                record = state.feed(line)
                if record is not None:
                    yield record
        except (EOFError, OSError, zlib.error) as err:
            raise InputError(f"{path}: truncated or corrupt gzip stream {state.where()}: "
                             f"unreadable ({type(err).__name__}: {err})") from err
        yield state.finish()


class _FastaState:
    """Line-by-line FASTA parser state: the current header and sequence lines, for exact error positions."""

    def __init__(self, path: Path):
        self.path, self.line, self.count = path, 0, 0
        self.header: str | None = None
        self.last_id: str | None = None
        self.chunks: list[str] = []

    def where(self) -> str:
        return f"after record {self.last_id!r}" if self.last_id is not None else "before the first record"

    def feed(self, line: str) -> FastaRecord | None:
        """Take one line; return the previous record when this line starts a new one."""
        self.line += 1
        try:
            line.encode("utf-8")
        except UnicodeEncodeError as err:  # a lone surrogate: an undecodable byte, escaped by open_text
            byte = ord(line[err.start]) - 0xDC00
            where = f"record {self.last_id!r}" if self.header is not None and not line.startswith(">") else \
                f"header {self.where()}"
            raise InputError(f"{self.path}: line {self.line} ({where}): not UTF-8 text, unreadable "
                             f"(UnicodeDecodeError: byte 0x{byte:02x} is not valid UTF-8)") from None
        if line.startswith(">"):
            record = self._emit() if self.header is not None else None
            self.header, self.chunks = line[1:].strip(), []
            self.count += 1
            words = self.header.split(None, 1)
            if not words:
                raise InputError(f"{self.path}: record {self.count}: header has no id")
            self.last_id = words[0]
            return record
        if self.header is not None:
            self.chunks.append("".join(line.split()))
        elif line.strip():
            raise InputError(f"{self.path}: not FASTA: expected '>' at the start, got {line[:30]!r}")
        return None

    def finish(self) -> FastaRecord:
        if self.header is None:
            raise InputError(f"{self.path}: empty file, expected FASTA records")
        return self._emit()

    def _emit(self) -> FastaRecord:
        return FastaRecord(self.last_id, "".join(self.chunks), self.header)


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
    (``0o666`` minus the umask), not the ``0o600`` of a temporary file.

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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, default_file_mode())
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
