"""Tests of seqxent.calibrate.temperature: the one temperature fitter, for softmax and sigmoid outputs."""

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar

from seqxent.calibrate.temperature import (
    MAX_TEMPERATURE,
    MIN_TEMPERATURE,
    fit_temperature,
    temperature_nll,
)

# --- softmax -------------------------------------------------------------------------------------------------


def _calibrated_sample(n: int, n_classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits z and labels drawn from softmax(z): T = 1 is the true temperature."""
    gen = torch.Generator().manual_seed(seed)
    logits = 2.0 * torch.randn(n, n_classes, generator=gen, dtype=torch.float64)
    target = torch.multinomial(torch.softmax(logits, dim=1), 1, generator=gen).squeeze(1)
    return logits, target


def _slow_nll(logits: torch.Tensor, target: torch.Tensor, temperature: float) -> float:
    total, n = 0.0, 0
    for row, y in zip(logits.tolist(), target.tolist(), strict=True):
        if y == -100:
            continue
        scaled = [v / temperature for v in row]
        top = max(scaled)
        total += top + math.log(sum(math.exp(v - top) for v in scaled)) - scaled[y]
        n += 1
    return total / n


@pytest.mark.parametrize("true_temperature", [0.5, 2.0, 4.0])
@pytest.mark.parametrize("n_classes", [2, 5])
def test_fit_temperature_recovers_known_temperature(true_temperature, n_classes):
    logits, target = _calibrated_sample(20_000, n_classes, seed=7)
    fitted = fit_temperature(logits * true_temperature, target)
    assert fitted == pytest.approx(true_temperature, rel=0.05)


def test_fit_temperature_matches_closed_form():
    # 3 of 4 items right with margin 2: the NLL is minimised where sigmoid(2 / T) = 3/4, i.e. T = 2 / ln 3.
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [0.0, 2.0]])
    fitted = fit_temperature(logits, torch.tensor([0, 1, 0, 0]))
    assert fitted == pytest.approx(2.0 / math.log(3.0), rel=1e-6)


@pytest.mark.parametrize("prior_sd", [0.25, 1.0, 3.0])
@pytest.mark.parametrize("seed", [0, 1])
def test_fit_temperature_with_a_prior_matches_a_grid_search(prior_sd, seed):
    # Few items, all but one right: the prior pulls T from the plain fit towards 1.
    gen = torch.Generator().manual_seed(seed)
    logits = 4.0 * torch.randn(30, 4, generator=gen, dtype=torch.float64)
    target = logits.argmax(dim=1)
    target[0] = (target[0] + 1) % 4  # one error
    fitted = fit_temperature(logits, target, prior_sd=prior_sd)
    grid = np.linspace(math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE), 20_001)
    objective = [30 * _slow_nll(logits, target, math.exp(u)) + u * u / (2 * prior_sd**2) for u in grid[::20]]
    coarse = grid[::20][int(np.argmin(objective))]
    fine = grid[(grid > coarse - 0.01) & (grid < coarse + 0.01)]
    best = fine[int(np.argmin([30 * _slow_nll(logits, target, math.exp(u)) + u * u / (2 * prior_sd**2)
                               for u in fine]))]
    assert math.log(fitted) == pytest.approx(best, abs=1e-3)
    assert temperature_nll(logits, target, fitted) <= temperature_nll(logits, target, 1.0) + 1e-12
    plain = fit_temperature(logits, target)
    assert min(plain, 1.0) <= fitted <= max(plain, 1.0)  # the prior only moves T towards 1


def test_fit_temperature_prior_is_named_when_invalid():
    for bad in (-1.0, float("nan"), "1", True):
        with pytest.raises(ValueError, match="`prior_sd` to be a finite number ≥ 0"):
            fit_temperature(torch.zeros(2, 2), torch.tensor([0, 1]), prior_sd=bad)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        pytest.param([0, 1, 0, 1], MIN_TEMPERATURE, id="all-right-clamps-low"),
        pytest.param([1, 0, 1, 0], MAX_TEMPERATURE, id="all-wrong-clamps-high"),
        pytest.param([0, 1, 1, 0], MAX_TEMPERATURE, id="half-right-uniform-is-best"),
    ],
)
def test_fit_temperature_clamps_to_bounds(target, expected):
    logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [0.0, 2.0]])
    assert fit_temperature(logits, torch.tensor(target)) == expected


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("scale", [0.3, 1.0, 3.0])
def test_fit_temperature_never_increases_nll(seed, scale):
    logits, target = _calibrated_sample(200, 4, seed=seed)
    fitted = fit_temperature(logits * scale, target)
    assert temperature_nll(logits * scale, target, fitted) <= temperature_nll(logits * scale, target, 1.0)


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.integers(-40, 40), min_size=3, max_size=30),
    labels=st.lists(st.integers(0, 2), min_size=1, max_size=10),
)
def test_fit_temperature_never_increases_nll_property(values, labels):
    n = min(len(values) // 3, len(labels))
    if n == 0:
        return
    logits = torch.tensor(values[: 3 * n], dtype=torch.float32).reshape(n, 3) / 4
    target = torch.tensor(labels[:n])
    fitted = fit_temperature(logits, target)
    assert MIN_TEMPERATURE <= fitted <= MAX_TEMPERATURE
    assert temperature_nll(logits, target, fitted) <= temperature_nll(logits, target, 1.0)


def test_fit_temperature_is_deterministic():
    logits, target = _calibrated_sample(500, 3, seed=1)
    assert fit_temperature(logits * 1.7, target) == fit_temperature(logits * 1.7, target)


def test_fit_temperature_ignores_padding_residues():
    # Residue task: (B, C, L) logits with -100 targets at padding positions.
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(2, 3, 5, generator=gen)
    target = torch.tensor([[0, 2, 1, -100, -100], [1, 1, 0, 2, -100]])
    logits[0, :, 3:] = 1e3  # garbage at padding must not matter
    flat_logits = logits.permute(0, 2, 1).reshape(-1, 3)  # (B, C, L) -> (B * L, C)
    flat_target = target.reshape(-1)  # (B, L) -> (B * L,)
    keep = flat_target != -100
    assert fit_temperature(flat_logits, flat_target) == fit_temperature(flat_logits[keep], flat_target[keep])


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.5])
def test_temperature_nll_matches_slow_loop(temperature):
    logits, target = _calibrated_sample(30, 4, seed=2)
    target[::7] = -100
    expected = _slow_nll(logits, target, temperature)
    assert temperature_nll(logits, target, temperature) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(
    ("logits", "target", "error", "match"),
    [
        pytest.param(
            torch.zeros(0, 3), torch.zeros(0, dtype=torch.long), ValueError, "at least one item", id="empty"
        ),
        pytest.param(
            torch.zeros(2, 3), torch.tensor([-100, -100]), ValueError, "at least one item", id="all-padding"
        ),
        pytest.param(
            torch.zeros(2, 3),
            torch.tensor([0, 1, 2]),
            ValueError,
            "same number of items",
            id="length-mismatch",
        ),
        pytest.param(
            torch.zeros(2, 3),
            torch.tensor([0, 3]),
            ValueError,
            r"\[0, 3\), but got 3",
            id="target-out-of-range",
        ),
        pytest.param(
            torch.tensor([[0.0, float("nan")]]), torch.tensor([0]), ValueError, "finite", id="nan-logit"
        ),
        pytest.param(
            torch.zeros(2, 3, 4),
            torch.zeros(2, dtype=torch.long),
            TypeError,
            "2-D float tensor",
            id="channels-first-not-flattened",
        ),
        pytest.param(torch.zeros(2, 3), torch.zeros(2), TypeError, "integer tensor", id="float-target"),
        pytest.param([[0.0, 1.0]], torch.tensor([0]), TypeError, "but got list", id="not-a-tensor"),
    ],
)
def test_fit_temperature_rejects_invalid_input(logits, target, error, match):
    with pytest.raises(error, match=match):
        fit_temperature(logits, target)


@pytest.mark.parametrize("max_iter", [0, -3, 2.5, True])
def test_fit_temperature_rejects_invalid_max_iter(max_iter):
    with pytest.raises(ValueError, match="argument `max_iter`"):
        fit_temperature(torch.zeros(2, 2), torch.tensor([0, 1]), max_iter=max_iter)


# --- sigmoid (multi-label: one temperature shared by all labels) ---------------------------------------------------


def _slow_bce(logits, target, temperature):
    """Mean over records of the summed binary cross-entropy, by explicit loops.

    -y log p - (1 - y) log(1 - p) with p = sigmoid(u), u = z / T, written log(1 + e^-|u|) + max(u, 0) - y u so
    that it does not overflow at small T.
    """
    total = 0.0
    for row, labels in zip(np.asarray(logits).tolist(), np.asarray(target).tolist(), strict=True):
        for z, y in zip(row, labels, strict=True):
            u = z / temperature
            total += math.log1p(math.exp(-abs(u))) + max(u, 0.0) - y * u
    return total / len(logits)


def _multilabel_sample(seed, n=40, k=3):
    rng = np.random.default_rng(seed)
    target = rng.integers(0, 2, size=(n, k)).astype(np.float32)
    logits = (2 * target - 1) * 3.0 + rng.normal(0, 2.5, size=(n, k))  # informative but over-confident
    return torch.from_numpy(logits.astype(np.float32)), torch.from_numpy(target)


def _fit_sigmoid(logits, target, prior_sd=0.0):
    return fit_temperature(logits, target, prior_sd=prior_sd, activation="sigmoid")


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.5])
def test_sigmoid_nll_matches_slow_loop(temperature):
    logits, target = _multilabel_sample(1, n=12)
    expected = _slow_bce(logits.double(), target, temperature)
    assert temperature_nll(logits, target, temperature, activation="sigmoid") == pytest.approx(expected, rel=1e-12)
    assert temperature_nll(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]), activation="sigmoid") == pytest.approx(
        2 * math.log(2), rel=1e-15)


def test_fit_sigmoid_temperature_matches_a_grid_search_and_is_never_worse_than_one():
    logits, target = _multilabel_sample(3)
    fitted = _fit_sigmoid(logits, target)
    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 20001))
    best = grid[np.argmin([_slow_bce(logits.double(), target, t) for t in grid[::10]]) * 10]
    assert fitted == pytest.approx(best, rel=3e-3)
    assert temperature_nll(logits, target, fitted, activation="sigmoid") <= temperature_nll(
        logits, target, 1.0, activation="sigmoid")


@pytest.mark.parametrize("prior_sd", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("seed", range(4))
def test_fit_sigmoid_temperature_agrees_with_a_bounded_brent_search(seed, prior_sd):
    # scipy's bounded Brent search on log T at a tighter tolerance: an independent optimiser of the same objective.
    logits, target = _multilabel_sample(10 + seed, n=30 + 20 * seed, k=1 + seed)

    def objective(log_t):
        nll = temperature_nll(logits, target, math.exp(log_t), activation="sigmoid")
        return nll * len(logits) + log_t * log_t / (2 * prior_sd**2) if prior_sd else nll

    found = minimize_scalar(objective, bounds=(math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE)),
                            method="bounded", options={"xatol": 1e-10})
    assert _fit_sigmoid(logits, target, prior_sd) == pytest.approx(math.exp(found.x), rel=1e-6)


def test_fit_sigmoid_temperature_with_a_prior_matches_a_grid_search():
    logits, target = torch.tensor([[5.0], [-5.0], [4.0]]), torch.tensor([[1.0], [0.0], [1.0]])  # always right
    assert _fit_sigmoid(logits, target) == MIN_TEMPERATURE  # plain fit: as sharp as allowed
    fitted = _fit_sigmoid(logits, target, prior_sd=1.0)
    grid = np.linspace(np.log(0.05), np.log(20), 20001)
    objective = [3 * _slow_bce(logits, target, np.exp(u)) + u * u / 2 for u in grid]
    assert np.log(fitted) == pytest.approx(grid[np.argmin(objective)], abs=1e-3)
    assert 0.05 < fitted < 1.0


@pytest.mark.parametrize(("logits", "target", "expected"), [
    pytest.param([[5.0], [-5.0]], [[1.0], [0.0]], MIN_TEMPERATURE, id="always-right-clamps-low"),
    pytest.param([[5.0], [-5.0]], [[0.0], [1.0]], MAX_TEMPERATURE, id="always-wrong-clamps-high"),
])
def test_fit_sigmoid_temperature_clamps_to_the_bounds(logits, target, expected):
    assert _fit_sigmoid(torch.tensor(logits), torch.tensor(target)) == expected


def test_fit_sigmoid_temperature_closed_form():
    # One label, logit 4 everywhere, 2 of 3 records positive: the best p is 2/3, i.e. 4 / T = ln 2.
    fitted = _fit_sigmoid(torch.full((3, 1), 4.0), torch.tensor([[1.0], [1.0], [0.0]]))
    assert fitted == pytest.approx(4.0 / math.log(2.0), rel=1e-6)


@pytest.mark.parametrize(("logits", "target", "error", "match"), [
    pytest.param(torch.zeros(2, 3), torch.zeros(2, 2), ValueError, r"one shape \(N, C\).* \(2, 3\) and \(2, 2\)",
                 id="shape-mismatch"),
    pytest.param(torch.zeros(0, 3), torch.zeros(0, 3), ValueError, "N, C > 0", id="no-records"),
    pytest.param(torch.zeros(2, 2), torch.tensor([[1.0, 2.0], [0.0, 0.0]]), ValueError, "multi-hot", id="not-0-or-1"),
    pytest.param(torch.zeros(2, 2), [[1.0, 0.0], [0.0, 0.0]], TypeError, "but got list", id="not-a-tensor"),
    pytest.param(torch.tensor([[float("inf")]]), torch.tensor([[1.0]]), ValueError, "finite", id="inf-logit"),
])
def test_fit_sigmoid_temperature_rejects_invalid_input(logits, target, error, match):
    with pytest.raises(error, match=match):
        _fit_sigmoid(logits, target)


def test_fit_temperature_rejects_an_unknown_activation():
    with pytest.raises(ValueError, match="Expected argument `activation` to be one of .*, but got 'tanh'"):
        fit_temperature(torch.zeros(2, 2), torch.tensor([0, 1]), activation="tanh")
