"""Tests of seqxent.predict.lineage: the ``seqxent predict`` formats of lineage models on hand-made predictions.

A 6-rank tree (domain … genus, the ranks of RDP's fixrank) and chosen per-rank probabilities give the
goldens in ``tests/predict/golden/lineage.*`` (exact, no model involved). After an intended change,
regenerate them with::

    SEQXENT_UPDATE_GOLDEN=1 .venv/bin/pytest tests/predict/test_lineage_formats.py

and review the diff. The first two records reproduce the RDP classifier's fixrank lines and the third a
vsearch SINTAX line of /work/shared/formats.md byte for byte (RDP 2.10.2, vsearch 2.22.1 on the
``Native_1_4_A_trimmed.fasta`` reads).
"""

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

from seqxent.commands.predict import lineage_options
from seqxent.data.io import atomic_write
from seqxent.data.taxon_tree import TaxonTree
from seqxent.errors import InputError
from seqxent.model.checkpoint import Checkpoint
from seqxent.predict.formats import get_writer
from seqxent.predict.lineage import LINEAGE_FORMATS
from seqxent.predict.stream import Prediction

GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("SEQXENT_UPDATE_GOLDEN") == "1"
RANKS = ["domain", "phylum", "class", "order", "family", "genus"]


def _tree(proteobacteria: str = '"Proteobacteria"') -> TaxonTree:
    delta = ["Bacteria", proteobacteria, "Deltaproteobacteria"]
    alpha = ["Bacteria", proteobacteria, "Alphaproteobacteria", "Rhodospirillales", "Acetobacteraceae"]
    return TaxonTree.from_lineages([
        [*delta, "Desulfobacterales", "Desulfobacteraceae", "Desulfosarcina"],
        [*delta, "Desulfobacterales", "Desulfobacteraceae", "Desulfococcus"],
        [*delta, "Syntrophobacterales", "Syntrophaceae", "Desulfomonile"],
        [*alpha, "Stella"],
        [*alpha, "Acidisoma"],
        ["Bacteria", "Firmicutes", "Bacilli", "Bacillales", "Bacillaceae", "Bacillus"],
        ["Archaea", "Euryarchaeota", "Methanobacteria", "Methanobacteriales", "Methanobacteriaceae",
         "Methanobrevibacter"],
    ], RANKS)


TREE = _tree()


def _probs(tree: TaxonTree, given: dict[str, float]) -> np.ndarray:
    """``(K,)`` probabilities: ``given`` by class name, each rank's rest spread evenly over its other classes."""
    probs = np.zeros(len(tree.classes))
    for r in range(len(tree.ranks)):
        block = range(tree.rank_slice(r).start, tree.rank_slice(r).stop)
        rest = [k for k in block if tree.classes[k] not in given]
        for k in block:
            if tree.classes[k] in given:
                probs[k] = given[tree.classes[k]]
        left = 1.0 - probs[list(block)].sum()
        assert left > -1e-12 and (rest or abs(left) < 1e-12), (tree.ranks[r], left)
        probs[rest] = left / max(len(rest), 1)
    return probs


def _calls(**by_rank) -> dict[str, float]:
    """Class name → probability from ``rank=[(name, p), …]``."""
    return {f"{rank}:{name}": p for rank, pairs in by_rank.items() for name, p in pairs}


P = '"Proteobacteria"'
# RDP's first example read: confidences 1.0 0.7 0.6 0.25 0.25 0.22; the best genus overall (Bacillus, 0.4) is
# no child of the called family, so the consistent genus call is Desulfosarcina; the best order overall
# (Rhodospirillales, 0.35) is no child of the called class either.
R1 = _calls(domain=[("Bacteria", 1.0)], phylum=[(P, 0.7), ("Firmicutes", 0.3)],
            **{"class": [("Deltaproteobacteria", 0.6), ("Alphaproteobacteria", 0.3), ("Bacilli", 0.1)]},
            order=[("Desulfobacterales", 0.25), ("Syntrophobacterales", 0.2), ("Rhodospirillales", 0.35),
                   ("Bacillales", 0.2)],
            family=[("Desulfobacteraceae", 0.25), ("Syntrophaceae", 0.2), ("Acetobacteraceae", 0.3),
                    ("Bacillaceae", 0.25)],
            genus=[("Desulfosarcina", 0.22), ("Desulfococcus", 0.02), ("Desulfomonile", 0.1), ("Stella", 0.1),
                   ("Acidisoma", 0.06), ("Bacillus", 0.4), ("Methanobrevibacter", 0.1)])
