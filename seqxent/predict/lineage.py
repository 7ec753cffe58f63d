"""Output formats of ``seqxent predict`` for lineage models: one consistent call per rank, cut at a cut-off.

A lineage model (:mod:`seqxent.data.taxon_tree`) gives each record one probability block per rank. Each writer
decodes one record at a time with :meth:`~seqxent.data.taxon_tree.TaxonTree.decode` (the most probable taxon
at each rank among the children of the calls above, with that rank's probability as its confidence) and
keeps the ranks above the first one whose confidence is below the cut-off (unrounded, ``>=``), as SINTAX, the
RDP classifier and QIIME 2 do. A record the abstain rule labels ``unassigned`` keeps no rank. A rank the decoded
lineage has no taxon at (a gap: the genus called has no known family) is left out by ``sintax`` as vsearch
leaves out the ranks its reference lacks, written as an empty level (``f__``) by ``qiime`` as Greengenes
does, and as an empty name by ``rdp``, ``tsv`` and ``json``; a cut lineage never ends on a gap.

- ``sintax``: vsearch ``--sintax --tabbedout --sintax_cutoff``: the label (whole header line), the full
  lineage ``d:Bacteria(1.00),p:Firmicutes(0.99),…`` (2 decimals), the strand, the cut lineage without
  values (empty when even the first rank fails, the line still ending with a tab).
- ``qiime``: ``taxonomy.tsv``: ``d__Bacteria; p__Firmicutes; …`` down to the deepest rank that stands, with
  that rank's confidence, or ``Unassigned`` with ``1 −`` the confidence of the top rank's call.
- ``rdp``: the RDP classifier's ``-f fixrank``: id, orientation (empty forward, ``-`` reverse), then
  ``name<TAB>rank<TAB>confidence`` for each of domain, phylum, class, order, family, genus that the model
  has, every one of them whatever its confidence (fixrank has no cut-off), printed as RDP prints them.
- ``tsv`` and ``json``: per rank the call and its confidence, the cut lineage and its depth (see the classes).

Cut-off: ``--cutoff``, else the model's own (``meta["lineage"]["cutoff"]``, chosen on validation), else the
format's usual one (:data:`DEFAULT_CUTOFFS`). Every input id appears: a skipped record gets SINTAX's
line of a query it cannot classify (the label and three empty fields), QIIME's ``Unassigned`` with an empty
confidence, RDP's id and an empty orientation and nothing after them, and empty fields with ``skipped:
<reason>`` in TSV and JSON.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, TextIO

from seqxent.calibrate.novelty import UNASSIGNED
from seqxent.data import taxonomy
from seqxent.data.taxon_tree import TaxonTree
from seqxent.errors import InputError
from seqxent.predict.stream import Prediction
from seqxent.predict.taxonomy import QIIME_HEADER, check_cutoff

if TYPE_CHECKING:
    from seqxent.predict.formats import WriterOptions

#: Cut-off of each format when neither ``--cutoff`` nor the model gives one: SINTAX's usual 0.8 (also for TSV
#: and JSON), classify-sklearn's 0.7. ``rdp`` (fixrank) has none.
DEFAULT_CUTOFFS = {"sintax": 0.8, "qiime": 0.7, "tsv": 0.8, "json": 0.8}
#: The ranks of RDP's ``fixrank`` output, in its order.
RDP_RANKS = ("domain", "phylum", "class", "order", "family", "genus")
PREDICTED = "predicted"


def lineage_cutoff(fmt: str, options: WriterOptions) -> float | None:
    """The cut-off of ``fmt``: ``options.cutoff``, else ``options.model_cutoff``, else the format's default.

    Returns:
        None for ``rdp``, which has no cut-off.

    Raises:
        InputError: for a cut-off outside [0, 1], or any cut-off given with ``rdp``.
    """
    if fmt not in DEFAULT_CUTOFFS:
        if options.cutoff is not None:
            raise InputError(f"--cutoff applies to --format {', '.join(sorted(DEFAULT_CUTOFFS))} of a lineage "
                             f"model, but got --format {fmt} (RDP's fixrank writes every rank with its confidence)")
        return None
    cutoff = options.cutoff if options.cutoff is not None else options.model_cutoff
    return DEFAULT_CUTOFFS[fmt] if cutoff is None else check_cutoff(fmt, cutoff)


def needs_lineage_model(classes: list[str], task, options: WriterOptions):
    """``--format rdp`` with a model that is not a lineage model: refused.

    Raises:
        InputError: always.
    """
    name = getattr(task, "name", task)
    raise InputError(f"--format rdp needs a lineage model (one softmax head per rank), but this is a {name} model")


def java_double(p: float) -> str:
    """``p`` rounded to 2 decimals as Java's ``Double.toString`` prints it (RDP's confidences).

    Example:
        >>> [java_double(p) for p in (1, 0.7, 0.25, 0.2249, 0.0, 0.004)]
        ['1.0', '0.7', '0.25', '0.22', '0.0', '0.0']
    """
    # A 2-decimal value in [0, 1] is 0 or >= 0.01: Python's shortest repr equals Java's, with no exponent.
    return repr(round(float(p), 2) + 0.0)  # + 0.0: -0.0 prints 0.0


class _LineageWriter:
    """Shared part: the tree, the names without their ``rank:`` prefix, the cut-off, and one record's calls."""

    fmt = ""

    def __init__(self, options: WriterOptions):
        self.tree: TaxonTree = options.tree
        self.ranks = self.tree.ranks
        self.names = [name for r in range(len(self.ranks)) for name in self.tree.names(r)]  # (K,) by class index
        self.cutoff = lineage_cutoff(self.fmt, options)
        self.strand = options.strand

    def calls(self, pred: Prediction) -> tuple[list[str], list[float], int]:
        """``(names, confidences, depth)`` of a predicted record: the call at every rank and how many stand."""
        calls, conf = self.tree.decode(pred.probs[None, :])  # (K,) -> (1, K); both (1, R)
        depth = 0 if pred.abstained or self.cutoff is None else int(TaxonTree.truncate(conf, self.cutoff)[0])
        names = [self.names[k] if k >= 0 else "" for k in calls[0]]  # "": a gap (no taxon of that rank there)
        while depth and not names[depth - 1]:  # a cut lineage ends on a named taxon
            depth -= 1
        return names, [float(c) for c in conf[0]], depth

    def letters(self) -> list[str]:
        """SINTAX's letter of each rank (QIIME's prefix is the letter and ``__``).

        Raises:
            InputError: for a rank that has none.
        """
        letters = [taxonomy.RANK_LETTERS.get(rank.lower()) for rank in self.ranks]
        if None in letters:
            raise InputError(f"--format {self.fmt} needs ranks with a rank letter "
                             f"({', '.join(taxonomy.RANK_LETTERS)}), but this model's ranks are {self.ranks}")
        return letters

    def begin(self, out: TextIO) -> None:  # noqa: D102
        pass

    def end(self, out: TextIO) -> None:  # noqa: D102
        pass


