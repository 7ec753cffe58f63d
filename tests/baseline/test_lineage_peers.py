import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqxent import tools
from seqxent.baseline import peers
from seqxent.baseline.lineage_peers import (
    LINEAGE_PEERS,
    BlastLineage,
    ChunkedNaiveBayes,
    LineageCalls,
    QiimeNaiveBayesLineage,
    RdpLineage,
    SintaxLineage,
    cut_depth,
    parse_sintax,
    prefix_confidence,
    qiime_taxon,
    rdp_training_files,
    run_lineage_peer,
    sintax_header,
)
from seqxent.baseline.naive_bayes import QiimeNaiveBayes
from seqxent.baseline.score import encode_calls, rates_at_cutoff, score_lineage_calls
from seqxent.cli import main
from seqxent.data.dataset import read_dataset
from seqxent.data.taxon_tree import MISSING, NO_CALL, TaxonTree
from seqxent.metrics.taxonomy import classification_rates
from seqxent.tasks.lineage import LineageTask

REPO = Path(__file__).resolve().parents[2]
NAN = math.nan
RANKS6 = ["domain", "phylum", "class", "order", "family", "genus"]

# The three SINTAX lines of /work/shared/formats.md (vsearch 2.22.1, --sintax_cutoff 0.8), byte for byte.
SINTAX_LINES = (
    "HC9DO0P01AS3S4  length=332\td:Bacteria(0.84),p:Proteobacteria(0.75),c:Deltaproteobacteria(0.74),"
    "o:Syntrophobacterales(0.44),f:Syntrophaceae(0.42),g:Desulfomonile(0.41)\t+\td:Bacteria\n"
    "HC9DO0P01AX5CW  length=330\td:Bacteria(0.61),p:Proteobacteria(0.61),c:Alphaproteobacteria(0.59),"
    "o:Rhodospirillales(0.57),f:Acetobacteraceae(0.15),g:Acidisoma(0.04)\t+\t\n"
    "HC9DO0P01A2RID  length=330\tg:Vineibacter(0.36)\t+\t\n"
)


# --------------------------------------------------------------------------- SINTAX


def test_parse_sintax_lines_of_formats_md():
    rows = parse_sintax(SINTAX_LINES, RANKS6)
    assert list(rows) == ["HC9DO0P01AS3S4  length=332", "HC9DO0P01AX5CW  length=330", "HC9DO0P01A2RID  length=330"]
    names, conf, depth = rows["HC9DO0P01AS3S4  length=332"]
    assert names == ["Bacteria", "Proteobacteria", "Deltaproteobacteria", "Syntrophobacterales", "Syntrophaceae",
                     "Desulfomonile"]
    assert conf == [0.84, 0.75, 0.74, 0.44, 0.42, 0.41] and depth == 1  # 4th column: d:Bacteria alone
    names, conf, depth = rows["HC9DO0P01AX5CW  length=330"]
    assert names[4:] == ["Acetobacteraceae", "Acidisoma"] and conf[4:] == [0.15, 0.04] and depth == 0
    names, conf, depth = rows["HC9DO0P01A2RID  length=330"]  # the winning reference names only the genus
    assert names == ["", "", "", "", "", "Vineibacter"] and depth == 5
    assert all(math.isnan(c) for c in conf[:5]) and conf[5] == 0.36


def test_parse_sintax_depth_of_4th_column_equals_the_cutoff_rule():
    with_column = parse_sintax(SINTAX_LINES, RANKS6)
    without = parse_sintax("\n".join("\t".join(line.split("\t")[:3]) for line in SINTAX_LINES.splitlines()), RANKS6,
                           cutoff=0.8)
    assert {k: v[2] for k, v in with_column.items()} == {k: v[2] for k, v in without.items()} \
        == {k: cut_depth(v[1], 0.8) for k, v in with_column.items()}


def test_parse_sintax_no_prediction_and_unknown_letter():
    names, conf, depth = parse_sintax("q0\t\t+\t\n", RANKS6)["q0"]  # no prediction (too few shared k-mers)
    assert names == [""] * 6 and all(math.isnan(c) for c in conf) and depth == 0
    with pytest.raises(ValueError, match="x:name"):
        parse_sintax("q0\ts:Bacillus subtilis(0.90)\t+\t\n", RANKS6)  # species is no rank here


