"""Matrix-based Rényi alpha-entropy and mutual information (Giraldo, Rao & Príncipe).

For a batch of n rows with Gram matrix K of an infinitely divisible kernel, A = K / tr K and

    S_alpha(A)   = (1 / (1 - alpha)) ln sum_i lambda_i(A)^alpha       (alpha -> 1: -sum lambda ln lambda)
    S_alpha(A,B) = S_alpha(A o B / tr(A o B))                           (o: elementwise product)
    I_alpha(A;B) = S_alpha(A) + S_alpha(B) - S_alpha(A,B)

in nats (0 <= S <= ln n). Kernels: the layer T gets a Gaussian kernel exp(-|t_i - t_j|^2 / (2 sigma^2))
on its flattened rows (for a conv layer this is Wickström et al.'s tensor kernel, the
Frobenius distance of whole feature maps); labels Y and inputs X get the delta kernel
[y_i = y_j] (the limit of a one-hot Gaussian kernel of small width), so with distinct inputs
A_X = I/n and I(X;T) = S(T).

Kernel width (a choice; Yu et al. use a Silverman/Scott-type rule): Scott's rule for an
isotropic Gaussian kernel, sigma = sqrt(mean over units of Var(T_u)) * n^(-1 / (4 + d)), with
the variances of the whole layer and n the batch size; a constant layer gets sigma = 1
(its Gram is all ones either way). Wide layers push the Gram towards the identity, so every
entropy then approaches ln n: every quantity is bounded by the batch, so results are only
comparable at one batch size.

Large N: the rows are shuffled (seeded) and cut into batches of at most ``renyi_batch``
rows; each batch costs O(n^3) for the eigenvalues, and the reported values are the
row-weighted means over batches.

References: L. G. Sanchez Giraldo, M. Rao & J. C. Príncipe, "Measures of entropy from data
using infinitely divisible kernels", IEEE Trans. Inf. Theory 61(1) (2015); K. Wickström,
S. Løkse, M. Kampffmeyer, S. Yu, J. C. Príncipe & R. Jenssen, "Information plane analysis of
deep neural networks via matrix-based Rényi's entropy and tensor kernels", arXiv:1909.11396
(2019); S. Yu, K. Wickström, R. Jenssen & J. C. Príncipe, "Understanding convolutional
neural networks with information theory: an initial exploration", IEEE TNNLS 32(1) (2021).
"""

from __future__ import annotations

import numpy as np
from threadpoolctl import threadpool_limits

from ibpipe.estimators.settings import default
from ibpipe.units import from_nats


def renyi_entropy_nats(gram: np.ndarray, alpha: float) -> float:
    """S_alpha of a positive semidefinite Gram matrix, normalised to unit trace, in nats."""
    if alpha <= 0:
        raise ValueError(f"alpha must be > 0, got {alpha}")
    eigenvalues = np.clip(np.linalg.eigvalsh(gram / np.trace(gram)), 0.0, None)
    eigenvalues = eigenvalues[eigenvalues > 0]
    if abs(alpha - 1.0) < 1e-12:
        return float(-np.sum(eigenvalues * np.log(eigenvalues)))
    return float(np.log(np.sum(eigenvalues**alpha)) / (1.0 - alpha))


def renyi_mutual_information_nats(gram_a: np.ndarray, gram_b: np.ndarray, alpha: float) -> float:
    """I_alpha(A;B) = S(A) + S(B) - S(A o B), in nats."""
    return (
        renyi_entropy_nats(gram_a, alpha)
        + renyi_entropy_nats(gram_b, alpha)
        - renyi_entropy_nats(gram_a * gram_b, alpha)
    )


def kernel_width(points: np.ndarray, batch_rows: int) -> float:
    """Scott's rule for an isotropic Gaussian kernel, sqrt(mean unit variance) * n^(-1/(4+d)); 1 if constant."""
    spread = float(np.sqrt(np.mean(np.var(points, axis=0)))) if len(points) else 0.0
    if not spread > 0:
        return 1.0
    return spread * batch_rows ** (-1.0 / (4 + points.shape[1]))


def gaussian_gram(points: np.ndarray, width: float) -> np.ndarray:
    norms = np.einsum("ij,ij->i", points, points)
    squared = np.maximum(norms[:, None] + norms[None, :] - 2.0 * points @ points.T, 0.0)
    return np.exp(-squared / (2.0 * width**2))


def _delta_gram(values: np.ndarray) -> np.ndarray:
    return (values[:, None] == values[None, :]).astype(np.float64)


def _delta_entropy_nats(values: np.ndarray, alpha: float) -> float:
    """S_alpha of the delta-kernel Gram of ``values``: its eigenvalues are the value frequencies."""
    _, counts = np.unique(values, return_counts=True)
    frequencies = counts / counts.sum()
    if abs(alpha - 1.0) < 1e-12:
        return float(-np.sum(frequencies * np.log(frequencies)))
    return float(np.log(np.sum(frequencies**alpha)) / (1.0 - alpha))


def _batch_information_nats(points: np.ndarray, labels: np.ndarray, inputs: np.ndarray, width: float, alpha: float):
    """S(T), I(X;T), I(T;Y) of one batch: two eigen-decompositions (three with repeated inputs)."""
    gram_t = gaussian_gram(points, width)
    entropy_t = renyi_entropy_nats(gram_t, alpha)
    i_ty = entropy_t + _delta_entropy_nats(labels, alpha) - renyi_entropy_nats(gram_t * _delta_gram(labels), alpha)
    if len(np.unique(inputs)) == len(inputs):  # A_X = I/n: S(X) = S(X,T) = ln n
        return entropy_t, entropy_t, i_ty
    i_xt = entropy_t + _delta_entropy_nats(inputs, alpha) - renyi_entropy_nats(gram_t * _delta_gram(inputs), alpha)
    return entropy_t, i_xt, i_ty


def renyi_information(
    activations: np.ndarray,
    labels: np.ndarray,
    *,
    x_ids: np.ndarray | None = None,
    renyi_alpha: float = default("renyi_alpha"),
    renyi_batch: int = default("renyi_batch"),
    seed: int | None = default("seed"),
    base: float = 2.0,
) -> dict[str, float]:
    """S_alpha(T), I_alpha(X;T), I_alpha(T;Y) in units of log ``base``.

    Averaged (row-weighted) over shuffled batches of at most ``renyi_batch`` rows; ``x_ids``
    default to all rows distinct (then I(X;T) = S(T)).
    """
    if renyi_batch < 2:
        raise ValueError(f"renyi_batch must be >= 2, got {renyi_batch}")
    alpha, batch_size = renyi_alpha, renyi_batch
    points = np.asarray(activations, dtype=np.float64)
    points = points[:, None] if points.ndim == 1 else points
    points = points - points.mean(axis=0)
    labels = np.asarray(labels)
    inputs = np.arange(len(points)) if x_ids is None else np.asarray(x_ids).ravel()
    n_batches = max(1, -(-len(points) // batch_size))
    order = np.random.default_rng(seed).permutation(len(points))
    width = kernel_width(points, min(batch_size, len(points)))
    totals = np.zeros(3)
    # Eigenvalues of a few hundred rows run fastest on one BLAS thread (and ~100x slower on busy cores).
    with threadpool_limits(1):
        for rows in np.array_split(order, n_batches):
            totals += len(rows) * np.array(
                _batch_information_nats(points[rows], labels[rows], inputs[rows], width, alpha)
            )
    h_t, i_xt, i_ty = totals / len(points)
    return {"H_T": from_nats(h_t, base), "I_XT": from_nats(i_xt, base), "I_TY": from_nats(i_ty, base)}
