import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from seqxent.evaluate.decisions import (
    action_risk,
    bayes_action,
    binary_threshold,
    cost_matrix_from_config,
    decision_summary,
    expected_cost,
)


def _random_probs(rng, n, k):
    return rng.dirichlet(np.full(k, 0.5), size=n)


def _slow_bayes_action(probs, cost):
    actions = []
    for p in probs:
        risks = [sum(cost[a][j] * p[j] for j in range(len(p))) for a in range(len(cost))]
        actions.append(min(range(len(cost)), key=lambda a, risks=risks: risks[a]))
    return actions


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("k", [2, 3, 7])
def test_bayes_action_under_zero_one_cost_is_argmax(seed, k):
    probs = _random_probs(np.random.default_rng(seed), 200, k)
    np.testing.assert_array_equal(bayes_action(probs, 1 - np.eye(k)), probs.argmax(axis=1))


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize(("k_actions", "k"), [(2, 2), (4, 3), (3, 5)])
def test_bayes_action_matches_slow_loop(seed, k_actions, k):
    rng = np.random.default_rng(seed)
    probs, cost = _random_probs(rng, 50, k), rng.uniform(0, 10, size=(k_actions, k))
    assert bayes_action(probs, cost).tolist() == _slow_bayes_action(probs.tolist(), cost.tolist())
    expected_risk = [[sum(c * p for c, p in zip(row, pr, strict=True)) for row in cost] for pr in probs]
    np.testing.assert_allclose(action_risk(probs, cost), expected_risk, rtol=1e-12)


def test_bayes_action_with_abstain_action():
    # Actions: call class 0, call class 1, or abstain at a flat cost of 0.3 whatever the truth.
    cost = [[0.0, 1.0], [1.0, 0.0], [0.3, 0.3]]
    assert bayes_action([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8]], cost).tolist() == [0, 2, 1]


def test_bayes_action_ties_go_to_lowest_index():
    assert bayes_action([[0.5, 0.5]], 1 - np.eye(2)).tolist() == [0]


@pytest.mark.parametrize(("c_fp", "c_fn"), [(1.0, 1.0), (1.0, 9.0), (5.0, 1.0), (0.0, 1.0), (2.0, 0.0)])
def test_binary_case_agrees_with_threshold_rule(c_fp, c_fn):
    t = binary_threshold(c_fp, c_fn)
    p_pos = np.linspace(0.0, 1.0, 1001)
    p_pos = p_pos[np.abs(p_pos - t) > 1e-9]  # at p == t both actions cost the same (checked below)
    probs = np.stack([1 - p_pos, p_pos], axis=1)
    # Rows: action (0 = call negative, 1 = call positive); columns: true class.
    cost = [[0.0, c_fn], [c_fp, 0.0]]
    np.testing.assert_array_equal(bayes_action(probs, cost), (p_pos >= t).astype(int))


@pytest.mark.parametrize(("c_fp", "c_fn"), [(1.0, 1.0), (1.0, 3.0), (3.0, 1.0)])
def test_binary_threshold_is_indifference_point(c_fp, c_fn):
    t = binary_threshold(c_fp, c_fn)
    risk = action_risk([[1 - t, t]], [[0.0, c_fn], [c_fp, 0.0]])
    assert risk[0, 0] == pytest.approx(risk[0, 1], rel=1e-12)


@pytest.mark.parametrize(("c_fp", "c_fn", "expected"), [(1.0, 1.0, 0.5), (1.0, 3.0, 0.25), (3.0, 0.0, 1.0)])
def test_binary_threshold_exact_values(c_fp, c_fn, expected):
    assert binary_threshold(c_fp, c_fn) == expected


@pytest.mark.parametrize(
    ("c_fp", "c_fn"), [(-1.0, 1.0), (1.0, float("nan")), (0.0, 0.0), (float("inf"), 1.0)]
)
def test_binary_threshold_rejects_invalid_costs(c_fp, c_fn):
    with pytest.raises(ValueError, match="Expected"):
        binary_threshold(c_fp, c_fn)


