"""k-nearest-neighbour estimators of entropy and of information with a discrete label.

Kozachenko-Leonenko entropy (Euclidean distances, eps_i the distance of point i to its
k-th nearest neighbour, V_d the volume of the unit d-ball):

    H(T) = psi(N) - psi(k) + ln V_d + (d/N) sum_i ln eps_i

Mixed discrete-continuous information (Ross 2014), max-norm: for each point, r_i is the
distance to its k-th neighbour among the N_{y_i} points of its own class and m_i the
number of points of any class strictly closer than r_i (itself included):

    I(T;Y) = psi(N) + psi(k) - <psi(N_{y_i})> - <psi(m_i)>

A deterministic layer of a net with distinct inputs has I(X;T) = infinity for continuous
T, so the layer is measured with Gaussian noise of variance s2 added to every unit (seeded):
T + Z is a mixture of narrow Gaussians, one per input. One noise draw per input shows
Kozachenko-Leonenko a smooth density and overshoots wildly (42 bits on a 12-bit net), so
each row gets m >= k + 1 draws and both entropies are estimated on the same draws:

    H(T + Z)     = psi(N m) - psi(k) + ln V_d + (d/(N m)) sum_p ln eps_p        (all N m draws)
    H(T + Z | X) = <psi(N_x m)> - psi(k) + ln V_d + (d/(N m)) sum_p ln eps'_p  (draws of p's input)
    I(X;T)       = psi(N m) - <psi(N_x m)> + (d/(N m)) sum_p ln(eps_p / eps'_p)

where eps'_p is the k-th neighbour distance among the draws of the rows of p's own input
(N_x rows, so ``x_ids`` repeated inputs form one component set). As eps_p <= eps'_p,
I(X;T) <= psi(N m) - <psi(N_x m)> ~ H(X): the estimate cannot exceed the input's entropy
(beyond the digamma-vs-log difference, which ``apply_ceilings`` clips). I(T;Y) is Ross's
estimate on the same N m draws, where every class holds at least m >= k + 1 points.

References: L. F. Kozachenko & N. N. Leonenko, Problems Inform. Transmission 23 (1987);
B. C. Ross, "Mutual information between discrete and continuous data sets", PLoS ONE
9(2):e87357 (2014); A. Kraskov, H. Stoegbauer & P. Grassberger, Phys. Rev. E 69 (2004).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln

from ibpipe.estimators.groups import equal_size_groups
from ibpipe.estimators.pairwise import KD_TREE_MAX_DIMS
from ibpipe.estimators.settings import default
from ibpipe.units import from_nats

# Groups with more draws than this get a k-d tree each instead of one batched distance matrix.
BRUTE_FORCE_POINTS = 256


def _euclidean_kth(points: np.ndarray, k: int) -> np.ndarray:
    """Euclidean distance of every row to its k-th nearest other row: a k-d tree in few dimensions, else the
    exact k-NN query (FAISS, torch or blocks, as ``estimate.device`` says)."""
    from ibpipe.estimators.neighbours import kneighbors

    if points.shape[1] <= KD_TREE_MAX_DIMS:
        return cKDTree(points).query(points, k=k + 1)[0][:, -1]
    return kneighbors(points, k, distances_only=True)[0][:, -1]


def _log_unit_ball_volume(dimension: int) -> float:
    return 0.5 * dimension * np.log(np.pi) - gammaln(0.5 * dimension + 1)


def _as_points(values: np.ndarray) -> np.ndarray:
    points = np.asarray(values, dtype=np.float64)
    return points[:, None] if points.ndim == 1 else points


def kozachenko_leonenko_entropy_nats(
    points: np.ndarray, n_neighbors: int, distances: np.ndarray | None = None
) -> float:
    """Differential entropy of the rows of ``points`` (n_samples, n_dims), in nats.

    ``distances``: the k-th neighbour distances when the caller already has them.
    """
    points, k = _as_points(points), n_neighbors
    n_samples, dimension = points.shape
    if not 1 <= k < n_samples:
        raise ValueError(f"k must be in 1..{n_samples - 1}, got {k}")
    if distances is not None:
        kth = distances
    else:  # a k-d tree in few dimensions, FAISS or the blocks above (estimate.device decides)
        kth = _euclidean_kth(points, k)
    if np.any(kth <= 0):
        raise ValueError("repeated points give zero neighbour distances; add noise (noise_variance > 0)")
    return float(digamma(n_samples) - digamma(k) + _log_unit_ball_volume(dimension) + dimension * np.mean(np.log(kth)))


def mixed_information_nats(points: np.ndarray, labels: np.ndarray, n_neighbors: int) -> float:
    """Ross's k-NN estimate of I(T;Y) for continuous rows T and discrete labels Y, in nats.

    Classes with fewer than k + 1 samples have no k-th neighbour of their own and are left
    out of both terms (the estimate is then of the remaining classes); a ``ValueError`` says
    so when no class is left. The raw value may dip below 0 (callers clip and count it).
    """
    points, labels, k = _as_points(points), np.asarray(labels), n_neighbors
    _, classes, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    usable = sizes[classes.ravel()] > k
    if not usable.any():
        raise ValueError(
            f"k-NN I(T;Y) needs a class with at least k + 1 = {k + 1} samples; the largest has {sizes.max(initial=0)}"
        )
    points, classes = points[usable], classes.ravel()[usable]
    radius = np.zeros(len(points))
    many = points.shape[1] > KD_TREE_MAX_DIMS  # k-d trees visit every leaf up there: the compiled sweeps
    for label in np.unique(classes):
        members = classes == label
        if many:
            kth = _joint_neighbours(points[members], k, distances_only=True)[0][:, -1]
        else:
            kth = cKDTree(points[members]).query(points[members], k=k + 1, p=np.inf)[0][:, -1]
        radius[members] = np.nextafter(kth, 0)
    if many:
        within = _count_within(points, radius)
    else:
        within = cKDTree(points).query_ball_point(points, radius, p=np.inf, return_length=True)
    class_sizes = np.bincount(classes)[classes]
    return float(digamma(len(points)) + digamma(k) - np.mean(digamma(class_sizes)) - np.mean(digamma(within)))


def _kth_distance_within_groups(points: np.ndarray, group_of_point: np.ndarray, k: int) -> np.ndarray:
    """Euclidean distance of every point to its k-th nearest neighbour among the points of its own group."""
    result = np.empty(len(points))
    for rows in equal_size_groups(group_of_point):
        if rows.shape[1] > BRUTE_FORCE_POINTS:
            for group in rows:
                result[group] = cKDTree(points[group]).query(points[group], k=k + 1)[0][:, -1]
            continue
        members = points[rows]
        norms = np.einsum("gsd,gsd->gs", members, members)
        squared = norms[:, :, None] + norms[:, None, :] - 2.0 * members @ members.transpose(0, 2, 1)
        result[rows] = np.sqrt(np.maximum(np.partition(squared, k, axis=2)[:, :, k], 0.0))
    return result


def knn_information(
    activations: np.ndarray,
    labels: np.ndarray,
    noise_variance: float = default("noise_variance"),
    n_neighbors: int = default("n_neighbors"),
    seed: int | None = default("seed"),
    *,
    x_ids: np.ndarray | None = None,
    noise_draws: int = default("noise_draws"),
    base: float = 2.0,
) -> dict[str, float]:
    """H(T + Z), I(X;T) and I(T;Y) by k-NN, Z ~ N(0, noise_variance I), in units of log ``base``.

    Parameters
    ----------
    activations : (n_samples, n_units); labels : (n_samples,) integer classes.
    noise_variance : s2 of the added noise; must be > 0 (I(X;T) is infinite without noise).
    n_neighbors : k, the neighbours. seed : seed or Generator of the noise.
    x_ids : which input each row came from (None: every row a distinct input).
    noise_draws : noise draws per row; at least k + 1 are used.
    """
    if noise_variance <= 0:
        raise ValueError(f"noise_variance must be > 0 for the k-NN estimator, got {noise_variance}")
    if n_neighbors < 1:
        raise ValueError(f"n_neighbors must be >= 1, got {n_neighbors}")
    k = n_neighbors
    points = _as_points(activations)
    n_samples, dimension = points.shape
    draws = max(noise_draws, k + 1)
    generator = np.random.default_rng(seed)
    noisy = np.repeat(points, draws, axis=0)
    for start in range(0, len(noisy), 4096):  # in blocks: the same numbers as one draw, without a second copy
        block = noisy[start : start + 4096]
        block += generator.normal(scale=np.sqrt(noise_variance), size=block.shape)
    inputs = (
        np.arange(n_samples) if x_ids is None else np.unique(np.asarray(x_ids).ravel(), return_inverse=True)[1].ravel()
    )
    inputs = np.repeat(inputs, draws)
    rows_per_input = np.bincount(inputs)[inputs]
    pooled = _euclidean_kth(noisy, k)
    own = _kth_distance_within_groups(noisy, inputs, k)
    entropy = kozachenko_leonenko_entropy_nats(noisy, k, distances=pooled)
    information = digamma(len(noisy)) - np.mean(digamma(rows_per_input)) + dimension * np.mean(np.log(pooled / own))
    return {
        "H_T": from_nats(entropy, base),
        "I_XT": from_nats(information, base),
        "I_TY": from_nats(mixed_information_nats(noisy, np.repeat(np.asarray(labels), draws), k), base),
    }


def _joint_neighbours(joint: np.ndarray, k: int, distances_only: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Max-norm distances (n, k) and indices (n, k) of every row's k nearest other rows, ascending."""
    from ibpipe.estimators.neighbours import kneighbors

    return kneighbors(joint, k, metric="chebyshev", distances_only=distances_only)


