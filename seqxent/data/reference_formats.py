r"""Readers of the reference formats of barcode classifiers: SINTAX, QIIME 2, RDP, and a table of rank columns.

Each reader returns :class:`~seqxent.data.taxonomy.TaxonRecord`\ s (id, raw sequence, lineage over
:data:`~seqxent.data.taxonomy.RANKS`) in file order, and raises :class:`~seqxent.errors.InputError` naming the
file, the record and the problem (an unknown rank, a taxon the RDP taxonomy lacks, a record without a lineage,
a duplicate id).

- SINTAX (vsearch, USEARCH): one FASTA, the lineage in the header,
  ``>id;tax=d:Bacteria,p:Firmicutes,g:Bacillus,s:Bacillus_subtilis;`` (rank letters ``d k p c o f g s t``; a
  missing rank is left out, ``g:`` with no name is missing too).
- QIIME 2 (``FeatureData[Taxonomy]``): a FASTA and a TSV ``id<TAB>d__Bacteria; p__Firmicutes; g__`` without a
  header row, or with QIIME's ``Feature ID<TAB>Taxon[<TAB>Confidence]`` one. An empty level (``g__``) is
  missing; ``Unassigned`` is a lineage without any rank. SILVA 132's ``D_0__`` … ``D_6__`` prefixes are read as
  domain … species. Taxonomy rows without a sequence are ignored, as QIIME does.
- RDP classifier training files: a FASTA with headers ``>id<TAB>Root;Bacteria;"Firmicutes";…;Bacillus`` and the
  taxonomy ``taxid*name*parent_taxid*depth*rank``. The path is followed from the root through the taxonomy
  (a name may occur at two ranks, e.g. ``"Chloroflexi"`` as phylum and class), and each name takes the rank of
  its node; ranks outside ``RANKS`` (rootrank, subclass, suborder) are dropped.
- A table with one column per rank (BOLD, UNITE exports): read by :func:`seqxent.data.io.read_table` (with
  the sequences or joined to a FASTA), then :func:`lineages_from_table`; an empty cell is a missing rank.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seqxent.data.io import iter_fasta, open_text, read_fasta
from seqxent.data.taxonomy import RANK_LETTERS, RANKS, Lineage, LineageConflicts, TaxonRecord, resolve_conflicts
from seqxent.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

SINTAX_RANKS = {letter: rank for rank, letter in RANK_LETTERS.items()}
QIIME_RANKS = {f"{letter}__": rank for letter, rank in SINTAX_RANKS.items()} | {
    f"D_{level}__": rank for level, rank in enumerate(("domain", "phylum", "class", "order", "family", "genus",
                                                        "species"))}
_QIIME_LEVEL = re.compile(r"^([A-Za-z]__|D_\d+__)(.*)$")


def read_sintax(fasta: Path | str) -> list[TaxonRecord]:
    """Read a SINTAX reference: the id is the header up to the first ``;``, the lineage its ``tax=`` field.

    Raises:
        InputError: for a header without ``tax=``, an unknown rank letter, a rank named twice, an empty
            lineage or a duplicate id (naming the file and the record).
    """
    records, seen = [], set()
    for number, rec in enumerate(iter_fasta(fasta), start=1):
        words = rec.description.split(";", 1)[0].split()
        if not words:
            raise InputError(f"{fasta}: record {number}: no id before ';' in the header {rec.description!r}")
        rid = words[0]
        try:
            lineage = parse_sintax(rec.description)
        except ValueError as err:
            raise InputError(f"{fasta}: record {rid!r}: {err}") from None
        if rid in seen:
            raise InputError(f"{fasta}: record {rid!r}: duplicate id")
        seen.add(rid)
        records.append(TaxonRecord(rid, rec.sequence, lineage))
    return records


def parse_sintax(header: str) -> Lineage:
    """The lineage of a SINTAX header (the text after ``>``).

    Raises:
        ValueError: naming the problem (no ``tax=`` field, an item that is not ``rank:name``, an unknown rank
            letter, a rank given twice, no name at all).

    Example:
        >>> str(parse_sintax('X1;tax=d:Bacteria,p:"Firmicutes",g:Bacillus;'))
        'domain:Bacteria; phylum:"Firmicutes"; genus:Bacillus'
    """
    fields = [part.strip()[4:] for part in header.split(";")[1:] if part.strip().startswith("tax=")]
    if len(fields) != 1:
        raise ValueError(f"expected one ';tax=' field in the header, got {len(fields)}: {header!r}")
    pairs = []
    for item in filter(None, (part.strip() for part in fields[0].split(","))):
        letter, colon, name = item.partition(":")
        if not colon:
            raise ValueError(f"taxon {item!r} is not rank:name")
        if letter not in SINTAX_RANKS:
            raise ValueError(f"unknown rank letter {letter!r} in {item!r} "
                             f"(expected one of {', '.join(SINTAX_RANKS)})")
        pairs.append((SINTAX_RANKS[letter], name.strip()))
    return _named(Lineage.from_pairs(pairs), fields[0])


def _named(lineage: Lineage, text: str) -> Lineage:
    if all(name is None for name in lineage.names):
        raise ValueError(f"no taxon in the lineage {text!r} (a record without a lineage)")
    return lineage


def read_qiime(fasta: Path | str, taxonomy: Path | str) -> list[TaxonRecord]:
    """Read a QIIME 2 reference: the sequences (FASTA) and their lineages (taxonomy TSV), joined on the id.

    Raises:
        InputError: as :func:`read_qiime_taxonomy`, for a duplicate FASTA id, or for a record without a row in
            the taxonomy (a record without a lineage).
    """
    lineages = read_qiime_taxonomy(taxonomy)
    records = []
    for rec in read_fasta(fasta):
        if rec.id not in lineages:
            raise InputError(f"{fasta}: record {rec.id!r}: no row in the taxonomy {taxonomy} "
                             "(a record without a lineage)")
        records.append(TaxonRecord(rec.id, rec.sequence, lineages[rec.id]))
    return records


def read_qiime_taxonomy(path: Path | str) -> dict[str, Lineage]:
    """Read a QIIME 2 taxonomy TSV (``id<TAB>taxon``, optional ``Feature ID<TAB>Taxon`` header) as id → lineage.

    Raises:
        InputError: naming the line and record, for a row without a taxon, a duplicate id, or a taxon string
            :func:`parse_qiime_taxon` rejects.
    """
    lineages: dict[str, Lineage] = {}
    with open_text(path) as handle:
        for number, line in enumerate(handle, start=1):
            fields = [field.strip() for field in line.rstrip("\n").split("\t")]
            if not any(fields) or fields[0].startswith("#q2:") or (number == 1 and fields[1:2] == ["Taxon"]):
                continue  # blank line, QIIME's type directive, or the header row
            rid = fields[0]
            if len(fields) < 2 or not rid or not fields[1]:
                raise InputError(f"{path}: line {number} (record {rid!r}): expected 'id<TAB>taxon', got {line!r}")
            if rid in lineages:
                raise InputError(f"{path}: line {number}: record {rid!r}: duplicate id")
            try:
                lineages[rid] = parse_qiime_taxon(fields[1])
            except ValueError as err:
                raise InputError(f"{path}: line {number}: record {rid!r}: {err}") from None
    return lineages


def parse_qiime_taxon(text: str) -> Lineage:
    """The lineage of a QIIME 2 taxon string: levels ``x__name`` joined by ``;``; ``Unassigned`` has no rank.

    Raises:
        ValueError: for a level without a known rank prefix, a rank given twice, or no name at all.

    Example:
        >>> str(parse_qiime_taxon("k__Bacteria; p__Firmicutes; c__; g__Bacillus"))
        'kingdom:Bacteria; phylum:Firmicutes; genus:Bacillus'
    """
    if text.strip() == "Unassigned":
        return Lineage(RANKS, (None,) * len(RANKS))
    pairs = []
    for level in filter(None, (part.strip() for part in text.split(";"))):
        match = _QIIME_LEVEL.match(level)
        if match is None or match.group(1) not in QIIME_RANKS:
            raise ValueError(f"level {level!r} has no known rank prefix (expected one of "
                             f"{', '.join(QIIME_RANKS)})")
        pairs.append((QIIME_RANKS[match.group(1)], match.group(2).strip()))
    return _named(Lineage.from_pairs(pairs), text)


@dataclass(frozen=True)
class _Node:
    name: str
    parent: int
    rank: str


class RdpTaxonomy:
    """An RDP taxonomy file (``taxid*name*parent_taxid*depth*rank``, one node a line) as a tree.

    Raises:
        InputError: naming the line, for a line without five fields, a non-integer taxid, parent or depth,
            a duplicate taxid, two children of one node with the same name, a parent not in the file, or a
            file without exactly one root (parent ``-1``).
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.nodes: dict[int, _Node] = {}
        self.children: dict[tuple[int, str], int] = {}
        with open_text(self.path) as handle:
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    self._add(number, line.strip())
        roots = [taxid for taxid, node in self.nodes.items() if node.parent == -1]
        if len(roots) != 1:
            raise InputError(f"{self.path}: expected one root node (parent taxid -1), got {len(roots)}")
        self.root = roots[0]
        orphans = [taxid for taxid, node in self.nodes.items() if node.parent != -1 and node.parent not in self.nodes]
        if orphans:
            raise InputError(f"{self.path}: taxon {orphans[0]} ({self.nodes[orphans[0]].name!r}): parent taxid "
                             f"{self.nodes[orphans[0]].parent} is not in the file")

    def _add(self, number: int, line: str) -> None:
        fields = line.split("*")
        where = f"{self.path}: line {number}"
        if len(fields) != 5:
            raise InputError(f"{where}: expected 5 fields taxid*name*parent_taxid*depth*rank, got {line!r}")
        try:
            taxid, parent, _ = int(fields[0]), int(fields[2]), int(fields[3])
        except ValueError:
            raise InputError(f"{where}: taxid, parent taxid and depth must be integers, got {line!r}") from None
        if taxid in self.nodes:
            raise InputError(f"{where}: taxon {fields[1]!r}: duplicate taxid {taxid}")
        if (parent, fields[1]) in self.children:
            raise InputError(f"{where}: taxon {fields[1]!r}: a second child of taxid {parent} with this name")
        self.nodes[taxid] = _Node(fields[1], parent, fields[4])
        self.children[(parent, fields[1])] = taxid

    def lineage(self, path: Sequence[str]) -> Lineage:
        """The lineage of a path of names from the root (``Root;Bacteria;…``), each name at its node's rank.

        Raises:
            ValueError: naming the first name that is not a child of the one before it (or not the root), a
                rank that occurs twice on the path, or a path without a taxon of a kept rank.
        """
        root = self.nodes[self.root].name
        if not path or path[0] != root:
            raise ValueError(f"the lineage starts with {path[0] if path else ''!r}, not the root {root!r} of "
                             f"the RDP taxonomy {self.path}")
        taxid, pairs = self.root, []
        for name in path[1:]:
            child = self.children.get((taxid, name))
            if child is None:
                raise ValueError(f"taxon {name!r} (under {self.nodes[taxid].name!r}) is not in the RDP "
                                 f"taxonomy {self.path}")
            taxid = child
            if self.nodes[taxid].rank in RANKS:
                pairs.append((self.nodes[taxid].rank, name))
        return _named(Lineage.from_pairs(pairs), ";".join(path))


