"""DVC stage `estimate`: H(T), I(X;T), I(T;Y) per (epoch, layer, estimator), fanned out over Dask."""

from pathlib import Path

from ibpipe.config.estimate import EstimateParams
from ibpipe.infoplane.metrics import metrics_summary
from ibpipe.infoplane.tasks import estimate_run
from ibpipe.io.attrs import PARAMS_ATTR, REDUCTION_DESCRIPTIONS_ATTR
from ibpipe.io.files import write_json, write_metrics
from ibpipe.io.layers import open_layer_store
from ibpipe.io.stage import run_stage
from ibpipe.schema import load_sections, sections_json


def main(
    params_file: Path = Path("params.yaml"),
    codes: str = "data/codes.zarr",
    activations: str = "data/activations.zarr",
    out: Path = Path("reports/metrics.nc"),
    summary: Path = Path("reports/metrics.json"),
) -> None:
    (params,) = load_sections(params_file, EstimateParams)
    upstream = open_layer_store(codes).attrs
    attrs = {
        PARAMS_ATTR: sections_json(params, upstream=upstream.get(PARAMS_ATTR)),
        REDUCTION_DESCRIPTIONS_ATTR: upstream.get(REDUCTION_DESCRIPTIONS_ATTR, "{}"),
    }
    metrics = estimate_run(params, codes, activations, attrs)
    write_metrics(out, metrics)
    write_json(summary, metrics_summary(metrics))


if __name__ == "__main__":
    run_stage(main, outputs=("out", "summary"))
