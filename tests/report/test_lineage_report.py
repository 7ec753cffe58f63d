"""The Lineage section of the HTML report: per rank, IDTAXA's rates at the cut-off, the peers rank by rank."""

import copy
import html as html_lib
import re

import pytest

from seqxent.evaluate.split import write_plots
from seqxent.report import html as report
from seqxent.report import lineage
from tests.report.test_report import METRICS, make_results

BINS = {"bin_confidence": [0.2, None, 0.95], "bin_accuracy": [0.1, None, 0.9], "bin_count": [2, 0, 28]}
RATES_BY_CUTOFF = {rank: {"cutoff": [0.0, 0.5, 1.0], "misclassification_rate": [0.1, 0.05, 0.0],
                          "overclassification_rate": over, "underclassification_rate": [0.0, 0.2, 1.0]}
                   for rank, over in (("phylum", [None, None, None]), ("genus", [0.5, 0.5, 0.0]))}
LINEAGE = {
    "dataset": "rdp", "task": "lineage", "split": "test", "label_column": "genus", "n_records": 30, "n_items": 30,
    "headline": {"genus_accuracy": {"value": 0.933333, "ci95": [0.8, 1.0]}},
    "metrics": {"phylum_accuracy": 1.0, "genus_accuracy": 0.933333},
    "per_rank": {
        "phylum": {"n": 30, "n_known": 30, "accuracy": {"value": 1.0, "ci95": [1.0, 1.0]}, "accuracy_known": 1.0,
                   "mean_confidence": 0.99991, "ece": 8.7659e-06, "ece_before": 0.635235},
        "genus": {"n": 30, "n_known": 28, "accuracy": {"value": 0.933333, "ci95": [0.8, 1.0]},
                  "accuracy_known": 0.964286, "mean_confidence": 0.925692, "ece": 0.027842, "ece_before": 0.009651},
    },
    "cutoff": 0.93,
    "rates_at_cutoff": {
        "phylum": {"n_known": 30, "n_novel": 0, "correct": 30, "misclassified": 0, "underclassified": 0,
                   "overclassified": 0, "withheld": 0, "correct_rate": 1.0, "misclassification_rate": 0.0,
                   "underclassification_rate": 0.0, "overclassification_rate": None, "error_rate": 0.0,
                   "ci": {"correct_rate": [1.0, 1.0], "misclassification_rate": [0.0, 0.0],
                          "underclassification_rate": [0.0, 0.0], "overclassification_rate": None,
                          "error_rate": [0.0, 0.0]}},
        "genus": {"n_known": 28, "n_novel": 2, "correct": 15, "misclassified": 1, "underclassified": 12,
                  "overclassified": 1, "withheld": 1, "correct_rate": 0.535714, "misclassification_rate": 0.035714,
                  "underclassification_rate": 0.428571, "overclassification_rate": 0.5, "error_rate": 0.0625,
                  "ci": {"correct_rate": [0.4, 0.7], "misclassification_rate": [0.0, 0.151667],
                         "underclassification_rate": [0.233333, 0.559167], "overclassification_rate": None,
                         "error_rate": [0.0, 0.2]}},
    },
    "rates_by_cutoff": RATES_BY_CUTOFF,
    "rates_by_identity": {"97": {"n": 8, "ranks": {"genus": {"correct_rate": 1.0, "misclassification_rate": 0.0,
                                                            "underclassification_rate": 0.0,
                                                            "overclassification_rate": None}}},
                          "<90": {"n": 0, "ranks": {"genus": {"correct_rate": None}}}},
    "calibration": {"temperatures": {"phylum": 0.641654, "genus": 1.473369}, "n_bins": 15, "label_rank": "genus",
                    "after": {"ece": 0.027842}, "before": {"ece": 0.009651}, "bins_after": BINS, "bins_before": BINS,
                    "per_rank": {rank: {"ece": 0.01, "ece_before": 0.02, "bins_after": BINS, "bins_before": BINS}
                                 for rank in ("phylum", "genus")}},
    "per_class": {},
    "confusion": {"kind": "rank phylum", "classes": ["Firmicutes", "Proteobacteria"], "matrix": [[20, 1], [0, 9]]},
    "baselines": {
        # score_lineage_calls' layout (written with sort_keys: ranks in alphabetical order)
        "qiime_nb": {"accuracy": 0.9, "cutoff": 0.7, "method": "qiime_nb", "lineage": {"ranks": ["phylum", "genus"]},
                     "per_rank": {
                         "genus": {"n": 30, "n_known": 28, "accuracy": {"value": 0.9, "ci95": [0.774167, 0.966667]},
                                   "accuracy_known": 0.9, "rates_at_cutoff": {
                                       "misclassification_rate": 0.1, "overclassification_rate": 1.0,
                                       "underclassification_rate": 0.0, "ci": {
                                           "misclassification_rate": [0.033333, 0.225833],
                                           "overclassification_rate": [1.0, 1.0],
                                           "underclassification_rate": [0.0, 0.0]}}},
                         "phylum": {"n": 30, "n_known": 30, "accuracy": {"value": 1.0, "ci95": [1.0, 1.0]},
                                    "rates_at_cutoff": {"misclassification_rate": 0.0, "overclassification_rate": None,
                                                        "underclassification_rate": 0.0}}}},
        # rates in the rank block itself, a plain accuracy, no cut-off
        "blastn": {"accuracy": 0.866667, "cutoff": None,
                   "per_rank": {"genus": {"accuracy": 0.866667, "misclassification_rate": 0.133333,
                                          "overclassification_rate": 1.0, "underclassification_rate": 0.0}}},
        "majority": {"accuracy": 0.1},
        "rdp": {"method": "rdp", "not_run": "rdp-classifier not installed"},
    },
    "split_summary": {"train": 340, "valid": 30, "test": 30},
    "training": {"epochs_run": 2},
    "provenance": {"seqxent_version": "0.1.0", "argv": ["seqxent", "evaluate"]},
}


