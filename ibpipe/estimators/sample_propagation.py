"""Sample propagation (SP) for noisy networks (Goldfeld, van den Berg, Greenewald, Melnyk, Nguyen, Kingsbury &
Polyanskiy, "Estimating information flow in deep neural networks", ICML 2019): numpy arrays in, bits out.

A noisy layer is T = S + Z with Z ~ N(0, beta^2 I_d) independent of everything, S = f(T_prev)
the noiseless output of the layer (random given X when earlier layers are noisy). The density
of T is the Gaussian mixture g(t) = (1/n) sum_i phi_beta(t - s_i) over samples s_i of S, and its
differential entropy is estimated by Monte Carlo over the noise:

    h(T) ~ -(1/(n n_mc)) sum_i sum_j ln g(s_i + beta c_ij),  c_ij ~ N(0, I_d),

with a logsumexp over the n components (cost O(n^2 n_mc d), rows in blocks). This is unbiased
for the mixture entropy; the plug-in error for bounded S is O((log n)^{d/4} / sqrt(n))
(Goldfeld, Greenewald & Polyanskiy, "Estimating differential entropy under Gaussian
convolutions", 2019).

I(X;T) = h(T) - sum_x p(x) h(T|X=x). Given X = x, S is a point when no earlier layer is noisy
(the first hidden layer): then T|X=x is N(s_x, beta^2 I), h = (d/2) ln(2 pi e beta^2). Deeper
layers pass the same x through the noisy network n_draws times; the draws are the components
of the conditional mixture. I(T;Y) = h(T) - sum_y p(y) h(T|Y=y) with the label-conditional
mixtures. h(T) and h(T|Y) use the first draw of every row (one sample of S per input).
All three entropies are Monte Carlo means over the same points t = s_i + beta c_ij (common
random numbers), so I(X;T) = mean ln[g_x(t) / g(t)] and I(T;Y) = mean ln[g_y(t) / g(t)]: for
the first layer, whose g_x is the exact conditional density, far-apart centres give exactly
log2 N bits whatever the draws.

Entropies are differential (bits, may be negative); mutual informations are differences of
mixture entropies estimated with independent noise, so Monte Carlo error can make them
slightly negative or slightly above log2 of the number of inputs.
"""

from __future__ import annotations

import math

import numpy as np

from ibpipe.estimators.settings import default

# Rows of (block x n) squared distances per step: 2**22 float64 = 32 MiB.
BLOCK_ELEMENTS = 2**22


def gaussian_entropy_nats(dimension: int, noise_std: float) -> float:
    """(d/2) ln(2 pi e beta^2): the entropy of N(s, beta^2 I_d)."""
    return 0.5 * dimension * math.log(2 * math.pi * math.e * noise_std**2)


