"""DVC stage `reduce`: turn every layer's activations into integer codes, in the same layout."""

from pathlib import Path

import zarr
from tqdm import tqdm

from ibpipe import reduce as reducing
from ibpipe import store
from ibpipe.config import load_params
from ibpipe.stage import run_stage


def main(params_file: Path = Path("params.yaml"), activations: Path = Path("data/activations.zarr"), out: Path = Path("data/codes.zarr")) -> None:
    params = load_params(params_file)
    choice = params.reduce
    source = store.open_layer_store(activations)
    widths = store.layer_widths(source)
    ranges = {
        layer: reducing.running_range(values for _, values in store.layer_slabs(source, layer, "activation"))
        if choice.value_range == "data"
        else tuple(choice.value_range)
        for layer in widths
    }
    epochs = source["epoch"][...]
    with store.atomic_path(out) as temporary:
        root = zarr.open_group(temporary, mode="w")
        store.copy_header(source, root)
        root.attrs.update({"params": params.to_json(), "value_ranges": {layer: list(r) for layer, r in ranges.items()}})
        store.write_array(root, "x_id", reducing.distinct_input_ids(source["inputs"][...]), ("sample",))
        shard = store.epochs_per_shard(source, next(iter(widths)), "activation")
        writer = store.LayerStoreWriter(root, "code", widths, epochs, root["labels"].shape[0], shard, "int32")
        for layer in tqdm(widths, desc="reduce", unit="layer"):
            for slab, values in store.layer_slabs(source, layer, "activation"):
                codes = reducing.reduce_values(values, choice.method, choice.n_bins, ranges[layer], choice.bin_size)
                writer.write(slab, {layer: codes})


if __name__ == "__main__":
    run_stage(main)
