"""Tests of seqxent.data.io: FASTA, FASTQ and table readers on small hand-written files, and atomic writes."""

import gzip
import io
import os
import sys

import pandas as pd
import pytest

from seqxent.data.io import (
    FastaRecord,
    atomic_write,
    default_file_mode,
    iter_fasta,
    open_text,
    read_fasta,
    read_table,
    write_fasta,
    write_table,
)
from seqxent.errors import InputError

FASTA = ">s1 first record\nACGT\nAC\n>s2\nGGG\n"
EXPECTED = [FastaRecord("s1", "ACGTAC", "s1 first record"), FastaRecord("s2", "GGG", "s2")]


def _write(path, data: bytes | str):
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_read_fasta_plain(tmp_path):
    assert read_fasta(_write(tmp_path / "a.fasta", FASTA)) == EXPECTED


def test_read_fasta_gzip(tmp_path):
    path = _write(tmp_path / "a.fa.gz", gzip.compress(FASTA.encode()))
    assert read_fasta(path) == EXPECTED


def test_gzip_detected_by_magic_bytes_not_name(tmp_path):
    # A gzip file without .gz, and a plain file named .gz, are both read.
    assert read_fasta(_write(tmp_path / "a.fasta", gzip.compress(FASTA.encode()))) == EXPECTED
    assert read_fasta(_write(tmp_path / "b.fasta.gz", FASTA)) == EXPECTED


def test_iter_fasta_is_lazy_generator(tmp_path):
    records = iter_fasta(_write(tmp_path / "a.fasta", FASTA))
    assert next(records) == EXPECTED[0]
    assert list(records) == EXPECTED[1:]


@pytest.mark.parametrize(("name", "text"), [
    ("blank_lines_before_header", "\n\n  \n" + FASTA),
    ("crlf", FASTA.replace("\n", "\r\n")),
    ("old_mac_cr", FASTA.replace("\n", "\r")),
    ("no_final_newline", FASTA.rstrip("\n")),
    ("blank_lines_between_records", FASTA.replace(">s2", "\n\n>s2")),
])
def test_fasta_layout_variants(tmp_path, name, text):
    assert read_fasta(_write(tmp_path / f"{name}.fasta", text)) == EXPECTED


@pytest.mark.parametrize("compress", [False, True])
def test_utf8_bom_is_removed(tmp_path, compress):
    data = b"\xef\xbb\xbf" + FASTA.encode()
    path = _write(tmp_path / "bom.fasta", gzip.compress(data) if compress else data)
    assert read_fasta(path) == EXPECTED


def test_record_without_sequence_is_kept_empty(tmp_path):
    records = read_fasta(_write(tmp_path / "a.fasta", ">empty\n>s2\nGGG\n"))
    assert [(r.id, r.sequence) for r in records] == [("empty", ""), ("s2", "GGG")]


# Bad FASTA input: one error naming the file, the record or line, and the problem.
BAD_FASTA = [
    ("dup.fasta", ">s1\nA\n>seq7\nC\n>seq7 again\nG\n", "record 'seq7': duplicate id"),
    ("empty.fasta.gz", gzip.compress(b""), "empty file, expected FASTA or FASTQ records"),
    ("raw.txt", "ACGT\n>s1\nA\n", "not FASTA or FASTQ: expected '>' or '@' at the start, got 'ACGT\\n'"),
    ("noid.fasta", ">s1\nA\n>\nC\n", "record 2: header has no id"),
    ("cut.fasta.gz", gzip.compress(FASTA.encode())[:5], "truncated or corrupt gzip stream before the first record: "
     "unreadable (EOFError: Compressed file ended before the end-of-stream marker was reached)"),
    ("latin1.fasta", b">s1 caf\xe9\nACGT\n", "line 1 (header before the first record): not UTF-8 text, unreadable "
     "(UnicodeDecodeError: byte 0xe9 is not valid UTF-8)"),
]


def test_iter_fasta_does_not_check_duplicates(tmp_path):
    path = _write(tmp_path / "dup.fasta", ">a\nA\n>a\nC\n")
    assert [r.sequence for r in iter_fasta(path)] == ["A", "C"]


@pytest.mark.parametrize("text", ["", "\n\n   \n"])
def test_empty_file(tmp_path, text):
    path = _write(tmp_path / "empty.fasta", text)
    with pytest.raises(InputError) as info:
        read_fasta(path)
    assert str(info.value) == f"{path}: empty file, expected FASTA or FASTQ records"