@settings(max_examples=100, deadline=None)
@given(
    k=st.integers(1, 5),
    n=st.integers(1, 20),
    seed=st.integers(0, 2**32 - 1),
    cost_flat=arrays(np.float64, 25, elements=st.floats(0, 100)),
)
def test_bayes_action_never_worse_than_argmax_under_model_probabilities(k, n, seed, cost_flat):
    probs = _random_probs(np.random.default_rng(seed), n, k)
    cost = cost_flat[: k * k].reshape(k, k)
    risk = action_risk(probs, cost)
    rows = np.arange(n)
    bayes_risk = risk[rows, bayes_action(probs, cost)]
    argmax_risk = risk[rows, probs.argmax(axis=1)]
    assert (bayes_risk <= argmax_risk).all()  # per item, hence also in the mean


def test_expected_cost_matches_slow_loop():
    rng = np.random.default_rng(4)
    cost = rng.uniform(0, 5, size=(3, 4))
    actions, target = rng.integers(0, 3, 40), rng.integers(0, 4, 40)
    slow = sum(cost[a][y] for a, y in zip(actions, target, strict=True)) / 40
    assert expected_cost(actions, target, cost) == pytest.approx(slow, rel=1e-12)


def test_expected_cost_exact_value():
    assert expected_cost([0, 1, 1, 0], [0, 0, 1, 1], [[0.0, 4.0], [2.0, 0.0]]) == 1.5


@pytest.mark.parametrize(
    ("actions", "target", "match"),
    [
        pytest.param([], [], "non-zero length", id="empty"),
        pytest.param([0, 1], [0], "same, non-zero length", id="length-mismatch"),
        pytest.param([2], [0], r"`actions` to hold indices in \[0, 2\), but got 2", id="action-out-of-range"),
        pytest.param([0], [-1], r"`target` to hold indices in \[0, 2\), but got -1", id="negative-target"),
        pytest.param([0.5], [0], "integer array", id="float-actions"),
    ],
)
def test_expected_cost_rejects_invalid_input(actions, target, match):
    with pytest.raises(ValueError, match=match):
        expected_cost(actions, target, [[0.0, 1.0], [1.0, 0.0]])


@pytest.mark.parametrize(
    ("probs", "cost", "match"),
    [
        pytest.param([[0.5, 0.6]], [[0, 1], [1, 0]], "sum to 1", id="rows-not-summing-to-1"),
        pytest.param([[1.5, -0.5]], [[0, 1], [1, 0]], ">= 0", id="negative-probability"),
        pytest.param([0.5, 0.5], [[0, 1], [1, 0]], r"shape \(N, K\)", id="1-D-probs"),
        pytest.param([[0.5, 0.5]], [[0, 1, 1]], r"shape \(K_actions, 2\)", id="cost-columns"),
        pytest.param([[0.5, 0.5]], [[0, np.nan], [1, 0]], "finite", id="nan-cost"),
    ],
)
def test_bayes_action_rejects_invalid_input(probs, cost, match):
    with pytest.raises(ValueError, match=match):
        bayes_action(probs, cost)


def test_bayes_action_accepts_float32_softmax_rows():
    probs = np.array([[0.1, 0.2, 0.7]], dtype=np.float32) * np.float32(1.00001)
    assert bayes_action(probs, 1 - np.eye(3)).tolist() == [2]


def test_cost_matrix_defaults_to_zero_one():
    np.testing.assert_array_equal(cost_matrix_from_config(["a", "b", "c"]), 1 - np.eye(3))


def test_cost_matrix_from_per_class_costs():
    cost = cost_matrix_from_config(["a", "b", "c"], fn_cost={"b": 4.0}, fp_cost={"a": 2.0, "c": 0.0})
    # C[k, j] = fn[j] + fp[k] off the diagonal; fn = (0.5, 4, 0.5), fp = (2, 0.5, 0).
    expected = [[0.0, 6.0, 2.5], [1.0, 0.0, 1.0], [0.5, 4.0, 0.0]]
    assert cost.tolist() == expected


def test_cost_matrix_from_full_matrix():
    matrix = [[0, 1, 2], [3, 0, 4], [5, 6, 0]]
    cost = cost_matrix_from_config(["a", "b", "c"], matrix=matrix)
    assert cost.dtype == np.float64 and cost.tolist() == matrix


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        pytest.param({"matrix": [[0, 1], [1, 0]]}, r"shape \(3, 3\), but got \(2, 2\)", id="wrong-shape"),
        pytest.param({"matrix": [[0, 1, 1], [1, 0], [1, 1, 0]]}, "rectangular", id="ragged"),
        pytest.param({"matrix": [[0, -1, 1], [1, 0, 1], [1, 1, 0]]}, "finite costs >= 0", id="negative"),
        pytest.param({"matrix": [[1, 1, 1], [1, 0, 1], [1, 1, 0]]}, "0 on the diagonal", id="diagonal"),
        pytest.param({"matrix": 1 - np.eye(3), "fn_cost": {"a": 1.0}}, "but got both", id="both-modes"),
        pytest.param({"fn_cost": {"d": 1.0}}, r"unknown \['d'\]", id="unknown-class"),
        pytest.param({"fp_cost": {"a": -2.0}}, "`fp_cost` to hold finite costs >= 0", id="negative-fp"),
    ],
)
def test_cost_matrix_from_config_rejects_invalid_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        cost_matrix_from_config(["a", "b", "c"], **kwargs)


