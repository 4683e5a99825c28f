"""The information-plane explainer with t-SNE: 3-D t-SNE maps of each layer of the 12-bit net over epochs.

The pipeline's tsne stage embeds a seeded subset of the measured rows of every layer at the first epoch, the
epoch of the layer's largest I(X;T) and the last one, each map started from the previous one, coloured by label,
beside the information plane of the same run (plug-in, 30 bins), so the fitting and compression phases can be
seen as the clusters forming and tightening.

    python reproductions/tsne.py           # the study (reports/reproductions/tsne/)
    python reproductions/tsne.py --smoke   # seconds
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

STUDY = "tsne"


def main() -> None:
    arguments = common.common_arguments(__doc__.splitlines()[0]).parse_args()
    smoke = arguments.smoke
    study = f"{STUDY}-smoke" if smoke else STUDY
    out = common.out_folder(study)
    epochs, points, rows, iterations = (8, 6, 60, 250) if smoke else (1500, 50, 400, 500)
    folder = common.run_folder(
        study,
        "tanh",
        {
            "train.epochs": epochs,
            "train.trials": 1,
            "select.method": "log",
            "select.n_points": points,
            "estimate.estimators": ["plugin"],
            "estimate.dimensions": [],
            "estimate.scheduler": "synchronous",
            "tsne.dimensions": 3,
            "tsne.n_rows": rows,
            "tsne.n_iter": iterations,
            "tsne.gif": False,
        },
    )
    common.say(f"12-bit tanh net, {epochs} epochs, 3-D t-SNE of {rows} rows")
    common.stages(folder, "train", "select", "dump-activations", "reduce", "estimate", "plot", "tsne")
    common.copy_figure(folder / "reports" / "tsne" / "grid.png", study, "grid3d.png", arguments.publish)
    name = "information_plane_plugin.png"
    common.copy_figure(folder / "reports" / "figures" / name, study, name, arguments.publish)
    common.write_table(out, map_rows(folder), title="3-D t-SNE maps of the 12-bit net")
    common.say(f"done: {common.shown(out)}")


def map_rows(folder: Path) -> list[dict]:
    """Per layer and mapped epoch: I(X;T), I(T;Y) and the silhouette of the labels in the 3-D map (how far the
    two classes stand apart in the map, -1..1)."""
    import xarray as xr
    from sklearn.metrics import silhouette_score

    rows = []
    with (
        xr.open_dataset(folder / "reports" / "tsne" / "embeddings.nc") as maps,
        xr.open_dataset(folder / "reports" / "metrics.nc") as metrics,
    ):
        labels = maps.label.values
        for layer in maps.layer.values.tolist():
            for step in range(maps.sizes["step"]):
                epoch = int(maps.epoch.sel(layer=layer).values[step])
                cell = metrics.sel(layer=layer, epoch=epoch, estimator="plugin").isel(trial=0)
                embedding = maps.embedding.sel(layer=layer).values[step]
                rows.append(
                    {
                        "layer": layer,
                        "map": str(maps.step_name.sel(layer=layer).values[step]),
                        "epoch": epoch,
                        "I(X;T)": float(cell.I_XT),
                        "I(T;Y)": float(cell.I_TY),
                        "label silhouette in the map": float(silhouette_score(embedding, labels))
                        if len(set(labels.tolist())) > 1
                        else float("nan"),
                    }
                )
    return rows


if __name__ == "__main__":
    main()
