from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from seqxent.evaluate import plots

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CLASSES = ["Osmia bicornis", "<b>x</b>", "a$b$c"]  # HTML and mathtext look-alikes must not break drawing
MATRIX = [[10, 1, 0], [2, 8, 0], [0, 0, 12]]
HISTORY = pd.DataFrame(
    {
        "epoch": [1, 2, 3],
        "train_loss": [1.2, 0.8, 0.6],
        "train_ce": [1.1, 0.7, 0.55],
        "train_jsd": [0.1, 0.1, 0.05],
        "valid_ce": [1.0, 0.7, 0.75],
        "valid_accuracy": [0.5, 0.8, 0.78],
    }
)


def draw_confusion(path):
    return plots.plot_confusion(MATRIX, CLASSES, path)


def draw_confusion_counts(path):
    return plots.plot_confusion(MATRIX, CLASSES, path, normalize=False)


def draw_confusion_truncated(path):
    rng = np.random.default_rng(0)
    return plots.plot_confusion(
        rng.integers(0, 9, (12, 12)), [f"c{i}" for i in range(12)], path, max_classes=5
    )


def draw_learning_curves(path):
    return plots.plot_learning_curves(HISTORY, path)


def draw_learning_curves_without_jsd(path):
    return plots.plot_learning_curves(HISTORY.drop(columns="train_jsd"), path)


def draw_learning_curves_of_an_ensemble(path):
    return plots.plot_learning_curves(pd.concat([HISTORY.assign(member=1), HISTORY.assign(member=2)]), path)


def draw_reliability(path):
    return plots.plot_reliability(
        [0.15, 0.35, np.nan, 0.9], [0.1, 0.4, np.nan, 0.95], [3, 5, 0, 40], path, ece=0.03
    )


DRAWERS = [
    draw_confusion,
    draw_confusion_counts,
    draw_confusion_truncated,
    draw_learning_curves,
    draw_learning_curves_without_jsd,
    draw_learning_curves_of_an_ensemble,
    draw_reliability,
]


@pytest.mark.parametrize("draw", DRAWERS)
def test_png_is_valid_and_deterministic(tmp_path, draw):
    first = draw(tmp_path / "a" / "plot.png")
    second = draw(tmp_path / "b" / "plot.png")
    assert first == tmp_path / "a" / "plot.png"
    data = first.read_bytes()
    assert data.startswith(PNG_MAGIC)
    assert data == second.read_bytes()
    assert b"matplotlib" not in data.lower()  # no "Software" text chunk
    assert sorted(p.name for p in first.parent.iterdir()) == ["plot.png"]  # no temporary file left


@pytest.mark.parametrize("suffix, magic", [(".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_other_formats_are_deterministic(tmp_path, suffix, magic):
    first = draw_reliability(tmp_path / f"a{suffix}").read_bytes()
    second = draw_reliability(tmp_path / f"b{suffix}").read_bytes()
    assert first.startswith(magic)
    assert first == second


def test_overwrites_existing_file(tmp_path):
    path = tmp_path / "plot.png"
    path.write_bytes(b"old")
    draw_confusion(path)
    assert path.read_bytes().startswith(PNG_MAGIC)


def test_select_confusion_normalizes_over_full_rows_and_keeps_most_frequent():
    matrix = np.array([[1, 1, 2], [0, 0, 0], [5, 0, 5]], dtype=float)
    values, names, title = plots._select_confusion(matrix, ["a", "b", "c"], normalize=True, max_classes=2)
    # Supports are 4, 0, 10: keep a and c in their original order; rows divide by the full row total.
    assert names == ["a", "c"]
    np.testing.assert_allclose(values, [[0.25, 0.5], [0.5, 0.5]])
    assert "2 most frequent of 3 classes" in title


def test_select_confusion_empty_row_is_zero_and_counts_are_kept():
    matrix = np.array([[0, 0], [3, 1]], dtype=float)
    normalized, _, _ = plots._select_confusion(matrix, ["a", "b"], normalize=True, max_classes=40)
    counts, names, title = plots._select_confusion(matrix, ["a", "b"], normalize=False, max_classes=40)
    np.testing.assert_allclose(normalized, [[0.0, 0.0], [0.75, 0.25]])
    np.testing.assert_array_equal(counts, matrix)
    assert names == ["a", "b"]
    assert "most frequent" not in title


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda p: plots.plot_confusion([[1, 2]], ["a"], p), "`matrix`"),
        (lambda p: plots.plot_confusion([[1, 0], [0, 1]], ["a"], p), "`matrix`"),
        (lambda p: plots.plot_confusion([[-1]], ["a"], p), "`matrix`"),
        (lambda p: plots.plot_confusion([[1]], ["a"], p, max_classes=0), "`max_classes`"),
        (lambda p: plots.plot_learning_curves(HISTORY.drop(columns="epoch"), p), "`history`"),
        (lambda p: plots.plot_learning_curves(HISTORY.iloc[:0], p), "`history`"),
        (lambda p: plots.plot_reliability([0.5], [0.5, 0.6], [1], p), "`bin_count`"),
        (lambda p: plots.plot_reliability([], [], [], p), "`bin_count`"),
        (lambda p: plots.plot_confusion([[1]], ["a"], p.with_suffix(".jpg")), "`path`"),
    ],
    ids=[
        "not-square",
        "size-mismatch",
        "negative",
        "max-classes-0",
        "no-epoch",
        "no-rows",
        "length-mismatch",
        "no-bins",
        "bad-suffix",
    ],
)
def test_invalid_arguments(tmp_path, call, match):
    with pytest.raises(ValueError, match=match):
        call(tmp_path / "plot.png")
    assert not list(tmp_path.iterdir())


def test_ensemble_learning_curves_draw_one_line_per_member_and_column(tmp_path, monkeypatch):
    saved = {}
    monkeypatch.setattr(plots, "_save", lambda fig, path: saved.setdefault("fig", fig) and Path(path))
    plots.plot_learning_curves(pd.concat([HISTORY.assign(member=m) for m in (1, 2, 3)]), tmp_path / "c.png")
    ax_loss, ax_acc = saved["fig"].axes
    columns = [c for c in ("train_loss", "train_ce", "train_jsd", "valid_ce") if c in HISTORY.columns]
    assert len(ax_loss.lines) == 3 * len(columns) and len(ax_acc.lines) == 3
    assert [t.get_text() for t in ax_loss.get_legend().get_texts()] == columns  # one legend entry per column
    assert ax_loss.get_title() == "Loss (3 members)"