@pytest.mark.parametrize("classes", [[], ["a", "a"]])
def test_cost_matrix_from_config_rejects_invalid_classes(classes):
    with pytest.raises(ValueError, match="argument `classes`"):
        cost_matrix_from_config(classes)


# --- decision_summary --------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("config", [{"fn_cost": {"c1": 9.5}}, {"fp_cost": {"c0": 3.0, "c2": 0.0}},
                                    {"cost_matrix": [[0, 1, 5], [2, 0, 1], [1, 8, 0]]}, {}])
def test_decision_summary_matches_slow_loop(seed, config):
    rng = np.random.default_rng(seed)
    probs, target, classes = _random_probs(rng, 60, 3), rng.integers(0, 3, 60), ["c0", "c1", "c2"]
    cost = cost_matrix_from_config(classes, config.get("cost_matrix"), config.get("fn_cost"), config.get("fp_cost"))
    bayes = _slow_bayes_action(probs, cost.tolist())
    top = [int(np.argmax(p)) for p in probs]
    out = decision_summary(probs, target, classes, config)
    assert out["expected_cost_bayes"] == pytest.approx(sum(cost[a, t] for a, t in zip(bayes, target, strict=True)) / 60)
    assert out["expected_cost_argmax"] == pytest.approx(sum(cost[a, t] for a, t in zip(top, target, strict=True)) / 60)
    assert out["cost_saved"] == pytest.approx(out["expected_cost_argmax"] - out["expected_cost_bayes"])
    assert out["changed_decisions"] == sum(a != b for a, b in zip(bayes, top, strict=True))
    assert out["accuracy_bayes"] == pytest.approx(np.mean(np.array(bayes) == target))
    assert out["accuracy_argmax"] == pytest.approx(np.mean(np.array(top) == target))
    assert out["n_items"] == 60 and "binary_threshold" not in out
    if not config:  # the 0-1 cost: the Bayes action is the arg-max
        assert out["changed_decisions"] == 0 and out["expected_cost_bayes"] == pytest.approx(1 - out["accuracy_argmax"])


def test_decision_summary_binary_exact():
    # C_FN = cost[0, 1] = 0.5 + 4.5 = 5, C_FP = cost[1, 0] = 1: call "pos" from p >= 1/6.
    probs, target = [[0.7, 0.3], [0.9, 0.1], [0.2, 0.8], [0.85, 0.15]], [1, 0, 1, 0]
    out = decision_summary(probs, target, ["neg", "pos"], {"fn_cost": {"pos": 4.5}})
    assert (out["positive_class"], out["binary_threshold"]) == ("pos", pytest.approx(1 / 6))
    assert out["expected_cost_argmax"] == 5 / 4 and out["expected_cost_bayes"] == 0.0
    assert out["changed_decisions"] == 1 and out["accuracy_bayes"] == 1.0 and out["accuracy_argmax"] == 0.75


def test_decision_summary_binary_threshold_none_without_costs():
    out = decision_summary([[0.5, 0.5]], [0], ["a", "b"], {"cost_matrix": [[0, 0], [0, 0]]})
    assert out["binary_threshold"] is None and out["expected_cost_bayes"] == 0.0


@pytest.mark.parametrize(("config", "match"), [
    ({"fn_cost": {"zz": 1.0}}, "unknown"),
    ({"cost_matrix": [[0, 1], [1, 0]], "fn_cost": {"a": 1.0}}, "but got both"),
    ({"cost_matrix": [[0, 1], [1, 0]]}, "shape"),
])
def test_decision_summary_rejects_bad_config(config, match):
    with pytest.raises(ValueError, match=match):
        decision_summary([[0.2, 0.3, 0.5]], [2], ["a", "b", "c"], config)