def _count_within(points: np.ndarray, radius: np.ndarray, reference: np.ndarray | None = None) -> np.ndarray:
    """How many rows of ``reference`` (default ``points``, each row itself included) lie within max-norm
    ``radius[i]`` (<=) of row i."""
    from ibpipe.estimators.neighbours import count_within

    return count_within(points, radius, reference)


def ksg_information_nats(
    a: np.ndarray, b: np.ndarray, n_neighbors: int = 3, variant: int = 1, *, sweep: bool | None = None
) -> float:
    """Kraskov-Stoegbauer-Grassberger estimate of I(A;B) in nats, max-norm in every space.

    ``variant`` 1 (eq. 8): eps_i the joint distance to the k-th neighbour, n_a(i) the rows j != i with
    |a_j - a_i| < eps_i (strict), I = psi(k) + psi(N) - <psi(n_a + 1) + psi(n_b + 1)>.
    ``variant`` 2 (eq. 9): eps_a(i), eps_b(i) the a- and b-extents of the k joint neighbours, n_a counts
    |a_j - a_i| <= eps_a(i), I = psi(k) - 1/k + psi(N) - <psi(n_a) + psi(n_b)>. The raw value may be < 0.
    ``sweep``: the fused compiled sweep (``ibpipe.estimators.sweeps.ksg_sweep``) or the k-NN query and
    k-d tree counts; None picks by dimension and ``estimate.device``. Both give the same numbers.
    """
    from ibpipe.estimators.sweeps import ksg_sweep, sweep_available

    a, b, k = _as_points(a), _as_points(b), n_neighbors
    n = len(a)
    if variant not in (1, 2):
        raise ValueError(f"KSG variant must be 1 or 2, got {variant}")
    if sweep if sweep is not None else sweep_available(a.shape[1] + b.shape[1]):
        counts = ksg_sweep(a, b, k)[1]
        if variant == 1:
            return float(digamma(k) + digamma(n) - np.mean(digamma(counts[0]) + digamma(counts[1])))
        return float(digamma(k) - 1.0 / k + digamma(n) - np.mean(digamma(counts[2]) + digamma(counts[3])))
    distances, indices = _joint_neighbours(np.hstack([a, b]), k, distances_only=variant == 1)
    if variant == 1:
        radius = np.nextafter(distances[:, -1], 0)  # strictly closer than eps_i
        n_a = _count_within(a, radius)
        n_b = _count_within(b, radius)
        return float(digamma(k) + digamma(n) - np.mean(digamma(n_a) + digamma(n_b)))
    extent_a = np.abs(a[indices] - a[:, None, :]).max(axis=(1, 2))
    extent_b = np.abs(b[indices] - b[:, None, :]).max(axis=(1, 2))
    n_a = _count_within(a, extent_a) - 1
    n_b = _count_within(b, extent_b) - 1
    return float(digamma(k) - 1.0 / k + digamma(n) - np.mean(digamma(n_a) + digamma(n_b)))


