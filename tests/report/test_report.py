import base64
import copy
import json
import re

import pytest

from seqxent.data.io import default_file_mode
from seqxent.evaluate import plots
from seqxent.report import html as report
from seqxent.report import tables

CLASSES = ["Osmia bicornis", "<b>x</b>", "Apis mellifera"]
MATRIX = [[10, 1, 0], [2, 8, 0], [0, 0, 12]]
METRICS = {
    "dataset": "coi_species",
    "task": "sequence",
    "split": "test",
    "label_column": "species",
    "classes": CLASSES,
    "n_records": 33,
    "n_items": 33,
    "headline": {
        "accuracy": {"value": 0.951234, "ci95": [0.93, 0.97]},
        "macro_f1": {"value": 0.9, "ci95": [0.85, 0.94]},
    },
    "metrics": {"accuracy": 0.951234, "macro_f1": 0.9, "log_loss_nats": 0.2, "brier": 0.07, "ece": 0.0312},
    "per_class": {name: {"precision": 0.9, "recall": 0.8123, "f1": 0.85, "support": 11} for name in CLASSES},
    "confusion": {"classes": CLASSES, "matrix": MATRIX},
    "calibration": {
        "temperature": 1.3,
        "before": {"ece": 0.05, "nll": 0.3},
        "after": {"ece": 0.02, "nll": 0.25},
    },
    "information": {"entropy_bits": 1.58},
    "baselines": {
        "kmer_logreg": {"accuracy": 0.8, "macro_f1": 0.75, "log_loss_nats": 0.4, "seconds": 2.1},
        "majority": {"accuracy": 0.36, "macro_f1": 0.18, "seconds": 0.001},
    },
    "split_summary": {
        "train": 800,
        "valid": 100,
        "test": 100,
        "excluded": 51,
        "grouping": "identical sequences",
    },
    "training": {"epochs_run": 12, "best_epoch": 9, "seconds": 40.1, "parameters": 123456},
    "provenance": {
        "seqxent_version": "0.1.0",
        "git_commit": "unknown",
        "packages": {"numpy": "2.4.6"},
        "config": {"epochs": 20},
        "argv": ["seqxent", "evaluate"],
        "created": "2026-01-01T00:00:00+00:00",
    },
}
EXTERNAL = re.compile(
    r"""(src|href)\s*=\s*["']?\s*(https?:|//)|<link\b|<script\b|@import|url\(""", re.IGNORECASE
)


