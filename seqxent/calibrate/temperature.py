"""Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks").

A single scalar ``temperature`` ``T > 0`` divides every logit; it is fitted on held-out data by minimising
the negative log-likelihood (NLL). Dividing by a positive constant never changes the arg-max, so accuracy is
kept while over-confident (``T > 1``) or under-confident (``T < 1``) probabilities are corrected.

With ``prior_sd > 0`` the fit is the maximum a posteriori temperature under a normal prior on ``log T``
centred at 0 (``T = 1``): it minimises the summed NLL plus ``(log T)^2 / (2 prior_sd^2)``. On a validation
split of a few dozen items that the network gets all (or all but one) right, the plain fit runs to the
sharpest bound, 0.05, and the calibrated model then claims near-certainty on every test item; the prior holds
T near 1 unless the items say otherwise. Its weight does not grow with the items, so on thousands of
residues it makes no difference. (COI species, 10 splits of ~90 validation barcodes: one split's plain fit
was 0.05, with ``prior_sd = 1`` 0.36; docs/calibration.md.)

Residue tasks: flatten channels-first logits ``(B, C, L)`` to ``(B * L, C)`` with
``logits.permute(0, 2, 1).reshape(-1, C)`` and targets ``(B, L)`` to ``(B * L,)``; padding positions carry the
target ``-100`` and are ignored.

:func:`ece_noise_floor` tells how large an ECE sampling noise alone produces on a test split of a given size.
"""

import math
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import torch
import torch.nn.functional as F

from seqxent.metrics.classification import calibration_error

#: Bounds of the fitted temperature. Below 0.05 or above 20 the fit is dominated by a few items (or says
#: "the model knows nothing"), and such values are better reported as clamped than extrapolated.
MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 20.0
#: Default standard deviation of the prior on log T of ``seqxent calibrate`` (T within a factor e^2 ≈ 7.4 of 1
#: at two standard deviations).
DEFAULT_PRIOR_SD = 1.0

# Golden-section search runs on log T: the NLL is convex in 1/T, hence unimodal in log T.
_INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0
# Stop once the bracket on log T is narrower than this (a relative precision of about 1e-7 on T).
_LOG_T_TOL = 1e-7
# Points of the scan over log T that brackets the minimum before the golden-section search (0.095 apart: a
# factor of 1.1 in T).
_GRID = 64


def fit_temperature(
    logits: torch.Tensor, target: torch.Tensor, max_iter: int = 200, ignore_index: int = -100,
    prior_sd: float = 0.0,
) -> float:
    """Fit the temperature that minimises the NLL of ``softmax(logits / T)`` (plus a prior on ``log T``).

    The search is deterministic, over ``log T`` in ``[log MIN_TEMPERATURE, log MAX_TEMPERATURE]``, in float64:
    a scan of :data:`_GRID` points, then a golden-section search between the neighbours of the best one. The
    NLL is convex in ``1 / T``, hence unimodal in ``log T``, so the search finds the global minimum inside the
    bounds; when the minimum lies outside them, the result is clamped to the nearest bound. The returned
    temperature never has a larger NLL on ``(logits, target)`` than ``T = 1`` (with a prior: its objective is
    never larger than at ``T = 1``, where the prior term is 0, so neither is its NLL).

    Args:
        logits: Float tensor of shape ``(N, C)``; for residue tasks flattened over residues (module docs).
        target: Integer tensor of shape ``(N,)`` with class indices in ``[0, C)`` or ``ignore_index``.
        max_iter: Maximum number of golden-section steps (one NLL evaluation each); about 40 steps already
            reach the internal tolerance of 1e-7 on ``log T``.
        ignore_index: Target value of items to leave out, such as padding residues.
        prior_sd: Standard deviation of the normal prior on ``log T`` (module docs); 0 = none, the plain
            maximum-likelihood fit.

    Returns:
        The fitted temperature, in ``[MIN_TEMPERATURE, MAX_TEMPERATURE]``.

    Raises:
        TypeError: If ``logits`` or ``target`` is not a tensor of the expected dtype.
        ValueError: If shapes disagree, no item remains after dropping ``ignore_index``, a target is out of
            range, a logit is not finite, or ``max_iter`` is not a positive integer.

    Example:
        >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [0.0, 2.0]])
        >>> round(fit_temperature(logits, torch.tensor([0, 1, 0, 0])), 3)  # optimum 2 / ln 3
        1.82
        >>> fit_temperature(logits, torch.tensor([0, 1, 0, 1]))  # all right: as sharp as allowed
        0.05
        >>> fit_temperature(logits, torch.tensor([0, 1, -100, -100]))  # padding is ignored
        0.05
        >>> round(fit_temperature(logits, torch.tensor([0, 1, 0, 1]), prior_sd=1.0), 3)  # the prior holds it
        0.615
    """
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"Expected argument `max_iter` to be an integer larger than 0, but got {max_iter!r}")
    check_prior_sd(prior_sd)
    logits, target = _valid_items(logits, target, ignore_index)

    def objective(log_t: float) -> float:
        if not prior_sd:
            return F.cross_entropy(logits / math.exp(log_t), target).item()
        total = F.cross_entropy(logits / math.exp(log_t), target, reduction="sum").item()
        return total + prior_penalty(log_t, prior_sd)

    low, high = math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE)
    log_t = _golden_section_min(objective, low, high, max_iter)
    # exp(log(x)) need not round-trip exactly, so the bounds are returned as the constants themselves.
    if log_t <= low:
        return MIN_TEMPERATURE
    if log_t >= high:
        return MAX_TEMPERATURE
    return math.exp(log_t)


