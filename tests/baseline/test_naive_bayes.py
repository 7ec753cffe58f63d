import ast
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.naive_bayes import MultinomialNB
from sklearn.pipeline import Pipeline
from sklearn.utils import murmurhash3_32

from seqxent import tools
from seqxent.baseline.methods import METHODS, run_method
from seqxent.baseline.naive_bayes import QiimeNaiveBayes, hashed_kmer_features, reverse_complement
from seqxent.baseline.score import score_result
from seqxent.cli import main
from seqxent.data.dataset import read_dataset

REPO = Path(__file__).resolve().parents[2]


def slow_hashed_counts(seq: str, k: int = 7, n_features: int = 8192) -> dict[int, int]:
    """Reference: pad the lower-cased read with a space each side, hash every k-window (one if shorter)."""
    padded = f" {seq.lower()} "
    windows = [padded[i : i + k] for i in range(len(padded) - k + 1)] or [padded]
    counts: dict[int, int] = {}
    for window in windows:
        column = abs(murmurhash3_32(window, seed=0)) % n_features
        counts[column] = counts.get(column, 0) + 1
    return counts


def column(window: str) -> int:
    return abs(murmurhash3_32(window, seed=0)) % 8192


SEQS = ["ACGTACGT", "AAAAAAAAA", "acgtNNacgtRY", "ACG", "A", "ACGTAC", "GATTACAGATTACA", "TTTT-TTTTC"]


def test_hashed_features_of_one_read_by_hand():
    x = hashed_kmer_features(["ACGTACGT"], norm=None).toarray()
    expected = np.zeros((1, 8192))
    expected[0, [column(w) for w in (" acgtac", "acgtacg", "cgtacgt", "gtacgt ")]] = 1  # padded " acgtacgt "
    np.testing.assert_array_equal(x, expected)
    l2 = hashed_kmer_features(["ACGTACGT"]).toarray()
    np.testing.assert_allclose(l2, expected / 2)  # QIIME 2's default norm: four ones -> 1/2 each


def test_hashed_features_count_a_repeated_kmer():
    x = hashed_kmer_features(["AAAAAAAAA"], norm=None)  # " aaaaaaaaa ": " aaaaaa", 3 x "aaaaaaa", "aaaaaa "
    assert x[0, column("aaaaaaa")] == 3 and x[0, column(" aaaaaa")] == 1 and x.sum() == 5


@pytest.mark.parametrize("norm", [None, "l2"])
def test_hashed_features_match_slow_loop(norm):
    x = hashed_kmer_features(SEQS, norm=norm).toarray()
    assert x.shape == (len(SEQS), 8192)
    for row, seq in zip(x, SEQS, strict=True):
        expected = np.zeros(8192)
        for col, count in slow_hashed_counts(seq).items():
            expected[col] = count
        np.testing.assert_allclose(row, expected / np.linalg.norm(expected) if norm else expected)


def test_hashed_features_ignore_case_and_empty_reads_are_zero():
    np.testing.assert_array_equal(hashed_kmer_features(["ACGTTGCA"]).toarray(),
                                  hashed_kmer_features(["acgttgca"]).toarray())  # fmt: skip
    assert hashed_kmer_features([""]).nnz == 0


# Two classes of one read each, with no 7-mer in common: x = AAAAAAA, y = CCCCCCC. Each padded read has three
# distinct windows, so its L2-normalised row holds 1/sqrt(3) three times and each class sums to sqrt(3).
TWO_SEQS, TWO_LABELS = ["AAAAAAA", "CCCCCCC"], ["x", "y"]


def test_two_class_posterior_by_hand():
    assert hashed_kmer_features(TWO_SEQS).nnz == 6  # six distinct hash columns, no collision
    model = QiimeNaiveBayes().fit(TWO_SEQS, TWO_LABELS)
    probs = model.predict_proba(["AAAAAAA", "CCCCCCC", "GGGGGGG", ""])
    # theta_x = (1/sqrt3 + a) / (sqrt3 + 8192 a) on x's columns, a / (sqrt3 + 8192 a) elsewhere; a = 0.001.
    # Log-odds of x for the query AAAAAAA: 3 * (1/sqrt3) * log((1/sqrt3 + a) / a); the prior is uniform.
    a = 0.001
    p_x = 1 / (1 + (1 + 1 / (math.sqrt(3) * a)) ** -math.sqrt(3))
    np.testing.assert_allclose(probs, [[p_x, 1 - p_x], [1 - p_x, p_x], [0.5, 0.5], [0.5, 0.5]], rtol=1e-12)
    assert model.predict(["AAAAAAA", "CCCCCCC"]) == ["x", "y"] and model.classes_ == ["x", "y"]