def test_sintax_header_escapes_what_sintax_splits_at_and_parses_back():
    lineage = ["Bacteria", "", "Osmia sp. 1, a:b;c", "Clostridium (XI)"]
    ranks = ["domain", "phylum", "genus", "species"]
    header = sintax_header("r3", lineage, ranks)
    assert header == "r3;tax=d:Bacteria,g:Osmia%20sp.%201%2C%20a%3Ab%3Bc,s:Clostridium%20%28XI%29;"
    column = header.split("tax=")[1].rstrip(";")
    entries = ",".join(f"{entry}(0.9)" for entry in column.split(","))
    names, _, depth = parse_sintax(f"q0\t{entries}\t+\t{column}", ranks)["q0"]
    assert names == lineage and depth == 4


def test_sintax_lineage_peer_inputs_and_outputs(tmp_path, monkeypatch):
    commands = []

    def fake_vsearch(command, cwd):
        commands.append(command)
        (cwd / "sintax.tsv").write_text("q0\td:B%2Cx(1.00),g:b1(0.70)\t+\td:B%2Cx\nq2\t\t+\t\n")

    monkeypatch.setattr(peers, "_run", fake_vsearch)
    calls = SintaxLineage().classify(["ACGT", "GGCC"], [["A", "a1"], ["B,x", "b1"]], ["domain", "genus"],
                                     ["x", "y", "z"], ["ACGA", "", "TTTT"], workdir=tmp_path)
    assert (tmp_path / "reference.fa").read_text() == ">r0;tax=d:A,g:a1;\nACGT\n>r1;tax=d:B%2Cx,g:b1;\nGGCC\n"
    assert commands[0][-2:] == ["--strand", "plus"] and "--randseed" in commands[0]
    assert calls.ids == ["x", "y", "z"] and calls.calls == [["B,x", "b1"], ["", ""], ["", ""]]
    assert calls.depth.tolist() == [1, 0, 0] and calls.cutoff == 0.8
    np.testing.assert_array_equal(calls.confidence[0], [1.0, 0.7])
    assert calls.skipped == {"y": "empty sequence", "z": "no prediction in the tool's output"}


# --------------------------------------------------------------------------- RDP


def test_rdp_training_files_with_missing_ranks_and_repeated_names():
    lineages = [["Bacteria", "", "Bacillus"], ["Bacteria", "Bacillaceae 1", "Bacillus"], ["", "", "Hippea"],
                ["Bacteria", "Bacillaceae 1", "bacillus"]]
    taxonomy, paths, names = rdp_training_files(lineages, ["domain", "family", "genus"])
    assert "\n".join(taxonomy) == (
        "0*Root*-1*0*rootrank\n"
        "1*Bacteria*0*1*domain\n"
        "2*Bacteria_unclassified_family*1*2*family\n"
        "3*Bacillus*2*3*genus\n"
        "4*Bacillaceae%201*1*2*family\n"
        "5*Bacillus%%2*4*3*genus\n"  # the same genus under another parent: another node, its own name
        "6*Root_unclassified_domain*0*1*domain\n"
        "7*Root_unclassified_domain_unclassified_family*6*2*family\n"
        "8*Hippea*7*3*genus\n"
        "9*bacillus%%3*4*3*genus"  # RDP compares names ignoring case
    )
    assert paths == ["Root;Bacteria;Bacteria_unclassified_family;Bacillus",
                     "Root;Bacteria;Bacillaceae%201;Bacillus%%2",
                     "Root;Root_unclassified_domain;Root_unclassified_domain_unclassified_family;Hippea",
                     "Root;Bacteria;Bacillaceae%201;bacillus%%3"]
    assert names[("genus", "Bacillus%%2")] == "Bacillus" and names[("family", "Bacteria_unclassified_family")] == ""
    assert names[("domain", "Root_unclassified_domain")] == ""
    assert names[("family", "Bacillaceae%201")] == "Bacillaceae 1"


