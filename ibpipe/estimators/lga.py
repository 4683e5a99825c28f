"""Local Gaussian approximation (LGA) of entropy and mutual information (Gao, Ver Steeg & Galstyan 2015).

At every sample x_i a Gaussian density is fitted by local likelihood (Hjort & Jones 1996; Loader
1996): with kernel weights w_ij = exp(-|x_j - x_i|^2 / (2 h_i^2)) the local log-likelihood

    L_i(f) = sum_{j != i} w_ij ln f(x_j) - (N - 1) integral exp(-|u - x_i|^2 / (2 h_i^2)) f(u) du

is maximised over log-quadratic densities ln f(u) = a0 + a1.(u - x_i) - (u - x_i)' A (u - x_i) / 2 (a
Gaussian of free scale, the local log-quadratic family, so that no iterative optimisation is needed).
Its stationarity conditions say that the kernel-weighted Gaussian f K matches
the weighted moments of the neighbours, which gives the maximiser in closed form: with S0 = sum_j w_ij,
mu_i = sum_j w_ij (x_j - x_i) / S0 and Sigma_i = sum_j w_ij (x_j - x_i - mu_i)(x_j - x_i - mu_i)' / S0,

    ln f_hat(x_i) = ln(S0 / (N - 1)) - (d/2) ln(2 pi) - (1/2) ln det Sigma_i - (1/2) mu_i' Sigma_i^-1 mu_i

and the entropy by resubstitution, H = -(1/N) sum_i ln f_hat(x_i); I(A;B) = H(A) + H(B) - H(A,B).
A Gaussian density is log-quadratic, so the fit is exact in the population for any bandwidth: the
estimate has no smoothing bias on Gaussians, and on a thin, strongly dependent pair (y = x + small noise)
the local covariance follows the thin direction, where k-NN estimators such as KSG assume the density
uniform over a box and underestimate I (Gao, Ver Steeg & Galstyan, AISTATS 2015).

Choices made here:

- bandwidth: h_i = rho_k(i) V_d^(1/d) / sqrt(2 pi), rho_k(i) the Euclidean distance of x_i to its k-th
  nearest other sample, V_d the volume of the unit d-ball: where the density is locally flat the kernel
  weights then sum to about k, so ``n_neighbors`` is the effective size of every local fit in any
  dimension. The local covariance has d(d + 1)/2 entries: k must be well above that.
- the sums run over every other sample (no truncation: the kernel is exactly Gaussian, so the fit is
  exactly the local-likelihood maximiser), in row blocks within ``estimate.memory_limit`` (BLAS; time
  O(N^2 (d + d^2)), memory O(block N)), or in 1-D and 2-D by a compiled sweep over the rows sorted by
  their first column that skips the weights below exp(-40), each < 5e-18 of a neighbour's.
- x_i itself is left out of its own fit (leave-one-out): with k effective neighbours its weight 1
  would pull f_hat(x_i) up by O(1/k) and H down.
- the columns are first centred and scaled to unit variance, and H shifted back by sum ln(std): the
  estimate is invariant to the units of each column.

Known biases: a local covariance from about k weighted points is noisy, and ln det of a noisy
covariance is biased down, so at small k (below about 10 in 1-D, more in higher dimensions) H comes out
high; near a boundary or a kink of the density (uniform, Laplace) or in heavy tails the log-quadratic
model is wrong at the bandwidth's scale (on sinh of a Gaussian pair at rho 0.999, N = 1000, I came out
0.09 nats low where KSG was within 0.01). A row far outside its own fit (an isolated point of a heavy
tail: squared Mahalanobis distance above ``LOST_FIT``) makes the estimate NaN with a warning. On
Gaussians at N = 2000 the mean errors over 8 seeds were below 0.01 nats (d = 1, 3); in MI the biases of
the three entropies largely cancel.

References: S. Gao, G. Ver Steeg & A. Galstyan, "Estimating mutual information by local Gaussian
approximation", UAI (2015), arXiv:1508.00536; S. Gao, G. Ver Steeg & A. Galstyan, "Efficient estimation
of mutual information for strongly dependent variables", AISTATS (2015); N. L. Hjort & M. C. Jones,
"Locally parametric nonparametric density estimation", Ann. Statist. 24(4) (1996); C. R. Loader, "Local
likelihood density estimation", Ann. Statist. 24(4) (1996).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import gammaln

from ibpipe.estimators.pairwise import block_rows
from ibpipe.units import from_nats

LGA_NEIGHBOURS = 30  # the default effective neighbours of a local fit
MAX_UNITS = 32  # wider layers are not measured by the pipeline estimator (NaN): O(N^2 d^2), ~d^2/2 moments per row
SWEEP_MAX_DIMS = 2  # up to here the compiled sweep over a sorted column; above, BLAS blocks are faster
# Weights exp(-e) with e above this are skipped by the sweep: each is < 5e-18 of one neighbour's weight.
NEGLIGIBLE_EXPONENT = 40.0
BLOCK_ROWS = 512  # rows per block at most: larger (rows x N) blocks fall out of cache and run slower
# A row this many squared standard deviations from its own local fit is not described by it: measured on the
# ground-truth tasks, healthy fits stay below ~60, while Cauchy tails reach 1e4-1e7 (and 2688 bits at N = 500).
LOST_FIT = 1000.0


def _as_points(values: np.ndarray) -> np.ndarray:
    points = np.asarray(values, dtype=np.float64)
    return points[:, None] if points.ndim == 1 else points


def _bandwidth_scale(dimension: int) -> float:
    """V_d^(1/d) / sqrt(2 pi): a Gaussian kernel of this width times rho_k holds about k flat-density points."""
    log_volume = 0.5 * dimension * np.log(np.pi) - gammaln(0.5 * dimension + 1)
    return float(np.exp(log_volume / dimension) / np.sqrt(2 * np.pi))


def _kth_distance(points: np.ndarray, k: int) -> np.ndarray:
    from ibpipe.estimators.neighbours import kneighbors

    return kneighbors(points, k, distances_only=True)[0][:, -1]


def lga_log_densities(
    points: np.ndarray, n_neighbors: int = LGA_NEIGHBOURS, *, sweep: bool | None = None
) -> np.ndarray:
    """ln f_hat(x_i) (nats) of every row of ``points`` (n,) or (n, d), each from its local Gaussian fit.

    ``points`` must already be in the units the caller wants (no standardisation here). ``sweep``: the
    compiled windowed sweep (few dimensions) or row blocks against all rows (BLAS); None picks by dimension.
    Both give the same numbers up to rounding and the skipped weights below exp(-NEGLIGIBLE_EXPONENT).
    """
    points = _as_points(points)
    n, d = points.shape
    k = n_neighbors
    if not 1 <= k < n:
        raise ValueError(f"lga's neighbours (n_neighbors, lga_neighbors) must be in 1..{n - 1} for {n} rows, got {k}")
    kth = _kth_distance(points, k)
    if np.any(kth <= 0):
        raise ValueError(
            f"rows repeat {k + 1} or more times (zero distance to the k-th neighbour): the local Gaussian fit needs "
            "distinct rows; add noise or raise n_neighbors"
        )
    inverse_two_h2 = 1.0 / (2.0 * (kth * _bandwidth_scale(d)) ** 2)
    upper = np.triu_indices(d)
    if sweep if sweep is not None else (numba is not None and d <= SWEEP_MAX_DIMS):
        sums = _sweep_sums(points, inverse_two_h2)
    else:
        sums = _blocked_sums(points, inverse_two_h2, upper)
    return _log_density(sums, points, upper, n - 1)


def _blocked_sums(points: np.ndarray, inverse_two_h2: np.ndarray, upper) -> np.ndarray:
    """[S0, sum_j w_ij x_j, sum_j w_ij x_j x_j' (upper triangle)] of every row, by blocks of rows x all rows."""
    n = len(points)
    # Columns summed under the kernel: 1, x, and the upper triangle of x x'.
    moments = np.hstack([np.ones((n, 1)), points, (points[:, :, None] * points[:, None, :])[:, upper[0], upper[1]]])
    norms = np.einsum("ij,ij->i", points, points)
    sums = np.empty((n, moments.shape[1]))
    rows = max(1, min(n, BLOCK_ROWS, block_rows(n, arrays=3)))
    for start in range(0, n, rows):
        stop = min(n, start + rows)
        weights = points[start:stop] @ points.T  # becomes -|x_j - x_i|^2 / (2 h_i^2), then the weights, in place
        weights *= -2.0
        weights += norms[start:stop, None]
        weights += norms[None, :]
        np.maximum(weights, 0.0, out=weights)
        weights *= -inverse_two_h2[start:stop, None]
        np.exp(weights, out=weights)
        weights[np.arange(stop - start), np.arange(start, stop)] = 0.0  # leave x_i out of its own fit
        sums[start:stop] = weights @ moments
    return sums


def _sweep_sums(points: np.ndarray, inverse_two_h2: np.ndarray) -> np.ndarray:
    """The same sums by the compiled sweep: rows sorted by their first column, each row visiting only the rows
    whose first column lies within the reach of its kernel (weights below exp(-NEGLIGIBLE_EXPONENT) skipped)."""
    order = np.argsort(points[:, 0], kind="stable")
    reach = np.sqrt(NEGLIGIBLE_EXPONENT / inverse_two_h2[order])
    sums = np.empty((len(points), 1 + points.shape[1] * (points.shape[1] + 3) // 2))
    sums[order] = _sweep(np.ascontiguousarray(points[order]), inverse_two_h2[order], reach)
    return sums


def _log_density(sums: np.ndarray, centres: np.ndarray, upper: tuple[np.ndarray, np.ndarray], n_other: int):
    """ln f_hat at ``centres`` from the kernel sums [S0, sum w x, sum w x x' (upper triangle)] of each row."""
    d = centres.shape[1]
    s0 = sums[:, 0]
    mean = sums[:, 1 : 1 + d] / s0[:, None]
    second = np.empty((len(sums), d, d))
    second[:, upper[0], upper[1]] = sums[:, 1 + d :] / s0[:, None]
    second[:, upper[1], upper[0]] = second[:, upper[0], upper[1]]
    covariance = second - mean[:, :, None] * mean[:, None, :]
    offset = mean - centres
    try:
        cholesky = np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        raise ValueError(
            f"a local covariance is singular: the weighted neighbours of some row span fewer than {d} dimensions "
            "(rows on a subspace, or too few neighbours): raise n_neighbors or add noise"
        ) from None
    half_log_det = np.log(np.diagonal(cholesky, axis1=1, axis2=2)).sum(axis=1)
    whitened = np.linalg.solve(cholesky, offset[:, :, None])[:, :, 0]
    mahalanobis = np.einsum("ij,ij->i", whitened, whitened)
    if mahalanobis.max() > LOST_FIT:
        warnings.warn(
            f"lga: {int((mahalanobis > LOST_FIT).sum())} row(s) lie far outside their own local Gaussian fit "
            f"(squared Mahalanobis distance up to {mahalanobis.max():.3g}): heavy tails or isolated points, where "
            "the local fits do not describe the density; the estimate is NaN. Use ksg, or a monotone map such as "
            "asinh of each column (it leaves I unchanged)",
            RuntimeWarning,
            stacklevel=2,
        )
        return np.full(len(centres), np.nan)
    return np.log(s0 / n_other) - 0.5 * d * np.log(2 * np.pi) - half_log_det - 0.5 * mahalanobis


def _standardised(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Columns centred and scaled to unit variance, and sum ln(std) (the entropy's shift back)."""
    scale = points.std(axis=0)
    if np.any(scale == 0):
        raise ValueError("a constant column has no differential entropy (its density is a point mass)")
    return (points - points.mean(axis=0)) / scale, float(np.log(scale).sum())


def lga_entropy_nats(points: np.ndarray, n_neighbors: int = LGA_NEIGHBOURS) -> float:
    """Differential entropy (nats) of the rows of ``points`` (n,) or (n, d) by local Gaussian approximation."""
    standard, shift = _standardised(_as_points(points))
    return float(-np.mean(lga_log_densities(standard, n_neighbors)) + shift)


def lga_information_nats(a: np.ndarray, b: np.ndarray, n_neighbors: int = LGA_NEIGHBOURS) -> float:
    """I(A;B) = H(A) + H(B) - H(A,B) in nats, each entropy by local Gaussian approximation (raw: may be < 0)."""
    a, b = _as_points(a), _as_points(b)
    if len(a) != len(b):
        raise ValueError(f"a has {len(a)} rows but b has {len(b)}: the rows must be paired samples")
    joint = np.hstack([a, b])
    return lga_entropy_nats(a, n_neighbors) + lga_entropy_nats(b, n_neighbors) - lga_entropy_nats(joint, n_neighbors)


def _with_noise(rows: np.ndarray, noise_std: float, generator: np.random.Generator, min_rows: int):
    """rows + N(0, noise_std^2 I), each row drawn ceil(min_rows / len(rows)) times (at least once), and the
    index of the row each draw came from."""
    draws = max(1, -(-min_rows // len(rows)))
    origin = np.repeat(np.arange(len(rows)), draws)
    return rows[origin] + generator.normal(scale=noise_std, size=(len(origin), rows.shape[1])), origin


def _mean_group_entropy_nats(
    points: np.ndarray,
    noisy: np.ndarray,
    origin: np.ndarray,
    groups: np.ndarray,
    noise_std: float,
    n_neighbors: int,
    generator: np.random.Generator,
) -> float:
    """sum_g p(g) H(T + Z | g): the closed form H(Z) for a group of equal rows, else LGA on the group's noisy
    rows (the draws of the marginal, topped up with fresh draws to d + 2 rows)."""
    n, dimension = points.shape
    noise_entropy = 0.5 * dimension * np.log(2 * np.pi * np.e * noise_std**2)
    values, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    total = 0.0
    for index in range(len(values)):
        members = points[inverse == index]
        if np.all(members == members[0]):
            total += counts[index] * noise_entropy
            continue
        rows = noisy[inverse[origin] == index]
        if len(rows) < dimension + 2:
            rows = np.vstack([rows, _with_noise(members, noise_std, generator, dimension + 2 - len(rows))[0]])
        total += counts[index] * lga_entropy_nats(rows, min(n_neighbors, len(rows) - 1))
    return total / n


def lga_information(
    activations: np.ndarray,
    labels: np.ndarray,
    noise_variance: float = 1.0e-3,
    lga_neighbors: int = LGA_NEIGHBOURS,
    seed: int | None = 0,
    *,
    x_ids: np.ndarray | None = None,
    base: float = 2.0,
) -> dict[str, float]:
    """H(T + Z), I(X;T) and I(T;Y) of a layer by local Gaussian approximation, Z ~ N(0, noise_variance I).

    As for the KDE bounds (Saxe et al. 2018), the layer is measured with Gaussian noise added, one
    seeded draw per row: I(X;T) = H(T + Z) - H(T + Z | X), where H(T + Z | X = x) is the closed form
    (d/2) ln(2 pi e s2) when the rows of input x are equal (every row its own input when ``x_ids`` is
    None) and the LGA entropy of that input's noisy rows otherwise; I(T;Y) = H(T + Z) - sum_y p(y)
    H(T + Z | Y = y), each class's entropy by LGA on its own noisy rows (the same draws). A set of fewer
    than d + 2 rows (what a local covariance needs) gets extra noise draws; each fit uses
    min(lga_neighbors, rows - 1) neighbours. With noise far narrower than the spacing of the rows, one
    draw per row looks like a smooth density and I(X;T) reaches H(X) (the caller clips it there), as the
    KDE upper bound does: LGA treats the rows as a sample of a continuous T and does not resolve the
    narrow components of a deterministic layer (kde-* and knn do), so its I(T;Y) is how the classes
    separate at the sample's scale. Layers wider than ``MAX_UNITS`` give NaN and a ``RuntimeWarning``.
    """
    if noise_variance <= 0:
        raise ValueError(f"noise_variance must be > 0 for the lga estimator, got {noise_variance}")
    points = _as_points(activations)
    labels = np.asarray(labels).ravel()
    dimension = points.shape[1]
    if dimension > MAX_UNITS:
        message = f"lga measures layers of at most {MAX_UNITS} units (a d x d covariance per row), not {dimension}: NaN"
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return dict.fromkeys(("H_T", "I_XT", "I_TY"), float("nan"))
    noise_std = float(np.sqrt(noise_variance))
    generator = np.random.default_rng(seed)
    noisy, origin = _with_noise(points, noise_std, generator, dimension + 2)
    entropy = lga_entropy_nats(noisy, min(lga_neighbors, len(noisy) - 1))
    inputs = np.arange(len(points)) if x_ids is None else np.asarray(x_ids).ravel()
    conditional = {}
    for quantity, groups in (("I_XT", inputs), ("I_TY", labels)):
        conditional[quantity] = _mean_group_entropy_nats(
            points, noisy, origin, groups, noise_std, lga_neighbors, generator
        )
    return {
        "H_T": from_nats(entropy, base),
        "I_XT": from_nats(entropy - conditional["I_XT"], base),
        "I_TY": from_nats(entropy - conditional["I_TY"], base),
    }


# --- compiled sweep (numba): rows sorted by the first column, a window of reach per row ----------------------

try:  # numba is a dependency; without it the BLAS blocks answer the same
    import numba
except ImportError:  # pragma: no cover
    numba = None

if numba is not None:

    @numba.njit(parallel=True, cache=True)
    def _sweep(points, inverse_two_h2, reach):  # pragma: no cover - compiled
        n, d = points.shape
        width = 1 + d + d * (d + 1) // 2
        sums = np.zeros((n, width))
        for i in numba.prange(n):
            for direction in (-1, 1):
                j = i + direction
                while 0 <= j < n and abs(points[j, 0] - points[i, 0]) <= reach[i]:
                    squared = 0.0
                    for a in range(d):
                        difference = points[j, a] - points[i, a]
                        squared += difference * difference
                    exponent = squared * inverse_two_h2[i]
                    if exponent <= NEGLIGIBLE_EXPONENT:
                        weight = np.exp(-exponent)
                        sums[i, 0] += weight
                        column = 1 + d
                        for a in range(d):
                            weighted = weight * points[j, a]
                            sums[i, 1 + a] += weighted
                            for b in range(a, d):
                                sums[i, column] += weighted * points[j, b]
                                column += 1
                    j += direction
        return sums
