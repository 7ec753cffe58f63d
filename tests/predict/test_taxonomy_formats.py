"""Tests of seqxent.predict.taxonomy: ``--format sintax`` and ``--format qiime`` on hand-made predictions.

The expected lines are those the tools write (/work/shared/formats.md, "Taxonomy formats the barcode community
uses"): vsearch 2.22.1 ``--sintax --tabbedout --sintax_cutoff`` and QIIME 2's ``taxonomy.tsv``
(``FeatureData[Taxonomy]``). The QIIME check below re-states q2-types' ``TSVTaxonomyFormat`` validation.
"""

import io
from pathlib import Path

import numpy as np
import pytest

from seqxent.errors import InputError
from seqxent.predict.formats import get_writer
from seqxent.predict.stream import Prediction
from seqxent.predict.taxonomy import RANK_LETTERS

GOLDEN = Path(__file__).resolve().parents[2] / "data" / "examples" / "golden"


def _render(fmt: str, classes: list[str], preds: list[Prediction], label_column: str = "species",
            **options) -> str:
    out = io.StringIO(newline="")
    writer = get_writer(fmt, classes, "sequence", alphabet="dna", label_column=label_column, **options)
    writer.begin(out)
    for pred in preds:
        writer.write(out, pred)
    writer.end(out)
    return out.getvalue()


# --- SINTAX ----------------------------------------------------------------------------------------------------

def test_sintax_line_equals_vsearch_example_line():
    # formats.md, third example line: a genus-only call below the cut-off (the query label holds two spaces).
    pred = Prediction("HC9DO0P01A2RID", "ACGT", np.array([0.33, 0.36, 0.31]),
                      description="HC9DO0P01A2RID  length=330")
    text = _render("sintax", ["Hippea", "Vineibacter", "Acidisoma"], [pred], label_column="genus")
    assert text == "HC9DO0P01A2RID  length=330\tg:Vineibacter(0.36)\t+\t\n"


def test_sintax_call_above_cutoff_and_on_the_minus_strand():
    # The layout of formats.md's first line, for a model of one rank (domain).
    preds = [Prediction("HC9DO0P01AS3S4", "A", np.array([0.84, 0.16]), description="HC9DO0P01AS3S4  length=332"),
             Prediction("r2", "A", np.array([0.1, 0.9]), strand="-")]
    text = _render("sintax", ["Bacteria", "Archaea"], preds, label_column="domain")
    assert text == ("HC9DO0P01AS3S4  length=332\td:Bacteria(0.84)\t+\td:Bacteria\n"
                    "r2\td:Archaea(0.90)\t-\td:Archaea\n")


@pytest.mark.parametrize(("p", "cutoff", "passed"), [(0.8, None, True), (0.7999, None, False), (0.5, 0.5, True),
                                                     (0.4999, 0.5, False), (1.0, 1.0, True), (0.34, 0.0, True)])
def test_sintax_cutoff_is_at_least(p, cutoff, passed):
    pred = Prediction("q", "A", np.array([p, (1 - p) / 2, (1 - p) / 2]))  # the first class is the top one
    line = _render("sintax", ["Osmia rufa", "Osmia cornuta", "Osmia bicornis"], [pred], cutoff=cutoff)
    assert line == f"q\ts:Osmia rufa({p:.2f})\t+\t{'s:Osmia rufa' if passed else ''}\n"


def test_sintax_abstained_and_skipped_records():
    preds = [Prediction("novel", "A", np.array([0.95, 0.05]), abstained=True, description="novel sp. nov."),
             Prediction("gap", "", None, "empty sequence", description="gap only gaps")]
    text = _render("sintax", ["a", "b"], preds)
    # Abstained: the call and its probability stay in field 2; field 4 (the call that stands) is empty.
    # Skipped: vsearch's line of a query it cannot classify: the label, then three empty fields.
    assert text == "novel sp. nov.\ts:a(0.95)\t+\t\ngap only gaps\t\t\t\n"


def test_sintax_golden_has_four_fields_a_line():
    for line in (GOLDEN / "barcodes.sintax").read_text("utf-8").splitlines():
        label, call, strand, passed = line.split("\t")
        assert strand in ("+", "-", "")
        assert (call == "") == (strand == "")


# --- QIIME 2 ---------------------------------------------------------------------------------------------------

