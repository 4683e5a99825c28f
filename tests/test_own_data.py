"""A user's own data: arrays (npy pair or npz) and custom factories load exactly like the built-in datasets,
bad files fail with a message naming the file and the fix, and the files are deps of the stages."""

import time

import numpy as np
import pytest
from test_pipeline import _edit_params, _run, new_project

from ibpipe.config.dataset import DatasetParams
from ibpipe.data.datasets import DATASETS, load_dataset
from ibpipe.data.tables import load_digits_images
from ibpipe.errors import InputError, MissingFileError
from ibpipe.pipeline import OWN_DATA, STAGES

SPLIT = {"test_fraction": 0.25, "split_seed": 3, "measure_on": ["train", "test"]}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits", **SPLIT)


def _same_dataset(found, expected):
    assert found.inputs.dtype == np.float32 and found.labels.dtype == np.int64
    assert found.inputs.tobytes() == expected.inputs.tobytes() and found.input_shape == expected.input_shape
    np.testing.assert_array_equal(found.labels, expected.labels)
    assert found.n_classes == expected.n_classes == 10
    for rows in ("train_rows", "test_rows", "measured_rows"):
        np.testing.assert_array_equal(getattr(found, rows), getattr(expected, rows))
    for split in ("train", "test"):
        np.testing.assert_array_equal(found.measured_splits[split], expected.measured_splits[split])


def test_arrays_from_an_npy_pair_load_like_the_built_in_digits(tmp_path, digits):
    inputs, labels = load_digits_images()
    np.save(tmp_path / "inputs.npy", inputs.astype(np.float64))  # any numeric dtype; stored as float32
    np.save(tmp_path / "labels.npy", labels.astype(np.uint8))
    _same_dataset(load_dataset("arrays", root=tmp_path, **SPLIT), digits)


def test_arrays_from_one_npz_load_like_the_built_in_digits(tmp_path, digits):
    inputs, labels = load_digits_images()
    np.savez_compressed(tmp_path / "data.npz", inputs=inputs, labels=labels)
    _same_dataset(load_dataset("arrays", root=str(tmp_path), **SPLIT), digits)


def test_arrays_default_to_the_data_own_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / OWN_DATA).mkdir(parents=True)
    np.save(tmp_path / OWN_DATA / "inputs.npy", np.eye(6, dtype=np.float32))
    np.save(tmp_path / OWN_DATA / "labels.npy", np.array([0, 1, 2, 0, 1, 2]))
    dataset = load_dataset("arrays", test_fraction=0.5)
    assert dataset.n_classes == 3 and len(dataset.train_rows) == len(dataset.test_rows) == 3


@pytest.mark.parametrize("returned", ["arrays", "tensors", "dataset"])
def test_a_custom_factory_loads_like_the_built_in_digits(tmp_path, digits, returned):
    module = f"own_digits_{returned}"
    body = {
        "arrays": "return load_digits_images()",
        "tensors": "x, y = load_digits_images()\n    return torch.from_numpy(x), torch.from_numpy(y)",
        "dataset": "x, y = load_digits_images()\n    return TensorDataset(torch.from_numpy(x), torch.from_numpy(y))",
    }[returned]
    (tmp_path / f"{module}.py").write_text(
        "import torch\nfrom torch.utils.data import TensorDataset\n"
        "from ibpipe.data.tables import load_digits_images\n\n\n"
        f"def load():\n    {body}\n"
    )
    _same_dataset(load_dataset("custom", root=tmp_path, factory=f"{module}:load", **SPLIT), digits)


def _pair(root, inputs, labels):
    np.save(root / "inputs.npy", inputs, allow_pickle=True)
    np.save(root / "labels.npy", labels, allow_pickle=True)


GOOD_INPUTS = np.arange(24, dtype=np.float32).reshape(8, 3)
GOOD_LABELS = np.array([0, 1, 0, 1, 0, 1, 0, 1])


