"""DVC stage `dump-activations`: rebuild the net at every selected epoch and store its layers' activations."""

from pathlib import Path

import numpy as np
import torch
import zarr
from tqdm import tqdm

from ibpipe import store
from ibpipe.config import load_params
from ibpipe.data import load_dataset
from ibpipe.models import build_model, layer_widths, record_epochs
from ibpipe.stage import run_stage


def main(
    params_file: Path = Path("params.yaml"),
    weights: Path = Path("data/weights.zarr"),
    selection: Path = Path("data/selection.json"),
    out: Path = Path("data/activations.zarr"),
) -> None:
    params = load_params(params_file)
    data = params.dataset
    torch.set_num_threads(params.train.torch_threads)
    epochs = store.read_json(selection)["epochs"]
    dataset = load_dataset(data.name, data.test_fraction, data.split_seed, data.measure_on)
    rows = dataset.measured_rows
    inputs = torch.from_numpy(dataset.inputs[rows])
    model = build_model(**store.open_weights_attrs(weights)["model"])
    widths = layer_widths(model, inputs)
    recorded = record_epochs(model, store.read_weights(weights, epochs), inputs)
    with store.atomic_path(out) as temporary:
        root = zarr.open_group(temporary, mode="w")
        store.write_layer_store_header(root, epochs, rows, dataset.inputs[rows], dataset.labels[rows], widths, {"params": params.to_json()})
        writer = store.LayerStoreWriter(root, "activation", widths, epochs, len(rows), params.dump.epochs_per_shard, "float32")
        for slab in tqdm(list(writer.slabs()), desc="dump-activations", unit="shard"):
            activations = [next(recorded)[1] for _ in range(slab.stop - slab.start)]
            writer.write(slab, {layer: np.stack([epoch[layer] for epoch in activations]) for layer in widths})


if __name__ == "__main__":
    run_stage(main)
