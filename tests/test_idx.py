import gzip

import numpy as np
import pytest

from ibpipe.data.idx import IDX_FILES, find_idx_files, load_idx_dataset, read_idx


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + array.astype(np.uint8).tobytes()


def _write_mnist_layout(root, rng, gzipped=True, n_train=6, n_test=4):
    arrays = {
        "train_images": rng.integers(0, 256, (n_train, 28, 28)),
        "train_labels": rng.integers(0, 10, n_train),
        "test_images": rng.integers(0, 256, (n_test, 28, 28)),
        "test_labels": rng.integers(0, 10, n_test),
    }
    for key, array in arrays.items():
        data = _idx_bytes(array)
        name = IDX_FILES[key]
        if gzipped:
            (root / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (root / name).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gzipped", [True, False])
def test_idx_files_round_trip_gzipped_or_raw(tmp_path, rng, gzipped):
    arrays = _write_mnist_layout(tmp_path, rng, gzipped)
    train_images, train_labels, test_images, test_labels = load_idx_dataset(tmp_path)
    assert train_images.shape == (6, 1, 28, 28) and train_images.dtype == np.float32
    assert np.allclose(train_images[:, 0], arrays["train_images"] / 255, rtol=1e-6, atol=0)
    assert np.allclose(test_images[:, 0], arrays["test_images"] / 255, rtol=1e-6, atol=0)
    assert np.array_equal(test_labels, arrays["test_labels"]) and np.array_equal(train_labels, arrays["train_labels"])
    assert test_images.shape == (4, 1, 28, 28)


def test_truncated_files_get_an_error_that_says_so(tmp_path, rng):
    data = _idx_bytes(rng.integers(0, 256, (5, 28, 28)))
    (tmp_path / "raw").write_bytes(data[:-100])
    with pytest.raises(ValueError, match="truncated or damaged"):
        read_idx(tmp_path / "raw")
    (tmp_path / "zipped.gz").write_bytes(gzip.compress(data)[:-20])
    with pytest.raises(ValueError, match="truncated"):
        read_idx(tmp_path / "zipped.gz")
    (tmp_path / "text").write_bytes(b"hello world")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "text")


def test_missing_files_are_named_with_where_to_put_them(tmp_path, rng):
    _write_mnist_layout(tmp_path, rng)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError) as caught:
        find_idx_files(tmp_path)
    message = str(caught.value)
    assert "t10k-labels-idx1-ubyte[.gz]" in message and str(tmp_path.resolve()) in message
    missing_part = message.split(". Put")[0]
    assert "train-images" not in missing_part and "t10k-images" not in missing_part
