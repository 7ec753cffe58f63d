"""Tests of seqxent.calibrate.novelty and its wiring: hold-out at prepare time, the abstain rule of `seqxent calibrate`,
novelty columns and `unassigned` in `seqxent predict`, and `seqxent ood` on the command line (its numbers:
tests/ood/test_ood.py; hold_out_classes itself: tests/prepare/test_holdout.py)."""

import json
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqxent.calibrate.novelty import (
    SCORES,
    AbstainRule,
    energy_score,
    fit_abstain_rule,
    msp_score,
    nll_score,
    novelty_scores,
    threshold_for_recall,
)
from seqxent.calibrate.reference import KmerReference
from seqxent.calibrate.temperature import fit_temperature
from seqxent.cli import main
from seqxent.data.alphabet import Alphabet
from seqxent.data.dataset import NOVEL, read_dataset, write_dataset
from seqxent.data.io import FastaRecord
from seqxent.errors import InputError
from seqxent.evaluate.decisions import decision_summary
from seqxent.evaluate.split import split_predictions
from seqxent.model.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from seqxent.model.networks import build_model
from seqxent.model.probs import softmax
from seqxent.predict.stream import predict_records
from seqxent.prepare.build import PrepareConfig, prepare_dataset
from seqxent.prepare.holdout import hold_out_classes
from seqxent.tasks import get_task

LOGITS = np.array([[0.0, 0.0, 0.0], [4.0, 0.0, -1.0], [1.0, 2.0, 3.0], [-2.0, 5.0, 0.5]])


def _slow_scores(row, temperature):
    """Energy, MSP and NLL of one row of logits by explicit loops (independent of numpy/torch)."""
    exps = [math.exp(v / temperature) for v in row]
    top = max(exps) / sum(exps)
    return {"energy": -temperature * math.log(sum(exps)), "msp": 1.0 - top, "nll": -math.log(top)}


# --- novelty_scores --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0.5, 1.0, 3.0])
def test_novelty_scores_match_slow_loop(temperature):
    scores = novelty_scores(LOGITS, temperature)
    assert list(scores) == list(SCORES)
    for name in SCORES:
        expected = [_slow_scores(row, temperature)[name] for row in LOGITS.tolist()]
        np.testing.assert_allclose(scores[name], expected, rtol=1e-10)


@pytest.mark.parametrize("temperature", [0.7, 2.0])
def test_msp_and_nll_agree_with_the_calibrated_probabilities(temperature):
    probs = softmax(LOGITS, temperature)
    scores = novelty_scores(LOGITS, temperature)
    np.testing.assert_allclose(scores["msp"], 1.0 - probs.max(axis=1), rtol=1e-12)
    np.testing.assert_allclose(scores["nll"], -np.log(probs.max(axis=1)), rtol=1e-12)


def test_temperature_changes_the_ranking_of_msp():
    # Item 0 has one dominant class, item 1 two tied ones: hotter softmax flips which looks more certain.
    logits = [[3.0, 0.0, 0.0, 0.0], [10.0, 10.0, -20.0, -20.0]]
    assert novelty_scores(logits, 1.0)["msp"][0] < novelty_scores(logits, 1.0)["msp"][1]
    assert novelty_scores(logits, 20.0)["msp"][0] > novelty_scores(logits, 20.0)["msp"][1]


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan"), True])
def test_novelty_scores_reject_bad_temperature(temperature):
    with pytest.raises(ValueError, match="Expected argument `temperature`"):
        novelty_scores(LOGITS, temperature)


# --- the scores one by one, threshold_for_recall ----------------------------------------------------------------


def test_scores_exact_values_for_uniform_logits():
    # C = 4 uniform: MSP 1/4, so msp 3/4, nll log 4, energy -log 4.
    uniform = np.zeros((1, 4))
    assert msp_score(uniform).tolist() == [0.75]
    assert nll_score(uniform) == pytest.approx([math.log(4)], rel=1e-15)
    assert energy_score(uniform) == pytest.approx([-math.log(4)], rel=1e-15)