class SintaxLineageWriter(_LineageWriter):
    r"""vsearch ``--sintax --tabbedout`` with ``--sintax_cutoff``: label, lineage with values, strand, cut lineage.

    Example:
        >>> import io, numpy as np
        >>> from seqxent.predict.formats import WriterOptions
        >>> tree = TaxonTree.from_lineages([["Bacteria", "Bacillus"], ["Bacteria", "Hippea"]], ["domain", "genus"])
        >>> writer, out = SintaxLineageWriter(WriterOptions(tree=tree)), io.StringIO()
        >>> writer.write(out, Prediction("q1", "ACGT", np.array([1.0, 0.3, 0.7]), description="q1 length=4"))
        >>> writer.write(out, Prediction("q2", "", None, "empty sequence"))
        >>> out.getvalue().splitlines(keepends=True)
        ['q1 length=4\td:Bacteria(1.00),g:Hippea(0.70)\t+\td:Bacteria\n', 'q2\t\t\t\n']
    """

    fmt = "sintax"

    def __init__(self, options: WriterOptions):
        super().__init__(options)
        self.prefixes = [f"{letter}:" for letter in self.letters()]

    def write(self, out: TextIO, pred: Prediction) -> None:  # noqa: D102
        label = pred.description or pred.id
        if pred.probs is None:
            out.write(f"{label}\t\t\t\n")  # vsearch's line for a query it cannot classify
            return
        names, conf, depth = self.calls(pred)
        taxa = [prefix + name for prefix, name in zip(self.prefixes, names, strict=True)]
        # Ranks without a call (no taxon under the calls above) are left out, as vsearch leaves out the ranks
        # its winning reference lacks.
        full = ",".join(f"{taxon}({c:.2f})" for taxon, name, c in zip(taxa, names, conf, strict=True) if name)
        cut = ",".join(taxon for taxon, name in zip(taxa[:depth], names, strict=False) if name)
        out.write(f"{label}\t{full}\t{pred.strand or '+'}\t{cut}\n")