def test_truncated_gzip(tmp_path):
    # Long enough that the first line decodes but the stream ends early.
    text = "".join(f">s{i}\n{'ACGT' * 50}\n" for i in range(200))
    data = gzip.compress(text.encode())
    path = _write(tmp_path / "cut.fasta.gz", data[: len(data) // 2])
    with pytest.raises(InputError, match=r"unreadable \(EOFError"):
        read_fasta(path)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.fasta"
    with pytest.raises(InputError) as info:
        read_fasta(path)
    assert str(info.value) == f"{path}: no such file"


def test_open_text_universal_newlines(tmp_path):
    path = _write(tmp_path / "t.txt", "a\r\nb\rc\n")
    with open_text(path) as handle:
        assert handle.read() == "a\nb\nc\n"


# --- FASTQ and standard input --------------------------------------------------------------------------------

FASTQ = "@s1 first record\nACGTAC\n+\nIIIII#\n@s2\nGGG\n+s2\n@@I\n"  # '@' may open a quality line


def test_fastq_is_read_like_fasta(tmp_path):
    assert read_fasta(_write(tmp_path / "a.fastq", FASTQ)) == EXPECTED


@pytest.mark.parametrize(("name", "data"), [
    ("fastq_named_fasta.fasta", FASTQ),  # the content decides, not the name
    ("gzip.fq.gz", gzip.compress(FASTQ.encode())),
    ("crlf.fastq", FASTQ.replace("\n", "\r\n")),
    ("bom_and_blank_lines.fastq", "\ufeff\n\n" + FASTQ.replace("@s2", "\n\n@s2") + "\n\n"),
    ("no_final_newline.fastq", FASTQ.rstrip("\n")),
])
def test_fastq_layout_variants(tmp_path, name, data):
    assert read_fasta(_write(tmp_path / name, data)) == EXPECTED


@pytest.mark.parametrize(("text", "problem"), [
    ("@s1\nACGTACGT\n+\nIIIII\n", "FASTQ quality line has 5 characters for 8 bases"),
    ("@s1\nACGT\n+\nIIIIII\n", "FASTQ quality line has 6 characters for 4 bases"),
    ("@s1\nACGT\n+\n", "incomplete FASTQ record: the file ends before its quality line"),
    ("@s1\nACGT\n", "incomplete FASTQ record: the file ends before its quality line"),
    ("@s1\n", "incomplete FASTQ record: the file ends before its quality line"),
])
def test_fastq_bad_quality_keeps_the_record_with_its_problem(tmp_path, text, problem):
    path = _write(tmp_path / "bad.fastq", "@s0\nAC\n+\nII\n" + text)
    records = list(iter_fasta(path))
    assert [(r.id, r.problem) for r in records] == [("s0", ""), ("s1", problem)]
    with pytest.raises(InputError) as info:
        read_fasta(path)
    assert str(info.value) == f"{path}: record 's1': {problem}"


def test_fastq_bad_record_in_the_middle_costs_that_record_only(tmp_path):
    path = _write(tmp_path / "mid.fastq", "@a\nAC\n+\nII\n@b x\nACGT\n+\nII\n@c\nGG\n+\nII\n")
    problem = "FASTQ quality line has 2 characters for 4 bases"
    assert list(iter_fasta(path)) == [FastaRecord("a", "AC", "a"), FastaRecord("b", "ACGT", "b x", problem),
                                      FastaRecord("c", "GG", "c")]


@pytest.mark.parametrize(("text", "message"), [
    ("@a\nAC\n+\nII\n@b\nACGT\nIIII\n@c\nGG\n+\nII\n",
     "line 7 (record 'b'): not FASTQ: expected a '+' line after the sequence, got 'IIII\\n'"),
    ("@a\nAC\n+\nII\n\nACGT\n", "line 6: not FASTQ: expected '@' at the start of the record after record 'a', "
     "got 'ACGT\\n'"),
    ("@a\nAC\n+\nII\n@\nAC\n+\nII\n", "record 2: header has no id"),
    (b"@a\nAC\n+\nII\n@b\nA\xffC\n+\nIII\n", "line 6 (record 'b'): not UTF-8 text, unreadable "
     "(UnicodeDecodeError: byte 0xff is not valid UTF-8)"),
])
def test_fastq_structural_errors_name_line_and_record(tmp_path, text, message):
    path = _write(tmp_path / "bad.fastq", text)
    with pytest.raises(InputError) as info:
        list(iter_fasta(path))
    assert str(info.value) == f"{path}: {message}"


@pytest.mark.parametrize("data", [FASTA.encode(), gzip.compress(FASTA.encode()), FASTQ.encode(),
                                  gzip.compress(FASTQ.encode())])
def test_dash_reads_standard_input(monkeypatch, data):
    stdin = io.TextIOWrapper(io.BytesIO(data))
    monkeypatch.setattr(sys, "stdin", stdin)
    assert read_fasta("-") == EXPECTED
    assert not stdin.closed  # the reader leaves standard input open


def test_standard_input_errors_name_stdin(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b">a\nA\n>\nC\n")))
    with pytest.raises(InputError) as info:
        read_fasta("-")
    assert str(info.value) == "<stdin>: record 2: header has no id"


