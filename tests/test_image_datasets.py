import gzip
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch

from ibpipe.data.datasets import DATASETS, load_dataset
from ibpipe.data.idx import IDX_FILES
from ibpipe.data.images import TORCHVISION_CLASSES, default_root

N_TRAIN, N_TEST = 6, 4


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def _random_arrays(rng):
    return {
        "train_images": rng.integers(0, 256, (N_TRAIN, 28, 28)).astype(np.uint8),
        "train_labels": rng.integers(0, 10, N_TRAIN).astype(np.uint8),
        "test_images": rng.integers(0, 256, (N_TEST, 28, 28)).astype(np.uint8),
        "test_labels": rng.integers(0, 10, N_TEST).astype(np.uint8),
    }


def _write_idx(directory: Path, arrays, gzipped=True):
    directory.mkdir(parents=True, exist_ok=True)
    for key, array in arrays.items():
        data = _idx_bytes(array)
        if gzipped:
            (directory / f"{IDX_FILES[key]}.gz").write_bytes(gzip.compress(data))
        else:
            (directory / IDX_FILES[key]).write_bytes(data)


def _fake_torchvision(monkeypatch, arrays=None, error=None):
    """Install a torchvision whose dataset classes record their calls and serve ``arrays`` (or raise ``error``)."""
    calls = []

    def dataset_class(class_name):
        class FakeDataset:
            def __init__(self, root, train, download):
                calls.append((class_name, root, train, download))
                if error is not None:
                    raise error
                split = "train" if train else "test"
                self.data = torch.from_numpy(arrays[f"{split}_images"].copy())
                self.targets = torch.from_numpy(arrays[f"{split}_labels"].astype(np.int64))

        return FakeDataset

    datasets = types.SimpleNamespace(MNIST=dataset_class("MNIST"), FashionMNIST=dataset_class("FashionMNIST"))
    torchvision = types.SimpleNamespace(datasets=datasets)
    monkeypatch.setitem(sys.modules, "torchvision", torchvision)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", datasets)
    return calls


