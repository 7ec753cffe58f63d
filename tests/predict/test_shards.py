"""Tests of seqxent.predict.shards and the shard / merge commands: contiguous shards, merged = unsharded output."""

import gzip
from pathlib import Path

import pytest
import torch

from seqxent.cli import main
from seqxent.data.alphabet import Alphabet
from seqxent.data.io import iter_fasta
from seqxent.errors import InputError
from seqxent.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from seqxent.model.networks import build_model
from seqxent.predict.formats import get_writer
from seqxent.predict.shards import check_ids, count_records, merge_outputs, output_ids, shard_bounds, write_shard
from seqxent.predict.stream import predict_fasta

# Multi-line and lower-case records, an empty one, an invalid one, and ids that would sort differently.
PROTEINS = (">z9 first protein\nMKTAYIAKQR\nqisfvkshfs\n>a1\nMKV\n>empty\n\n>m5 bad\nMK1V\n>b2\nACDEFGHIKLMNPQRSTVWY\n"
            ">c3\nMMMM\n>d4\nGGSGGS\n")
BARCODES = ">q2\nACGTACGTAC\n>q1\nacgtnnnn\n>q10\nACGU\n>gap\nAC--GT..AC\n>x\nACGTZ\n"
PROTEIN_IDS = ["z9", "a1", "empty", "m5", "b2", "c3", "d4"]


@pytest.mark.parametrize("n_records", [1, 2, 3, 7, 10, 13])
def test_shard_bounds_partition_the_records_in_order(n_records):
    for n_shards in range(1, n_records + 1):
        shards = [shard_bounds(n_records, n_shards, i) for i in range(n_shards)]
        covered = [r for s in shards for r in range(s.start, s.stop)]
        assert covered == list(range(n_records))  # every record once, in input order
        sizes = [s.stop - s.start for s in shards]
        assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1  # never empty, balanced


@pytest.mark.parametrize("n_records,n_shards,index,message", [
    (5, 0, 0, "Expected argument `shards` to be an integer ≥ 1, but got 0"),
    (5, 2, 2, r"Expected argument `index` to be in \[0, 1\], but got 2"),
    (5, 2, -1, r"Expected argument `index` to be in \[0, 1\], but got -1"),
    (3, 4, 0, r"Expected at least as many records as shards \(4\), but the input has 3; lower `shards`"),
])
def test_shard_bounds_errors(n_records, n_shards, index, message):
    with pytest.raises(InputError, match=message):
        shard_bounds(n_records, n_shards, index)


def test_write_shard_from_gzip_keeps_headers_and_order(tmp_path):
    source = tmp_path / "in.fasta.gz"
    source.write_bytes(gzip.compress(PROTEINS.encode()))
    assert count_records(source) == 7
    parts = [tmp_path / f"s{i}.fasta" for i in range(3)]
    for i, part in enumerate(parts):
        write_shard(source, 3, i, part)
    assert parts[0].read_text() == ">z9 first protein\nMKTAYIAKQRqisfvkshfs\n>a1\nMKV\n"
    assert [r.id for p in parts for r in iter_fasta(p)] == PROTEIN_IDS
    assert [r.sequence for p in parts for r in iter_fasta(p)] == [r.sequence for r in iter_fasta(source)]


def test_write_shard_of_fastq_writes_fasta(tmp_path):
    source = tmp_path / "reads.fq.gz"
    source.write_bytes(gzip.compress(b"@r1 lane 1\nACGT\n+\nIIII\n@r2\nGG\n+\nII\n@r3\nTTA\n+\nIII\n"))
    assert count_records(source) == 3
    write_shard(source, 2, 1, tmp_path / "s1.fasta")
    assert (tmp_path / "s1.fasta").read_text() == ">r2\nGG\n>r3\nTTA\n"


def test_standard_input_cannot_be_sharded(tmp_path):
    with pytest.raises(InputError) as info:
        write_shard("-", 2, 0, tmp_path / "s.fasta")
    assert str(info.value) == "Expected argument `input` to be a file (a shard reads it twice), but got '-'"


def _checkpoint(tmp_path: Path, task: str) -> Checkpoint:
    torch.manual_seed(0)
    if task == "residue":
        hparams = {"in_channels": 20, "n_classes": 3, "channels": 8, "kernel_size": 5, "layers": 2}
        spec = ("protein", ["H", "E", "C"], "residue_cnn")
    else:
        hparams = {"in_channels": 4, "n_classes": 2, "channels": 8, "kernel_size": 5, "layers": 2}
        spec = ("dna", ["a", "b"], "sequence_cnn")
    model = build_model(spec[2], hparams).eval()
    path = tmp_path / f"{task}.pt"
    save_checkpoint(Checkpoint(model, task, Alphabet.from_name(spec[0]), spec[1], spec[2], hparams,
                               meta={"label_column": "genus"}), path)
    return load_checkpoint(path)


def _predict(ckpt: Checkpoint, fasta: Path, out: Path, fmt: str, batch_size: int = 64) -> None:
    writer = get_writer(fmt, ckpt.classes, ckpt.task, alphabet=ckpt.alphabet.name,
                        label_column=ckpt.meta["label_column"])
    with open(out, "w", newline="") as handle:
        writer.begin(handle)
        for pred in predict_fasta(ckpt, fasta, batch_size=batch_size):
            writer.write(handle, pred)
        writer.end(handle)


@pytest.mark.parametrize("task,fmt", [("residue", "tsv"), ("residue", "json"), ("residue", "ss2"),
                                      ("residue", "horiz"), ("sequence", "tsv"), ("sequence", "json"),
                                      ("sequence", "sintax"), ("sequence", "qiime")])
