"""Sharded prediction: split a FASTA or FASTQ file into N contiguous shards, merge the per-shard outputs in order.

Shard ``i`` of ``N`` holds records ``[i·n // N, (i + 1)·n // N)`` of the ``n`` input records, so shards are
contiguous, in input order, and never empty when ``n >= N``. Every shard is predicted as its own job and
the outputs are merged by concatenation (one TSV header, one JSON array), which gives the output of a single
run on the whole file. :func:`check_ids` then checks that the merged output lists every input id once, in
input order. Each shard job reads the input on its own (a count, then its own slice), so shards can be
written in parallel on a cluster.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice, zip_longest
from pathlib import Path
from typing import TextIO

from seqxent.data.io import STDIO, atomic_write, iter_fasta, write_fasta
from seqxent.errors import InputError

#: Formats :func:`merge_outputs` can merge (those of ``seqxent predict``).
MERGE_FORMATS = ("tsv", "json", "ss2", "horiz", "sintax", "qiime", "rdp")
#: Formats whose first line is a header row (kept once when merging).
_HEADED = ("tsv", "qiime")


@dataclass(frozen=True)
class Shard:
    """Records ``[start, stop)`` of an input of ``n_records`` records, as shard ``index`` of ``n_shards``."""

    index: int
    n_shards: int
    start: int
    stop: int
    n_records: int


def shard_bounds(n_records: int, n_shards: int, index: int) -> Shard:
    """Which records shard ``index`` of ``n_shards`` holds.

    Raises:
        InputError: for fewer than 1 shard, an index outside ``[0, n_shards)``, or fewer records than shards
            (a shard would be empty).

    Example:
        >>> [(s.start, s.stop) for s in (shard_bounds(10, 3, i) for i in range(3))]
        [(0, 3), (3, 6), (6, 10)]
    """
    if n_shards < 1:
        raise InputError(f"Expected argument `shards` to be an integer ≥ 1, but got {n_shards}")
    if not 0 <= index < n_shards:
        raise InputError(f"Expected argument `index` to be in [0, {n_shards - 1}], but got {index}")
    if n_records < n_shards:
        raise InputError(f"Expected at least as many records as shards ({n_shards}), but the input has "
                         f"{n_records}; lower `shards`")
    return Shard(index, n_shards, index * n_records // n_shards, (index + 1) * n_records // n_shards, n_records)


def count_records(path: Path | str) -> int:
    """Number of FASTA or FASTQ records, read as a stream."""
    return sum(1 for _ in iter_fasta(path))


def write_shard(path: Path | str, n_shards: int, index: int, output: Path | str) -> Shard:
    """Write shard ``index`` of ``n_shards`` of a FASTA or FASTQ file (plain or gzip) as plain FASTA (atomically).

    Records keep their full header line; sequences are written on one line (FASTQ qualities are dropped: no
    prediction reads them).

    Raises:
        InputError: for standard input (``-``: a shard reads its input twice), or as :func:`shard_bounds`.
    """
    if str(path) == STDIO:
        raise InputError("Expected argument `input` to be a file (a shard reads it twice), but got '-'")
    shard = shard_bounds(count_records(path), n_shards, index)
    records = islice(iter_fasta(path), shard.start, shard.stop)
    write_fasta(output, ((rec.description or rec.id, rec.sequence) for rec in records))
    return shard


def _json_objects(handle: TextIO) -> Iterator[str]:
    """The object lines of a JSON array written by :class:`~seqxent.predict.formats.JsonWriter` (one per line)."""
    for line in handle:
        line = line.rstrip("\n").rstrip(",")
        if line not in ("[", "]", ""):
            yield line


def merge_outputs(parts: list[Path], output: Path | str, fmt: str) -> None:
    """Concatenate per-shard prediction files, in the given order, into ``output`` (atomically).

    TSV and QIIME keep the first header (all must be equal); JSON joins the arrays into one; ss2, horiz and
    SINTAX lines are concatenated as they are.

    Raises:
        InputError: for no parts, an unknown format, or TSV parts with different headers.
    """
    if not parts:
        raise InputError("Expected argument `inputs` to name at least one prediction file, but got none")
    if fmt not in MERGE_FORMATS:
        raise InputError(f"Expected argument `format` to be one of {sorted(MERGE_FORMATS)}, but got {fmt!r}")
    with atomic_write(output) as out:
        (_merge_json if fmt == "json" else _merge_text)(parts, out, fmt)


def _merge_json(parts: list[Path], out: TextIO, fmt: str) -> None:
    out.write("[")
    separator = "\n"
    for part in parts:
        with open(part, encoding="utf-8", newline="") as handle:
            for obj in _json_objects(handle):
                out.write(separator + obj)
                separator = ",\n"
    out.write("\n]\n")


def _merge_text(parts: list[Path], out: TextIO, fmt: str) -> None:
    header = ""
    if fmt in _HEADED:
        with open(parts[0], encoding="utf-8", newline="") as handle:
            header = handle.readline()
    out.write(header)
    for part in parts:
        with open(part, encoding="utf-8", newline="") as handle:
            if fmt in _HEADED and (first := handle.readline()) != header:
                raise InputError(f"{part}: TSV header differs from that of {parts[0]}: {first.strip()!r}")
            out.writelines(handle)


def output_ids(path: Path | str, fmt: str) -> Iterator[str]:
    """Record ids of a prediction file in order, one per record (a residue TSV has a row per residue)."""
    with open(path, encoding="utf-8") as handle:
        if fmt == "json":
            yield from (json.loads(obj)["id"] for obj in _json_objects(handle))
        elif fmt in ("sintax", "rdp"):  # no header; SINTAX's query label is the whole header line, its first word
            # the id; RDP's first field is the id
            yield from (line.split("\t", 1)[0].split(None, 1)[0] for line in handle)
        elif fmt in _HEADED:
            columns = handle.readline().rstrip("\n").split("\t")
            per_residue = len(columns) > 1 and columns[1] == "pos"
            for line in handle:
                cells = line.split("\t", 2)
                if not per_residue or cells[1] in ("1", ""):  # a residue record starts at pos 1 (or is skipped)
                    yield cells[0]
        else:  # ss2 / horiz: "# PSIPRED ..." then "# <id>" opens each record
            lines = iter(handle)
            for line in lines:
                if line.startswith("# PSIPRED"):
                    yield next(lines)[2:].rstrip("\n")


def check_ids(fasta: Path | str, predictions: Path | str, fmt: str) -> int:
    """Check that ``predictions`` lists every record of ``fasta`` once, in input order; return the count.

    Raises:
        InputError: naming the first record that is missing, extra or out of order.
    """
    n = 0
    for n, (want, got) in enumerate(zip_longest((r.id for r in iter_fasta(fasta)), output_ids(predictions, fmt)),
                                    start=1):
        if want != got:
            raise InputError(f"{predictions}: record {n}: expected id {want!r} (from {fasta}), but got {got!r}")
    return n
