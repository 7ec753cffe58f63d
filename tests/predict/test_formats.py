"""Tests of seqxent.predict.formats and seqxent.predict.stream: hand-made writer outputs, streaming prediction, goldens.

The golden files in ``data/examples/golden/`` are the outputs of ``seqxent predict`` on the example FASTA
files with two tiny seeded models built here. After an intended change, regenerate them with::

    SEQXENT_UPDATE_GOLDEN=1 .venv/bin/pytest tests/predict/test_formats.py

and review the diff before committing. The SINTAX and QIIME goldens use ``--cutoff 0.61`` (the tiny model's top
probabilities lie near 0.61, so some calls pass and some do not), the SINTAX one also ``--strand both``.

Tolerance of the golden comparisons (both the in-process and the command-line test). The models are run
in float32; other CPUs (measured: AMD EPYC vs Intel) and other batch shapes sum in another order, which moves
a probability by a few units in float32's last bit (~1e-7). That flips a printed 4th decimal (3rd in .ss2)
whenever the value lies that close to a rounding boundary, which over the thousands of printed numbers here
happens. So the text is compared exactly with every decimal number masked (ids, columns, labels, order,
structure, the .horiz confidence digits), and each decimal number to one unit in the place the writer rounds
to (TSV and JSON 4 decimals, .ss2 3): the smallest tolerance that such a flip needs. JSON drops trailing zeros
(0.1230 prints 0.123), so the unit comes from the format, not from the printed length. A label or a .horiz
digit would need two probabilities within ~1e-7 of a tie or boundary, which these models do not produce.
"""

import io
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from seqxent.data.alphabet import Alphabet
from seqxent.data.io import FastaRecord, atomic_write, read_fasta
from seqxent.errors import InputError
from seqxent.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from seqxent.model.networks import build_model
from seqxent.model.probs import softmax
from seqxent.predict.formats import FORMATS, get_writer
from seqxent.predict.stream import Prediction, predict_fasta, predict_records

EXAMPLES = Path(__file__).resolve().parents[2] / "data" / "examples"
GOLDEN = EXAMPLES / "golden"
UPDATE = os.environ.get("SEQXENT_UPDATE_GOLDEN") == "1"

# (example FASTA, model fixture, formats that model supports)
GOLDEN_CASES = [("proteins", "ss3_model", fmt) for fmt in ("tsv", "ss2", "horiz", "json")] + \
               [("barcodes", "barcode_model", fmt) for fmt in ("tsv", "json", "sintax", "qiime")]
# Command-line flags of a golden case beyond --format (the default: none).
GOLDEN_ARGS = {"sintax": ["--strand", "both", "--cutoff", "0.61"], "qiime": ["--cutoff", "0.61"]}


def _build(path: Path, task: str, alphabet: str, classes: list[str], architecture: str, hparams: dict,
           temperature: float, meta: dict | None = None) -> Checkpoint:
    """A tiny model with seeded weights; the head is scaled up so that predictions are not near-uniform."""
    torch.manual_seed(0)
    model = build_model(architecture, hparams).eval()
    with torch.no_grad():
        model.head.weight.mul_(8.0)
    save_checkpoint(Checkpoint(model, task, Alphabet.from_name(alphabet), classes, architecture, hparams,
                               temperature, meta or {}), path)
    return load_checkpoint(path)


@pytest.fixture(scope="module")
def ss3_model(tmp_path_factory):
    hparams = {"in_channels": 20, "n_classes": 3, "channels": 8, "kernel_size": 5, "layers": 3,
               "dropout": 0.1}
    path = tmp_path_factory.mktemp("models") / "ss3.pt"
    return _build(path, "residue", "protein", ["H", "E", "C"], "residue_cnn", hparams, 1.0)


@pytest.fixture(scope="module")
def barcode_model(tmp_path_factory):
    hparams = {"in_channels": 4, "n_classes": 2, "channels": 8, "kernel_size": 5, "layers": 2, "dropout": 0.2}
    path = tmp_path_factory.mktemp("models") / "barcode.pt"
    return _build(path, "sequence", "dna", ["a", "b"], "sequence_cnn", hparams, 2.0, {"label_column": "species"})


