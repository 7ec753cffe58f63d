"""Output formats of ``seqxent predict``: TSV, PSIPRED ``.ss2`` and ``.horiz``, JSON, and the taxonomy formats.

Each format is a writer class with ``begin``, ``write`` (one :class:`~seqxent.predict.stream.Prediction`) and
``end``, chosen from :data:`FORMATS` (a dispatch table, not an if-chain; multi-label models from
:data:`MULTILABEL_FORMATS`) and built from :class:`WriterOptions`. Writers stream: they never hold more than
one record. Skipped records are written with their reason (or, in the taxonomy formats, as unclassified), so
every input id appears.

Probabilities are printed with 4 decimals (3 in ``.ss2``, as PSIPRED does; 2 in SINTAX's, as vsearch does).
The taxonomy formats (:mod:`seqxent.predict.taxonomy`) write what vsearch SINTAX and QIIME 2 write. Lineage
models (``WriterOptions.tree`` set) get the writers of :data:`~seqxent.predict.lineage.LINEAGE_FORMATS`
(:mod:`seqxent.predict.lineage`: per-rank calls in TSV, JSON, SINTAX, QIIME 2 and RDP ``fixrank``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from seqxent.calibrate.novelty import SCORES, UNASSIGNED
from seqxent.data.labels import THRESHOLD, check_threshold, predicted_labels, split_labels
from seqxent.data.taxon_tree import TaxonTree
from seqxent.errors import InputError
from seqxent.predict.lineage import LINEAGE_FORMATS, needs_lineage_model
from seqxent.predict.stream import Prediction
from seqxent.predict.taxonomy import TAXONOMY_FORMATS
from seqxent.tasks import Task, get_task

PREDICTED = "predicted"


@dataclass(frozen=True)
class WriterOptions:
    """What a writer needs beyond the model's classes and task (each writer reads the fields it uses).

    Attributes:
        scores: names of the novelty-score columns of a sequence model (None: energy, msp, nll).
        threshold: multilabel models: the probability at which a label is predicted.
        strand: write the orientation kept by ``--strand both`` (a ``strand`` column or key).
        alphabet: the model's alphabet name (``dna``, ``protein``).
        label_column: what the model's classes are (``meta["label_column"]``, e.g. ``species``).
        cutoff: taxonomy formats: the confidence a call needs (None: the format's own default).
        tree: lineage models: their :class:`~seqxent.data.taxon_tree.TaxonTree` (``meta["lineage"]``); set, it
            selects the writers of :data:`~seqxent.predict.lineage.LINEAGE_FORMATS`.
        model_cutoff: lineage models: the cut-off chosen on validation (``meta["lineage"]["cutoff"]``), used
            instead of the format's default when ``cutoff`` is None.
    """

    scores: Sequence[str] | None = None
    threshold: float = THRESHOLD
    strand: bool = False
    alphabet: str = "dna"
    label_column: str | None = None
    cutoff: float | None = None
    tree: TaxonTree | None = None
    model_cutoff: float | None = None


def _p(x: float, digits: int = 4) -> str:
    return f"{x:.{digits}f}"


class TsvWriter:
    """Tab-separated: one row per record (sequence models) or per residue (residue models).

    Columns: ``id``, [``pos``, ``aa``,] ``label``, one ``p_<class>`` per class, for sequence models the
    novelty scores ``energy``, ``msp``, ``nll`` and, for models with a k-mer reference, ``kmer_distance``
    (higher = more likely a class the model does not know; ``scores`` names them), with ``--strand both``
    ``strand`` (``+`` or ``-``), and ``status`` (``predicted`` or ``skipped: <reason>``; a skipped record gets
    one row with empty fields). The label is ``unassigned`` when the checkpoint's abstain rule fired.
    """

    def __init__(self, classes: list[str], task: Task, options: WriterOptions = WriterOptions()):
        self.classes, self.per_residue, self.strand = classes, task.per_residue, options.strand
        scores = options.scores
        self.scores = list(SCORES if scores is None else scores) if task.novelty else []
        self.lead = ["id", "pos", "aa"] if self.per_residue else ["id"]
        # One %-format per row (C-level float formatting): a residue model writes a row per residue.
        self.row = "\t".join(["%s"] * (len(self.lead) + 1) + ["%.4f"] * len(classes)) + "\t%s\n"

    def begin(self, out: TextIO) -> None:  # noqa: D102
        lead = self.lead
        probs = [f"p_{c}" for c in self.classes]
        strand = ["strand"] if self.strand else []
        out.write("\t".join(lead + ["label"] + probs + self.scores + strand + ["status"]) + "\n")

    def write(self, out: TextIO, pred: Prediction) -> None:  # noqa: D102
        if pred.probs is None:
            empty = [""] * (len(self.classes) + len(self.scores) + len(self.lead) + self.strand)
            out.write("\t".join([pred.id, *empty, f"skipped: {pred.skipped}"]) + "\n")
            return
        probs = pred.probs if self.per_residue else pred.probs[None, :]  # (K,) -> (1, K)
        top = probs.argmax(axis=1)
        scores = [_p(pred.novelty[s]) if pred.novelty else "" for s in self.scores]
        tail = "\t".join([*scores, *([pred.strand] if self.strand else []), PREDICTED])
        labels = [UNASSIGNED] * len(top) if pred.abstained else [self.classes[i] for i in top]
        n = len(probs)
        lead = zip([pred.id] * n, range(1, n + 1), pred.sequence, strict=True) if self.per_residue else [(pred.id,)]
        out.write("".join(self.row % (*head, label, *row, tail)
                          for head, label, row in zip(lead, labels, probs.tolist(), strict=True)))

    def end(self, out: TextIO) -> None:  # noqa: D102
        pass


class JsonWriter:
    """A JSON array with one object per record: id, label(s), probabilities by class, status.

    Sequence models add the novelty scores ``energy``, ``msp`` and ``nll`` after the probabilities; the label
    is ``unassigned`` when the checkpoint's abstain rule fired. With ``--strand both`` a predicted record has
    ``strand`` (``+`` or ``-``) before ``status``.
    """

    def __init__(self, classes: list[str], task: Task, options: WriterOptions = WriterOptions()):
        self.classes, self.per_residue, self.first = classes, task.per_residue, True  # every score is written
        self.strand = options.strand

    def begin(self, out: TextIO) -> None:  # noqa: D102
        out.write("[")

    def write(self, out: TextIO, pred: Prediction) -> None:  # noqa: D102
        obj = {"id": pred.id, "status": f"skipped: {pred.skipped}"} if pred.probs is None else self.record(pred)
        out.write(("\n" if self.first else ",\n") + json.dumps(obj))
        self.first = False

    def record(self, pred: Prediction) -> dict:
        """The JSON object of a predicted record."""
        top = pred.probs.argmax(axis=-1)
        labels = [self.classes[i] for i in np.atleast_1d(top)]
        obj: dict = {"id": pred.id, "label": "".join(labels) if self.per_residue else labels[0]}
        if pred.abstained:
            obj["label"] = UNASSIGNED
        # float64 before rounding: a rounded float32 prints as 0.1234000027179718 in JSON.
        obj["probs"] = {c: np.round(pred.probs[..., k].astype(np.float64), 4).tolist()
                        for k, c in enumerate(self.classes)}
        obj.update({name: round(value, 4) for name, value in (pred.novelty or {}).items()})
        return self.finish(obj, pred)

    def finish(self, obj: dict, pred: Prediction) -> dict:
        """``obj`` with the ``strand`` (with ``--strand both``) and ``status`` of a predicted record."""
        if self.strand:
            obj["strand"] = pred.strand
        obj["status"] = PREDICTED
        return obj

    def end(self, out: TextIO) -> None:  # noqa: D102
        out.write("\n]\n")


class _ThreeStateWriter:
    """Shared checks of the PSIPRED formats: residue models with exactly the classes H, E, C."""

    def __init__(self, classes: list[str], task: Task, options: WriterOptions = WriterOptions()):
        if not task.per_residue or sorted(classes) != ["C", "E", "H"]:
            raise InputError(f"Expected a 3-state residue model (classes C, E, H) for this format, "
                             f"but got a {task.name} model with classes {classes}")
        self.col = {c: i for i, c in enumerate(classes)}

    def begin(self, out: TextIO) -> None:  # noqa: D102
        pass

    def end(self, out: TextIO) -> None:  # noqa: D102
        pass

    def write(self, out: TextIO, pred: Prediction) -> None:
        """The format's header line and the record id, then :meth:`body` (or the skip reason)."""
        out.write(f"{self.header}\n# {pred.id}\n\n")
        if pred.probs is None:
            out.write(f"# skipped: {pred.skipped}\n\n")
            return
        self.body(out, pred)

    def _states(self, probs: np.ndarray) -> tuple[str, np.ndarray]:
        order = [self.col["C"], self.col["H"], self.col["E"]]
        che = probs[:, order]  # (L, 3) in PSIPRED's column order C, H, E
        return "".join("CHE"[i] for i in che.argmax(axis=1)), che


class Ss2Writer(_ThreeStateWriter):
    """PSIPRED VFORMAT (``.ss2``): ``pos aa state p_C p_H p_E`` per residue; one block per record."""

    header = "# PSIPRED VFORMAT (seqxent)"

    def body(self, out: TextIO, pred: Prediction) -> None:  # noqa: D102
        states, che = self._states(pred.probs)
        for i, (aa, state, p) in enumerate(zip(pred.sequence, states, che, strict=True)):
            out.write(f"{i + 1:4d} {aa} {state}   {p[0]:.3f}  {p[1]:.3f}  {p[2]:.3f}\n")
        out.write("\n")


class HorizWriter(_ThreeStateWriter):
    """PSIPRED HFORMAT (``.horiz``): Conf/Pred/AA lines in blocks of 60 residues with a position ruler.

    ``Conf`` is PSIPRED's 0–9 confidence: ``min(9, int(10 · (p_top − p_second)))``.
    """

    header, width = "# PSIPRED HFORMAT (seqxent)", 60

    def body(self, out: TextIO, pred: Prediction) -> None:  # noqa: D102
        states, che = self._states(pred.probs)
        top2 = np.sort(che, axis=1)[:, -2:]
        conf = "".join(str(min(9, int(10 * (b - a)))) for a, b in top2)
        for s in range(0, len(states), self.width):
            e = min(s + self.width, len(states))
            ruler = "".join(f"{n:>10d}" for n in range(s + 10, e + 1, 10))
            out.write(f"Conf: {conf[s:e]}\nPred: {states[s:e]}\n")
            out.write(f"  AA: {pred.sequence[s:e]}\n      {ruler}\n\n")


class MultilabelTsvWriter:
    """TSV of multi-label predictions: ``id``, ``label``, one ``p_<label>`` per label, ``status``.

    ``label`` joins with ``;`` the labels whose probability is at least ``threshold`` (empty when none);
    the probabilities are independent sigmoids, so they need not sum to 1. ``--strand both`` adds ``strand``
    before ``status``.
    """

    def __init__(self, classes: list[str], task: Task, options: WriterOptions = WriterOptions()):
        self.classes, self.threshold = classes, check_threshold(options.threshold)
        self.strand = options.strand

    def begin(self, out: TextIO) -> None:  # noqa: D102
        strand = ["strand"] if self.strand else []
        out.write("\t".join(["id", "label"] + [f"p_{c}" for c in self.classes] + strand + ["status"]) + "\n")

    def write(self, out: TextIO, pred: Prediction) -> None:  # noqa: D102
        strand = [pred.strand] if self.strand else []
        if pred.probs is None:
            cells = [pred.id, *[""] * (len(self.classes) + 1 + self.strand), f"skipped: {pred.skipped}"]
        else:
            cells = [pred.id, predicted_labels(pred.probs, self.classes, self.threshold),
                     *(f"{p:.4f}" for p in pred.probs), *strand, PREDICTED]
        out.write("\t".join(cells) + "\n")

    def end(self, out: TextIO) -> None:  # noqa: D102
        pass


class MultilabelJsonWriter(JsonWriter):
    """A JSON array: per record ``id``, ``label`` (``;``-joined), ``labels`` (list), ``probs``, ``status``."""

    def __init__(self, classes: list[str], task: Task, options: WriterOptions = WriterOptions()):
        self.classes, self.per_residue, self.first = classes, False, True
        self.threshold, self.strand = check_threshold(options.threshold), options.strand

    def record(self, pred: Prediction) -> dict:  # noqa: D102
        label = predicted_labels(pred.probs, self.classes, self.threshold)
        return self.finish({"id": pred.id, "label": label, "labels": split_labels(label),
                            "probs": {c: round(float(p), 4) for c, p in zip(self.classes, pred.probs, strict=True)}},
                           pred)


#: The writers of flat models, by ``--format`` name (``rdp`` is only for lineage models: it refuses the others).
FORMATS = {"tsv": TsvWriter, "ss2": Ss2Writer, "horiz": HorizWriter, "json": JsonWriter, **TAXONOMY_FORMATS,
           "rdp": needs_lineage_model}
MULTILABEL_FORMATS = {"tsv": MultilabelTsvWriter, "json": MultilabelJsonWriter}


def get_writer(fmt: str, classes: list[str], task: str, threshold: float = THRESHOLD,
               scores: Sequence[str] | None = None, **options):
    """The writer for format ``fmt``.

    ``threshold`` is the probability at which multilabel models predict a label; ``scores`` names the
    novelty-score columns of a sequence model (default: energy, msp, nll); ``options`` are the other fields of
    :class:`WriterOptions` (``strand``, ``alphabet``, ``label_column``, ``cutoff``, ``tree``, ``model_cutoff``).
    With a ``tree`` (a lineage model) the writer is that of :data:`~seqxent.predict.lineage.LINEAGE_FORMATS`.

    Raises:
        InputError: for an unknown format, a PSIPRED format with a model that is not 3-state, a format other
            than ``tsv`` or ``json`` for a multilabel model, a taxonomy format with a model that is not a
            single-label DNA model of a rank, ``rdp`` with a model that is not a lineage model, a lineage model
            without its tree, a cut-off with a format that has none, or a threshold or cut-off outside [0, 1].
    """
    if fmt not in FORMATS:
        raise InputError(f"Expected argument `format` to be one of {sorted(FORMATS)}, but got {fmt!r}")
    opts = WriterOptions(scores=scores, threshold=threshold, **options)
    if opts.tree is not None:
        return _lineage_writer(fmt, classes, opts)
    if get_task(task).lineages:
        raise InputError("A lineage model needs its taxon tree (the checkpoint's meta['lineage']) to be written")
    if opts.cutoff is not None and fmt not in TAXONOMY_FORMATS:
        raise InputError(f"--cutoff applies to --format {' and '.join(TAXONOMY_FORMATS)}, but got --format {fmt}")
    kind = get_task(task)
    if kind.label_sets:  # label sets: see seqxent.data.labels
        if fmt not in MULTILABEL_FORMATS:
            raise InputError(f"Expected argument `format` to be one of {sorted(MULTILABEL_FORMATS)} for a "
                             f"{kind.name} model, but got {fmt!r}")
        return MULTILABEL_FORMATS[fmt](classes, kind, opts)
    return FORMATS[fmt](classes, kind, opts)


def _lineage_writer(fmt: str, classes: list[str], opts: WriterOptions):
    """The writer of ``fmt`` for a lineage model (``opts.tree``), checking that the tree is the model's."""
    if fmt not in LINEAGE_FORMATS:  # ss2, horiz
        raise InputError(f"Expected a 3-state residue model (classes C, E, H) for this format, but got a lineage "
                         f"model with {len(classes)} classes")
    if list(classes) != opts.tree.classes:
        raise InputError(f"Expected the classes of a lineage model to be those of its tree ({len(opts.tree.classes)} "
                         f"classes), but got {len(classes)} classes that differ")
    return LINEAGE_FORMATS[fmt](opts)
