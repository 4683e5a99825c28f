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
I(X;T) = H(T + Z) - H(T + Z | X) with H(T + Z | X) = (d/2) ln(2 pi e s2).

References: L. F. Kozachenko & N. N. Leonenko, Problems Inform. Transmission 23 (1987);
B. C. Ross, "Mutual information between discrete and continuous data sets", PLoS ONE
9(2):e87357 (2014); A. Kraskov, H. Stoegbauer & P. Grassberger, Phys. Rev. E 69 (2004).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln

from ibpipe.estimators.pairwise import KD_TREE_MAX_DIMS, nearest_distances

LN2 = np.log(2.0)


def _log_unit_ball_volume(dimension: int) -> float:
    return 0.5 * dimension * np.log(np.pi) - gammaln(0.5 * dimension + 1)


def _as_points(values: np.ndarray) -> np.ndarray:
    points = np.asarray(values, dtype=np.float64)
    return points[:, None] if points.ndim == 1 else points


def kozachenko_leonenko_entropy_nats(points: np.ndarray, k: int = 3) -> float:
    """Differential entropy of the rows of ``points`` (n_samples, n_dims), in nats."""
    points = _as_points(points)
    n_samples, dimension = points.shape
    if not 1 <= k < n_samples:
        raise ValueError(f"k must be in 1..{n_samples - 1}, got {k}")
    high = dimension > KD_TREE_MAX_DIMS  # k-d trees degrade to brute force in high dimensions: use the blocks
    kth = nearest_distances(points, k)[:, -1] if high else cKDTree(points).query(points, k=k + 1)[0][:, -1]
    if np.any(kth <= 0):
        raise ValueError("repeated points give zero neighbour distances; add noise (noise_variance > 0)")
    return float(digamma(n_samples) - digamma(k) + _log_unit_ball_volume(dimension) + dimension * np.mean(np.log(kth)))


def mixed_information_nats(points: np.ndarray, labels: np.ndarray, k: int = 3) -> float:
    """Ross's k-NN estimate of I(T;Y) for continuous rows T and discrete labels Y, in nats (>= 0)."""
    points = _as_points(points)
    labels = np.asarray(labels)
    radius = np.zeros(len(points))
    neighbours = np.zeros(len(points))
    class_sizes = np.zeros(len(points))
    for label in np.unique(labels):
        members = labels == label
        size = int(members.sum())
        class_sizes[members] = size
        if size < 2:
            continue
        k_here = min(k, size - 1)
        distances, _ = cKDTree(points[members]).query(points[members], k=k_here + 1, p=np.inf)
        radius[members] = np.nextafter(distances[:, -1], 0)
        neighbours[members] = k_here
    usable = class_sizes > 1  # a point alone in its class has no neighbour to measure
    points, radius = points[usable], radius[usable]
    within = cKDTree(points).query_ball_point(points, radius, p=np.inf, return_length=True)
    information = (
        digamma(usable.sum())
        + np.mean(digamma(neighbours[usable]))
        - np.mean(digamma(class_sizes[usable]))
        - np.mean(digamma(within))
    )
    return max(float(information), 0.0)


def knn_information(
    activations: np.ndarray,
    labels: np.ndarray,
    noise_variance: float = 1.0e-3,
    k: int = 3,
    random_state: int | np.random.Generator | None = 0,
) -> dict[str, float]:
    """H(T + Z), I(X;T) and I(T;Y) in bits by k-NN, Z ~ N(0, noise_variance I).

    Parameters
    ----------
    activations : (n_samples, n_units), one row per distinct input.
    labels : (n_samples,) integer classes.
    noise_variance : s2 of the added noise; must be > 0 (I(X;T) is infinite without noise).
    k : neighbours.
    random_state : seed or Generator of the noise.
    """
    if noise_variance <= 0:
        raise ValueError(f"noise_variance must be > 0 for the k-NN estimator, got {noise_variance}")
    points = _as_points(activations)
    generator = np.random.default_rng(random_state)
    noisy = points + generator.normal(scale=np.sqrt(noise_variance), size=points.shape)
    entropy = kozachenko_leonenko_entropy_nats(noisy, k)
    conditional = 0.5 * points.shape[1] * np.log(2 * np.pi * np.e * noise_variance)
    return {
        "H_T": entropy / LN2,
        "I_XT": max(entropy - conditional, 0.0) / LN2,
        "I_TY": mixed_information_nats(noisy, labels, k) / LN2,
    }
