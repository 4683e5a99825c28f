"""DVC stage `ae-entropy`: autoencoder entropy curves over code size d = 1..ae.dmax (Dask over d), and the bend
of the standardised entropy as a DVC metric (--summary)."""

from pathlib import Path

import numpy as np

from ibpipe.ae_entropy.curves import curve_metrics, entropy_curves
from ibpipe.ae_entropy.params import AeParams
from ibpipe.io.attrs import PARAMS_ATTR
from ibpipe.io.files import read_json, write_json, write_metrics
from ibpipe.io.stage import run_stage
from ibpipe.parallel import dask_client
from ibpipe.schema import load_sections, sections_json


def main(
    params_file: Path = Path("params.yaml"),
    points: Path = Path("data/ae_points"),
    out: Path = Path("reports/ae_entropy.nc"),
    summary: Path = Path("reports/ae_entropy.json"),
) -> None:
    (ae,) = load_sections(params_file, AeParams)
    source = read_json(points / "source.json")
    with dask_client(ae.scheduler, ae.workers) as client:
        dataset = entropy_curves(
            np.load(points / "points.npy"),
            ae.dmax,
            ae,
            ae,
            client,
            restarts=ae.restarts,
        )
    dataset.attrs.update({**source, PARAMS_ATTR: sections_json(ae)})
    write_metrics(out, dataset)
    write_json(summary, curve_metrics(dataset))


if __name__ == "__main__":
    run_stage(main)
