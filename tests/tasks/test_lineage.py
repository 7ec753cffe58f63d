"""The lineage task: per-rank loss, per-rank softmax and temperatures, consistent calls, and a run on RDP's files."""

import gzip
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F  # noqa: N812

from seqxent import tools
from seqxent.data.alphabet import Alphabet
from seqxent.data.batching import Collate
from seqxent.data.dataset import PreparedData, read_dataset
from seqxent.data.taxon_tree import MISSING, TaxonTree, rank_offsets
from seqxent.errors import InputError
from seqxent.model.rank_heads import LineageLoss, rank_softmax
from seqxent.tasks import get_task
from seqxent.train.config import TrainConfig

DATA = Path(__file__).resolve().parents[2] / "data"
DNA = Alphabet.from_name("dna")
TASK = get_task("lineage")
RANKS = ["family", "genus"]


def _data(split=("train", "train", "train", "valid")) -> PreparedData:
    rows = pd.DataFrame({"id": ["a", "b", "c", "d"], "sequence": ["ACGT", "ACGA", "TTGA", "ACGG"],
                         "family": ["F1", "F1", "F2", "F1"], "genus": ["g1", "g2", "", "g9"],
                         "split": list(split)})
    rows["label"] = rows["genus"]
    return PreparedData("toy", "lineage", DNA, "genus", rows, RANKS)


def test_classes_counts_and_targets():
    data = _data()
    classes = TASK.classes(data)
    assert classes == ["family:F1", "family:F2", "genus:g1", "genus:g2"]  # g9 is only in valid
    assert TASK.class_counts(data, classes).tolist() == [2, 1, 1, 1]
    targets = [ex.target for ex in TASK.examples(data, "train", classes)]
    assert targets == [(0, 2), (0, 3), (1, MISSING)]
    assert [ex.target for ex in TASK.examples(data, "valid", classes)] == [(0, MISSING)]  # g9: no class
    batch = Collate(DNA)(TASK.examples(data, "train", classes))
    assert batch.target.tolist() == [[0, 2], [0, 3], [1, MISSING]]
    meta = TASK.model_meta(data)["lineage"]
    assert meta["ranks"] == RANKS and meta["sizes"] == [2, 2] and meta["label_rank"] == "genus"


def test_a_data_set_without_ranks_is_refused():
    data = _data()
    data.ranks = []
    with pytest.raises(InputError, match="needs a reference with ranks"):
        TASK.classes(data)


def test_loss_is_the_sum_of_the_per_rank_cross_entropies():
    logits = torch.tensor([[2.0, 0.0, 1.0, 0.5], [0.0, 1.0, 0.3, 0.2]])
    target = torch.tensor([[0, 3], [1, MISSING]])
    out = TASK.loss(TrainConfig(), np.ones(4), ["family:F1", "family:F2", "genus:g1", "genus:g2"])(logits, target)
    family = F.cross_entropy(logits[:, :2], torch.tensor([0, 1]))
    genus = F.cross_entropy(logits[:1, 2:], torch.tensor([1]))  # the second record names no genus
    torch.testing.assert_close(out.total, family + genus)
    assert out.parts["ce_family"] == pytest.approx(float(family))
    assert out.parts["ce"] == pytest.approx(float(family + genus))
    smoothed = LineageLoss([0, 2, 4], RANKS, label_smoothing=0.1)(logits, target).total
    expected = (F.cross_entropy(logits[:, :2], torch.tensor([0, 1]), label_smoothing=0.1)
                + F.cross_entropy(logits[:1, 2:], torch.tensor([1]), label_smoothing=0.1))
    torch.testing.assert_close(smoothed, expected)