def test_fit_prior_is_off():
    """Nine x reads and one y read: a read without any 7-mer gets the prior, 50:50 (fit_prior=True: 90:10)."""
    model = QiimeNaiveBayes().fit(["AAAAAAA"] * 9 + ["CCCCCCC"], ["x"] * 9 + ["y"])
    np.testing.assert_allclose(model.predict_proba([""]), [[0.5, 0.5]])


# Three separable classes (the k-mer baselines' toy set, lengthened for 7-mers).
TOY_SEQS = ["ACACACACACACAC", "ACACACTCACACAC", "CACACACAGACACA", "GTGTGTGTGTGTGT", "GTGTGAGTGTGTGT",
            "TGTGTGTGCGTGTG", "AAAAAAAAAAAAAA", "AAAATAAAAAAAAA", "AAAAAAAAGAAAAA"]  # fmt: skip
TOY_LABELS = ["ac"] * 3 + ["gt"] * 3 + ["a"] * 3
TOY_QUERIES, TOY_TRUTH = ["CACACACACACAC", "TGTGTGTGTGTGT", "AAAAAAAAAAAC"], ["ac", "gt", "a"]


def test_toy_set_probabilities_sum_to_one_and_are_deterministic():
    first = QiimeNaiveBayes().fit(TOY_SEQS, TOY_LABELS)
    probs = first.predict_proba(TOY_QUERIES)
    assert probs.shape == (3, 3) and first.classes_ == ["a", "ac", "gt"]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert first.predict(TOY_QUERIES) == TOY_TRUTH
    np.testing.assert_array_equal(QiimeNaiveBayes().fit(TOY_SEQS, TOY_LABELS).predict_proba(TOY_QUERIES), probs)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(alphabet="ACGTN", max_size=40), min_size=1, max_size=5))
def test_probabilities_sum_to_one_for_any_reads(queries):
    probs = QiimeNaiveBayes().fit(TOY_SEQS, TOY_LABELS).predict_proba(queries)
    assert probs.shape == (len(queries), 3) and (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_no_queries_and_single_class():
    assert QiimeNaiveBayes().fit(TOY_SEQS, TOY_LABELS).predict_proba([]).shape == (0, 3)
    np.testing.assert_array_equal(QiimeNaiveBayes().fit(["ACGTACGT"], ["x"]).predict_proba(["TTTT"]), [[1.0]])


def test_reverse_complement_iupac():
    assert reverse_complement("ACGTURYKMBDHVNSW-") == "-WSNBDHVKMRYAACGT"
    assert reverse_complement(reverse_complement("acgtRYKMbdhvnsw")) == "acgtRYKMbdhvnsw"


def test_read_orientation_reverse_complement_and_auto():
    fit = {orientation: QiimeNaiveBayes(read_orientation=orientation).fit(TOY_SEQS, TOY_LABELS)
           for orientation in ("same", "reverse-complement", "auto")}  # fmt: skip
    reversed_queries = [reverse_complement(s) for s in TOY_QUERIES]
    expected = fit["same"].predict_proba(TOY_QUERIES)
    np.testing.assert_array_equal(fit["reverse-complement"].predict_proba(reversed_queries), expected)
    np.testing.assert_array_equal(fit["auto"].predict_proba(TOY_QUERIES), expected)
    assert fit["auto"].orientation_ == "same"
    np.testing.assert_array_equal(fit["auto"].predict_proba(reversed_queries), expected)
    assert fit["auto"].orientation_ == "reverse-complement"
    fit["auto"].predict_proba(["", ""])  # equal confidence both ways: classify-sklearn reverse-complements
    assert fit["auto"].orientation_ == "reverse-complement"


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"cutoff": 1.5}, "cutoff"), ({"read_orientation": "both"}, "read_orientation"), ({"alpha": 0}, "alpha")],
    ids=["cutoff", "orientation", "alpha"],
)
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=f"Expected argument `{match}`"):
        QiimeNaiveBayes(**kwargs)


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="same length"):
        QiimeNaiveBayes().fit(["ACGT", "ACGA"], ["x"])


@pytest.fixture(scope="module")
def coi_tiny(tmp_path_factory) -> Path:
    """A prepared data set of real COI barcodes: 200 records of data/coi_bold.*, 7 species with at least 5."""
    out = tmp_path_factory.mktemp("coi_tiny")
    assert main(["-q", "prepare", "--name", "coi_tiny", "--task", "sequence", "--alphabet", "dna",
                 "--fasta", str(REPO / "data" / "coi_bold.fasta.gz"), "--labels", str(REPO / "data" / "coi_bold.tsv"),
                 "--label-column", "species", "--min-per-class", "5", "--max-records", "200", "--seed", "1",
                 "--output", str(out / "dataset.tsv.gz"), "--summary", str(out / "split_summary.json")]) == 0
    return out / "dataset.tsv.gz"