# RDP's second example read: 1.0 0.97 0.95 0.88 0.71 0.46.
R2 = _calls(domain=[("Bacteria", 1.0)], phylum=[(P, 0.97), ("Firmicutes", 0.03)],
            **{"class": [("Alphaproteobacteria", 0.95), ("Deltaproteobacteria", 0.03), ("Bacilli", 0.02)]},
            order=[("Rhodospirillales", 0.88), ("Desulfobacterales", 0.06), ("Syntrophobacterales", 0.03),
                   ("Bacillales", 0.03)],
            family=[("Acetobacteraceae", 0.71), ("Desulfobacteraceae", 0.2), ("Syntrophaceae", 0.05),
                    ("Bacillaceae", 0.04)],
            genus=[("Stella", 0.46), ("Acidisoma", 0.44), ("Desulfosarcina", 0.05), ("Desulfococcus", 0.02),
                   ("Desulfomonile", 0.01), ("Bacillus", 0.02)])
# Nothing passes (the domain call has 0.55), kept on the minus strand.
R3 = _calls(domain=[("Bacteria", 0.55)], phylum=[("Firmicutes", 0.6)], **{"class": [("Bacilli", 0.6)]},
            order=[("Bacillales", 0.6)], family=[("Bacillaceae", 0.6)], genus=[("Bacillus", 0.6)])
# Every rank passes.
R5 = _calls(domain=[("Bacteria", 0.99)], phylum=[("Firmicutes", 0.99)], **{"class": [("Bacilli", 0.98)]},
            order=[("Bacillales", 0.97)], family=[("Bacillaceae", 0.96)], genus=[("Bacillus", 0.95)])

PREDS = [
    Prediction("HC9DO0P01AS3S4", "ACGT", _probs(TREE, R1), strand="+", description="HC9DO0P01AS3S4  length=332"),
    Prediction("HC9DO0P01AX5CW", "ACGT", _probs(TREE, R2), strand="+", description="HC9DO0P01AX5CW  length=330"),
    Prediction("r3", "ACGT", _probs(TREE, R3), strand="-", description="r3 reverse read"),
    Prediction("r4", "", None, "empty sequence", description="r4 empty"),
    Prediction("r5", "ACGT", _probs(TREE, R5), strand="+", description="r5"),
]

#: formats.md, RDP classifier 2.10.2 ``-f fixrank``, the two example lines.
RDP_LINES = [
    "HC9DO0P01AS3S4\t\tBacteria\tdomain\t1.0\t\"Proteobacteria\"\tphylum\t0.7\tDeltaproteobacteria\tclass\t0.6\t"
    "Desulfobacterales\torder\t0.25\tDesulfobacteraceae\tfamily\t0.25\tDesulfosarcina\tgenus\t0.22\n",
    "HC9DO0P01AX5CW\t\tBacteria\tdomain\t1.0\t\"Proteobacteria\"\tphylum\t0.97\tAlphaproteobacteria\tclass\t0.95\t"
    "Rhodospirillales\torder\t0.88\tAcetobacteraceae\tfamily\t0.71\tStella\tgenus\t0.46\n",
]


def _render(fmt: str, preds: list[Prediction], tree: TaxonTree = TREE, **options) -> str:
    out = io.StringIO(newline="")
    writer = get_writer(fmt, tree.classes, "lineage", alphabet="dna", tree=tree, **options)
    writer.begin(out)
    for pred in preds:
        writer.write(out, pred)
    writer.end(out)
    return out.getvalue()


def test_hand_made_probabilities_are_per_rank_distributions():
    for pred in PREDS:
        if pred.probs is not None:
            for r in range(len(RANKS)):
                assert pred.probs[TREE.rank_slice(r)].sum() == pytest.approx(1.0)


# --- goldens ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", sorted(LINEAGE_FORMATS))
def test_golden_output(fmt):
    text = _render(fmt, PREDS, strand=True, label_column="genus")
    golden = GOLDEN / f"lineage.{fmt}"
    if UPDATE:
        with atomic_write(golden) as out:
            out.write(text)
    assert text == golden.read_text("utf-8")


def test_rdp_lines_equal_the_rdp_classifier_example_lines():
    assert _render("rdp", PREDS[:2]).splitlines(keepends=True) == RDP_LINES