def test_rank_softmax_uses_one_temperature_per_rank():
    logits = np.array([[1.0, 0.0, 2.0, 0.0, 0.0]])
    probs = rank_softmax(logits, [0, 2, 5], [0.5, 2.0])
    e = np.exp
    np.testing.assert_allclose(probs[0, :2], [e(2) / (e(2) + 1), 1 / (e(2) + 1)])
    np.testing.assert_allclose(probs[0, 2:], np.array([e(1), 1, 1]) / (e(1) + 2))
    assert rank_offsets(["family:A", "genus:a", "genus:b"]) == [0, 1, 3]


@pytest.mark.parametrize(("settings", "message"), [({"loss": "focal"}, "`loss` to be 'ce'"),
                                                   ({"mixup_alpha": 0.2}, "`mixup_alpha`"),
                                                   ({"ensemble": 3}, "`ensemble`"),
                                                   ({"kmer_k": 3, "kmer_init": "logreg"}, "`kmer_init`")])
def test_training_settings_the_lineage_task_refuses(settings, message):
    with pytest.raises(InputError, match=message):
        TASK.check_training(TrainConfig(**settings), "dna")
    TASK.check_training(TrainConfig(label_smoothing=0.1, kmer_k=3), "dna")  # these it takes


def test_calls_are_consistent_and_evaluation_counts_by_hand():
    tree = TaxonTree.from_lineages([["F1", "g1"], ["F1", "g2"], ["F2", "g3"]], RANKS)
    ckpt = SimpleNamespace(classes=tree.classes, meta={"lineage": {**tree.to_meta(), "label_rank": "genus",
                                                                   "temperatures": [1.0, 1.0], "cutoff": 0.5}})
    # Probabilities as logits (log p): record 1's best genus g3 is not under its family F1 -> g1 is called.
    probs = np.array([[0.9, 0.1, 0.3, 0.1, 0.6], [0.2, 0.8, 0.1, 0.1, 0.8], [0.6, 0.4, 0.2, 0.7, 0.1]])
    rows = pd.DataFrame({"id": ["r1", "r2", "r3"], "sequence": ["A"] * 3, "family": ["F1", "F2", "F1"],
                         "genus": ["g1", "g3", "g4"]})
    preds = get_task("lineage").split_predictions(rows, list(np.log(probs)), [SimpleNamespace(target=(0, 2))] * 3)
    _, calls, conf = TASK.calls(ckpt, preds)
    assert [[tree.classes[c] for c in row] for row in calls] == [
        ["family:F1", "genus:g1"], ["family:F2", "genus:g3"], ["family:F1", "genus:g2"]]
    np.testing.assert_allclose(conf, [[0.9, 0.3], [0.8, 0.8], [0.6, 0.7]], rtol=1e-6)
    result = TASK.evaluate(ckpt, preds, n_bins=2, n_boot=20)
    assert result["per_rank"]["family"]["accuracy"]["value"] == pytest.approx(1.0)
    genus = result["per_rank"]["genus"]
    assert genus["accuracy"]["value"] == pytest.approx(2 / 3) and genus["n_known"] == 2  # g4 is novel
    rates = result["rates_at_cutoff"]["genus"]  # cut-off 0.5: r1 stops at family, r2 and r3 reach the genus
    assert (rates["correct"], rates["underclassified"], rates["overclassified"]) == (1, 1, 1)
    assert result["confusion"] == {"kind": "rank genus", "classes": ["g1", "g2", "g3"],
                                   "matrix": [[1, 0, 0], [0, 0, 0], [0, 0, 1]]}  # g4 (novel) left out
    table = TASK.prediction_table(ckpt, preds)
    assert table["predicted_genus"] == ["g1", "g3", "g2"] and table["depth"] == [1, 2, 2]


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "seqxent.cli", *args], cwd=cwd, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out


