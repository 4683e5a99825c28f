"""The reproduction recipes (reproductions/*.py): their helpers on known cases, and each recipe at its smoke size.

Each smoke run writes its run folders and reports under a temporary folder (IBPIPE_REPRODUCTIONS) and runs the
pipeline's stages there, so a recipe that no longer matches the pipeline (a renamed stage, flag or params key)
fails here instead of when a reader runs it.
"""

import gzip
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

PROJECT = Path(__file__).resolve().parents[1]
RECIPES = PROJECT / "reproductions"
sys.path.insert(0, str(RECIPES))

import _common as common  # noqa: E402
import dissertation  # noqa: E402
import thesis  # noqa: E402


def test_merged_lays_dotted_keys_over_sections_without_touching_the_rest():
    base = {"train": {"epochs": 8000, "optimizer": "adam"}, "select": {"method": "log"}}
    result = common.merged(base, {"train.epochs": 5, "select": {"every": 3}, "reduce.preset": "thesis-1"})
    assert result == {
        "train": {"epochs": 5, "optimizer": "adam"},
        "select": {"method": "log", "every": 3},
        "reduce": {"preset": "thesis-1"},
    }
    assert base["train"]["epochs"] == 8000  # the project's defaults are not edited


def test_schedule_errors_of_a_curve_linear_between_the_measured_epochs_is_the_largest_jump():
    # one layer, I(X;T) rises by 0.5 bit per epoch to epoch 4, then stays; I(T;Y) constant. H(X) = 2, H(Y) = 1.
    epochs = np.arange(9)
    values = np.zeros((9, 1, 2))
    values[:, 0, 0] = np.minimum(epochs, 4) * 0.5
    consecutive, worst = dissertation.schedule_errors(epochs, values, (2.0, 1.0), [0, 4, 8])
    assert consecutive == pytest.approx(2.0 / 2.0)  # 0 -> 4: I(X;T) moves 2 bits of H(X) = 2
    assert worst == pytest.approx(0.0)  # the curve is a straight line between 0, 4 and 8
    consecutive, worst = dissertation.schedule_errors(epochs, values, (2.0, 1.0), [0, 8])
    assert consecutive == pytest.approx(1.0)
    # the line from (0, 0) to (8, 2) is 1 bit below the curve at epoch 4: half of H(X)
    assert worst == pytest.approx(0.5)
    # adjacent epochs are never counted against the delta guarantee
    assert dissertation.schedule_errors(epochs, values, (2.0, 1.0), epochs.tolist())[0] == 0.0


def test_tiny_idx_files_of_the_smoke_run_read_as_mnist_layout(tmp_path):
    from ibpipe.data.idx import load_idx_dataset

    root = thesis.write_tiny_idx(tmp_path, n_train=30, n_test=20)
    train_x, train_y, test_x, _ = load_idx_dataset(root)
    assert train_x.shape == (30, 1, 28, 28) and test_x.shape == (20, 1, 28, 28)
    assert np.bincount(train_y).tolist() == [3] * 10
    assert gzip.decompress((root / "t10k-labels-idx1-ubyte.gz").read_bytes())[:4] == bytes([0, 0, 8, 1])


def test_a_missing_mnist_folder_stops_the_thesis_recipe_with_what_to_do(tmp_path):
    with pytest.raises(SystemExit, match="--extract-mnist"):
        thesis.check_mnist(tmp_path)


def test_every_study_has_a_recipe_and_a_page_and_the_index_lists_them():
    index = (PROJECT / "docs" / "reproductions" / "index.md").read_text()
    for study in ("dissertation", "optimisers", "thesis", "autoencoder", "tsne"):
        assert (RECIPES / f"{study}.py").exists()
        assert (PROJECT / "docs" / "reproductions" / f"{study}.md").exists()
        assert f"({study}.md)" in index


def _smoke(study: str, tmp_path: Path) -> Path:
    """Run ``reproductions/<study>.py --smoke`` with its reports under ``tmp_path``; return its report folder."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "DVC_NO_ANALYTICS": "1", "IBPIPE_REPRODUCTIONS": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(RECIPES / f"{study}.py"), "--smoke"], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "done:" in done.stdout
    return tmp_path / f"{study}-smoke"


@pytest.mark.slow
@pytest.mark.parametrize("study", ["optimisers", "dissertation", "thesis", "autoencoder", "tsne"])
def test_each_recipe_runs_at_its_smoke_size_and_writes_its_table(study, tmp_path):
    folder = _smoke(study, tmp_path)
    rows = json.loads((folder / "numbers.json").read_text())
    assert rows, f"{study}: empty table"
    assert (folder / "numbers.md").read_text().startswith("# ")
    assert list(folder.glob("*.png")), f"{study}: no figure"
    if study == "thesis":  # without narrowing, every distinct image is its own state: I(X;Z1) = H(Z1) = log2 N
        z1 = next(row for row in rows if row["coding"] == "none" and row["layer"] == "z1")
        assert z1["I[X;Z]"] == pytest.approx(z1["H[Z]"]) == pytest.approx(math.log2(100))