@pytest.mark.parametrize("score", [energy_score, msp_score, nll_score])
def test_scores_are_higher_for_flatter_logits(score):
    confident, flat = [[8.0, 0.0, 0.0]], [[0.1, 0.0, 0.0]]
    assert score(flat)[0] > score(confident)[0]


@pytest.mark.parametrize("score", [energy_score, msp_score, nll_score])
def test_scores_accept_torch_and_numpy_alike(score):
    as_torch = score(torch.tensor(LOGITS, dtype=torch.float32))
    as_numpy = score(LOGITS.astype(np.float32))
    assert as_torch.dtype == np.float64 and as_torch.shape == (len(LOGITS),)
    np.testing.assert_array_equal(as_torch, as_numpy)


@pytest.mark.parametrize("score", [msp_score, nll_score])
def test_scores_accept_log_probabilities(score):
    log_probs = torch.log_softmax(torch.tensor(LOGITS, dtype=torch.float64), dim=1)
    np.testing.assert_allclose(score(log_probs), score(LOGITS), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize(
    ("logits", "match"),
    [
        pytest.param([1.0, 2.0], r"shape \(N, C\)", id="1-D"),
        pytest.param(np.zeros((2, 0)), r"shape \(N, C\)", id="no-classes"),
        pytest.param([[0.0, float("nan")]], "finite", id="nan"),
    ],
)
@pytest.mark.parametrize("score", [energy_score, msp_score, nll_score])
def test_scores_reject_invalid_logits(score, logits, match):
    with pytest.raises(ValueError, match=match):
        score(logits)


@pytest.mark.parametrize("temperature", [0.0, -1.0, float("inf"), True])
def test_energy_score_rejects_invalid_temperature(temperature):
    with pytest.raises(ValueError, match="argument `temperature`"):
        energy_score(LOGITS, temperature)


@settings(max_examples=100, deadline=None)
@given(
    scores=st.lists(st.integers(-20, 20), min_size=1, max_size=60),
    recall=st.floats(0.01, 1.0),
)
def test_threshold_for_recall_is_smallest_sufficient_score(scores, recall):
    scores = np.array(scores, dtype=np.float64) / 4
    t = threshold_for_recall(scores, recall)
    assert t in scores
    assert np.mean(scores <= t) >= recall - 1e-9
    smaller = scores[scores < t]
    if smaller.size:
        assert np.mean(scores <= smaller.max()) < recall - 1e-9


@pytest.mark.parametrize(("n", "recall", "expected_kept"), [(100, 0.95, 95), (20, 0.95, 19), (10, 0.7, 7)])
def test_threshold_for_recall_exact_fraction_despite_rounding(n, recall, expected_kept):
    # 0.95 * 100 etc. are not exact in binary; exactly `expected_kept` items must be kept, not one more.
    scores = np.arange(n, dtype=np.float64)
    assert threshold_for_recall(scores, recall) == expected_kept - 1


@pytest.mark.parametrize("recall", [0.0, -0.1, 1.5, float("nan")])
def test_threshold_for_recall_rejects_invalid_recall(recall):
    with pytest.raises(ValueError, match="argument `recall`"):
        threshold_for_recall([0.1, 0.2], recall)


# --- AbstainRule, fit_abstain_rule ------------------------------------------------------------------------------


def test_abstain_rule_round_trips_through_checkpoint_meta():
    rule = AbstainRule("msp", 0.25, 0.95, 1.5, 40)
    assert rule.to_meta() == {"score": "msp", "threshold": 0.25, "recall": 0.95, "temperature": 1.5, "n_valid": 40}
    assert AbstainRule.from_meta({"ood": rule.to_meta(), "other": 1}) == rule
    assert AbstainRule.from_meta({}) is None and AbstainRule.from_meta(None) is None


def test_abstain_rule_keeps_ties_at_the_threshold():
    rule = AbstainRule("energy", -2.0, 0.95, 1.0, 3)
    assert rule.abstains({"energy": [-3.0, -2.0, -1.999]}).tolist() == [False, False, True]


def test_fit_abstain_rule_exact_threshold():
    # nll of [3, 0], [1, 0], [0, 0] and [0, 0]: log(1 + e^-3), log(1 + e^-1), log 2, log 2.
    logits = [[3.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
    assert fit_abstain_rule(logits, 1.0, "nll", recall=0.5).threshold == pytest.approx(math.log(1 + math.exp(-1)))
    assert fit_abstain_rule(logits, 1.0, "nll", recall=0.51).threshold == pytest.approx(math.log(2))
    rule = fit_abstain_rule(logits, 2.0, "energy", recall=0.25)
    assert rule.threshold == pytest.approx(-2.0 * math.log(math.exp(1.5) + 1.0))
    assert (rule.score, rule.recall, rule.temperature, rule.n_valid) == ("energy", 0.25, 2.0, 4)


@pytest.mark.parametrize("score", SCORES)
@pytest.mark.parametrize("recall", [0.5, 0.9, 0.95, 1.0])
def test_fit_abstain_rule_keeps_the_smallest_share_at_least_recall(score, recall):
    logits = np.random.default_rng(3).normal(size=(57, 5)) * 3
    rule = fit_abstain_rule(logits, 1.3, score, recall)
    values = novelty_scores(logits, 1.3)[score]
    kept = ~rule.abstains({score: values})
    assert kept.mean() >= recall
    smaller = values[values < rule.threshold]
    if smaller.size:  # any lower observed threshold keeps too few
        assert np.mean(values <= smaller.max()) < recall


@pytest.mark.parametrize(("kwargs", "match"), [({"score": "entropy"}, "Expected argument `score`"),
                                               ({"recall": 0.0}, "Expected argument `recall`"),
                                               ({"recall": 1.5}, "Expected argument `recall`")])
def test_fit_abstain_rule_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fit_abstain_rule(LOGITS, **kwargs)


# --- prepare --novel-classes ------------------------------------------------------------------------------------


def _barcodes(tmp_path, n_classes=5, n_per_class=6):
    """Classes of distinct base composition; class i has n_per_class + i records."""
    rng = np.random.default_rng(0)
    fasta, rows = [], ["id\tspecies"]
    for c in range(n_classes):
        weights = np.roll([0.55, 0.15, 0.15, 0.15], c)
        for i in range(n_per_class + c):
            seq = "".join(rng.choice(list("ACGT"), size=60, p=weights))
            fasta.append(f">s{c}_{i}\n{seq}\n")
            rows.append(f"s{c}_{i}\tsp{c}")
    (tmp_path / "x.fasta").write_text("".join(fasta))
    (tmp_path / "x.tsv").write_text("\n".join(rows) + "\n")
    return tmp_path / "x.fasta", tmp_path / "x.tsv"


def _config(tmp_path, **kwargs):
    fasta, labels = _barcodes(tmp_path)
    return PrepareConfig("t", "sequence", "dna", "species", fasta=fasta, labels=labels, **kwargs)


def test_prepare_holds_out_whole_classes(tmp_path):
    table, summary = prepare_dataset(_config(tmp_path, novel_classes=0.4, seed=3))
    novel = table[table["split"] == NOVEL]
    held = sorted(set(novel["label"]))
    assert held == hold_out_classes(table["label"].tolist(), 0.4, seed=3) and len(held) == 2
    known = table[table["split"] != NOVEL]
    assert not set(known["label"]) & set(held)
    assert set(known["split"]) == {"train", "valid", "test"}
    assert (table.loc[table["label"].isin(held), "split"] == NOVEL).all()
    assert summary["novel_classes"] == held and summary["novel_fraction"] == 0.4
    assert summary["n_records"][NOVEL] == len(novel) and summary["n_labels"][NOVEL] == 2
    assert summary["groups_straddling_splits"] == 0 and summary["novel_groups_shared_with_known"] == 0
    assert (novel["reason"] == "").all()
    assert read_dataset_classes(tmp_path, table) == sorted(set(known["label"]))


def read_dataset_classes(tmp_path, table):
    write_dataset(table, tmp_path / "d.tsv.gz", {"name": "t", "task": "sequence", "alphabet": "dna",
                                                 "label_column": "species"})
    return get_task("sequence").classes(read_dataset(tmp_path / "d.tsv.gz"))


def test_prepare_without_novel_classes_is_unchanged(tmp_path):
    plain, plain_summary = prepare_dataset(_config(tmp_path))
    zero, zero_summary = prepare_dataset(_config(tmp_path, novel_classes=0.0))
    assert plain.equals(zero) and plain_summary == zero_summary
    assert "novel_classes" not in zero_summary and NOVEL not in set(zero["split"])


def test_prepare_counts_novel_records_sharing_a_group_with_known_ones(tmp_path):
    fasta, labels = _barcodes(tmp_path)
    novel = hold_out_classes([f"sp{c}" for c in range(5)], 0.2, seed=1)[0]
    other = "sp0" if novel != "sp0" else "sp1"
    text = fasta.read_text().splitlines()
    # Copy the first sequence of a known class onto the first record of the held-out class.
    text[text.index(f">s{novel[2:]}_0") + 1] = text[text.index(f">s{other[2:]}_0") + 1]
    fasta.write_text("\n".join(text) + "\n")
    cfg = PrepareConfig("t", "sequence", "dna", "species", fasta=fasta, labels=labels, novel_classes=0.2, seed=1)
    table, summary = prepare_dataset(cfg)
    assert summary["novel_classes"] == [novel]
    assert summary["novel_groups_shared_with_known"] == 1 and summary["groups_straddling_splits"] == 0


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"novel_classes": 1.0}, "Expected argument `novel_classes`"),
    ({"novel_classes": -0.5}, "Expected argument `novel_classes`"),
])
def test_prepare_rejects_bad_novel_fraction(tmp_path, kwargs, match):
    with pytest.raises(InputError, match=match):
        _config(tmp_path, **kwargs)