@pytest.fixture(scope="module")
def rdp_model(tmp_path_factory) -> Path:
    """A lineage model trained for 2 epochs on 400 records of RDP's sample training files, calibrated."""
    root = tmp_path_factory.mktemp("lineage")
    with gzip.open(DATA / "rdp_trainset_sample.fasta.gz", "rt") as handle:
        text = handle.read().split(">")[1:401]
    (root / "ref.fasta").write_text("".join(">" + record for record in text))
    _run("prepare", "--name", "rdp", "--task", "lineage", "--alphabet", "dna", "--reference-format", "rdp",
         "--fasta", "ref.fasta", "--taxonomy", str(DATA / "rdp_taxonomy.txt"), "--label-column", "genus",
         "--output", "dataset.tsv.gz", "--summary", "summary.json", cwd=root)
    _run("train", "--dataset", "dataset.tsv.gz", "--output", "raw.pt", "--history", "history.tsv", "--epochs", "2",
         "--channels", "8", "--layers", "2", "--threads", "1", cwd=root)
    _run("calibrate", "--model", "raw.pt", "--dataset", "dataset.tsv.gz", "--output", "model.pt", "--threads", "1",
         cwd=root)
    return root


def test_workflow_of_commands_on_rdp_files(rdp_model):
    root = rdp_model
    data = read_dataset(root / "dataset.tsv.gz")
    assert data.ranks == ["domain", "phylum", "class", "order", "family", "genus"]
    ckpt = torch.load(root / "model.pt", weights_only=True)
    temperatures = ckpt["meta"]["lineage"]["temperatures"]
    assert len(temperatures) == 6 and all(t > 0 for t in temperatures)
    assert set(ckpt["meta"]["calibration"]["per_problem"]) == set(data.ranks)
    _run("evaluate", "--model", "model.pt", "--dataset", "dataset.tsv.gz", "--output", "metrics.json",
         "--predictions", "predictions.tsv.gz", "--plots-dir", "plots", "--bootstrap", "50", "--threads", "1",
         cwd=root)
    metrics = json.loads((root / "metrics.json").read_text())
    assert set(metrics["per_rank"]) <= set(data.ranks) and "genus_accuracy" in metrics["headline"]
    for block in metrics["per_rank"].values():
        assert 0 <= block["accuracy"]["value"] <= 1 and 0 <= block["ece"] <= 1
    assert (root / "plots" / "reliability.png").is_file()
    table = pd.read_csv(root / "predictions.tsv.gz", sep="\t", keep_default_na=False)
    assert len(table) == len(data.split("test")) and "predicted_genus" in table


def test_predict_every_format_with_both_strands(rdp_model):
    root = rdp_model
    records = (root / "ref.fasta").read_text().split(">")[1:4]
    (root / "q.fasta").write_text("".join(">" + r.split("\t")[0].split("\n")[0] + "\n" + r.split("\n", 1)[1]
                                          for r in records) + ">q_blank\n\n")
    for fmt in ("tsv", "sintax", "qiime", "rdp", "json"):
        out = _run("predict", "--model", "model.pt", "--input", "q.fasta", "--output", "-", "--format", fmt,
                   "--strand", "both", cwd=root).stdout
        assert out.count("q_blank") == 1, fmt  # every input id appears, the empty record with its reason


