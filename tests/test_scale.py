"""The scale machinery: the one-pass counting kernel, the bounded-memory pairwise kernels and the cost cap."""

from __future__ import annotations

import json
import tracemalloc

import numpy as np
import pytest
import xarray as xr
from scipy.spatial import cKDTree

from ibpipe import information
from ibpipe.config.params import validate_params
from ibpipe.errors import ParamsError
from ibpipe.estimators import counting, pairwise
from ibpipe.infoplane.capping import cap_attrs, check_plan, plan_pairwise, split_slab_information
from ibpipe.infoplane.measure import slab_information

needs_numba = pytest.mark.skipif(not counting.HAVE_NUMBA, reason="numba not installed")


def _first_appearance_reference(codes: np.ndarray) -> np.ndarray:
    """Ids numbered by first appearance, from np.unique over the rows (a few lines, independent of the kernel)."""
    _, first, inverse = np.unique(codes, axis=0, return_index=True, return_inverse=True)
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[inverse.ravel()]


@needs_numba
@pytest.mark.parametrize(
    ("options", "dtype"),
    [
        ({"bin_size": 0.5}, np.float32),
        ({"bin_size": 0.3}, np.float64),
        ({"n_bins": 30, "value_range": (-1.0, 1.0)}, np.float32),
        ({"n_bins": 4, "value_range": (-0.5, 0.5)}, np.float64),
        ({}, np.int32),
    ],
)
def test_compiled_and_numpy_counting_give_the_same_ids_as_unique_rows(rng, options, dtype):
    values = np.tanh(rng.normal(scale=1.5, size=(3000, 6)))
    if dtype == np.int32:
        values = rng.integers(-3, 3, size=(3000, 6))
    values = values.astype(dtype)
    values[100:200] = values[:100]  # repeated rows must share a state
    values[5, 2] = 1.0  # a value exactly on the top edge
    compiled = counting.count_states(values, **options, use_numba=True)
    fallback = counting.count_states(values, **options, use_numba=False)
    from ibpipe.estimators.binning import fixed_size_codes, fixed_width_codes

    if "bin_size" in options:
        codes = fixed_size_codes(values, options["bin_size"])
    elif "n_bins" in options:
        codes = fixed_width_codes(values, options["n_bins"], options["value_range"])
    else:
        codes = values
    np.testing.assert_array_equal(compiled.ids, fallback.ids)
    np.testing.assert_array_equal(compiled.ids, _first_appearance_reference(codes))
    assert compiled.n_states == fallback.n_states == len(np.unique(codes, axis=0))


@needs_numba
def test_every_row_hashing_to_one_key_still_separates_states_by_full_comparison(rng):
    values = rng.integers(0, 3, size=(500, 4)).astype(np.int64)
    same_key = np.zeros(4, dtype=np.uint64)  # all weights 0: every row gets the same hash
    ids, n_states = counting._count_kernel(values, counting._INTEGER, 1.0, 0.0, 1.0, np.zeros(1), same_key)
    np.testing.assert_array_equal(ids, _first_appearance_reference(values))
    assert n_states == len(np.unique(values, axis=0))


def test_plugin_information_of_float_activations_equals_a_unique_rows_reference(rng):
    t = np.maximum(rng.normal(scale=2.0, size=(2000, 40)), 0).astype(np.float32)
    labels = rng.integers(0, 4, 2000)
    codes = np.floor(t / 0.5).astype(np.int64)

    def entropy(rows):
        _, counts = np.unique(rows, axis=0, return_counts=True)
        p = counts / counts.sum()
        return -np.sum(p * np.log2(p))

    h_t = entropy(codes)
    i_ty = h_t - sum(np.mean(labels == y) * entropy(codes[labels == y]) for y in range(4))
    got = information(t, labels, "plugin", bin_size=0.5)
    assert got["H_T"] == pytest.approx(h_t, abs=1e-10)
    assert got["I_TY"] == pytest.approx(i_ty, abs=1e-10)


@needs_numba
def test_non_finite_activations_leave_the_kernel_for_the_numpy_path(rng):
    t = rng.normal(size=(50, 3))
    t[4, 1] = np.nan
    with np.errstate(invalid="ignore"):
        compiled = counting.count_states(t, bin_size=0.5, use_numba=True)
        fallback = counting.count_states(t, bin_size=0.5, use_numba=False)
    np.testing.assert_array_equal(compiled.ids, fallback.ids)


