"""Taxonomy formats of ``seqxent predict``: vsearch SINTAX's tab-separated output and QIIME 2's ``taxonomy.tsv``.

For single-label DNA models whose classes are one taxonomic rank (the checkpoint's ``meta["label_column"]``:
``species`` → ``s``, ``genus`` → ``g``, … see :data:`RANK_LETTERS`), written as the tools write them, so
that the files go where those tools' outputs go:

- ``sintax``: ``vsearch --sintax Q --db DB --tabbedout OUT --sintax_cutoff C``: per record the query label
  (the whole header line), ``s:Name(0.93)`` (the calibrated top probability, 2 decimals), the strand and
  ``s:Name`` again when the probability is at least the cut-off (empty, the line still ending with a tab,
  when it is not or the record is ``unassigned``). No header line. Default cut-off 0.8, SINTAX's usual one.
- ``qiime``: ``FeatureData[Taxonomy]`` as exported from ``qiime feature-classifier classify-sklearn``: a
  ``Feature ID<TAB>Taxon<TAB>Confidence`` header, then ``s__Name`` and its probability, or ``Unassigned``
  with ``1 −`` the top probability (classify-sklearn's confidence of an unassigned read) when the
  probability is below the cut-off or the record is ``unassigned``. Default cut-off 0.7, classify-sklearn's.

The cut-off applies to the unrounded probability (``>=``, as both tools compare). A skipped record (empty or
invalid sequence) still gets its line: SINTAX's line of a query it cannot classify (the label and three empty
fields), QIIME's ``Unassigned`` with an empty confidence.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TextIO

from seqxent.data import taxonomy
from seqxent.errors import InputError
from seqxent.predict.stream import Prediction
from seqxent.tasks import Task

if TYPE_CHECKING:
    from seqxent.predict.formats import WriterOptions

#: Rank of a model's label column → SINTAX's rank letter (QIIME's prefix is the letter and ``__``); strains
#: are no label column of a model.
RANK_LETTERS = {rank: letter for rank, letter in taxonomy.RANK_LETTERS.items() if rank != "strain"}
#: Cut-off of each format when ``--cutoff`` is not given: SINTAX's usual 0.8, classify-sklearn's 0.7.
DEFAULT_CUTOFFS = {"sintax": 0.8, "qiime": 0.7}
QIIME_HEADER = "Feature ID\tTaxon\tConfidence\n"


def taxonomy_rank(fmt: str, task: Task, options: WriterOptions) -> str:
    """The rank letter of a model's label column, checking that ``fmt`` fits the model.

    Raises:
        InputError: for a model that is not a single-label DNA model, or whose label column is not a rank.
    """
    if options.alphabet != "dna" or task.per_residue or task.label_sets:
        raise InputError(f"--format {fmt} needs a DNA model that predicts one label a record, but this is a "
                         f"{options.alphabet} {task.name} model")
    column = options.label_column
    letter = RANK_LETTERS.get(str(column).lower())
    if letter is None:
        raise InputError(f"--format {fmt} needs a model whose label column is a rank ({', '.join(RANK_LETTERS)}), "
                         f"but this model's label column is {column!r}")
    return letter


def check_cutoff(fmt: str, cutoff: float | None) -> float:
    """``cutoff``, or the format's default when None.

    Raises:
        InputError: for a cut-off outside [0, 1].
    """
    if cutoff is None:
        return DEFAULT_CUTOFFS[fmt]
    if not 0.0 <= cutoff <= 1.0:
        raise InputError(f"Expected argument `cutoff` to be in [0, 1], but got {cutoff}")
    return cutoff


class _TaxonomyWriter:
    """Shared part: the rank letter, the cut-off and the top class of a prediction."""

    fmt = ""

    def __init__(self, classes: list[str], task: Task, options: WriterOptions):
        self.classes, self.letter = classes, taxonomy_rank(self.fmt, task, options)
        self.cutoff = check_cutoff(self.fmt, options.cutoff)

    def top(self, pred: Prediction) -> tuple[str, float, bool]:
        """``(name, probability, passed)``: the top class, its probability, and whether the call stands."""
        k = int(pred.probs.argmax())
        p = float(pred.probs[k])
        return self.classes[k], p, p >= self.cutoff and not pred.abstained

    def begin(self, out: TextIO) -> None:  # noqa: D102
        pass

    def end(self, out: TextIO) -> None:  # noqa: D102
        pass


class SintaxWriter(_TaxonomyWriter):
    r"""vsearch ``--sintax --tabbedout`` with ``--sintax_cutoff``: four tab-separated fields a record, no header.

    Example:
        >>> import io, numpy as np
        >>> from types import SimpleNamespace
        >>> from seqxent.tasks import get_task
        >>> options = SimpleNamespace(alphabet="dna", label_column="genus", cutoff=None)
        >>> writer, out = SintaxWriter(["Hippea", "Desulfomonile"], get_task("sequence"), options), io.StringIO()
        >>> writer.write(out, Prediction("q1", "ACGT", np.array([0.16, 0.84]), description="q1 length=4"))
        >>> writer.write(out, Prediction("q2", "", None, "empty sequence"))
        >>> out.getvalue().splitlines(keepends=True)
        ['q1 length=4\tg:Desulfomonile(0.84)\t+\tg:Desulfomonile\n', 'q2\t\t\t\n']
    """

    fmt = "sintax"

    def write(self, out: TextIO, pred: Prediction) -> None:  # noqa: D102
        label = pred.description or pred.id
        if pred.probs is None:
            out.write(f"{label}\t\t\t\n")  # vsearch's line for a query it cannot classify
            return
        name, p, passed = self.top(pred)
        call = f"{self.letter}:{name}"
        out.write(f"{label}\t{call}({p:.2f})\t{pred.strand or '+'}\t{call if passed else ''}\n")


class QiimeWriter(_TaxonomyWriter):
    """QIIME 2 ``FeatureData[Taxonomy]`` (``taxonomy.tsv``): ``Feature ID``, ``Taxon``, ``Confidence``."""

    fmt = "qiime"

    def begin(self, out: TextIO) -> None:  # noqa: D102
        out.write(QIIME_HEADER)

    def write(self, out: TextIO, pred: Prediction) -> None:  # noqa: D102
        if pred.probs is None:
            out.write(f"{pred.id}\tUnassigned\t\n")
            return
        name, p, passed = self.top(pred)
        out.write(f"{pred.id}\t{self.letter}__{name}\t{p:.4f}\n" if passed else f"{pred.id}\tUnassigned\t{1 - p:.4f}\n")


#: The taxonomy formats, by ``--format`` name.
TAXONOMY_FORMATS = {"sintax": SintaxWriter, "qiime": QiimeWriter}