@pytest.mark.parametrize(
    ("inputs", "labels", "message"),
    [
        (GOOD_INPUTS[:7], GOOD_LABELS, "7 rows of inputs but 8 labels"),
        (GOOD_INPUTS, GOOD_LABELS.astype(np.float32), "not integers"),
        (GOOD_INPUTS, GOOD_LABELS - 1, "none negative"),
        (GOOD_INPUTS, GOOD_LABELS * 2, "not contiguous: no row has class 1"),
        (GOOD_INPUTS, np.zeros(8, dtype=int), "two classes or more"),
        (GOOD_INPUTS, np.array([0, 1, 0, 1, 0, 1, 0, 2]), "class 2 has a single row"),
        (np.where(GOOD_INPUTS == 5, np.nan, GOOD_INPUTS), GOOD_LABELS, "NaN or infinite (first in row 1)"),
        (np.where(GOOD_INPUTS == 7, np.inf, GOOD_INPUTS), GOOD_LABELS, "NaN or infinite"),
        (np.zeros((0, 3), np.float32), np.zeros(0, int), "at least one row"),
        (GOOD_INPUTS[:, 0], GOOD_LABELS, "inputs[:, None]"),
        (GOOD_INPUTS, GOOD_LABELS[:, None], "shape (rows,)"),
        (GOOD_INPUTS.astype(str), GOOD_LABELS, "not numbers"),
        (GOOD_INPUTS.astype(object), GOOD_LABELS, "Python objects"),
        (GOOD_INPUTS, GOOD_LABELS.astype(object), "Python objects"),
    ],
)
def test_each_bad_npy_pair_gets_a_clear_error(tmp_path, inputs, labels, message):
    _pair(tmp_path, inputs, labels)
    with pytest.raises(InputError, match=r"inputs.npy|labels.npy") as error:
        load_dataset("arrays", root=tmp_path, test_fraction=0.5)
    assert message in str(error.value)


def test_the_good_pair_of_the_bad_cases_loads(tmp_path):
    _pair(tmp_path, GOOD_INPUTS, GOOD_LABELS)
    assert load_dataset("arrays", root=tmp_path, test_fraction=0.5).n_classes == 2


def test_missing_files_name_what_to_put_where(tmp_path):
    with pytest.raises(MissingFileError, match=r"inputs.npy, labels.npy missing in .*np.savez"):
        load_dataset("arrays", root=tmp_path)
    np.save(tmp_path / "inputs.npy", GOOD_INPUTS)
    with pytest.raises(MissingFileError, match=r"labels.npy missing"):
        load_dataset("arrays", root=tmp_path)


def test_bad_npz_files_get_clear_errors(tmp_path):
    archive = tmp_path / "data.npz"
    np.savez(archive, x=GOOD_INPUTS, labels=GOOD_LABELS)
    with pytest.raises(InputError, match=r"data.npz: has no array 'inputs' \(it holds x, labels\)"):
        load_dataset("arrays", root=tmp_path)
    np.savez(archive, inputs=GOOD_INPUTS.astype(object), labels=GOOD_LABELS)
    with pytest.raises(InputError, match=r"data.npz \('inputs'\): holds Python objects"):
        load_dataset("arrays", root=tmp_path)
    archive.write_bytes(b"not a numpy file at all")
    with pytest.raises(InputError, match=r"data.npz: not a readable NumPy file"):
        load_dataset("arrays", root=tmp_path)
    np.save(tmp_path / "inputs.npy", GOOD_INPUTS)
    with pytest.raises(InputError, match=r"both inputs.npy and data.npz"):
        load_dataset("arrays", root=tmp_path)