def _rows(html: str, caption: str | None = None) -> list[list[str]]:
    """The cells (unescaped) of the rows of the table whose caption starts with ``caption`` (None: the first)."""
    start = html.index("<table>" if caption is None else f"<caption>{html_lib.escape(caption)}")
    table = html[start: html.index("</table>", start)]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
    return [[html_lib.unescape(c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S)]
            for row in rows]


def _part(html: str, title: str) -> str:
    start = html.index(f"<h3>{title}</h3>")
    end = html.find("<h3>", start + 1)
    return html[start: end if end > 0 else len(html)]


def _render(tmp_path, metrics, name="rdp", plots=False) -> str:
    directory = make_results(tmp_path, name=name, metrics=metrics, with_plots=False)
    if plots:
        write_plots(metrics, None, directory / "plots")
    return report.render_report([directory], tmp_path / f"{name}.html").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> str:
    return _render(tmp_path_factory.mktemp("lineage"), LINEAGE, plots=True)


def test_per_rank_rows_hold_the_formatted_numbers(rendered):
    rows = _rows(_part(rendered, "Lineage"), "Forced calls at every rank")
    assert rows == [
        ["Rank", "Records", "Known taxa", "Accuracy (95% CI)", "Accuracy (known taxa)", "Mean confidence",
         "ECE before scaling", "ECE after scaling", "Temperature"],
        ["phylum", "30", "30", "1 [1, 1]", "1", "0.9999", "0.6352", "8.77e-06", "0.6417"],
        ["genus", "30", "28", "0.9333 [0.8, 1]", "0.9643", "0.9257", "0.009651", "0.02784", "1.473"],
    ]


def test_rates_at_the_cutoff_with_their_intervals(rendered):
    rows = _rows(rendered, "At the cut-off 0.93.")
    assert rows == [
        ["Rank", "Known", "Novel", "Correct", "Misclassification", "Underclassification", "Overclassification"],
        ["phylum", "30", "0", "1 [1, 1]", "0 [0, 0]", "0 [0, 0]", "–"],
        ["genus", "28", "2", "0.5357 [0.4, 0.7]", "0.03571 [0, 0.1517]", "0.4286 [0.2333, 0.5592]", "0.5"],
    ]


def test_peers_per_rank_next_to_the_model_at_their_own_cutoffs(rendered):
    rows = _rows(rendered, "The model and each peer rank by rank")
    assert rows == [
        ["Rank", "Method", "Cut-off", "Accuracy (95% CI)", "Misclassification", "Underclassification",
         "Overclassification"],
        ["phylum", "seqxent model", "0.93", "1 [1, 1]", "0 [0, 0]", "0 [0, 0]", "–"],
        ["phylum", "qiime_nb", "0.7", "1 [1, 1]", "0", "0", "–"],
        ["genus", "seqxent model", "0.93", "0.9333 [0.8, 1]", "0.03571 [0, 0.1517]", "0.4286 [0.2333, 0.5592]",
         "0.5"],
        ["genus", "qiime_nb", "0.7", "0.9 [0.7742, 0.9667]", "0.1 [0.03333, 0.2258]", "0 [0, 0]", "1 [1, 1]"],
        ["genus", "blastn", "–", "0.8667", "0.1333", "0", "1"],
    ]