def test_rdp_minus_strand_and_skipped_record():
    lines = _render("rdp", PREDS[2:4]).splitlines()
    assert lines[0].split("\t")[:5] == ["r3", "-", "Bacteria", "domain", "0.55"]
    assert len(lines[0].split("\t")) == 2 + 3 * 6
    assert lines[1] == "r4\t"  # id and an empty orientation, no rank


def test_rdp_confidences_of_float32_probabilities_print_as_java():
    pred = Prediction("q", "A", _probs(TREE, R1).astype(np.float32))
    assert _render("rdp", [pred]) == RDP_LINES[0].replace("HC9DO0P01AS3S4", "q")


def test_rdp_writes_only_its_ranks_in_its_order():
    lineages = [["Bacteria", "Bacillus", "Bacillus subtilis"], ["Archaea", "Methanobrevibacter", ""]]
    tree = TaxonTree.from_lineages(lineages, ["domain", "genus", "species"])
    # The species is decoded but fixrank has no species column; the best genus (Methanobrevibacter) is no
    # child of Bacteria, so the genus call is Bacillus even with a probability of 0, printed 0.0.
    pred = Prediction("q", "A", np.array([0.0, 1.0, 0.0, 1.0, 1.0]))
    assert _render("rdp", [pred], tree=tree) == "q\t\tBacteria\tdomain\t1.0\tBacillus\tgenus\t0.0\n"


def test_sintax_line_equals_vsearch_example_line():
    tree = _tree("Proteobacteria")
    given = _calls(domain=[("Bacteria", 0.84)], phylum=[("Proteobacteria", 0.75), ("Firmicutes", 0.15)],
                   **{"class": [("Deltaproteobacteria", 0.74), ("Alphaproteobacteria", 0.16)]},
                   order=[("Syntrophobacterales", 0.44), ("Desulfobacterales", 0.30), ("Rhodospirillales", 0.16)],
                   family=[("Syntrophaceae", 0.42), ("Desulfobacteraceae", 0.3), ("Acetobacteraceae", 0.18)],
                   genus=[("Desulfomonile", 0.41), ("Desulfosarcina", 0.2), ("Desulfococcus", 0.1), ("Stella", 0.1),
                          ("Acidisoma", 0.09)])
    pred = Prediction("HC9DO0P01AS3S4", "A", _probs(tree, given), description="HC9DO0P01AS3S4  length=332")
    assert _render("sintax", [pred], tree=tree) == (
        "HC9DO0P01AS3S4  length=332\td:Bacteria(0.84),p:Proteobacteria(0.75),c:Deltaproteobacteria(0.74),"
        "o:Syntrophobacterales(0.44),f:Syntrophaceae(0.42),g:Desulfomonile(0.41)\t+\td:Bacteria\n")


def test_sintax_truncation_nothing_passing_and_skipped():
    lines = _render("sintax", PREDS).splitlines(keepends=True)
    assert lines[0].endswith("\t+\td:Bacteria\n")  # the phylum (0.7) is below 0.8
    assert lines[1].endswith('\t+\td:Bacteria,p:"Proteobacteria",c:Alphaproteobacteria,o:Rhodospirillales\n')
    assert lines[2].startswith("r3 reverse read\td:Bacteria(0.55),p:Firmicutes(0.60),")
    assert lines[2].endswith("\t-\t\n")  # nothing passes: empty field, the line still ends with a tab
    assert lines[3] == "r4 empty\t\t\t\n"


def test_qiime_truncation_unassigned_and_skipped():
    assert _render("qiime", PREDS) == (
        "Feature ID\tTaxon\tConfidence\n"
        'HC9DO0P01AS3S4\td__Bacteria; p__"Proteobacteria"\t0.7000\n'  # 0.7 >= 0.7, 0.6 fails
        'HC9DO0P01AX5CW\td__Bacteria; p__"Proteobacteria"; c__Alphaproteobacteria; o__Rhodospirillales; '
        "f__Acetobacteraceae\t0.7100\n"
        "r3\tUnassigned\t0.4500\n"  # 1 - p(domain call)
        "r4\tUnassigned\t\n"
        "r5\td__Bacteria; p__Firmicutes; c__Bacilli; o__Bacillales; f__Bacillaceae; g__Bacillus\t0.9500\n")


