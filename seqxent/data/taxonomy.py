"""Taxonomic lineages of reference sequences: a name (or none) per rank, and the common ancestor of two lineages.

A :class:`Lineage` holds a fixed tuple of ranks, top down, and for each rank a name or ``None`` (a missing rank:
a SINTAX header that leaves it out, an empty ``g__`` in QIIME 2, a genus placed directly under its order as
*incertae sedis*). Names are kept exactly as the reference writes them, quotes included: RDP writes
``"Proteobacteria"`` for a name not validly published, and its classifier's output keeps the quotes, so a
model trained on RDP's files names its classes as RDP does. ``/``, ``_`` and ``_incertae_sedis`` are part of
the name too.

A reference may give identical sequences different lineages. :func:`resolve_conflicts` gives every record of
such a sequence the lowest common ancestor of its lineages: the ranks above the first disagreement are kept,
that rank and all below it become missing. A missing rank against a named one counts as a disagreement (the
common ancestor of ``Bacillaceae; Bacillus`` and ``Bacillaceae; -`` is ``Bacillaceae``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

# The ranks of SINTAX (letters d k p c o f g s t) and QIIME 2 (prefixes d__ k__ p__ ...), top down. RDP's own
# ranks map onto them by name (rootrank, subclass and suborder have no place here and are dropped).
RANKS = ("domain", "kingdom", "phylum", "class", "order", "family", "genus", "species", "strain")
#: SINTAX's letter of each rank (QIIME 2's prefix is the letter and ``__``).
RANK_LETTERS = dict(zip(RANKS, "dkpcofgst", strict=True))
# Number of conflicting sequences shown (ids, lineages, common ancestor) in the summary and the log.
MAX_EXAMPLES = 5


@dataclass(frozen=True)
class Lineage:
    """A name or ``None`` for each rank of ``ranks`` (top down).

    Example:
        >>> ranks = ("domain", "order", "genus")
        >>> lin = Lineage.from_pairs([("genus", "Bacillus"), ("domain", "Bacteria")], ranks=ranks)
        >>> lin.names, lin.get("order"), str(lin)
        (('Bacteria', None, 'Bacillus'), None, 'domain:Bacteria; genus:Bacillus')
    """

    ranks: tuple[str, ...]
    names: tuple[str | None, ...]

    def __post_init__(self):
        if len(self.ranks) != len(self.names):
            raise ValueError(f"Expected one name per rank, but got {len(self.names)} names for ranks {self.ranks}")
        if len(set(self.ranks)) != len(self.ranks):
            raise ValueError(f"Expected distinct ranks, but got {self.ranks}")

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str | None]], ranks: Sequence[str] = RANKS) -> Lineage:
        """Build a lineage from ``(rank, name)`` pairs in any order; ranks not named are missing.

        Raises:
            ValueError: for a rank outside ``ranks`` or a rank named twice (the message names the rank).
        """
        by_rank: dict[str, str | None] = {}
        for rank, name in pairs:
            if rank not in ranks:
                raise ValueError(f"unknown rank {rank!r} (expected one of {', '.join(ranks)})")
            if rank in by_rank:
                raise ValueError(f"rank {rank!r} given twice")
            by_rank[rank] = name or None
        return cls(tuple(ranks), tuple(by_rank.get(rank) for rank in ranks))

    def get(self, rank: str) -> str | None:
        """The name at ``rank``, or ``None`` when the rank is missing.

        Raises:
            ValueError: when ``rank`` is not one of :attr:`ranks`.
        """
        if rank not in self.ranks:
            raise ValueError(f"Expected argument `rank` to be one of {list(self.ranks)}, but got {rank!r}")
        return self.names[self.ranks.index(rank)]

    def select(self, ranks: Sequence[str]) -> Lineage:
        """The same lineage over ``ranks`` only, in that order (each one of :attr:`ranks`)."""
        return Lineage(tuple(ranks), tuple(self.get(rank) for rank in ranks))

    def common_ancestor(self, other: Lineage) -> Lineage:
        """The lowest common ancestor: equal names down to the first rank where the two differ, then missing.

        Example:
            >>> ranks = ("phylum", "class", "genus")
            >>> a = Lineage(ranks, ("Firmicutes", "Bacilli", "Bacillus"))
            >>> a.common_ancestor(Lineage(ranks, ("Firmicutes", None, "Bacillus"))).names
            ('Firmicutes', None, None)
        """
        if other.ranks != self.ranks:
            raise ValueError(f"Expected lineages over the same ranks, but got {self.ranks} and {other.ranks}")
        names: list[str | None] = []
        for mine, theirs in zip(self.names, other.names, strict=True):
            if mine != theirs:
                break
            names.append(mine)
        return Lineage(self.ranks, tuple(names) + (None,) * (len(self.ranks) - len(names)))

    def __str__(self) -> str:
        named = [f"{rank}:{name}" for rank, name in zip(self.ranks, self.names, strict=True) if name is not None]
        return "; ".join(named) if named else "(no rank)"


@dataclass(frozen=True)
class TaxonRecord:
    """A reference record: its id, its raw sequence and its lineage."""

    id: str
    sequence: str
    lineage: Lineage


@dataclass(frozen=True)
class LineageConflicts:
    """Identical sequences that carried different lineages, each resolved to their lowest common ancestor.

    ``n_sequences`` distinct sequences, carried by ``n_records`` records in all; ``examples`` holds the first
    :data:`MAX_EXAMPLES` (in input order) as ``{"ids", "lineages", "common_ancestor"}``.
    """

    n_sequences: int = 0
    n_records: int = 0
    examples: tuple[dict, ...] = ()

    def as_dict(self) -> dict:
        """The report as plain JSON-ready values."""
        return {"n_sequences": self.n_sequences, "n_records": self.n_records, "examples": list(self.examples)}


def present_ranks(lineages: Iterable[Lineage], ranks: Sequence[str] = RANKS) -> list[str]:
    """The ranks of ``ranks`` that at least one lineage names, in the order of ``ranks``.

    Example:
        >>> present_ranks([Lineage.from_pairs([("genus", "Bacillus")]), Lineage.from_pairs([("domain", "Bacteria")])])
        ['domain', 'genus']
    """
    named = {rank for lin in lineages for rank, name in zip(lin.ranks, lin.names, strict=True) if name is not None}
    return [rank for rank in ranks if rank in named]


def resolve_conflicts(records: Sequence[TaxonRecord],
                      key: Callable[[str], str] = str.upper) -> tuple[list[TaxonRecord], LineageConflicts]:
    """Give every record of a sequence that carries several lineages their lowest common ancestor.

    Args:
        records: reference records, their lineages over the same ranks.
        key: the form in which two sequences count as identical (e.g. ``Alphabet.clean``: upper case, no gaps).
            Records whose key is empty are left alone.

    Returns:
        The records (same order, resolved lineages) and the report of the conflicts.

    Example:
        >>> ranks = ("family", "genus")
        >>> recs = [TaxonRecord("a", "ACGT", Lineage(ranks, ("Bacillaceae", "Bacillus"))),
        ...         TaxonRecord("b", "acgt", Lineage(ranks, ("Bacillaceae", "Geobacillus")))]
        >>> resolved, report = resolve_conflicts(recs)
        >>> [str(r.lineage) for r in resolved], report.n_sequences, report.n_records
        (['family:Bacillaceae', 'family:Bacillaceae'], 1, 2)
    """
    by_key: dict[str, list[int]] = {}
    for i, record in enumerate(records):
        seq_key = key(record.sequence)
        if seq_key:
            by_key.setdefault(seq_key, []).append(i)
    resolved = list(records)
    examples, n_sequences, n_records = [], 0, 0
    for members in by_key.values():
        lineages = list(dict.fromkeys(records[i].lineage for i in members))
        if len(lineages) < 2:
            continue
        ancestor = lineages[0]
        for lineage in lineages[1:]:
            ancestor = ancestor.common_ancestor(lineage)
        for i in members:
            resolved[i] = TaxonRecord(records[i].id, records[i].sequence, ancestor)
        n_sequences, n_records = n_sequences + 1, n_records + len(members)
        if len(examples) < MAX_EXAMPLES:
            examples.append({"ids": [records[i].id for i in members], "lineages": [str(lin) for lin in lineages],
                             "common_ancestor": str(ancestor)})
    return resolved, LineageConflicts(n_sequences, n_records, tuple(examples))
