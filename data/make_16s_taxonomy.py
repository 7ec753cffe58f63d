"""Build ``16s_taxonomy.tsv``: the lineage (domain → species) of every record of ``16s_refseq.tsv``.

``16s_refseq.tsv`` (id, genus, species, description) is joined to ``16s_lineage.tsv`` (domain → genus, one row
per genus) on ``genus``, as a left join: a record whose genus the lineage table does not name keeps its genus
and species, and its other ranks are empty. Rows keep the order of ``16s_refseq.tsv``; names are copied
exactly as they are (5 RDP names such as ``Bacteroidetes"_incertae_sedis`` keep their stray quote), so the
file is written without any quoting. The sequences stay in ``16s_refseq.fasta.gz``, joined on ``id``.

Run from anywhere (stdlib + pandas); it rewrites ``data/16s_taxonomy.tsv`` and prints the counts of the
README to stderr::

    python data/make_16s_taxonomy.py
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parent
RANKS = ["domain", "phylum", "class", "order", "family", "genus", "species"]
COLUMNS = ["id", *RANKS]


def _read_tsv(path: Path) -> pd.DataFrame:
    """A TSV with every cell as text, empty cells as ``""`` and quotes kept as ordinary characters."""
    return pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_filter=False, quoting=csv.QUOTE_NONE)


def join_taxonomy(refseq: Path, lineage: Path) -> pd.DataFrame:
    """The records of ``refseq`` with the lineage of their genus: columns :data:`COLUMNS`, ``""`` for a gap.

    Raises:
        ValueError: if the lineage table names a genus twice or the join changes the number of records.
    """
    records = _read_tsv(refseq)[["id", "genus", "species"]]
    lineages = _read_tsv(lineage)[RANKS[:-1]]
    if lineages["genus"].duplicated().any():
        raise ValueError(f"{lineage}: genus {lineages['genus'][lineages['genus'].duplicated()].iloc[0]!r} "
                         "has more than one row")
    table = records.merge(lineages, on="genus", how="left", validate="many_to_one", sort=False).fillna("")
    if len(table) != len(records) or not table["id"].equals(records["id"]):
        raise ValueError(f"the join of {refseq} and {lineage} changed the records or their order")
    return table[COLUMNS]


def write_taxonomy(refseq: Path, lineage: Path, output: Path) -> pd.DataFrame:
    """Join (:func:`join_taxonomy`) and write ``output`` as tab-separated UTF-8 with Unix line ends.

    Returns:
        The joined table.
    """
    table = join_taxonomy(refseq, lineage)
    rows = [COLUMNS, *table.itertuples(index=False, name=None)]
    if any("\t" in cell or "\n" in cell for row in rows[1:] for cell in row):
        raise ValueError(f"{refseq} or {lineage}: a name holds a tab or a line break")
    with open(output, "w", encoding="utf-8", newline="\n") as handle:
        handle.writelines("\t".join(row) + "\n" for row in rows)
    return table


def count_taxa(table: pd.DataFrame) -> dict[str, int]:
    """The counts of ``data/README.md``: records, full lineages, genera without lineage, taxa per rank."""
    named = table[RANKS] != ""
    no_lineage = table.loc[~named["domain"], "genus"]
    counts = {"records": len(table), "records with a full lineage": int(named.all(axis=1).sum()),
              "genera without lineage": int(no_lineage.nunique()),
              "records without lineage": int(len(no_lineage))}
    counts.update({f"distinct {rank}": int(table.loc[named[rank], rank].nunique()) for rank in RANKS})
    return counts


def main(argv: list[str] | None = None) -> None:
    """Write the table and print its counts to stderr."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--refseq", type=Path, default=DATA / "16s_refseq.tsv")
    parser.add_argument("--lineage", type=Path, default=DATA / "16s_lineage.tsv")
    parser.add_argument("--output", type=Path, default=DATA / "16s_taxonomy.tsv")
    args = parser.parse_args(argv)
    table = write_taxonomy(args.refseq, args.lineage, args.output)
    for key, value in count_taxa(table).items():
        print(f"{key}: {value:,}", file=sys.stderr)


if __name__ == "__main__":
    main()
