"""The lineage figures: over- vs misclassification by cut-off, and reliability per rank; write_plots draws them."""

from pathlib import Path

import numpy as np
import pytest

from seqxent.evaluate import plots
from seqxent.evaluate.split import write_plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CUTOFFS = [0.0, 0.5, 0.9, 1.0]
# None where a rate is undefined: no novel record (overclassification) or no known record (misclassification).
RATES_BY_CUTOFF = {
    "domain": {"cutoff": CUTOFFS, "misclassification_rate": [0.0, 0.0, 0.0, 0.0],
               "overclassification_rate": [None, None, None, None], "underclassification_rate": [0.0, 0.0, 0.0, 1.0]},
    "family": {"cutoff": CUTOFFS, "misclassification_rate": [0.1, 0.05, 0.02, 0.0],
               "overclassification_rate": [0.3, 0.2, 0.1, 0.0], "underclassification_rate": [0.0, 0.1, 0.3, 1.0]},
    "genus": {"cutoff": CUTOFFS, "misclassification_rate": [0.2, 0.1, None, 0.0],
              "overclassification_rate": [0.5, 0.3, 0.2, 0.0], "underclassification_rate": [0.0, 0.2, None, 1.0]},
}
BINS = {"bin_confidence": [0.1, None, 0.6, 0.95], "bin_accuracy": [0.0, None, 0.5, 0.9],
        "bin_count": [2, 0, 4, 30]}
PER_RANK_CALIBRATION = {
    "domain": {"ece": 0.01, "ece_before": 0.2, "bins_after": {**BINS, "bin_accuracy": [0.1, None, 0.6, 1.0]},
               "bins_before": BINS},
    "family": {"ece": 0.0312, "ece_before": 0.05, "bins_after": BINS, "bins_before": None},
    "genus": {"ece": None, "bins_after": {"bin_confidence": [None] * 4, "bin_accuracy": [None] * 4,
                                          "bin_count": [0, 0, 0, 0]}},
    "species": {"ece": 0.5},  # a rank without bins: an empty panel
}


def _capture(monkeypatch) -> dict:
    saved = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path: saved.setdefault("fig", fig) and Path(path))
    return saved


@pytest.mark.parametrize("draw", [
    lambda path: plots.plot_over_vs_misclassification(RATES_BY_CUTOFF, path, cutoff=0.5),
    lambda path: plots.plot_over_vs_misclassification({"domain": RATES_BY_CUTOFF["domain"]}, path, cutoff=0.9),
    lambda path: plots.plot_rank_reliability(PER_RANK_CALIBRATION, path),
    lambda path: plots.plot_rank_reliability({"genus": PER_RANK_CALIBRATION["family"]}, path),
], ids=["over-vs-mis", "over-vs-mis-nothing-defined", "reliability-per-rank", "reliability-one-rank"])
def test_lineage_png_is_written_non_empty_and_deterministic(tmp_path, draw):
    first, second = draw(tmp_path / "a" / "plot.png"), draw(tmp_path / "b" / "plot.png")
    assert first == tmp_path / "a" / "plot.png"
    data = first.read_bytes()
    assert data.startswith(PNG_MAGIC) and len(data) > 5000
    assert data == second.read_bytes()
    assert sorted(p.name for p in first.parent.iterdir()) == ["plot.png"]  # no temporary file left


def test_over_vs_misclassification_skips_undefined_points_and_ranks(tmp_path, monkeypatch):
    saved = _capture(monkeypatch)
    plots.plot_over_vs_misclassification(RATES_BY_CUTOFF, tmp_path / "c.png", cutoff=0.5)
    (ax,) = saved["fig"].axes
    curves = {line.get_label(): line for line in ax.lines if not line.get_label().startswith("_")}
    assert set(curves) == {"family", "genus", "cut-off 0.50"}  # domain has no overclassification rate
    np.testing.assert_allclose(curves["genus"].get_xdata(), [0.5, 0.3, 0.0])  # the cut-off 0.9 (None) is skipped
    np.testing.assert_allclose(curves["genus"].get_ydata(), [0.2, 0.1, 0.0])
    circles = [line for line in ax.lines if line.get_label().startswith("_") and line.get_marker() == "o"]
    assert sorted((float(c.get_xdata()[0]), float(c.get_ydata()[0])) for c in circles) == [(0.2, 0.05), (0.3, 0.1)]