# --- read_table -------------------------------------------------------------------------------------------


def test_read_table_keeps_text_values(tmp_path):
    path = _write(tmp_path / "t.tsv", "id\tlabel\tnum\nr1\tNA\t1e5\nr2\t\t007\nr3\tnan\tNULL\n")
    table = read_table(path, required=("label",))
    assert table["id"].tolist() == ["r1", "r2", "r3"]
    assert table["label"].tolist() == ["NA", "", "nan"]
    assert table["num"].tolist() == ["1e5", "007", "NULL"]


def test_read_table_gzip_and_strips_ids(tmp_path):
    path = _write(tmp_path / "t.tsv.gz", gzip.compress(b"id\tlabel\n r1 \tx\nr2\ty\n"))
    table = read_table(path)
    assert table["id"].tolist() == ["r1", "r2"]
    assert table["label"].tolist() == ["x", "y"]


def test_read_table_custom_id_column(tmp_path):
    path = _write(tmp_path / "t.tsv", "acc\tspecies\nA1\tOsmia rufa\n")
    assert read_table(path, id_column="acc")["species"].tolist() == ["Osmia rufa"]


def test_read_table_missing_column_lists_columns(tmp_path):
    path = _write(tmp_path / "t.tsv", "id\tlabel\nr1\tx\n")
    with pytest.raises(InputError) as info:
        read_table(path, required=("species", "label", "group"))
    assert str(info.value) == (f"{path}: missing column(s) ['species', 'group']; "
                               "the table has ['id', 'label']")


# Bad tables: likewise.
BAD_TABLES = [
    ("noid.tsv", "name\tlabel\nr1\tx\n", "missing column(s) ['id']; the table has ['name', 'label']"),
    ("dup.tsv", "id\tlabel\nr1\tx\nr2\ty\nr1\tz\n", "record 'r1': duplicate id in column 'id'"),
    ("strip.tsv", "id\tlabel\nr1\tx\nr1 \ty\n", "record 'r1': duplicate id in column 'id'"),  # ids are stripped
    ("blank.tsv", "id\tlabel\nr1\tx\n\ty\n", "line 3: empty value in id column 'id'"),
    ("spaces.tsv", "id\tlabel\nr1\tx\n  \ty\n", "line 3: empty value in id column 'id'"),
    ("empty.tsv", "", "not a readable TSV table (No columns to parse from file)"),
]


@pytest.mark.parametrize(
    ("reader", "name", "data", "message"),
    [(read_fasta, *case) for case in BAD_FASTA] + [(read_table, *case) for case in BAD_TABLES],
    ids=[case[0] for case in BAD_FASTA + BAD_TABLES],
)
def test_bad_input_is_one_error_naming_the_problem(tmp_path, reader, name, data, message):
    path = _write(tmp_path / name, data)
    with pytest.raises(InputError) as info:
        reader(path)
    assert str(info.value) == f"{path}: {message}"


@pytest.mark.parametrize(("name", "text"), [
    ("every_row_too_long", "id\tlabel\nr1\tx\tEXTRA\tMORE\n"),  # pandas would shift the columns silently
    ("one_row_too_long", "id\tlabel\nr1\tx\nr2\ty\tEXTRA\n"),
])
def test_read_table_rows_longer_than_header(tmp_path, name, text):
    path = _write(tmp_path / f"{name}.tsv", text)
    with pytest.raises(InputError, match="not a readable TSV table"):
        read_table(path)


def test_read_table_header_only(tmp_path):
    table = read_table(_write(tmp_path / "t.tsv", "id\tlabel\n"))
    assert list(table.columns) == ["id", "label"]
    assert len(table) == 0


# --- atomic_write / write_table ---------------------------------------------------------------------------


def test_atomic_write_text(tmp_path):
    path = tmp_path / "sub" / "out.txt"
    with atomic_write(path) as handle:
        handle.write("a\nb\n")
        assert not path.exists()  # invisible until the block succeeds
    assert path.read_bytes() == b"a\nb\n"
    assert os.listdir(path.parent) == ["out.txt"]


def test_atomic_write_leaves_no_file_when_block_raises(tmp_path):
    path = tmp_path / "out.txt"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_write(path) as handle:
            handle.write("partial")
            raise RuntimeError("boom")
    assert os.listdir(tmp_path) == []


