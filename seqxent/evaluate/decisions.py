"""Cost-sensitive decisions from class probabilities (Bayes decision rule).

A cost matrix ``cost`` of shape ``(K_actions, K)`` holds in ``cost[k, j]`` the cost of taking action ``k``
(usually: calling class ``k``) when the true class is ``j``. Given calibrated probabilities ``p`` (a row of
``probs``), the Bayes action minimises the expected cost ``sum_j cost[k, j] * p[j]``. With the 0-1 cost
``1 - I`` this is the arg-max of ``p``.
"""

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

# Default per-class costs: with nothing overridden, fn + fp = 1 off the diagonal, i.e. the 0-1 cost.
_DEFAULT_FN_COST = 0.5
_DEFAULT_FP_COST = 0.5


def action_risk(probs: npt.ArrayLike, cost: npt.ArrayLike) -> np.ndarray:
    """Expected cost of every action under the model's probabilities, ``probs @ cost.T``.

    Args:
        probs: Class probabilities of shape ``(N, K)``; rows sum to 1.
        cost: Cost matrix of shape ``(K_actions, K)``.

    Returns:
        Float64 array of shape ``(N, K_actions)``: ``risk[i, k] = sum_j cost[k, j] * probs[i, j]``.

    Raises:
        ValueError: If ``probs`` is not a finite 2-D array of probabilities whose rows sum to 1, or ``cost``
            is not a finite 2-D array with ``K`` columns.

    Example:
        >>> action_risk([[0.25, 0.75]], [[0, 1], [1, 0]])
        array([[0.75, 0.25]])
    """
    p = _probs_float64(probs)
    c = _cost_float64(cost, n_classes=p.shape[1])
    return p @ c.T


def bayes_action(probs: npt.ArrayLike, cost: npt.ArrayLike) -> np.ndarray:
    """Bayes action ``argmin_k sum_j cost[k, j] * probs[:, j]`` for every item.

    Ties go to the lowest action index (as ``numpy.argmin``).

    Args:
        probs: Class probabilities of shape ``(N, K)``; rows sum to 1.
        cost: Cost matrix of shape ``(K_actions, K)``.

    Returns:
        Int64 array of action indices, shape ``(N,)``.

    Raises:
        ValueError: As :func:`action_risk`.

    Example:
        >>> probs = [[0.7, 0.3], [0.9, 0.1]]
        >>> bayes_action(probs, [[0, 1], [1, 0]]).tolist()  # 0-1 cost: the arg-max
        [0, 0]
        >>> bayes_action(probs, [[0, 5], [1, 0]]).tolist()  # missing class 1 costs 5: threshold 1/6
        [1, 0]
    """
    return np.argmin(action_risk(probs, cost), axis=1)


def expected_cost(actions: npt.ArrayLike, target: npt.ArrayLike, cost: npt.ArrayLike) -> float:
    """Mean realised cost ``mean_i cost[actions[i], target[i]]`` of decisions against true classes.

    Args:
        actions: Action indices of shape ``(N,)``, in ``[0, K_actions)``.
        target: True class indices of shape ``(N,)``, in ``[0, K)``.
        cost: Cost matrix of shape ``(K_actions, K)``.

    Returns:
        The mean cost per item.

    Raises:
        ValueError: If ``actions`` and ``target`` are empty, differ in length, or hold an index outside the
            cost matrix.

    Example:
        >>> expected_cost([0, 1, 1], [0, 0, 1], [[0, 5], [1, 0]])
        0.3333333333333333
    """
    c = _cost_float64(cost)
    a = _indices(actions, "actions", c.shape[0])
    t = _indices(target, "target", c.shape[1])
    if a.size != t.size or a.size == 0:
        raise ValueError(
            f"Expected arguments `actions` and `target` to have the same, non-zero length, but got {a.size} "
            f"and {t.size}"
        )
    return float(np.mean(c[a, t]))


def binary_threshold(c_fp: float, c_fn: float) -> float:
    """Bayes threshold ``t* = c_fp / (c_fp + c_fn)``: predict positive when ``P(positive) >= t*``.

    Calling positive costs ``c_fp * (1 - p)`` in expectation and calling negative ``c_fn * p``; the first
    is no larger exactly when ``p >= t*``. At ``p == t*`` both actions cost the same.

    Args:
        c_fp: Cost of a false positive, at least 0.
        c_fn: Cost of a false negative, at least 0; ``c_fp + c_fn`` must be larger than 0.

    Returns:
        The threshold, in ``[0, 1]``.

    Raises:
        ValueError: If a cost is negative or not finite, or both are 0.

    Example:
        >>> binary_threshold(1.0, 9.0)
        0.1
    """
    for name, value in (("c_fp", c_fp), ("c_fn", c_fn)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"Expected argument `{name}` to be a finite number >= 0, but got {value!r}")
    if c_fp + c_fn <= 0:
        raise ValueError(f"Expected `c_fp + c_fn` to be larger than 0, but got c_fp={c_fp!r}, c_fn={c_fn!r}")
    return float(c_fp / (c_fp + c_fn))


