"""DVC stage `reduce`: pool and discretise every layer's activations into integer codes, in the same layout
(``ibpipe.infoplane.coding``)."""

from pathlib import Path

from ibpipe.config.reduce import ReduceParams
from ibpipe.infoplane.coding import write_codes
from ibpipe.io.attrs import PARAMS_ATTR
from ibpipe.io.layers import open_layer_store
from ibpipe.io.stage import run_stage
from ibpipe.io.stores import new_store
from ibpipe.schema import load_sections, sections_json


def main(
    params_file: Path = Path("params.yaml"),
    activations: str = "data/activations.zarr",
    out: str = "data/codes.zarr",
) -> None:
    (reduce_params,) = load_sections(params_file, ReduceParams)
    source = open_layer_store(activations)
    params = sections_json(reduce_params, upstream=source.attrs.get(PARAMS_ATTR))
    # Stores may be fsspec URLs (s3://bucket/run/codes.zarr) for workers that share no disk
    with new_store(out) as root:
        write_codes(source, root, reduce_params, params)


if __name__ == "__main__":
    run_stage(main)