def test_rdp_lineage_peer_writes_the_training_files_and_maps_nodes_back(tmp_path, monkeypatch):
    commands = []

    def fake_java(command, cwd):
        commands.append(command)
        (cwd / "model").mkdir(exist_ok=True)
        (cwd / "rdp.tsv").write_text(
            "q0\t\tRoot\trootrank\t1.0\tBacteria\tdomain\t0.97\tBacteria_unclassified_family\tfamily\t0.9\t"
            "Bacillus\tgenus\t0.5\n"
            "q1\t-\tRoot\trootrank\t1.0\tBacteria\tdomain\t1.0\tBacillaceae%201\tfamily\t0.85\tBacillus%%2\tgenus\t0.8\n")

    monkeypatch.setattr(peers, "_run", fake_java)
    lineages = [["Bacteria", "", "Bacillus"], ["Bacteria", "Bacillaceae 1", "Bacillus"]]
    calls = RdpLineage(jar="rdp.jar").classify(["ACGTACGTAC", "GGCCGGCCGG"], lineages, ["domain", "family", "genus"],
                                               ["x", "y", "z"], ["ACGTACGTAA", "GGCCGGCCGA", "NNNN"], workdir=tmp_path)
    assert (tmp_path / "train.fa").read_text() == (
        ">r0\tRoot;Bacteria;Bacteria_unclassified_family;Bacillus\nACGTACGTAC\n"
        ">r1\tRoot;Bacteria;Bacillaceae%201;Bacillus%%2\nGGCCGGCCGG\n")
    assert (tmp_path / "taxonomy.txt").read_text().splitlines()[2] == "2*Bacteria_unclassified_family*1*2*family"
    assert calls.calls == [["Bacteria", "", "Bacillus"], ["Bacteria", "Bacillaceae 1", "Bacillus"], ["", "", ""]]
    np.testing.assert_array_equal(calls.confidence[:2], [[0.97, 0.9, 0.5], [1.0, 0.85, 0.8]])  # placeholder kept
    assert calls.depth.tolist() == [2, 3, 0]
    assert calls.skipped == {"z": "fewer than 1 8-mers made of A, C, G, T only"}
    assert [command[1] for command in commands] == ["-Xmx2g", "-Xmx2g"]  # 2 leaves: the smallest heap
    assert commands[1][-6:-2] == ["classify", "-t", "model/rRNAClassifier.properties", "-o"] and "-f" not in commands[1]


# --------------------------------------------------------------------------- QIIME 2 naive Bayes


def test_prefix_confidence_sums_the_classes_under_the_top_lineage():
    classes = [("A", "a1"), ("A", "a2"), ("B", "b1"), ("B", "b2")]
    probs = np.array([[0.25, 0.125, 0.375, 0.25],  # top B;b1: B = 0.625, b1 = 0.375
                      [0.375, 0.0, 0.3125, 0.3125],  # top A;a1 (0.375) although B holds 0.625, as QIIME 2 walks
                      [0.0, 0.0, 0.5, 0.5]])  # a tie: the first class, as numpy's argmax and QIIME 2
    top, conf = prefix_confidence(probs, classes)
    assert top.tolist() == [2, 0, 2]
    assert conf.tolist() == [[0.625, 0.375], [0.375, 0.375], [1.0, 0.5]]
    assert [cut_depth(row, 0.7) for row in conf] == [0, 0, 1]


def test_qiime_taxon_strings():
    assert qiime_taxon(["Bacteria", "", "Bacillus"], ["domain", "family", "genus"]) == "d__Bacteria; f__; g__Bacillus"


def test_chunked_fit_equals_one_fit():
    seqs = ["ACGTTGCAAGGCTTAA", "ACGTTGCAAGGCTTAT", "GGGGCCCCGGGGCCCC", "GGGGCCCCGGGGCCCA", "TTTTAAAATTTTAAAC"]
    labels = ["x", "x", "y", "y", "z"]
    chunked = ChunkedNaiveBayes()
    chunked.chunk_size = 2
    queries = ["ACGTTGCAAGGCTTAC", "GGGGCCCCGGGG", ""]
    np.testing.assert_allclose(chunked.fit(seqs, labels).predict_proba(queries),
                               QiimeNaiveBayes().fit(seqs, labels).predict_proba(queries), rtol=1e-12, atol=1e-15)