def read_rdp(fasta: Path | str, taxonomy: Path | str) -> list[TaxonRecord]:
    """Read an RDP training set: FASTA headers ``id<TAB>Root;…;Genus`` placed in the taxonomy file's tree.

    Raises:
        InputError: as :class:`RdpTaxonomy`, for a duplicate id, a header without a lineage, or a name of a
            path that is not in the taxonomy (naming the file, the record and the name).
    """
    tree = RdpTaxonomy(taxonomy)
    records = []
    for rec in read_fasta(fasta):
        text = rec.description[len(rec.id):].strip()
        try:
            lineage = tree.lineage([name.strip() for name in text.split(";") if name.strip()])
        except ValueError as err:
            raise InputError(f"{fasta}: record {rec.id!r}: {err}") from None
        records.append(TaxonRecord(rec.id, rec.sequence, lineage))
    return records


# reference_format -> reader of its source files (the FASTA first, then the taxonomy if the format has one).
READERS: dict[str, Callable[..., list[TaxonRecord]]] = {"sintax": read_sintax, "qiime": read_qiime,
                                                        "rdp": read_rdp}


def lineages_from_table(table: pd.DataFrame, ranks: Sequence[str]) -> list[Lineage]:
    """One lineage per row of a table with a column per rank (values as text; an empty cell is missing).

    Example:
        >>> import pandas as pd
        >>> table = pd.DataFrame({"family": ["Apidae", ""], "genus": [" Osmia", "Bombus"]})
        >>> [lin.names for lin in lineages_from_table(table, ["family", "genus"])]
        [('Apidae', 'Osmia'), (None, 'Bombus')]
    """
    columns = [table[rank].fillna("").astype(str).str.strip() for rank in ranks]
    return [Lineage(tuple(ranks), tuple(name or None for name in row)) for row in zip(*columns, strict=True)]


