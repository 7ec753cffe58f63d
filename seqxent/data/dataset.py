"""The prepared data set file (``results/<name>/dataset.tsv.gz``): write, read, and select a split.

The file is self-describing: its first line is ``#seqxent {json}`` with the data set name, task, alphabet,
label column and classes; the rest is a TSV with the columns of :data:`seqxent.prepare.build.COLUMNS`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from seqxent.data.alphabet import Alphabet
from seqxent.data.io import atomic_write, open_text
from seqxent.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

HEADER = "#seqxent "
SPLITS = ("train", "valid", "test")
#: The split of the classes (or taxa) held out of training (``seqxent prepare --novel-classes``).
NOVEL = "novel"


@dataclass
class PreparedData:
    """A prepared data set: its description and the table of all records.

    Its task (:func:`seqxent.tasks.get_task` of ``task``) knows its classes and encodes its examples.
    """

    name: str
    task: str
    alphabet: Alphabet
    label_column: str
    table: pd.DataFrame
    #: Rank columns of a reference with lineages, top down (``seqxent prepare --reference-format``); else empty.
    ranks: list[str] = field(default_factory=list)

    def split(self, name: str) -> pd.DataFrame:
        """Rows of one split (``train``, ``valid``, ``test``, or ``novel``: the held-out classes, if any)."""
        if name not in (*SPLITS, NOVEL):
            raise InputError(f"Expected argument `split` to be one of {[*SPLITS, NOVEL]}, but got {name!r}")
        return self.table[self.table["split"] == name]


def write_dataset(table: pd.DataFrame, path: Path | str, meta: dict) -> None:
    """Write the prepared table with its ``#seqxent`` header line, atomically and gzip-compressed."""
    with atomic_write(path, gzip_level=6) as handle:
        handle.write(HEADER + json.dumps(meta, sort_keys=True) + "\n")
        table.to_csv(handle, sep="\t", index=False, lineterminator="\n")


def read_dataset(path: Path | str) -> PreparedData:
    """Read a prepared data set written by :func:`write_dataset`.

    Raises:
        InputError: when the file lacks the ``#seqxent`` header or expected columns.
    """
    with open_text(path) as handle:
        first = handle.readline()
        if not first.startswith(HEADER):
            raise InputError(f"{path}: not a prepared seqxent data set (run `seqxent prepare` first)")
        meta = json.loads(first[len(HEADER):])
        import pandas as pd  # here, not at the top: `seqxent predict` (via the tasks) starts without pandas

        table = pd.read_csv(handle, sep="\t", dtype=str, keep_default_na=False, na_filter=False)
    missing = {"id", "sequence", "label", "split"} - set(table.columns)
    if missing:
        raise InputError(f"{path}: missing column(s) {sorted(missing)}")
    missing = set(meta.get("ranks", [])) - set(table.columns)
    if missing:
        raise InputError(f"{path}: missing rank column(s) {sorted(missing)}")
    return PreparedData(meta["name"], meta["task"], Alphabet.from_name(meta["alphabet"]), meta["label_column"],
                        table, list(meta.get("ranks", [])))