def test_qiime_lineage_peer_on_a_toy():
    seqs = ["ACGTTGCAAGGCTTAAGCTA", "ACGTTGCAAGGCTTATGCTA", "GGGGCCCCGGGGCCCCAGGA", "GGGGCCCCGGGGCCCAAGGA"]
    lineages = [["A", "a1"], ["A", "a1"], ["B", ""], ["B", ""]]
    calls = QiimeNaiveBayesLineage().classify(seqs, lineages, ["phylum", "genus"], ["q0", "q1", "q2"],
                                              ["ACGTTGCAAGGCTTAAGCTT", "GGGGCCCCGGGGCCCCAGGT", ""])
    assert calls.calls == [["A", "a1"], ["B", ""], ["", ""]] and calls.cutoff == 0.7
    assert calls.depth.tolist() == [2, 2, 0] and calls.skipped == {"q2": "empty sequence"}
    assert np.all(calls.confidence[:2] > 0.7)


# --------------------------------------------------------------------------- BLAST


def test_blast_lineage_peer_takes_the_hit_lineage(tmp_path, monkeypatch):
    def fake_blast(command, cwd):
        (cwd / "blastn.tsv").write_text("q0\tr1\t99.0\t100\t1e-50\t180\nq0\tr0\t98.0\t100\t1e-40\t170\n")

    monkeypatch.setattr(peers, "_run", fake_blast)
    calls = BlastLineage().classify(["ACGT", "GGCC"], [["A", "a1"], ["B", ""]], ["phylum", "genus"], ["x", "y"],
                                    ["ACGA", "TTTT"], workdir=tmp_path)
    assert calls.calls == [["B", ""], ["", ""]] and calls.depth.tolist() == [1, 0] and calls.cutoff is None
    assert calls.confidence[0, 0] == 1.0 and np.isnan(calls.confidence[0, 1])
    assert calls.skipped == {"y": "no BLAST hit (default e-value cutoff 10)"}


# --------------------------------------------------------------------------- scores


def test_cut_depth():
    assert cut_depth([0.9, NAN, 0.85, 0.5], 0.8) == 3
    assert cut_depth([NAN, NAN], 0.8) == 0 and cut_depth([0.79, 0.9], 0.8) == 0 and cut_depth([0.8, 0.8], 0.8) == 2
    assert cut_depth([1.0, NAN], None) == 1


def test_encode_calls_non_classes_never_equal_a_truth():
    tree = TaxonTree.from_lineages([["A", "a1"], ["B", "b1"]], ["phylum", "genus"])
    assert encode_calls(tree, [["B", "a1"], ["", "zz"]]).tolist() == [[1, 2], [NO_CALL, NO_CALL]]
    assert NO_CALL not in (-1, MISSING)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rates_at_cutoff_equal_classification_rates_when_calls_stand_as_a_prefix(seed):
    rng = np.random.default_rng(seed)
    n, ranks = 40, ["phylum", "class", "genus"]
    truth = rng.integers(-1, 3, size=(n, 3))
    truth[rng.random((n, 3)) < 0.2] = MISSING
    calls, depth = rng.integers(0, 3, size=(n, 3)), rng.integers(0, 4, size=n)
    known = truth >= 0
    stands = np.arange(3)[None, :] < depth[:, None]
    assert rates_at_cutoff(truth, calls, stands, known, ranks, n_boot=50, seed=7) == \
        classification_rates(truth, calls, depth, known, ranks, n_boot=50, seed=7)


def _toy_split():
    ranks = ["phylum", "genus"]
    train = pd.DataFrame({"id": ["t1", "t2", "t3"], "phylum": ["A", "A", "B"], "genus": ["a1", "a2", "b1"]})
    query = pd.DataFrame({"id": [f"q{i}" for i in range(1, 7)], "phylum": ["A", "A", "B", "A", "B", ""],
                          "genus": ["a1", "a2", "b9", "", "b1", "a1"]})
    return ranks, train, query