def test_torch_blocks_equal_numpy_blocks_in_float64_and_float32_within_tolerance(rng):
    queries, reference = rng.normal(size=(70, 9)), rng.normal(size=(130, 9)) + 0.3
    numpy_blocks = {part.start: block for part, block in pairwise.squared_distance_blocks(queries, reference, rows=32)}
    brute = ((queries[:, None, :] - reference[None, :, :]) ** 2).sum(axis=2)
    for part, block in pairwise.squared_distance_blocks(queries, reference, rows=32, use_torch=True, device="cpu"):
        np.testing.assert_allclose(block, numpy_blocks[part.start], rtol=0, atol=1e-9)
        np.testing.assert_allclose(block, brute[part], rtol=0, atol=1e-9)
    for part, block in pairwise.squared_distance_blocks(
        queries, reference, rows=32, use_torch=True, device="cpu", dtype="float32"
    ):
        scale = (reference**2).sum(axis=1).max()
        np.testing.assert_allclose(block, brute[part], rtol=0, atol=1e-5 * scale)


def test_nearest_distances_equal_a_kd_tree(rng):
    points = rng.normal(size=(300, 40))
    expected = cKDTree(points).query(points, k=4)[0][:, 1:]
    np.testing.assert_allclose(pairwise.nearest_distances(points, 3, rows=37), expected, rtol=1e-10)


def test_paired_distances_equal_the_gathered_norms(rng):
    points = rng.normal(size=(200, 30))
    first, second = rng.integers(0, 200, 1000), rng.integers(0, 200, 1000)
    expected = np.linalg.norm(points[first] - points[second], axis=1)
    with pairwise.settings(memory_limit=8 * 3 * 30 * 50):  # 50 pairs per chunk
        np.testing.assert_allclose(pairwise.paired_distances(points, first, second), expected, rtol=1e-12)


def test_a_pairwise_block_allocates_within_the_memory_budget(rng):
    points = rng.normal(size=(2000, 50))
    budget = 2 * 2**20
    first, second = rng.integers(0, 2000, 100_000), rng.integers(0, 2000, 100_000)
    with pairwise.settings(memory_limit=budget, device="cpu"):
        tracemalloc.start()
        for _, block in pairwise.squared_distance_blocks(points, points):
            assert block.nbytes <= budget / 3
        _, peak_blocks = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        pairwise.paired_distances(points, first, second)
        _, peak_pairs = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    output = 8 * 100_000  # the distances returned
    assert peak_blocks <= budget + 2000 * 8 * 2
    assert peak_pairs <= budget + output + first.nbytes
    # Gathering every pair at once would have taken 2 x 100000 x 50 x 8 bytes = 80 MB.


def test_the_principal_axis_by_power_iteration_matches_the_eigendecomposition(rng):
    points = rng.normal(size=(500, 20)) * np.r_[4.0, np.linspace(2.0, 0.5, 19)]  # a clear leading direction
    points -= points.mean(axis=0)
    _, vectors = np.linalg.eigh(points.T @ points)
    assert abs(pairwise.principal_axis(points) @ vectors[:, -1]) == pytest.approx(1.0, abs=1e-8)


def test_the_cap_measures_pairwise_methods_on_one_seeded_subsample_and_counting_on_every_row(rng, estimate_params):
    n = 400
    labels, x_ids = rng.integers(0, 3, n), np.arange(n)
    activations = rng.normal(size=(2, n, 5))
    codes = np.floor(activations / 0.7).astype(np.int64)
    options = estimate_params("plugin", "kde-upper", noise_variance=0.1, dimensions=["twonn"], max_pairwise_samples=150)
    rows = pairwise.subsample_rows(n, 150, options.seed)
    assert len(rows) == 150 and np.array_equal(rows, pairwise.subsample_rows(n, 150, options.seed))
    capped = split_slab_information(options, labels, x_ids, codes, activations[:, rows], rows)
    full_codes = slab_information(estimate_params("plugin"), labels, x_ids, codes, None)
    subsample = slab_information(
        estimate_params("kde-upper", noise_variance=0.1, dimensions=["twonn"]),
        labels[rows],
        x_ids[rows],
        None,
        activations[:, rows],
    )
    assert capped.estimator.values.tolist() == ["plugin", "kde-upper"]
    xr.testing.assert_identical(capped.sel(estimator="plugin").H_T, full_codes.sel(estimator="plugin").H_T)
    xr.testing.assert_identical(capped.sel(estimator="kde-upper").I_XT, subsample.sel(estimator="kde-upper").I_XT)
    xr.testing.assert_identical(capped.nn_dim, subsample.nn_dim)
    xr.testing.assert_identical(capped.n_states, full_codes.n_states)  # the states of every row's codes
    plan = plan_pairwise(n, {"a": 5}, options)
    recorded = json.loads(cap_attrs(plan, options)["pairwise_samples"])
    assert recorded["capped"] and recorded["n_used"] == 150 and recorded["applies_to"] == ["kde-upper", "twonn"]


