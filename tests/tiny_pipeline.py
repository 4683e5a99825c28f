"""The smallest whole pipeline (shared by the fault, cluster and storage tests) and bitwise comparisons."""

from pathlib import Path

import numpy as np
import xarray as xr
import zarr
from test_pipeline import (
    TINY_AE,
    TINY_COMPRESSION,
    TINY_GAUSSIANS,
    TINY_NEURONS,
    TINY_TSNE,
    _edit_params,
    new_project,
)

# Outputs whose every array must come back bitwise identical (the metrics files are all the .nc ones).
STORES = ("data/weights.zarr", "data/activations.zarr", "data/codes.zarr")


def tiny_project(root: Path) -> Path:
    """The pipeline at its smallest: 5 epochs, every epoch measured, shards of 2 epochs, in-process estimates."""
    new_project(root)
    _edit_params(root, "train", epochs=5, learning_rate=1.0e-2, trials=1)
    _edit_params(root, "select", method="all")
    _edit_params(root, "dump", epochs_per_shard=2)
    _edit_params(root, "estimate", scheduler="synchronous", estimators=["plugin", "kde-upper"])
    _edit_params(root, "ae", **TINY_AE)
    _edit_params(root, "neurons.bootstrap", **TINY_NEURONS)
    _edit_params(root, "neurons.compress", **TINY_COMPRESSION)
    _edit_params(root, "neurons.gaussians", **TINY_GAUSSIANS)
    _edit_params(root, "tsne", **TINY_TSNE)
    return root


def stored_arrays(root: Path) -> dict[str, np.ndarray]:
    """Every array of the Zarr stores and every data variable (and coordinate) of the netCDF files."""
    arrays = {}
    for store in STORES:
        group = zarr.open_group(root / store, mode="r")
        for name, array in group.arrays():
            arrays[f"{store}/{name}"] = array[...]
        for name, subgroup in group.groups():
            for inner, array in subgroup.arrays():
                arrays[f"{store}/{name}/{inner}"] = array[...]
    for path in sorted([*root.glob("reports/*.nc"), *root.glob("data/*.nc")]):
        with xr.open_dataset(path) as dataset:
            for name, variable in dataset.variables.items():
                arrays[f"{path.relative_to(root)}/{name}"] = variable.values
    return arrays


def assert_bitwise_equal(found: dict[str, np.ndarray], expected: dict[str, np.ndarray], rounding: float = 0.0) -> None:
    """Equal bytes; with ``rounding`` > 0, float arrays may differ by that relative amount.

    Other processes (Dask workers with one BLAS thread, a fresh process's numba cache) may sum a
    KDE in another order: the last bits then differ while every digit that means something agrees.
    """
    assert found.keys() == expected.keys()
    differing = [name for name in expected if not _bitwise_equal(found[name], expected[name], rounding)]
    assert not differing, f"not {'bitwise identical' if not rounding else f'equal to {rounding:g}'}: {differing}"


def temporaries(root: Path) -> list[Path]:
    return [path for folder in ("data", "reports") for path in (root / folder).glob(".*.tmp")]


def _bitwise_equal(found: np.ndarray, expected: np.ndarray, rounding: float = 0.0) -> bool:
    if found.dtype != expected.dtype or found.shape != expected.shape:
        return False
    if found.dtype == object:  # text coordinates: compare the values, not the pointers
        return found.tolist() == expected.tolist()
    if rounding and found.dtype.kind == "f":
        return bool(np.allclose(found, expected, rtol=rounding, atol=rounding, equal_nan=True))
    return found.tobytes() == expected.tobytes()
