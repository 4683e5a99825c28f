"""The neuron parameter-space study on the gait series: the nets 10-3-20 and 100-3-100, every covariance source,
and the read-out neurons of 100-3-100 (100 -> 16).

Each net forecasts the synthetic 50 Hz gait signal (``ibpipe.neurons.gait``): `window` past samples in,
3 tanh hidden neurons, `horizon` future samples out. The reference net and 30 bootstrap replicas are trained
and aligned as the `bootstrap` stage does (``ibpipe.neurons.replica_sets.replica_set``), every neuron becomes
a Gaussian under each covariance source (bootstrap, sandwich, variational, teacher = Algorithm 1) as
`neuron-gaussians` does, and the neurons are clustered, merged and scored as `compress` does
(``neuron_compression``): the same library calls as the stages, in one process. Analysed neuron sets: the 3
hidden neurons of each net, and the 100 read-out neurons of 100-3-100 (each its 3 weights and bias).

    python reproductions/neurons.py            # the study (reports/reproductions/neurons/), about 10 min
    python reproductions/neurons.py --smoke    # seconds
    python reproductions/neurons.py --publish  # also copy the figures to docs/reproductions/figures/neurons_*.png
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
REPORTS = Path(os.environ.get("IBPIPE_REPRODUCTIONS", REPO / "reports" / "reproductions"))
DOC_FIGURES = REPO / "docs" / "reproductions" / "figures"
NETS = {"10-3-20": {"window": 10, "horizon": 20}, "100-3-100": {"window": 100, "horizon": 100}}
CASES = (("10-3-20", "hidden"), ("100-3-100", "hidden"), ("100-3-100", "output"))
SLIDES_READOUT_CLUSTERS = 16  # the slides reduce the 100 read-out neurons of 100-3-100 to 16
_START = time.perf_counter()


def say(message: str) -> None:
    print(f"[{time.perf_counter() - _START:7.1f} s] {message}", flush=True)


def sizes(smoke: bool) -> dict:
    if smoke:
        return {
            "series_length": 1000,
            "epochs": 30,
            "replicas": 3,
            "steps": 20,
            "restarts": 2,
            "readout_k_max": 6,
            "scheduler": "synchronous",
        }
    return {
        "series_length": 3000,
        "epochs": 1000,
        "replicas": 30,
        "steps": 500,
        "restarts": 5,
        "readout_k_max": 40,
        "scheduler": "local",
    }


def trained_layers(net: str, size: dict):
    """data/bootstrap.nc of a gait net (hidden neurons), and the section that made it."""
    from ibpipe.neurons.params import NeuronsBootstrapParams
    from ibpipe.neurons.replica_sets import replica_set
    from ibpipe.schema import sections_json

    bootstrap = NeuronsBootstrapParams(
        dataset="gait",
        hidden=3,
        series_length=size["series_length"],
        epochs=size["epochs"],
        replicas=size["replicas"],
        scheduler=size["scheduler"],
        workers=2,
        **NETS[net],
    )
    layers = replica_set(bootstrap, None)
    layers.attrs["params"] = sections_json(bootstrap)
    return bootstrap, layers


def as_neuron_layer(bootstrap, layers, neuron_layer: str):
    """The same trained nets with ``neuron_layer`` as the neuron set (training does not depend on it)."""
    from ibpipe.schema import sections_json

    section = bootstrap.model_copy(update={"neuron_layer": neuron_layer})
    copy = layers.copy()
    copy.attrs.update({"neuron_layer": neuron_layer, "params": sections_json(section)})
    return section, copy


def run_case(bootstrap, layers, size: dict, neuron_layer: str) -> dict:
    """{source: (gaussians, curves)} for every covariance source."""
    from ibpipe.neurons.compression import neuron_compression
    from ibpipe.neurons.params import COVARIANCE_SOURCES, NeuronGaussiansParams, NeuronsCompressParams
    from ibpipe.neurons.sources import gaussians_dataset

    k_max = size["readout_k_max"] if neuron_layer == "output" else 0
    compress = NeuronsCompressParams(k_max=k_max, restarts=size["restarts"])
    results = {}
    for source in COVARIANCE_SOURCES:
        start = time.perf_counter()
        gaussians = gaussians_dataset(layers, NeuronGaussiansParams(covariance=source, steps=size["steps"]))
        curves = neuron_compression(layers, gaussians, bootstrap, compress, None)
        results[source] = (gaussians, curves)
        say(f"  {source}: {time.perf_counter() - start:.1f} s")
    return results


def rows_of(net: str, neuron_layer: str, results: dict, threshold: float) -> list[dict]:
    import numpy as np

    from ibpipe.neurons.statistics import smallest_parameters_at

    rows = []
    for source, (gaussians, curves) in results.items():
        mse = curves.mse.mean("restart")
        k_shown = min(SLIDES_READOUT_CLUSTERS if neuron_layer == "output" else 1, int(curves.k.max()))
        at = smallest_parameters_at(curves, threshold)
        rows.append(
            {
                "net": net,
                "neurons": f"{gaussians.sizes['neuron']} {'read-out' if neuron_layer == 'output' else 'hidden'}",
                "source": source,
                "params_full": int(curves.attrs["params_full"]),
                "mse_full": float(curves.attrs["mse_full"]),
                "one_step_mse_full": float(curves.attrs["one_step_mse_full"]),
                "mean_trace": float(np.trace(gaussians.covariance.values, axis1=1, axis2=2).mean()),
                "k": k_shown,
                "params_at_k": int(curves.params.sel(k=k_shown)),
                "mse_at_k_w2": float(mse.sel(metric="w2", k=k_shown)),
                "mse_at_k_euclidean": float(mse.sel(metric="euclidean", k=k_shown)),
                f"params_at_mse_{threshold:g}_w2": at.get("w2"),
                f"params_at_mse_{threshold:g}_euclidean": at.get("euclidean"),
                "w2_vs_euclidean": curves.attrs.get("verdict", ""),
                "circle_radius_cv": round(float(curves.attrs.get("circle_radius_cv_reference", float("nan"))), 3),
            }
        )
    return rows


def compression_figure(cases: dict, path: Path) -> None:
    import matplotlib.pyplot as plt

    figure, panels = plt.subplots(1, len(cases), figsize=(5 * len(cases), 3.8), layout="constrained", squeeze=False)
    for axis, (title, results) in zip(panels[0], cases.items()):
        euclidean = next(iter(results.values()))[1]
        axis.plot(euclidean.params, euclidean.mse.sel(metric="euclidean").mean("restart"), "k--", label="euclidean")
        for source, (_, curves) in results.items():
            axis.plot(curves.params, curves.mse.sel(metric="w2").mean("restart"), marker=".", label=f"W2, {source}")
        axis.axhline(euclidean.attrs["mse_full"], color="grey", linestyle=":", label="full net")
        axis.set_yscale("log")
        axis.set_xlabel("parameters of the merged net")
        axis.set_ylabel("test MSE (signal variance units)")
        axis.set_title(title, fontsize=10)
        axis.grid(True, alpha=0.3)
    panels[0][0].legend(fontsize=7)
    figure.savefig(path, dpi=80)
    plt.close(figure)


def circle_figure(layers, curves, path: Path) -> None:
    """The 100 read-out neurons in the plane of the hidden activations, coloured by forecast lead, and the
    centres of one W2 k-means with 16 clusters (bootstrap covariances)."""
    import matplotlib.pyplot as plt
    import numpy as np

    reference = curves.circle_reference.values
    replicas = curves.circle_replicas.values.reshape(-1, 2)
    figure, axis = plt.subplots(figsize=(5.2, 4.6), layout="constrained")
    axis.scatter(*replicas.T, s=2, color="lightgrey", label="replicas")
    points = axis.scatter(*reference.T, c=np.arange(1, len(reference) + 1), s=12, cmap="viridis", label="reference")
    figure.colorbar(points, label="forecast lead (samples)")
    if "centres_16" in curves.attrs:
        centres = np.asarray(json.loads(curves.attrs["centres_16"]))
        axis.scatter(*centres.T, marker="x", s=60, color="crimson", label=f"{len(centres)} W2 centres")
    axis.set_aspect("equal", adjustable="datalim")
    axis.set_xlabel("hidden-activation principal axis 1")
    axis.set_ylabel("axis 2")
    axis.set_title("100-3-100: read-out neurons (3 weights + bias)", fontsize=10)
    axis.legend(fontsize=7)
    figure.savefig(path, dpi=80)
    plt.close(figure)


def add_centres(layers, bootstrap, results: dict, k: int) -> None:
    """The W2 k-means centres (bootstrap covariances) of the read-out neurons, in the circle's plane."""
    import numpy as np

    from ibpipe.neurons.circle import input_plane
    from ibpipe.neurons.kmeans import kmeans
    from ibpipe.neurons.layers import layer_inputs
    from ibpipe.neurons.tasks import task_of

    gaussians, curves = results["bootstrap"]
    k = min(k, gaussians.sizes["neuron"])
    result = kmeans(gaussians["mean"].values, gaussians.covariance.values, k=k, metric="w2", n_init=5, seed=0)
    reference = tuple(layers[f"reference_{name}"].values for name in ("w_in", "b_in", "w_out", "b_out"))
    plane = input_plane(layer_inputs(reference, task_of(bootstrap).train_x, bootstrap.activation, "output"))
    curves.attrs["centres_16"] = json.dumps((np.asarray(result.centre_means)[:, :-1] @ plane.T).tolist())