def test_chosen_cutoff_between_the_curve_s_cutoffs_is_marked_where_measured(tmp_path, monkeypatch):
    saved = _capture(monkeypatch)
    at_cutoff = {"family": {"overclassification_rate": 0.25, "misclassification_rate": 0.07},
                 "genus": {"overclassification_rate": None, "misclassification_rate": 0.1}}
    plots.plot_over_vs_misclassification(RATES_BY_CUTOFF, tmp_path / "c.png", cutoff=0.93, at_cutoff=at_cutoff)
    (ax,) = saved["fig"].axes
    circles = [line for line in ax.lines if line.get_label().startswith("_") and line.get_marker() == "o"]
    # family at its measured point; genus has no measured point and 0.93 is none of the curve's cut-offs
    assert [(float(c.get_xdata()[0]), float(c.get_ydata()[0])) for c in circles] == [(0.25, 0.07)]
    assert "0.93" in ax.get_title()


def test_rank_reliability_has_one_panel_per_rank_with_ece_in_title(tmp_path, monkeypatch):
    saved = _capture(monkeypatch)
    plots.plot_rank_reliability(PER_RANK_CALIBRATION, tmp_path / "r.png")
    axes = saved["fig"].axes
    assert len(axes) == 6  # 4 ranks on a 2 x 3 grid
    assert [ax.get_title() for ax in axes[:4]] == ["domain (ECE = 0.0100)", "family (ECE = 0.0312)", "genus",
                                                  "species (ECE = 0.5000)"]
    assert [ax.axison for ax in axes] == [True] * 4 + [False] * 2
    after = [line for line in axes[1].lines if line.get_label() == "after scaling"]
    np.testing.assert_allclose(after[0].get_xdata(), [0.1, 0.6, 0.95])  # the empty bin is left out
    assert [line.get_label() for line in axes[0].lines][1:] == ["after scaling", "before scaling"]


@pytest.mark.parametrize("call, match", [
    (lambda p: plots.plot_over_vs_misclassification({}, p), "`rates_by_cutoff`"),
    (lambda p: plots.plot_over_vs_misclassification({"genus": {"cutoff": [0.5]}}, p), "rates_by_cutoff"),
    (lambda p: plots.plot_over_vs_misclassification(
        {"genus": {**RATES_BY_CUTOFF["genus"], "cutoff": [0.5]}}, p), "rates_by_cutoff"),
    (lambda p: plots.plot_rank_reliability({}, p), "`per_rank_calibration`"),
    (lambda p: plots.plot_rank_reliability({"genus": {"bins_after": {**BINS, "bin_count": [1]}}}, p),
     "`bin_count`"),
], ids=["no-ranks", "missing-rates", "length-mismatch", "no-ranks-calibration", "bins-length-mismatch"])
def test_invalid_lineage_arguments(tmp_path, call, match):
    with pytest.raises(ValueError, match=match):
        call(tmp_path / "plot.png")
    assert not list(tmp_path.iterdir())


def _result(**extra) -> dict:
    calibration = {"after": {"ece": 0.01}, "before": {"ece": 0.2}, "bins_after": BINS, "bins_before": BINS}
    return {"confusion": {"kind": "rank family", "classes": ["a", "b"], "matrix": [[3, 1], [0, 2]]},
            "calibration": {**calibration, **extra.pop("calibration", {})}, **extra}


def test_write_plots_adds_the_lineage_figures(tmp_path):
    result = _result(cutoff=0.5, rates_by_cutoff=RATES_BY_CUTOFF, rates_at_cutoff={},
                     calibration={"per_rank": PER_RANK_CALIBRATION})
    names = [path.name for path in write_plots(result, None, tmp_path)]
    assert names == ["confusion.png", "reliability.png", "reliability_before_scaling.png",
                     "over_vs_misclassification.png", "reliability_per_rank.png"]
    assert all((tmp_path / name).stat().st_size > 0 for name in names)


def test_write_plots_of_other_tasks_draw_no_lineage_figure(tmp_path):
    names = [path.name for path in write_plots(_result(), None, tmp_path)]
    assert names == ["confusion.png", "reliability.png", "reliability_before_scaling.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)
