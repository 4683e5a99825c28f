"""Entropy and intrinsic dimension of point clouds: numpy and scipy only, nats throughout.

- ``loo_kde_entropy``: leave-one-out Gaussian-KDE entropy
  H = -(1/N) sum_i ln[(1/(N-1)) sum_{j != i} K_h(z_i - z_j)], scalar bandwidth h chosen by
  ``loo-ml`` (maximise the leave-one-out likelihood, i.e. minimise H), ``scott`` or
  ``silverman`` (rules of thumb on the mean variance), or given; rows optionally
  standardised first. Pairwise work runs in row blocks: memory O(block x N).
- ``monte_carlo_entropy``: -mean ln p_hat(x) over held-out points, p_hat the KDE of the
  reference points.
- ``correlation_dimension``: Grassberger-Procaccia, the slope of ln C(r) against ln r,
  C(r) the share of pairs closer than r, over r between two pair-distance quantiles;
  above ``max_pairs`` pairs a seeded random subset of pairs is used.
- ``twonn_dimension``: TwoNN (Facco et al., Sci. Rep. 7:12140, 2017), the Pareto exponent of
  the ratios of each point's second to first neighbour distance.
- ``two_segment_fit``: a continuous two-segment least-squares fit (a hinge) that locates the
  bend of a curve such as H(d).

References: P. Grassberger & I. Procaccia, Physica D 9 (1983); E. Facco, M. d'Errico, A. Rodriguez
& A. Laio, Sci. Rep. 7:12140 (2017); B. W. Silverman, Density Estimation (1986); D. W. Scott,
Multivariate Density Estimation (1992).

scipy is imported inside the functions that need it: every stage imports this module's names.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

BANDWIDTH_RULES = ("loo-ml", "scott", "silverman")
DEFAULT_BLOCK = 512


def _as_points(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim == 1:
        points = points[:, None]
    if points.ndim != 2 or len(points) < 3:
        raise ValueError(f"need an array (n_points >= 3, n_dims), got shape {points.shape}")
    if not np.isfinite(points).all():
        raise ValueError("points contain non-finite values")
    return points


def standardise(points: np.ndarray) -> np.ndarray:
    """Each column shifted to mean 0 and scaled to variance 1 (constant columns only shifted)."""
    points = _as_points(points)
    scale = points.std(axis=0)
    return (points - points.mean(axis=0)) / np.where(scale > 0, scale, 1.0)


def _squared_distance_blocks(queries: np.ndarray, reference: np.ndarray, block: int) -> Iterator[tuple[slice, np.ndarray]]:
    reference_norms = np.einsum("ij,ij->i", reference, reference)
    for start in range(0, len(queries), block):
        rows = slice(start, min(start + block, len(queries)))
        part = queries[rows]
        squared = np.einsum("ij,ij->i", part, part)[:, None] + reference_norms[None, :] - 2.0 * part @ reference.T
        yield rows, np.maximum(squared, 0.0)


class _KernelSums:
    """ln sum_j exp(-|q - r_j|^2 / (2 h^2)) per query for any bandwidth h (the self pair left out when the
    queries are the reference).

    Each block's squared distances are shifted by their row minimum, so the exponent is <= 0 and
    no max-subtraction is needed per bandwidth; the blocks are kept between bandwidths while they
    fit in ``cache_bytes`` (a bandwidth search then costs one exp pass per step) and recomputed
    otherwise (memory O(block x N)).
    """

    def __init__(self, queries: np.ndarray, reference: np.ndarray, leave_one_out: bool, block: int, cache_bytes: int = 2**28):
        self.queries, self.reference, self.leave_one_out, self.block = queries, reference, leave_one_out, block
        self.cached = [self._shifted(rows, squared) for rows, squared in self._blocks()] if 8 * len(queries) * len(reference) <= cache_bytes else None

    def _blocks(self):
        return _squared_distance_blocks(self.queries, self.reference, self.block)

    def _shifted(self, rows: slice, squared: np.ndarray) -> tuple[slice, np.ndarray, np.ndarray]:
        if self.leave_one_out:
            squared[np.arange(rows.stop - rows.start), np.arange(rows.start, rows.stop)] = np.inf
        nearest = squared.min(axis=1)
        squared -= nearest[:, None]
        return rows, squared, nearest

    def __call__(self, bandwidth: float) -> np.ndarray:
        scale = -0.5 / bandwidth**2
        sums = np.empty(len(self.queries))
        blocks = self.cached if self.cached is not None else (self._shifted(rows, squared) for rows, squared in self._blocks())
        for rows, shifted, nearest in blocks:
            sums[rows] = np.log(np.exp(shifted * scale).sum(axis=1)) + nearest * scale
        return sums


def _log_normaliser(bandwidth: float, n_dims: int) -> float:
    return -0.5 * n_dims * np.log(2.0 * np.pi * bandwidth**2)


def loo_log_likelihood(points: np.ndarray, bandwidth: float, block: int = DEFAULT_BLOCK, kernel_sums: _KernelSums | None = None) -> float:
    """Mean leave-one-out log density (nats) of the Gaussian KDE with scalar ``bandwidth``."""
    points = _as_points(points)
    n, d = points.shape
    sums = (kernel_sums or _KernelSums(points, points, True, block))(bandwidth)
    return float(np.mean(sums) - np.log(n - 1) + _log_normaliser(bandwidth, d))


def rule_of_thumb_bandwidth(points: np.ndarray, rule: str) -> float:
    """Scott's n^(-1/(d+4)) or Silverman's (4/(d+2))^(1/(d+4)) n^(-1/(d+4)), times the root mean variance."""
    points = _as_points(points)
    n, d = points.shape
    spread = float(np.sqrt(points.var(axis=0).mean()))
    if rule == "scott":
        factor = n ** (-1.0 / (d + 4))
    elif rule == "silverman":
        factor = (4.0 / (d + 2)) ** (1.0 / (d + 4)) * n ** (-1.0 / (d + 4))
    else:
        raise ValueError(f"unknown bandwidth rule {rule!r}; known: {', '.join(BANDWIDTH_RULES)}")
    return max(spread, np.finfo(float).tiny) * factor


def loo_ml_bandwidth(points: np.ndarray, block: int = DEFAULT_BLOCK) -> float:
    """The scalar bandwidth maximising the leave-one-out likelihood, searched on log h around Silverman's."""
    from scipy.optimize import minimize_scalar

    points = _as_points(points)
    guess = np.log(rule_of_thumb_bandwidth(points, "silverman"))
    sums = _KernelSums(points, points, True, block)
    result = minimize_scalar(lambda log_h: -loo_log_likelihood(points, float(np.exp(log_h)), block, sums), bounds=(guess - 5.0, guess + 3.0), method="bounded", options={"xatol": 1e-4})
    return float(np.exp(result.x))