class QiimeLineageWriter(_LineageWriter):
    """QIIME 2 ``taxonomy.tsv``: ``d__Bacteria; p__Firmicutes`` to the deepest standing rank, and its confidence.

    ``Unassigned`` with ``1 −`` the confidence of the top rank's call (classify-sklearn's confidence of an
    unassigned read, as the single-rank writer writes it) when even that rank fails.
    """

    fmt = "qiime"

    def __init__(self, options: WriterOptions):
        super().__init__(options)
        self.prefixes = [f"{letter}__" for letter in self.letters()]

    def begin(self, out: TextIO) -> None:  # noqa: D102
        out.write(QIIME_HEADER)

    def write(self, out: TextIO, pred: Prediction) -> None:  # noqa: D102
        if pred.probs is None:
            out.write(f"{pred.id}\tUnassigned\t\n")
            return
        names, conf, depth = self.calls(pred)
        if depth == 0:
            out.write(f"{pred.id}\tUnassigned\t{1 - conf[0]:.4f}\n")
            return
        taxon = "; ".join(prefix + name for prefix, name in zip(self.prefixes[:depth], names[:depth], strict=True))
        out.write(f"{pred.id}\t{taxon}\t{conf[depth - 1]:.4f}\n")


class RdpFixrankWriter(_LineageWriter):
    r"""The RDP classifier's ``-f fixrank``: ``id``, orientation, then ``name<TAB>rank<TAB>confidence`` per rank.

    The ranks are those of domain, phylum, class, order, family and genus that the model has (in that order;
    other ranks, e.g. species, are decoded but not written). Names are written as stored, without the
    ``rank:`` prefix (quotes kept). Confidences are rounded to 2 decimals and printed as Java does (``1.0``,
    ``0.7``, ``0.25``). A skipped record gets its id and an empty orientation and nothing after them (RDP writes
    no line for it; a fixrank parser reads it as a record with no rank).

    Example:
        >>> import io, numpy as np
        >>> from seqxent.predict.formats import WriterOptions
        >>> tree = TaxonTree.from_lineages([["Bacteria", "Bacillus"], ["Bacteria", "Hippea"]], ["domain", "genus"])
        >>> writer, out = RdpFixrankWriter(WriterOptions(tree=tree)), io.StringIO()
        >>> writer.write(out, Prediction("q1", "ACGT", np.array([1.0, 0.3, 0.7]), strand="-"))
        >>> writer.write(out, Prediction("q2", "", None, "empty sequence"))
        >>> out.getvalue().splitlines(keepends=True)
        ['q1\t-\tBacteria\tdomain\t1.0\tHippea\tgenus\t0.7\n', 'q2\t\n']
    """

    fmt = "rdp"

    def __init__(self, options: WriterOptions):
        super().__init__(options)
        lower = [rank.lower() for rank in self.ranks]
        self.columns = [(lower.index(rank), rank) for rank in RDP_RANKS if rank in lower]
        if not self.columns:
            raise InputError(f"--format rdp needs a model with at least one of the ranks {', '.join(RDP_RANKS)}, "
                             f"but this model's ranks are {self.ranks}")

    def write(self, out: TextIO, pred: Prediction) -> None:  # noqa: D102
        orientation = "-" if pred.strand == "-" else ""
        if pred.probs is None:
            out.write(f"{pred.id}\t\n")
            return
        names, conf, _ = self.calls(pred)
        triples = "".join(f"\t{names[r]}\t{rank}\t{java_double(conf[r])}" for r, rank in self.columns)
        out.write(f"{pred.id}\t{orientation}{triples}\n")


