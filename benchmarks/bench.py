"""Prediction throughput benchmark: seqxent vs ``vsearch --sintax`` vs ``blastn`` on the same FASTA files.

``python -m benchmarks.bench --output results/bench`` (``make bench``) builds query FASTA files of 10k and 100k
sequences from the bundled data (records drawn with replacement, 2 % of positions substituted, so no query
is a copy of a reference), predicts them with seqxent and with the peer tools trained on the same bundled
records, and writes ``bench.tsv``, ``bench.md`` (also printed) and ``bench.png`` to the output folder.
``--quick`` runs 10k only; ``--sizes 10000 100000 1000000`` (``make bench-full``) adds 1M sequences.

Tasks: ``coi`` (COI barcodes → species: 825 references of the 41 species with ≥ 5 records, as in
config.yaml), ``16s`` (16S rRNA → genus: 15,908 references of the 463 genera with ≥ 10 records), ``ss3``
(proteins → 3-state secondary structure per residue; no peer tool) and ``16s_taxonomy`` (16S rRNA → lineage,
domain → species: the shipped ``16s_taxonomy`` model, written in SINTAX's format, against ``vsearch --sintax``
on a lineage reference of all 25,064 bundled genes; the model's own reference is its training split, 19,312
distinct genes). seqxent runs the quick
preset's architecture (sequence CNN: 64 channels, kernel 9, 4 layers; residue CNN: 64 channels, kernel 5,
8 layers) with random weights unless ``--models TASK=PATH`` names a trained checkpoint: throughput does not
depend on the weights. Every run is a separate process; its wall time, CPU time and peak resident memory
(``wait4``) are recorded. seqxent's wall time includes its start-up (importing torch, about 2–4 s);
``steady_seq_per_s`` is its own timing of the prediction loop. SINTAX indexes its reference in every run;
``makeblastdb`` is timed separately (``setup_seconds``). Peers are skipped above ``--peer-max`` sequences
(marked "not run"); ``blastn`` runs on the first ``--blastn-max`` queries only (its rate is measured on
them; it manages tens of COI queries but about one 16S query per second here).

``--breakdown`` adds two seqxent rows per barcode task, to show where the time goes: ``seqxent-no-kmer``
(the same network without the k-mer distance score and its abstain rule) and ``seqxent-1x8`` (a 1-layer,
8-channel network without it: the cost of reading, encoding, batching and writing alone).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import asdict, dataclass, replace
from itertools import islice
from pathlib import Path

import numpy as np
import torch

from benchmarks.bench_report import agreement, write_report
from seqxent import tools
from seqxent.baseline.lineage_peers import sintax_header
from seqxent.baseline.peers import encode_label
from seqxent.data.alphabet import Alphabet
from seqxent.data.io import iter_fasta, read_table, write_fasta
from seqxent.model.checkpoint import Checkpoint, load_checkpoint, resolve_model, save_checkpoint
from seqxent.model.engine import PRECISIONS
from seqxent.model.networks import build_model

DATA = Path(__file__).resolve().parent.parent / "data"
SEQUENCE_HPARAMS = {"channels": 64, "kernel_size": 9, "layers": 4, "dropout": 0.2}
RESIDUE_HPARAMS = {"channels": 64, "kernel_size": 5, "layers": 8, "dropout": 0.1}
#: The network of the ``seqxent-1x8`` row of ``--breakdown``: next to nothing, to time the pipeline around it.
MINIMAL_HPARAMS = {"channels": 8, "layers": 1}


@dataclass(frozen=True)
class TaskSpec:
    """A benchmark task: its bundled source, label column, model kind and the peer tools that apply."""

    name: str
    task: str
    alphabet: str
    source: str
    labels: str
    label_column: str
    min_per_class: int
    peers: tuple[str, ...]
    ranks: tuple[str, ...] = ()  # lineage tasks: the rank columns of ``labels``
    model: str = ""  # a shipped model used unless --models names one (lineage models cannot be random)
    predict_args: tuple[str, ...] = ()


# min_per_class as in config.yaml: the classes a trained model would have, and the peers' reference.
TASKS = {
    "coi": TaskSpec("coi", "sequence", "dna", "coi_bold.fasta.gz", "coi_bold.tsv", "species", 5,
                    ("sintax", "blastn")),
    "16s": TaskSpec("16s", "sequence", "dna", "16s_refseq.fasta.gz", "16s_refseq.tsv", "genus", 10,
                    ("sintax", "blastn")),
    "ss3": TaskSpec("ss3", "residue", "protein", "ss_pdb.tsv.gz", "", "ss3", 1, ()),
    "16s_taxonomy": TaskSpec("16s_taxonomy", "lineage", "dna", "16s_refseq.fasta.gz", "16s_taxonomy.tsv", "genus", 1,
                             ("sintax",), ("domain", "phylum", "class", "order", "family", "genus", "species"),
                             "16s_taxonomy", ("--format", "sintax")),
}


@dataclass
class Row:
    """One measured run (a row of bench.tsv)."""

    task: str
    tool: str
    precision: str
    n_sequences: int
    n_residues: int
    threads: int
    status: str = "ok"
    seconds: float = float("nan")
    cpu_seconds: float = float("nan")
    peak_rss_mb: float = float("nan")
    seq_per_s: float = float("nan")
    res_per_s: float = float("nan")
    steady_seq_per_s: float = float("nan")
    setup_seconds: float = float("nan")
    note: str = ""
    repeats: int = 1


def load_reference(spec: TaskSpec, data: Path = DATA) -> tuple[list[str], list]:
    """Cleaned, valid sequences of a task's bundled data set and their labels (lineage tasks: rank tuples).

    Records without a label, and records of classes with fewer than ``min_per_class`` records, are dropped.
    """
    alphabet = Alphabet.from_name(spec.alphabet)
    if spec.task == "residue":
        table = read_table(data / spec.source)
        pairs = zip(table["sequence"], table[spec.label_column], strict=True)
    else:
        table = read_table(data / spec.labels).set_index("id")
        labels = (dict(zip(table.index, table[list(spec.ranks)].itertuples(index=False, name=None), strict=True))
                  if spec.ranks else table[spec.label_column].to_dict())
        pairs = ((rec.sequence, labels.get(rec.id, "")) for rec in iter_fasta(data / spec.source))
    kept = [(seq, label) for seq, label in ((alphabet.clean(s), y) for s, y in pairs)
            if seq and label and not alphabet.invalid_characters(seq)]
    counts = Counter(label for _, label in kept)
    kept = [(seq, label) for seq, label in kept if counts[label] >= spec.min_per_class]
    return [seq for seq, _ in kept], [label for _, label in kept]


def simulate_queries(seqs: list[str], n: int, tokens: str, path: Path, rate: float = 0.02, seed: int = 1) -> int:
    """Write ``n`` mutated queries drawn with replacement from ``seqs``; return the number of residues.

    Each position is replaced with probability ``rate`` by a random token of ``tokens``, so queries are not
    copies of the references. Ids are ``q0``, ``q1``, ...

    Example:
        >>> path = Path(tempfile.mkdtemp()) / "q.fasta"
        >>> simulate_queries(["ACGTACGT", "GGGG"], 3, "ACGT", path, rate=0.0)
        16
        >>> path.read_text().split()
        ['>q0', 'ACGTACGT', '>q1', 'GGGG', '>q2', 'GGGG']
    """
    rng = np.random.default_rng(seed)
    alphabet = np.frombuffer(tokens.encode(), dtype=np.uint8)
    lengths = []

    def queries():  # one at a time: a million queries need not fit in memory
        for i, pick in enumerate(rng.integers(0, len(seqs), n)):
            codes = np.frombuffer(seqs[pick].encode(), dtype=np.uint8).copy()
            hit = rng.random(len(codes)) < rate
            codes[hit] = alphabet[rng.integers(0, len(alphabet), int(hit.sum()))]
            lengths.append(len(codes))
            yield f"q{i}", codes.tobytes().decode()

    write_fasta(path, queries())
    return sum(lengths)


def prepare_model(spec: TaskSpec, labels: list[str], path: Path, trained: str | None = None) -> str:
    """Write the benchmark's checkpoint to ``path``; return what its weights are (for the table)."""
    trained = trained or spec.model or None
    if trained:
        save_checkpoint(load_checkpoint(resolve_model(trained)), path)
        return f"trained: {trained}"
    torch.manual_seed(1)
    classes = sorted(set("".join(labels))) if spec.task == "residue" else sorted(set(labels))
    kind = "residue_cnn" if spec.task == "residue" else "sequence_cnn"
    alphabet = Alphabet.from_name(spec.alphabet)
    hparams = {"in_channels": alphabet.size, "n_classes": len(classes),
               **(RESIDUE_HPARAMS if spec.task == "residue" else SEQUENCE_HPARAMS)}
    model = build_model(kind, hparams).eval()
    save_checkpoint(Checkpoint(model, spec.task, alphabet, classes, kind, hparams), path)
    return "random weights, quick-preset architecture"


