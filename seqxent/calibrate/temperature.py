"""Temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural Networks"): the one temperature fitter.

A single scalar ``temperature`` ``T > 0`` divides every logit; it is fitted on held-out data by minimising
the negative log-likelihood (NLL). Dividing by a positive constant never changes the arg-max (or the sign of a
logit), so accuracy is kept while over-confident (``T > 1``) or under-confident (``T < 1``) probabilities are
corrected. The NLL follows the output activation (:data:`ACTIVATIONS`):

- ``softmax`` (sequence and residue tasks): the cross-entropy of the true class, ``-log softmax(z / T)_y``;
- ``sigmoid`` (multi-label tasks, one temperature shared by all labels): the sum over labels of the binary
  cross-entropies of ``sigmoid(z / T)`` against the multi-hot target, per record. Dividing by ``T`` keeps
  every label's ranking (AUROC, average precision) and the predictions at threshold 0.5; at other thresholds
  they may change.

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
"""

import math
from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

#: Bounds of the fitted temperature. Below 0.05 or above 20 the fit is dominated by a few items (or says
#: "the model knows nothing"), and such values are better reported as clamped than extrapolated.
MIN_TEMPERATURE = 0.05
MAX_TEMPERATURE = 20.0
#: Default standard deviation of the prior on log T of ``seqxent calibrate`` (T within a factor e^2 ≈ 7.4 of 1
#: at two standard deviations).
DEFAULT_PRIOR_SD = 1.0
#: Output activations whose NLL a temperature is fitted on (module docs).
ACTIVATIONS = ("softmax", "sigmoid")

# Golden-section search runs on log T: the NLL is convex in 1/T, hence unimodal in log T.
_INV_PHI = (math.sqrt(5.0) - 1.0) / 2.0
# Stop once the bracket on log T is narrower than this (a relative precision of about 1e-7 on T).
_LOG_T_TOL = 1e-7
# Points of the scan over log T that brackets the minimum before the golden-section search (0.095 apart: a
# factor of 1.1 in T).
_GRID = 64


def fit_temperature(
    logits: torch.Tensor, target: torch.Tensor, max_iter: int = 200, ignore_index: int = -100,
    prior_sd: float = 0.0, activation: str = "softmax",
) -> float:
    """Fit the temperature that minimises the NLL of ``activation(logits / T)`` (plus a prior on ``log T``).

    The search is deterministic, over ``log T`` in ``[log MIN_TEMPERATURE, log MAX_TEMPERATURE]``, in float64:
    a scan of :data:`_GRID` points, then a golden-section search between the neighbours of the best one. The
    NLL is convex in ``1 / T``, hence unimodal in ``log T``, so the search finds the global minimum inside the
    bounds; when the minimum lies outside them, the result is clamped to the nearest bound. The returned
    temperature never has a larger NLL on ``(logits, target)`` than ``T = 1`` (with a prior: its objective is
    never larger than at ``T = 1``, where the prior term is 0, so neither is its NLL).

    Args:
        logits: Float tensor of shape ``(N, C)``; for residue tasks flattened over residues (module docs).
        target: ``softmax``: integer tensor ``(N,)`` with class indices in ``[0, C)`` or ``ignore_index``;
            ``sigmoid``: multi-hot tensor ``(N, C)`` of 0 and 1.
        max_iter: Maximum number of golden-section steps (one NLL evaluation each); about 40 steps already
            reach the internal tolerance of 1e-7 on ``log T``.
        ignore_index: Target value of items to leave out, such as padding residues (``softmax`` only).
        prior_sd: Standard deviation of the normal prior on ``log T`` (module docs); 0 = none, the plain
            maximum-likelihood fit.
        activation: One of :data:`ACTIVATIONS`: ``"softmax"`` or ``"sigmoid"``.

    Returns:
        The fitted temperature, in ``[MIN_TEMPERATURE, MAX_TEMPERATURE]``.

    Raises:
        TypeError: If ``logits`` or ``target`` is not a tensor of the expected dtype.
        ValueError: If shapes disagree, no item remains after dropping ``ignore_index``, a target is out of
            range, a logit is not finite, or ``max_iter``, ``prior_sd`` or ``activation`` is invalid.

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
        >>> multi_hot = torch.tensor([[1.0], [1.0], [0.0]])  # p = 2/3 is best: 4 / T = ln 2
        >>> round(fit_temperature(torch.full((3, 1), 4.0), multi_hot, activation="sigmoid"), 3)
        5.771
    """
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"Expected argument `max_iter` to be an integer larger than 0, but got {max_iter!r}")
    check_prior_sd(prior_sd)
    logits, target = _valid_items(logits, target, ignore_index, activation)
    nll = _NLL[activation]

    def objective(log_t: float) -> float:
        if not prior_sd:
            return nll(logits, target, math.exp(log_t))
        return nll(logits, target, math.exp(log_t), total=True) + prior_penalty(log_t, prior_sd)

    low, high = math.log(MIN_TEMPERATURE), math.log(MAX_TEMPERATURE)
    log_t = _golden_section_min(objective, low, high, max_iter)
    # exp(log(x)) need not round-trip exactly, so the bounds are returned as the constants themselves.
    if log_t <= low:
        return MIN_TEMPERATURE
    if log_t >= high:
        return MAX_TEMPERATURE
    return math.exp(log_t)