def choose_bandwidth(points: np.ndarray, bandwidth: str | float, block: int = DEFAULT_BLOCK) -> float:
    if isinstance(bandwidth, str):
        return loo_ml_bandwidth(points, block) if bandwidth == "loo-ml" else rule_of_thumb_bandwidth(points, bandwidth)
    if not bandwidth > 0:
        raise ValueError(f"bandwidth must be > 0, got {bandwidth}")
    return float(bandwidth)


def loo_kde_entropy(points: np.ndarray, bandwidth: str | float = "loo-ml", standardised: bool = False, block: int = DEFAULT_BLOCK) -> float:
    """Leave-one-out KDE entropy (nats) of a point cloud (n_points, n_dims).

    Duplicate points make ``loo-ml`` collapse the bandwidth (each point is best explained by its
    twin): deduplicate or add noise first when points repeat.
    """
    points = standardise(points) if standardised else _as_points(points)
    return -loo_log_likelihood(points, choose_bandwidth(points, bandwidth, block), block)


def monte_carlo_entropy(reference: np.ndarray, held_out: np.ndarray, bandwidth: str | float = "loo-ml", block: int = DEFAULT_BLOCK) -> float:
    """-mean ln p_hat(x) over ``held_out`` points, p_hat the Gaussian KDE of ``reference`` (bandwidth chosen on it)."""
    reference, held_out = _as_points(reference), _as_points(held_out)
    if reference.shape[1] != held_out.shape[1]:
        raise ValueError(f"reference has {reference.shape[1]} dimensions, held-out points {held_out.shape[1]}")
    h = choose_bandwidth(reference, bandwidth, block)
    sums = _KernelSums(held_out, reference, False, block, cache_bytes=0)(h)
    return float(-(np.mean(sums) - np.log(len(reference)) + _log_normaliser(h, reference.shape[1])))


