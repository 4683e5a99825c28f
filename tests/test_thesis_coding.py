"""The thesis coding (reduce.method: quantile): per-epoch borders, exactly n_bins levels per unit."""

import numpy as np
import pytest

from ibpipe.estimators.rowkeys import row_ids
from ibpipe.infoplane.reduce import PRESETS, LayerReducer, LayerReduction, code_layer, layer_reductions
from ibpipe.names import INPUT_LAYER


def _code_epochs(reduction: LayerReduction, values: np.ndarray, epochs_per_slab: int = 2) -> np.ndarray:
    """Codes of (n_epochs, n_samples, n_units) through the streaming ``code_layer``, two sample chunks."""
    n_epochs, n_samples, n_units = values.shape
    reducer = LayerReducer(reduction, (n_units,))
    out = np.empty((n_epochs, n_samples, reducer.n_units), dtype=np.int64)
    slabs = [slice(start, min(start + epochs_per_slab, n_epochs)) for start in range(0, n_epochs, epochs_per_slab)]

    def read(epochs):
        return [(samples, values[epochs, samples]) for samples in np.array_split(np.arange(n_samples), 2)]

    def write(epochs, samples, codes):
        out[epochs, samples] = codes

    code_layer(reducer, slabs, read, write, n_samples)
    return out


def _thesis_codes_by_hand(epoch: np.ndarray, n_bins: int, q_low: float, q_high: float) -> np.ndarray:
    """The thesis, written out: this epoch's borders, n_bins equal levels between, the outside clipped in."""
    codes = np.empty(epoch.shape, dtype=np.int64)
    for unit in range(epoch.shape[1]):
        column = np.sort(epoch[:, unit].astype(np.float64))
        low, high = np.quantile(column, q_low), np.quantile(column, q_high)
        for row, value in enumerate(epoch[:, unit]):
            level = int(np.floor((value - low) / ((high - low) / n_bins)))
            codes[row, unit] = min(max(level, 0), n_bins - 1)
    return codes


def test_144_binary_units_take_two_levels_each_and_at_most_2_to_the_144_states(rng):
    # Three epochs whose activations drift apart: a pooled border would put whole epochs on one level.
    values = np.stack([rng.normal(loc=3.0 * epoch, scale=1.0 + epoch, size=(400, 144)) for epoch in range(3)])
    codes = _code_epochs(LayerReduction("quantile", n_bins=2), values.astype(np.float32))
    assert codes.shape == (3, 400, 144)
    for epoch in range(3):
        for unit in range(144):
            assert sorted(np.unique(codes[epoch, :, unit]).tolist()) == [0, 1]  # exactly two levels per unit
    states = np.unique(row_ids(codes.reshape(-1, 144))[0]).size
    assert states <= 2**144 and codes.max() - codes.min() + 1 == 2  # a radix-2 code space: 2^144
    pooled = _code_epochs(LayerReduction("quantile-pooled", n_bins=2), values.astype(np.float32))
    assert len(np.unique(pooled)) == 4  # the pooled variant keeps its two end bins: four levels


@pytest.mark.parametrize(("n_bins", "q_low", "q_high"), [(2, 0.01, 0.99), (3, 0.05, 0.9), (5, 0.0, 1.0)])
def test_each_epoch_has_the_borders_of_its_own_activations(rng, n_bins, q_low, q_high):
    values = np.stack([rng.gamma(1.0 + epoch, 1.0 + 2 * epoch, size=(300, 7)) for epoch in range(4)])
    reduction = LayerReduction("quantile", n_bins=n_bins, q_low=q_low, q_high=q_high)
    codes = _code_epochs(reduction, values, epochs_per_slab=3)
    reducer = LayerReducer(reduction, (7,))
    for epoch in range(4):
        borders = reducer.epoch_statistic([values[epoch]], 300)
        assert np.allclose(borders, np.quantile(values[epoch], [q_low, q_high], axis=0), rtol=0, atol=1e-12)
        assert np.array_equal(codes[epoch], _thesis_codes_by_hand(values[epoch], n_bins, q_low, q_high))
        assert np.array_equal(reducer.fit_transform_epoch(values[epoch]), codes[epoch])
        levels = [np.unique(codes[epoch, :, unit]).size for unit in range(7)]
        assert levels == [n_bins] * 7


def test_thesis_softmax_preset_binarises_the_softmax_output_into_ten_binary_units(rng):
    preset = PRESETS["thesis-softmax"]
    assert preset["z1"] == PRESETS["thesis-1"]["z1"] and preset["z2"] == PRESETS["thesis-1"]["z2"]
    reductions = layer_reductions({"n_bins": 2}, ["z1", "z2", "output"], "thesis-softmax")
    assert reductions["output"].method == "threshold" and reductions["z1"].method == "quantile"
    assert reductions[INPUT_LAYER].method == "threshold"
    logits = rng.normal(scale=3.0, size=(500, 10))
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    codes = LayerReducer(reductions["output"], (10,)).fit_transform_epoch(probabilities)
    assert codes.shape == (500, 10) and set(np.unique(codes).tolist()) == {0, 1}  # 10 binary units: <= 2^10 codes
    assert np.array_equal(codes, (probabilities > 0.5).astype(codes.dtype))