def _render(fmt: str, ckpt: Checkpoint, predictions, **options) -> str:
    out = io.StringIO(newline="")
    writer = get_writer(fmt, ckpt.classes, ckpt.task, alphabet=ckpt.alphabet.name if ckpt.alphabet else "dna",
                        label_column=ckpt.meta.get("label_column"), **options)
    writer.begin(out)
    for pred in predictions:
        writer.write(out, pred)
    writer.end(out)
    return out.getvalue()


# --- writers on hand-made predictions (exact, independent of any model) -----------------------------------

HEC = ["H", "E", "C"]
RESIDUE_PRED = Prediction("p1", "MKV", np.array([[0.8, 0.15, 0.05], [0.1, 0.3, 0.6], [0.25, 0.7, 0.05]]))
SKIPPED_PRED = Prediction("p2", "", None, "empty sequence")


def test_tsv_residue_exact():
    text = _render("tsv", Checkpoint(None, "residue", None, HEC, "", {}), [RESIDUE_PRED, SKIPPED_PRED])
    assert text == ("id\tpos\taa\tlabel\tp_H\tp_E\tp_C\tstatus\n"
                    "p1\t1\tM\tH\t0.8000\t0.1500\t0.0500\tpredicted\n"
                    "p1\t2\tK\tC\t0.1000\t0.3000\t0.6000\tpredicted\n"
                    "p1\t3\tV\tE\t0.2500\t0.7000\t0.0500\tpredicted\n"
                    "p2\t\t\t\t\t\t\tskipped: empty sequence\n")


def test_tsv_sequence_exact():
    novelty = {"energy": -1.5, "msp": 0.25, "nll": 0.287682}
    preds = [Prediction("r1", "ACGT", np.array([0.25, 0.75]), novelty=novelty),
             Prediction("r2", "AXG", None, "invalid"),
             Prediction("r3", "ACGG", np.array([0.6, 0.4]), novelty=novelty, abstained=True),
             Prediction("r4", "ACGG", np.array([0.6, 0.4]))]  # no scores (a hand-made prediction)
    text = _render("tsv", Checkpoint(None, "sequence", None, ["x y", "z"], "", {}), preds)
    assert text == ("id\tlabel\tp_x y\tp_z\tenergy\tmsp\tnll\tstatus\n"
                    "r1\tz\t0.2500\t0.7500\t-1.5000\t0.2500\t0.2877\tpredicted\n"
                    "r2\t\t\t\t\t\t\tskipped: invalid\n"
                    "r3\tunassigned\t0.6000\t0.4000\t-1.5000\t0.2500\t0.2877\tpredicted\n"
                    "r4\tx y\t0.6000\t0.4000\t\t\t\tpredicted\n")


def test_json_sequence_exact_with_novelty_and_abstention():
    novelty = {"energy": -1.5, "msp": 0.25, "nll": 0.287682}
    preds = [Prediction("r1", "ACGT", np.array([0.25, 0.75]), novelty=novelty, abstained=True)]
    text = _render("json", Checkpoint(None, "sequence", None, ["x", "z"], "", {}), preds)
    assert json.loads(text) == [{"id": "r1", "label": "unassigned", "probs": {"x": 0.25, "z": 0.75},
                                 "energy": -1.5, "msp": 0.25, "nll": 0.2877, "status": "predicted"}]


def test_tsv_rows_have_header_width():
    sequence_pred = Prediction("r", "A", np.array([0.2, 0.3, 0.5]))
    for task, pred in (("residue", RESIDUE_PRED), ("sequence", sequence_pred)):
        text = _render("tsv", Checkpoint(None, task, None, HEC, "", {}), [pred, SKIPPED_PRED])
        widths = {len(line.split("\t")) for line in text.splitlines()}
        assert len(widths) == 1


def test_ss2_exact_psipred_column_order():
    # Model classes are H, E, C; PSIPRED's .ss2 columns are C, H, E.
    text = _render("ss2", Checkpoint(None, "residue", None, HEC, "", {}), [RESIDUE_PRED, SKIPPED_PRED])
    assert text == ("# PSIPRED VFORMAT (seqxent)\n# p1\n\n"
                    "   1 M H   0.050  0.800  0.150\n"
                    "   2 K C   0.600  0.100  0.300\n"
                    "   3 V E   0.050  0.250  0.700\n"
                    "\n"
                    "# PSIPRED VFORMAT (seqxent)\n# p2\n\n# skipped: empty sequence\n\n")