def test_prepare_rejects_novel_classes_for_residue_tasks(tmp_path):
    (tmp_path / "t.tsv").write_text("id\tsequence\tss3\np1\tMKV\tHHC\n")
    with pytest.raises(InputError, match="Expected argument `novel_classes`"):
        PrepareConfig("t", "residue", "protein", "ss3", table=tmp_path / "t.tsv", novel_classes=0.1)


def test_prepare_rejects_a_hold_out_leaving_one_class(tmp_path):
    fasta, labels = _barcodes(tmp_path, n_classes=2)
    cfg = PrepareConfig("t", "sequence", "dna", "species", fasta=fasta, labels=labels, novel_classes=0.3)
    with pytest.raises(InputError, match="Expected at least 2 classes to remain"):
        prepare_dataset(cfg)


# --- calibrate / predict / ood on a tiny model ------------------------------------------------------------------


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """A prepared data set with one held-out class, and an untrained seeded model of its known classes."""
    tmp_path = tmp_path_factory.mktemp("novelty")
    table, _ = prepare_dataset(_config(tmp_path, novel_classes=0.2, seed=1))
    write_dataset(table, tmp_path / "dataset.tsv.gz", {"name": "t", "task": "sequence", "alphabet": "dna",
                                                       "label_column": "species"})
    classes = get_task("sequence").classes(read_dataset(tmp_path / "dataset.tsv.gz"))
    hparams = {"in_channels": 4, "n_classes": len(classes), "channels": 8, "kernel_size": 5, "layers": 2,
               "dropout": 0.0}
    torch.manual_seed(0)
    model = build_model("sequence_cnn", hparams).eval()
    with torch.no_grad():
        model.head.weight.mul_(8.0)  # spread the predictions apart
    save_checkpoint(Checkpoint(model, "sequence", Alphabet.from_name("dna"), classes, "sequence_cnn", hparams),
                    tmp_path / "model_raw.pt")
    return tmp_path


