"""Turn a configured data set into one canonical table: clean records, a label, a group and a split each.

Every input record ends up in the table. A record that cannot be used keeps ``split = "excluded"`` and a
``reason``; nothing is dropped silently. The steps, in order:

1. read FASTA + label table (joined on id) or a single table holding the sequences; or a reference with
   lineages (``reference_format``: SINTAX, QIIME 2, RDP, or a table of rank columns): each kept rank becomes a
   column, identical sequences with conflicting lineages get their lowest common ancestor, and the label is
   the name at the rank ``label_column``;
2. clean and check every sequence against the alphabet (residue tasks: one label per residue);
3. exclude records without a label, optionally subsample (``max_records``), drop rare classes;
4. group records that must stay on one side of a split: identical sequences, an optional group column
   (BOLD ``bin``), and for residue tasks clusters of homologous chains (mmseqs2, or a k-mer fallback);
5. assign train / valid / test by group, stratified by label for sequence tasks (by the rarest label of
   each record for multilabel tasks).

Multilabel tasks hold a set of labels per record: the label cell is split on ``label_separator`` and
stored sorted and deduplicated, joined by ``;``. ``min_per_class`` then removes labels carried by fewer
records from every set; a record left without labels is excluded.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from seqxent import tools
from seqxent.data import labels as multilabel
from seqxent.data.alphabet import Alphabet
from seqxent.data.dataset import NOVEL
from seqxent.data.io import read_fasta, read_table
from seqxent.data.reference_formats import READERS, records_to_table, resolve_table_lineages
from seqxent.data.taxonomy import RANKS, present_ranks
from seqxent.errors import InputError
from seqxent.prepare import clusters, splits
from seqxent.prepare.holdout import hold_out_classes
from seqxent.tasks import get_task

log = logging.getLogger(__name__)

COLUMNS = ["id", "sequence", "label", "group", "split", "reason"]
EXCLUDED = "excluded"
# Label cells that mark a missing value (spreadsheet and pandas conventions). "NA" is not among them: it is a
# country (Namibia) or continent code; a warning is logged when it is used as a class.
MISSING_LABELS = frozenset({"NaN", "nan", "NAN", "<NA>", "N/A", "n/a", "#N/A", "NULL", "null", "None"})
# reference_format -> the source files it reads (one of the alternatives); None: FASTA + label table, or a table.
SOURCES = {None: [("fasta", "labels"), ("table",)], "sintax": [("fasta",)], "qiime": [("fasta", "labels")],
           "rdp": [("fasta", "taxonomy")], "table": [("fasta", "labels"), ("table",)]}


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
    label_separator: str = multilabel.SEPARATOR
    novel_classes: float = 0.0
    reference_format: str | None = None
    taxonomy: Path | None = None
    ranks: list[str] = field(default_factory=list)
    # The rank whose taxa `novel_classes` holds out (one of `ranks`); None: the classes of the label column.
    novel_rank: str | None = None

    def __post_init__(self):
        task = get_task(self.task)  # raises for an unknown task
        if not self.label_separator:
            raise InputError("Expected argument `label_separator` to be a non-empty string, but got ''")
        if self.on_invalid not in ("error", "skip"):
            raise InputError(f"Expected argument `on_invalid` to be 'error' or 'skip', but got {self.on_invalid!r}")
        if self.reference_format is None:
            if (self.table is None) == (self.fasta is None):
                raise InputError("Expected either `table` or `fasta` (with `labels`), but got "
                                 f"table={self.table!r}, fasta={self.fasta!r}")
            if self.fasta is not None and self.labels is None:
                raise InputError(f"Expected argument `labels` (a TSV) with fasta={self.fasta}, but got None")
        self._check_reference()
        if not 0 <= self.novel_classes < 1 or (self.novel_classes and not task.holds_out_classes):
            raise InputError(f"Expected argument `novel_classes` to be in [0, 1) (and 0 unless the task is "
                             f"'sequence'), but got {self.novel_classes} for task {self.task!r}")
        self._check_novel_rank()
        if self.min_per_class < 1:
            raise InputError(f"Expected argument `min_per_class` to be ≥ 1, but got {self.min_per_class}")
        if len(self.fractions) != 3 or min(self.fractions) < 0 or abs(sum(self.fractions) - 1) > 1e-6:
            raise InputError("Expected argument `fractions` to be three non-negative numbers summing to 1, "
                             f"but got {list(self.fractions)}")

    def _check_reference(self) -> None:
        """The sources and ranks of a ``reference_format`` (none without one)."""
        if self.reference_format not in SOURCES:
            raise InputError(f"Expected argument `reference_format` to be one of {list(SOURCES)[1:]}, but got "
                             f"{self.reference_format!r}")
        given = tuple(key for key in ("fasta", "labels", "table", "taxonomy") if getattr(self, key) is not None)
        if self.reference_format is None and (self.ranks or self.taxonomy is not None):
            raise InputError(f"Expected `ranks` and `taxonomy` only with a `reference_format`, but got "
                             f"ranks={self.ranks}, taxonomy={self.taxonomy}")
        if self.reference_format is None:
            return
        options = SOURCES[self.reference_format]
        if given not in options:
            raise InputError(f"Expected reference_format {self.reference_format!r} to read "
                             f"{' or '.join(' + '.join(option) for option in options)}, but got "
                             f"{' + '.join(given) or 'no source'}")
        known = None if self.reference_format == "table" else RANKS
        bad = [rank for rank in self.ranks if rank in COLUMNS or (known and rank not in known)]
        if bad or len(set(self.ranks)) != len(self.ranks) or (known is None and not self.ranks):
            raise InputError(f"Expected argument `ranks` to be distinct ranks{'' if known else ' (required)'} "
                             f"of {list(known) if known else 'the table'}, none of {COLUMNS}, but got {self.ranks}")
        if self.ranks and self.label_column not in self.ranks:
            raise InputError(f"Expected argument `label_column` to be one of the ranks {self.ranks}, but got "
                             f"{self.label_column!r}")

    def _check_novel_rank(self) -> None:
        """``novel_rank`` names one of ``ranks`` and comes with a ``novel_classes`` share (None: no check)."""
        if self.novel_rank is None:
            return
        if self.novel_rank not in self.ranks:
            raise InputError(f"Expected argument `novel_rank` to be one of the ranks {self.ranks} (a "
                             f"`reference_format` with `ranks`), but got {self.novel_rank!r}")
        if not self.novel_classes:
            raise InputError(f"Expected argument `novel_classes` to be > 0 with novel_rank {self.novel_rank!r}, "
                             f"but got {self.novel_classes}")


def load_records(cfg: PrepareConfig) -> pd.DataFrame:
    """Read the raw records as a table with ``id``, ``sequence``, ``label`` and the kept extra columns.

    Raises:
        InputError: on a missing column or id, a duplicate id, or an unreadable file.
    """
    wanted = [cfg.label_column, *cfg.ranks, *cfg.extra_columns] + ([cfg.group_column] if cfg.group_column else [])
    if cfg.reference_format in READERS:
        table, source = _read_reference(cfg, wanted)
    elif cfg.table is not None:
        table = read_table(cfg.table, (cfg.sequence_column, *wanted), cfg.id_column)
        source = str(cfg.table)
    else:
        table = _join_fasta(cfg, wanted)
        source = f"{cfg.fasta} + {cfg.labels}"
    ranks = table.attrs.get("ranks", cfg.ranks)
    if cfg.reference_format:
        conflicts = _resolve_lineages(table, ranks, cfg, source)
    out = pd.DataFrame({"id": table[cfg.id_column], "sequence": table[cfg.sequence_column],
                        "label": table[cfg.label_column].str.strip()})
    for col in dict.fromkeys([*ranks, *wanted[1:]]):
        out[col] = table[col]
    out.attrs["source"] = source
    out.attrs["join_reasons"] = table.attrs.get("join_reasons", {})
    if cfg.reference_format:
        out.attrs["lineages"] = {"reference_format": cfg.reference_format, "ranks": list(ranks),
                                 "lineage_conflicts": conflicts}
    return out


def _read_reference(cfg: PrepareConfig, wanted: list[str]) -> tuple[pd.DataFrame, str]:
    """A SINTAX, QIIME 2 or RDP reference as a table: id, sequence and one column per rank (``""``: missing).

    Without ``ranks``, the ranks that some record names are kept, top down.
    """
    sources = [path for path in (cfg.fasta, cfg.labels, cfg.taxonomy) if path is not None]
    records = READERS[cfg.reference_format](*sources)
    ranks = list(cfg.ranks) or present_ranks(rec.lineage for rec in records)
    source = " + ".join(map(str, sources))
    missing = [col for col in wanted if col not in ranks]
    if missing:
        raise InputError(f"{source}: no rank(s) {missing} in the {cfg.reference_format} lineages; the ranks are "
                         f"{ranks}")
    table = records_to_table(records, ranks, cfg.id_column, cfg.sequence_column)
    table.attrs["ranks"] = ranks
    return table, source


def _resolve_lineages(table: pd.DataFrame, ranks: list[str], cfg: PrepareConfig, source: str) -> dict:
    """Give identical sequences with conflicting lineages their lowest common ancestor, in place; the report."""
    conflicts = resolve_table_lineages(table, ranks, Alphabet.from_name(cfg.alphabet).clean, cfg.id_column,
                                       cfg.sequence_column)
    if conflicts.n_sequences:
        first = conflicts.examples[0]
        log.warning("%s: %d identical sequences (%d records) carry conflicting lineages; each is given their "
                    "lowest common ancestor, e.g. %s: %s -> %s", source, conflicts.n_sequences,
                    conflicts.n_records, ", ".join(first["ids"]), " vs ".join(first["lineages"]),
                    first["common_ancestor"])
    return conflicts.as_dict()


def _join_fasta(cfg: PrepareConfig, wanted: list[str]) -> pd.DataFrame:
    records = read_fasta(cfg.fasta, keep_problems=cfg.on_invalid == "skip")  # skip: excluded with the problem
    labels = read_table(cfg.labels, tuple(wanted), cfg.id_column).set_index(cfg.id_column, drop=False)
    fasta_ids = [r.id for r in records]
    missing = [i for i in fasta_ids if i not in labels.index]
    if missing and cfg.on_invalid == "error":
        raise InputError(f"{cfg.labels}: record {missing[0]!r} of {cfg.fasta} has no row "
                         f"({len(missing)} FASTA ids missing from the label table)")
    known = set(fasta_ids)
    extra = [i for i in labels.index if i not in known]
    if extra and cfg.on_invalid == "error":
        raise InputError(f"{cfg.fasta}: record {extra[0]!r} of {cfg.labels} has no sequence "
                         f"({len(extra)} table ids missing from the FASTA file)")
    # on_invalid = "skip": both kinds of unmatched id stay in the table, excluded with their reason.
    table = labels.reindex(fasta_ids).fillna("")
    table[cfg.id_column] = fasta_ids
    table[cfg.sequence_column] = [r.sequence for r in records]
    table = pd.concat([table, labels.loc[extra].assign(**{cfg.sequence_column: ""})]).reset_index(drop=True)
    table.attrs["join_reasons"] = {**dict.fromkeys(missing, "no row in the label table"),
                                   **dict.fromkeys(extra, "no sequence in the FASTA file"),
                                   **{r.id: f"invalid: {r.problem}" for r in records if r.problem}}
    return table


def check_records(records: pd.DataFrame, cfg: PrepareConfig, alphabet: Alphabet) -> pd.Series:
    """Clean sequences in place and return the exclusion reason of each record (``""`` when usable).

    Raises:
        InputError: under ``on_invalid = "error"``, for the first invalid record.
    """
    reasons = pd.Series("", index=records.index, dtype=object)
    cleaned = records["sequence"].map(alphabet.clean)
    joined = records.attrs.get("join_reasons", {})
    for i, seq in cleaned.items():
        problem = joined.get(records.at[i, "id"]) or _record_problem(seq, records.at[i, "label"], cfg, alphabet)
        if problem and problem.startswith("invalid") and cfg.on_invalid == "error":
            raise InputError(f"{records.attrs.get('source', cfg.name)}: record {records.at[i, 'id']!r}: {problem}")
        reasons[i] = problem
    records["sequence"] = cleaned
    get_task(cfg.task).check_labels(records["label"], cfg.label_column)
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
    if label in MISSING_LABELS:
        return f"missing label {label!r} in column {cfg.label_column!r}"
    return get_task(cfg.task).label_problem(seq, label, cfg)


def exclude_rare(records: pd.DataFrame, reasons: pd.Series, cfg: PrepareConfig) -> None:
    """Subsample to ``max_records`` (seeded), then let the task exclude what has fewer than ``min_per_class`` records.

    The labels the task trims from label sets are kept in ``records.attrs["dropped_labels"]``.
    """
    usable = reasons == ""
    if cfg.max_records and usable.sum() > cfg.max_records:
        rng = np.random.default_rng(cfg.seed)
        idx = records.index[usable]
        drop = rng.choice(idx, size=len(idx) - cfg.max_records, replace=False)
        reasons[drop] = f"not sampled (max_records {cfg.max_records})"
        usable = reasons == ""
    labels = records["label"].copy()
    dropped = get_task(cfg.task).exclude_rare(labels, usable, reasons, cfg.min_per_class, cfg.label_separator)
    records["label"] = labels
    records.attrs["dropped_labels"] = dropped


def make_groups(records: pd.DataFrame, cfg: PrepareConfig) -> np.ndarray:
    """Group ids: identical sequences, plus the group column, plus homology clusters for residue tasks."""
    keys = [splits.group_identical(records["sequence"].tolist())]
    if cfg.group_column:
        keys.append(records[cfg.group_column].replace("", None).to_numpy())
    if get_task(cfg.task).homology_groups:
        keys.append(clusters.cluster_sequences(records["id"].tolist(), records["sequence"].tolist(),
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
        raise InputError(f"data set {cfg.name!r} ({records.attrs['source']}): only {usable.sum()} usable "
                         "records; need at least 3")
    kept = records[usable].reset_index(drop=True)
    groups = make_groups(kept, cfg)
    task = get_task(cfg.task)
    split = _split_known_and_novel(kept, groups, task.stratification_labels(kept["label"].tolist()), cfg)
    leakage = leakage_report(kept, split, cfg) if task.homology_groups else None
    leaks = leakage.pop("reasons", {}) if leakage else {}
    if leaks:  # the search found what the clustering's prefilter missed: exclude those chains
        split = split.astype(object)  # room for the longer name
        for pos, reason in leaks.items():
            split[pos], reasons.loc[records.index[usable][pos]] = EXCLUDED, reason
    records["group"] = -1
    records["split"] = EXCLUDED
    records.loc[usable, "group"] = groups
    records.loc[usable, "split"] = split
    records["reason"] = reasons
    extras = [c for c in records.columns if c not in COLUMNS]
    table = records[COLUMNS + extras]
    evaluated = split != EXCLUDED
    summary = _summary(table, kept[evaluated], groups[evaluated], split[evaluated], cfg)
    if leakage is not None:
        summary["leakage"] = leakage
    summary.update(records.attrs.get("lineages", {}))
    return table, summary


LEAK_REASON = "homologous to a training chain (leakage check)"


def leakage_report(kept: pd.DataFrame, split: np.ndarray, cfg: PrepareConfig) -> dict:
    """Search every valid and test chain against the training chains (mmseqs2) and count the leaks.

    A leak is a hit with ≥ ``cluster_identity`` identity over ≥ ``cluster_coverage`` of the held-out chain's
    length (``--cov-mode 2``), the definition the homology split promises to respect. The clustering's
    all-against-all search keeps ``max_seqs`` prefilter hits per chain, so a separate search can still find
    a few; :func:`prepare_dataset` excludes those chains with the reason in ``reasons`` (position → text).
    Without mmseqs on PATH the check is recorded as skipped, never as passed.
    """
    report = {"min_seq_id": cfg.cluster_identity, "coverage_of_held_out": cfg.cluster_coverage}
    if not tools.is_installed("mmseqs2"):
        log.warning(tools.skip_message("mmseqs2", "the leakage check of the homology split is skipped"))
        return {**report, "checked": 0, "leaked": None, "skipped": tools.not_run_reason("mmseqs2")}
    seqs, ids = kept["sequence"].to_numpy(), kept["id"].to_numpy()
    held_out = np.flatnonzero(np.isin(split, ["valid", "test"]))
    train = np.flatnonzero(split == "train")
    hits = clusters.check_leakage(seqs[held_out].tolist(), seqs[train].tolist(), min_seq_id=cfg.cluster_identity,
                                coverage=cfg.cluster_coverage, threads=cfg.threads, cov_mode=2)
    reasons = {}
    for hit in sorted(hits, key=lambda h: -h.identity):  # the closest training chain names the reason
        pos = int(held_out[hit.query_index])
        reasons.setdefault(pos, f"{LEAK_REASON}: {hit.identity:.0%} identity over {hit.coverage:.0%} of its "
                                f"length to {ids[train[hit.target_index]]}; excluded from {split[pos]}")
    leaked = sorted(reasons)
    return {**report, "checked": int(len(held_out)), "leaked": len(leaked),
            "leaked_ids": ids[leaked].tolist()[:20], "excluded": len(leaked),
            "worst_identity": max((h.identity for h in hits), default=None), "reasons": reasons}


def _summary(table: pd.DataFrame, kept: pd.DataFrame, groups: np.ndarray, split: np.ndarray,
             cfg: PrepareConfig) -> dict:
    task = get_task(cfg.task)
    grouping = ["identical sequences"]
    if cfg.group_column:
        grouping.append(f"column {cfg.group_column!r}")
    if task.homology_groups:
        grouping.append(f"homology clusters (≥{cfg.cluster_identity:.0%} identity)")
    summary = splits.summarize_splits(split, task.summary_labels(kept["label"]), groups)
    if cfg.novel_classes:
        summary.update(_novel_summary(kept, groups, split, cfg))
    summary.update(task.split_summary(kept["label"], split, table.attrs.get("dropped_labels", {})))
    excluded = (table.loc[table["split"] == EXCLUDED, "reason"]
                .str.replace(r"class has \d+ records", "class has too few records", regex=True)
                .str.replace(f"{re.escape(LEAK_REASON)}:.*", LEAK_REASON, regex=True))
    summary.update({
        "dataset": cfg.name, "task": cfg.task, "label_column": cfg.label_column,
        "grouping": " + ".join(grouping), "n_input": int(len(table)), "excluded": int(len(excluded)),
        "excluded_reasons": {k: int(v) for k, v in excluded.value_counts().items()},
        "seed": cfg.seed,
    })
    return summary


def _split_known_and_novel(kept: pd.DataFrame, groups: np.ndarray, labels: list | None,
                           cfg: PrepareConfig) -> np.ndarray:
    """Mark the records of held-out classes (``novel_classes``) as split "novel"; split the rest by group.

    The classes are those of the label, or the taxa at ``novel_rank``; a record without a name at that rank
    is never held out.
    """
    novel = np.zeros(len(kept), dtype=bool)
    if cfg.novel_classes:
        taxa = kept[cfg.novel_rank or "label"]
        named = taxa != ""
        try:
            held_out = hold_out_classes(taxa[named].tolist(), cfg.novel_classes, cfg.seed)
        except ValueError as err:
            at_rank = f" at rank {cfg.novel_rank!r}" if cfg.novel_rank else ""
            raise InputError(f"data set {cfg.name!r}: novel_classes {cfg.novel_classes}{at_rank}: {err}") from None
        novel = (named & taxa.isin(held_out)).to_numpy()
    split = np.full(len(kept), NOVEL, dtype=object)
    known = None if labels is None else [lab for lab, out in zip(labels, novel, strict=True) if not out]
    split[~novel] = splits.assign_splits(groups[~novel], known, fractions=tuple(cfg.fractions), seed=cfg.seed)
    return split.astype(str)


def _novel_summary(kept: pd.DataFrame, groups: np.ndarray, split: np.ndarray, cfg: PrepareConfig) -> dict:
    """The held-out classes; straddling groups counted over train/valid/test only.

    A novel record can share its group (e.g. an identical barcode) with a record of a known class: such
    groups are counted apart, as ``novel_groups_shared_with_known``, since no model can tell them apart.
    """
    novel = split == NOVEL
    known = splits.summarize_splits(split[~novel], kept["label"].to_numpy()[~novel], groups[~novel])
    summary = {"novel_fraction": cfg.novel_classes, "novel_classes": sorted(set(kept["label"][novel])),
               "groups_straddling_splits": known["groups_straddling_splits"],
               "novel_groups_shared_with_known": len(set(groups[novel]) & set(groups[~novel]))}
    if cfg.novel_rank:  # whole taxa at a rank held out: which, and how many records they take
        taxa = sorted(set(kept[cfg.novel_rank][novel]))
        summary.update({"novel_rank": cfg.novel_rank, "novel_taxa": taxa, "n_novel_taxa": len(taxa),
                        "n_novel_records": int(novel.sum())})
    return summary