THESIS_CNN_WIDTHS = {"z1": 3136, "z2": 1568, "z3": 128, "output": 10}  # 28x28 input, 16 and 32 channels


def test_mnist_with_the_default_estimators_plans_a_capped_run_and_refuses_an_uncapped_one():
    params = validate_params({"dataset": {"name": "mnist"}})
    options = params.estimate
    plan = plan_pairwise(60000, THESIS_CNN_WIDTHS, options)
    assert plan.capped and plan.n_used == 5000
    check_plan(plan, options)  # fits: no error
    assert plan.peak_bytes <= options.memory_limit * 2**20
    uncapped = type(options)(**{**vars(options), "max_pairwise_samples": 0})
    with pytest.raises(ParamsError, match=r"estimate.max_pairwise_samples.*"):
        check_plan(plan_pairwise(60000, THESIS_CNN_WIDTHS, uncapped), uncapped)


def test_reading_a_row_subsample_shard_by_shard_equals_indexing_the_whole_slab(rng, tmp_path):
    import zarr

    from ibpipe.io.layers import LayerStoreWriter, read_slab

    values = rng.normal(size=(3, 250, 4)).astype(np.float32)
    root = zarr.open_group(tmp_path / "activations.zarr", mode="w")
    writer = LayerStoreWriter(
        root,
        "activation",
        shapes={"a": (4,)},
        epochs=np.arange(3),
        n_samples=250,
        epochs_per_shard=3,
        dtype="float32",
        samples_per_chunk=60,
    )
    for slab in writer.slabs():
        for samples in writer.sample_chunks():
            writer.write(slab, {"a": values[slab, samples]}, samples)
    rows = pairwise.subsample_rows(250, 77, seed=3)
    read = read_slab(tmp_path / "activations.zarr", "a", "activation", 1, 3, rows)
    np.testing.assert_array_equal(read, values[1:3][:, rows])


def test_the_plan_gives_each_pairwise_method_its_own_cost():
    """lga weighs d^2 / 2 moments per pair (N^2 d^2), both KDE bounds share one half Gram matrix (N^2 d), knn
    works on N x draws noisy points, and a window of w epochs pools w x N rows for the estimators."""
    from ibpipe.infoplane.capping import FLOPS_PER_SECOND, pairwise_flops

    def seconds(estimators, width, **keys):
        options = validate_params({"estimate": {"estimators": estimators, "dimensions": [], **keys}}).estimate
        return plan_pairwise(1000, {"a": width}, options).seconds_per_epoch

    kde = seconds(["kde-upper", "kde-lower"], 10)
    assert kde == pytest.approx(1000**2 * 10 / FLOPS_PER_SECOND)
    assert seconds(["kde-upper"], 10) == kde  # one bound costs what both do
    assert seconds(["kde-upper", "kde-lower"], 40) == pytest.approx(4 * kde)  # linear in d
    lga_10, lga_40 = seconds(["lga"], 10), seconds(["lga"], 40)
    assert lga_10 == pytest.approx(1000**2 * (10 * 10 + 3 * 10 + 2 + 2 * 10) / FLOPS_PER_SECOND)
    assert lga_40 / lga_10 > 9  # quadratic in d: 40 units cost ~10x what 10 do (kde: 4x)
    assert seconds(["knn"], 10, noise_draws=8) == pytest.approx(2 * 8**2 * kde)  # 8 draws per row, a full Gram
    assert seconds(["kde-upper"], 10, window=3) == pytest.approx(9 * kde)  # 3 x N pooled rows
    options = validate_params({"estimate": {"estimators": ["plugin"], "dimensions": ["corrdim"]}}).estimate
    assert pairwise_flops(1000, 10, options) == 2 * min(options.dimension_pairs, 1000**2) * 10