def test_calibrate_stores_the_abstain_rule_of_the_validation_split(prepared):
    out = prepared / "model_msp.pt"
    argv = ["-q", "calibrate", "--model", str(prepared / "model_raw.pt"), "--dataset",
            str(prepared / "dataset.tsv.gz"), "--output", str(out), "--ood-score", "msp", "--ood-recall", "0.8"]
    assert main(argv) == 0
    ckpt = load_checkpoint(out)
    valid = split_predictions(ckpt, read_dataset(prepared / "dataset.tsv.gz"), "valid")
    expected = fit_abstain_rule(valid.logits, ckpt.temperature, "msp", 0.8)
    assert AbstainRule.from_meta(ckpt.meta) == expected
    assert expected.n_valid == len(valid.rows) and expected.temperature == ckpt.temperature


@pytest.mark.parametrize("prior_sd", [0.0, 0.5])
def test_calibrate_fits_the_temperature_with_its_prior(prepared, prior_sd):
    out = prepared / f"model_prior{prior_sd}.pt"
    argv = ["-q", "calibrate", "--model", str(prepared / "model_raw.pt"), "--dataset",
            str(prepared / "dataset.tsv.gz"), "--output", str(out), "--temperature-prior-sd", str(prior_sd)]
    assert main(argv) == 0
    ckpt = load_checkpoint(out)
    valid = split_predictions(ckpt, read_dataset(prepared / "dataset.tsv.gz"), "valid")
    expected = fit_temperature(torch.from_numpy(valid.logits), torch.from_numpy(valid.target), prior_sd=prior_sd)
    assert ckpt.temperature == expected and ckpt.meta["calibration"]["prior_sd"] == prior_sd