def test_a_gap_in_the_lineage_in_every_format():
    # Alkalimonas has an order but no family: the family is a gap, the genus is still called and passes.
    tree = TaxonTree.from_lineages([
        ["Bacteria", "Proteobacteria", "Gammaproteobacteria", "Alteromonadales", "", "Alkalimonas"],
        ["Bacteria", "Firmicutes", "Bacilli", "Bacillales", "Bacillaceae", "Bacillus"]], RANKS)
    given = _calls(domain=[("Bacteria", 1.0)], phylum=[("Proteobacteria", 0.95)],
                   **{"class": [("Gammaproteobacteria", 0.95)]}, order=[("Alteromonadales", 0.9)],
                   family=[("Bacillaceae", 1.0)], genus=[("Alkalimonas", 0.85)])
    gap = [Prediction("q", "ACGT", _probs(tree, given), strand="+", description="q")]
    assert _render("sintax", gap, tree) == (
        "q\td:Bacteria(1.00),p:Proteobacteria(0.95),c:Gammaproteobacteria(0.95),o:Alteromonadales(0.90),"
        "g:Alkalimonas(0.85)\t+\td:Bacteria,p:Proteobacteria,c:Gammaproteobacteria,o:Alteromonadales,g:Alkalimonas\n")
    assert _render("qiime", gap, tree).splitlines()[1] == (
        "q\td__Bacteria; p__Proteobacteria; c__Gammaproteobacteria; o__Alteromonadales; f__; g__Alkalimonas\t0.8500")
    assert _render("rdp", gap, tree).endswith(
        "\tAlteromonadales\torder\t0.9\t\tfamily\t0.9\tAlkalimonas\tgenus\t0.85\n")
    assert _render("tsv", gap, tree).splitlines()[1].endswith(
        "\tAlteromonadales\t0.9000\t\t0.9000\tAlkalimonas\t0.8500\t"
        "Bacteria;Proteobacteria;Gammaproteobacteria;Alteromonadales;;Alkalimonas\t6\tpredicted")
    # Cut inside the gap's subtree: the lineage ends on the order, never on the empty family.
    low = [Prediction("q", "ACGT", _probs(tree, {**given, "genus:Alkalimonas": 0.5}), strand="+", description="q")]
    assert _render("sintax", low, tree).endswith(
        "\t+\td:Bacteria,p:Proteobacteria,c:Gammaproteobacteria,o:Alteromonadales\n")
    assert _render("qiime", low, tree).splitlines()[1].endswith("o__Alteromonadales\t0.9000")


def test_tsv_consistent_calls_without_strand():
    lines = _render("tsv", PREDS[:1] + PREDS[3:4], label_column="genus").splitlines()
    assert lines[0] == ("id\tlabel\tdomain\tdomain_confidence\tphylum\tphylum_confidence\tclass\tclass_confidence\t"
                        "order\torder_confidence\tfamily\tfamily_confidence\tgenus\tgenus_confidence\tlineage\tdepth\t"
                        "status")
    assert lines[1] == ('HC9DO0P01AS3S4\tDesulfosarcina\tBacteria\t1.0000\t"Proteobacteria"\t0.7000\t'
                        "Deltaproteobacteria\t0.6000\tDesulfobacterales\t0.2500\tDesulfobacteraceae\t0.2500\t"
                        "Desulfosarcina\t0.2200\tBacteria\t1\tpredicted")
    assert lines[2] == "r4" + "\t" * 16 + "skipped: empty sequence"
    assert {len(line.split("\t")) for line in lines} == {17}


def test_tsv_label_is_the_call_at_the_label_rank():
    for column, label in (("family", "Desulfobacteraceae"), ("Phylum", '"Proteobacteria"'), (None, "Desulfosarcina")):
        assert _render("tsv", PREDS[:1], label_column=column).splitlines()[1].split("\t")[1] == label


def test_json_lineage_objects():
    records = json.loads(_render("json", PREDS, strand=True, label_column="genus"))
    assert [r["id"] for r in records] == ["HC9DO0P01AS3S4", "HC9DO0P01AX5CW", "r3", "r4", "r5"]
    assert records[0]["lineage"][:2] == [{"rank": "domain", "name": "Bacteria", "confidence": 1.0, "passed": True},
                                        {"rank": "phylum", "name": P, "confidence": 0.7, "passed": False}]
    assert records[0]["label"] == "Desulfosarcina" and records[0]["depth"] == 1
    assert records[2]["depth"] == 0 and records[2]["strand"] == "-"
    assert records[3] == {"id": "r4", "status": "skipped: empty sequence"}
    assert records[4]["depth"] == 6 and all(step["passed"] for step in records[4]["lineage"])


