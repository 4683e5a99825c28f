"""DVC stage `ae-points`: the points of the autoencoder curve (a dataset's inputs, a manifold or a recorded layer).

Its own stage so that `ae-entropy` reruns only when the points change: a re-dump of the
activations reruns this cheap stage, and a synthetic or dataset source comes out byte-identical.
Output: a folder with ``points.npy`` and ``source.json`` (description and true dimension).
"""

from pathlib import Path

import numpy as np

from ibpipe.ae_entropy.params import AeParams
from ibpipe.ae_entropy.points import prepare_points, source_points
from ibpipe.io.files import atomic_path, write_json
from ibpipe.io.stage import run_stage
from ibpipe.schema import load_sections


def main(
    params_file: Path = Path("params.yaml"),
    activations: Path = Path("data/activations.zarr"),
    out: Path = Path("data/ae_points"),
) -> None:
    (ae,) = load_sections(params_file, AeParams)
    raw, true_dim, origin = source_points(ae, activations)
    points = prepare_points(raw, ae.n_samples, ae.seed)
    with atomic_path(out) as temporary:
        temporary.mkdir()
        np.save(temporary / "points.npy", points)
        write_json(temporary / "source.json", {"source": origin, "true_dim": -1 if true_dim is None else true_dim})


if __name__ == "__main__":
    run_stage(main)