def write_table(folder: Path, rows: list[dict], extra: dict) -> None:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    lines = ["# Neuron study on the gait nets", "", "| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for row in rows:
        cells = [f"{row.get(c):.4g}" if isinstance(row.get(c), float) else str(row.get(c, "")) for c in columns]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", *(f"- {key}: {value}" for key, value in extra.items())]
    (folder / "numbers.md").write_text("\n".join(lines) + "\n")
    (folder / "numbers.json").write_text(json.dumps({"rows": rows, **extra}, indent=1) + "\n")


def main(argv: list[str] | None = None) -> Path:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks that the recipe runs (seconds)")
    parser.add_argument("--publish", action="store_true", help="also copy the figures into docs/reproductions/figures")
    arguments = parser.parse_args(argv)
    size = sizes(arguments.smoke)
    out = REPORTS / ("neurons-smoke" if arguments.smoke else "neurons")
    out.mkdir(parents=True, exist_ok=True)
    threshold = 0.05
    cases, rows, extra = {}, [], {"sizes": size}
    trained = {}
    for net, neuron_layer in CASES:
        if net not in trained:
            start = time.perf_counter()
            trained[net] = trained_layers(net, size)
            say(f"{net}: reference and {size['replicas']} replicas in {time.perf_counter() - start:.1f} s")
        bootstrap, layers = as_neuron_layer(*trained[net], neuron_layer)
        say(f"{net}, {neuron_layer} neurons")
        results = run_case(bootstrap, layers, size, neuron_layer)
        if neuron_layer == "output":
            add_centres(layers, bootstrap, results, SLIDES_READOUT_CLUSTERS)
            circle_figure(layers, results["bootstrap"][1], out / "neurons_readout_circle.png")
            curves = results["bootstrap"][1]
            extra["readout_circle_radius_cv"] = round(float(curves.attrs["circle_radius_cv_reference"]), 3)
            extra["readout_circle_largest_gap_degrees"] = round(
                float(curves.attrs["circle_largest_gap_degrees_reference"]), 1
            )
            from ibpipe.neurons.plots import covariance_sources_ellipses

            covariances = {source: gaussians.covariance.values for source, (gaussians, _) in results.items()}
            figure = covariance_sources_ellipses(results["bootstrap"][0]["mean"].values, covariances, n_neurons=4)
            figure.savefig(out / "neurons_covariance_sources.png", dpi=70)
        cases[f"{net}, {'read-out' if neuron_layer == 'output' else 'hidden'} neurons"] = results
        rows += rows_of(net, neuron_layer, results, threshold)
    compression_figure(cases, out / "neurons_compression.png")
    extra["seconds"] = round(time.perf_counter() - _START, 1)
    write_table(out, rows, extra)
    if arguments.publish:
        DOC_FIGURES.mkdir(parents=True, exist_ok=True)
        for figure in sorted(out.glob("neurons_*.png")):
            shutil.copy(figure, DOC_FIGURES / figure.name)
    say(f"done: {out}")
    return out


if __name__ == "__main__":
    main()
