"""DVC stage `compare-covariances`: the same neurons' Gaussians from every covariance source
(bootstrap, sandwich, variational, teacher), drawn side by side.

Output reports/covariance_figures: ``covariance_sources.png`` and ``covariance_sources.json``
(per source, the mean over neurons of Tr S and the mean W2 between the sources' Gaussians of
each neuron, which share their mean, so W2 compares the covariances alone).
"""

from pathlib import Path

import numpy as np

from ibpipe.config.plot import PlotParams
from ibpipe.io.files import atomic_path, open_netcdf, write_json
from ibpipe.io.stage import run_stage
from ibpipe.neurons.gaussians import w2_squared
from ibpipe.neurons.params import COVARIANCE_SOURCES, NeuronGaussiansParams
from ibpipe.neurons.plots import covariance_sources_ellipses
from ibpipe.neurons.sources import gaussians_from
from ibpipe.schema import load_sections


def main(
    params_file: Path = Path("params.yaml"),
    bootstrap: Path = Path("data/bootstrap.nc"),
    out: Path = Path("reports/covariance_figures"),
) -> None:
    gaussians_params, plot = load_sections(params_file, NeuronGaussiansParams, PlotParams)
    layers = open_netcdf(bootstrap)
    covariances = {}
    for source in COVARIANCE_SOURCES:
        means, covariances[source], _ = gaussians_from(layers, gaussians_params, source)
    summary = {
        f"mean_trace_{source}": float(np.trace(covs, axis1=1, axis2=2).mean()) for source, covs in covariances.items()
    }
    for position, first in enumerate(COVARIANCE_SOURCES):
        for second in COVARIANCE_SOURCES[position + 1 :]:
            distances = np.sqrt(w2_squared(means, covariances[first], means, covariances[second]))
            summary[f"mean_w2_{first}_vs_{second}"] = float(distances.mean())
    figure = covariance_sources_ellipses(means, covariances)
    with atomic_path(out) as temporary:
        temporary.mkdir()
        figure.savefig(temporary / "covariance_sources.png", dpi=plot.dpi)
        write_json(temporary / "covariance_sources.json", summary)


if __name__ == "__main__":
    run_stage(main)