def test_calibrate_names_a_bad_prior(prepared, capsys):
    argv = ["-q", "calibrate", "--model", str(prepared / "model_raw.pt"), "--dataset",
            str(prepared / "dataset.tsv.gz"), "--output", str(prepared / "never.pt"), "--temperature-prior-sd", "-1"]
    assert main(argv) != 0
    assert "--temperature-prior-sd: Expected argument `prior_sd` to be a finite number ≥ 0, but got -1.0" in \
        capsys.readouterr().err
    assert not (prepared / "never.pt").exists()


@pytest.mark.parametrize(("flag", "value", "message"), [
    ("--reference-top", "0", "Expected --reference-top to be at least 1, but got 0"),
    ("--novel-share", "1", "Expected --novel-share to be in [0, 1), but got 1.0"),
])
def test_calibrate_names_a_bad_vote_setting(prepared, capsys, flag, value, message):
    argv = ["-q", "calibrate", "--model", str(prepared / "model_raw.pt"), "--dataset",
            str(prepared / "dataset.tsv.gz"), "--output", str(prepared / "never.pt"), flag, value]
    assert main(argv) != 0
    assert message in capsys.readouterr().err and not (prepared / "never.pt").exists()


@pytest.fixture(scope="module")
def calibrated(prepared):
    argv = ["-q", "calibrate", "--model", str(prepared / "model_raw.pt"), "--dataset",
            str(prepared / "dataset.tsv.gz"), "--output", str(prepared / "model.pt")]
    assert main(argv) == 0
    return load_checkpoint(prepared / "model.pt")


def _records(prepared):
    table = read_dataset(prepared / "dataset.tsv.gz").table
    rows = table[table["split"].isin(["test", NOVEL])]
    return [FastaRecord(rid, seq) for rid, seq in zip(rows["id"], rows["sequence"], strict=True)]


def _with_threshold(ckpt, threshold):
    meta = {**ckpt.meta, "ood": {**ckpt.meta["ood"], "threshold": threshold}}
    return Checkpoint(ckpt.model, ckpt.task, ckpt.alphabet, ckpt.classes, ckpt.architecture, ckpt.hparams,
                      ckpt.temperature, meta)


def test_predict_abstains_exactly_above_the_threshold(prepared, calibrated):
    records = _records(prepared)
    preds = list(predict_records(calibrated, records, batch_size=4, chunk_size=5))
    energies = np.array([p.novelty["energy"] for p in preds])
    threshold = float(np.median(energies))
    abstained = [p.abstained for p in predict_records(_with_threshold(calibrated, threshold), records)]
    assert abstained == (energies > threshold).tolist() and 0 < sum(abstained) < len(records)
    for pred in preds:  # scores agree with the written (calibrated) probabilities
        assert pred.novelty["msp"] == pytest.approx(1.0 - pred.probs.max(), abs=1e-6)
        assert pred.novelty["nll"] == pytest.approx(-math.log(pred.probs.max()), abs=1e-5)