def test_equals_the_qiime_pipeline_fitted_in_chunks(coi_tiny):
    """The same probabilities as q2-feature-classifier's pipeline, whose LowMemoryMultinomialNB fits in chunks."""
    data = read_dataset(coi_tiny)
    train, test = data.split("train"), data.split("test")
    seqs, labels = train["sequence"].tolist(), train["label"].tolist()
    pipeline = Pipeline([("feat_ext", HashingVectorizer(analyzer="char_wb", n_features=8192, ngram_range=(7, 7),
                                                        alternate_sign=False)),
                         ("classify", MultinomialNB(alpha=0.001, fit_prior=False))])  # fmt: skip
    features = pipeline["feat_ext"].transform(seqs)
    for start in range(0, len(seqs), 16):  # LowMemoryMultinomialNB: partial_fit chunk by chunk (20,000 reads)
        pipeline["classify"].partial_fit(features[start : start + 16], labels[start : start + 16],
                                         classes=sorted(set(labels)))  # fmt: skip
    expected = pipeline.predict_proba(test["sequence"].tolist())
    probs = QiimeNaiveBayes().fit(seqs, labels).predict_proba(test["sequence"].tolist())
    np.testing.assert_allclose(probs, expected, rtol=1e-9, atol=1e-12)


def test_run_method_on_real_records(coi_tiny):
    data = read_dataset(coi_tiny)
    train, test = data.split("train"), data.split("test")
    ids, seqs = test["id"].tolist() + ["empty"], test["sequence"].tolist() + [""]
    result = run_method("qiime_nb", train["sequence"].tolist(), train["label"].tolist(), ids, seqs, k=6)
    assert "qiime_nb" in METHODS and result.cutoff == 0.7 and result.skipped == {}
    assert result.classes == sorted(set(train["label"])) and result.probs.shape == (len(ids), len(result.classes))
    np.testing.assert_allclose(result.probs.sum(axis=1), 1.0)
    np.testing.assert_allclose(result.probs[-1], 1 / len(result.classes))  # no 7-mer: the uniform prior
    np.testing.assert_array_equal(result.confidence, result.probs.max(axis=1))
    truth = test["label"].tolist()
    assert sum(a == b for a, b in zip(result.labels, truth, strict=False)) >= len(truth) - 2
    scores = score_result(result, [*truth, "?"])
    assert scores["n_unassigned"] == 0 and scores["confidence_cutoff"] == 0.7
    assert scores["n_unassigned_at_cutoff"] == int((result.confidence < 0.7).sum()) >= 1  # the empty read


def test_cli_baseline_writes_forced_and_cutoff_scores(coi_tiny, tmp_path):
    for method in ("qiime_nb", "majority"):
        assert main(["-q", "baseline", "--dataset", str(coi_tiny), "--method", method, "--k", "6",
                     "--output", str(tmp_path / f"{method}.json")]) == 0  # fmt: skip
    scores = json.loads((tmp_path / "qiime_nb.json").read_text())
    assert scores["method"] == "qiime_nb" and scores["n_items"] == len(read_dataset(coi_tiny).split("test"))
    assert {"accuracy", "macro_f1", "log_loss_bits", "brier", "seconds"} <= set(scores)
    assert scores["accuracy"] >= 0.8 and scores["confidence_cutoff"] == 0.7
    assert 0 <= scores["n_unassigned_at_cutoff"] <= scores["n_items"]
    majority = json.loads((tmp_path / "majority.json").read_text())
    assert "confidence_cutoff" not in majority and "n_unassigned_at_cutoff" not in majority


def _builtin_baselines() -> list[str]:
    text = (REPO / "workflow" / "rules" / "helpers" / "baseline.smk").read_text()
    return ast.literal_eval(re.search(r"^BUILTIN_BASELINES = (\[.*?\])$", text, re.MULTILINE)[1])


def test_workflow_and_config_list_qiime_nb():
    builtins = _builtin_baselines()
    assert "qiime_nb" in builtins
    assert set(METHODS) == set(builtins) | set(tools.PEER_TOOLS)  # every method has a wildcard value
    schema = yaml.safe_load((REPO / "workflow" / "schemas" / "config.schema.yaml").read_text())
    methods = schema["properties"]["baselines"]["properties"]["methods"]
    assert set(methods["items"]["enum"]) == set(builtins) - {"label_lookup"}
    assert "qiime_nb" in methods["default"]
    config = yaml.safe_load((REPO / "config.yaml").read_text())
    assert "qiime_nb" in config["baselines"]["methods"]


@pytest.mark.slow
def test_dry_run_plans_qiime_nb(tmp_path):
    (tmp_path / "data").symlink_to(REPO / "data")
    bin_dir = Path(sys.executable).parent
    cmd = [str(bin_dir / "snakemake"), "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path), "-n",
           "--cores", "1", "--configfile", str(REPO / "config.yaml")]  # fmt: skip
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    planned = proc.stdout + proc.stderr
    for dataset in ("coi_species", "coi_country", "coi_bin_countries"):
        assert f"results/{dataset}/baselines/qiime_nb.json" in planned
