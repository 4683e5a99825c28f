"""Neuron covariances: the spread of aligned bootstrap replicas (plus a ridge), or the sandwich
S = H^-1 G H^-1 / N (Huber 1967; White 1982).
"""

from __future__ import annotations

import numpy as np


def neuron_gaussians(
    reference_in: np.ndarray, replicas_in: np.ndarray, ridge: float = 1e-3
) -> tuple[np.ndarray, np.ndarray]:
    """Per-neuron Gaussians (means (h, p), covariances (h, p, p)) from aligned bootstrap replicas (B, h, p).

    The mean is the reference neuron. The covariance is that of the B replicas about their own
    mean, with ddof = 1, plus ``ridge * v * I`` where v = mean over the layer's neurons of
    Tr(S_j) / p, the layer's average per-coordinate bootstrap variance: the ridge is relative,
    the same for every neuron of the layer, and keeps the covariances positive definite when
    B - 1 < p. A layer whose replicas all coincide gets v = 0 and no ridge.
    """
    reference_in = np.asarray(reference_in, dtype=np.float64)
    replicas_in = np.asarray(replicas_in, dtype=np.float64)
    if replicas_in.ndim != 3 or replicas_in.shape[1:] != reference_in.shape:
        raise ValueError(f"replicas must be (B, h, p) with (h, p) = {reference_in.shape}, got {replicas_in.shape}")
    if len(replicas_in) < 2:
        raise ValueError("a covariance needs at least two replicas")
    factors = bootstrap_factors(replicas_in)
    covs = factors @ np.swapaxes(factors, -1, -2)
    p = reference_in.shape[1]
    level = ridge * np.mean(np.trace(covs, axis1=-2, axis2=-1)) / p
    return reference_in.copy(), covs + level * np.eye(p)


def bootstrap_factors(replicas_in: np.ndarray) -> np.ndarray:
    """Factors A (h, p, B) with A_j A_j^T the replicas' covariance of neuron j (ddof = 1), for
    ``w2_squared_lowrank``."""
    replicas_in = np.asarray(replicas_in, dtype=np.float64)
    centred = replicas_in - replicas_in.mean(axis=0)
    return centred.transpose(1, 2, 0) / np.sqrt(len(replicas_in) - 1)


def sandwich_covariances(
    per_sample_gradients: np.ndarray, hessian_blocks: np.ndarray, damping: float = 1e-4
) -> np.ndarray:
    """S_j = (H_j + damping I)^-1 G_j (H_j + damping I)^-1 / N for each neuron j.

    ``per_sample_gradients`` (N, h, p): gradient of sample n's loss w.r.t. neuron j's incoming
    weights and bias; ``hessian_blocks`` (h, p, p): neuron j's diagonal block of the Hessian of
    the mean loss; G_j = (1/N) sum_n g_nj g_nj^T (uncentred: at a minimum the mean gradient
    vanishes). See ``sandwich_from_moments`` when G is accumulated without storing every g.
    """
    gradients = np.asarray(per_sample_gradients, dtype=np.float64)
    n_samples = len(gradients)
    second_moments = np.einsum("nhp,nhq->hpq", gradients, gradients) / n_samples
    return sandwich_from_moments(second_moments, hessian_blocks, n_samples, damping)


def sandwich_from_moments(
    gradient_second_moments: np.ndarray, hessian_blocks: np.ndarray, n_samples: int, damping: float = 1e-4
) -> np.ndarray:
    """(H_j + damping I)^-1 G_j (H_j + damping I)^-1 / N from G (h, p, p) and H (h, p, p).

    ``damping`` is absolute, in the Hessian's units. The result is symmetric positive
    semi-definite whenever H_j + damping I is invertible, definite or not.
    """
    second_moments = np.asarray(gradient_second_moments, dtype=np.float64)
    hessians = np.asarray(hessian_blocks, dtype=np.float64)
    if hessians.shape != second_moments.shape or hessians.ndim != 3 or hessians.shape[1] != hessians.shape[2]:
        raise ValueError(f"G and H must both be (h, p, p), got {second_moments.shape} and {hessians.shape}")
    damped = hessians + damping * np.eye(hessians.shape[-1])
    half = np.linalg.solve(damped, second_moments)
    covs = np.linalg.solve(damped, np.swapaxes(half, -1, -2)) / n_samples
    return 0.5 * (covs + np.swapaxes(covs, -1, -2))