# Runs a command in a small helper process and prints its rusage: a child forked straight from this process
# would count this process's memory (torch and all) in its peak RSS. The helper adds about 10 MB instead
# (see `rss_floor_mb` in bench.json).
_MEASURE = """
import json, os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.execvp(sys.argv[1], sys.argv[1:])
_, status, usage = os.wait4(pid, 0)
print(json.dumps({"seconds": time.perf_counter() - start, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                  "peak_rss_mb": usage.ru_maxrss / 1024, "returncode": os.waitstatus_to_exitcode(status)}))
"""


def measure(command: list[str], log: Path) -> dict:
    """Run ``command``: wall seconds, CPU seconds, peak RSS (MB) and exit status; its stderr goes to ``log``."""
    with open(log, "w") as err:
        done = subprocess.run([sys.executable, "-S", "-c", _MEASURE, *command], stdout=subprocess.PIPE,
                              stderr=err, text=True, check=False)
    if done.returncode != 0:  # the helper itself failed, e.g. the executable does not exist
        return {"seconds": float("nan"), "cpu_seconds": float("nan"), "peak_rss_mb": float("nan"),
                "returncode": done.returncode}
    return json.loads(done.stdout)


def measure_best(command: list[str], log: Path, repeats: int = 1) -> dict:
    """:func:`measure` ``repeats`` times; the fastest run (other processes on the machine only slow runs down)."""
    runs = [measure(command, log) for _ in range(max(1, repeats))]
    failed = [r for r in runs if r["returncode"] != 0]
    return failed[0] if failed else min(runs, key=lambda r: r["seconds"])


