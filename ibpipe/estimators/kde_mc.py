"""Monte Carlo entropy and informations of the KDE's Gaussian mixture (sample propagation).

The layer is read as T + Z, Z ~ N(0, s2 I): the equal-weight mixture g(t) = (1/n) sum_i
phi_s2(t - s_i) of the n observed rows s_i. With C_ij ~ N(0, s2 I), j = 1..n_mc draws per row,

    h(T + Z) = -(1/(n n_mc)) sum_i sum_j ln g(s_i + C_ij)                    (nats)
    I(X;T)   = (1/(n n_mc)) sum_ij ln[g_x(s_i + C_ij) / g(s_i + C_ij)]
    I(T;Y)   = (1/(n n_mc)) sum_ij ln[g_y(s_i + C_ij) / g(s_i + C_ij)]

g_x is the mixture over the rows of row i's input (one Gaussian when inputs are distinct,
so h(T|X) = (d/2) ln(2 pi e s2) in expectation) and g_y the mixture over row i's class. The
same draws enter numerator and denominator, so the ratios are low-variance and
0 <= I(X;T) <= H(X), I(T;Y) <= H(Y) hold draw by draw (up to the last term's sign). It is
unbiased for the mixture entropy that the pairwise bounds bracket:
kde-lower <= kde-mc <= kde-upper up to Monte Carlo error. Cost O(n^2 n_mc d) at worst, in row
blocks along the first principal axis that skip centres out of the kernel's reach.

References: Z. Goldfeld, E. van den Berg, K. Greenewald, I. Melnyk, N. Nguyen, B. Kingsbury
& Y. Polyanskiy, "Estimating information flow in deep neural networks", ICML (2019);
A. Kolchinsky & B. D. Tracey, Entropy 19:361 (2017).
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from ibpipe.estimators.groups import equal_size_groups
from ibpipe.estimators.kde import NEGLIGIBLE_EXPONENT
from ibpipe.estimators.pairwise import principal_axis
from ibpipe.estimators.settings import default
from ibpipe.units import from_nats

DEFAULT_BLOCK_ROWS = 64


def _log_kernel_sums(noisy: np.ndarray, centres: np.ndarray, class_columns: np.ndarray, noise_variance: float):
    """The row shift and the shifted kernel sums exp(-|t - s_j|^2 / (2 s2) - shift) per class, (points, classes)."""
    exponent = 2.0 * noisy @ centres.T
    exponent -= np.einsum("ij,ij->i", noisy, noisy)[:, None]
    exponent -= np.einsum("ij,ij->i", centres, centres)[None, :]
    exponent /= 2.0 * noise_variance
    np.minimum(exponent, 0.0, out=exponent)
    shift = exponent.max(axis=1)
    np.exp(exponent - shift[:, None], out=exponent)
    return shift, exponent @ class_columns


def kde_mc_information(
    activations: np.ndarray,
    labels: np.ndarray,
    noise_variance: float = default("noise_variance"),
    *,
    x_ids: np.ndarray | None = None,
    noise_draws: int = default("noise_draws"),
    seed: int | None = default("seed"),
    block_rows: int = DEFAULT_BLOCK_ROWS,
    base: float = 2.0,
) -> dict[str, float]:
    """h(T + Z), I(X;T), I(T;Y) of the Gaussian mixture by Monte Carlo, in units of log ``base``.

    Parameters
    ----------
    activations : (n_samples, n_units) floats; labels : (n_samples,) integer classes.
    noise_variance : s2 > 0. x_ids : which input each row came from (None: all distinct).
    noise_draws : noise draws per row (n_mc). seed : seed of the draws.

    Rows are visited in blocks along the first principal axis, and a block's noisy points meet
    only the centres within reach on that axis: a point t = s_i + C is |C| from its own centre,
    so a centre farther than sqrt(|C|^2 + 2 s2 * 40) adds less than e^-40 of the own centre's
    kernel to every sum it enters (all rows together: below N e^-40 ~ 1e-14 relative at N = 4096).
    """
    if noise_variance <= 0:
        raise ValueError(f"noise_variance must be > 0, got {noise_variance}")
    if noise_draws < 1:
        raise ValueError(f"noise_draws must be >= 1, got {noise_draws}")
    n_draws = noise_draws
    points = np.asarray(activations, dtype=np.float64)
    points = (points[:, None] if points.ndim == 1 else points) - points.mean(axis=0)
    _, classes = np.unique(np.asarray(labels), return_inverse=True)
    classes = classes.ravel()
    n_samples, dimension = points.shape
    noise = np.random.default_rng(seed).normal(scale=np.sqrt(noise_variance), size=(n_samples, n_draws, dimension))
    squared_noise = np.einsum("ijk,ijk->ij", noise, noise)  # |C_ij|^2: each block's reach, and h(T|X)
    sizes = np.bincount(classes)
    axis = principal_axis(points)
    projection = points @ axis
    order = np.argsort(projection, kind="stable")
    centres, centre_projection = points[order], projection[order]
    class_columns = np.zeros((n_samples, len(sizes)))
    class_columns[np.arange(n_samples), classes[order]] = 1.0
    own_reach = 2.0 * noise_variance * NEGLIGIBLE_EXPONENT
    log_all = np.empty((n_samples, n_draws))
    log_class = np.empty((n_samples, n_draws))
    for start in range(0, n_samples, block_rows):
        rows = order[start : start + block_rows]
        noisy = (points[rows, None, :] + noise[rows]).reshape(-1, dimension)
        noisy_projection = noisy @ axis
        reach = np.sqrt(np.max(squared_noise[rows]) + own_reach)
        low = int(np.searchsorted(centre_projection, noisy_projection.min() - reach, side="left"))
        high = int(np.searchsorted(centre_projection, noisy_projection.max() + reach, side="right"))
        shift, by_class = _log_kernel_sums(noisy, centres[low:high], class_columns[low:high], noise_variance)
        own = np.repeat(classes[rows], n_draws)
        log_all[rows] = (shift + np.log(by_class.sum(axis=1) / n_samples)).reshape(len(rows), n_draws)
        log_class[rows] = (shift + np.log(by_class[np.arange(len(own)), own] / sizes[own])).reshape(len(rows), n_draws)
    log_input = _log_own_input_means(points, noise, squared_noise, x_ids, noise_variance)
    entropy = -float(np.mean(log_all)) + 0.5 * dimension * np.log(2 * np.pi * noise_variance)
    return {
        "H_T": from_nats(entropy, base),
        "I_XT": from_nats(float(np.mean(log_input - log_all)), base),
        "I_TY": from_nats(float(np.mean(log_class - log_all)), base),
    }


def _log_own_input_means(
    points: np.ndarray, noise: np.ndarray, squared_noise: np.ndarray, x_ids, noise_variance: float
) -> np.ndarray:
    """ln mean_{j: x_j = x_i} exp(-|s_i + C - s_j|^2 / (2 s2)) per row i and draw (j = i alone for distinct inputs)."""
    if x_ids is None or len(np.unique(x_ids)) == len(points):
        return -squared_noise / (2.0 * noise_variance)
    result = np.empty(noise.shape[:2])
    n_draws = noise.shape[1]
    for rows in equal_size_groups(x_ids, rows_per_member=n_draws):
        centres = points[rows]  # (groups, size, d)
        noisy = (centres[:, :, None, :] + noise[rows]).reshape(len(rows), -1, points.shape[1])
        squared = (
            np.einsum("gpd,gpd->gp", noisy, noisy)[:, :, None]
            + np.einsum("gsd,gsd->gs", centres, centres)[:, None, :]
            - 2.0 * noisy @ centres.transpose(0, 2, 1)
        )
        means = logsumexp(-np.maximum(squared, 0.0) / (2.0 * noise_variance), axis=2) - np.log(rows.shape[1])
        result[rows] = means.reshape(rows.shape[0], rows.shape[1], n_draws)
    return result