def cost_matrix_from_config(
    classes: Sequence[str],
    matrix: Sequence[Sequence[float]] | None = None,
    fn_cost: Mapping[str, float] | None = None,
    fp_cost: Mapping[str, float] | None = None,
) -> np.ndarray:
    """Build a ``(K, K)`` cost matrix with 0 on the diagonal from a configuration.

    Either give ``matrix`` (rows: called class, columns: true class, in the order of ``classes``; the
    diagonal must be 0), or per-class costs: ``cost[k, j] = fn_cost[j] + fp_cost[k]`` for ``k != j``, the
    cost of missing the true class ``j`` plus the cost of falsely calling ``k``. Classes absent from
    ``fn_cost``/``fp_cost`` cost 0.5 each, so that with no overrides at all the result is the 0-1 cost.

    Args:
        classes: The ``K`` class names, in model order; unique.
        matrix: Full ``K x K`` matrix (list of lists) of non-negative costs, or None.
        fn_cost: Mapping class name -> cost of missing that class (false negative), or None.
        fp_cost: Mapping class name -> cost of falsely calling that class (false positive), or None.

    Returns:
        Float64 array of shape ``(K, K)``.

    Raises:
        ValueError: If ``classes`` is empty or has duplicates, ``matrix`` is combined with per-class costs,
            has the wrong shape, a negative, non-finite or diagonal-nonzero entry, or a per-class mapping
            names an unknown class or a negative or non-finite cost.

    Example:
        >>> cost_matrix_from_config(["a", "b", "c"], fn_cost={"c": 10.0}).tolist()
        [[0.0, 1.0, 10.5], [1.0, 0.0, 10.5], [1.0, 1.0, 0.0]]
    """
    classes = list(classes)
    if not classes or len(set(classes)) != len(classes):
        raise ValueError(f"Expected argument `classes` to be non-empty and unique, but got {classes!r}")
    if matrix is not None:
        if fn_cost is not None or fp_cost is not None:
            raise ValueError("Expected either argument `matrix` or `fn_cost`/`fp_cost`, but got both")
        return _full_matrix(matrix, len(classes))
    fn = _per_class(fn_cost, classes, "fn_cost", _DEFAULT_FN_COST)
    fp = _per_class(fp_cost, classes, "fp_cost", _DEFAULT_FP_COST)
    cost = fp[:, None] + fn[None, :]  # (K,) + (K,) -> (K_called, K_true)
    np.fill_diagonal(cost, 0.0)
    return cost


def decision_summary(
    probs: npt.ArrayLike, target: npt.ArrayLike, classes: Sequence[str], decisions: Mapping
) -> dict:
    """Realised cost of the Bayes action versus the arg-max label, for the ``decisions`` config of a data set.

    Args:
        probs: Calibrated class probabilities of shape ``(N, K)``.
        target: True class indices of shape ``(N,)``.
        classes: The ``K`` class names, in model order.
        decisions: Mapping with ``cost_matrix`` (rows: called class, columns: true class), or ``fn_cost``
            and/or ``fp_cost`` (class name -> cost); see :func:`cost_matrix_from_config`.

    Returns:
        Dict with ``expected_cost_bayes`` and ``expected_cost_argmax`` (mean cost per item), ``cost_saved``
        (their difference), ``changed_decisions`` (items whose Bayes action differs from the arg-max),
        ``accuracy_bayes``, ``accuracy_argmax`` and ``n_items``; for two classes also ``positive_class``
        (the second class) and its ``binary_threshold`` ``t* = C_FP / (C_FP + C_FN)`` (None when both are 0).

    Raises:
        ValueError: For a bad configuration (as :func:`cost_matrix_from_config`) or bad ``probs``/``target``.

    Example:
        >>> out = decision_summary([[0.7, 0.3], [0.9, 0.1]], [1, 0], ["neg", "pos"], {"fn_cost": {"pos": 4.5}})
        >>> out["expected_cost_argmax"], out["expected_cost_bayes"], out["binary_threshold"]
        (2.5, 0.0, 0.16666666666666666)
    """
    cost = cost_matrix_from_config(classes, decisions.get("cost_matrix"), decisions.get("fn_cost"),
                                   decisions.get("fp_cost"))
    p = _probs_float64(probs)
    t = _indices(target, "target", cost.shape[1])
    bayes, top = bayes_action(p, cost), p.argmax(axis=1)
    out = {"expected_cost_bayes": expected_cost(bayes, t, cost), "expected_cost_argmax": expected_cost(top, t, cost)}
    out.update(cost_saved=out["expected_cost_argmax"] - out["expected_cost_bayes"],
               changed_decisions=int(np.sum(bayes != top)), accuracy_bayes=float(np.mean(bayes == t)),
               accuracy_argmax=float(np.mean(top == t)), n_items=int(t.size))
    if len(classes) == 2:
        c_fp, c_fn = cost[1, 0], cost[0, 1]  # positive = classes[1]: call it when false / miss it when true
        out.update(positive_class=str(classes[1]),
                   binary_threshold=binary_threshold(c_fp, c_fn) if c_fp + c_fn > 0 else None)
    return out


