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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

METRICS = ("euclidean", "w2")
ODD_ACTIVATIONS = ("tanh", "linear")
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
    value = np.sum((m1 - m2) ** 2, axis=-1) + np.trace(S1, axis1=-2, axis2=-1) + np.trace(S2, axis1=-2, axis2=-1) - 2 * cross
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


def pairwise_w2_to_centres(means: np.ndarray, covs: np.ndarray, centre_means: np.ndarray, centre_covs: np.ndarray) -> np.ndarray:
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
    so the barycentre of Gaussians that share a null space keeps it.
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
    cov = np.einsum("i,ipq->pq", weights, covs) if initial_cov is None else np.asarray(initial_cov, dtype=np.float64)
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


@dataclass
class KMeansResult:
    """The best restart: labels (n,), centres (k, p) and, under W2, their covariances.

    ``objective_history`` holds sum_i d(x_i, c_label(i)) after every assignment step of that
    restart (seeding first); ``objective`` is its last value.
    """

    labels: np.ndarray
    centre_means: np.ndarray
    centre_covs: np.ndarray | None
    objective_history: np.ndarray
    objective: float
    n_iter: int
    metric: str


def kmeans_plus_plus_seeds(distance_to, n: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """k distinct indices of n points: the first uniform, each next with probability proportional to
    its distance to the nearest chosen one (``distance_to(i)`` gives the (n,) distances to point i,
    already squared for the metric); uniform among the unchosen once every distance is 0.
    """
    chosen = [int(rng.integers(n))]
    nearest = distance_to(chosen[0])
    for _ in range(1, k):
        total = nearest.sum()
        if total > 0:
            candidate = int(rng.choice(n, p=nearest / total))
        else:
            candidate = int(rng.choice(np.setdiff1d(np.arange(n), chosen)))
        chosen.append(candidate)
        nearest = np.minimum(nearest, distance_to(candidate))
    return np.asarray(chosen)


def kmeans(
    means: np.ndarray,
    covs: np.ndarray | None = None,
    k: int = 2,
    metric: str = "euclidean",
    n_init: int = 5,
    max_iter: int = 100,
    seed: int = 0,
    barycentre_tol: float = 1e-8,
) -> KMeansResult:
    """k-means of neurons under the squared Euclidean distance of means or under W2^2.

    Each of ``n_init`` restarts seeds by k-means++ under the chosen metric, then alternates the
    centre update (mean, or W2 barycentre warm-started from the previous centre; a cluster
    whose members did not change keeps its centre) and the assignment until the labels stop changing or ``max_iter`` updates. An empty cluster is
    re-seeded at the point farthest from its centre among clusters of two or more points. The
    restart with the lowest final objective is returned; the result depends only on ``seed``.
    ``covs`` (n, p, p), or diagonal variances (n, p), is required for ``metric="w2"`` and
    ignored otherwise. ``barycentre_tol`` stops each barycentre iteration (relative change of
    the covariance); the objective, stationary at the barycentre, errs by about its square.
    Full covariances cost O(p^3) per pair distance and per member per barycentre iteration.
    """
    if metric not in METRICS:
        raise ValueError(f"metric {metric!r} is not one of {', '.join(METRICS)}")
    means = np.asarray(means, dtype=np.float64)
    n = len(means)
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the number of points {n}, got {k}")
    if metric == "w2":
        if covs is None:
            raise ValueError('metric "w2" needs covariances')
        points = _GaussianSet.of(means, covs)
    rng = np.random.default_rng(seed)
    best: KMeansResult | None = None

    def distances_to(centres_means, centres_covs) -> np.ndarray:
        if metric == "euclidean":
            return pairwise_sq_euclidean(means, centres_means)
        return points.w2_to(_GaussianSet(centres_means, centres_covs, points.diagonal))

    def update(labels, previous_labels, old_means, old_covs):
        new_means = old_means.copy()
        new_covs = None if old_covs is None else old_covs.copy()
        for j in range(k):
            members = labels == j
            if previous_labels is not None and np.array_equal(members, previous_labels == j):
                continue
            if metric == "euclidean":
                new_means[j] = means[members].mean(axis=0)
            else:
                initial = None if points.diagonal else old_covs[j]
                new_means[j], new_covs[j], _ = gaussian_barycentre(
                    means[members], points.covs[members], tol=barycentre_tol, initial_cov=initial
                )
        return new_means, new_covs

    def assign(centre_means, centre_covs):
        distances = distances_to(centre_means, centre_covs)
        labels = np.argmin(distances, axis=1)
        own = distances[np.arange(n), labels]
        for j in range(k):
            counts = np.bincount(labels, minlength=k)
            if counts[j] > 0:
                continue
            farthest = int(np.argmax(np.where(counts[labels] > 1, own, -np.inf)))
            centre_means[j] = means[farthest]
            if centre_covs is not None:
                centre_covs[j] = points.covs[farthest]
            labels[farthest], own[farthest] = j, 0.0
        return labels, own.sum()

    for _ in range(n_init):
        if metric == "euclidean":
            seeds = kmeans_plus_plus_seeds(lambda i: pairwise_sq_euclidean(means, means[i : i + 1])[:, 0], n, k, rng)
            centre_means, centre_covs = means[seeds].copy(), None
        else:
            seeds = kmeans_plus_plus_seeds(lambda i: points.w2_to(points.subset([i]))[:, 0], n, k, rng)
            centre_means, centre_covs = means[seeds].copy(), points.covs[seeds].copy()
        labels, objective = assign(centre_means, centre_covs)
        history = [objective]
        n_iter, previous_labels = 0, None
        for n_iter in range(1, max_iter + 1):
            centre_means, centre_covs = update(labels, previous_labels, centre_means, centre_covs)
            previous_labels = labels
            new_labels, objective = assign(centre_means, centre_covs)
            history.append(objective)
            converged = np.array_equal(new_labels, labels)
            labels = new_labels
            if converged:
                break
        if best is None or objective < best.objective:
            best = KMeansResult(labels, centre_means, centre_covs, np.asarray(history), float(objective), n_iter, metric)
    return best


def _correlations(reference: np.ndarray, replica: np.ndarray) -> np.ndarray:
    def standardised(x):
        x = np.asarray(x, dtype=np.float64)
        centred = x - x.mean(axis=0)
        scale = np.sqrt(np.mean(centred**2, axis=0))
        return np.divide(centred, scale, out=np.zeros_like(centred), where=scale > 0)

    reference, replica = standardised(reference), standardised(replica)
    return reference.T @ replica / len(reference)


def _match(similarity: np.ndarray, odd: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from scipy.optimize import linear_sum_assignment

    if similarity.shape[0] > similarity.shape[1]:
        raise ValueError(f"the replica has fewer neurons ({similarity.shape[1]}) than the reference ({similarity.shape[0]})")
    score = np.abs(similarity) if odd else similarity
    rows, permutation = linear_sum_assignment(score, maximize=True)
    matched = similarity[rows, permutation]
    signs = np.where(matched < 0, -1.0, 1.0) if odd else np.ones(len(rows))
    return permutation, signs, signs * matched


def align_to_reference(
    reference_activations: np.ndarray, replica_activations: np.ndarray, odd: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match a replica's hidden neurons to the reference's from their activations on the same (N, h) inputs.

    Replica neuron ``permutation[i]``, multiplied by ``signs[i]``, plays reference neuron i.
    With an odd activation (tanh) the Hungarian assignment maximises the summed |correlation|
    and a negative correlation becomes a sign flip; otherwise it maximises the summed signed
    correlation (an anti-correlated neuron is not a copy) and every sign is +1. ``quality[i]``
    is the matched correlation times its sign (|correlation| when odd). A constant
    activation correlates 0 with everything.
    """
    return _match(_correlations(reference_activations, replica_activations), odd)


def align_by_weights(
    reference_weights: np.ndarray, replica_weights: np.ndarray, odd: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``align_to_reference`` on the cosine similarity of incoming weight rows (h, p) (append the bias as a column)."""

    def unit_rows(w):
        w = np.asarray(w, dtype=np.float64)
        norms = np.linalg.norm(w, axis=1, keepdims=True)
        return np.divide(w, norms, out=np.zeros_like(w), where=norms > 0)

    return _match(unit_rows(reference_weights) @ unit_rows(replica_weights).T, odd)


def apply_alignment(
    w_in: np.ndarray, b_in: np.ndarray, w_out: np.ndarray, permutation: np.ndarray, signs: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A replica's layer re-indexed to the reference: rows ``permutation`` of (w_in, b_in) and columns of w_out, times ``signs``.

    For an odd activation the aligned network computes the same function as the replica
    (restricted to the matched neurons).
    """
    signs = np.asarray(signs, dtype=np.float64)
    return (
        np.asarray(w_in)[permutation] * signs[:, None],
        np.asarray(b_in)[permutation] * signs,
        np.asarray(w_out)[:, permutation] * signs[None, :],
    )


def neuron_gaussians(reference_in: np.ndarray, replicas_in: np.ndarray, ridge: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
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
    """Factors A (h, p, B) with A_j A_j^T the replicas' covariance of neuron j (ddof = 1), for ``w2_squared_lowrank``."""
    replicas_in = np.asarray(replicas_in, dtype=np.float64)
    centred = replicas_in - replicas_in.mean(axis=0)
    return centred.transpose(1, 2, 0) / np.sqrt(len(replicas_in) - 1)


def sandwich_covariances(per_sample_gradients: np.ndarray, hessian_blocks: np.ndarray, damping: float = 1e-4) -> np.ndarray:
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


def compress_layer(
    w_in: np.ndarray, b_in: np.ndarray, w_out: np.ndarray, labels: np.ndarray, centre_means: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Replace each neuron's (weights, bias) by its centre's mean, then merge identical neurons exactly.

    ``centre_means`` (k, p_in + 1) holds weights then bias. Neurons whose replaced rows are
    identical (same centre, or centres with equal means) become one neuron whose outgoing column
    is the sum of theirs, so the merged layer's output equals the replaced layer's. Distinct
    rows keep the order of their first neuron: with one centre per neuron at that neuron's own
    parameters the layer comes back unchanged.
    """
    w_in, b_in, w_out = (np.asarray(a) for a in (w_in, b_in, w_out))
    centre_means = np.asarray(centre_means)
    labels = np.asarray(labels)
    h, p_in = w_in.shape
    if centre_means.ndim != 2 or centre_means.shape[1] != p_in + 1:
        raise ValueError(f"centre means must be (k, {p_in + 1}) (weights then bias), got {centre_means.shape}")
    if labels.shape != (h,) or b_in.shape != (h,) or w_out.shape[1] != h:
        raise ValueError("labels, b_in and the columns of w_out must have one entry per neuron")
    replaced = centre_means[labels]
    _, first, inverse = np.unique(replaced, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    merged_index = rank[inverse.reshape(-1)]
    rows = replaced[first[order]]
    merged_out = np.zeros((w_out.shape[0], len(order)), dtype=np.result_type(w_out, np.float64))
    np.add.at(merged_out.T, merged_index, w_out.T)
    return (
        rows[:, :p_in].astype(w_in.dtype, copy=False),
        rows[:, p_in].astype(b_in.dtype, copy=False),
        merged_out.astype(w_out.dtype, copy=False),
    )


def count_parameters(shapes: Iterable[Sequence[int] | np.ndarray]) -> int:
    """The number of scalars in arrays given by their shapes (or the arrays themselves)."""
    return int(sum(np.prod(getattr(shape, "shape", shape), dtype=np.int64) for shape in shapes))


def sign_test(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided exact binomial sign test of paired samples: p-value for P(a > b) = 1/2, ties dropped (1.0 if all tie)."""
    from scipy.stats import binomtest

    differences = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    differences = differences[differences != 0]
    if len(differences) == 0:
        return 1.0
    return float(binomtest(int(np.sum(differences > 0)), len(differences), 0.5, alternative="two-sided").pvalue)
