"""The parameter space of dense neurons: Gaussians per neuron, Wasserstein geometry, k-means, merging.

numpy and scipy only. A hidden neuron of a dense layer is the vector of its incoming weights
and bias, theta in R^p; its uncertainty is a Gaussian N(m, S) over theta.

Covariances
- ``neuron_gaussians``: B bootstrap replicas (networks trained on resamples), their neurons
  first aligned to a reference network (``align_to_reference`` on hidden activations, Hungarian
  matching of |correlation|, or ``align_by_weights`` on cosine similarity of incoming weights;
  an odd activation such as tanh also allows sign flips). The mean is the reference neuron, the
  covariance that of the replicas about their own mean (ddof = 1) plus a ridge.
- ``sandwich_covariances``: S = H^-1 G H^-1 / N with H the neuron's Hessian block of the mean
  loss (damped by lambda I) and G = (1/N) sum_n g_n g_n^T, g_n the per-sample gradients
  (Huber 1967; White 1982).
- ``ibpipe.neurons.variational``: a low-rank variational posterior A A^T + diag(d^2) per neuron,
  whose factor [A | diag(d)] feeds ``w2_squared_lowrank``.

Wasserstein geometry (Dowson & Landau 1982; Givens & Shortt 1984)
  W2^2(N(m1, S1), N(m2, S2)) = |m1 - m2|^2 + Tr S1 + Tr S2 - 2 Tr (S1^1/2 S2 S1^1/2)^1/2.
The last trace equals the nuclear norm |S1^1/2 S2^1/2|_*, which is how it is computed here:
singular values are accurate to machine precision in absolute terms, whereas eigenvalues of
S1^1/2 S2 S1^1/2 near zero lose half their digits under the square root. With S = A A^T
(low rank) the trace term is |A1|_F^2 + |A2|_F^2 - 2 |A1^T A2|_*; with diagonal covariances it
is sum_i (sqrt s1_i - sqrt s2_i)^2.

Barycentres (Agueh & Carlier 2011; Takatsu 2011; Alvarez-Esteban et al. 2016)
  The W2 barycentre of N(m_i, S_i) with weights w_i is N(sum w_i m_i, S), S the fixed point of
  S <- S^-1/2 (sum_i w_i (S^1/2 S_i S^1/2)^1/2)^2 S^-1/2, which converges from any positive
  definite start; for commuting (e.g. diagonal) covariances S = (sum_i w_i S_i^1/2)^2.

Clustering
  ``kmeans``: k-means++ seeding (Arthur & Vassilvitskii 2007) and Lloyd iterations under the
  squared Euclidean distance of means or under W2^2, the centre update the mean or the W2
  barycentre of the cluster; both steps lower the objective sum_i d(x_i, c_label(i)).

Compression
  ``compress_layer`` replaces every neuron by its centre's mean and merges neurons with identical
  incoming rows into one, summing their outgoing columns; the merged layer computes the same
  function as the replaced one.

Matrices are symmetrised square roots from ``numpy.linalg.eigh``; eigenvalues below
p * eps * max|eigenvalue| (round-off, including small negative ones) are set to zero.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

WORKSPACE_BYTES = 1 << 26


def _clipped_eigh(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    matrices = np.asarray(matrices, dtype=np.float64)
    symmetric = 0.5 * (matrices + np.swapaxes(matrices, -1, -2))
    eigenvalues, eigenvectors = np.linalg.eigh(symmetric)
    p = symmetric.shape[-1]
    scale = np.max(np.abs(eigenvalues), axis=-1, keepdims=True)
    eigenvalues = np.where(eigenvalues > p * np.finfo(np.float64).eps * scale, eigenvalues, 0.0)
    return eigenvalues, eigenvectors


def _from_eigen(values: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    result = (vectors * values[..., None, :]) @ np.swapaxes(vectors, -1, -2)
    return 0.5 * (result + np.swapaxes(result, -1, -2))


def sym_sqrt(matrices: np.ndarray) -> np.ndarray:
    """The symmetric positive semi-definite square root of each (..., p, p) PSD matrix."""
    eigenvalues, eigenvectors = _clipped_eigh(matrices)
    return _from_eigen(np.sqrt(eigenvalues), eigenvectors)


def _is_positive_definite(matrix: np.ndarray) -> bool:
    """Smallest eigenvalue above round-off relative to the largest (the threshold of ``_clipped_eigh``)."""
    eigenvalues, _ = _clipped_eigh(matrix)
    return bool(eigenvalues.min() > 0)


def _sym_sqrt_and_inverse(matrices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """S^1/2 and S^-1/2 from one eigendecomposition, the inverse Moore-Penrose on numerically null eigenvalues."""
    eigenvalues, eigenvectors = _clipped_eigh(matrices)
    safe = np.where(eigenvalues > 0, eigenvalues, 1.0)
    inverse_roots = np.where(eigenvalues > 0, 1.0 / np.sqrt(safe), 0.0)
    return _from_eigen(np.sqrt(eigenvalues), eigenvectors), _from_eigen(inverse_roots, eigenvectors)


def _nuclear_norms(matrices: np.ndarray) -> np.ndarray:
    return np.linalg.svd(matrices, compute_uv=False).sum(axis=-1)


def _as_means_covs(means, covs) -> tuple[np.ndarray, np.ndarray]:
    means = np.asarray(means, dtype=np.float64)
    covs = np.asarray(covs, dtype=np.float64)
    if means.ndim != 2:
        raise ValueError(f"means must be (n, p), got shape {means.shape}")
    n, p = means.shape
    if covs.shape not in ((n, p, p), (n, p)):
        raise ValueError(f"covariances must be (n, p, p) or diagonal (n, p) for means {means.shape}, got {covs.shape}")
    return means, covs


def _is_diagonal(covs: np.ndarray, n_points: int) -> bool:
    return covs.ndim == 2 and covs.shape[0] == n_points


def w2_squared(m1, S1, m2, S2) -> np.ndarray:
    """W2^2 between N(m1, S1) and N(m2, S2); broadcasts over leading axes (..., p) and (..., p, p)."""
    m1, m2 = np.asarray(m1, dtype=np.float64), np.asarray(m2, dtype=np.float64)
    S1, S2 = np.asarray(S1, dtype=np.float64), np.asarray(S2, dtype=np.float64)
    cross = _nuclear_norms(sym_sqrt(S1) @ sym_sqrt(S2))
    value = (
        np.sum((m1 - m2) ** 2, axis=-1)
        + np.trace(S1, axis1=-2, axis2=-1)
        + np.trace(S2, axis1=-2, axis2=-1)
        - 2 * cross
    )
    return np.maximum(value, 0.0)


def w2_squared_diag(m1, s1, m2, s2) -> np.ndarray:
    """W2^2 between Gaussians with diagonal covariances given by their variances s (..., p)."""
    m1, m2, s1, s2 = (np.asarray(a, dtype=np.float64) for a in (m1, m2, s1, s2))
    if np.any(s1 < 0) or np.any(s2 < 0):
        raise ValueError("variances must be non-negative")
    return np.sum((m1 - m2) ** 2, axis=-1) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2, axis=-1)


def w2_squared_lowrank(m1, A1, m2, A2) -> np.ndarray:
    """W2^2 between N(m1, A1 A1^T) and N(m2, A2 A2^T), factors (..., p, r1) and (..., p, r2).

    Tr (S1^1/2 S2 S1^1/2)^1/2 is the nuclear norm of A1^T A2 (r1 x r2): the non-zero eigenvalues
    of S1 S2 = A1 (A1^T A2) A2^T are those of (A1^T A2)(A1^T A2)^T. Cost O(p r1 r2), no p x p matrix.
    """
    m1, m2 = np.asarray(m1, dtype=np.float64), np.asarray(m2, dtype=np.float64)
    A1, A2 = np.asarray(A1, dtype=np.float64), np.asarray(A2, dtype=np.float64)
    cross = _nuclear_norms(np.swapaxes(A1, -1, -2) @ A2)
    value = np.sum((m1 - m2) ** 2, axis=-1) + np.sum(A1**2, axis=(-2, -1)) + np.sum(A2**2, axis=(-2, -1)) - 2 * cross
    return np.maximum(value, 0.0)


def pairwise_sq_euclidean(points: np.ndarray, others: np.ndarray | None = None) -> np.ndarray:
    """|x_i - y_j|^2 as an (n, k) matrix, from differences (exact zeros for equal rows); others defaults to points."""
    points = np.asarray(points, dtype=np.float64)
    others = points if others is None else np.asarray(others, dtype=np.float64)
    n, p = points.shape
    rows = max(1, WORKSPACE_BYTES // (8 * max(1, len(others) * p)))
    out = np.empty((n, len(others)))
    for start in range(0, n, rows):
        block = points[start : start + rows, None, :] - others[None, :, :]
        out[start : start + rows] = np.einsum("ikp,ikp->ik", block, block)
    return out


def _cross_traces(roots_a: np.ndarray, roots_b: np.ndarray, index_a: np.ndarray, index_b: np.ndarray) -> np.ndarray:
    """|roots_a[index_a[t]] roots_b[index_b[t]]|_* for every t, in blocks bounded by WORKSPACE_BYTES."""
    p = roots_a.shape[-1]
    chunk = max(1, WORKSPACE_BYTES // (8 * p * p))
    out = np.empty(len(index_a))
    for start in range(0, len(index_a), chunk):
        stop = start + chunk
        out[start:stop] = _nuclear_norms(roots_a[index_a[start:stop]] @ roots_b[index_b[start:stop]])
    return out


@dataclass
class _GaussianSet:
    """Means with full (n, p, p) or diagonal (n, p) covariances, and the square roots W2 needs."""

    means: np.ndarray
    covs: np.ndarray
    diagonal: bool
    roots: np.ndarray = field(init=False)
    traces: np.ndarray = field(init=False)

    def __post_init__(self):
        if self.diagonal:
            self.roots = np.sqrt(np.maximum(self.covs, 0.0))
            self.traces = self.covs.sum(axis=-1)
        else:
            self.roots = sym_sqrt(self.covs)
            self.traces = np.trace(self.covs, axis1=-2, axis2=-1)

    @classmethod
    def of(cls, means, covs) -> _GaussianSet:
        means, covs = _as_means_covs(means, covs)
        return cls(means, covs, _is_diagonal(covs, len(means)))

    def subset(self, index) -> _GaussianSet:
        return _GaussianSet(self.means[index], self.covs[index], self.diagonal)

    def w2_to(self, others: _GaussianSet) -> np.ndarray:
        if self.diagonal != others.diagonal:
            raise ValueError("both sets must have diagonal covariances, or both full ones")
        squared = pairwise_sq_euclidean(self.means, others.means)
        if self.diagonal:
            return squared + pairwise_sq_euclidean(self.roots, others.roots)
        n, k = len(self.means), len(others.means)
        index_a, index_b = np.divmod(np.arange(n * k), k)
        cross = _cross_traces(self.roots, others.roots, index_a, index_b).reshape(n, k)
        return np.maximum(squared + self.traces[:, None] + others.traces[None, :] - 2 * cross, 0.0)


def pairwise_w2_squared(means: np.ndarray, covs: np.ndarray) -> np.ndarray:
    """The (n, n) matrix of W2^2 between N(means[i], covs[i]); covs (n, p, p) or diagonal variances (n, p).

    Square roots are taken once per Gaussian; each of the n(n-1)/2 pairs costs one p x p product
    and singular value decomposition. The matrix is exactly symmetric with a zero diagonal.
    """
    gaussians = _GaussianSet.of(means, covs)
    n = len(gaussians.means)
    if gaussians.diagonal:
        out = pairwise_sq_euclidean(gaussians.means) + pairwise_sq_euclidean(gaussians.roots)
        out = 0.5 * (out + out.T)
    else:
        upper_a, upper_b = np.triu_indices(n, k=1)
        cross = _cross_traces(gaussians.roots, gaussians.roots, upper_a, upper_b)
        mean_part = np.sum((gaussians.means[upper_a] - gaussians.means[upper_b]) ** 2, axis=-1)
        values = np.maximum(mean_part + gaussians.traces[upper_a] + gaussians.traces[upper_b] - 2 * cross, 0.0)
        out = np.zeros((n, n))
        out[upper_a, upper_b] = values
        out[upper_b, upper_a] = values
    np.fill_diagonal(out, 0.0)
    return out


def pairwise_w2_to_centres(
    means: np.ndarray, covs: np.ndarray, centre_means: np.ndarray, centre_covs: np.ndarray
) -> np.ndarray:
    """The (n, k) matrix of W2^2 from each N(means[i], covs[i]) to each centre N(centre_means[j], centre_covs[j])."""
    return _GaussianSet.of(means, covs).w2_to(_GaussianSet.of(centre_means, centre_covs))


def gaussian_barycentre(
    means: np.ndarray,
    covs: np.ndarray,
    weights: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 500,
    initial_cov: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The W2 barycentre N(mean, cov) of N(means[i], covs[i]) with weights (normalised to sum 1).

    Full covariances (n, p, p): the fixed-point iteration of Alvarez-Esteban et al. (2016), from
    ``initial_cov`` or the weighted arithmetic mean of the covariances, until the relative
    Frobenius change is below ``tol``; ``n_iter`` is the number of iterations (0 when a single
    Gaussian carries all the weight). Diagonal variances (n, p): the closed form
    (sum w_i sqrt s_i)^2, n_iter = 0. A singular iterate uses the pseudo-inverse square root,
    so the barycentre of Gaussians that share a null space keeps it. The iteration converges from
    a positive definite start only: a singular ``initial_cov`` (a warm start from a rank-deficient
    covariance, e.g. replicas without a ridge) would keep its null space for ever, so it is replaced
    by the arithmetic mean, which is positive definite unless all covariances share a null space.
    """
    means, covs = _as_means_covs(means, covs)
    weights = np.full(len(means), 1.0 / len(means)) if weights is None else np.asarray(weights, dtype=np.float64)
    if weights.shape != (len(means),) or np.any(weights < 0) or weights.sum() <= 0:
        raise ValueError("weights must be non-negative, one per Gaussian, with a positive sum")
    weights = weights / weights.sum()
    kept = weights > 0
    means, covs, weights = means[kept], covs[kept], weights[kept]
    mean = weights @ means
    if _is_diagonal(covs, len(means)):
        return mean, (weights @ np.sqrt(np.maximum(covs, 0.0))) ** 2, 0
    if len(weights) == 1:
        return mean, covs[0].copy(), 0
    cov = np.einsum("i,ipq->pq", weights, covs)
    if initial_cov is not None and _is_positive_definite(np.asarray(initial_cov, dtype=np.float64)):
        cov = np.asarray(initial_cov, dtype=np.float64)
    for iteration in range(1, max_iter + 1):
        root, inverse_root = _sym_sqrt_and_inverse(cov)
        averaged = np.einsum("i,ipq->pq", weights, sym_sqrt(root @ covs @ root))
        updated = inverse_root @ averaged @ averaged @ inverse_root
        updated = 0.5 * (updated + updated.T)
        change = np.linalg.norm(updated - cov) / max(np.linalg.norm(updated), np.finfo(np.float64).tiny)
        cov = updated
        if change < tol:
            return mean, cov, iteration
    return mean, cov, max_iter