def test_ss2_class_order_of_model_does_not_matter():
    probs = RESIDUE_PRED.probs[:, [2, 0, 1]]  # columns reordered to C, H, E
    ckpt = Checkpoint(None, "residue", None, ["C", "H", "E"], "", {})
    reordered = _render("ss2", ckpt, [Prediction("p1", "MKV", probs)])
    assert reordered == _render("ss2", Checkpoint(None, "residue", None, HEC, "", {}), [RESIDUE_PRED])


def test_horiz_exact_short():
    # Conf = int(10 * (top - second)): 0.8-0.15 -> 6, 0.6-0.3 -> 3 (not 2.999...), 0.7-0.25 -> 4.
    text = _render("horiz", Checkpoint(None, "residue", None, HEC, "", {}), [RESIDUE_PRED, SKIPPED_PRED])
    assert text == ("# PSIPRED HFORMAT (seqxent)\n# p1\n\n"
                    "Conf: 634\nPred: HCE\n  AA: MKV\n      \n\n"
                    "# PSIPRED HFORMAT (seqxent)\n# p2\n\n# skipped: empty sequence\n\n")


def test_horiz_blocks_and_ruler():
    # 65 residues: a block of 60 with ruler 10..60, then a block of 5 with no ruler mark.
    seq = ("ACDEFGHIKL" * 7)[:65]
    probs = np.tile([[0.05, 0.05, 0.9]], (65, 1))
    probs[9] = [0.9, 0.05, 0.05]  # residue 10 is H: the ruler's "10" ends under it
    text = _render("horiz", Checkpoint(None, "residue", None, HEC, "", {}), [Prediction("x", seq, probs)])
    lines = text.split("\n")
    assert lines[3] == "Conf: " + "8" * 60
    assert lines[4] == "Pred: " + "C" * 9 + "H" + "C" * 50
    assert lines[5] == "  AA: " + seq[:60]
    assert lines[6] == " " * 14 + "10        20        30        40        50        60"
    assert lines[6].index("10") + 1 == lines[4].index("H")  # last digit of 10 above residue 10
    assert lines[6].rindex("60") + 1 == len(lines[5]) - 1
    assert lines[7] == ""
    assert lines[8:12] == ["Conf: 88888", "Pred: CCCCC", "  AA: " + seq[60:], "      "]


def test_json_exact():
    text = _render("json", Checkpoint(None, "residue", None, HEC, "", {}), [RESIDUE_PRED, SKIPPED_PRED])
    assert text == ('[\n{"id": "p1", "label": "HCE", "probs": {"H": [0.8, 0.1, 0.25], "E": [0.15, 0.3, 0.7], '
                    '"C": [0.05, 0.6, 0.05]}, "status": "predicted"},\n'
                    '{"id": "p2", "status": "skipped: empty sequence"}\n]\n')


def test_json_float32_probabilities_print_rounded():
    pred = Prediction("r1", "AC", np.array([0.12345, 0.87655], dtype=np.float32))
    text = _render("json", Checkpoint(None, "sequence", None, ["a", "b"], "", {}), [pred])
    assert json.loads(text) == [{"id": "r1", "label": "b", "probs": {"a": 0.1235, "b": 0.8766},
                                 "status": "predicted"}]
    assert '"a": 0.1235,' in text  # not 0.12349999696016312


def test_json_empty_input():
    assert json.loads(_render("json", Checkpoint(None, "sequence", None, ["a"], "", {}), [])) == []


def test_get_writer_unknown_format():
    with pytest.raises(InputError) as info:
        get_writer("csv", HEC, "residue")
    assert str(info.value) == (f"Expected argument `format` to be one of {sorted(FORMATS)}, "
                               "but got 'csv'")


@pytest.mark.parametrize("fmt", ["ss2", "horiz"])
@pytest.mark.parametrize(("task", "classes"), [("sequence", ["H", "E", "C"]),
                                               ("residue", ["H", "E", "C", "T"]),
                                               ("residue", ["H", "E", "X"])])
def test_psipred_formats_need_three_state_residue_model(fmt, task, classes):
    with pytest.raises(InputError) as info:
        get_writer(fmt, classes, task)
    assert str(info.value) == ("Expected a 3-state residue model (classes C, E, H) for this format, "
                               f"but got a {task} model with classes {classes}")


