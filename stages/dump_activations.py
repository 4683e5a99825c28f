"""DVC stage `dump-activations`: rebuild the net at every selected epoch and store its layers' activations.

Works shard by shard (a slab of epochs x a chunk of samples), so memory follows
dump.epochs_per_shard x dump.samples_per_chunk, not the dataset size.
"""

from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ibpipe.config.checks import load_sections, sections_json
from ibpipe.config.dataset import DatasetParams
from ibpipe.config.dump import DumpParams
from ibpipe.data.datasets import load_dataset
from ibpipe.io.files import read_json
from ibpipe.io.layers import LayerStoreWriter, write_layer_store_header
from ibpipe.io.stage import run_stage
from ibpipe.io.stores import new_store
from ibpipe.io.weights import open_weights_attrs, read_weights
from ibpipe.nn.architectures import build_model
from ibpipe.nn.layers import layer_shapes, record_slab


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
    rows = dataset.measured_rows
    inputs = torch.from_numpy(dataset.inputs[rows])
    trained = open_weights_attrs(weights)
    model = build_model(trained["model"])
    shapes = layer_shapes(model, inputs)
    # out may be an fsspec URL (s3://bucket/run/activations.zarr) for workers that share no disk
    with new_store(out) as root:
        write_layer_store_header(
            root,
            epochs,
            rows,
            dataset.inputs[rows],
            dataset.labels[rows],
            shapes,
            {"params": sections_json(data, dump, upstream=trained.get("params"))},
        )
        writer = LayerStoreWriter(
            root, "activation", shapes, epochs, len(rows), dump.epochs_per_shard, "float32", dump.samples_per_chunk
        )
        slabs, chunks = list(writer.slabs()), writer.sample_chunks()
        with tqdm(total=len(slabs) * len(chunks), desc="dump-activations", unit="shard") as progress:
            for slab in slabs:
                slab_weights = list(read_weights(weights, epochs[slab]))
                for samples in chunks:
                    writer.write(slab, record_slab(model, slab_weights, inputs[samples]), samples)
                    progress.update()


if __name__ == "__main__":
    run_stage(main)
