"""DVC stage `compress`: cluster the neurons for k = 1..k_max under each metric, merge, and
measure accuracy against parameters.

Output reports/compression.nc (accuracy (metric, k, restart), params (k), per-k sign tests) and
reports/compression.json for `dvc metrics show`.
"""

import json
from pathlib import Path

from ibpipe.config.checks import load_sections, sections_json
from ibpipe.config.neurons import NeuronsBootstrapParams, NeuronsCompressParams
from ibpipe.data.datasets import load_dataset
from ibpipe.io.files import open_netcdf, write_json, write_metrics
from ibpipe.io.stage import run_stage
from ibpipe.neurons.compression import compression_curves, smallest_parameters_at


def main(
    params_file: Path = Path("params.yaml"),
    bootstrap: Path = Path("data/bootstrap.nc"),
    neurons: Path = Path("data/neurons.nc"),
    out: Path = Path("reports/compression.nc"),
    summary: Path = Path("reports/compression.json"),
) -> None:
    (choice,) = load_sections(params_file, NeuronsCompressParams)
    layers, gaussians = open_netcdf(bootstrap), open_netcdf(neurons)
    upstream = gaussians.attrs["params"]
    trained = NeuronsBootstrapParams(**json.loads(upstream)[NeuronsBootstrapParams.section])
    data = load_dataset(trained.dataset, trained.test_fraction, trained.split_seed)
    inputs = data.inputs.reshape(len(data.inputs), -1)
    reference = tuple(layers[f"reference_{name}"].values for name in ("w_in", "b_in", "w_out", "b_out"))
    hidden = len(layers.neuron)
    ks = list(range(1, (choice.k_max or hidden) + 1))
    curves = compression_curves(
        gaussians["mean"].values,
        gaussians.covariance.values,
        reference,
        trained.activation,
        inputs[data.test_rows],
        data.labels[data.test_rows],
        ks,
        choice.restarts,
        choice.seed,
        tuple(choice.metrics),
    )
    curves.attrs.update(
        {
            "dataset": trained.dataset,
            "covariance_source": gaussians.attrs["covariance_source"],
            "params": sections_json(choice, upstream=upstream),
        }
    )
    write_metrics(out, curves)
    smallest = smallest_parameters_at(curves, 0.9)
    report = {
        "dataset": trained.dataset,
        "accuracy_full": round(curves.attrs["accuracy_full"], 4),
        "params_full": int(curves.attrs["params_full"]),
    }
    report.update({f"params_at_0.90_{metric}": value for metric, value in smallest.items()})
    if "p_value_overall" in curves.attrs:
        report.update(
            p_value_w2_vs_euclidean=float(f"{curves.attrs['p_value_overall']:.3g}"),
            mean_accuracy_difference_w2_minus_euclidean=round(float(curves.attrs["mean_difference_overall"]), 4),
            pairs_w2_better=curves.attrs["w2_better"],
            pairs_euclidean_better=curves.attrs["euclidean_better"],
            pairs_tied=curves.attrs["ties"],
        )
    write_json(summary, report)


if __name__ == "__main__":
    run_stage(main)