# --- streaming prediction -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "model", "reasons"), [
    ("proteins", "ss3_model", {"bad_char": "invalid protein character(s): '1' at position 4",
                               "empty": "empty sequence"}),
    ("barcodes", "barcode_model", {"bad_char": "invalid dna character(s): 'X' at position 5",
                                   "empty": "empty sequence"}),
])
def test_every_input_id_in_order_with_reason(request, name, model, reasons):
    ckpt = request.getfixturevalue(model)
    fasta = EXAMPLES / f"{name}.fasta"
    preds = list(predict_fasta(ckpt, fasta, batch_size=2))
    assert [p.id for p in preds] == [r.id for r in read_fasta(fasta)]
    assert {p.id: p.skipped for p in preds if p.skipped} == reasons
    for p in preds:
        assert (p.probs is None) == bool(p.skipped)
    for name_fmt in ("tsv", "json"):
        text = _render(name_fmt, ckpt, preds)
        for rid, reason in reasons.items():
            assert f"skipped: {reason}" in text and rid in text


def test_residue_predictions_shape_and_cleaning(ss3_model):
    preds = {p.id: p for p in predict_fasta(ss3_model, EXAMPLES / "proteins.fasta")}
    assert preds["ubiquitin"].probs.shape == (76, 3)
    assert preds["hp35"].sequence == "LSDEDFKAVFGMTRSAFANLPLWKQQNLKKEKGLF"  # upper case, stop removed
    assert preds["hp35"].probs.shape == (35, 3)
    for p in preds.values():
        if p.probs is not None:
            np.testing.assert_allclose(p.probs.sum(axis=1), 1.0, rtol=0, atol=1e-5)


def test_prediction_equals_direct_forward_pass(barcode_model):
    # Independent computation: one record at a time through the network, softmax(logits / T) by hand.
    preds = [p for p in predict_fasta(barcode_model, EXAMPLES / "barcodes.fasta") if p.probs is not None]
    alphabet = barcode_model.alphabet
    for p in preds:
        x = torch.from_numpy(alphabet.encode(p.sequence))[None]
        with torch.no_grad():
            logits = barcode_model.model(x, torch.ones(1, x.shape[2], dtype=torch.bool))[0].numpy()
        z = np.exp(logits / 2.0 - (logits / 2.0).max())
        np.testing.assert_allclose(p.probs, z / z.sum(), rtol=0, atol=1e-5)


def test_uncalibrated_uses_temperature_one(barcode_model):
    records = read_fasta(EXAMPLES / "barcodes.fasta")[:1]
    calibrated = next(predict_records(barcode_model, records)).probs
    raw = next(predict_records(barcode_model, records, calibrated=False)).probs
    logits = np.log(raw)
    np.testing.assert_allclose(calibrated, softmax(logits, 2.0), rtol=0, atol=1e-5)
    assert not np.allclose(calibrated, raw)


@pytest.mark.parametrize(("batch_size", "chunk_size", "max_tokens"), [(1, 1, 0), (2, 3, 0), (64, 4096, 50)])
def test_batching_does_not_change_predictions(ss3_model, batch_size, chunk_size, max_tokens):
    records = read_fasta(EXAMPLES / "proteins.fasta")
    reference = list(predict_records(ss3_model, records, batch_size=64))
    other = list(predict_records(ss3_model, records, batch_size=batch_size, chunk_size=chunk_size,
                                 max_tokens=max_tokens))
    assert [p.id for p in other] == [p.id for p in reference]
    for a, b in zip(reference, other, strict=True):
        assert a.skipped == b.skipped
        if a.probs is not None:
            np.testing.assert_allclose(a.probs, b.probs, rtol=0, atol=1e-5)


def test_predict_records_is_lazy(barcode_model):
    def records():
        yield FastaRecord("r1", "ACGT")
        raise AssertionError("read past the first chunk")

    assert next(predict_records(barcode_model, records(), chunk_size=1)).id == "r1"


@pytest.mark.parametrize(("batch_size", "chunk_size"), [(0, 1), (1, 0)])
def test_predict_records_bad_sizes(barcode_model, batch_size, chunk_size):
    with pytest.raises(InputError, match="Expected `batch_size` and `chunk_size` ≥ 1"):
        list(predict_records(barcode_model, [], batch_size=batch_size, chunk_size=chunk_size))


def test_predict_records_empty_input(barcode_model):
    assert list(predict_records(barcode_model, [])) == []


# --- golden files -------------------------------------------------------------------------------------------


