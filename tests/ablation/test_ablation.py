import json

import numpy as np
import pandas as pd
import pytest

from seqxent.ablation.summary import (
    METRICS,
    ablation_document,
    distillation_summary,
    format_mean_sd,
    parse_run_path,
    summarise,
)
from seqxent.cli import create_parser, main
from seqxent.commands import ablation as ablation_command
from seqxent.data.dataset import write_dataset
from seqxent.errors import InputError
from seqxent.report.html import render_report


@pytest.mark.parametrize("path", ["metrics.json", "ce/metrics.json", "ce/seedx/metrics.json", "seed1/metrics.json"])
def test_parse_run_path_rejects_other_layouts(path):
    with pytest.raises(InputError, match="Expected argument `metrics` to be a path .../<variant>/seed<N>"):
        parse_run_path(path)


def test_summarise_matches_numpy_mean_and_sample_sd():
    rng = np.random.default_rng(0)
    runs = pd.DataFrame({"variant": ["b", "a", "b", "a", "b", "c"], "seed": [1, 1, 2, 2, 3, 1],
                         "accuracy": rng.random(6), "ece_after": [0.1, None, 0.3, 0.2, 0.2, 0.5]})
    summary = summarise(runs).set_index("variant")
    assert summary.index.tolist() == ["b", "a", "c"] and summary["seeds"].tolist() == ["1,2,3", "1,2", "1"]
    for variant in "ab":
        values = runs.loc[runs["variant"] == variant, "accuracy"].to_numpy()
        assert summary.loc[variant, "accuracy_mean"] == pytest.approx(values.mean())
        assert summary.loc[variant, "accuracy_sd"] == pytest.approx(values.std(ddof=1))
    assert summary.loc["a", "ece_after_mean"] == 0.2 and np.isnan(summary.loc["a", "ece_after_sd"])  # None skipped
    assert np.isnan(summary.loc["c", "accuracy_sd"])  # one seed: no sd


def test_format_mean_sd_uses_the_metric_format():
    assert format_mean_sd(1234.4, 10.6, METRICS["parameters"][2]) == "1234 ± 11"


def _runs(tmp_path) -> pd.DataFrame:
    rows = []
    for variant, params, acc, settings in (("ce", 1000, 0.9, {}), ("small", 100, 0.8, {"channels": 4}),
                                           ("distill", 100, 0.85, {"channels": 4})):
        for seed in (1, 2):
            directory = tmp_path / variant / f"seed{seed}"
            if variant == "distill":
                settings = {"channels": 4, "teacher": str(tmp_path / "ce" / f"seed{seed}" / "model_raw.pt")}
            rows.append({"variant": variant, "seed": seed, "accuracy": acc + seed / 100, "parameters": params,
                         "records_per_second": 10_000 / params, "settings": {"seed": seed, "lr": 0.1, **settings},
                         "directory": str(directory), "dataset": "toy", "task": "sequence"})
    return pd.DataFrame(rows)


def test_distillation_summary_finds_teacher_and_same_size_model(tmp_path):
    runs = _runs(tmp_path)
    out = distillation_summary(runs, summarise(runs))
    assert list(out) == ["teacher (ce)", "student (distill)", "same size, no teacher (small)"]
    assert out["teacher (ce)"]["Parameters"] == "1000 ± 0"
    assert out["student (distill)"]["Accuracy"] == "0.8650 ± 0.0071"
    assert out["student (distill)"]["Records per second"] == "100 ± 0"


def test_ablation_document_lists_varied_settings_and_is_json(tmp_path):
    runs = _runs(tmp_path)
    document = ablation_document(runs, summarise(runs))
    assert document["settings"]["ce"] == {"(reference)": True}
    assert document["settings"]["small"] == {"channels": 4}
    assert document["settings"]["distill"] == {"channels": 4, "teacher": "variant ce"}
    assert document["summary"]["Accuracy"] == {"ce": "0.9150 ± 0.0071", "small": "0.8150 ± 0.0071",
                                               "distill": "0.8650 ± 0.0071"}
    assert document["mean"]["accuracy"]["ce"] == pytest.approx(0.915)
    assert document["per_run"]["accuracy"]["small/seed2"] == pytest.approx(0.82)
    json.dumps(document, allow_nan=False)