def test_atomic_write_keeps_old_file_when_block_raises(tmp_path):
    path = _write(tmp_path / "out.txt", "old\n")
    with pytest.raises(RuntimeError):
        with atomic_write(path, gzip_level=6) as handle:
            handle.write("new")
            raise RuntimeError("boom")
    assert path.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_write_binary(tmp_path):
    path = tmp_path / "out.bin"
    with atomic_write(path, "wb") as handle:
        handle.write(b"\x00\x01")
    assert path.read_bytes() == b"\x00\x01"


def test_atomic_write_gzip_byte_identical_for_equal_content(tmp_path):
    blobs = []
    for name in ("a.tsv.gz", "b.tsv.gz", "a.tsv.gz"):
        with atomic_write(tmp_path / name, gzip_level=6) as handle:
            handle.write("id\tlabel\nr1\tx\n")
        blobs.append((tmp_path / name).read_bytes())
    assert blobs[0] == blobs[1] == blobs[2]
    assert gzip.decompress(blobs[0]) == b"id\tlabel\nr1\tx\n"


def test_write_table_round_trip(tmp_path):
    table = pd.DataFrame({"id": ["r1", "r2"], "label": ["NA", ""], "n": ["1", "2"]})
    for name in ("t.tsv", "t.tsv.gz"):
        write_table(table, tmp_path / name)
        pd.testing.assert_frame_equal(read_table(tmp_path / name), table, check_dtype=False)
    assert (tmp_path / "t.tsv").read_bytes() == b"id\tlabel\tn\nr1\tNA\t1\nr2\t\t2\n"
    assert (tmp_path / "t.tsv.gz").read_bytes()[:2] == b"\x1f\x8b"


def test_atomic_write_rejects_other_modes(tmp_path):
    with pytest.raises(ValueError, match="Expected argument `mode` to be 'w' or 'wb', but got 'a'"):
        with atomic_write(tmp_path / "out.txt", "a"):
            pass
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("mode", ["w", "wb"])
def test_atomic_write_gives_ordinary_permissions(tmp_path, mode):
    with atomic_write(tmp_path / "out", mode) as handle:
        handle.write("x" if mode == "w" else b"x")
    assert (tmp_path / "out").stat().st_mode & 0o777 == default_file_mode()  # not mkstemp's 0o600


# --- write_fasta ------------------------------------------------------------------------------------------


def test_write_fasta_exact_bytes_and_count(tmp_path):
    path = tmp_path / "sub" / "q.fasta"
    records = ((f"r{i};tax=s:a%20b", seq) for i, seq in enumerate(["ACGT", "", "acgN"]))  # a generator
    assert write_fasta(path, records) == 3
    assert path.read_bytes() == b">r0;tax=s:a%20b\nACGT\n>r1;tax=s:a%20b\n\n>r2;tax=s:a%20b\nacgN\n"
    assert path.stat().st_mode & 0o777 == default_file_mode()
    assert read_fasta(path)[2] == FastaRecord("r2;tax=s:a%20b", "acgN", "r2;tax=s:a%20b")


def test_write_fasta_keeps_tabs_in_headers(tmp_path):
    write_fasta(tmp_path / "t.fa", [("r0\tRoot;x", "AC")])
    assert (tmp_path / "t.fa").read_text() == ">r0\tRoot;x\nAC\n"


def test_write_fasta_no_records_gives_an_empty_file(tmp_path):
    assert write_fasta(tmp_path / "e.fa", []) == 0
    assert (tmp_path / "e.fa").read_bytes() == b""


@pytest.mark.parametrize("record", [("a\nb", "AC"), ("a", "AC\rGT")], ids=["header", "sequence"])
def test_write_fasta_rejects_line_breaks_and_writes_nothing(tmp_path, record):
    with pytest.raises(ValueError, match="Expected FASTA record 1 to hold no line break"):
        write_fasta(tmp_path / "x.fa", [("ok", "A"), record])
    assert os.listdir(tmp_path) == []


def test_atomic_write_to_a_device_or_pipe_writes_in_place(tmp_path):
    """`--output /dev/null` or a named pipe: written through, never replaced by a renamed temporary file."""
    import stat
    import threading

    with atomic_write("/dev/null") as handle:
        handle.write("thrown away\n")
    assert stat.S_ISCHR(os.stat("/dev/null").st_mode)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_text()))
    reader.start()
    with atomic_write(fifo) as handle:
        handle.write("through the pipe\n")
    reader.join(timeout=10)
    assert got == ["through the pipe\n"] and stat.S_ISFIFO(os.stat(fifo).st_mode)
    assert [p.name for p in tmp_path.iterdir()] == ["pipe"]  # no temporary file left beside it