def _golden_text(request, name: str, model: str, fmt: str) -> str:
    ckpt = request.getfixturevalue(model)
    args = dict(zip(GOLDEN_ARGS.get(fmt, [])[::2], GOLDEN_ARGS.get(fmt, [])[1::2], strict=True))
    strand = args.get("--strand", "plus")
    options = {"strand": strand == "both"} | ({"cutoff": float(args["--cutoff"])} if "--cutoff" in args else {})
    return _render(fmt, ckpt, predict_fasta(ckpt, EXAMPLES / f"{name}.fasta", batch_size=2, strand=strand), **options)


@pytest.mark.parametrize(("name", "model", "fmt"), GOLDEN_CASES)
def test_golden_output(request, name, model, fmt):
    text = _golden_text(request, name, model, fmt)
    golden = GOLDEN / f"{name}.{fmt}"
    if UPDATE:
        with atomic_write(golden) as out:
            out.write(text)
    assert_text_equal_to_last_digit(text, golden.read_text("utf-8"), PRINTED_PLACES[fmt])


_DECIMAL = re.compile(r"-?\d+\.\d+")
#: Decimal places each writer rounds probabilities and scores to (one unit there is the golden tolerance).
PRINTED_PLACES = {"tsv": 4, "json": 4, "ss2": 3, "horiz": 0, "sintax": 2, "qiime": 4}


def assert_text_equal_to_last_digit(got: str, want: str, places: int) -> None:
    """``got`` equals ``want`` except that each decimal number may differ by one unit in the ``places``-th decimal."""
    assert _DECIMAL.sub("#", got) == _DECIMAL.sub("#", want)
    unit = 10.0**-places
    for a, b in zip(_DECIMAL.findall(got), _DECIMAL.findall(want), strict=True):
        assert abs(float(a) - float(b)) <= unit * 1.001, (a, b)


def test_assert_text_equal_to_last_digit():
    assert_text_equal_to_last_digit("x\t0.7232\t1.50\n", "x\t0.7233\t1.50\n", 4)
    assert_text_equal_to_last_digit('{"p": 0.123}', '{"p": 0.1229}', 4)  # JSON drops trailing zeros
    for got in ("x\t0.7230\t1.50\n", "y\t0.7233\t1.50\n", "x\t0.7233\t1.52\n", "x\t0.7233\t1.50 \n"):
        with pytest.raises(AssertionError):
            assert_text_equal_to_last_digit(got, "x\t0.7233\t1.50\n", 4)
    with pytest.raises(AssertionError):
        assert_text_equal_to_last_digit('{"p": 0.5}', '{"p": 0.6}', 4)


@pytest.mark.parametrize(("name", "model", "fmt"), GOLDEN_CASES)
def test_cli_writes_golden_output(request, tmp_path, name, model, fmt):
    from seqxent.cli import main

    ckpt_path = tmp_path / "model.pt"
    save_checkpoint(request.getfixturevalue(model), ckpt_path)
    out = tmp_path / f"out.{fmt}"
    argv = ["-q", "predict", "--model", str(ckpt_path), "--input", str(EXAMPLES / f"{name}.fasta"),
            "--output", str(out), "--format", fmt, "--device", "cpu", "--batch-size", "3", *GOLDEN_ARGS.get(fmt, [])]
    assert main(argv) == 0
    assert_text_equal_to_last_digit(out.read_text("utf-8"), (GOLDEN / f"{name}.{fmt}").read_text("utf-8"),
                                    PRINTED_PLACES[fmt])


def test_5000_residue_chain_predicts_like_its_pieces(ss3_model):
    # No length limit: a 5,000-residue chain (five 1,000-residue pieces back to back) gets a prediction at
    # every position, and far from the joins (beyond the receptive field) the same as each piece alone.
    rng = np.random.default_rng(0)
    pieces = ["".join(rng.choice(list("ACDEFGHIKLMNPQRSTVWY"), 1000)) for _ in range(5)]
    records = [FastaRecord("long", "".join(pieces))] + [FastaRecord(f"p{i}", p) for i, p in enumerate(pieces)]
    preds = {p.id: p for p in predict_records(ss3_model, records)}
    long = preds["long"].probs
    assert long.shape == (5000, 3) and np.isfinite(long).all()
    reach = ss3_model.model.receptive_field // 2
    for i in range(5):
        inner = slice(reach, 1000 - reach)
        np.testing.assert_allclose(long[i * 1000:(i + 1) * 1000][inner], preds[f"p{i}"].probs[inner],
                                   rtol=0, atol=1e-5)
