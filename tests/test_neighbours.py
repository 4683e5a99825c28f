"""Exact k-NN queries: every backend (numpy blocks, k-d tree, FAISS, torch) gives the very same answer."""

from __future__ import annotations

import numpy as np
import pytest

from ibpipe.estimators import pairwise
from ibpipe.estimators.neighbours import choose_backend, count_within, faiss_available, kneighbors

BACKENDS = [
    "blocked",
    "kdtree",
    "torch",
    pytest.param("faiss", marks=pytest.mark.skipif(not faiss_available(), reason="faiss-cpu not installed")),
]


def brute_force(points: np.ndarray, k: int, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """Every distance from the differences; neighbours by a stable sort, so ties go to the lower index."""
    difference = points[:, None, :] - points[None, :, :]
    full = np.abs(difference).max(-1) if metric == "chebyshev" else np.sqrt((difference**2).sum(-1))
    np.fill_diagonal(full, np.inf)
    order = np.argsort(full, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(full, order, 1), order


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("metric", ["euclidean", "chebyshev"])
@pytest.mark.parametrize("dims", [1, 3, 20, 40])
def test_every_backend_answers_as_the_brute_force_scan(backend, metric, dims):
    points = np.random.default_rng(dims).normal(size=(250, dims))
    expected = brute_force(points, 5, metric)
    distances, indices = kneighbors(points, 5, metric=metric, backend=backend)
    np.testing.assert_array_equal(indices, expected[1])
    np.testing.assert_allclose(distances, expected[0], rtol=1e-14)
    reference = kneighbors(points, 5, metric=metric, backend="blocked")  # bitwise the same on every backend
    np.testing.assert_array_equal(indices, reference[1])
    np.testing.assert_array_equal(distances, reference[0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("metric", ["euclidean", "chebyshev"])
def test_ties_go_to_the_lower_index_on_every_backend(backend, metric):
    rng = np.random.default_rng(0)
    lattice = rng.integers(0, 4, size=(300, 2)).astype(float)  # many repeated rows and equal distances
    expected = brute_force(lattice, 6, metric)
    distances, indices = kneighbors(lattice, 6, metric=metric, backend=backend)
    np.testing.assert_array_equal(indices, expected[1])
    np.testing.assert_array_equal(distances, expected[0])
    only = kneighbors(lattice, 6, metric=metric, backend=backend, distances_only=True)[0]
    np.testing.assert_array_equal(only, expected[0])


def test_the_blocked_reference_agrees_with_the_pairwise_kernel_and_a_small_memory_budget():
    points = np.random.default_rng(3).normal(size=(400, 12))
    with pairwise.settings(memory_limit=40_000):  # a few rows per block
        small = kneighbors(points, 4, backend="blocked")
    np.testing.assert_array_equal(small[1], kneighbors(points, 4, backend="blocked")[1])
    np.testing.assert_allclose(small[0], pairwise.nearest_distances(points, 4), rtol=1e-10)


def test_auto_follows_the_device_setting():
    with pairwise.settings(device="cpu"):
        assert choose_backend(3) == "kdtree"
        assert choose_backend(1024) == ("faiss" if faiss_available() else "blocked")
        assert choose_backend(1024, "chebyshev") == "numba"
    assert choose_backend(8, device="cuda") == "torch"


def test_clear_errors():
    points = np.zeros((5, 2))
    with pytest.raises(ValueError, match=r"k must be in 1\.\.4"):
        kneighbors(points, 5)
    with pytest.raises(ValueError, match="metric"):
        kneighbors(points, 1, metric="cosine")
    with pytest.raises(ValueError, match="backend"):
        kneighbors(points, 1, backend="annoy")


@pytest.mark.parametrize("dims", [1, 2, 5, 40, 300])  # 300: the pruned row scan
def test_count_within_counts_the_max_norm_ball_exactly(dims):
    rng = np.random.default_rng(dims)
    points = np.round(rng.normal(size=(300, dims)), 1)  # repeated values: counts at the ball's edge
    radius = np.abs(np.round(rng.normal(size=300), 1))
    radius[:20] = 0.0
    full = np.abs(points[:, None, :] - points[None, :, :]).max(-1)
    np.testing.assert_array_equal(count_within(points, radius), (full <= radius[:, None]).sum(1))
    strict = np.nextafter(radius, 0)
    expected = np.where(radius == 0, (full == 0).sum(1), (full < radius[:, None]).sum(1))
    np.testing.assert_array_equal(count_within(points, strict), expected)


def test_the_pruned_max_norm_scan_of_many_dimensions_answers_as_the_brute_force_scan():
    rng = np.random.default_rng(5)
    draws = np.repeat(rng.normal(size=(60, 300)), 4, axis=0) + 0.1 * rng.normal(size=(240, 300))
    lattice = rng.integers(0, 2, size=(200, 300)).astype(float)
    lattice[100:130] = lattice[:30]  # repeated rows and many equal distances
    for points in (draws, lattice[rng.permutation(200)]):
        expected = brute_force(points, 6, "chebyshev")
        distances, indices = kneighbors(points, 6, metric="chebyshev", backend="numba")
        np.testing.assert_array_equal(indices, expected[1])
        np.testing.assert_array_equal(distances, expected[0])


def test_one_dimensional_counts_do_not_round_across_the_edge():
    # 1.0 + 2^-40 is exactly representable, 1.0 + (2^-40 less one ulp) rounds up to it: the binary
    # search alone would count the point at distance eps inside a radius just below eps.
    eps = 2.0**-40
    values = np.array([1.0, 1.0 + eps, 5.0])
    radius = np.full(3, np.nextafter(eps, 0))
    np.testing.assert_array_equal(count_within(values, radius), [1, 1, 1])
    np.testing.assert_array_equal(count_within(values, np.full(3, eps)), [2, 2, 1])
