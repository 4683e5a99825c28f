"""The autoencoder study: entropy of the codes of autoencoders with code size d = 1..dmax on MNIST images.

For each d an autoencoder (784-64-32-d, ELU, Adam, early stopping) is trained on standardised MNIST images and
the entropy of its codes is estimated: leave-one-out KDE (raw and standardised codes), the Monte Carlo entropy
(-mean ln p_hat over a held-out half of the codes: the slides' step 4), the KDE bound on I(X; Z + noise), and
the correlation dimension of the codes with its ln C(r) against ln r curve and fitted range. All of it is the
pipeline's ae-points, ae-entropy and plot-ae stages (``ae.source: mnist``).

MNIST is read from data/mnist/ (or --mnist DIR); see ``reproductions/thesis.py --extract-mnist``.

    python reproductions/autoencoder.py           # the study (reports/reproductions/autoencoder/)
    python reproductions/autoencoder.py --smoke   # seconds, on scikit-learn's 8x8 digits
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

STUDY = "autoencoder"
SETTINGS = {
    "ae.source": "mnist",
    "ae.n_samples": 1000,
    "ae.dmax": 8,
    "ae.restarts": 1,
    "ae.max_epochs": 300,
    "ae.patience": 30,
}
SMOKE = {
    "ae.source": "digits",
    "ae.n_samples": 200,
    "ae.dmax": 3,
    "ae.restarts": 1,
    "ae.max_epochs": 20,
    "ae.patience": 5,
}


def main() -> None:
    parser = common.common_arguments(__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=common.REPO / "data" / "mnist", help="folder of the IDX files")
    arguments = parser.parse_args()
    study = f"{STUDY}-smoke" if arguments.smoke else STUDY
    out = common.out_folder(study)
    settings = SMOKE if arguments.smoke else SETTINGS
    folder = common.run_folder(study, "ae", {**settings, "ae.workers": 2})
    if not arguments.smoke:
        from ibpipe.data.idx import missing_idx_files

        if missing_idx_files(arguments.mnist):
            raise SystemExit(
                f"MNIST IDX files missing in {arguments.mnist}: see reproductions/thesis.py --extract-mnist"
            )
        (folder / "data" / "mnist").symlink_to(arguments.mnist.resolve(), target_is_directory=True)
    common.say(f"autoencoder curves: {settings}")
    common.stages(folder, "ae-points", "ae-entropy", "plot-ae")
    common.copy_figure(folder / "reports" / "ae_figures" / "ae_entropy.png", study, "ae_entropy.png", arguments.publish)
    common.write_table(out, curve_rows(folder / "reports" / "ae_entropy.nc"), title="Autoencoder curves (nats)")
    common.say(f"done: {common.shown(out)}")


def curve_rows(path: Path) -> list[dict]:
    import xarray as xr

    rows = []
    with xr.open_dataset(path) as curves:
        names = [name for name in ("mse", "H_raw", "H_std", "H_mc", "I_noise", "corrdim_codes") if name in curves]
        for d in curves.d.values.tolist():
            rows.append({"d": d, **{name: float(curves[name].sel(d=d)) for name in names}})
        bends = {key: value for key, value in curves.attrs.items() if key.startswith("bend_") or key == "mse_elbow"}
        dims = {
            key: curves.attrs[key] for key in curves.attrs if "dim" in key and not isinstance(curves.attrs[key], str)
        }
        rows.append({"d": "bends", **{key: float(value) for key, value in bends.items()}})
        if dims:
            rows.append({"d": "data", **{key: float(value) for key, value in dims.items()}})
    return rows


if __name__ == "__main__":
    main()