def test_rates_by_identity_at_the_label_rank(rendered):
    assert _rows(rendered, "Rates at rank genus by identity") == [
        ["Identity", "Records", "Correct", "Misclassification", "Underclassification", "Overclassification"],
        ["97 %", "8", "1", "0", "0", "–"],
        ["<90 %", "0", "–", "–", "–", "–"],
    ]


def test_flat_comparison_shows_the_model_s_label_rank_accuracy_and_cutoff(rendered):
    rows = _rows(_part(rendered, "Comparison with baselines"), "This model first")
    header, model = rows[0], rows[1]
    assert model[0] == "seqxent model"
    assert model[header.index("Accuracy")] == "0.9333" and model[header.index("Cutoff")] == "0.93"
    assert [row[0] for row in rows[1:]] == ["seqxent model", "qiime_nb", "blastn", "majority", "rdp"]


def test_lineage_blocks_are_not_also_dumped_raw(rendered):
    titles = re.findall(r"<h3>(.*?)</h3>", rendered)
    assert not {"Per rank", "Rates at cutoff", "Rates by cutoff", "Rates by identity"} & set(titles)
    assert not any(row[0] == "Cutoff" for row in _rows(_part(rendered, "Overview")))  # nor an overview row
    calibration = _part(rendered, "Calibration")
    assert "Temperatures" not in calibration and "Per rank" not in calibration
    assert "N bins" in calibration and "Bins after" in calibration  # the rest of the block stays


def test_lineage_figures_are_embedded(rendered):
    captions = re.findall(r"<figcaption>(.*?)</figcaption>", _part(rendered, "Figures"))
    assert {"Over vs misclassification", "Reliability per rank"} <= set(captions)


def test_without_peers_per_rank_there_is_no_peers_table(tmp_path):
    metrics = copy.deepcopy(LINEAGE)
    metrics["baselines"] = {"majority": {"accuracy": 0.1}}
    html = _render(tmp_path, metrics)
    assert "The model and each peer rank by rank" not in html
    assert "Forced calls at every rank" in html


@pytest.mark.parametrize("change", [
    {"per_rank": {"genus": 5, "phylum": {"accuracy": "x"}}},
    {"rates_at_cutoff": "x", "cutoff": None, "rates_by_identity": {"97": None}},
    {"rates_at_cutoff": {"genus": {"ci": None, "correct_rate": 0.5}}, "calibration": {"temperatures": [1.0]}},
    {"baselines": {"qiime_nb": {"per_rank": {"genus": None, "phylum": {"rates_at_cutoff": 3}}}, "x": 1}},
    {"calibration": None, "baselines": None, "rates_by_identity": []},
], ids=["odd-per-rank", "odd-rates", "no-intervals", "odd-peers", "no-calibration"])
def test_odd_lineage_blocks_do_not_crash(tmp_path, change):
    html = _render(tmp_path, {**copy.deepcopy(LINEAGE), **change})
    assert "<h2>rdp</h2>" in html and "<h3>Lineage</h3>" in html


def test_other_tasks_render_exactly_as_before(tmp_path, monkeypatch):
    """The existing fixture of tests/report renders byte for byte as it does with the lineage code switched off."""
    directory = make_results(tmp_path)
    now = report.render_report([directory], tmp_path / "now.html").read_bytes()
    monkeypatch.setattr(lineage, "is_lineage", lambda metrics: False)
    monkeypatch.setattr(lineage, "lineage_tables", lambda metrics: [])
    monkeypatch.setattr(lineage, "model_scores", lambda metrics: {})
    before = report.render_report([directory], tmp_path / "before.html").read_bytes()
    assert now == before
    assert "<h3>Lineage</h3>" not in now.decode()


def test_a_cutoff_outside_a_lineage_result_stays_in_the_overview(tmp_path):
    html = _render(tmp_path, {**METRICS, "cutoff": 0.5, "rates_by_cutoff": {"genus": {}}}, name="coi_species")
    assert ["Cutoff", "0.5"] in _rows(_part(html, "Overview"))
    assert "<h3>Lineage</h3>" not in html and "<h3>Rates by cutoff</h3>" in html