def records_to_table(records: Sequence[TaxonRecord], ranks: Sequence[str], id_column: str = "id",
                     sequence_column: str = "sequence") -> pd.DataFrame:
    """The records as a table: id, sequence, and a column per rank of ``ranks`` (``""`` for a missing rank).

    Example:
        >>> rec = TaxonRecord("a", "ACGT", Lineage.from_pairs([("genus", "Bacillus")]))
        >>> records_to_table([rec], ["family", "genus"]).to_dict("records")
        [{'id': 'a', 'sequence': 'ACGT', 'family': '', 'genus': 'Bacillus'}]
    """
    import pandas as pd

    table = pd.DataFrame({id_column: [rec.id for rec in records], sequence_column: [rec.sequence for rec in records]})
    for rank in ranks:
        table[rank] = [rec.lineage.get(rank) or "" for rec in records]
    return table


def resolve_table_lineages(table: pd.DataFrame, ranks: Sequence[str], key: Callable[[str], str],
                           id_column: str = "id", sequence_column: str = "sequence") -> LineageConflicts:
    """Rewrite the rank columns of a table in place so that identical sequences share their common ancestor.

    Args:
        table: a table with id, sequence and rank columns (an empty cell is a missing rank).
        ranks: the rank columns, top down.
        key: the form in which two sequences count as identical (see
            :func:`~seqxent.data.taxonomy.resolve_conflicts`).
        id_column: the id column.
        sequence_column: the sequence column.

    Returns:
        The report of the conflicts.
    """
    records = [TaxonRecord(rid, seq, lineage) for rid, seq, lineage in zip(
        table[id_column], table[sequence_column], lineages_from_table(table, ranks), strict=True)]
    resolved, conflicts = resolve_conflicts(records, key=key)
    for j, rank in enumerate(ranks):
        table[rank] = [rec.lineage.names[j] or "" for rec in resolved]
    return conflicts
