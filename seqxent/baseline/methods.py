"""One entry point for every baseline and peer: :func:`run_method` trains a method and predicts the queries.

Built-in baselines (:mod:`seqxent.baseline.kmer`) and QIIME 2's naive Bayes classifier
(:mod:`seqxent.baseline.naive_bayes`, the ``qiime_nb`` peer, which needs no external tool) give class
probabilities; peers run through external tools (:mod:`seqxent.baseline.peers`) give a label and a confidence
per query. Both come back as a :class:`MethodResult`, which :mod:`seqxent.baseline.score` scores.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seqxent import tools
from seqxent.baseline import kmer as baselines
from seqxent.baseline.naive_bayes import QiimeNaiveBayes
from seqxent.baseline.peers import BlastTopHit, Peer, RdpClassifier, Sintax


@dataclass
class MethodResult:
    """Predictions of one method on the query sequences, in query order.

    Attributes:
        classes: sorted class names of the training labels (the columns of ``probs``).
        probs: ``(N, C)`` probabilities, or ``None`` for tools that give only a label and a confidence.
        labels: ``(N,)`` predicted labels, ``None`` for skipped queries (count them as errors).
        confidence: ``(N,)`` confidence in [0, 1] (NaN for skipped queries), or ``None`` when unavailable.
        seconds: wall-clock seconds of training plus prediction.
        skipped: query id -> reason, for every query without a label.
        cutoff: the method's own confidence cut-off (``qiime_nb``: classify-sklearn's 0.7), or ``None``.
            ``labels`` are the forced calls whatever their confidence; the scores add the calls at the cut-off.
    """

    classes: list[str]
    probs: np.ndarray | None
    labels: list[str | None]
    confidence: np.ndarray | None
    seconds: float
    skipped: dict[str, str] = field(default_factory=dict)
    cutoff: float | None = None


def _run_model(model, train_x, train_labels, query_x) -> MethodResult:
    start = time.perf_counter()
    probs = model.fit(train_x, train_labels).predict_proba(query_x)
    labels = [model.classes_[i] for i in probs.argmax(axis=1)]
    seconds = time.perf_counter() - start
    return MethodResult(model.classes_, probs, labels, probs.max(axis=1), seconds,
                        cutoff=getattr(model, "cutoff", None))


def _run_peer(peer: Peer, train_seqs, train_labels, query_ids, query_seqs, threads, workdir) -> MethodResult:
    tools.require(peer.tool, f"method `{peer.name}`")
    result = peer.classify(train_seqs, train_labels, query_ids, query_seqs, threads=threads, workdir=workdir)
    conf = [result.confidence[q] for q in query_ids]
    confidence = np.array([np.nan if c is None else c for c in conf], dtype=float)
    return MethodResult(
        sorted({str(y) for y in train_labels}),
        None,
        [result.labels[q] for q in query_ids],
        confidence,
        result.seconds,
        result.skipped,
    )


# method -> factory(k, threads) of a baselines model or a Peer (the CLI offers METHODS as choices).
_METHODS: dict[str, Callable] = {
    "kmer_logreg": lambda k, threads: baselines.KmerLogisticRegression(k=k or 6, threads=threads),
    "kmer_knn": lambda k, threads: baselines.KmerNearestNeighbour(k=k or 8),
    "majority": lambda k, threads: baselines.MajorityClass(),
    "label_lookup": lambda k, threads: baselines.LabelLookup(),
    "qiime_nb": lambda k, threads: QiimeNaiveBayes(threads=threads),  # QIIME 2's fixed 7-mers: k ignored
    "sintax": lambda k, threads: Sintax(),
    "blastn": lambda k, threads: BlastTopHit(),
    "rdp": lambda k, threads: RdpClassifier(),
}
METHODS = tuple(_METHODS)


def run_method(
    method: str,
    train_seqs: Sequence[str],
    train_labels: Sequence,
    query_ids: Sequence[str],
    query_seqs: Sequence[str],
    *,
    k: int | None = None,
    threads: int = 1,
    workdir: str | Path | None = None,
    train_keys: Sequence | None = None,
    query_keys: Sequence | None = None,
) -> MethodResult:
    """Train ``method`` on the training split and predict the queries.

    Args:
        method: one of :data:`METHODS`.
        train_seqs: training sequences.
        train_labels: training labels.
        query_ids: unique query ids (keys of ``MethodResult.skipped``).
        query_seqs: query sequences.
        k: k-mer length for ``kmer_logreg`` (default 6) and ``kmer_knn`` (default 8); ignored otherwise
            (``qiime_nb`` keeps QIIME 2's 7-mers).
        threads: threads for external tools and for the BLAS of ``kmer_logreg`` and ``qiime_nb``.
        workdir: where external tools write their files (a removed temporary directory when ``None``).
        train_keys: for ``label_lookup`` only: the key of each training record (e.g. its species).
        query_keys: for ``label_lookup`` only: the key of each query.

    Returns:
        A :class:`MethodResult`.

    Raises:
        ValueError: for an unknown method or missing keys. ToolMissingError: if the method's tool is not
            installed. RuntimeError: if the tool fails.

    Example:
        >>> result = run_method("majority", ["A", "C", "G"], ["x", "y", "y"], ["q1"], ["T"])
        >>> result.classes, result.labels, result.skipped
        (['x', 'y'], ['y'], {})
    """
    if method not in _METHODS:
        raise ValueError(f"Expected argument `method` to be one of {METHODS}, but got {method!r}")
    model = _METHODS[method](k, threads)
    if isinstance(model, Peer):
        return _run_peer(model, train_seqs, train_labels, query_ids, query_seqs, threads, workdir)
    if method == "label_lookup":
        if train_keys is None or query_keys is None:
            raise ValueError(
                "Expected arguments `train_keys` and `query_keys` for method 'label_lookup', "
                f"but got {type(train_keys).__name__} and {type(query_keys).__name__}"
            )
        return _run_model(model, train_keys, train_labels, query_keys)
    return _run_model(model, train_seqs, train_labels, query_seqs)
