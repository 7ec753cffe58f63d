"""Identity of each test sequence to its closest training sequence: the bins of TAXXI's cross-validation by identity.

Edgar (2018, *PeerJ* 6:e4652) judges taxonomy classifiers by how far a query is from the reference: a query
identical to a training sequence is easy, one 90 % identical needs the classifier to generalise. The identity is
that of a global alignment to the closest training sequence, as ``vsearch --usearch_global`` reports it
(``--id 0.5``: pairs below 50 % count as 0; ``--maxaccepts 8 --maxrejects 64`` look past the first hit, since
the k-mer ordering vsearch uses does not always put the closest sequence first). :func:`nearest_identity`
runs it; :func:`seqxent.metrics.taxonomy.rates_by_identity` bins the queries (100, 99, 97, 95, 90 %, below).
Without vsearch nothing is computed and the report says why.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from seqxent import tools
from seqxent.data.io import write_fasta


def nearest_identity(train: Sequence[str], queries: Sequence[str], threads: int = 1) -> np.ndarray:
    """Global-alignment identity of each query to its closest training sequence (0 below 50 % or no hit).

    Raises:
        seqxent.tools.ToolMissingError: when vsearch is not installed.
        RuntimeError: when vsearch fails (with the end of its error output).
    """
    tools.require("vsearch", "the identity bins of `seqxent evaluate`")
    identity = np.zeros(len(queries), dtype=np.float64)
    with tempfile.TemporaryDirectory(prefix="seqxent-identity-") as folder:
        db, query, hits = Path(folder, "train.fa"), Path(folder, "query.fa"), Path(folder, "hits.tsv")
        write_fasta(db, ((f"t{i}", seq) for i, seq in enumerate(train)))
        write_fasta(query, ((f"q{i}", seq) for i, seq in enumerate(queries)))
        command = ["vsearch", "--usearch_global", str(query), "--db", str(db), "--id", "0.5", "--maxaccepts", "8",
                   "--maxrejects", "64", "--userout", str(hits), "--userfields", "query+id", "--strand", "plus",
                   "--threads", str(threads), "--quiet"]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"Expected `{' '.join(command)}` to exit with 0, but got {done.returncode}: "
                               f"{done.stderr[-2000:]}")
        for line in hits.read_text().splitlines():
            name, value = line.split("\t")
            i = int(name[1:])
            identity[i] = max(identity[i], float(value) / 100.0)
    return identity