def log_mixture_density(points: np.ndarray, centres: np.ndarray, noise_std: float) -> np.ndarray:
    """ln g(t) of the equal-weight mixture (1/n) sum_k N(centres[k], noise_std^2 I) at each of ``points`` (p, d),
    by logsumexp over the components, rows in blocks (memory O(block x n))."""
    points, centres = np.asarray(points, dtype=np.float64), np.asarray(centres, dtype=np.float64)
    n, d = centres.shape
    norms = np.einsum("ij,ij->i", centres, centres)
    block = max(1, BLOCK_ELEMENTS // n)
    out = np.empty(len(points))
    for start in range(0, len(points), block):
        chunk = points[start : start + block]
        squared = np.einsum("ij,ij->i", chunk, chunk)[:, None] - 2 * chunk @ centres.T + norms[None, :]
        exponent = -np.maximum(squared, 0.0) / (2 * noise_std**2)
        top = exponent.max(axis=1, keepdims=True)
        out[start : start + block] = top[:, 0] + np.log(np.exp(exponent - top).sum(axis=1))
    return out - math.log(n) - 0.5 * d * math.log(2 * math.pi * noise_std**2)


def mixture_entropy_nats(
    centres: np.ndarray, noise_std: float, n_mc: int = 1, rng: np.random.Generator | None = None
) -> float:
    """Monte Carlo entropy (nats) of the equal-weight mixture (1/n) sum_i N(centres[i], noise_std^2 I).

    ``centres`` (n, d); each component gets ``n_mc`` noise draws (stratified sampling). Coinciding
    centres: the Gaussian entropy exactly.
    """
    centres = np.asarray(centres, dtype=np.float64)
    if centres.ndim == 1:
        centres = centres[:, None]
    if len(centres) == 0:
        raise ValueError("a mixture needs at least one centre")
    if noise_std <= 0:
        raise ValueError(f"noise_std must be > 0, got {noise_std}")
    if np.all(centres == centres[0]):
        return gaussian_entropy_nats(centres.shape[1], noise_std)
    rng = rng if rng is not None else np.random.default_rng(0)
    points = np.repeat(centres, n_mc, axis=0) + noise_std * rng.standard_normal((len(centres) * n_mc, centres.shape[1]))
    return -float(log_mixture_density(points, centres, noise_std).mean())


def _log_own_mixture_density(points: np.ndarray, centres: np.ndarray, noise_std: float) -> np.ndarray:
    """ln g_i(t) for many small mixtures at once: ``points`` (m, p, d) under ``centres`` (m, k, d) -> (m, p)."""
    _, k, d = centres.shape
    squared = np.einsum("mpd,mpd->mp", points, points)[:, :, None] - 2 * np.einsum("mpd,mkd->mpk", points, centres)
    squared = np.maximum(squared + np.einsum("mkd,mkd->mk", centres, centres)[:, None, :], 0.0)
    exponent = -squared / (2 * noise_std**2)
    top = exponent.max(axis=2, keepdims=True)
    log_kernel = top[..., 0] + np.log(np.exp(exponent - top).sum(axis=2))
    return log_kernel - math.log(k) - 0.5 * d * math.log(2 * math.pi * noise_std**2)


def sample_propagation_information(
    draws: np.ndarray,
    labels: np.ndarray,
    noise_std: float,
    x_ids: np.ndarray | None = None,
    n_mc: int = 1,
    seed: int = default("seed"),
) -> dict[str, float]:
    """H_T = h(T), I_XT, I_TY in bits for one noisy layer from its noiseless outputs.

    ``draws`` (n_rows, n_draws, d): for every row (input), ``n_draws`` samples of the layer's
    pre-noise output S from independent noisy forward passes (identical draws: a first layer).
    ``labels`` (n_rows,); ``x_ids`` (n_rows,) which distinct input a row is (default: all
    distinct), whose rows' draws are pooled for h(T|X=x). Non-finite draws give NaN.
    """
    draws = np.asarray(draws, dtype=np.float64)
    if draws.ndim == 2:
        draws = draws[:, None, :]
    if draws.ndim != 3 or len(draws) != len(labels):
        raise ValueError(f"draws must be (n_rows, n_draws, d) with one row per label, got shape {draws.shape}")
    if not np.isfinite(draws).all():
        return {"H_T": np.nan, "I_XT": np.nan, "I_TY": np.nan}
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    x_ids = np.arange(len(draws)) if x_ids is None else np.asarray(x_ids)
    n_rows, _, d = draws.shape
    first = draws[:, 0, :]
    # Common random numbers: the same points t = s_i + beta c serve every mixture, so h(T), h(T|X) and
    # h(T|Y) err together and their differences (the informations) keep little Monte Carlo noise.
    points = first[:, None, :] + noise_std * rng.standard_normal((n_rows, n_mc, d))
    log_t = log_mixture_density(points.reshape(-1, d), first, noise_std).reshape(n_rows, n_mc)
    log_t_given_y = np.empty_like(log_t)
    for y in np.unique(labels):
        rows = labels == y
        log_t_given_y[rows] = log_mixture_density(points[rows].reshape(-1, d), first[rows], noise_std).reshape(-1, n_mc)
    ids = np.unique(x_ids)
    if len(ids) == n_rows:  # every row its own input (the usual case): all conditionals at once
        log_t_given_x = _log_own_mixture_density(points, draws, noise_std)
    else:
        log_t_given_x = np.empty_like(log_t)
        for x in ids:
            rows = x_ids == x
            log_t_given_x[rows] = log_mixture_density(
                points[rows].reshape(-1, d), draws[rows].reshape(-1, d), noise_std
            ).reshape(-1, n_mc)
    to_bits = 1.0 / math.log(2)
    return {
        "H_T": -float(log_t.mean()) * to_bits,
        "I_XT": float((log_t_given_x - log_t).mean()) * to_bits,
        "I_TY": float((log_t_given_y - log_t).mean()) * to_bits,
    }