def _fill(row: Row, result: dict, log: Path) -> Row:
    if result["returncode"] != 0:
        row.status = f"failed (exit {result['returncode']}): {log.read_text()[-300:].strip()}"
        return row
    row.seconds, row.cpu_seconds, row.peak_rss_mb = result["seconds"], result["cpu_seconds"], result["peak_rss_mb"]
    row.seq_per_s, row.res_per_s = row.n_sequences / row.seconds, row.n_residues / row.seconds
    return row


def breakdown_models(model: Path, work: Path) -> dict[str, Path]:
    """The ``--breakdown`` variants of a sequence checkpoint: tool name → checkpoint path (written to ``work``).

    ``seqxent-no-kmer``: the same network, its k-mer reference and abstain rule (``meta`` ``reference``,
    ``ood``) removed. ``seqxent-1x8``: a :data:`MINIMAL_HPARAMS` network with random weights, also without them.
    """
    ckpt = load_checkpoint(model)
    meta = {key: value for key, value in ckpt.meta.items() if key not in ("reference", "ood")}
    torch.manual_seed(1)
    hparams = {**ckpt.hparams, **MINIMAL_HPARAMS}
    minimal = build_model(ckpt.architecture, hparams).eval()
    paths = {"seqxent-no-kmer": work / f"{model.stem}_no_kmer.pt", "seqxent-1x8": work / f"{model.stem}_1x8.pt"}
    save_checkpoint(replace(ckpt, meta=meta), paths["seqxent-no-kmer"])
    save_checkpoint(replace(ckpt, model=minimal, hparams=hparams, temperature=1.0, meta=meta), paths["seqxent-1x8"])
    return paths


