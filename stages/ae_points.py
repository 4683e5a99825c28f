"""DVC stage `ae-points`: the points of the autoencoder curve (a dataset's inputs, a manifold or a recorded layer).

Its own stage so that `ae-entropy` reruns only when the points change: a re-dump of the
activations reruns this cheap stage, and a synthetic or dataset source comes out byte-identical.
Output: a folder with ``points.npy`` and ``source.json`` (description and true dimension).
"""

from pathlib import Path

import numpy as np

from ibpipe.ae_entropy.params import AeParams
from ibpipe.ae_entropy.points import prepare_points
from ibpipe.data.datasets import DATASETS, load_dataset
from ibpipe.data.manifolds import MANIFOLDS, make_manifold
from ibpipe.errors import InputError
from ibpipe.io.files import atomic_path, write_json
from ibpipe.io.layers import layer_names, open_layer_store
from ibpipe.io.stage import run_stage
from ibpipe.schema import load_sections


def main(
    params_file: Path = Path("params.yaml"),
    activations: Path = Path("data/activations.zarr"),
    out: Path = Path("data/ae_points"),
) -> None:
    (ae,) = load_sections(params_file, AeParams)
    raw, true_dim, origin = _source_points(ae, activations)
    points = prepare_points(raw, ae.n_samples, ae.seed)
    with atomic_path(out) as temporary:
        temporary.mkdir()
        np.save(temporary / "points.npy", points)
        write_json(temporary / "source.json", {"source": origin, "true_dim": -1 if true_dim is None else true_dim})


def _source_points(ae: AeParams, activations: Path) -> tuple[np.ndarray, int | None, str]:
    """(points, true dimension if known, a description) for ``ae.source``."""
    if ae.source in MANIFOLDS:
        points, true_dim = make_manifold(ae.source, ae.n_samples, ae.ambient_dim, ae.intrinsic_dim, ae.noise, ae.seed)
        return points, true_dim, f"{ae.source} (dimension {true_dim}) in R^{ae.ambient_dim}, noise {ae.noise}"
    if ae.source in DATASETS:
        return load_dataset(ae.source).inputs, None, f"the inputs of {ae.source}"
    root = open_layer_store(activations)
    layers = layer_names(root)
    if ae.layer not in layers:
        raise InputError(f"ae.layer = {ae.layer!r} is not a recorded layer; layers are {', '.join(layers)}")
    epochs = root["epoch"][...].tolist()
    epoch = epochs[-1] if ae.epoch == -1 else ae.epoch
    if epoch not in epochs:
        raise InputError(
            f"ae.epoch = {ae.epoch} was not measured; measured epochs run {epochs[0]}..{epochs[-1]} "
            "(see data/selection.json)"
        )
    return root[ae.layer]["activation"][epochs.index(epoch)], None, f"layer {ae.layer} at epoch {epoch}"


if __name__ == "__main__":
    run_stage(main)