def make_results(root, name="coi_species", metrics=METRICS, with_plots=True):
    directory = root / "results" / name
    directory.mkdir(parents=True)
    if metrics is not None:
        (directory / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    if with_plots:
        plots.plot_confusion(MATRIX, CLASSES, directory / "plots" / "confusion.png")
        plots.plot_reliability([0.2, 0.9], [0.1, 0.95], [3, 30], directory / "plots" / "reliability.png")
    return directory


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    root = tmp_path_factory.mktemp("report")
    directory = make_results(root)
    output = report.render_report(
        [directory], directory / "report.html", config={"datasets": ["coi_species"]}
    )
    return directory, output.read_text(encoding="utf-8")


def test_contains_name_values_and_ci(rendered):
    _, html = rendered
    assert "<h2>coi_species</h2>" in html
    assert '<td class="num">0.9512</td><td>[0.93, 0.97]</td>' in html
    assert "123,456" in html  # training parameters


def test_embeds_every_png_as_data_uri(rendered):
    directory, html = rendered
    uris = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    expected = [p.read_bytes() for p in sorted((directory / "plots").glob("*.png"))]
    assert [base64.b64decode(uri) for uri in uris] == expected


def test_is_self_contained(rendered):
    _, html = rendered
    assert EXTERNAL.search(html) is None
    assert 'src="http' not in html
    assert "report.html" not in html  # a single data set links nothing


def test_escapes_text(rendered):
    _, html = rendered
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html


def test_model_row_comes_first_in_baseline_table(rendered):
    _, html = rendered
    table = html[html.index("Comparison with baselines") :]
    table = table[: table.index("</table>")]
    assert table.index("seqxent model") < table.index("kmer_logreg") < table.index("majority")
    assert '<td class="num">0.8</td>' in table


def test_renders_config_as_yaml(rendered):
    _, html = rendered
    assert "<pre>datasets:\n- coi_species\n</pre>" in html
    assert "<pre>epochs: 20\n</pre>" in html  # provenance config


def test_is_deterministic(tmp_path):
    directory = make_results(tmp_path)
    first = report.render_report([directory], tmp_path / "a.html").read_bytes()
    second = report.render_report([directory], tmp_path / "b.html").read_bytes()
    assert first == second


def test_report_is_written_atomically_with_ordinary_permissions(tmp_path):
    output = tmp_path / "out" / "report.html"
    report.render_report([make_results(tmp_path)], output)
    assert output.stat().st_mode & 0o777 == default_file_mode()
    assert [p.name for p in output.parent.iterdir()] == ["report.html"], "no temporary file is left behind"


def test_several_data_sets_link_their_reports(tmp_path):
    first = make_results(tmp_path, "coi_species")
    second = make_results(tmp_path, "ss3", metrics={**METRICS, "dataset": "ss3"}, with_plots=False)
    html = report.render_report([first, second], tmp_path / "results" / "report.html").read_text()
    assert 'href="coi_species/report.html"' in html
    assert 'href="ss3/report.html"' in html
    assert 'href="#coi-species"' in html and 'href="#ss3"' in html
    assert html.count('<img src="data:image/png;base64,') == 2


def test_link_is_relative_to_output(tmp_path):
    first, second = make_results(tmp_path, "a"), make_results(tmp_path, "b", with_plots=False)
    html = report.render_report([first, second], tmp_path / "out" / "index.html").read_text()
    assert 'href="../results/a/report.html"' in html


@pytest.mark.parametrize("key", sorted(METRICS))
def test_missing_key_does_not_crash(tmp_path, key):
    metrics = {k: v for k, v in METRICS.items() if k != key}
    directory = make_results(tmp_path, metrics=metrics, with_plots=False)
    html = report.render_report([directory], tmp_path / "report.html").read_text()
    assert "coi_species" in html


@pytest.mark.parametrize(
    "metrics",
    [
        None,
        {},
        {"headline": {"accuracy": 0.9}, "per_class": {}, "baselines": {"m": {"per_class": {"a": {"f1": 1}}}}},
        {"headline": {"accuracy": {"value": None, "ci95": None}}, "confusion": {"matrix": [[1]]}},
        {"metrics": {"accuracy": float("nan"), "nested": {"a": [1, 2]}}, "ood": {"auroc": 0.8}},
    ],
    ids=["no-metrics-json", "empty", "plain-headline", "null-values", "nan-and-unknown-keys"],
)
def test_sparse_or_odd_metrics(tmp_path, metrics):
    directory = make_results(tmp_path, metrics=metrics, with_plots=False)
    html = report.render_report([directory], tmp_path / "report.html").read_text()
    assert "<h2>coi_species</h2>" in html


def test_unknown_top_level_keys_are_rendered(tmp_path):
    directory = make_results(tmp_path, metrics={"ood": {"auroc": 0.8123}, "note": "hi"}, with_plots=False)
    html = report.render_report([directory], tmp_path / "report.html").read_text()
    assert "Out-of-distribution detection" in html and "0.8123" in html and "hi" in html


def test_ensemble_members_are_columns_of_the_training_table(tmp_path):
    members = [{"seed": 1, "best_epoch": 9, "best_valid_ce": 0.4777}, {"seed": 2, "best_epoch": 16,
                                                                     "best_valid_ce": 0.4321}]
    metrics = {**METRICS, "training": {**METRICS["training"], "architecture": "ensemble", "members": members}}
    html = report.render_report([make_results(tmp_path, metrics=metrics, with_plots=False)],
                                tmp_path / "report.html").read_text()
    assert "<tr><th></th><th>Members 1</th><th>Members 2</th></tr>" in html  # one column per member
    assert re.search(r"<td>Best valid ce</td><td[^>]*>0.4777</td><td[^>]*>0.4321</td>", html)


def test_long_per_class_table_is_collapsed(tmp_path):
    metrics = copy.deepcopy(METRICS)
    metrics["per_class"] = {f"c{i}": {"f1": 0.5, "support": 1} for i in range(tables.COLLAPSE_ROWS + 1)}
    directory = make_results(tmp_path, metrics=metrics, with_plots=False)
    html = report.render_report([directory], tmp_path / "report.html").read_text()
    section = html[html.index("Per-class metrics") :]
    assert section.index("<details>") < section.index("<td>c0</td>") < section.index("</details>")


def test_escapes_title_and_config(tmp_path):
    directory = make_results(tmp_path, metrics={}, with_plots=False)
    html = report.render_report(
        [directory], tmp_path / "r.html", config={"x": "<i>y</i>"}, title="<T>"
    ).read_text()
    assert "<title>&lt;T&gt;</title>" in html
    assert "&lt;i&gt;y&lt;/i&gt;" in html and "<i>" not in html


@pytest.mark.parametrize(
    "value, expected",
    [
        (0.951234, "0.9512"),
        (0.95, "0.95"),
        (0.0, "0"),
        (1.0, "1"),
        (40.1, "40.1"),
        (999.94, "999.9"),
        (123456.7, "123,457"),
        (2.5e-05, "2.5e-05"),
        (-0.123456, "-0.1235"),
        (12, "12"),
        (12345, "12,345"),
        (True, "yes"),
        (float("nan"), "n/a"),
        (float("inf"), "∞"),
    ],
)
def test_format_number(value, expected):
    assert tables.format_number(value) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        ({"value": 0.951234, "ci95": [0.93, 0.97]}, "0.9512 [0.93, 0.97]"),
        ({"value": 0.5}, "0.5"),
        ([0.1234567, 2], "[0.1235, 2]"),
        (list(range(13)), "13 values"),
        ({"a": 1, "b": "x"}, "a: 1, b: x"),
        (None, "–"),
        ("text", "text"),
    ],
)
def test_format_value(value, expected):
    assert tables.format_value(value) == expected


