"""The taxa a lineage model knows, one class per taxon of every rank, and consistent lineage calls from them.

A lineage model (task ``lineage``) has one softmax head per rank over all taxa of that rank in its training
records, however few records a taxon has. Its outputs are the heads side by side: ``K = K_1 + … + K_R``
logits, rank by rank, top down. Class names are ``<rank>:<name>`` (``genus:Bacillus``), so the same name at
two ranks (phylum and class *Actinobacteria*) stays two classes.

:class:`TaxonTree` records, for every class, its known ancestors (the names at the ranks above it in the
training lineages; ``-1`` where a lineage leaves a rank out). :meth:`TaxonTree.decode` makes the calls
consistent, top down: at each rank the most probable taxon among those whose known ancestors agree with the
calls above (an unknown ancestor agrees with anything: a genus placed directly under its order, or one whose
lineage above the genus is not known). Each call is therefore a descendant of every call above it that its
lineage names. The confidence of a call is its own rank's probability. :meth:`TaxonTree.truncate` cuts the
lineage at the first rank whose confidence is below a cut-off, as SINTAX, the RDP classifier and QIIME 2 do.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Target of a rank a record leaves out (its loss skips that rank).
MISSING = -100
#: A call that is no class: a rank where no taxon lies under the calls above (its confidence is 0, so the
#: lineage stops there), or a peer's empty call or unknown name. Truth uses ``-1`` for a named taxon that is no
#: class (a novel one) and :data:`MISSING`, so a call of ``NO_CALL`` is never right.
NO_CALL = -2


def class_name(rank: str, name: str) -> str:
    """The class name of taxon ``name`` at ``rank``: ``rank:name``."""
    return f"{rank}:{name}"


def rank_offsets(classes: Sequence[str]) -> list[int]:
    """Start of each rank's block of ``rank:name`` classes (consecutive runs of one rank), and ``K`` at the end.

    Example:
        >>> rank_offsets(["family:A", "genus:a1", "genus:a2"])
        [0, 1, 3]
    """
    ranks = [c.split(":", 1)[0] for c in classes]
    return [0] + [i for i in range(1, len(ranks)) if ranks[i] != ranks[i - 1]] + [len(ranks)]


def _one_tree(ancestors: np.ndarray, offsets: np.ndarray) -> None:
    """Above its closest known ancestor, give each taxon that ancestor's ancestors where it names them (in place)."""
    for r in range(len(offsets) - 1):
        for child in range(offsets[r], offsets[r + 1]):
            known = np.flatnonzero(ancestors[child, :r] >= 0)
            if len(known):
                above = ancestors[ancestors[child, known[-1]], :known[-1]]
                ancestors[child, :known[-1]] = np.where(above >= 0, above, ancestors[child, :known[-1]])