# --- cut-off -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("p", "cutoff", "depth"), [(0.8, 0.8, 6), (0.8 - 1e-9, 0.8, 0), (0.5, 0.5, 6)])
def test_cutoff_is_at_least_on_unrounded_values(p, cutoff, depth):
    tree = TaxonTree.from_lineages([["A", "a"], ["B", "b"]], ["domain", "genus"])
    pred = Prediction("q", "A", np.array([p, 1 - p, 0.99, 0.01]))
    want = 2 if depth else 0
    assert _render("tsv", [pred], tree=tree, cutoff=cutoff).splitlines()[1].split("\t")[-2] == str(want)


@pytest.mark.parametrize(("options", "depths"), [
    ({}, [1, 4, 0, 6]),                                      # the format's default, 0.8
    ({"model_cutoff": 0.5}, [3, 5, 6, 6]),                   # the model's own
    ({"model_cutoff": 0.5, "cutoff": 0.9}, [1, 3, 0, 6]),    # --cutoff wins
])
def test_cutoff_default_is_the_models_own(options, depths):
    preds = [p for p in PREDS if p.probs is not None]
    rows = _render("tsv", preds, **options).splitlines()[1:]
    assert [int(row.split("\t")[-2]) for row in rows] == depths


def test_abstained_record_keeps_no_rank():
    pred = Prediction("r5", "A", _probs(TREE, R5), abstained=True)
    assert _render("sintax", [pred]).endswith("\t+\t\n")
    assert _render("qiime", [pred]).splitlines()[1] == "r5\tUnassigned\t0.0100"
    assert _render("tsv", [pred]).splitlines()[1].split("\t")[1] == "unassigned"


# --- errors ------------------------------------------------------------------------------------------------------

def test_rdp_needs_a_lineage_model():
    with pytest.raises(InputError) as info:
        get_writer("rdp", ["a", "b"], "sequence", alphabet="dna", label_column="genus")
    assert str(info.value) == ("--format rdp needs a lineage model (one softmax head per rank), but this is a "
                               "sequence model")


def test_rdp_has_no_cutoff():
    with pytest.raises(InputError) as info:
        _render("rdp", [], cutoff=0.5)
    assert str(info.value) == ("--cutoff applies to --format json, qiime, sintax, tsv of a lineage model, but got "
                               "--format rdp (RDP's fixrank writes every rank with its confidence)")
    assert _render("rdp", PREDS[:1], model_cutoff=0.5) == RDP_LINES[0]  # the model's cut-off is not for fixrank


def test_rdp_needs_one_of_its_ranks():
    tree = TaxonTree.from_lineages([["Metazoa", "Osmia rufa"]], ["kingdom", "species"])
    with pytest.raises(InputError, match=r"^--format rdp needs a model with at least one of the ranks domain, "):
        _render("rdp", [], tree=tree)


@pytest.mark.parametrize("fmt", ["sintax", "qiime"])
def test_rank_without_a_letter(fmt):
    tree = TaxonTree.from_lineages([["Bacteria", "Bacillota", "Bacillus"]], ["domain", "clade", "genus"])
    with pytest.raises(InputError) as info:
        _render(fmt, [], tree=tree)
    assert str(info.value) == (f"--format {fmt} needs ranks with a rank letter (domain, kingdom, phylum, class, "
                               "order, family, genus, species, strain), but this model's ranks are "
                               "['domain', 'clade', 'genus']")


@pytest.mark.parametrize("fmt", ["sintax", "qiime", "tsv", "json"])
@pytest.mark.parametrize("key", ["cutoff", "model_cutoff"])
@pytest.mark.parametrize("cutoff", [-0.1, 1.5])
def test_cutoff_out_of_range(fmt, key, cutoff):
    with pytest.raises(InputError) as info:
        _render(fmt, [], **{key: cutoff})
    assert str(info.value) == f"Expected argument `cutoff` to be in [0, 1], but got {cutoff}"


@pytest.mark.parametrize("fmt", ["ss2", "horiz"])
def test_psipred_formats_refuse_a_lineage_model(fmt):
    with pytest.raises(InputError) as info:
        _render(fmt, [])
    assert str(info.value) == ("Expected a 3-state residue model (classes C, E, H) for this format, but got a "
                               "lineage model with 26 classes")


def test_label_column_that_is_no_rank():
    with pytest.raises(InputError) as info:
        _render("tsv", [], label_column="country")
    assert str(info.value) == (f"Expected the label column of a lineage model to be one of its ranks {RANKS}, "
                               "but got 'country'")