def test_a_damaged_npy_file_gets_a_clear_error(tmp_path):
    _pair(tmp_path, GOOD_INPUTS, GOOD_LABELS)
    (tmp_path / "labels.npy").write_bytes((tmp_path / "labels.npy").read_bytes()[:-9])
    with pytest.raises(InputError, match=r"labels.npy: not a readable NumPy file"):
        load_dataset("arrays", root=tmp_path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("raise RuntimeError('no such file: /data/x.csv')", "raised RuntimeError: no such file: /data/x.csv"),
        ("return 3", "returned int; it must return a torch Dataset"),
        ("return [(1.0, 0), (2.0, 1, 5), (3.0, 1)]", "item 1 of the dataset is tuple, not an (input, label) pair"),
        ("return (np.ones((4, 2)), np.array([0, 1, 1]))", "4 rows of inputs but 3 labels"),
    ],
)
def test_a_factory_that_fails_or_returns_the_wrong_thing_gets_a_clear_error(tmp_path, body, message):
    module = f"own_bad_{abs(hash(body))}"
    (tmp_path / f"{module}.py").write_text(f"import numpy as np\n\n\ndef load():\n    {body}\n")
    with pytest.raises(InputError, match=r"dataset.factory") as error:
        load_dataset("custom", root=tmp_path, factory=f"{module}:load")
    assert message in str(error.value)


def test_a_factory_that_cannot_be_found_is_named(tmp_path):
    with pytest.raises(InputError, match=r"dataset.factory = 'own_absent:load': module 'own_absent' was not found"):
        load_dataset("custom", root=tmp_path, factory="own_absent:load")
    (tmp_path / "own_present.py").write_text("def loader():\n    return None\n")
    with pytest.raises(InputError, match=r"has no attribute 'load'; did you mean 'loader'"):
        load_dataset("custom", root=tmp_path, factory="own_present:load")
    with pytest.raises(InputError, match=r"'package.module:function'"):
        load_dataset("custom", root=tmp_path, factory="own_present")


def test_params_validate_the_new_keys():
    assert {"arrays", "custom"} <= set(DATASETS)
    section, problems = DatasetParams.from_raw({"name": "arrays", "root": "data/mine"})
    assert problems == [] and section.factory == ""
    section, problems = DatasetParams.from_raw({"name": "custom", "factory": "mine.data:load"})
    assert problems == [] and section.factory == "mine.data:load"
    _, problems = DatasetParams.from_raw({"name": "custom"})
    assert len(problems) == 1 and "dataset.name custom needs an import path" in problems[0]
    _, problems = DatasetParams.from_raw({"name": "custom", "factory": "mine.data"})
    assert len(problems) == 1 and "dataset.factory = 'mine.data'" in problems[0]
    _, problems = DatasetParams.from_raw({"name": "arrays", "factory": "mine.data:load"})
    assert len(problems) == 1 and "only used with dataset.name custom" in problems[0]
    _, problems = DatasetParams.from_raw({"name": "mine"})
    assert problems and "'arrays'" in problems[0] and "'custom'" in problems[0]


def test_every_stage_that_loads_the_dataset_depends_on_the_own_data_folder():
    loading = {stage.name for stage in STAGES if any(key.split(".")[0] == "dataset" for key in stage.params)}
    assert loading == {"train", "select", "dump-activations"}
    assert all(OWN_DATA in stage.inputs() for stage in STAGES if stage.name in loading)


@pytest.mark.slow
def test_editing_a_label_file_makes_dvc_status_report_the_stages(tmp_path):
    root = new_project(tmp_path)
    own = root / OWN_DATA
    inputs = np.random.default_rng(0).normal(size=(40, 5)).astype(np.float32)
    labels = (inputs[:, 0] > 0).astype(np.int64)
    _pair(own, inputs, labels)
    _edit_params(root, "dataset", name="arrays", test_fraction=0.25)
    _edit_params(root, "train", epochs=2, trials=1)
    start = time.perf_counter()
    _run(root, "dvc", "repro", "train")
    assert "Data and pipelines are up to date" in _run(root, "dvc", "status", "train").stdout
    labels[0] = 1 - labels[0]
    np.save(own / "labels.npy", labels)
    status = _run(root, "dvc", "status", "train").stdout
    print(f"repro train + 2 x dvc status: {time.perf_counter() - start:.1f} s\n{status}")
    assert "train:" in status and "modified:" in status and OWN_DATA in status
    # A bad file fails the stage before training, with one line naming the file.
    np.save(own / "labels.npy", labels[:-1])
    failed = _run(root, "dvc", "repro", "train", check=False)
    assert failed.returncode != 0 and "40 rows of inputs but 39 labels" in failed.stdout + failed.stderr
