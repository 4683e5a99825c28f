"""DVC stage `describe`: the data set and one layer drawn, as the bachelor thesis explores MNIST
(``ibpipe.infoplane.describe``): labels, two pixels and their independence test, per-feature activation
histograms, mean/std maps, the coding's borders and pooled images; the numbers in describe.json."""

import json
from pathlib import Path

from ibpipe.config.describe import DescribeParams
from ibpipe.config.plot import PlotParams
from ibpipe.infoplane.describe import describe_run
from ibpipe.io.files import atomic_path
from ibpipe.io.layers import open_layer_store
from ibpipe.io.stage import run_stage
from ibpipe.schema import load_sections


def main(
    params_file: Path = Path("params.yaml"),
    activations: str = "data/activations.zarr",
    codes: str = "data/codes.zarr",
    out: Path = Path("reports/describe"),
) -> None:
    describe, plot = load_sections(params_file, DescribeParams, PlotParams)
    figures, summary = describe_run(open_layer_store(activations), open_layer_store(codes), describe)
    with atomic_path(out) as temporary:
        temporary.mkdir()
        for name, figure in figures.items():
            figure.savefig(temporary / f"{name}.png", dpi=plot.dpi)
        (temporary / "describe.json").write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    run_stage(main)