def test_score_lineage_calls_by_hand():
    ranks, train, query = _toy_split()
    calls = [["A", "a1"], ["A", "a1"], ["B", "b1"], ["", "a2"], ["", ""], ["B", "b1"]]
    result = LineageCalls("toy", ranks, query["id"].tolist(), calls, np.full((6, 2), 0.9),
                          np.array([2, 1, 2, 2, 0, 2]), 0.8, 0.0)
    out = score_lineage_calls(result, train, query, n_boot=0)
    phylum, genus = out["per_rank"]["phylum"], out["per_rank"]["genus"]
    # phylum: q1-q3 right and standing; q4's "" inside its depth is no call; q5 unclassified; q6 not named
    assert (phylum["n"], phylum["accuracy"]["value"], phylum["accuracy_known"]) == (5, 0.6, 0.6)
    assert {k: phylum["rates_at_cutoff"][k] for k in ("correct", "misclassified", "underclassified", "n_novel")} \
        == {"correct": 1 + 1 + 1, "misclassified": 0, "underclassified": 2, "n_novel": 0}
    # genus: q1 right, q2 cut (under), q3 novel b9 called (over), q4 not named, q5 unclassified, q6 wrong
    assert (genus["n"], genus["n_known"], genus["accuracy"]["value"], genus["accuracy_known"]) == (5, 4, 0.2, 0.25)
    block = genus["rates_at_cutoff"]
    assert (block["correct"], block["misclassified"], block["underclassified"], block["overclassified"],
            block["withheld"]) == (1, 1, 2, 1, 0)
    assert (block["correct_rate"], block["overclassification_rate"], block["error_rate"]) == (0.25, 1.0, 0.4)
    assert out["cutoff"] == 0.8 and genus["accuracy"]["ci95"] is None


def test_score_lineage_calls_equal_classification_rates_on_the_same_arrays():
    ranks, train, query = _toy_split()
    calls = [["A", "a1"], ["A", "a1"], ["B", "b1"], ["A", "a2"], ["A", "a2"], ["B", "b1"]]  # every rank named
    depth = np.array([2, 1, 2, 2, 0, 1])
    result = LineageCalls("toy", ranks, query["id"].tolist(), calls, np.full((6, 2), 0.9), depth, 0.8, 0.0)
    out = score_lineage_calls(result, train, query, n_boot=100, seed=3)
    tree = TaxonTree.from_lineages(train[ranks].to_numpy().tolist(), ranks)
    truth, known = LineageTask.truth(tree, query)
    expected = classification_rates(truth, encode_calls(tree, calls), depth, known, ranks, n_boot=100, seed=3)
    assert {rank: block["rates_at_cutoff"] for rank, block in out["per_rank"].items()} == expected


def test_score_lineage_calls_rejects_other_queries():
    ranks, train, query = _toy_split()
    result = LineageCalls("toy", ranks, ["q9"], [["A", "a1"]], np.ones((1, 2)), np.array([2]), 0.8, 0.0)
    with pytest.raises(ValueError, match="same order"):
        score_lineage_calls(result, train, query)


# --------------------------------------------------------------------------- the peers on real records


@pytest.fixture(scope="module")
def rdp_tiny(tmp_path_factory) -> Path:
    """A prepared lineage data set: 100 records of the RDP training sample, missing class/order/family included."""
    out = tmp_path_factory.mktemp("rdp_tiny")
    assert main(["-q", "prepare", "--name", "rdp_tiny", "--task", "lineage", "--alphabet", "dna",
                 "--reference-format", "rdp", "--fasta", str(REPO / "data" / "rdp_trainset_sample.fasta.gz"),
                 "--taxonomy", str(REPO / "data" / "rdp_taxonomy.txt"), "--ranks", *RANKS6,
                 "--label-column", "genus", "--max-records", "100", "--fractions", "0.6", "0.1", "0.3",
                 "--seed", "1", "--output", str(out / "dataset.tsv.gz"),
                 "--summary", str(out / "split_summary.json")]) == 0
    return out / "dataset.tsv.gz"