def run_seqxent(row: Row, model: Path, query: Path, out: Path, batch_size: int, extra: tuple[str, ...] = ()) -> Row:
    """``seqxent predict`` on CPU; ``steady_seq_per_s`` comes from its own log line (start-up excluded)."""
    command = [sys.executable, "-m", "seqxent.cli", "predict", "--model", str(model), "--input", str(query),
               "--output", str(out), "--device", "cpu", "--threads", str(row.threads), "--batch-size",
               str(batch_size), "--precision", row.precision, *extra]
    log = out.with_suffix(".log")
    _fill(row, measure_best(command, log, row.repeats), log)
    found = re.search(r"records \(\d+ skipped\) in ([0-9.]+) s", log.read_text())
    if found and row.status == "ok":
        row.steady_seq_per_s = row.n_sequences / max(float(found[1]), 1e-9)
    return row


def write_reference(seqs: list[str], labels: list, folder: Path, ranks: tuple[str, ...] = ()) -> tuple[Path, Path]:
    """The peers' reference FASTA: SINTAX headers (``;tax=s:<label>``, or the lineage) and plain ids for BLAST."""
    sintax, blast = folder / "reference_sintax.fasta", folder / "reference_blast.fasta"
    write_fasta(sintax, ((sintax_header(f"r{i}", label, ranks) if ranks else f"r{i};tax=s:{encode_label(label)}",
                          seq) for i, (seq, label) in enumerate(zip(seqs, labels, strict=True))))
    write_fasta(blast, ((f"r{i}", seq) for i, seq in enumerate(seqs)))
    return sintax, blast


def run_sintax(row: Row, reference: Path, query: Path, out: Path) -> Row:
    """``vsearch --sintax`` with the options of :class:`seqxent.baseline.peers.Sintax`."""
    command = ["vsearch", "--sintax", str(query), "--db", str(reference), "--tabbedout", str(out),
               "--sintax_cutoff", "0.8", "--randseed", "1", "--threads", str(row.threads)]
    return _fill(row, measure_best(command, out.with_suffix(".log"), row.repeats), out.with_suffix(".log"))


def run_blastn(row: Row, database: Path, query: Path, out: Path) -> Row:
    """``blastn -task megablast`` with the options of :class:`seqxent.baseline.peers.BlastTopHit`."""
    command = ["blastn", "-task", "megablast", "-query", str(query), "-db", str(database), "-outfmt",
               "6 qseqid sseqid pident length evalue bitscore", "-max_target_seqs", "5", "-num_threads",
               str(row.threads), "-out", str(out)]
    return _fill(row, measure_best(command, out.with_suffix(".log"), row.repeats), out.with_suffix(".log"))