def test_invalid_input(tmp_path):
    with pytest.raises(ValueError, match="`dataset_dirs`"):
        report.render_report([], tmp_path / "r.html")
    directory = make_results(tmp_path, metrics=None, with_plots=False)
    (directory / "metrics.json").write_text("{not json")
    with pytest.raises(ValueError, match="valid JSON"):
        report.render_report([directory], tmp_path / "r.html")
    (directory / "metrics.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        report.render_report([directory], tmp_path / "r.html")
    assert not (tmp_path / "r.html").exists()


def test_peers_that_were_not_run_are_rows_that_say_why(tmp_path):
    not_run = {"method": "rdp", "split": "test", "not_run": "rdp-classifier not installed", "tool": "rdp-classifier",
               "install": "apt-get install rdp-classifier"}
    metrics = {**METRICS, "baselines": {**METRICS["baselines"], "rdp": not_run}}
    html = report.render_report([make_results(tmp_path, metrics=metrics)], tmp_path / "r.html").read_text()
    table = html[html.index("Comparison with baselines") :]
    table = table[: table.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
    cells = [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, flags=re.S) for row in rows]
    assert [row[0] for row in cells] == ["Method", "seqxent model", "kmer_logreg", "majority", "rdp"]
    assert cells[-1][-1] == "not run: rdp-classifier not installed" and cells[2][-1] == "ran"
    assert "apt-get install" not in table  # the reason only; the install hint is in the log and metrics.json