def pair_distances(points: np.ndarray, max_pairs: int = 500_000, seed: int = 0) -> np.ndarray:
    """Distances of all pairs, or of ``max_pairs`` random distinct pairs (seeded) when there are more."""
    points = _as_points(points)
    n = len(points)
    total = n * (n - 1) // 2
    if total <= max_pairs:
        from scipy.spatial.distance import pdist

        return pdist(points)
    generator = np.random.default_rng(seed)
    first = generator.integers(0, n, max_pairs)
    second = (first + generator.integers(1, n, max_pairs)) % n  # never the point itself
    return np.linalg.norm(points[first] - points[second], axis=1)


@dataclass(frozen=True)
class Line:
    slope: float
    intercept: float
    r_squared: float


def correlation_dimension(points: np.ndarray, q_low: float = 0.001, q_high: float = 0.05, n_radii: int = 20, max_pairs: int = 500_000, seed: int = 0) -> float:
    """Grassberger-Procaccia dimension: slope of ln C(r) on ln r for r between the q_low and q_high pair-distance quantiles.

    It cannot resolve dimensions above ~2 log10 N: the scaling range needs pairs at small r.
    """
    return correlation_fit(points, q_low, q_high, n_radii, max_pairs, seed).slope


def correlation_fit(points: np.ndarray, q_low: float = 0.001, q_high: float = 0.05, n_radii: int = 20, max_pairs: int = 500_000, seed: int = 0) -> Line:
    """The least-squares line through (ln r, ln C(r)) behind ``correlation_dimension``."""
    if not 0 < q_low < q_high <= 1:
        raise ValueError(f"need 0 < q_low < q_high <= 1, got {q_low}, {q_high}")
    distances = np.sort(pair_distances(points, max_pairs, seed))
    distances = distances[distances > 0]
    if len(distances) < 10:
        raise ValueError("fewer than 10 distinct pairs: the correlation dimension is undefined")
    low, high = np.quantile(distances, [q_low, q_high])
    if not high > low:
        raise ValueError(f"the {q_low} and {q_high} distance quantiles coincide ({low}); widen the scaling range")
    radii = np.geomspace(low, high, n_radii)
    share = np.searchsorted(distances, radii, side="right") / len(distances)
    return _line(np.log(radii), np.log(share))


def _line(x: np.ndarray, y: np.ndarray) -> Line:
    slope, intercept = np.polyfit(x, y, 1)
    residual = y - (slope * x + intercept)
    total = np.sum((y - y.mean()) ** 2)
    return Line(float(slope), float(intercept), float(1 - residual @ residual / total) if total > 0 else 1.0)


def twonn_dimension(points: np.ndarray, discard_fraction: float = 0.1) -> float:
    """TwoNN: mu = r2 / r1 per point follows a Pareto law F(mu) = 1 - mu^-d; d is the slope through the
    origin of -ln(1 - F) against ln mu, fitted on all but the largest ``discard_fraction`` of the ratios
    (Facco et al. 2017). Duplicate points are merged first (a zero first-neighbour distance has no ratio).
    """
    from scipy.spatial import cKDTree

    points = np.unique(_as_points(points), axis=0)
    if len(points) < 3:
        raise ValueError("fewer than 3 distinct points: the TwoNN dimension is undefined")
    distances, _ = cKDTree(points).query(points, k=3)
    ratios = np.sort(distances[:, 2] / distances[:, 1])
    n = len(ratios)
    kept = max(2, int(np.floor(n * (1 - discard_fraction))))
    x = np.log(ratios[:kept])
    y = -np.log(1.0 - np.arange(kept) / n)
    return float(x @ y / (x @ x))


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
    refined = minimize_scalar(lambda b: _hinge_fit(x, y, b)[0], bounds=(x[best - 1], x[best + 1]), method="bounded", options={"xatol": 1e-9})
    breakpoint = float(refined.x) if refined.fun < errors[best - 1] else float(x[best])
    error, (intercept, before, after) = _hinge_fit(x, y, breakpoint)
    total = float(np.sum((y - y.mean()) ** 2))
    line = _line(x, y)
    return Bend(breakpoint, float(before), float(after), float(intercept), 1 - error / total if total > 0 else 1.0, line.r_squared)