@dataclass
class TaxonTree:
    """Classes of a lineage model, their ranks and known ancestors.

    Attributes:
        ranks: the ranks, top down.
        classes: ``rank:name`` per class, rank by rank (top down), names sorted within a rank.
        sizes: classes per rank.
        ancestors: ``(K, R)`` int: the class index of each class's ancestor at every rank above its own
            (``-1`` where unknown), its own index at its rank, ``-1`` below.

    Example:
        >>> tree = TaxonTree.from_lineages([["Bacteria", "Bacillaceae", "Bacillus"],
        ...                                 ["Bacteria", "", "Hippea"]], ["domain", "family", "genus"])
        >>> tree.classes
        ['domain:Bacteria', 'family:Bacillaceae', 'genus:Bacillus', 'genus:Hippea']
        >>> tree.ancestors[3].tolist()  # Hippea: family unknown
        [0, -1, 3]
    """

    ranks: list[str]
    classes: list[str]
    sizes: list[int]
    ancestors: np.ndarray

    @classmethod
    def from_lineages(cls, lineages: Sequence[Sequence[str]], ranks: Sequence[str]) -> TaxonTree:
        """The tree of the taxa that ``lineages`` name (one name per rank, ``""`` for a missing rank).

        A taxon whose records disagree about an ancestor (a homonym, or an inconsistent reference) keeps the
        ancestor most of its records give (the first such in record order on a tie); above its closest known
        ancestor it then takes that ancestor's ancestors, so the classes form one tree.
        """
        ranks = list(ranks)
        names = [sorted({lin[r] for lin in lineages if lin[r]}) for r in range(len(ranks))]
        offsets = np.cumsum([0] + [len(n) for n in names])
        index = [{name: int(offsets[r]) + i for i, name in enumerate(n)} for r, n in enumerate(names)]
        votes: dict[tuple[int, int], Counter] = {}
        for lin in lineages:
            for r, name in enumerate(lin):
                if not name:
                    continue
                for above in range(r):
                    if lin[above]:
                        votes.setdefault((index[r][name], above), Counter())[index[above][lin[above]]] += 1
        k = int(offsets[-1])
        ancestors = np.full((k, len(ranks)), -1, dtype=np.int64)
        for r in range(len(ranks)):
            ancestors[offsets[r]:offsets[r + 1], r] = np.arange(offsets[r], offsets[r + 1])
        for (child, above), counter in votes.items():
            ancestors[child, above] = counter.most_common(1)[0][0]
        _one_tree(ancestors, offsets)
        classes = [class_name(rank, name) for rank, n in zip(ranks, names, strict=True) for name in n]
        return cls(ranks, classes, [len(n) for n in names], ancestors)

    # ----------------------------------------------------------------- layout

    @property
    def offsets(self) -> np.ndarray:
        """Start of each rank's block of classes, and ``K`` at the end: ``(R + 1,)``."""
        return np.cumsum([0] + list(self.sizes))

    def rank_slice(self, r: int) -> slice:
        """The columns of rank ``r`` (an index into :attr:`ranks`)."""
        start, stop = self.offsets[r], self.offsets[r + 1]
        return slice(int(start), int(stop))

    def names(self, r: int) -> list[str]:
        """The taxon names (without the ``rank:`` prefix) of rank ``r``."""
        prefix = len(self.ranks[r]) + 1
        return [c[prefix:] for c in self.classes[self.rank_slice(r)]]

    def targets(self, lineage: Sequence[str]) -> tuple[int, ...]:
        """Class index at each rank of one lineage (``""`` → :data:`MISSING`).

        Raises:
            KeyError: for a name that is no class of its rank (the message is the class name).
        """
        index = self._index()
        return tuple(index[class_name(rank, name)] if name else MISSING
                     for rank, name in zip(self.ranks, lineage, strict=True))

    def leaf_classes(self, lineages: Sequence[Sequence[str]]) -> np.ndarray:
        """The distinct lineages (leaves) of ``lineages``, as ``(R, n_leaves)`` class indices (``-1``: missing).

        Leaves are in order of first appearance; a name that is no class counts as missing.

        Example:
            >>> tree = TaxonTree.from_lineages([["F1", "g1"], ["F1", ""], ["F1", "g1"]], ["family", "genus"])
            >>> tree.leaf_classes([["F1", "g1"], ["F1", ""], ["F1", "g1"]]).tolist()
            [[0, 0], [1, -1]]
        """
        index = self._index()
        leaves = dict.fromkeys(tuple(lin) for lin in lineages)
        return np.array([[index.get(class_name(rank, leaf[r]), -1) if leaf[r] else -1 for leaf in leaves]
                         for r, rank in enumerate(self.ranks)], dtype=np.int64).reshape(len(self.ranks), -1)

    def _index(self) -> dict[str, int]:
        if not hasattr(self, "_class_index"):
            self._class_index = {c: i for i, c in enumerate(self.classes)}
        return self._class_index

    # ----------------------------------------------------------------- calls

    def decode(self, probs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Consistent calls, top down, from per-rank probabilities ``(N, K)`` (each rank's block sums to 1).

        Returns:
            ``(calls, confidence)``, both ``(N, R)``: the class index called at each rank and its probability
            A rank where no taxon lies under the calls above (its taxa there have no such rank, e.g. a genus
            whose family is unknown) is a gap: :data:`NO_CALL`, with the confidence of the call above (1 at the
            top rank), so a cut-off does not stop at it, and the ranks below are decoded under the calls above it.

        Example:
            >>> tree = TaxonTree.from_lineages([["A", "a1"], ["A", "a2"], ["B", "b1"]], ["phylum", "genus"])
            >>> calls, conf = tree.decode(np.array([[0.6, 0.4, 0.1, 0.2, 0.7]]))  # b1 best, but A wins above
            >>> [tree.classes[i] for i in calls[0]], conf[0].tolist()
            (['phylum:A', 'genus:a2'], [0.6, 0.2])
        """
        probs = np.asarray(probs)
        n, n_ranks = len(probs), len(self.ranks)
        calls = np.zeros((n, n_ranks), dtype=np.int64)
        conf = np.zeros((n, n_ranks), dtype=probs.dtype)
        candidates = self._candidates()
        for i in range(n):
            called = calls[i]
            for r in range(n_ranks):
                free, children, extra = candidates[r]
                parts = [free] + [children[above][called[above]] for above in range(r)
                                  if called[above] in children[above]]
                cols = np.concatenate(parts) if len(parts) > 1 else free
                for c, above, expected in extra:  # a class whose ancestor further up its closest one does not name
                    if called[above] != expected:
                        cols = cols[cols != c]
                if not len(cols):  # no taxon of this rank lies under the calls above: a gap, not a stop
                    called[r], conf[i, r] = NO_CALL, conf[i, r - 1] if r else 1.0
                    continue
                best = cols[probs[i, cols].argmax()]
                called[r] = best
                conf[i, r] = probs[i, best]
        return calls, conf

    def _candidates(self) -> list[tuple[np.ndarray, list[dict[int, np.ndarray]], list[tuple[int, int, int]]]]:
        """Per rank, what :meth:`decode` may call: ``(free, children, extra)``.

        ``free``: the classes without a known ancestor; ``children[a][x]``: the classes whose closest known
        ancestor is class ``x`` at rank ``a``; ``extra``: ``(class, rank, ancestor)`` for an ancestor further up
        that the closest one does not name (checked on its own). The other ancestors need no check: the calls
        above already form one lineage of the tree.
        """
        if not hasattr(self, "_candidate_list"):
            self._candidate_list = []
            for r in range(len(self.ranks)):
                block = self.rank_slice(r)
                free, by_parent, extra = [], [{} for _ in range(r)], []
                for c in range(block.start, block.stop):
                    row = self.ancestors[c, :r]
                    known = np.flatnonzero(row >= 0)
                    if not len(known):
                        free.append(c)
                        continue
                    closest = int(known[-1])
                    by_parent[closest].setdefault(int(row[closest]), []).append(c)
                    implied = self.ancestors[row[closest], :closest] >= 0
                    extra += [(c, int(a), int(row[a])) for a in known[:-1] if not implied[a]]
                children = [{x: np.array(cs, dtype=np.int64) for x, cs in d.items()} for d in by_parent]
                self._candidate_list.append((np.array(free, dtype=np.int64), children, extra))
        return self._candidate_list

    @staticmethod
    def truncate(confidence: np.ndarray, cutoff: float) -> np.ndarray:
        """How many ranks of each lineage stand: those above the first rank whose confidence is below ``cutoff``.

        Example:
            >>> TaxonTree.truncate(np.array([[1.0, 0.9, 0.5, 0.95], [0.7, 0.9, 0.9, 0.9]]), 0.8).tolist()
            [2, 0]
        """
        passed = np.asarray(confidence) >= cutoff
        return np.where(passed.all(axis=1), passed.shape[1], passed.argmin(axis=1))

    # ----------------------------------------------------------------- checkpoints

    def to_meta(self) -> dict:
        """The tree as plain JSON-ready values (``meta["lineage"]`` of a checkpoint); classes are stored apart."""
        return {"ranks": list(self.ranks), "sizes": [int(s) for s in self.sizes],
                "ancestors": self.ancestors.tolist()}

    @classmethod
    def from_meta(cls, meta: dict, classes: Sequence[str]) -> TaxonTree:
        """Rebuild the tree from :meth:`to_meta` and the checkpoint's classes."""
        return cls(list(meta["ranks"]), list(classes), list(meta["sizes"]),
                   np.asarray(meta["ancestors"], dtype=np.int64).reshape(len(classes), len(meta["ranks"])))