def test_classes_must_be_the_trees():
    with pytest.raises(InputError, match="Expected the classes of a lineage model to be those of its tree"):
        get_writer("tsv", TREE.classes[::-1], "lineage", tree=TREE)


def test_lineage_model_without_its_tree():
    with pytest.raises(InputError, match=r"A lineage model needs its taxon tree"):
        get_writer("tsv", TREE.classes, "lineage")


# --- from the checkpoint -----------------------------------------------------------------------------------------

def test_lineage_options_from_checkpoint():
    meta = {"label_column": "genus", "lineage": {**TREE.to_meta(), "cutoff": 0.6}}
    options = lineage_options(Checkpoint(None, "lineage", None, TREE.classes, "", {}, 1.0, meta))
    assert options["model_cutoff"] == 0.6
    tree = options["tree"]
    assert (tree.ranks, tree.classes, tree.sizes) == (TREE.ranks, TREE.classes, TREE.sizes)
    np.testing.assert_array_equal(tree.ancestors, TREE.ancestors)
    no_cutoff = lineage_options(Checkpoint(None, "lineage", None, TREE.classes, "", {}, 1.0,
                                           {"lineage": TREE.to_meta()}))
    assert no_cutoff["model_cutoff"] is None
    assert lineage_options(Checkpoint(None, "sequence", None, ["a"], "", {}, 1.0, {"label_column": "genus"})) == {}


def test_cli_writes_every_lineage_format(tmp_path):
    # End to end through `seqxent predict` with a tiny seeded lineage checkpoint (its own cut-off 0.5): the
    # formats agree on the calls, and every input id appears.
    import torch

    from seqxent.cli import main
    from seqxent.data.alphabet import Alphabet
    from seqxent.model.checkpoint import save_checkpoint
    from seqxent.model.networks import build_model

    torch.manual_seed(0)
    hparams = {"in_channels": 4, "n_classes": len(TREE.classes), "channels": 8, "kernel_size": 5, "layers": 2,
               "dropout": 0.2}
    model = build_model("sequence_cnn", hparams).eval()
    meta = {"label_column": "genus", "lineage": {**TREE.to_meta(), "cutoff": 0.5}}
    save_checkpoint(Checkpoint(model, "lineage", Alphabet.from_name("dna"), TREE.classes, "sequence_cnn", hparams,
                               1.0, meta), tmp_path / "model.pt")
    fasta = Path(__file__).resolve().parents[2] / "data" / "examples" / "barcodes.fasta"
    text = {}
    for fmt in sorted(LINEAGE_FORMATS):
        out = tmp_path / f"out.{fmt}"
        argv = ["-q", "predict", "--model", str(tmp_path / "model.pt"), "--input", str(fasta), "--output", str(out),
                "--format", fmt, "--device", "cpu", "--strand", "both"]
        assert main(argv) == 0
        text[fmt] = out.read_text("utf-8")
    rows = [line.split("\t") for line in text["tsv"].splitlines()[1:]]
    ids = [row[0] for row in rows]
    assert ids == [r["id"] for r in json.loads(text["json"])]
    assert ids == [line.split("\t")[0] for line in text["rdp"].splitlines()]
    assert ids == [line.split("\t")[0] for line in text["qiime"].splitlines()[1:]]
    assert len(text["sintax"].splitlines()) == len(ids)
    for row, sintax, rdp in zip(rows, text["sintax"].splitlines(), text["rdp"].splitlines(), strict=True):
        if row[-1] != "predicted":
            continue
        names, conf, depth = row[2:14:2], [float(c) for c in row[3:14:2]], int(row[15])
        # The model's own cut-off, 0.5 (on the unrounded values; these are printed with 4 decimals).
        assert all(c >= 0.5 - 1e-4 for c in conf[:depth]) and (depth == 6 or conf[depth] <= 0.5 + 1e-4)
        assert rdp.split("\t")[2::3] == names and rdp.split("\t")[1] == ("-" if row[16] == "-" else "")
        cut = sintax.split("\t")[3]
        taxa = [f"{letter}:{name}" for letter, name in zip("dpcofg", names, strict=True)]
        assert (cut.split(",") if cut else []) == taxa[:depth]
    assert main(["-q", "predict", "--model", str(tmp_path / "model.pt"), "--input", str(fasta), "--output",
                 str(tmp_path / "x.rdp"), "--format", "rdp", "--cutoff", "0.5"]) != 0