class _LabelledLineageWriter(_LineageWriter):
    """TSV and JSON: the label is the call at the model's label rank (``meta["label_column"]``; default the last)."""

    def __init__(self, options: WriterOptions):
        super().__init__(options)
        lower = [rank.lower() for rank in self.ranks]
        column = options.label_column
        if column is not None and str(column).lower() not in lower:
            raise InputError(f"Expected the label column of a lineage model to be one of its ranks {self.ranks}, "
                             f"but got {column!r}")
        self.label_rank = len(self.ranks) - 1 if column is None else lower.index(str(column).lower())

    def label(self, pred: Prediction, names: list[str]) -> str:
        """The call at the label rank, or ``unassigned`` when the abstain rule fired."""
        return UNASSIGNED if pred.abstained else names[self.label_rank]


class TsvLineageWriter(_LabelledLineageWriter):
    """Tab-separated, one row per record: ``id``, ``label``, per rank the call and its confidence, the cut lineage.

    Columns: ``id``, ``label``, per rank ``<rank>`` and ``<rank>_confidence``, ``lineage``, ``depth``,
    [``strand``,] ``status``. Unlike a flat model's TSV (one ``p_<class>`` column per class), a lineage model
    writes per rank the consistent call and its confidence (4 decimals): its classes are every taxon of every
    rank, often tens of thousands. ``label`` is the call at the model's label rank (whatever its confidence;
    ``unassigned`` when the abstain rule fired), ``lineage`` the names of the ranks that pass the cut-off, top
    down, joined by ``;`` (empty when none does), ``depth`` their number. With ``--strand both`` ``strand``
    (``+`` or ``-``) comes before ``status``; a skipped record gets empty fields and ``skipped: <reason>``.
    """

    fmt = "tsv"

    def begin(self, out: TextIO) -> None:  # noqa: D102
        per_rank = [col for rank in self.ranks for col in (rank, f"{rank}_confidence")]
        strand = ["strand"] if self.strand else []
        out.write("\t".join(["id", "label", *per_rank, "lineage", "depth", *strand, "status"]) + "\n")

    def write(self, out: TextIO, pred: Prediction) -> None:  # noqa: D102
        if pred.probs is None:
            empty = [""] * (1 + 2 * len(self.ranks) + 2 + self.strand)
            out.write("\t".join([pred.id, *empty, f"skipped: {pred.skipped}"]) + "\n")
            return
        names, conf, depth = self.calls(pred)
        per_rank = [cell for name, c in zip(names, conf, strict=True) for cell in (name, f"{c:.4f}")]
        strand = [pred.strand] if self.strand else []
        cells = [pred.id, self.label(pred, names), *per_rank, ";".join(names[:depth]), str(depth), *strand, PREDICTED]
        out.write("\t".join(cells) + "\n")


class JsonLineageWriter(_LabelledLineageWriter):
    """A JSON array, per record ``id``, ``label``, ``lineage``, ``depth``, [``strand``,] ``status``.

    ``lineage`` lists every rank top down as ``{"rank", "name", "confidence" (4 decimals), "passed"}``
    (``passed``: the rank stands at the cut-off); ``label`` and ``depth`` are those of the TSV. A skipped
    record is ``{"id", "status": "skipped: <reason>"}``.
    """

    fmt = "json"

    def __init__(self, options: WriterOptions):
        super().__init__(options)
        self.first = True

    def begin(self, out: TextIO) -> None:  # noqa: D102
        out.write("[")

    def write(self, out: TextIO, pred: Prediction) -> None:  # noqa: D102
        obj = {"id": pred.id, "status": f"skipped: {pred.skipped}"} if pred.probs is None else self.record(pred)
        out.write(("\n" if self.first else ",\n") + json.dumps(obj))
        self.first = False

    def record(self, pred: Prediction) -> dict:
        """The JSON object of a predicted record."""
        names, conf, depth = self.calls(pred)
        lineage = [{"rank": rank, "name": name, "confidence": round(c, 4), "passed": r < depth}
                   for r, (rank, name, c) in enumerate(zip(self.ranks, names, conf, strict=True))]
        obj: dict = {"id": pred.id, "label": self.label(pred, names), "lineage": lineage, "depth": depth}
        if self.strand:
            obj["strand"] = pred.strand
        obj["status"] = PREDICTED
        return obj

    def end(self, out: TextIO) -> None:  # noqa: D102
        out.write("\n]\n")


#: The writers of lineage models, by ``--format`` name.
LINEAGE_FORMATS = {"tsv": TsvLineageWriter, "json": JsonLineageWriter, "sintax": SintaxLineageWriter,
                   "qiime": QiimeLineageWriter, "rdp": RdpFixrankWriter}