def check_qiime_taxonomy(text: str) -> None:
    """q2-types ``TSVTaxonomyFormat``: header ``Feature ID<TAB>Taxon``, equal field counts, a data line."""
    lines = [line for line in text.split("\n") if line.lstrip(" ") != ""]
    header = lines[0].split("\t")
    assert header[:2] == ["Feature ID", "Taxon"]
    assert len(lines) > 1
    for line in lines[1:]:
        cells = line.split("\t")
        assert len(cells) == len(header), line
        assert cells[1] == "Unassigned" or cells[1][1:3] == "__", line
        assert cells[2] == "" or 0.0 <= float(cells[2]) <= 1.0, line
    assert text.endswith("\n")


def test_qiime_exact():
    preds = [Prediction("r1", "A", np.array([0.1, 0.9])),
             Prediction("r2", "A", np.array([0.65, 0.35])),
             Prediction("r3", "A", np.array([0.98, 0.02]), abstained=True),
             Prediction("r4", "", None, "invalid dna character(s): 'X' at position 5"),
             Prediction("r5", "A", np.array([0.3, 0.7]))]
    text = _render("qiime", ["Osmia rufa", "Osmia cornuta"], preds)
    # Unassigned: classify-sklearn's confidence, 1 - the top probability; skipped: empty confidence.
    assert text == ("Feature ID\tTaxon\tConfidence\n"
                    "r1\ts__Osmia cornuta\t0.9000\n"
                    "r2\tUnassigned\t0.3500\n"
                    "r3\tUnassigned\t0.0200\n"
                    "r4\tUnassigned\t\n"
                    "r5\ts__Osmia cornuta\t0.7000\n")
    check_qiime_taxonomy(text)


def test_qiime_golden_is_importable_layout():
    check_qiime_taxonomy((GOLDEN / "barcodes.qiime").read_text("utf-8"))


def test_qiime_check_rejects_other_layouts():
    for bad in ("Feature ID\tTaxon\tConfidence\n", "id\tTaxon\tConfidence\nr1\ts__a\t0.9\n",
                "Feature ID\tTaxon\tConfidence\nr1\ts__a\n"):
        with pytest.raises(AssertionError):
            check_qiime_taxonomy(bad)


# --- which models and options --------------------------------------------------------------------------------

@pytest.mark.parametrize(("column", "letter"), [*RANK_LETTERS.items(), ("Species", "s"), ("GENUS", "g")])
def test_rank_letter_from_label_column(column, letter):
    pred = Prediction("q", "A", np.array([0.9, 0.1]))
    assert _render("sintax", ["n", "m"], [pred], label_column=column) == f"q\t{letter}:n(0.90)\t+\t{letter}:n\n"
    assert _render("qiime", ["n", "m"], [pred], label_column=column).splitlines()[1] == f"q\t{letter}__n\t0.9000"


@pytest.mark.parametrize("fmt", ["sintax", "qiime"])
@pytest.mark.parametrize("column", ["country", None, "bin"])
def test_label_column_that_is_not_a_rank_is_refused(fmt, column):
    with pytest.raises(InputError) as info:
        get_writer(fmt, ["a"], "sequence", alphabet="dna", label_column=column)
    assert str(info.value) == (f"--format {fmt} needs a model whose label column is a rank (domain, kingdom, phylum, "
                               f"class, order, family, genus, species), but this model's label column is {column!r}")


@pytest.mark.parametrize("fmt", ["sintax", "qiime"])
@pytest.mark.parametrize(("task", "alphabet"), [("sequence", "protein"), ("residue", "dna")])
def test_taxonomy_formats_need_a_single_label_dna_model(fmt, task, alphabet):
    with pytest.raises(InputError) as info:
        get_writer(fmt, ["a"], task, alphabet=alphabet, label_column="family")
    assert str(info.value) == (f"--format {fmt} needs a DNA model that predicts one label a record, but this is a "
                               f"{alphabet} {task} model")


def test_taxonomy_formats_for_a_multilabel_model():
    with pytest.raises(InputError, match=r"Expected argument `format` to be one of \['json', 'tsv'\] for a multilabel"):
        get_writer("sintax", ["a"], "multilabel", alphabet="dna", label_column="species")


@pytest.mark.parametrize("cutoff", [-0.1, 1.5])
def test_cutoff_out_of_range(cutoff):
    with pytest.raises(InputError) as info:
        get_writer("qiime", ["a"], "sequence", alphabet="dna", label_column="species", cutoff=cutoff)
    assert str(info.value) == f"Expected argument `cutoff` to be in [0, 1], but got {cutoff}"


@pytest.mark.parametrize("fmt", ["tsv", "json"])
def test_cutoff_only_for_taxonomy_formats(fmt):
    with pytest.raises(InputError) as info:
        get_writer(fmt, ["a"], "sequence", cutoff=0.5)
    assert str(info.value) == f"--cutoff applies to --format sintax and qiime, but got --format {fmt}"
