"""QIIME 2's naive Bayes taxonomy classifier, without QIIME 2: the ``qiime_nb`` peer.

``qiime feature-classifier fit-classifier-naive-bayes`` fits, and ``classify-sklearn`` applies, a
scikit-learn pipeline. Its default specification (``_specific_fitters`` in q2-feature-classifier's
``q2_feature_classifier/_skl.py``, the defaults that ``fit-classifier-naive-bayes`` lists) is:

- ``HashingVectorizer(analyzer="char_wb", n_features=8192, ngram_range=(7, 7), alternate_sign=False)``, with
  the vectorizer's own defaults for everything else: ``lowercase=True`` and ``norm="l2"``, so a read is its
  L2-normalised vector of 7-mer counts hashed (MurmurHash3) into 8,192 columns. ``char_wb`` pads the read
  with one space at each end, so the first and last 6 bases also form a 7-gram with the space.
- ``LowMemoryMultinomialNB(alpha=0.001, fit_prior=False)``: scikit-learn's ``MultinomialNB`` fitted by
  ``partial_fit`` in chunks of 20,000 reads, which sums the same counts as one ``fit`` (used here); with
  ``fit_prior=False`` the class prior is uniform.

``classify-sklearn`` calls the top class and reports its probability as the confidence; at its default
``--p-confidence 0.7`` a read whose top probability is below 0.7 is "Unassigned" (per rank of a lineage:
``_predict_chunk_with_conf``). Our labels are flat, one rank, so :class:`QiimeNaiveBayes` gives the
probabilities, the forced call is their argmax, and :mod:`seqxent.baseline.score` reports the calls at
``cutoff`` next to it. ``classify-sklearn``'s default ``--p-read-orientation auto`` classifies the first 100
reads as they are and reverse-complemented and keeps the orientation whose confidence is larger in the
median (a tie reverse-complements); ``read_orientation="auto"`` does the same. The ``qiime_nb`` method uses
``"same"``: a prepared data set holds every record on the reference's strand.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.naive_bayes import MultinomialNB
from threadpoolctl import threadpool_limits

from seqxent.baseline.kmer import _check_lengths, _Classifier, _encode_labels
from seqxent.data.taxonomy import RANK_LETTERS

#: q2-feature-classifier's defaults: hashed features, 7-mers, additive smoothing, confidence cut-off.
N_FEATURES, NGRAM, ALPHA, CONFIDENCE = 8192, 7, 0.001, 0.7
#: ``classify-sklearn --p-read-orientation`` choices (``"both"`` is left out).
ORIENTATIONS = ("same", "reverse-complement", "auto")
#: Reads that ``read_orientation="auto"`` classifies both ways (classify-sklearn's ``n=100``).
AUTO_READS = 100


def reverse_complement(seq: str) -> str:
    """Return the reverse complement of a DNA sequence (Biopython's: IUPAC codes complemented, case kept).

    Example:
        >>> reverse_complement("AACGTn-R")
        'Y-nACGTT'
    """
    from Bio.Seq import reverse_complement as biopython_reverse_complement  # only the `auto`/`reverse` paths

    return biopython_reverse_complement(seq)


def hashed_kmer_features(
    seqs: Sequence[str], k: int = NGRAM, n_features: int = N_FEATURES, norm: str | None = "l2"
) -> sp.csr_matrix:
    """Return QIIME 2's naive Bayes features: k-mer counts of each padded, lower-cased read, hashed.

    Each read becomes ``" " + read.lower() + " "`` and every window of ``k`` characters of it is one
    feature, counted in column ``abs(murmurhash3_32(window, seed=0)) % n_features`` (scikit-learn's
    ``HashingVectorizer(analyzer="char_wb", alternate_sign=False)``; a padded read shorter than ``k`` is one
    feature). Any character counts, N and gaps included; whitespace would split a read in two.

    Args:
        seqs: N reads.
        k: k-mer length (QIIME 2: 7).
        n_features: number of hash columns (QIIME 2: 8192).
        norm: ``"l2"`` (QIIME 2's): rows scaled to unit length; ``None``: raw counts.

    Returns:
        CSR matrix of shape ``(N, n_features)``.

    Example:
        >>> x = hashed_kmer_features(["ACGTACGT"], norm=None)  # " acgtac", "acgtacg", "cgtacgt", "gtacgt "
        >>> x.shape, x.sum(), x.nnz
        ((1, 8192), np.float64(4.0), 4)
    """
    vectorizer = HashingVectorizer(analyzer="char_wb", n_features=n_features, ngram_range=(k, k),
                                   alternate_sign=False, norm=norm)  # fmt: skip
    return vectorizer.transform(list(seqs))


class QiimeNaiveBayes(_Classifier):
    """Multinomial naive Bayes on hashed 7-mers at q2-feature-classifier's defaults (module docstring).

    Args:
        cutoff: classify-sklearn's ``--p-confidence``: calls whose top probability is below it count as
            unassigned in the scores at the cut-off; in [0, 1]. It does not change the probabilities.
        read_orientation: ``"same"`` (default here), ``"reverse-complement"`` or ``"auto"`` (classify-
            sklearn's default; see the module docstring). ``orientation_`` holds the last choice.
        k: k-mer length.
        n_features: number of hash columns.
        alpha: additive (Lidstone) smoothing of the k-mer counts per class.
        threads: BLAS threads during fit and predict.

    Example:
        >>> model = QiimeNaiveBayes().fit(["ACGTTGCAAGGCTTAA", "GGGGCCCCGGGGCCCC"], ["x", "y"])
        >>> model.predict(["ACGTTGCAAGGCTTAT", "GGGGCCCCGGGGCCCA"]), model.cutoff
        (['x', 'y'], 0.7)
    """

    def __init__(
        self,
        cutoff: float = CONFIDENCE,
        read_orientation: str = "same",
        k: int = NGRAM,
        n_features: int = N_FEATURES,
        alpha: float = ALPHA,
        threads: int = 1,
    ) -> None:
        if not 0 <= cutoff <= 1:
            raise ValueError(f"Expected argument `cutoff` to be a number in [0, 1], but got {cutoff!r}")
        if read_orientation not in ORIENTATIONS:
            raise ValueError(
                f"Expected argument `read_orientation` to be one of {ORIENTATIONS}, but got {read_orientation!r}"
            )
        if not alpha > 0:
            raise ValueError(f"Expected argument `alpha` to be a number larger than 0, but got {alpha!r}")
        self.cutoff, self.read_orientation, self.threads = cutoff, read_orientation, threads
        self.k, self.n_features, self.alpha = k, n_features, alpha

    def _features(self, seqs: Sequence[str]) -> sp.csr_matrix:
        return hashed_kmer_features(seqs, self.k, self.n_features)

    def fit(self, seqs: Sequence[str], labels: Sequence) -> QiimeNaiveBayes:
        """Fit the class-conditional 7-mer frequencies (uniform class prior); returns ``self``."""
        _check_lengths(seqs, labels)
        self.classes_, target = _encode_labels(labels)
        with threadpool_limits(limits=self.threads):
            self.model_ = MultinomialNB(alpha=self.alpha, fit_prior=False).fit(self._features(seqs), target)
        return self

    def _proba(self, seqs: Sequence[str]) -> np.ndarray:
        if len(seqs) == 0:
            return np.zeros((0, len(self.classes_)))
        with threadpool_limits(limits=self.threads):
            return self.model_.predict_proba(self._features(seqs))

    def orient(self, seqs: Sequence[str]) -> list[str]:
        """Return the reads in the orientation ``read_orientation`` asks for (and set ``orientation_``)."""
        seqs = list(seqs)
        orientation = self.read_orientation
        if orientation == "auto" and not seqs:
            orientation = "same"
        elif orientation == "auto":  # the median confidence gain of the first reads; a tie reverses them
            first = seqs[:AUTO_READS]
            same = self._proba(first).max(axis=1)
            reverse = self._proba([reverse_complement(s) for s in first]).max(axis=1)
            orientation = "same" if np.median(same - reverse) > 0 else "reverse-complement"
        self.orientation_ = orientation
        return seqs if orientation == "same" else [reverse_complement(s) for s in seqs]

    def predict_proba(self, seqs: Sequence[str]) -> np.ndarray:
        """Return ``(N, C)`` posterior class probabilities of the (oriented) reads."""
        return self._proba(self.orient(seqs))


# --------------------------------------------------------------------------- whole lineages as classes


def qiime_taxon(lineage: Sequence[str], ranks: Sequence[str]) -> str:
    """QIIME 2's taxonomy string of a lineage: every level, an empty one for a missing rank.

    Example:
        >>> qiime_taxon(["Bacteria", "", "Bacillus"], ["domain", "family", "genus"])
        'd__Bacteria; f__; g__Bacillus'
    """
    return "; ".join(f"{RANK_LETTERS.get(rank, rank)}__{name}" for rank, name in zip(ranks, lineage, strict=True))


def prefix_confidence(probs: np.ndarray, class_lineages: Sequence[Sequence[str]]) -> tuple[np.ndarray, np.ndarray]:
    """classify-sklearn's per-level confidence: summed probability of the classes that share the top's lineage.

    Per level, the confidence is the summed probability of the classes whose lineage agrees with the most
    probable class's down to that level (QIIME 2 walks the top class's levels, not each level's own best).

    Args:
        probs: ``(N, C)`` class probabilities.
        class_lineages: ``C`` lineages (one name per level) of the classes.

    Returns:
        ``(top, confidence)``: ``(N,)`` index of the most probable class, ``(N, R)`` confidences.

    Example:
        >>> classes = [("A", "a1"), ("A", "a2"), ("B", "b1")]
        >>> top, conf = prefix_confidence(np.array([[0.375, 0.25, 0.375]]), classes)  # a tie: the first class
        >>> top.tolist(), conf.tolist()
        ([0], [[0.625, 0.375]])
    """
    probs = np.asarray(probs, dtype=np.float64)
    n_classes, n_levels = len(class_lineages), len(class_lineages[0]) if len(class_lineages) else 0
    top = probs.argmax(axis=1)
    confidence = np.zeros((len(probs), n_levels))
    for r in range(n_levels):
        groups: dict[tuple[str, ...], int] = {}
        codes = np.array([groups.setdefault(tuple(lin[: r + 1]), len(groups)) for lin in class_lineages])
        member = sp.csr_matrix((np.ones(n_classes), (np.arange(n_classes), codes)), shape=(n_classes, len(groups)))
        summed = np.asarray(member.T @ probs.T).T  # ((G, C) @ (C, N)).T -> (N, G)
        confidence[:, r] = summed[np.arange(len(probs)), codes[top]]
    return top, confidence


class ChunkedNaiveBayes(QiimeNaiveBayes):
    """QIIME 2's ``LowMemoryMultinomialNB``: counts summed over chunks of reads (thousands of lineage classes)."""

    chunk_size = 4000

    def fit(self, seqs: Sequence[str], labels: Sequence) -> ChunkedNaiveBayes:  # noqa: D102
        _check_lengths(seqs, labels)
        self.classes_, target = _encode_labels(labels)
        self.model_ = MultinomialNB(alpha=self.alpha, fit_prior=False)
        seqs, every = list(seqs), np.arange(len(self.classes_))
        with threadpool_limits(limits=self.threads):
            for start in range(0, len(seqs), self.chunk_size):
                stop = start + self.chunk_size
                self.model_.partial_fit(self._features(seqs[start:stop]), target[start:stop], classes=every)
        return self