def _full_matrix(matrix: Sequence[Sequence[float]], n_classes: int) -> np.ndarray:
    """Validate a full cost matrix from the configuration."""
    try:
        cost = np.asarray(matrix, dtype=np.float64)
    except ValueError as error:  # ragged rows
        raise ValueError(
            f"Expected argument `matrix` to be a rectangular list of lists, but got {matrix!r}"
        ) from error
    if cost.shape != (n_classes, n_classes):
        raise ValueError(
            f"Expected argument `matrix` to have shape ({n_classes}, {n_classes}), but got {cost.shape}"
        )
    if not np.isfinite(cost).all() or (cost < 0).any():
        raise ValueError(f"Expected argument `matrix` to hold finite costs >= 0, but got {cost.tolist()}")
    if np.diag(cost).any():
        raise ValueError(
            f"Expected argument `matrix` to have 0 on the diagonal, but got {np.diag(cost).tolist()}"
        )
    return cost


def _per_class(
    costs: Mapping[str, float] | None, classes: list[str], name: str, default: float
) -> np.ndarray:
    """Per-class costs in class order, ``default`` for classes not in ``costs``."""
    costs = dict(costs or {})
    unknown = sorted(set(costs) - set(classes), key=str)
    if unknown:
        raise ValueError(
            f"Expected the keys of argument `{name}` to be class names, but got unknown {unknown}"
        )
    values = np.array([float(costs.get(c, default)) for c in classes])
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError(f"Expected argument `{name}` to hold finite costs >= 0, but got {costs!r}")
    return values


def _probs_float64(probs: npt.ArrayLike) -> np.ndarray:
    """Validate probabilities of shape (N, K) and return them as float64."""
    p = np.asarray(probs, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] < 1:
        raise ValueError(f"Expected argument `probs` to have shape (N, K) with K >= 1, but got {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError(
            "Expected argument `probs` to hold finite values >= 0, but got a negative or NaN value"
        )
    # 1e-4 tolerates float32 softmax output; anything further off is not a probability vector.
    row_sums = p.sum(axis=1)
    if not np.allclose(row_sums, 1.0, rtol=0.0, atol=1e-4):
        worst = row_sums[np.argmax(np.abs(row_sums - 1.0))]
        raise ValueError(
            f"Expected the rows of argument `probs` to sum to 1, but got a row summing to {worst}"
        )
    return p


def _cost_float64(cost: npt.ArrayLike, n_classes: int | None = None) -> np.ndarray:
    """Validate a cost matrix of shape (K_actions, K) and return it as float64."""
    c = np.asarray(cost, dtype=np.float64)
    if c.ndim != 2 or c.size == 0 or (n_classes is not None and c.shape[1] != n_classes):
        expected = f"(K_actions, {n_classes})" if n_classes is not None else "(K_actions, K)"
        raise ValueError(f"Expected argument `cost` to have shape {expected}, but got {c.shape}")
    if not np.isfinite(c).all():
        raise ValueError("Expected argument `cost` to be finite, but got NaN or infinite values")
    return c


def _indices(values: npt.ArrayLike, name: str, upper: int) -> np.ndarray:
    """Validate a 1-D array of integer indices in ``[0, upper)``."""
    idx = np.asarray(values)
    if idx.ndim != 1 or (idx.size and not np.issubdtype(idx.dtype, np.integer)):
        raise ValueError(
            f"Expected argument `{name}` to be a 1-D integer array, but got {idx.dtype} {idx.shape}"
        )
    bad = idx[(idx < 0) | (idx >= upper)]
    if bad.size:
        raise ValueError(f"Expected argument `{name}` to hold indices in [0, {upper}), but got {bad[0]}")
    return idx.astype(np.int64)