def _no_torchvision(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchvision", None)
    monkeypatch.setitem(sys.modules, "torchvision.datasets", None)


def _assert_official(dataset, arrays):
    n = N_TRAIN + N_TEST
    assert dataset.inputs.shape == (n, 1, 28, 28) and dataset.inputs.dtype == np.float32
    assert dataset.labels.shape == (n,) and dataset.labels.dtype == np.int64
    images = np.concatenate([arrays["train_images"], arrays["test_images"]])
    assert np.allclose(dataset.inputs[:, 0], images / 255, rtol=1e-6, atol=0)
    assert np.array_equal(dataset.labels, np.concatenate([arrays["train_labels"], arrays["test_labels"]]))
    assert np.array_equal(dataset.train_rows, np.arange(N_TRAIN))
    assert np.array_equal(dataset.test_rows, np.arange(N_TRAIN, n))
    assert dataset.input_shape == (1, 28, 28)


@pytest.mark.parametrize("gzipped", [True, False])
@pytest.mark.parametrize("layout", ["root", "torchvision"])
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_idx_files_load_with_the_official_split(tmp_path, rng, monkeypatch, name, layout, gzipped):
    arrays = _random_arrays(rng)
    directory = tmp_path if layout == "root" else tmp_path / TORCHVISION_CLASSES[name] / "raw"
    _write_idx(directory, arrays, gzipped)
    calls = _fake_torchvision(monkeypatch, error=AssertionError("torchvision must not be used when IDX files exist"))
    dataset = load_dataset(name, test_fraction=0.5, split_seed=7, root=tmp_path)
    _assert_official(dataset, arrays)
    assert calls == []
    assert dataset.name == name
    other_split_params = load_dataset(name, test_fraction=0.1, split_seed=3, root=str(tmp_path))
    assert np.array_equal(other_split_params.test_rows, dataset.test_rows)


def test_measured_rows_follow_the_official_split(tmp_path, rng):
    arrays = _random_arrays(rng)
    _write_idx(tmp_path, arrays)
    train = load_dataset("mnist", measure_on="train", root=tmp_path)
    test = load_dataset("mnist", measure_on="test", root=tmp_path)
    everything = load_dataset("mnist", measure_on="all", root=tmp_path)
    assert np.array_equal(train.measured_rows, np.arange(N_TRAIN))
    assert np.array_equal(test.measured_rows, np.arange(N_TRAIN, N_TRAIN + N_TEST))
    assert np.allclose(test.inputs[test.measured_rows, 0] * 255, arrays["test_images"], atol=1e-3)
    assert np.array_equal(everything.measured_rows, np.arange(N_TRAIN + N_TEST))
    with pytest.raises(ValueError, match="measure_on"):
        load_dataset("mnist", measure_on="validation", root=tmp_path)


def test_default_root_is_data_slash_name_under_the_working_directory(tmp_path, rng, monkeypatch):
    assert default_root("fashion_mnist") == Path("data") / "fashion_mnist"
    arrays = _random_arrays(rng)
    _write_idx(tmp_path / "data" / "fashion_mnist", arrays)
    monkeypatch.chdir(tmp_path)
    _assert_official(load_dataset("fashion_mnist"), arrays)
    _no_torchvision(monkeypatch)
    with pytest.raises(FileNotFoundError, match=str((tmp_path / "data" / "mnist").resolve())):
        load_dataset("mnist")


@pytest.mark.parametrize("layout", ["root", "torchvision"])
def test_missing_file_is_named_with_its_directory_and_the_torchvision_alternative(tmp_path, rng, monkeypatch, layout):
    directory = tmp_path if layout == "root" else tmp_path / "MNIST" / "raw"
    _write_idx(directory, _random_arrays(rng))
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    _no_torchvision(monkeypatch)
    with pytest.raises(FileNotFoundError) as caught:
        load_dataset("mnist", root=tmp_path)
    message = str(caught.value)
    missing_part = message.split(". Put")[0]
    assert f"missing in {directory.resolve()}:" in missing_part
    assert "t10k-labels-idx1-ubyte[.gz]" in missing_part
    assert "train-images" not in missing_part and "t10k-images" not in missing_part
    assert "pip install torchvision" in message and "dataset.download: true" in message
    assert "torchvision is not installed" in message


@pytest.mark.parametrize("download", [False, True])
@pytest.mark.parametrize("name", ["mnist", "fashion_mnist"])
def test_torchvision_serves_the_data_when_idx_files_are_absent(tmp_path, rng, monkeypatch, name, download):
    arrays = _random_arrays(rng)
    calls = _fake_torchvision(monkeypatch, arrays)
    dataset = load_dataset(name, root=tmp_path, download=download)
    _assert_official(dataset, arrays)
    class_name = TORCHVISION_CLASSES[name]
    assert calls == [(class_name, str(tmp_path), True, download), (class_name, str(tmp_path), False, download)]


def test_torchvision_that_fails_at_import_falls_back_to_the_clear_error(tmp_path, rng, monkeypatch):
    broken = tmp_path / "site"
    (broken / "torchvision").mkdir(parents=True)
    (broken / "torchvision" / "__init__.py").write_text(
        'raise RuntimeError("operator torchvision::nms does not exist")\n'
    )
    monkeypatch.delitem(sys.modules, "torchvision", raising=False)
    monkeypatch.delitem(sys.modules, "torchvision.datasets", raising=False)
    monkeypatch.syspath_prepend(str(broken))
    data = tmp_path / "data"
    with pytest.raises(FileNotFoundError) as caught:
        load_dataset("mnist", root=data, download=True)
    message = str(caught.value)
    assert f"missing in {data.resolve()}:" in message and "train-images-idx3-ubyte[.gz]" in message
    assert "pip install torchvision" in message and "torchvision::nms" in message


def test_torchvision_without_download_and_without_files_names_the_files_and_the_download_key(tmp_path, monkeypatch):
    calls = _fake_torchvision(
        monkeypatch, error=RuntimeError("Dataset not found. You can use download=True to download it")
    )
    with pytest.raises(FileNotFoundError) as caught:
        load_dataset("fashion_mnist", root=tmp_path)
    message = str(caught.value)
    assert f"missing in {tmp_path.resolve()}:" in message
    assert all(f"{file}[.gz]" in message for file in IDX_FILES.values())
    assert "dataset.download: true" in message and "Dataset not found" in message
    assert calls[0][-1] is False


def test_failed_download_says_so_and_where_files_could_go_instead(tmp_path, monkeypatch):
    _fake_torchvision(monkeypatch, error=OSError("no route to host"))
    with pytest.raises(RuntimeError, match="could not download") as caught:
        load_dataset("mnist", root=tmp_path, download=True)
    assert "no route to host" in str(caught.value) and "t10k-images-idx3-ubyte[.gz]" in str(caught.value)


def test_dataset_names_cover_every_loader_and_old_positional_calls_still_split(monkeypatch):
    assert tuple(DATASETS) == ("tishby12", "digits", "mnist", "fashion_mnist", "iris", "wine", "arrays", "custom")
    assert {name for name, info in DATASETS.items() if info.own} == {"arrays", "custom"}
    assert {name for name, info in DATASETS.items() if info.official} == set(TORCHVISION_CLASSES)
    with pytest.raises(ValueError, match="fashion_mnist"):
        load_dataset("cifar10")
    digits = load_dataset("digits", 0.2, 0, "test")
    assert len(digits.test_rows) == int(len(digits.labels) * 0.2)
    assert np.array_equal(digits.measured_rows, digits.test_rows)
    assert not np.array_equal(
        digits.test_rows, np.arange(len(digits.labels) - len(digits.test_rows), len(digits.labels))
    )
