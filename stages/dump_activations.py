"""DVC stage `dump-activations`: rebuild the net at every selected epoch and store its layers' activations.

Works shard by shard (a slab of epochs x a chunk of samples), so memory follows
dump.epochs_per_shard x dump.samples_per_chunk, not the dataset size.
"""

from pathlib import Path

import numpy as np
import torch
import zarr
from tqdm import tqdm

from ibpipe import store
from ibpipe.config import load_params
from ibpipe.models import build_model, layer_shapes, record_slab
from ibpipe.stage import run_stage


def main(
    params_file: Path = Path("params.yaml"),
    weights: Path = Path("data/weights.zarr"),
    selection: Path = Path("data/selection.json"),
    out: Path = Path("data/activations.zarr"),
) -> None:
    params = load_params(params_file)
    torch.set_num_threads(params.train.torch_threads)
    epochs = np.asarray(store.read_json(selection)["epochs"], dtype=np.int64)
    dataset = params.dataset.load()
    rows = dataset.measured_rows
    inputs = torch.from_numpy(dataset.inputs[rows])
    model = build_model(store.open_weights_attrs(weights)["model"])
    shapes = layer_shapes(model, inputs)
    with store.atomic_path(out) as temporary:
        root = zarr.open_group(temporary, mode="w")
        store.write_layer_store_header(root, epochs, rows, dataset.inputs[rows], dataset.labels[rows], shapes, {"params": params.to_json()})
        writer = store.LayerStoreWriter(root, "activation", shapes, epochs, len(rows), params.dump.epochs_per_shard, "float32", params.dump.samples_per_chunk)
        slabs, chunks = list(writer.slabs()), writer.sample_chunks()
        with tqdm(total=len(slabs) * len(chunks), desc="dump-activations", unit="shard") as progress:
            for slab in slabs:
                slab_weights = list(store.read_weights(weights, epochs[slab]))
                for samples in chunks:
                    writer.write(slab, record_slab(model, slab_weights, inputs[samples]), samples)
                    progress.update()


if __name__ == "__main__":
    run_stage(main)
