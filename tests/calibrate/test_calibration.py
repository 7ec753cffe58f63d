import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from seqxent.calibrate.temperature import (
    MAX_TEMPERATURE,
    MIN_TEMPERATURE,
    apply_temperature,
    ece_noise_floor,
    fit_temperature,
    temperature_nll,
)


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


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.integers(-800, 800), min_size=1, max_size=40),
    n_classes=st.integers(1, 5),
    temperature=st.floats(MIN_TEMPERATURE, MAX_TEMPERATURE),
)
def test_apply_temperature_keeps_argmax(values, n_classes, temperature):
    n = len(values) // n_classes
    if n == 0:
        return
    # Multiples of 1/8 are exact in float64 and stay far apart after division by T <= 20.
    logits = torch.tensor(values[: n * n_classes], dtype=torch.float64).reshape(n, n_classes) / 8
    scaled = apply_temperature(logits, temperature)
    assert torch.equal(scaled.argmax(dim=1), logits.argmax(dim=1))


def test_apply_temperature_exact_values():
    logits = torch.tensor([[3.0, -1.5, 0.0]])
    assert torch.equal(apply_temperature(logits, 1.5), torch.tensor([[2.0, -1.0, 0.0]]))


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan"), float("inf"), "2", True])
def test_apply_temperature_rejects_invalid_temperature(temperature):
    with pytest.raises(ValueError, match="argument `temperature`.*but got"):
        apply_temperature(torch.zeros(1, 2), temperature)


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


# --- ece_noise_floor --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "c"), [(20, 0.7), (7, 0.5), (40, 0.9)])
def test_ece_noise_floor_matches_exact_binomial_expectation(n, c):
    # One bin and equal confidences: ECE = |K / n - c| with K ~ Binomial(n, c), whose mean is a finite sum.
    exact = sum(math.comb(n, k) * c**k * (1 - c) ** (n - k) * abs(k / n - c) for k in range(n + 1))
    probs = np.tile([c, 1 - c], (n, 1)) if c >= 0.5 else np.tile([1 - c, c], (n, 1))
    floor = ece_noise_floor(probs, n_bins=1, n_draws=4000, seed=2)
    assert floor["mean"] == pytest.approx(exact, abs=0.006)
    assert floor["p95"] >= floor["mean"]


def test_ece_noise_floor_depends_only_on_confidences_and_is_seeded():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(4), size=50)
    floor = ece_noise_floor(probs, n_bins=10, seed=3)
    assert floor == ece_noise_floor(probs[:, ::-1], n_bins=10, seed=3)  # class order does not matter
    assert floor == ece_noise_floor(probs, n_bins=10, seed=3)
    assert floor != ece_noise_floor(probs, n_bins=10, seed=4)


def test_ece_noise_floor_shrinks_with_more_items():
    small = ece_noise_floor(np.tile([0.8, 0.2], (50, 1)), n_bins=15, seed=0)["mean"]
    large = ece_noise_floor(np.tile([0.8, 0.2], (5000, 1)), n_bins=15, seed=0)["mean"]
    assert large < small / 5


@pytest.mark.parametrize(("probs", "kwargs", "match"), [
    (np.ones((3, 1)), {}, "Expected argument `probs`"),
    (np.ones((0, 2)), {}, "Expected argument `probs`"),
    (np.full((2, 2), 0.5), {"n_draws": 0}, "Expected argument `n_draws`"),
])
def test_ece_noise_floor_rejects(probs, kwargs, match):
    with pytest.raises(ValueError, match=match):
        ece_noise_floor(probs, **kwargs)