def mixed_ksg_information_nats(
    a: np.ndarray, b: np.ndarray, n_neighbors: int = 3, *, sweep: bool | None = None
) -> float:
    """Gao, Kannan, Oh & Viswanath (2017) estimate of I(A;B) in nats for any mixture of discrete and
    continuous parts (max-norm), in the form of the authors' published code: rho_i the joint distance to
    the k-th neighbour. When rho_i > 0, k_i = k and n_a(i) counts the rows strictly within rho_i of a_i,
    i itself included (KSG 1's n_a + 1); when rho_i = 0 (row i repeats at least k times), k_i, n_a(i) and
    n_b(i) count the rows at distance 0 (i included). I = <psi(k_i) + ln N - psi(n_a) - psi(n_b)>.
    On continuous data this is KSG 1 with ln N for psi(N); on codes, the plug-in estimate with digammas
    of the counts c_ab, c_a, c_b for their logarithms. (The paper's ln(n + 1) with non-strict counts is
    the same estimator asymptotically, but biased by ln(k + 1) - psi(k) per continuous row at small N.)
    """
    from ibpipe.estimators.sweeps import ksg_sweep, sweep_available

    a, b, k = _as_points(a), _as_points(b), n_neighbors
    n = len(a)
    if sweep if sweep is not None else sweep_available(a.shape[1] + b.shape[1]):
        rho, counts = ksg_sweep(a, b, k)
        k_i = np.where(rho == 0, counts[4], k)
        return float(np.mean(digamma(k_i) + np.log(n) - digamma(counts[0]) - digamma(counts[1])))
    joint = np.hstack([a, b])
    rho = _joint_neighbours(joint, k, distances_only=True)[0][:, -1]
    repeated = rho == 0
    radius = np.where(repeated, 0.0, np.nextafter(rho, 0))
    k_i = np.full(n, float(k))
    if repeated.any():
        k_i[repeated] = _count_within(joint[repeated], np.zeros(repeated.sum()), reference=joint)
    n_a = _count_within(a, radius)
    n_b = _count_within(b, radius)
    return float(np.mean(digamma(k_i) + np.log(n) - digamma(n_a) - digamma(n_b)))