def _peer_setup(spec: TaskSpec, seqs: list[str], labels: list[str], work: Path) -> dict[str, dict]:
    """Reference files of the peers (and ``makeblastdb``, timed); a tool that is missing gets a reason."""
    setup: dict[str, dict] = {}
    sintax, blast = write_reference(seqs, labels, work, spec.ranks)
    for tool in spec.peers:
        if not tools.is_installed(tools.PEER_TOOLS[tool]):
            setup[tool] = {"reason": f"not run: {tools.not_run_reason(tools.PEER_TOOLS[tool])}"}
        elif tool == "sintax":
            setup[tool] = {"path": sintax, "seconds": float("nan")}
        else:
            database = work / f"{spec.name}_blastdb"
            command = ["makeblastdb", "-in", str(blast), "-dbtype", "nucl", "-out", str(database)]
            result = measure(command, work / "makeblastdb.log")
            setup[tool] = ({"path": database, "seconds": result["seconds"]} if result["returncode"] == 0 else
                           {"reason": f"not run: makeblastdb failed (exit {result['returncode']})"})
    return setup


def _run_peers(spec: TaskSpec, setup: dict[str, dict], n: int, residues: int, query: Path, work: Path,
               args: argparse.Namespace) -> list[Row]:
    rows = []
    for tool in spec.peers:
        row = Row(spec.name, tool, "-", n, residues, args.threads, setup_seconds=setup[tool].get("seconds", np.nan),
                  repeats=args.repeats)
        if "reason" in setup[tool]:
            row.status = setup[tool]["reason"]
        elif n > args.peer_max:
            row.status = f"not run: more than --peer-max {args.peer_max} sequences"
        elif tool == "blastn" and n > args.blastn_max:  # slow: a prefix of the same queries gives its rate
            head = work / f"{spec.name}_{n}_head.fasta"
            row.n_sequences, row.n_residues = args.blastn_max, _head_fasta(query, args.blastn_max, head)
            row.note = f"first {args.blastn_max:,} records of the {n:,}-sequence input (--blastn-max)"
            run_blastn(row, setup[tool]["path"], head, work / f"{spec.name}_{n}.{tool}.tsv")
        else:
            run = run_sintax if tool == "sintax" else run_blastn
            run(row, setup[tool]["path"], query, work / f"{spec.name}_{n}.{tool}.tsv")
        rows.append(row)
    return rows


def _head_fasta(path: Path, n: int, out: Path) -> int:
    """Write the first ``n`` records of a FASTA written by :func:`simulate_queries`; return their residues."""
    records = [(rec.description, rec.sequence) for rec in islice(iter_fasta(path), n)]
    write_fasta(out, records)
    return sum(len(seq) for _, seq in records)


def run_task(spec: TaskSpec, args: argparse.Namespace, work: Path) -> list[Row]:
    """Every size of one task: seqxent in each precision, then the peers."""
    seqs, labels = load_reference(spec, args.data)
    model = work / f"{spec.name}.pt"
    weights = prepare_model(spec, labels, model, args.models.get(spec.name))
    setup = _peer_setup(spec, seqs, labels, work) if spec.peers else {}
    variants = breakdown_models(model, work) if args.breakdown and spec.task == "sequence" else {}
    tokens = "".join(Alphabet.from_name(spec.alphabet).tokens)
    rows: list[Row] = []
    for n in args.sizes:
        query = work / f"{spec.name}_{n}.fasta"
        residues = simulate_queries(seqs, n, tokens, query, seed=n)
        outputs, ours = {}, {}
        for precision in args.precisions:
            row = Row(spec.name, "seqxent", precision, n, residues, args.threads, note=weights, repeats=args.repeats)
            outputs[precision] = work / f"{spec.name}_{n}_{precision}.tsv"
            rows.append(ours.setdefault(precision, run_seqxent(row, model, query, outputs[precision], args.batch_size,
                                                               spec.predict_args)))
            print(f"{spec.name} {n} seqxent {precision}: {row.status}, {row.seconds:.1f} s", file=sys.stderr)
        if n == min(args.sizes) and not spec.predict_args and [ours[p].status for p in PRECISIONS if p in ours] == [
                "ok", "ok"]:
            ours["bfloat16"].note += "; vs float32: " + agreement(outputs["float32"], outputs["bfloat16"])
        for tool, variant in variants.items():
            for precision in args.precisions:
                row = Row(spec.name, tool, precision, n, residues, args.threads, repeats=args.repeats)
                out = work / f"{spec.name}_{n}_{tool}_{precision}.tsv"
                rows.append(run_seqxent(row, variant, query, out, args.batch_size, ("--no-abstain",)))
                out.unlink(missing_ok=True)
        rows.extend(_run_peers(spec, setup, n, residues, query, work, args))
        for path in [query, *outputs.values()]:
            path.unlink(missing_ok=True)
    return rows