@pytest.mark.tools
@pytest.mark.parametrize("method", sorted(LINEAGE_PEERS))
def test_each_peer_calls_every_test_record(method, rdp_tiny, tmp_path):
    peer = LINEAGE_PEERS[method]
    if not peer.is_available():
        pytest.skip(tools.skip_message(peer.tool, f"the {method} lineage peer is not tested"))
    data = read_dataset(rdp_tiny)
    train, test = data.split("train"), data.split("test")
    ids, seqs = test["id"].tolist() + ["empty"], test["sequence"].tolist() + [""]
    calls = run_lineage_peer(method, train["sequence"].tolist(), train[data.ranks].to_numpy().tolist(), data.ranks,
                             ids, seqs, workdir=tmp_path)
    assert calls.ids == ids and len(calls.calls) == len(ids) and calls.confidence.shape == (len(ids), 6)
    assert calls.depth.shape == (len(ids),) and calls.depth.min() >= 0 and calls.depth.max() <= 6
    assert calls.calls[-1] == [""] * 6 and calls.depth[-1] == 0 and calls.skipped["empty"] == "empty sequence"
    train_names = [set(train[rank]) for rank in data.ranks]
    assert all(not name or name in train_names[r] for row in calls.calls for r, name in enumerate(row))
    result = LineageCalls(calls.tool, calls.ranks, calls.ids[:-1], calls.calls[:-1], calls.confidence[:-1],
                          calls.depth[:-1], calls.cutoff, calls.seconds)
    out = score_lineage_calls(result, train, test, n_boot=20)
    for rank, block in out["per_rank"].items():
        rates = block["rates_at_cutoff"]
        assert rates["correct"] + rates["misclassified"] + rates["underclassified"] == rates["n_known"]
        assert rates["overclassified"] + rates["withheld"] == rates["n_novel"]
        assert block["n"] == rates["n_known"] + rates["n_novel"] == int((test[rank] != "").sum())
    assert out["per_rank"]["domain"]["accuracy"]["value"] == 1.0  # one domain in the sample
    assert out["per_rank"]["genus"]["accuracy"]["value"] >= 0.5


def test_run_lineage_peer_needs_its_tool(monkeypatch):
    monkeypatch.setattr(tools, "missing_tool", lambda name: "`vsearch` not on PATH")
    with pytest.raises(tools.ToolMissingError, match="vsearch"):
        run_lineage_peer("sintax", ["ACGT"], [["A"]], ["domain"], ["q"], ["ACGT"])
    with pytest.raises(ValueError, match="Expected argument `method`"):
        run_lineage_peer("majority", ["ACGT"], [["A"]], ["domain"], ["q"], ["ACGT"])


def test_cli_baseline_adds_per_rank_scores_on_lineage_data_sets(rdp_tiny, tmp_path):
    for method in ("qiime_nb", "majority"):
        assert main(["-q", "baseline", "--dataset", str(rdp_tiny), "--method", method, "--bootstrap", "20",
                     "--output", str(tmp_path / f"{method}.json"),
                     "--predictions", str(tmp_path / f"{method}.tsv")]) == 0
    scores = json.loads((tmp_path / "qiime_nb.json").read_text())
    assert {"accuracy", "macro_f1", "confidence_cutoff", "per_rank", "cutoff", "lineage"} <= set(scores)
    assert sorted(scores["per_rank"]) == sorted(RANKS6) and scores["cutoff"] == 0.7  # JSON keys sorted
    assert scores["lineage"]["ranks"] == RANKS6 and scores["lineage"]["label_rank"] == "genus"
    assert set(scores["per_rank"]["genus"]) == {"n", "n_known", "accuracy", "accuracy_known", "rates_at_cutoff"}
    assert len(scores["per_rank"]["genus"]["accuracy"]["ci95"]) == 2
    table = pd.read_csv(tmp_path / "qiime_nb.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert list(table.columns[:7]) == ["id", *RANKS6] and "predicted_genus" in table and "depth" in table
    assert len(table) == scores["n_items"]
    majority = json.loads((tmp_path / "majority.json").read_text())  # no lineage peer: the flat scores only
    assert "per_rank" not in majority and "cutoff" not in majority
    assert not (tmp_path / "majority.tsv").exists()


def test_cli_baseline_flat_data_set_keeps_flat_scores(tmp_path):
    out = tmp_path / "flat"
    assert main(["-q", "prepare", "--name", "rdp_flat", "--task", "sequence", "--alphabet", "dna",
                 "--reference-format", "rdp", "--fasta", str(REPO / "data" / "rdp_trainset_sample.fasta.gz"),
                 "--taxonomy", str(REPO / "data" / "rdp_taxonomy.txt"), "--ranks", *RANKS6,
                 "--label-column", "phylum", "--max-records", "100", "--seed", "1",
                 "--output", str(out / "dataset.tsv.gz"), "--summary", str(out / "split_summary.json")]) == 0
    assert main(["-q", "baseline", "--dataset", str(out / "dataset.tsv.gz"), "--method", "qiime_nb",
                 "--output", str(tmp_path / "qiime_nb.json")]) == 0
    scores = json.loads((tmp_path / "qiime_nb.json").read_text())
    assert "accuracy" in scores and "per_rank" not in scores and "lineage" not in scores
