"""DVC stage `ae-entropy`: autoencoder entropy curves H(d) and the dimension of their codes, d = 1..ae.dmax.

One autoencoder per code size, trained on Dask workers (one thread each). The points are a
dataset's inputs, a synthetic manifold or a recorded layer at one epoch (params section `ae`).
"""

from pathlib import Path

import numpy as np

from ibpipe import autoencoder, store
from ibpipe.config import load_params
from ibpipe.data import DATASETS, load_dataset
from ibpipe.data.manifolds import MANIFOLDS, make_manifold
from ibpipe.parallel import dask_client
from ibpipe.stage import run_stage


def main(params_file: Path = Path("params.yaml"), activations: Path = Path("data/activations.zarr"), out: Path = Path("reports/ae_entropy.nc")) -> None:
    params = load_params(params_file)
    ae = params.ae
    raw, true_dim, origin = _source_points(ae, activations)
    points = autoencoder.prepare_points(raw, ae.n_samples, ae.seed)
    training, measuring = autoencoder.settings_from_params(ae)
    with dask_client(ae.scheduler, ae.workers) as client:
        dataset = autoencoder.entropy_curves(points, ae.dmax, training, measuring, client)
    dataset.attrs.update({"source": origin, "true_dim": -1 if true_dim is None else true_dim, "params": params.to_json()})
    store.write_metrics(out, dataset)


def _source_points(ae, activations: Path) -> tuple[np.ndarray, int | None, str]:
    """(points, true dimension if known, a description) for ``ae.source``."""
    if ae.source in MANIFOLDS:
        points, true_dim = make_manifold(ae.source, ae.n_samples, ae.ambient_dim, ae.intrinsic_dim, ae.noise, ae.seed)
        return points, true_dim, f"{ae.source} (dimension {true_dim}) in R^{ae.ambient_dim}, noise {ae.noise}"
    if ae.source in DATASETS:
        return load_dataset(ae.source).inputs, None, f"the inputs of {ae.source}"
    root = store.open_layer_store(activations)
    layers = store.layer_names(root)
    if ae.layer not in layers:
        raise ValueError(f"ae.layer = {ae.layer!r} is not a recorded layer; layers are {', '.join(layers)}")
    epochs = root["epoch"][...].tolist()
    epoch = epochs[-1] if ae.epoch == -1 else ae.epoch
    if epoch not in epochs:
        raise ValueError(f"ae.epoch = {ae.epoch} was not measured; measured epochs run {epochs[0]}..{epochs[-1]} (see data/selection.json)")
    return root[ae.layer]["activation"][epochs.index(epoch)], None, f"layer {ae.layer} at epoch {epoch}"


if __name__ == "__main__":
    run_stage(main)
