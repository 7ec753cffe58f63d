"""Alignment-free baselines: k-mer profiles, logistic regression, nearest neighbour, majority, lookup.

Every classifier shares one interface, so the CLI can treat them alike:

- ``fit(seqs, labels) -> self``: ``labels`` are converted to ``str``; ``classes_`` is their sorted list.
- ``predict_proba(seqs) -> np.ndarray``: ``(N, C)`` float64 class probabilities, rows sum to 1, columns in
  ``classes_`` order.
- ``predict(seqs) -> list[str]``: the argmax class (ties go to the first class in ``classes_`` order).

All of them are deterministic: the only randomness (logistic regression's solver) is seeded.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import normalize
from threadpoolctl import threadpool_limits

from seqxent.data.kmers import NUCLEOTIDES, kmer_codes

_NORMS = (None, "l1", "l2")
_MAX_K = 15  # 4**15 columns already needs int64 column indices in scipy; larger k is never useful here.


def _validate_k(k: int) -> None:
    if not isinstance(k, int | np.integer) or isinstance(k, bool) or not 1 <= k <= _MAX_K:
        raise ValueError(f"Expected argument `k` to be an integer in [1, {_MAX_K}], but got {k!r}")


def kmer_features(
    seqs: Sequence[str], k: int, norm: str | None = "l1", dtype: type = np.float64
) -> sp.csr_matrix:
    """Return the k-mer profile of each sequence as a sparse matrix.

    Columns are the ``4**k`` k-mers in base-4 index order (A=0, C=1, G=2, T=U=3, first base most significant:
    :func:`seqxent.data.kmers.kmer_codes`). Entries are k-mer counts; k-mers with characters other than A, C,
    G, T/U are skipped. Case is ignored.

    Args:
        seqs: N nucleotide sequences.
        k: k-mer length, in [1, 15].
        norm: ``"l1"`` (default): each row divided by its sum, i.e. k-mer frequencies; ``"l2"``: each row
            divided by its Euclidean norm (cosine geometry); ``None``: raw counts. Rows without any valid
            k-mer stay all zero under every norm.
        dtype: float dtype of the entries (``np.float32`` halves memory for large data sets).

    Returns:
        CSR matrix of shape ``(N, 4**k)`` with sorted column indices and no duplicate entries.

    Raises:
        ValueError: if ``k`` or ``norm`` is invalid.

    Example:
        >>> x = kmer_features(["ACGTA", "AAA"], k=2, norm=None)
        >>> x.shape, x[0].nonzero()[1].tolist(), x[1].toarray()[0, 0]
        ((2, 16), [1, 6, 11, 12], np.float64(2.0))
    """
    _validate_k(k)
    if norm not in _NORMS:
        raise ValueError(f"Expected argument `norm` to be one of {_NORMS}, but got {norm!r}")
    columns, counts, indptr = [], [], [0]
    for seq in seqs:
        uniq, count = np.unique(kmer_codes(seq, k, NUCLEOTIDES), return_counts=True)  # sorted, deduplicated
        columns.append(uniq)
        counts.append(count)
        indptr.append(indptr[-1] + uniq.size)
    data = np.concatenate(counts).astype(dtype) if counts else np.zeros(0, dtype=dtype)
    indices = np.concatenate(columns) if columns else np.zeros(0, dtype=np.int64)
    matrix = sp.csr_matrix((data, indices, np.asarray(indptr, dtype=np.int64)), shape=(len(indptr) - 1, 4**k))
    return normalize(matrix, norm=norm, copy=False) if norm and matrix.shape[0] else matrix


def _encode_labels(labels: Sequence) -> tuple[list[str], np.ndarray]:
    """Return the sorted class names and the integer target of each label."""
    names = [str(label) for label in labels]
    if not names:
        raise ValueError("Expected argument `labels` to hold at least one label, but got 0")
    classes = sorted(set(names))
    lookup = {name: i for i, name in enumerate(classes)}
    return classes, np.array([lookup[name] for name in names], dtype=np.int64)


def _check_lengths(seqs: Sequence, labels: Sequence) -> None:
    if len(seqs) != len(labels):
        raise ValueError(
            "Expected arguments `seqs` and `labels` to have the same length, "
            f"but got {len(seqs)} and {len(labels)}"
        )


class _Classifier:
    """Shared ``predict`` for classifiers that set ``classes_`` and implement ``predict_proba``."""

    classes_: list[str]

    def predict_proba(self, seqs: Sequence[str]) -> np.ndarray:  # pragma: no cover - abstract
        """Return ``(N, C)`` class probabilities."""
        raise NotImplementedError

    def predict(self, seqs: Sequence[str]) -> list[str]:
        """Return the most probable class of each input (ties: first class in ``classes_`` order)."""
        probs = self.predict_proba(seqs)
        return [self.classes_[i] for i in probs.argmax(axis=1)]


class KmerLogisticRegression(_Classifier):
    """Multinomial logistic regression on L2-normalised k-mer profiles (the cross-entropy linear model).

    Features are :func:`kmer_features` with ``norm="l2"`` (unit-length profiles keep the useful range of
    ``C`` independent of sequence length). The model minimises the mean cross-entropy plus an L2 penalty
    ``1 / (2 C)`` times the squared weights (sklearn's ``lbfgs`` solver, deterministic).

    Args:
        k: k-mer length.
        C: inverse L2 regularisation strength (larger = weaker penalty). Profiles have unit length, so
            weights must be large to separate classes: values from 10 to 1000 are typical.
        max_iter: maximum number of ``lbfgs`` iterations.
        seed: random state passed to sklearn (unused by ``lbfgs`` but kept for other solvers).
        threads: BLAS/OpenMP threads during fit and predict. Keep 1 on a busy machine: spinning BLAS
            threads made a 660-record fit six times slower on 2 shared cores.

    Example:
        >>> model = KmerLogisticRegression(k=2, C=100.0).fit(["AAAAAA", "CCCCCC"], ["a", "c"])
        >>> model.classes_, model.predict(["AAAAAC", "CCCCCA"])
        (['a', 'c'], ['a', 'c'])
    """

    def __init__(
        self, k: int = 6, C: float = 100.0, max_iter: int = 300, seed: int = 1, threads: int = 1
    ) -> None:
        _validate_k(k)
        if not C > 0:
            raise ValueError(f"Expected argument `C` to be a number larger than 0, but got {C!r}")
        self.k, self.C, self.max_iter, self.seed, self.threads = k, C, max_iter, seed, threads

    def fit(self, seqs: Sequence[str], labels: Sequence) -> KmerLogisticRegression:
        """Fit the model on training sequences and their labels; returns ``self``."""
        _check_lengths(seqs, labels)
        self.classes_, target = _encode_labels(labels)
        self.model_ = None
        if len(self.classes_) > 1:  # sklearn refuses a single class; its probabilities are 1 anyway
            model = LogisticRegression(C=self.C, max_iter=self.max_iter, random_state=self.seed)
            with threadpool_limits(limits=self.threads):
                self.model_ = model.fit(kmer_features(seqs, self.k, norm="l2"), target)
        return self

    def predict_proba(self, seqs: Sequence[str]) -> np.ndarray:
        """Return ``(N, C)`` class probabilities (softmax of the linear scores)."""
        if self.model_ is None or len(seqs) == 0:
            return np.ones((len(seqs), len(self.classes_))) / len(self.classes_)
        with threadpool_limits(limits=self.threads):
            return self.model_.predict_proba(kmer_features(seqs, self.k, norm="l2"))


class KmerNearestNeighbour(_Classifier):
    """Nearest neighbour by cosine similarity of k-mer count profiles (an alignment-free "top BLAST hit").

    For each query, ``s_c`` is the best cosine similarity to any training sequence of class ``c`` (0 for a
    query without valid k-mers). The predicted label is the class of the top hit, ``argmax_c s_c``.
    Probabilities depend on ``proba``:

    - ``"softmax"`` (default): ``softmax(s_c / temperature)`` over classes. ``temperature`` sets how
      quickly probability falls with lost similarity (0.02: a class 0.02 less similar is ``e`` times less
      likely). It is a fixed, uncalibrated choice; calibrate on a validation split before trusting it.
    - ``"onehot"``: probability 1 on the top hit's class (log-loss is then infinite for every error).

    Args:
        k: k-mer length (8, as in the RDP classifier, separates close species well).
        proba: ``"softmax"`` or ``"onehot"``.
        temperature: softmax temperature, larger than 0.
        chunk_size: number of queries compared at once (bounds memory to ``chunk_size x n_train`` floats).

    Example:
        >>> model = KmerNearestNeighbour(k=3, proba="onehot").fit(["ACGTACGT", "GGGGCCCC"], ["x", "y"])
        >>> model.predict_proba(["ACGTACGA"]).tolist()
        [[1.0, 0.0]]
    """

    def __init__(
        self, k: int = 8, proba: str = "softmax", temperature: float = 0.02, chunk_size: int = 256
    ) -> None:
        _validate_k(k)
        if proba not in ("softmax", "onehot"):
            raise ValueError(f"Expected argument `proba` to be 'softmax' or 'onehot', but got {proba!r}")
        if not temperature > 0:
            raise ValueError(f"Expected argument `temperature` to be larger than 0, but got {temperature!r}")
        self.k, self.proba, self.temperature, self.chunk_size = k, proba, temperature, chunk_size

    def fit(self, seqs: Sequence[str], labels: Sequence) -> KmerNearestNeighbour:
        """Store the L2-normalised training profiles, sorted by class; returns ``self``."""
        _check_lengths(seqs, labels)
        self.classes_, target = _encode_labels(labels)
        order = np.argsort(target, kind="stable")  # training rows grouped by class for reduceat
        self.reference_ = kmer_features(seqs, self.k, norm="l2")[order].T.tocsr()  # (4**k, n_train)
        self.class_starts_ = np.searchsorted(target[order], np.arange(len(self.classes_)))
        return self

    def class_similarity(self, seqs: Sequence[str]) -> np.ndarray:
        """Return ``(N, C)`` best cosine similarity of each query to each class."""
        best = np.zeros((len(seqs), len(self.classes_)))
        for start in range(0, len(seqs), self.chunk_size):
            query = kmer_features(seqs[start : start + self.chunk_size], self.k, norm="l2")
            sims = (query @ self.reference_).toarray()  # (chunk, n_train)
            best[start : start + len(sims)] = np.maximum.reduceat(sims, self.class_starts_, axis=1)
        return best

    def predict_proba(self, seqs: Sequence[str]) -> np.ndarray:
        """Return ``(N, C)`` class probabilities (see the class docstring for ``proba``)."""
        best = self.class_similarity(seqs)
        if self.proba == "onehot":
            return np.eye(len(self.classes_))[best.argmax(axis=1)]
        logits = (best - best.max(axis=1, keepdims=True)) / self.temperature
        probs = np.exp(logits)
        return probs / probs.sum(axis=1, keepdims=True)


class MajorityClass(_Classifier):
    """Ignore the input: predict the training class frequencies, so the argmax is the majority class.

    Its log-loss is the cross-entropy of the class prior, the floor any useful model must beat.

    Example:
        >>> model = MajorityClass().fit(["A", "C", "G"], ["y", "x", "y"])
        >>> model.predict_proba(["T"]).round(3).tolist(), model.predict(["T"])
        ([[0.333, 0.667]], ['y'])
    """

    def fit(self, seqs: Sequence[str], labels: Sequence) -> MajorityClass:
        """Count the training labels; returns ``self``."""
        _check_lengths(seqs, labels)
        self.classes_, target = _encode_labels(labels)
        self.prior_ = np.bincount(target, minlength=len(self.classes_)) / target.size
        return self

    def predict_proba(self, seqs: Sequence[str]) -> np.ndarray:
        """Return the class prior for every input, shape ``(N, C)``."""
        return np.tile(self.prior_, (len(seqs), 1))


class LabelLookup(_Classifier):
    """Predict a label from a known key, e.g. country from species ("species -> most common country").

    ``fit(keys, labels)`` counts the labels seen with each key. For a key seen in training the
    probabilities are ``(counts_key + alpha * prior) / (n_key + alpha)``: its empirical label distribution,
    shrunk towards the overall class prior by ``alpha`` pseudo-records. Unseen keys get the prior, so
    ``predict`` falls back to the majority label.

    Args:
        alpha: pseudo-count weight of the prior, at least 0 (0 = pure per-key frequencies).

    Example:
        >>> model = LabelLookup().fit(["sp1", "sp1", "sp1", "sp2"], ["DE", "DE", "FR", "US"])
        >>> model.predict(["sp1", "sp2", "unknown"])
        ['DE', 'US', 'DE']
    """

    def __init__(self, alpha: float = 0.0) -> None:
        if not alpha >= 0:
            raise ValueError(f"Expected argument `alpha` to be a number of at least 0, but got {alpha!r}")
        self.alpha = alpha

    def fit(self, keys: Sequence, labels: Sequence) -> LabelLookup:
        """Count labels per key; returns ``self``."""
        _check_lengths(keys, labels)
        self.classes_, target = _encode_labels(labels)
        n_classes = len(self.classes_)
        self.prior_ = np.bincount(target, minlength=n_classes) / target.size
        per_key: dict[str, Counter] = {}
        for key, y in zip(keys, target, strict=True):
            per_key.setdefault(str(key), Counter())[int(y)] += 1
        self.table_ = {}
        for key, counter in per_key.items():
            counts = np.zeros(n_classes)
            counts[list(counter)] = list(counter.values())
            self.table_[key] = (counts + self.alpha * self.prior_) / (counts.sum() + self.alpha)
        return self

    def predict_proba(self, keys: Sequence) -> np.ndarray:
        """Return ``(N, C)`` label probabilities of each key (the prior for unseen keys)."""
        return np.array([self.table_.get(str(key), self.prior_) for key in keys]).reshape(len(keys), -1)