def test_the_closest_references_vote_with_their_fitted_weights(rdp_model):
    """Each rank: p ∝ softmax(z / (T/α)) · (1 + q/ε)^(γ·exp(δ·d)), q the closest sequences' shares (by hand)."""
    from seqxent.model.checkpoint import load_checkpoint

    ckpt = load_checkpoint(rdp_model / "model.pt")
    pool = ckpt.meta["lineage"]["nearest"]
    assert len(pool["params"]) == 6 and pool["top"] == 50 and set(ckpt.meta["calibration"]["nearest"]) == {
        "domain", "phylum", "class", "order", "family", "genus"}
    taxa = np.asarray(pool["reference_targets"]).reshape(-1, 6)
    temps = ckpt.meta["lineage"]["temperatures"]
    offsets = rank_offsets(ckpt.classes)
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 2, (2, len(ckpt.classes))).astype(np.float32)
    closest = np.array([[0, 1, 2], [3, -1, -1]])  # record 1 has one neighbour
    containment = np.array([[0.9, 0.85, 0.5], [0.7, 0.0, 0.0]])
    pooled = TASK.output(ckpt)(logits, (1 - containment[:, 0], closest[:, 0], closest, containment))
    for r, (alpha, gamma, beta, eps, delta) in enumerate(pool["params"]):
        z = logits[:, offsets[r]:offsets[r + 1]].astype(np.float64) * alpha / temps[r]
        expected = np.exp(z - z.max(axis=1, keepdims=True))
        for i in range(2):
            votes = {}
            for j, s in zip(closest[i], containment[i], strict=True):
                if j >= 0 and taxa[j, r] != MISSING:
                    votes[taxa[j, r] - offsets[r]] = votes.get(taxa[j, r] - offsets[r], 0.0) + np.exp(
                        beta * (s - containment[i, 0]))
            for c, weight in votes.items():
                expected[i, c] *= (1 + weight / sum(votes.values()) / eps) ** (
                    gamma * np.exp(delta * (1 - containment[i, 0])))
        expected /= expected.sum(axis=1, keepdims=True)
        np.testing.assert_allclose(pooled[:, offsets[r]:offsets[r + 1]], expected, rtol=1e-4, atol=1e-7)


def test_leaf_softmax_variant_trains_calibrates_and_predicts(rdp_model):
    """lineage_head leaf: one softmax over the training lineages, summed up the tree; same outputs downstream."""
    root = rdp_model
    _run("train", "--dataset", "dataset.tsv.gz", "--output", "leaf_raw.pt", "--history", "leaf.tsv", "--epochs", "1",
         "--channels", "8", "--layers", "2", "--threads", "1", "--lineage-head", "leaf", cwd=root)
    _run("calibrate", "--model", "leaf_raw.pt", "--dataset", "dataset.tsv.gz", "--output", "leaf.pt", "--threads", "1",
         cwd=root)
    ckpt = torch.load(root / "leaf.pt", weights_only=True)
    assert ckpt["architecture"] == "leaf_marginals" and ckpt["classes"] == torch.load(
        root / "model.pt", weights_only=True)["classes"]
    out = _run("predict", "--model", "leaf.pt", "--input", "ref.fasta", "--output", "-", "--format", "sintax",
               cwd=root).stdout.splitlines()
    assert len(out) == 400 and all(line.rsplit("\t", 3)[1].startswith("d:Bacteria(") for line in out[:5])
    with pytest.raises(InputError, match="`lineage_head` to be 'ranks' for sequence tasks"):
        get_task("sequence").check_training(TrainConfig(lineage_head="leaf"), "dna")


def test_vote_weights_follow_how_often_the_closest_sequence_is_right():
    from seqxent.calibrate.nearest import HEAD_ALONE, VoteProblem, fit_votes

    rng = np.random.default_rng(1)
    n, k = 2000, 20
    truth = rng.integers(0, k, n)
    logits = rng.normal(0, 1, (n, k))
    logits[np.arange(n), truth] += 1.0  # a weak head
    right = rng.uniform(size=n) < 0.95
    taxa = np.where(right, truth, (truth + 1) % k)  # the closest sequence of record i is reference sequence i

    good = VoteProblem(logits, truth, np.arange(n)[:, None], np.ones((n, 1)), taxa)
    alpha, gamma, beta, eps, delta = fit_votes(good)
    pooled = good.nll(np.array([alpha, gamma, np.log(beta), np.log(eps), delta]))
    assert pooled < 0.5 * good.nll(np.array([1.0, 0.0, 0.0, 0.0, 0.0]))  # the votes carry the call
    assert fit_votes(VoteProblem(np.zeros((0, k)), np.zeros(0, int), np.zeros((0, 1), int), np.zeros((0, 1)),
                                 taxa)) == HEAD_ALONE
    # Half the records are of taxa the model lacks (truth -1): their neighbours are wrong, so the votes count
    # for less: the pooled probability of the closest sequence's taxon drops.
    novel = np.where(np.arange(n) % 2 == 0, -1, truth)
    mixed = VoteProblem(logits, novel, np.arange(n)[:, None], np.ones((n, 1)), taxa)

    def p_voted(params):
        from seqxent.model.rank_heads import apply_votes, rank_softmax

        alpha, gamma, beta, eps, delta = params  # containment 1: distance 0, exponent γ
        probs = rank_softmax(logits[:1], [0, k], 1 / alpha)
        return apply_votes(probs, slice(0, k), np.array([0]), taxa[:1], np.array([1.0]), gamma, eps)[0, taxa[0]]

    assert p_voted(fit_votes(mixed)) < p_voted(fit_votes(good)) - 0.05