def apply_temperature(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Divide logits by a temperature.

    Args:
        logits: Tensor of any shape (``(N, C)``, or channels-first ``(B, C, L)``).
        temperature: A finite number larger than 0.

    Returns:
        ``logits / temperature``, same shape and dtype as ``logits``.

    Raises:
        ValueError: If ``temperature`` is not a finite number larger than 0.

    Example:
        >>> apply_temperature(torch.tensor([[2.0, -1.0]]), 2.0)
        tensor([[ 1.0000, -0.5000]])
    """
    _check_temperature(temperature)
    return logits / float(temperature)


def temperature_nll(
    logits: torch.Tensor, target: torch.Tensor, temperature: float = 1.0, ignore_index: int = -100
) -> float:
    """Mean NLL (nats) of ``softmax(logits / temperature)`` over items whose target is not ``ignore_index``.

    Args:
        logits: Float tensor of shape ``(N, C)``.
        target: Integer tensor of shape ``(N,)`` with class indices in ``[0, C)`` or ``ignore_index``.
        temperature: A finite number larger than 0.
        ignore_index: Target value of items to leave out.

    Returns:
        The mean NLL in nats, computed in float64.

    Raises:
        ValueError: As :func:`fit_temperature`, or if ``temperature`` is not a finite number larger than 0.

    Example:
        >>> round(temperature_nll(torch.tensor([[0.0, 0.0]]), torch.tensor([1])), 6)  # ln 2
        0.693147
    """
    _check_temperature(temperature)
    logits, target = _valid_items(logits, target, ignore_index)
    return F.cross_entropy(logits / float(temperature), target).item()


def ece_noise_floor(probs: npt.ArrayLike, n_bins: int = 15, n_draws: int = 200, seed: int = 0) -> dict[str, float]:
    """The ECE that a perfectly calibrated model with these confidences would show, from sampling noise alone.

    Each draw marks every item correct with probability equal to its top-class probability (what "perfectly
    calibrated" means) and computes the equal-width ECE of
    :func:`~seqxent.metrics.classification.calibration_error`. On a
    few hundred items this floor is several percent, so an observed ECE below it cannot be told apart from
    perfect calibration; one above the 95 % quantile is evidence of miscalibration.

    Args:
        probs: Class probabilities of shape ``(N, C)`` with ``C >= 2``.
        n_bins: Equal-width confidence bins, as for the observed ECE.
        n_draws: Simulated data sets.
        seed: Seed of the simulation.

    Returns:
        Dict with ``mean`` and ``p95`` (95 % quantile) of the simulated ECE.

    Raises:
        ValueError: If ``probs`` is not a 2-D array with at least 2 classes and 1 item, or ``n_draws < 1``.

    Example:
        >>> ece_noise_floor([[1.0, 0.0], [0.0, 1.0]])  # certain and calibrated: no noise
        {'mean': 0.0, 'p95': 0.0}
        >>> floor = ece_noise_floor(np.full((100, 2), 0.5), n_bins=1, n_draws=500, seed=1)
        >>> 0.03 < floor["mean"] < 0.05  # E|Binomial(100, 1/2) / 100 - 1/2| = 0.0398
        True
    """
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 2:
        raise ValueError(f"Expected argument `probs` to have shape (N, C) with N >= 1, C >= 2, but got {p.shape}")
    if isinstance(n_draws, bool) or not isinstance(n_draws, int) or n_draws < 1:
        raise ValueError(f"Expected argument `n_draws` to be an integer larger than 0, but got {n_draws!r}")
    rng = np.random.default_rng(seed)
    top = p.argmax(axis=1)
    wrong = (top + 1) % p.shape[1]  # any other class: only whether the top class is right matters
    draws = [calibration_error(p, np.where(rng.random(len(p)) < p.max(axis=1), top, wrong), n_bins)
             for _ in range(n_draws)]
    return {"mean": float(np.mean(draws)), "p95": float(np.quantile(draws, 0.95))}


def check_prior_sd(prior_sd: float) -> None:
    """Raise ValueError naming ``prior_sd`` unless it is a finite number ≥ 0 (0: no prior)."""
    is_number = isinstance(prior_sd, int | float) and not isinstance(prior_sd, bool)
    if not is_number or not math.isfinite(prior_sd) or prior_sd < 0:
        raise ValueError(f"Expected argument `prior_sd` to be a finite number ≥ 0, but got {prior_sd!r}")


def prior_penalty(log_t: float, prior_sd: float) -> float:
    """Negative log density (up to a constant) of the normal prior on ``log T``: ``(log T)^2 / (2 prior_sd^2)``."""
    return log_t * log_t / (2.0 * prior_sd * prior_sd)


def _check_temperature(temperature: float) -> None:
    """Raise unless ``temperature`` is a finite real number larger than 0."""
    is_number = isinstance(temperature, int | float) and not isinstance(temperature, bool)
    if not is_number or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(
            f"Expected argument `temperature` to be a finite number larger than 0, but got {temperature!r}"
        )


def _valid_items(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate ``(logits, target)`` and return the float64 logits and targets of non-ignored items."""
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.ndim != 2:
        raise TypeError(
            f"Expected argument `logits` to be a 2-D float tensor (N, C), but got {_describe(logits)}"
        )
    if not isinstance(target, torch.Tensor) or target.is_floating_point() or target.ndim != 1:
        raise TypeError(
            f"Expected argument `target` to be a 1-D integer tensor (N,), but got {_describe(target)}"
        )
    if target.shape[0] != logits.shape[0]:
        raise ValueError(
            f"Expected arguments `logits` and `target` to have the same number of items, but got "
            f"{logits.shape[0]} and {target.shape[0]}"
        )
    keep = target != ignore_index
    n_classes = logits.shape[1]
    logits, target = logits[keep].detach().to(torch.float64), target[keep].long()
    if target.numel() == 0:
        raise ValueError(
            f"Expected argument `target` to hold at least one item other than ignore_index={ignore_index}, "
            f"but got none (N={keep.numel()})"
        )
    if target.min() < 0 or target.max() >= n_classes:
        bad = target[(target < 0) | (target >= n_classes)][0].item()
        raise ValueError(
            f"Expected argument `target` to hold class indices in [0, {n_classes}), but got {bad}"
        )
    if not torch.isfinite(logits).all():
        raise ValueError("Expected argument `logits` to be finite, but got NaN or infinite values")
    return logits, target


def _describe(value: object) -> str:
    """Short description of a value for error messages."""
    if isinstance(value, torch.Tensor):
        return f"a {value.ndim}-D tensor of dtype {value.dtype}"
    return type(value).__name__


def _golden_section_min(f: Callable[[float], float], low: float, high: float, max_iter: int) -> float:
    """Minimise ``f`` on ``[low, high]``, also trying both bounds and 0 (``T = 1``).

    A scan of :data:`_GRID` points brackets the best one first, so a sum of the NLL and a prior need not be
    unimodal over the whole range for the golden-section search that follows.
    """
    grid = [low + (high - low) * i / (_GRID - 1) for i in range(_GRID)]
    best = min(range(_GRID), key=lambda i: f(grid[i]))
    bounds = (low, high)
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, _GRID - 1)]
    c, d = high - _INV_PHI * (high - low), low + _INV_PHI * (high - low)
    fc, fd = f(c), f(d)
    for _ in range(max_iter):
        if high - low < _LOG_T_TOL:
            break
        if fc <= fd:  # the minimum lies in [low, d]
            high, d, fd = d, c, fc
            c = high - _INV_PHI * (high - low)
            fc = f(c)
        else:  # the minimum lies in [c, high]
            low, c, fc = c, d, fd
            d = low + _INV_PHI * (high - low)
            fd = f(d)
    # The bounds catch a minimum outside the search range exactly; 0.0 guarantees "never worse than T = 1".
    candidates = [(fc, c), (fd, d), (f(bounds[0]), bounds[0]), (f(bounds[1]), bounds[1]), (f(0.0), 0.0)]
    return min(candidates)[1]
