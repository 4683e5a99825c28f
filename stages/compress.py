"""DVC stage `compress`: cluster the neurons for k = 1..k_max under each metric, merge, and
measure the test score (accuracy, or forecast MSE) against parameters.

Output reports/compression.nc (scores (metric, k, restart), params (k), per-restart areas under the
curve, sign tests per k) and reports/compression.json for `dvc metrics show`, with the permutation
test of W2 against Euclidean and its verdict.
"""

import json
import math
from pathlib import Path

from ibpipe.config.checks import load_sections, sections_json
from ibpipe.config.neurons import NeuronsBootstrapParams, NeuronsCompressParams
from ibpipe.io.files import open_netcdf, read_json, write_json, write_metrics
from ibpipe.io.stage import run_stage
from ibpipe.neurons.circle import circle_structure, input_plane
from ibpipe.neurons.compression import compression_curves, curves_of, smallest_parameters_at
from ibpipe.neurons.pipeline import PipelineEvaluator, load_state, pipeline_rows
from ibpipe.neurons.tasks import task_of


def main(
    params_file: Path = Path("params.yaml"),
    bootstrap: Path = Path("data/bootstrap.nc"),
    neurons: Path = Path("data/neurons.nc"),
    source: Path = Path("data/neuron_source"),
    out: Path = Path("reports/compression.nc"),
    summary: Path = Path("reports/compression.json"),
) -> None:
    (compress_params,) = load_sections(params_file, NeuronsCompressParams)
    layers, gaussians = open_netcdf(bootstrap), open_netcdf(neurons)
    upstream = gaussians.attrs["params"]
    trained = NeuronsBootstrapParams(**json.loads(upstream)[NeuronsBootstrapParams.section])
    means, covs = gaussians["mean"].values, gaussians.covariance.values
    ks = list(range(1, (compress_params.k_max or len(layers.neuron)) + 1))
    if trained.source == "pipeline":
        described = read_json(source / "source.json")
        test_x, test_y = pipeline_rows(json.loads(described["params"]), "test")
        evaluator = PipelineEvaluator(described["model"], load_state(source / "final"), trained.layer, test_x, test_y)
        curves = curves_of(
            evaluator,
            means,
            covs,
            ks,
            compress_params.restarts,
            compress_params.seed,
            compress_params.metrics,
            "classification",
        )
    else:
        task = task_of(trained)
        reference = tuple(layers[f"reference_{name}"].values for name in ("w_in", "b_in", "w_out", "b_out"))
        curves = compression_curves(
            means,
            covs,
            reference,
            trained.activation,
            task.test_x,
            task.test_y,
            ks,
            compress_params.restarts,
            compress_params.seed,
            tuple(compress_params.metrics),
            task.kind,
        )
        if task.kind == "series":
            _add_circle(curves, layers, task.train_x)
    curves.attrs.update(
        {
            "dataset": layers.attrs["dataset"],
            "covariance_source": gaussians.attrs["covariance_source"],
            "params": sections_json(compress_params, upstream=upstream),
        }
    )
    write_metrics(out, curves)
    write_json(summary, _summary(curves, compress_params))


def _add_circle(curves, layers, train_inputs) -> None:
    """The neurons (reference and replicas) in the plane of the input's first two principal axes."""
    plane = input_plane(train_inputs)
    reference = circle_structure(layers.reference_w_in.values, plane)
    replica_w = layers.replica_w_in.values
    replicas = circle_structure(replica_w.reshape(-1, replica_w.shape[-1]), plane)
    curves["circle_reference"] = (("neuron", "plane_axis"), reference["projections"])
    curves["circle_replicas"] = (
        ("replica", "neuron", "plane_axis"),
        replicas["projections"].reshape(*replica_w.shape[:2], 2),
    )
    curves.attrs.update(
        circle_radius_cv_reference=reference["radius_cv"],
        circle_largest_gap_degrees_reference=reference["largest_gap_degrees"],
        circle_radius_cv_replicas=replicas["radius_cv"],
    )


def _summary(curves, compress_params: NeuronsCompressParams) -> dict:
    """The numbers of `dvc metrics show`: full net, parameters reaching the threshold, the W2-vs-Euclidean tests."""
    score = curves.attrs["primary_score"]
    report = {"dataset": curves.attrs["dataset"], "covariance_source": curves.attrs["covariance_source"]}
    report.update(
        {
            key: round(float(value), 4)
            for key, value in curves.attrs.items()
            if key.endswith("_full") and key != "params_full"
        }
    )
    report["params_full"] = int(curves.attrs["params_full"])
    threshold, label = (
        (0.9, "params_at_0.90")
        if score == "accuracy"
        else (compress_params.mse_threshold, f"params_at_mse_{compress_params.mse_threshold:g}")
    )
    report.update({f"{label}_{metric}": value for metric, value in smallest_parameters_at(curves, threshold).items()})
    report.update({key: round(float(value), 3) for key, value in curves.attrs.items() if key.startswith("circle_")})
    if "p_value_overall" in curves.attrs:
        report.update(
            p_value_w2_vs_euclidean=float(f"{curves.attrs['p_value_overall']:.3g}"),
            **{f"mean_{score}_difference_w2_minus_euclidean": round(float(curves.attrs["mean_difference_overall"]), 4)},
            pairs_w2_better=curves.attrs["w2_better"],
            pairs_euclidean_better=curves.attrs["euclidean_better"],
            pairs_tied=curves.attrs["ties"],
            restarts=int(curves.sizes["restart"]),
            **{
                f"auc_{metric}": round(float(curves.auc.sel(metric=metric).mean()), 4) for metric in ("euclidean", "w2")
            },
            auc_difference_w2_minus_euclidean=round(curves.attrs["auc_mean_difference"], 4),
            auc_difference_ci95=[round(curves.attrs["auc_ci95_low"], 4), round(curves.attrs["auc_ci95_high"], 4)],
            # d_z is +-inf when every restart differs by the same amount; JSON has no infinity.
            auc_effect_size_dz=round(dz, 3) if math.isfinite(dz := curves.attrs["auc_effect_size_dz"]) else None,
            auc_permutation_p=float(f"{curves.attrs['auc_p_value']:.3g}"),
            verdict=curves.attrs["verdict"],
        )
    return report


if __name__ == "__main__":
    run_stage(main)
