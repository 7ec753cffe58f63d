"""Turn a configured data set into one canonical table: clean records, a label, a group and a split each.

Every input record ends up in the table. A record that cannot be used keeps ``split = "excluded"`` and a
``reason``; nothing is dropped silently. The steps, in order:

1. read FASTA + label table (joined on id) or a single table holding the sequences;
2. clean and check every sequence against the alphabet (residue tasks: one label per residue);
3. exclude records without a label, optionally subsample (``max_records``), drop rare classes;
4. group records that must stay on one side of a split: identical sequences, an optional group column
   (BOLD ``bin``), and for residue tasks clusters of homologous chains (mmseqs2, or a k-mer fallback);
5. assign train / valid / test by group, stratified by label for sequence tasks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seqxent import splits
from seqxent.alphabet import Alphabet
from seqxent.errors import InputError
from seqxent.io import read_fasta, read_table

log = logging.getLogger(__name__)

COLUMNS = ["id", "sequence", "label", "group", "split", "reason"]
EXCLUDED = "excluded"


@dataclass
class PrepareConfig:
    """How to build a data set; mirrors a ``datasets.<name>`` entry of ``config.yaml``."""

    name: str
    task: str
    alphabet: str
    label_column: str
    fasta: Path | None = None
    labels: Path | None = None
    table: Path | None = None
    id_column: str = "id"
    sequence_column: str = "sequence"
    group_column: str | None = None
    min_per_class: int = 1
    max_records: int = 0
    fractions: tuple[float, float, float] = (0.8, 0.1, 0.1)
    cluster_identity: float = 0.3
    cluster_coverage: float = 0.5
    on_invalid: str = "error"
    extra_columns: list[str] = field(default_factory=list)
    seed: int = 1
    threads: int = 1

    def __post_init__(self):
        if self.task not in ("sequence", "residue"):
            raise InputError(f"Expected argument `task` to be 'sequence' or 'residue', but got {self.task!r}")
        if self.on_invalid not in ("error", "skip"):
            raise InputError(f"Expected argument `on_invalid` to be 'error' or 'skip', but got {self.on_invalid!r}")
        if (self.table is None) == (self.fasta is None):
            raise InputError("Expected either `table` or `fasta` (with `labels`), but got "
                             f"table={self.table!r}, fasta={self.fasta!r}")
        if self.fasta is not None and self.labels is None:
            raise InputError(f"Expected argument `labels` (a TSV) with fasta={self.fasta}, but got None")
        if self.min_per_class < 1:
            raise InputError(f"Expected argument `min_per_class` to be ≥ 1, but got {self.min_per_class}")


def load_records(cfg: PrepareConfig) -> pd.DataFrame:
    """Read the raw records as a table with ``id``, ``sequence``, ``label`` and the kept extra columns.

    Raises:
        InputError: on a missing column or id, a duplicate id, or an unreadable file.
    """
    wanted = [cfg.label_column, *cfg.extra_columns] + ([cfg.group_column] if cfg.group_column else [])
    if cfg.table is not None:
        table = read_table(cfg.table, (cfg.sequence_column, *wanted), cfg.id_column)
        source = str(cfg.table)
    else:
        table = _join_fasta(cfg, wanted)
        source = f"{cfg.fasta} + {cfg.labels}"
    out = pd.DataFrame({"id": table[cfg.id_column], "sequence": table[cfg.sequence_column],
                        "label": table[cfg.label_column].str.strip()})
    for col in dict.fromkeys(wanted[1:]):
        out[col] = table[col]
    out.attrs["source"] = source
    return out


def _join_fasta(cfg: PrepareConfig, wanted: list[str]) -> pd.DataFrame:
    records = read_fasta(cfg.fasta)
    labels = read_table(cfg.labels, tuple(wanted), cfg.id_column).set_index(cfg.id_column, drop=False)
    fasta_ids = [r.id for r in records]
    missing = [i for i in fasta_ids if i not in labels.index]
    if missing:
        raise InputError(f"{cfg.labels}: record {missing[0]!r} of {cfg.fasta} has no row "
                         f"({len(missing)} FASTA ids missing from the label table)")
    extra = labels.index.difference(pd.Index(fasta_ids))
    if len(extra):
        raise InputError(f"{cfg.fasta}: record {extra[0]!r} of {cfg.labels} has no sequence "
                         f"({len(extra)} table ids missing from the FASTA file)")
    table = labels.loc[fasta_ids].reset_index(drop=True)
    table[cfg.sequence_column] = [r.sequence for r in records]
    return table


def check_records(records: pd.DataFrame, cfg: PrepareConfig, alphabet: Alphabet) -> pd.Series:
    """Clean sequences in place and return the exclusion reason of each record (``""`` when usable).

    Raises:
        InputError: under ``on_invalid = "error"``, for the first invalid record.
    """
    reasons = pd.Series("", index=records.index, dtype=object)
    cleaned = records["sequence"].map(alphabet.clean)
    for i, seq in cleaned.items():
        problem = _record_problem(seq, records.at[i, "label"], cfg, alphabet)
        if problem and problem.startswith("invalid") and cfg.on_invalid == "error":
            raise InputError(f"{records.attrs.get('source', cfg.name)}: record {records.at[i, 'id']!r}: {problem}")
        reasons[i] = problem
    records["sequence"] = cleaned
    return reasons


def _record_problem(seq: str, label: str, cfg: PrepareConfig, alphabet: Alphabet) -> str:
    if not seq:
        return "invalid: empty sequence"
    bad = alphabet.invalid_characters(seq)
    if bad:
        shown = ", ".join(f"{c!r} at position {p + 1}" for p, c in bad[:3])
        return f"invalid {alphabet.name} character(s): {shown}"
    if not label:
        return f"no label in column {cfg.label_column!r}"
    if cfg.task == "residue" and len(label) != len(seq):
        return f"invalid: {len(label)} residue labels for {len(seq)} residues"
    return ""


def exclude_rare(records: pd.DataFrame, reasons: pd.Series, cfg: PrepareConfig) -> None:
    """Subsample to ``max_records`` (seeded) and exclude classes with fewer than ``min_per_class`` records."""
    usable = reasons == ""
    if cfg.max_records and usable.sum() > cfg.max_records:
        rng = np.random.default_rng(cfg.seed)
        idx = records.index[usable]
        drop = rng.choice(idx, size=len(idx) - cfg.max_records, replace=False)
        reasons[drop] = f"not sampled (max_records {cfg.max_records})"
        usable = reasons == ""
    if cfg.task == "sequence":
        counts = records.loc[usable, "label"].value_counts()
        rare = usable & records["label"].map(counts).lt(cfg.min_per_class)
        reasons[rare] = [f"class has {counts[lab]} records < min_per_class {cfg.min_per_class}"
                         for lab in records.loc[rare, "label"]]


def make_groups(records: pd.DataFrame, cfg: PrepareConfig) -> np.ndarray:
    """Group ids: identical sequences, plus the group column, plus homology clusters for residue tasks."""
    keys = [splits.group_identical(records["sequence"].tolist())]
    if cfg.group_column:
        keys.append(records[cfg.group_column].replace("", None).to_numpy())
    if cfg.task == "residue":
        keys.append(splits.cluster_sequences(records["id"].tolist(), records["sequence"].tolist(),
                                             min_seq_id=cfg.cluster_identity,
                                             coverage=cfg.cluster_coverage, threads=cfg.threads))
    return splits.combine_groups(*keys) if len(keys) > 1 else keys[0]


def prepare_dataset(cfg: PrepareConfig) -> tuple[pd.DataFrame, dict]:
    """Run every step and return the canonical table (columns :data:`COLUMNS` + extras) and a summary."""
    alphabet = Alphabet.from_name(cfg.alphabet)
    records = load_records(cfg)
    reasons = check_records(records, cfg, alphabet)
    exclude_rare(records, reasons, cfg)
    usable = (reasons == "").to_numpy()
    if usable.sum() < 3:
        raise InputError(f"data set {cfg.name!r}: only {usable.sum()} usable records; need at least 3")
    kept = records[usable].reset_index(drop=True)
    groups = make_groups(kept, cfg)
    labels = kept["label"].tolist() if cfg.task == "sequence" else None
    split = splits.assign_splits(groups, labels, fractions=tuple(cfg.fractions), seed=cfg.seed)
    records["group"] = -1
    records["split"] = EXCLUDED
    records.loc[usable, "group"] = groups
    records.loc[usable, "split"] = split
    records["reason"] = reasons
    extras = [c for c in records.columns if c not in COLUMNS]
    table = records[COLUMNS + extras]
    summary = _summary(table, kept, groups, split, cfg)
    return table, summary


def _summary(table: pd.DataFrame, kept: pd.DataFrame, groups: np.ndarray, split: np.ndarray,
             cfg: PrepareConfig) -> dict:
    grouping = ["identical sequences"]
    if cfg.group_column:
        grouping.append(f"column {cfg.group_column!r}")
    if cfg.task == "residue":
        grouping.append(f"homology clusters (≥{cfg.cluster_identity:.0%} identity)")
    labels = kept["label"].tolist() if cfg.task == "sequence" else ["residue"] * len(kept)
    summary = splits.summarize_splits(split, labels, groups)
    excluded = table.loc[table["split"] == EXCLUDED, "reason"]
    summary.update({
        "dataset": cfg.name, "task": cfg.task, "label_column": cfg.label_column,
        "grouping": " + ".join(grouping), "n_input": int(len(table)), "excluded": int(len(excluded)),
        "excluded_reasons": {k: int(v) for k, v in
                             excluded.str.replace(r"class has \d+ records", "class has too few records",
                                                  regex=True).value_counts().items()},
        "seed": cfg.seed,
    })
    return summary