@pytest.mark.parametrize("kwargs", [{"abstain": False}, {"calibrated": False}])
def test_predict_without_abstention(prepared, calibrated, kwargs):
    ckpt = _with_threshold(calibrated, -1e9)  # everything above it
    preds = list(predict_records(ckpt, _records(prepared), **kwargs))
    assert not any(p.abstained for p in preds)
    assert all(p.novelty is not None for p in preds)


def test_predict_cli_writes_unassigned_and_no_abstain_keeps_labels(prepared, calibrated, tmp_path):
    save_checkpoint(_with_threshold(calibrated, -1e9), tmp_path / "m.pt")
    fasta = tmp_path / "in.fasta"
    fasta.write_text(">a\nACGTACGTACGTAAAA\n>b\nNNNN\n>c\nXX\n")
    for flags, expected in (([], {"unassigned"}), (["--no-abstain"], set(calibrated.classes))):
        out = tmp_path / "out.tsv"
        argv = ["-q", "predict", "--model", str(tmp_path / "m.pt"), "--input", str(fasta), "--output", str(out),
                "--device", "cpu", *flags]
        assert main(argv) == 0
        rows = [line.split("\t") for line in out.read_text().splitlines()]
        header = rows[0]
        assert header[-5:] == ["energy", "msp", "nll", "kmer_distance", "status"]  # a DNA model: with a reference
        labels = {row[1] for row in rows[1:] if row[-1] == "predicted"}
        assert labels <= expected and len(rows) == 4


def test_ood_cli_writes_the_novel_class_evaluation(prepared, calibrated):
    out = prepared / "ood.json"
    argv = ["-q", "ood", "--model", str(prepared / "model.pt"), "--dataset", str(prepared / "dataset.tsv.gz"),
            "--output", str(out), "--temperatures", "1", "4"]
    assert main(argv) == 0
    result = json.loads(out.read_text())
    data = read_dataset(prepared / "dataset.tsv.gz")
    valid, test = (split_predictions(calibrated, data, split) for split in ("valid", "test"))
    novel_rows = data.table[data.table["split"] == NOVEL]
    assert result["novel_classes"] == sorted(set(novel_rows["label"]))
    assert (result["n_test"], result["n_novel"]) == (len(test.rows), len(novel_rows))
    assert result["score"] == "energy" and result["threshold"] == calibrated.meta["ood"]["threshold"]
    assert {"energy T=1", "msp T=4", "nll T=cal"} <= set(result)
    kept = novelty_scores(test.logits, calibrated.temperature)["energy"] <= result["threshold"]
    assert result["test_recall"] == pytest.approx(kept.mean())
    assert valid.logits.shape[0] == calibrated.meta["ood"]["n_valid"]


def test_ood_cli_refuses_a_data_set_without_novel_records(prepared, tmp_path, capsys):
    data = read_dataset(prepared / "dataset.tsv.gz")
    table = data.table[data.table["split"] != NOVEL]
    write_dataset(table, tmp_path / "d.tsv.gz", {"name": "t", "task": "sequence", "alphabet": "dna",
                                                 "label_column": "species"})
    argv = ["ood", "--model", str(prepared / "model.pt"), "--dataset", str(tmp_path / "d.tsv.gz"),
            "--output", str(tmp_path / "o.json")]
    assert main(argv) == 2
    assert "no records with split 'novel'; prepare it with --novel-classes" in capsys.readouterr().err
    assert not (tmp_path / "o.json").exists()


def test_evaluate_cli_takes_ood_json_and_decisions(prepared, calibrated, tmp_path):
    ood = tmp_path / "ood.json"
    assert main(["-q", "ood", "--model", str(prepared / "model.pt"), "--dataset", str(prepared / "dataset.tsv.gz"),
                 "--output", str(ood)]) == 0
    costs = tmp_path / "costs.yaml"
    costs.write_text(f"fn_cost:\n  {calibrated.classes[0]}: 9.5\n")
    for decisions in (f'{{"fn_cost": {{"{calibrated.classes[0]}": 9.5}}}}', str(costs)):
        out = tmp_path / "metrics.json"
        argv = ["-q", "evaluate", "--model", str(prepared / "model.pt"), "--dataset", str(prepared / "dataset.tsv.gz"),
                "--output", str(out), "--bootstrap", "5", "--ood", str(ood), "--decisions", decisions,
                "--plots-dir", str(tmp_path / "plots")]
        assert main(argv) == 0
        metrics = json.loads(out.read_text())
        assert metrics["ood"] == json.loads(ood.read_text())
        assert metrics["decisions"]["fn_cost"] == {calibrated.classes[0]: 9.5}
        assert metrics["decisions"]["n_items"] == metrics["n_records"]
        test = split_predictions(calibrated, read_dataset(prepared / "dataset.tsv.gz"), "test")
        expected = decision_summary(softmax(test.logits, calibrated.temperature), test.target, calibrated.classes,
                                    {"fn_cost": {calibrated.classes[0]: 9.5}})
        assert {k: metrics["decisions"][k] for k in expected} == pytest.approx(expected)
    assert (tmp_path / "plots" / "reliability_before_scaling.png").is_file()


