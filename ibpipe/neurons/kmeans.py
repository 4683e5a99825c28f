"""k-means of neurons under squared Euclidean distance or squared 2-Wasserstein distance.

k-means++ seeding (Arthur & Vassilvitskii, SODA 2007), Lloyd iterations, Gaussian barycentres as
centres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ibpipe.neurons.gaussians import _GaussianSet, gaussian_barycentre, pairwise_sq_euclidean
from ibpipe.neurons.params import METRICS


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


class _Lloyd:
    """The two steps of a Lloyd iteration over fixed points, under one metric."""

    def __init__(
        self, means: np.ndarray, points: _GaussianSet | None, k: int, metric: str, barycentre_tol: float
    ) -> None:
        self.means, self.points, self.k, self.metric, self.barycentre_tol = means, points, k, metric, barycentre_tol

    def seed(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        """Initial centres (means, covariances or None) by k-means++ under the metric."""
        means, points, n, k = self.means, self.points, len(self.means), self.k
        if self.metric == "euclidean":
            seeds = kmeans_plus_plus_seeds(lambda i: pairwise_sq_euclidean(means, means[i : i + 1])[:, 0], n, k, rng)
            return means[seeds].copy(), None
        seeds = kmeans_plus_plus_seeds(lambda i: points.w2_to(points.subset([i]))[:, 0], n, k, rng)
        return means[seeds].copy(), points.covs[seeds].copy()

    def distances_to(self, centres_means, centres_covs) -> np.ndarray:
        if self.metric == "euclidean":
            return pairwise_sq_euclidean(self.means, centres_means)
        return self.points.w2_to(_GaussianSet(centres_means, centres_covs, self.points.diagonal))

    def update(self, labels, previous_labels, old_means, old_covs):
        """New centres; a cluster whose members did not change keeps its centre."""
        means, points = self.means, self.points
        new_means = old_means.copy()
        new_covs = None if old_covs is None else old_covs.copy()
        for j in range(self.k):
            members = labels == j
            if previous_labels is not None and np.array_equal(members, previous_labels == j):
                continue
            if self.metric == "euclidean":
                new_means[j] = means[members].mean(axis=0)
            else:
                initial = None if points.diagonal else old_covs[j]
                new_means[j], new_covs[j], _ = gaussian_barycentre(
                    means[members], points.covs[members], tol=self.barycentre_tol, initial_cov=initial
                )
        return new_means, new_covs

    def assign(self, centre_means, centre_covs):
        """Labels and objective; an empty cluster is re-seeded in place (``centre_means``, ``centre_covs``)."""
        k = self.k
        distances = self.distances_to(centre_means, centre_covs)
        labels = np.argmin(distances, axis=1)
        own = distances[np.arange(len(self.means)), labels]
        for j in range(k):
            counts = np.bincount(labels, minlength=k)
            if counts[j] > 0:
                continue
            farthest = int(np.argmax(np.where(counts[labels] > 1, own, -np.inf)))
            centre_means[j] = self.means[farthest]
            if centre_covs is not None:
                centre_covs[j] = self.points.covs[farthest]
            labels[farthest], own[farthest] = j, 0.0
        return labels, own.sum()


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
    whose members did not change keeps its centre) and the assignment until the labels stop
    changing or ``max_iter`` updates. An empty cluster is re-seeded at the point farthest from
    its centre among clusters of two or more points. The restart with the lowest final
    objective is returned; the result depends only on ``seed``.
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
    else:
        points = None
    lloyd = _Lloyd(means, points, k, metric, barycentre_tol)
    rng = np.random.default_rng(seed)
    best: KMeansResult | None = None
    for _ in range(n_init):
        centre_means, centre_covs = lloyd.seed(rng)
        labels, objective = lloyd.assign(centre_means, centre_covs)
        history = [objective]
        n_iter, previous_labels = 0, None
        while n_iter < max_iter:
            n_iter += 1
            centre_means, centre_covs = lloyd.update(labels, previous_labels, centre_means, centre_covs)
            previous_labels = labels
            new_labels, objective = lloyd.assign(centre_means, centre_covs)
            history.append(objective)
            converged = np.array_equal(new_labels, labels)
            labels = new_labels
            if converged:
                break
        if best is None or objective < best.objective:
            best = KMeansResult(
                labels, centre_means, centre_covs, np.asarray(history), float(objective), n_iter, metric
            )
    return best
