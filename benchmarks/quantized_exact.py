"""Exact information of quantized 12-bit networks (Lorenzen, Igel & Nielsen, ICLR 2022), one run per seed.

Runs the stages train, select, dump-activations, reduce (method exact) and estimate (plugin) in a
working directory per (activation, seed), from the project's params.yaml with the overrides below,
then prints per layer: the largest I(X;T) and its epoch, the last I(X;T) and the drop between them
(compression), and the last I(T;Y). Usage:

    PYTHONPATH=$PWD python benchmarks/quantized_exact.py --epochs 8000 --learning-rate 1.0e-4 --seeds 0 1 2 \\
        --activations tanh relu --figure quantized_exact.png
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import numpy as np
import xarray as xr
import yaml

ROOT = Path(__file__).resolve().parents[1]
STAGES = [
    ["train.py", "--out", "data/weights.zarr"],
    ["select_epochs.py", "--weights", "data/weights.zarr", "--out", "data/selection.json"],
    ["dump_activations.py", "--weights", "data/weights.zarr", "--selection", "data/selection.json"],
    ["reduce.py", "--activations", "data/activations.zarr", "--out", "data/codes.zarr"],
    ["estimate.py", "--codes", "data/codes.zarr", "--activations", "data/activations.zarr"],
]


def run(
    workdir: Path, activation: str, seed: int, epochs: int, bits: int, n_points: int, learning_rate: float
) -> xr.Dataset:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["model"].update(activation=activation, quantize={"bits": bits})
    # one trial per working directory: the seeds are the repeats here
    params["train"].update(epochs=epochs, seed=seed, learning_rate=learning_rate, trials=1)
    params["select"].update(method="log", n_points=n_points)
    params["reduce"].update(method="exact", bits=bits)
    params["estimate"].update(estimators=["plugin"], dimensions=[], scheduler="synchronous", workers=1)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    if not (workdir / "reports/metrics.nc").exists():
        for stage in STAGES:
            subprocess.run([sys.executable, str(ROOT / "stages" / stage[0]), *stage[1:]], cwd=workdir, check=True)
    metrics = xr.load_dataset(workdir / "reports/metrics.nc")
    return metrics.isel(trial=0, drop=True) if "trial" in metrics.dims else metrics


def summary(metrics: xr.Dataset) -> list[str]:
    ixt = metrics["I_XT"].sel(estimator="plugin")
    ity = metrics["I_TY"].sel(estimator="plugin")
    lines = []
    for layer in metrics.layer.values.tolist():
        curve = ixt.sel(layer=layer)
        peak = int(curve.argmax("epoch"))
        lines.append(
            f"  {layer:8s} I(X;T) first {float(curve[0]):6.3f}, max {float(curve[peak]):6.3f} "
            f"at epoch {int(metrics.epoch[peak]):5d}, "
            f"last {float(curve[-1]):6.3f} (drop {float(curve[peak] - curve[-1]):6.3f}), "
            f"last I(T;Y) {float(ity.sel(layer=layer)[-1]):.4f}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--activations", nargs="+", default=["tanh", "relu"])
    parser.add_argument("--bits", type=int, default=8)
    parser.add_argument("--n-points", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=4.0e-4)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ibpipe-quantized"))
    parser.add_argument("--figure", type=Path, help="PNG of I(X;T) and I(T;Y) over epochs, mean over seeds")
    args = parser.parse_args()
    runs: dict[str, list[xr.Dataset]] = {}
    for seed in args.seeds:
        for activation in args.activations:
            workdir = args.workdir / f"{activation}-{seed}"
            metrics = run(workdir, activation, seed, args.epochs, args.bits, args.n_points, args.learning_rate)
            runs.setdefault(activation, []).append(metrics)
            print(f"{activation} {args.bits}-bit seed {seed}, {args.epochs} epochs, lr {args.learning_rate}:")
            print("\n".join(summary(metrics)), flush=True)
    for activation, seeds in runs.items():
        print(f"{activation}: mean over {len(seeds)} seed(s)")
        print("\n".join(mean_table(seeds)))
    if args.figure:
        figure(runs, args.bits).savefig(args.figure, dpi=120)


def mean_table(seeds: list[xr.Dataset], threshold: float = 0.1) -> list[str]:
    """Per layer, means over seeds of I(X;T) first / max / last, and in how many seeds it fell > threshold bits."""
    lines = [f"  {'layer':8s} {'first':>7s} {'max':>7s} {'last':>7s} {'drop':>7s}  compressed  I(T;Y) last"]
    for layer in seeds[0].layer.values.tolist():
        curves = [run["I_XT"].sel(estimator="plugin", layer=layer).values for run in seeds]
        first, peak, last = (
            np.mean([pick(curve) for curve in curves]) for pick in (lambda c: c[0], np.max, lambda c: c[-1])
        )
        compressed = sum(np.max(curve) - curve[-1] > threshold for curve in curves)
        label = np.mean([float(run["I_TY"].sel(estimator="plugin", layer=layer)[-1]) for run in seeds])
        lines.append(
            f"  {layer:8s} {first:7.3f} {peak:7.3f} {last:7.3f} {peak - last:7.3f}  {compressed}/{len(seeds)}"
            f"         {label:.4f}"
        )
    return lines


def figure(runs: dict[str, list[xr.Dataset]], bits: int):
    """Rows I(X;T), I(T;Y); a column per activation; a line per layer: the mean over seeds (thin: each seed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plot, axes = plt.subplots(2, len(runs), figsize=(5.5 * len(runs), 7), sharex=True, squeeze=False)
    for column, (activation, seeds) in enumerate(runs.items()):
        layers = seeds[0].layer.values.tolist()
        colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(layers)))
        for row, quantity in enumerate(("I_XT", "I_TY")):
            axis = axes[row, column]
            for colour, layer in zip(colours, layers):
                curves = [run[quantity].sel(estimator="plugin", layer=layer) for run in seeds]
                for curve in curves:
                    axis.plot(curve.epoch, curve, color=colour, linewidth=0.5, alpha=0.4)
                mean = sum(curves) / len(curves)
                axis.plot(mean.epoch, mean, color=colour, linewidth=1.8, label=layer)
            axis.set_xscale("symlog", linthresh=1)
            axis.set_xlim(left=0)
            axis.grid(True, alpha=0.3)
            axis.set_ylabel(f"{'I(X;T)' if quantity == 'I_XT' else 'I(T;Y)'} [bits], exact")
        axes[0, column].set_title(f"{activation}, {bits}-bit, {len(seeds)} seed(s)")
        axes[1, column].set_xlabel("epoch")
    axes[0, 0].legend(fontsize=8)
    plot.tight_layout()
    return plot


if __name__ == "__main__":
    main()