def _toy_dataset(path, n=72):
    rng = np.random.default_rng(4)
    rows = []
    for i in range(n):
        label = "aab"[i % 3]  # class b is the minority
        seq = "".join(rng.choice(list("AAAC" if label == "a" else "GGGT"), size=24))
        split = "train" if i < 48 else "valid" if i < 60 else "test"
        rows.append({"id": f"r{i}", "sequence": seq, "label": label, "group": i, "split": split, "reason": ""})
    write_dataset(pd.DataFrame(rows), path, {"name": "toy", "task": "sequence", "alphabet": "dna",
                                             "label_column": "label"})


TINY = ["--epochs", "2", "--batch-size", "8", "--kernel-size", "3", "--layers", "1", "--dropout", "0.0",
        "--device", "cpu", "--threads", "1"]


def test_mini_ablation_through_the_commands(tmp_path):
    """Train, calibrate, evaluate two variants with two seeds (one distilled), then summarise and render."""
    dataset = tmp_path / "dataset.tsv.gz"
    _toy_dataset(dataset)
    variants = {"ce": ["--channels", "8"], "distill": ["--channels", "4", "--distill-alpha", "0.5"]}
    metrics = []
    for variant, flags in variants.items():
        for seed in (1, 2):
            run = tmp_path / "ablation" / variant / f"seed{seed}"
            teacher = ["--teacher", str(tmp_path / "ablation" / "ce" / f"seed{seed}" / "model_raw.pt")]
            assert main(["train", "--dataset", str(dataset), "--output", str(run / "model_raw.pt"), "--seed",
                         str(seed), "--state", str(run / "train_state.pt"), *TINY, *flags,
                         *(teacher if variant == "distill" else [])]) == 0
            assert not (run / "train_state.pt").exists()
            assert main(["calibrate", "--model", str(run / "model_raw.pt"), "--dataset", str(dataset), "--output",
                         str(run / "model.pt"), "--threads", "1"]) == 0
            assert main(["evaluate", "--model", str(run / "model.pt"), "--dataset", str(dataset), "--output",
                         str(run / "metrics.json"), "--bootstrap", "5", "--threads", "1"]) == 0
            metrics.append(str(run / "metrics.json"))
    document = json.loads((tmp_path / "ablation" / "ce" / "seed1" / "metrics.json").read_text())
    assert document["minority"]["classes"] == ["b"]
    assert document["metrics"]["minority_recall"] == document["per_class"]["b"]["recall"]
    out = tmp_path / "ablation"
    assert main(["ablation", *metrics, "--dataset", str(dataset), "--output", str(out / "ablation.tsv"),
                 "--json", str(out / "ablation.json"), "--plot", str(out / "plots" / "ablation.png")]) == 0
    table = pd.read_csv(out / "ablation.tsv", sep="\t")
    assert table["variant"].tolist() == ["ce", "distill"] and (table["n_runs"] == 2).all()
    for key in ("accuracy", "balanced_accuracy", "minority_recall", "nll_before", "nll_after", "ece_before",
                "ece_after", "records_per_second", "train_seconds", "parameters"):
        assert {f"{key}_mean", f"{key}_sd"} <= set(table.columns) and table[f"{key}_mean"].notna().all(), key
    ablation = json.loads((out / "ablation.json").read_text())
    roles = ablation["distillation"]
    assert list(roles) == ["teacher (ce)", "student (distill)"]
    sizes = [int(roles[role]["Parameters"].split()[0]) for role in roles]
    assert sizes[0] > sizes[1]
    html = render_report([out], tmp_path / "report.html").read_text()
    assert "ablation: toy" in html and "ECE after T" in html and "Teacher (ce)" in html
    assert (out / "plots" / "ablation.png").stat().st_size > 0 and "data:image/png;base64" in html


def test_ablation_command_rejects_repeated_runs(tmp_path):
    path = tmp_path / "ce" / "seed1" / "metrics.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"dataset": "toy", "task": "sequence", "metrics": {"accuracy": 0.5}}))
    args = ["ablation", str(path), str(path), "--output", str(tmp_path / "a.tsv"), "--json", str(tmp_path / "a.json")]
    with pytest.raises(InputError, match="one metrics.json per variant and seed, but got 1 repeated"):
        ablation_command.run(create_parser().parse_args(args))