@pytest.mark.parametrize(("decisions", "message"), [('{"fn_cost": {"no such class": 1}}', "unknown"),
                                                    ("{not json", "Expected a JSON or YAML mapping")])
def test_evaluate_cli_rejects_bad_decisions(prepared, tmp_path, capsys, decisions, message):
    argv = ["evaluate", "--model", str(prepared / "model.pt"), "--dataset", str(prepared / "dataset.tsv.gz"),
            "--output", str(tmp_path / "m.json"), "--bootstrap", "5", "--decisions", decisions]
    assert main(argv) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "m.json").exists()


# --- the k-mer reference (kmer_distance) ----------------------------------------------------------------------


def test_calibrate_stores_the_training_sequences_and_a_kmer_distance_rule(prepared):
    out = prepared / "model_kmer.pt"
    argv = ["-q", "calibrate", "--model", str(prepared / "model_raw.pt"), "--dataset",
            str(prepared / "dataset.tsv.gz"), "--output", str(out), "--ood-score", "kmer_distance"]
    assert main(argv) == 0
    ckpt = load_checkpoint(out)
    data = read_dataset(prepared / "dataset.tsv.gz")
    reference = KmerReference.from_meta(ckpt.meta)
    assert reference.sequences == sorted(set(data.split("train")["sequence"]))
    assert (reference.k, reference.scaled) == (12, 1)
    valid = data.split("valid")["sequence"].tolist()
    expected = fit_abstain_rule(np.zeros((len(valid), 2)), ckpt.temperature, "kmer_distance", 0.95,
                                reference.distance(valid))
    assert AbstainRule.from_meta(ckpt.meta) == expected
    # predict: the distance of every record, and `unassigned` exactly above the threshold
    records = _records(prepared)
    preds = list(predict_records(ckpt, records, chunk_size=7))
    distance = reference.distance([r.sequence for r in records])
    np.testing.assert_allclose([p.novelty["kmer_distance"] for p in preds], distance)
    assert [p.abstained for p in preds] == (distance > expected.threshold).tolist()
    # ood: a kmer_distance entry, and the rule's numbers are its numbers
    result_path = prepared / "ood_kmer.json"
    assert main(["-q", "ood", "--model", str(out), "--dataset", str(prepared / "dataset.tsv.gz"),
                 "--output", str(result_path)]) == 0
    result = json.loads(result_path.read_text())
    assert result["score"] == "kmer_distance"
    assert result["over_classification"] == result["kmer_distance"]["over_classification"]
    novel = data.table[data.table["split"] == NOVEL]["sequence"].tolist()
    assert result["kmer_distance"]["over_classification"] == pytest.approx(
        np.mean(reference.distance(novel) <= expected.threshold))


def test_kmer_distance_needs_a_reference(prepared, capsys):
    argv = ["calibrate", "--model", str(prepared / "model_raw.pt"), "--dataset", str(prepared / "dataset.tsv.gz"),
            "--output", str(prepared / "m0.pt"), "--ood-score", "kmer_distance", "--reference-k", "0"]
    assert main(argv) == 2
    assert "--reference-k > 0 for --ood-score kmer_distance" in capsys.readouterr().err
    with pytest.raises(ValueError, match="k-mer distances for score 'kmer_distance'"):
        fit_abstain_rule(np.zeros((3, 2)), 1.0, "kmer_distance")
