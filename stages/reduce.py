"""DVC stage `reduce`: turn every layer's activations into integer codes, in the same layout."""

from pathlib import Path

import numpy as np
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
    epochs = source["epoch"][...]
    n_samples = source["labels"].shape[0]
    with store.atomic_path(out) as temporary:
        root = zarr.open_group(temporary, mode="w")
        store.copy_header(source, root)
        store.write_array(root, "x_id", reducing.distinct_input_ids(source["inputs"][...]), ("sample",))
        shard = store.epochs_per_shard(source, next(iter(widths)), "activation")
        writer = store.LayerStoreWriter(root, "code", widths, epochs, n_samples, shard, "int32")
        ranges = {}
        for layer in tqdm(widths, desc="reduce", unit="layer"):
            value_range, unit_ranges = _layer_ranges(source, layer, choice, len(epochs) * n_samples)
            ranges[layer] = value_range if unit_ranges is None else unit_ranges.tolist()
            for slab, values in store.layer_slabs(source, layer, "activation"):
                codes = [reducing.reduce_values(epoch, choice.method, choice.n_bins, value_range, choice.bin_size, unit_ranges) for epoch in values]
                writer.write(slab, {layer: np.stack(codes)})
        root.attrs.update({"params": params.to_json(), "value_ranges": ranges})


def _layer_ranges(source, layer, choice, n_rows_total):
    """The (low, high) of fixed-width bins and the per-unit quantile ranges, where the method needs them."""
    slabs = (values for _, values in store.layer_slabs(source, layer, "activation"))
    if choice.method == "quantile":
        pooled = reducing.pooled_rows(slabs, n_rows_total)
        return None, reducing.quantile_edges(pooled, choice.q_low, choice.q_high)
    if choice.method == "fixed-width":
        return (reducing.running_range(slabs) if choice.value_range == "data" else tuple(choice.value_range)), None
    return None, None


if __name__ == "__main__":
    run_stage(main)
