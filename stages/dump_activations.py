"""DVC stage `dump-activations`: rebuild the net at every selected epoch and store its layers' activations.

Works shard by shard (a slab of epochs x a chunk of samples), so memory follows
dump.epochs_per_shard x dump.samples_per_chunk, not the dataset size.
"""

from pathlib import Path

import numpy as np
import torch

from ibpipe.config.dataset import DatasetParams
from ibpipe.config.dump import DumpParams
from ibpipe.data.datasets import load_dataset
from ibpipe.infoplane.dumping import dump_activations
from ibpipe.io.attrs import PARAMS_ATTR
from ibpipe.io.files import read_json
from ibpipe.io.stage import run_stage
from ibpipe.io.stores import new_store
from ibpipe.io.weights import open_weights_attrs
from ibpipe.schema import load_sections, sections_json


def main(
    params_file: Path = Path("params.yaml"),
    weights: str = "data/weights.zarr",
    selection: Path = Path("data/selection.json"),
    out: str = "data/activations.zarr",
) -> None:
    data, dump = load_sections(params_file, DatasetParams, DumpParams)
    torch.set_num_threads(dump.torch_threads)
    epochs = np.asarray(read_json(selection)["epochs"], dtype=np.int64)
    dataset = load_dataset(**data.to_dict())
    params = sections_json(data, dump, upstream=open_weights_attrs(weights).get(PARAMS_ATTR))
    # out may be an fsspec URL (s3://bucket/run/activations.zarr) for workers that share no disk
    with new_store(out) as root:
        dump_activations(root, weights, dataset, epochs=epochs, dump=dump, params=params)


if __name__ == "__main__":
    run_stage(main)
