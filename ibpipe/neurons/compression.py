"""Compression curves: k-means of the neuron Gaussians for each k, metric and restart; every neuron replaced
by its centre's mean, identical neurons merged exactly, test score (accuracy, or MSE of a forecast) and
parameters of the merged net; W2 against squared Euclidean by a paired permutation test of per-restart
areas under the curve (``ibpipe.neurons.statistics``), and the older pooled sign test.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from ibpipe.neurons.kmeans import kmeans
from ibpipe.neurons.merge import sign_test
from ibpipe.neurons.network import HiddenLayerNet, merged_net, parameter_count
from ibpipe.neurons.params import METRICS
from ibpipe.neurons.statistics import area_under_curve, paired_comparison, verdict
from ibpipe.neurons.tasks import scores


class OwnNetEvaluator:
    """Scores and parameters of a one-hidden-layer net merged to its centres (``merged_net``)."""

    def __init__(self, reference, activation: str, test_inputs, test_targets, kind: str = "classification"):
        w_in, b_in, w_out, b_out = (np.asarray(array, dtype=np.float64) for array in reference)
        self.full = HiddenLayerNet.from_arrays(w_in, b_in, w_out, b_out, activation)
        self.test_inputs, self.test_targets, self.kind = test_inputs, test_targets, kind
        self.full_scores = scores(self.full, test_inputs, test_targets, kind)
        self.params_full = parameter_count(self.full)

    def evaluate(self, labels: np.ndarray, centre_means: np.ndarray) -> tuple[dict[str, float], int]:
        merged = merged_net(self.full, labels, centre_means)
        return scores(merged, self.test_inputs, self.test_targets, self.kind), parameter_count(merged)


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
    kind: str = "classification",
) -> xr.Dataset:
    """``curves_of`` a one-hidden-layer net (``reference`` = (w_in, b_in, w_out, b_out)) on these test rows."""
    evaluator = OwnNetEvaluator(reference, activation, test_inputs, test_labels, kind)
    return curves_of(evaluator, means, covs, ks, restarts, seed, metrics, kind)


def curves_of(
    evaluator, means: np.ndarray, covs: np.ndarray, ks: list[int], restarts: int, seed: int, metrics, kind: str
) -> xr.Dataset:
    """Scores (metric, k, restart) and params (k) of the merged nets, with the W2-vs-Euclidean comparisons.

    ``evaluator`` has ``full_scores``, ``params_full`` and ``evaluate(labels, centre_means)`` ->
    (scores, parameters) of the merged network. Scores: ``accuracy`` for classification, ``mse``
    and ``one_step_mse`` for a series task (``ibpipe.neurons.tasks.scores``); the first is the
    primary score, attrs ``<score>_full`` hold the uncompressed net's. Restart r of every metric
    and k uses seed + r (one k-means++ seeding each), so the two metrics are compared on paired runs.
    """
    from threadpoolctl import threadpool_limits

    metrics = tuple(metrics)
    values = {name: np.empty((len(metrics), len(ks), restarts)) for name in evaluator.full_scores}
    parameters = np.zeros(len(ks), dtype=np.int64)
    # Thousands of small eigendecompositions: one BLAS thread is fastest (and never oversubscribes).
    with threadpool_limits(1):
        for m, metric in enumerate(metrics):
            for position, k in enumerate(ks):
                for restart in range(restarts):
                    result = kmeans(
                        means, covs if metric == "w2" else None, k=k, metric=metric, n_init=1, seed=seed + restart
                    )
                    merged_scores, count = evaluator.evaluate(result.labels, result.centre_means)
                    for name, value in merged_scores.items():
                        values[name][m, position, restart] = value
                    parameters[position] = max(parameters[position], count)
    variables = {
        name: (("metric", "k", "restart"), array, {"units": "1", "long_name": f"{SCORE_NAMES[name]} of the merged net"})
        for name, array in values.items()
    }
    variables["params"] = (
        "k",
        parameters,
        {"units": "parameter", "long_name": "parameters of the merged net"},
    )
    dataset = xr.Dataset(
        variables, coords={"metric": list(metrics), "k": np.asarray(ks), "restart": np.arange(restarts)}
    )
    dataset.attrs.update({f"{name}_full": value for name, value in evaluator.full_scores.items()})
    dataset.attrs.update(
        {"params_full": evaluator.params_full, "task": kind, "primary_score": next(iter(evaluator.full_scores))}
    )
    if set(METRICS) <= set(metrics):
        _add_sign_tests(dataset, ks)
        _add_restart_comparison(dataset)
    return dataset


SCORE_NAMES = {
    "accuracy": "test accuracy",
    "mse": "test MSE (all targets, signal variance units)",
    "one_step_mse": "test MSE of the one-step forecast",
}


def higher_is_better(curves: xr.Dataset) -> bool:
    return curves.attrs.get("primary_score", "accuracy") == "accuracy"


def _add_sign_tests(dataset: xr.Dataset, ks: list[int]) -> None:
    """Per-k and overall paired sign tests of W2 against squared Euclidean on the primary score, added in place."""
    score = dataset[dataset.attrs["primary_score"]]
    difference = score.sel(metric="w2") - score.sel(metric="euclidean")
    dataset["mean_difference"] = (
        "k",
        difference.mean("restart").values,
        {"units": "1", "long_name": f"mean {dataset.attrs['primary_score']} W2 minus Euclidean"},
    )
    dataset["p_value"] = (
        "k",
        [sign_test(score.sel(metric="w2", k=k).values, score.sel(metric="euclidean", k=k).values) for k in ks],
        {"long_name": "two-sided sign test, W2 vs Euclidean, per k"},
    )
    dataset.attrs["p_value_overall"] = sign_test(
        score.sel(metric="w2").values.ravel(), score.sel(metric="euclidean").values.ravel()
    )
    dataset.attrs["mean_difference_overall"] = float(difference.mean())
    # The pooled sign test drops ties and treats every (k, restart) pair as independent, which they are
    # not (restart r shares its seed across k): kept for comparison; _add_restart_comparison is the honest one.
    better = difference > 0 if higher_is_better(dataset) else difference < 0
    worse = difference < 0 if higher_is_better(dataset) else difference > 0
    dataset.attrs["w2_better"] = int(better.sum())
    dataset.attrs["euclidean_better"] = int(worse.sum())
    dataset.attrs["ties"] = int((difference == 0).sum())


def _add_restart_comparison(dataset: xr.Dataset) -> None:
    """Per restart, the normalised area under the primary score against parameters (``auc``, dims
    (metric, restart)); then W2 minus Euclidean over restarts: permutation p-value, effect size, CI."""
    name = dataset.attrs["primary_score"]
    auc = area_under_curve(dataset.params.values, dataset[name].transpose("metric", "restart", "k").values)
    dataset["auc"] = (
        ("metric", "restart"),
        auc,
        {"long_name": f"mean {name} over the parameter range (normalised area under the curve), per restart"},
    )
    comparison = paired_comparison(
        auc[list(dataset.metric.values).index("w2")], auc[list(dataset.metric.values).index("euclidean")]
    )
    dataset.attrs.update({f"auc_{key}": value for key, value in comparison.as_dict().items()})
    dataset.attrs["verdict"] = verdict(comparison, higher_is_better(dataset))


def smallest_parameters_at(curves: xr.Dataset, threshold: float = 0.9) -> dict[str, int | None]:
    """Per metric, the fewest parameters whose mean primary score over restarts reaches ``threshold``
    (accuracy >= threshold, or MSE <= threshold; None if never)."""
    smallest = {}
    score = curves[curves.attrs.get("primary_score", "accuracy")]
    for metric in curves.metric.values.tolist():
        mean = score.sel(metric=metric).mean("restart").values
        reaching = curves.params.values[mean >= threshold if higher_is_better(curves) else mean <= threshold]
        smallest[metric] = int(reaching.min()) if len(reaching) else None
    return smallest
