"""Compression curves: k-means of the neuron Gaussians for each k, metric and restart; every neuron replaced
by its centre's mean, identical neurons merged exactly, test accuracy and parameters of the merged net;
a paired sign test of W2 against squared Euclidean.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ibpipe.neurons.kmeans import METRICS, kmeans
from ibpipe.neurons.merge import sign_test
from ibpipe.neurons.network import HiddenLayerNet, accuracy, merged_net, parameter_count


def compression_curves(
    means: np.ndarray,
    covs: np.ndarray,
    reference: tuple[np.ndarray, ...],
    activation: str,
    test_inputs: np.ndarray,
    test_labels: np.ndarray,
    ks: list[int],
    restarts: int,
    seed: int,
    metrics: tuple[str, ...] = METRICS,
) -> xr.Dataset:
    """accuracy (metric, k, restart) and params (k) of the merged nets, with the paired W2-vs-Euclidean sign tests.

    Restart r of every metric and k uses seed + r (one k-means++ seeding each), so the two
    metrics are compared on paired runs.
    """
    from threadpoolctl import threadpool_limits

    w_in, b_in, w_out, b_out = (np.asarray(array, dtype=np.float64) for array in reference)
    full = HiddenLayerNet.from_arrays(w_in, b_in, w_out, b_out, activation)
    accuracies = np.empty((len(metrics), len(ks), restarts))
    parameters = np.zeros(len(ks), dtype=np.int64)
    # Thousands of small eigendecompositions: one BLAS thread is fastest (and never oversubscribes).
    with threadpool_limits(1):
        for m, metric in enumerate(metrics):
            for position, k in enumerate(ks):
                for restart in range(restarts):
                    result = kmeans(
                        means, covs if metric == "w2" else None, k=k, metric=metric, n_init=1, seed=seed + restart
                    )
                    merged = merged_net(full, result.labels, result.centre_means)
                    accuracies[m, position, restart] = accuracy(merged, test_inputs, test_labels)
                    parameters[position] = max(parameters[position], parameter_count(merged))
    dataset = xr.Dataset(
        {
            "accuracy": (
                ("metric", "k", "restart"),
                accuracies,
                {"units": "1", "long_name": "test accuracy of the merged net"},
            ),
            "params": (
                "k",
                parameters,
                {"units": "parameter", "long_name": "parameters of the merged net (both layers)"},
            ),
        },
        coords={"metric": list(metrics), "k": np.asarray(ks), "restart": np.arange(restarts)},
    )
    dataset.attrs.update(
        {"accuracy_full": accuracy(full, test_inputs, test_labels), "params_full": parameter_count(full)}
    )
    if set(METRICS) <= set(metrics):
        _add_sign_tests(dataset, ks)
    return dataset


def _add_sign_tests(dataset: xr.Dataset, ks: list[int]) -> None:
    """Per-k and overall paired sign tests of W2 against squared Euclidean accuracy, added in place."""
    difference = dataset.accuracy.sel(metric="w2") - dataset.accuracy.sel(metric="euclidean")
    dataset["mean_difference"] = (
        "k",
        difference.mean("restart").values,
        {"units": "1", "long_name": "mean accuracy W2 minus Euclidean"},
    )
    dataset["p_value"] = (
        "k",
        [
            sign_test(
                dataset.accuracy.sel(metric="w2", k=k).values, dataset.accuracy.sel(metric="euclidean", k=k).values
            )
            for k in ks
        ],
        {"long_name": "two-sided sign test, W2 vs Euclidean, per k"},
    )
    dataset.attrs["p_value_overall"] = sign_test(
        dataset.accuracy.sel(metric="w2").values.ravel(), dataset.accuracy.sel(metric="euclidean").values.ravel()
    )
    dataset.attrs["mean_difference_overall"] = float(difference.mean())
    # The sign test drops ties and treats every (k, restart) pair as independent; the counts show what it saw.
    dataset.attrs["w2_better"] = int((difference > 0).sum())
    dataset.attrs["euclidean_better"] = int((difference < 0).sum())
    dataset.attrs["ties"] = int((difference == 0).sum())


def smallest_parameters_at(curves: xr.Dataset, threshold: float = 0.9) -> dict[str, int | None]:
    """Per metric, the fewest parameters whose mean accuracy over restarts reaches ``threshold`` (None if never)."""
    smallest = {}
    for metric in curves.metric.values.tolist():
        reaching = curves.params.values[curves.accuracy.sel(metric=metric).mean("restart").values >= threshold]
        smallest[metric] = int(reaching.min()) if len(reaching) else None
    return smallest