@pytest.mark.parametrize("n_shards", [1, 2, 5])
def test_merged_shards_equal_one_run(tmp_path, task, fmt, n_shards):
    text = PROTEINS if task == "residue" else BARCODES
    n_records = count_records(io_path := _write(tmp_path / "in.fasta", text))
    if n_shards > n_records:
        pytest.skip("more shards than records")
    ckpt = _checkpoint(tmp_path, task)
    whole = tmp_path / f"whole.{fmt}"
    _predict(ckpt, io_path, whole, fmt, batch_size=1)  # one record per batch: no padding anywhere
    parts = []
    for i in range(n_shards):
        write_shard(io_path, n_shards, i, tmp_path / f"s{i}.fasta")
        parts.append(tmp_path / f"p{i}.{fmt}")
        _predict(ckpt, tmp_path / f"s{i}.fasta", parts[-1], fmt)
    merged = tmp_path / f"merged.{fmt}"
    merge_outputs(parts, merged, fmt)
    assert merged.read_text() == whole.read_text()
    assert check_ids(io_path, merged, fmt) == n_records
    assert list(output_ids(merged, fmt)) == [r.id for r in iter_fasta(io_path)]


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _tsv(rows: list[str], residue: bool = False) -> str:
    header = "id\tpos\taa\tlabel\tstatus\n" if residue else "id\tlabel\tstatus\n"
    return header + "".join(row + "\n" for row in rows)


@pytest.mark.parametrize("rows,message", [
    (["a\tx\tpredicted", "c\tx\tpredicted"], "record 2: expected id 'b' .*, but got 'c'"),
    (["a\tx\tpredicted", "b\tx\tpredicted"], "record 3: expected id 'c' .*, but got None"),
    (["b\tx\tpredicted", "a\tx\tpredicted", "c\tx\tpredicted"], "record 1: expected id 'a' .*, but got 'b'"),
    (["a\tx\tpredicted", "b\tx\tpredicted", "c\tx\tpredicted", "d\tx\tpredicted"],
     "record 4: expected id None .*, but got 'd'"),
])
def test_check_ids_names_the_first_problem(tmp_path, rows, message):
    fasta = _write(tmp_path / "in.fasta", ">a\nAC\n>b\nAC\n>c\nAC\n")
    out = _write(tmp_path / "out.tsv", _tsv(rows))
    with pytest.raises(InputError, match=message):
        check_ids(fasta, out, "tsv")


def test_residue_tsv_ids_count_records_not_rows(tmp_path):
    # Two consecutive records with the same id stay two records: a record starts at pos 1 (or is skipped).
    rows = ["a\t1\tM\tH\tpredicted", "a\t2\tK\tH\tpredicted", "a\t1\tM\tH\tpredicted", "b\t\t\t\tskipped: x",
            "c\t1\tM\tE\tpredicted"]
    out = _write(tmp_path / "out.tsv", _tsv(rows, residue=True))
    assert list(output_ids(out, "tsv")) == ["a", "a", "b", "c"]


def test_merge_errors(tmp_path):
    a = _write(tmp_path / "a.tsv", "id\tlabel\nx\ty\n")
    b = _write(tmp_path / "b.tsv", "id\tother\nz\ty\n")
    with pytest.raises(InputError, match="TSV header differs from that of"):
        merge_outputs([a, b], tmp_path / "m.tsv", "tsv")
    with pytest.raises(InputError, match="at least one prediction file"):
        merge_outputs([], tmp_path / "m.tsv", "tsv")
    with pytest.raises(InputError, match="Expected argument `format` to be one of"):
        merge_outputs([a], tmp_path / "m.csv", "csv")
    assert not (tmp_path / "m.tsv").exists()


def test_shard_and_merge_commands(tmp_path, capsys):
    fasta = _write(tmp_path / "in.fasta", BARCODES)
    model = tmp_path / "sequence.pt"
    _checkpoint(tmp_path, "sequence")
    parts = []
    for i in range(2):
        shard = tmp_path / f"s{i}.fasta"
        assert main(["shard", "--input", str(fasta), "--shards", "2", "--index", str(i), "--output", str(shard)]) == 0
        parts.append(tmp_path / f"p{i}.tsv")
        assert main(["predict", "--model", str(model), "--input", str(shard), "--output", str(parts[-1]),
                     "--device", "cpu"]) == 0
    merged = tmp_path / "merged.tsv"
    assert main(["merge", "--inputs", *map(str, parts), "--output", str(merged), "--fasta", str(fasta)]) == 0
    assert [line.split("\t")[0] for line in merged.read_text().splitlines()[1:]] == ["q2", "q1", "q10", "gap", "x"]
    # A shard left out: the check names the first id that is missing.
    assert main(["merge", "--inputs", str(parts[0]), "--output", str(merged), "--fasta", str(fasta)]) == 2
    assert "record 3: expected id 'q10'" in capsys.readouterr().err
    assert main(["shard", "--input", str(fasta), "--shards", "9", "--index", "0", "--output",
                 str(tmp_path / "s.fasta")]) == 2
    assert "the input has 5; lower `shards`" in capsys.readouterr().err


def test_merge_json_of_empty_parts_is_an_empty_array(tmp_path):
    parts = [_write(tmp_path / f"{i}.json", "[\n]\n") for i in range(2)]
    merge_outputs(parts, tmp_path / "m.json", "json")
    assert (tmp_path / "m.json").read_text() == "[\n]\n"