def machine_info() -> dict:
    """CPU, cores, load and versions, recorded with the results (timings depend on all of them)."""
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), "unknown") if Path("/proc/cpuinfo").exists() else "unknown"
    versions = {"torch": torch.__version__, "python": sys.version.split()[0]}
    for tool, flag in (("vsearch", "--version"), ("blastn", "-version")):
        if shutil.which(tool):
            done = subprocess.run([tool, flag], capture_output=True, text=True, check=False)
            versions[tool] = (done.stderr + done.stdout).strip().splitlines()[0].split(",")[0]
    floor = measure(["true"], Path(os.devnull))["peak_rss_mb"]
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average_start": os.getloadavg(), "versions": versions,
            "rss_floor_mb": floor}


def create_parser() -> argparse.ArgumentParser:
    """Command-line flags of ``python -m benchmarks.bench``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True, help="folder for bench.tsv, bench.md, bench.png")
    parser.add_argument("--tasks", nargs="+", choices=sorted(TASKS), default=list(TASKS))
    parser.add_argument("--sizes", nargs="+", type=int, default=[10_000, 100_000], help="query counts")
    parser.add_argument("--quick", action="store_true", help="10k sequences only (sets --sizes 10000)")
    parser.add_argument("--precisions", nargs="+", choices=["float32", "bfloat16"], default=["float32", "bfloat16"])
    parser.add_argument("--peer-max", type=int, default=10_000, help="largest query count the peers run on")
    parser.add_argument("--blastn-max", type=int, default=200,
                        help="blastn runs on at most this many of the queries (the first ones): it is slow")
    parser.add_argument("--threads", type=int, default=2, help="threads of every tool")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs per measurement; the fastest counts (other processes only slow runs down)")
    parser.add_argument("--batch-size", type=int, default=64, help="seqxent predict --batch-size")
    parser.add_argument("--models", nargs="*", default=[], metavar="TASK=PATH",
                        help="trained checkpoints instead of random weights: coi=results/coi_species/model.pt")
    parser.add_argument("--data", type=Path, default=DATA, help="folder of the bundled data sets")
    parser.add_argument("--breakdown", action="store_true",
                        help="barcode tasks: also time the network without its k-mer distance, and a 1-layer "
                             "8-channel network (the pipeline around the network)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, write the table, report and plot, and print the report."""
    args = create_parser().parse_args(argv)
    args.sizes = [10_000] if args.quick else sorted(set(args.sizes))
    args.models = dict(item.split("=", 1) for item in args.models)
    if min(args.sizes) < 1 or any(task not in TASKS for task in args.models):
        raise SystemExit(f"Expected sizes ≥ 1 and --models keys in {sorted(TASKS)}, but got {args.sizes}, "
                         f"{sorted(args.models)}")
    args.output.mkdir(parents=True, exist_ok=True)
    meta = {**machine_info(), "arguments": {k: str(v) for k, v in vars(args).items()}}
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="work-", dir=args.output) as work:
        for name in args.tasks:
            rows += run_task(TASKS[name], args, Path(work))
    meta["load_average_end"] = os.getloadavg()
    print(write_report([asdict(row) for row in rows], args.output, meta))
    return 0 if all(row.status == "ok" or row.status.startswith("not run") for row in rows) else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
