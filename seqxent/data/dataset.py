"""The prepared data set file (``results/<name>/dataset.tsv.gz``): write, read, and select a split.

The file is self-describing: its first line is ``#seqxent {json}`` with the data set name, task, alphabet,
label column and classes; the rest is a TSV with the columns of :data:`seqxent.prepare.build.COLUMNS`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from seqxent.data.alphabet import Alphabet
from seqxent.data.batching import Example, encode_examples
from seqxent.data.io import atomic_write, open_text
from seqxent.data.labels import label_counts
from seqxent.errors import InputError

HEADER = "#seqxent "
SPLITS = ("train", "valid", "test")
# Canonical class orders of the secondary-structure alphabets (PSIPRED writes C, H, E; DSSP orders H … C).
CANONICAL_ORDERS = ("HEC", "HGIEBTSC")


@dataclass
class PreparedData:
    """A prepared data set: its description and the table of all records."""

    name: str
    task: str
    alphabet: Alphabet
    label_column: str
    table: pd.DataFrame

    def split(self, name: str) -> pd.DataFrame:
        """Rows of one split (``train``, ``valid`` or ``test``)."""
        if name not in SPLITS:
            raise InputError(f"Expected argument `split` to be one of {list(SPLITS)}, but got {name!r}")
        return self.table[self.table["split"] == name]

    def classes(self) -> list[str]:
        """Class names seen in the training split, in a fixed order (sorted, or H E C … for residues).

        For multilabel tasks: every label of a training record's label set, sorted.
        """
        labels = self.split("train")["label"]
        if self.task == "sequence":
            return sorted(set(labels))
        if self.task == "multilabel":
            return sorted(label_counts(labels))
        seen = set("".join(labels))
        for order in CANONICAL_ORDERS:
            if seen <= set(order):
                return list(order)
        return sorted(seen)

    def class_counts(self, classes: list[str]) -> np.ndarray:
        """Training-split count of each class (residues for residue tasks, records carrying it for multilabel)."""
        labels = self.split("train")["label"]
        if self.task == "sequence":
            counts = labels.value_counts()
        elif self.task == "multilabel":
            counts = label_counts(labels)
        else:
            counts = pd.Series(list("".join(labels))).value_counts()
        return np.array([int(counts.get(c, 0)) for c in classes])

    def examples(self, split: str, classes: list[str]) -> list[Example]:
        """Encoded examples of one split."""
        rows = self.split(split)
        return encode_examples(rows["id"].tolist(), rows["sequence"].tolist(), rows["label"].tolist(),
                               self.alphabet, classes, self.task)


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
        table = pd.read_csv(handle, sep="\t", dtype=str, keep_default_na=False, na_filter=False)
    missing = {"id", "sequence", "label", "split"} - set(table.columns)
    if missing:
        raise InputError(f"{path}: missing column(s) {sorted(missing)}")
    return PreparedData(meta["name"], meta["task"], Alphabet.from_name(meta["alphabet"]), meta["label_column"],
                        table)
