"""The describe stage: its statistics against few-line references, its figures from hand-made stores and the
tiny pipeline."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
import zarr

from ibpipe.errors import InputError
from ibpipe.infoplane.describe import (
    as_images,
    binarise,
    contingency_table,
    default_positions,
    feature_values,
    independence_test,
    input_column,
    layer_borders,
)


def _pairs(table) -> tuple[np.ndarray, np.ndarray]:
    """Two binary variables whose 2x2 table (row: a, column: b) is ``table``."""
    a, b = [], []
    for i in (0, 1):
        for j in (0, 1):
            a += [i] * table[i][j]
            b += [j] * table[i][j]
    return np.array(a, dtype=bool), np.array(b, dtype=bool)


@pytest.mark.parametrize("table", [[[10, 20], [30, 40]], [[40, 10], [5, 45]], [[7, 0], [3, 11]]])
def test_the_independence_test_is_pearsons_chi_squared_of_the_hand_counted_table(table):
    (a, b), (c, d) = table
    n = a + b + c + d
    statistic = n * (a * d - b * c) ** 2 / ((a + b) * (c + d) * (a + c) * (b + d))
    p_value = math.erfc(math.sqrt(statistic / 2))  # chi-squared survival with 1 degree of freedom
    found = independence_test(*_pairs(table))
    assert found["table"] == table
    assert found["statistic"] == pytest.approx(statistic, rel=1e-12)
    assert found["p_value"] == pytest.approx(p_value, rel=1e-9)
    assert found["dof"] == 1
    correlation = np.corrcoef(*_pairs(table))[0, 1]
    assert found["phi"] == pytest.approx(correlation, rel=1e-12) and found["phi"] ** 2 * n == pytest.approx(statistic)


def test_the_first_table_by_hand_and_a_constant_pixel_admits_no_test():
    # [[10, 20], [30, 40]]: N (ad - bc)^2 / margins = 100 * 200^2 / (30 * 70 * 40 * 60) = 0.79365...
    assert independence_test(*_pairs([[10, 20], [30, 40]]))["statistic"] == pytest.approx(0.7936507936507936)
    constant = independence_test(np.zeros(8, dtype=bool), np.arange(8) % 2 == 1)
    assert constant["table"] == [[4, 4], [0, 0]]
    assert math.isnan(constant["statistic"]) and math.isnan(constant["p_value"]) and math.isnan(constant["phi"])


def test_binarising_splits_at_the_middle_of_the_range_and_counts_fill_the_table():
    ones, threshold = binarise(np.array([[0.0, 0.2], [0.6, 1.0], [0.4, 0.5]]))
    assert threshold == 0.5
    assert ones.tolist() == [[False, False], [True, True], [False, False]]
    assert contingency_table(np.array([1, 1, 0, 0, 1]), np.array([1, 0, 0, 0, 1])).tolist() == [[2, 0], [1, 2]]


def test_the_default_pixels_are_the_theses_and_positions_are_checked():
    assert default_positions((28, 28)) == default_positions((1, 28, 28)) == [(14, 14), (7, 7)]
    assert default_positions((12,)) == [(0,), (1,)]
    assert input_column((1, 28, 28), (14, 14)) == 14 * 28 + 14
    assert input_column((3, 8, 8), (2, 5)) == 21  # the first channel's row 2, column 5
    assert input_column((12,), (7,)) == 7
    with pytest.raises(InputError, match=r"describe.pixels holds \[28, 3\]: .* within 28x28"):
        input_column((1, 28, 28), (28, 3))
    with pytest.raises(InputError, match=r"give \[unit\] below 12"):
        input_column((12,), (3, 4))


def test_features_are_units_or_whole_channels_and_maps_are_laid_out_as_images():
    values = np.arange(2 * 3 * 2 * 2).reshape(2, 12).astype(float)  # 2 samples of (3 channels, 2, 2)
    channels = feature_values(values, (3, 2, 2), max_features=2)
    assert [feature.tolist() for feature in channels] == [[0, 1, 2, 3, 12, 13, 14, 15], [4, 5, 6, 7, 16, 17, 18, 19]]
    assert [feature.tolist() for feature in feature_values(values, (12,), 3)] == [[0, 12], [1, 13], [2, 14]]
    images = as_images(np.arange(12), (3, 2, 2), max_features=2)
    assert [image.tolist() for image in images] == [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]
    assert as_images(np.arange(4), (4,), 16)[0].shape == (1, 4)


def test_borders_are_the_epochs_quantiles_the_pooled_ones_or_the_range():
    rng = np.random.default_rng(3)
    pooled = rng.normal(size=(200, 3))
    thesis = {"method": "quantile", "q_low": 0.1, "q_high": 0.9}
    borders, kind = layer_borders(pooled, thesis)
    assert np.allclose(borders, np.quantile(pooled, [0.1, 0.9], axis=0)) and "of this epoch" in kind
    stored = [[-1.0, -2.0, -3.0], [1.0, 2.0, 3.0]]
    borders, kind = layer_borders(
        pooled, {"method": "quantile-pooled", "q_low": 0.1, "q_high": 0.9, "unit_ranges": stored}
    )
    assert borders.tolist() == stored and "all epochs" in kind
    borders, kind = layer_borders(pooled, {"method": "fixed-width"})
    assert np.allclose(borders, [pooled.min(axis=0), pooled.max(axis=0)]) and kind == "min/max of this epoch"


IMAGE_TABLE = [[10, 20], [30, 40]]


def _image_run(tmp_path: Path, reduce: dict) -> tuple[Path, Path, np.ndarray]:
    """An activations store of 100 images (1, 8, 8) whose pixels (4, 4) and (2, 2) binarise to IMAGE_TABLE,
    with one conv layer z1 (2, 4, 4) over epochs 0 and 3, and its codes store under ``reduce``."""
    from ibpipe.config.reduce import ReduceParams
    from ibpipe.infoplane.coding import write_codes
    from ibpipe.io.layers import LayerStoreWriter, write_layer_store_header

    rng = np.random.default_rng(0)
    inputs = rng.uniform(0.0, 1.0, size=(100, 1, 8, 8)).astype(np.float32)
    inputs[:, 0, 0, 0], inputs[:, 0, 0, 1] = 0.0, 1.0  # the range is [0, 1]: the threshold is 0.5
    a, b = _pairs(IMAGE_TABLE)
    inputs[:, 0, 4, 4], inputs[:, 0, 2, 2] = np.where(a, 0.9, 0.1), np.where(b, 0.8, 0.2)
    labels = np.arange(100) % 3
    activations = tmp_path / "activations.zarr"
    root = zarr.open_group(activations, mode="w")
    shapes = {"z1": (2, 4, 4)}
    write_layer_store_header(
        root, epochs=np.array([0, 3]), sample_rows=np.arange(100), inputs=inputs, labels=labels, shapes=shapes, attrs={}
    )
    writer = LayerStoreWriter(
        root, "activation", shapes=shapes, epochs=np.array([0, 3]), n_samples=100, epochs_per_shard=2, dtype="float32"
    )
    writer.write(slice(0, 2), {"z1": rng.normal(size=(2, 100, 32)).astype(np.float32)})
    codes = tmp_path / "codes.zarr"
    write_codes(zarr.open_group(activations, mode="r"), zarr.open_group(codes, mode="w"), ReduceParams(**reduce), "{}")
    return activations, codes, inputs


def test_the_stage_draws_an_image_run_and_reports_the_hand_counted_test(tmp_path):
    import stages.describe

    activations, codes, _ = _image_run(tmp_path, {"method": "quantile", "n_bins": 2, "pool": [1, 2, 2]})
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"describe": {"max_features": 2}, "plot": {"dpi": 40}}))
    out = tmp_path / "describe"
    stages.describe.main(params, str(activations), str(codes), out)
    names = {"labels", "inputs", "input_maps", "latent_histograms", "latent_maps", "borders", "pooled_examples"}
    assert {path.stem for path in out.glob("*.png")} == names
    summary = json.loads((out / "describe.json").read_text())
    assert summary["labels"] == {"0": 34, "1": 33, "2": 33}
    test = summary["independence"]
    assert test["positions"] == [[4, 4], [2, 2]] and test["threshold"] == 0.5
    assert test["table"] == IMAGE_TABLE and test["statistic"] == pytest.approx(0.7936507936507936)
    assert test["share_of_ones"] == [0.7, 0.6]
    assert (summary["layer"], summary["epoch"], summary["pool"]) == ("z1", 3, [1, 2, 2])
    assert summary["borders"] == "0.01/0.99 quantiles of this epoch"


def test_a_run_that_does_not_pool_draws_no_pooled_images_and_bad_choices_are_one_sentence(tmp_path):
    from ibpipe.config.describe import DescribeParams
    from ibpipe.infoplane.describe import describe_run

    activations, codes, _ = _image_run(tmp_path, {"method": "quantile-pooled", "n_bins": 4})
    store, code_store = zarr.open_group(activations, mode="r"), zarr.open_group(codes, mode="r")
    figures, summary = describe_run(store, code_store, DescribeParams(epoch=0, pixels=[[1, 1], [6, 7]]))
    assert "pooled_examples" not in figures and summary["pool"] is None and summary["epoch"] == 0
    assert summary["borders"] == "0.01/0.99 quantiles, all epochs"
    assert summary["independence"]["positions"] == [[1, 1], [6, 7]]
    with pytest.raises(InputError, match=r"describe.epoch = 2: not a measured epoch; measured are \[0, 3\]"):
        describe_run(store, code_store, DescribeParams(epoch=2))
    with pytest.raises(InputError, match=r"describe.layer = 'hidden1': allowed are 'auto' or one of z1"):
        describe_run(store, code_store, DescribeParams(layer="hidden1"))


@pytest.mark.slow
def test_the_tiny_pipeline_describes_the_12_bit_data_whose_bits_are_exactly_independent(tiny):
    root, _ = tiny
    summary = json.loads((root / "reports" / "describe" / "describe.json").read_text())
    # All 4096 inputs of 12 bits once each: any two bits split them into four equal quarters.
    assert summary["independence"]["table"] == [[1024, 1024], [1024, 1024]]
    assert summary["independence"]["statistic"] == 0.0 and summary["independence"]["p_value"] == 1.0
    assert summary["layer"] == "hidden1" and summary["epoch"] == 5 and summary["samples"] == 4096
    assert sum(summary["labels"].values()) == 4096
    assert (root / "reports" / "describe" / "latent_histograms.png").stat().st_size > 0