def temperature_nll(
    logits: torch.Tensor, target: torch.Tensor, temperature: float = 1.0, ignore_index: int = -100,
    activation: str = "softmax",
) -> float:
    """Mean NLL (nats) of ``activation(logits / temperature)``: the quantity :func:`fit_temperature` minimises.

    Per item (``softmax``, items whose target is ``ignore_index`` left out) or per record, summed over its
    labels (``sigmoid``); computed in float64.

    Args:
        logits: Float tensor of shape ``(N, C)``.
        target: As :func:`fit_temperature`.
        temperature: A finite number larger than 0.
        ignore_index: Target value of items to leave out (``softmax`` only).
        activation: One of :data:`ACTIVATIONS`.

    Returns:
        The mean NLL in nats.

    Raises:
        ValueError: As :func:`fit_temperature`, or if ``temperature`` is not a finite number larger than 0.

    Example:
        >>> round(temperature_nll(torch.tensor([[0.0, 0.0]]), torch.tensor([1])), 6)  # ln 2
        0.693147
        >>> round(temperature_nll(torch.zeros(1, 2), torch.tensor([[1.0, 0.0]]), activation="sigmoid"), 6)  # 2 ln 2
        1.386294
    """
    check_temperature(temperature)
    logits, target = _valid_items(logits, target, ignore_index, activation)
    return _NLL[activation](logits, target, float(temperature))


def check_temperature(temperature: float) -> None:
    """Raise ValueError naming ``temperature`` unless it is a finite real number larger than 0."""
    is_number = isinstance(temperature, int | float) and not isinstance(temperature, bool)
    if not is_number or not math.isfinite(temperature) or temperature <= 0:
        raise ValueError(
            f"Expected argument `temperature` to be a finite number larger than 0, but got {temperature!r}"
        )


def check_prior_sd(prior_sd: float) -> None:
    """Raise ValueError naming ``prior_sd`` unless it is a finite number ≥ 0 (0: no prior)."""
    is_number = isinstance(prior_sd, int | float) and not isinstance(prior_sd, bool)
    if not is_number or not math.isfinite(prior_sd) or prior_sd < 0:
        raise ValueError(f"Expected argument `prior_sd` to be a finite number ≥ 0, but got {prior_sd!r}")


def prior_penalty(log_t: float, prior_sd: float) -> float:
    """Negative log density (up to a constant) of the normal prior on ``log T``: ``(log T)^2 / (2 prior_sd^2)``."""
    return log_t * log_t / (2.0 * prior_sd * prior_sd)


def _softmax_nll(logits: torch.Tensor, target: torch.Tensor, temperature: float, total: bool = False) -> float:
    """Cross-entropy of the true classes at ``temperature``: mean over items, or their sum with ``total``."""
    return F.cross_entropy(logits / temperature, target, reduction="sum" if total else "mean").item()


def _sigmoid_nll(logits: torch.Tensor, target: torch.Tensor, temperature: float, total: bool = False) -> float:
    """Binary cross-entropy summed over labels: mean over records, or their sum with ``total``."""
    z = logits.numpy() / temperature
    mean = float((np.logaddexp(0.0, z) - target.numpy() * z).sum(axis=-1).mean())  # log(1 + e^z) - y z
    return mean * len(z) if total else mean


_NLL: dict[str, Callable[..., float]] = {"softmax": _softmax_nll, "sigmoid": _sigmoid_nll}


def _valid_items(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int, activation: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate ``(logits, target)`` and return the float64 logits and targets of the items to score."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"Expected argument `activation` to be one of {ACTIVATIONS}, but got {activation!r}")
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() or logits.ndim != 2:
        raise TypeError(
            f"Expected argument `logits` to be a 2-D float tensor (N, C), but got {_describe(logits)}"
        )
    if activation == "softmax":
        logits, target = _softmax_items(logits, target, ignore_index)
    else:
        logits, target = _sigmoid_items(logits, target)
    if not torch.isfinite(logits).all():
        raise ValueError("Expected argument `logits` to be finite, but got NaN or infinite values")
    return logits, target


def _softmax_items(
    logits: torch.Tensor, target: torch.Tensor, ignore_index: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 logits and int64 class indices of the items whose target is not ``ignore_index``."""
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
    return logits, target


def _sigmoid_items(logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 CPU logits and multi-hot targets of a multi-label task."""
    if not isinstance(target, torch.Tensor):
        raise TypeError(f"Expected argument `target` to be a multi-hot tensor (N, C), but got {_describe(target)}")
    if target.shape != logits.shape or target.numel() == 0:
        raise ValueError(f"Expected arguments `logits` and `target` to have one shape (N, C) with N, C > 0 for "
                         f"activation 'sigmoid', but got {tuple(logits.shape)} and {tuple(target.shape)}")
    if not ((target == 0) | (target == 1)).all():
        raise ValueError("Expected argument `target` to be multi-hot (0 or 1), but got other values")
    return logits.detach().to("cpu", torch.float64), target.detach().to("cpu", torch.float64)


def _describe(value: object) -> str:
    """Short description of a value for error messages."""
    if isinstance(value, torch.Tensor):
        return f"a {value.ndim}-D tensor of shape {tuple(value.shape)} and dtype {value.dtype}"
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
