"""A continuous two-segment least-squares fit (a hinge) that locates the bend of a curve such as H(d)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ibpipe.dimension.correlation import _line


@dataclass(frozen=True)
class Bend:
    """A continuous two-segment fit y = a + s1 min(x - b, 0) + s2 max(x - b, 0)."""

    breakpoint: float
    slope_before: float
    slope_after: float
    intercept: float  # the fitted y at the breakpoint
    r_squared: float
    r_squared_line: float  # one straight line through the same points, for comparison


def _hinge_fit(x: np.ndarray, y: np.ndarray, breakpoint: float) -> tuple[float, np.ndarray]:
    design = np.column_stack([np.ones_like(x), np.minimum(x - breakpoint, 0.0), np.maximum(x - breakpoint, 0.0)])
    coefficients, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coefficients
    return float(residual @ residual), coefficients


def two_segment_fit(x: np.ndarray, y: np.ndarray) -> Bend:
    """The bend of a curve: the breakpoint minimising the squared error of a continuous two-segment fit.

    Candidate breakpoints are the interior x values, then the best is refined between its
    neighbours, so a noiseless piecewise-linear curve is recovered exactly.
    """
    from scipy.optimize import minimize_scalar

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1 or len(x) < 3:
        raise ValueError(f"need two 1-D arrays of the same length >= 3, got {x.shape} and {y.shape}")
    order = np.argsort(x)
    x, y = x[order], y[order]
    errors = [_hinge_fit(x, y, b)[0] for b in x[1:-1]]
    best = int(np.argmin(errors)) + 1
    refined = minimize_scalar(
        lambda b: _hinge_fit(x, y, b)[0], bounds=(x[best - 1], x[best + 1]), method="bounded", options={"xatol": 1e-9}
    )
    breakpoint = float(refined.x) if refined.fun < errors[best - 1] else float(x[best])
    error, (intercept, before, after) = _hinge_fit(x, y, breakpoint)
    total = float(np.sum((y - y.mean()) ** 2))
    line = _line(x, y)
    return Bend(
        breakpoint,
        float(before),
        float(after),
        float(intercept),
        1 - error / total if total > 0 else 1.0,
        line.r_squared,
    )