@pytest.mark.skipif(not tools.is_installed("vsearch"), reason=tools.not_run_reason("vsearch"))
def test_identity_to_the_closest_training_sequence_and_its_bins(rdp_model):
    from seqxent.evaluate.identity import nearest_identity

    rng = np.random.default_rng(1)
    train = ["".join(rng.choice(list("ACGT"), 200)) for _ in range(2)]
    changed = train[1][:100] + ("A" if train[1][100] != "A" else "C") + train[1][101:]  # one substitution
    queries = [train[0], changed, "".join(rng.choice(list("ACGT"), 200))]
    identity = nearest_identity(train, queries)
    assert identity.tolist()[:2] == [1.0, 0.995] and identity[2] < 0.9
    _run("evaluate", "--model", "model.pt", "--dataset", "dataset.tsv.gz", "--output", "metrics_id.json",
         "--bootstrap", "20", "--threads", "1", cwd=rdp_model)
    metrics = json.loads((rdp_model / "metrics_id.json").read_text())
    bins = metrics["rates_by_identity"]
    assert list(bins) == ["100", "99", "97", "95", "90", "<90"]
    assert sum(block["n"] for block in bins.values()) == metrics["n_records"]


def test_leave_clade_out_scores_the_held_out_genera(tmp_path):
    """Whole genera held out (`--novel-rank genus`): `evaluate --split novel` counts their genus calls as
    over-classification and scores the family, which the model knows."""
    with gzip.open(DATA / "rdp_trainset_sample.fasta.gz", "rt") as handle:
        text = handle.read().split(">")[1:401]
    (tmp_path / "ref.fasta").write_text("".join(">" + record for record in text))
    _run("prepare", "--name", "rdp", "--task", "lineage", "--alphabet", "dna", "--reference-format", "rdp",
         "--fasta", "ref.fasta", "--taxonomy", str(DATA / "rdp_taxonomy.txt"), "--label-column", "genus",
         "--ranks", "domain", "phylum", "class", "order", "family", "genus", "--novel-classes", "0.2",
         "--novel-rank", "genus", "--output", "dataset.tsv.gz", "--summary", "s.json",
         cwd=tmp_path)
    _run("train", "--dataset", "dataset.tsv.gz", "--output", "raw.pt", "--history", "h.tsv", "--epochs", "1",
         "--channels", "8", "--layers", "2", "--threads", "1", cwd=tmp_path)
    _run("calibrate", "--model", "raw.pt", "--dataset", "dataset.tsv.gz", "--output", "model.pt", "--threads", "1",
         cwd=tmp_path)
    _run("evaluate", "--model", "model.pt", "--dataset", "dataset.tsv.gz", "--split", "novel", "--output", "m.json",
         "--bootstrap", "20", "--threads", "1", cwd=tmp_path)
    metrics = json.loads((tmp_path / "m.json").read_text())
    genus = metrics["rates_at_cutoff"]["genus"]
    assert genus["n_known"] == 0 and genus["n_novel"] == metrics["n_records"] > 0  # every genus is held out
    assert genus["overclassified"] + genus["withheld"] == genus["n_novel"]
    assert metrics["per_rank"]["genus"]["accuracy"]["value"] == 0.0  # a forced call of a held-out genus is wrong
