"""Per-layer reductions: pooling, presets, streaming fits and chunk-consistent state keys."""

import numpy as np
import pytest
import torch

from ibpipe.estimators import rowkeys
from ibpipe.estimators.binning import equal_mass_codes, fixed_width_codes, quantile_edges, quantile_range_codes
from ibpipe.estimators.rowkeys import bounded_row_keys, row_ids
from ibpipe.infoplane.reduce import (
    PRESETS,
    LayerReducer,
    LayerReduction,
    code_layer,
    input_state_ids,
    layer_reducers,
    layer_reductions,
)
from ibpipe.names import INPUT_LAYER

DEFAULTS = {"method": "quantile", "n_bins": 3}


def _chunked(values: np.ndarray, n_chunks: int):
    """(n_epochs, n_samples, n_units) split into sample chunks, as the stores hand them out."""
    return [(samples, values[:, samples]) for samples in np.array_split(np.arange(values.shape[1]), n_chunks)]


def _code_all(reducer, values, n_chunks, epochs_per_slab=2):
    """Codes of (n_epochs, n_samples, n_units) ``values`` through ``code_layer`` with the given chunking."""
    n_epochs, n_samples = values.shape[:2]
    out = np.empty((n_epochs, n_samples, reducer.n_units), dtype=np.int32)
    slabs = [slice(start, min(start + epochs_per_slab, n_epochs)) for start in range(0, n_epochs, epochs_per_slab)]

    def read(epochs):
        return [(samples, values[epochs, samples]) for samples in np.array_split(np.arange(n_samples), n_chunks)]

    def write(epochs, samples, codes):
        out[epochs, samples] = codes

    low, high, _, _ = code_layer(reducer, slabs, read, write, n_samples)
    return out, low, high


@pytest.mark.parametrize(
    "reduction",
    [
        LayerReduction("fixed-width", n_bins=30, value_range="data"),
        LayerReduction("quantile", n_bins=5, pool=(1, 2, 2)),
        LayerReduction("quantile-pooled", n_bins=5, pool=(1, 2, 2)),
        LayerReduction("equal-mass", n_bins=4, pool=(2, 2, 2), pool_kind="avg"),
        LayerReduction("threshold", threshold=0.1),
        LayerReduction("argmax"),
        LayerReduction("fixed-size", bin_size=0.3),
    ],
)
def test_streaming_over_sample_chunks_gives_the_codes_of_the_whole_layer(rng, reduction):
    values = rng.normal(size=(5, 240, 4 * 4 * 4)).astype(np.float32)
    whole, low, high = _code_all(LayerReducer(reduction, (4, 4, 4)), values, n_chunks=1, epochs_per_slab=5)
    chunked, chunk_low, chunk_high = _code_all(LayerReducer(reduction, (4, 4, 4)), values, n_chunks=7)
    assert np.array_equal(whole, chunked)
    assert np.array_equal(low, whole.min(axis=(0, 1))) and np.array_equal(high, whole.max(axis=(0, 1)))
    assert np.array_equal(low, chunk_low) and np.array_equal(high, chunk_high)


def test_learnt_bins_equal_the_formulas_on_all_epochs_pooled(rng):
    values = rng.normal(size=(3, 500, 6)).astype(np.float32)
    rows = values.reshape(-1, 6)
    codes, _, _ = _code_all(
        LayerReducer(LayerReduction("quantile-pooled", n_bins=4, q_low=0.05, q_high=0.95), (6,)), values, n_chunks=3
    )
    assert np.array_equal(codes.reshape(-1, 6), quantile_range_codes(rows, 4, quantile_edges(rows, 0.05, 0.95)))
    codes, _, _ = _code_all(
        LayerReducer(LayerReduction("fixed-width", n_bins=10, value_range="data"), (6,)), values, n_chunks=4
    )
    assert np.array_equal(codes.reshape(-1, 6), fixed_width_codes(rows, 10, (rows.min(), rows.max())))
    codes, _, _ = _code_all(LayerReducer(LayerReduction("equal-mass", n_bins=4), (6,)), values, n_chunks=5)
    for epoch in range(3):
        assert np.array_equal(codes[epoch], equal_mass_codes(values[epoch], 4))


def test_quantile_fit_subsamples_every_kth_row_above_the_value_cap(rng):
    values = rng.normal(size=(1000, 4))
    reducer = LayerReducer(LayerReduction("quantile-pooled"), (4,), max_fit_values=400)
    reducer.fit([values[:300], values[300:]], 1000)
    assert np.allclose(reducer.unit_ranges_, quantile_edges(values[::10], 0.01, 0.99))


def test_threshold_and_argmax_code_what_they_say():
    probabilities = np.array([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [0.4, 0.5, 0.1]])
    assert LayerReducer(LayerReduction("argmax"), (3,)).transform(probabilities).tolist() == [[0], [2], [1]]
    assert LayerReducer(LayerReduction("threshold", threshold=0.5), (3,)).transform(probabilities).tolist() == [
        [1, 0, 0],
        [0, 0, 1],
        [0, 0, 0],
    ]


@pytest.mark.parametrize(
    ("window", "kind", "pooled"),
    [
        ((1, 4, 4), "max", (16, 3, 3)),
        ((2, 4, 4), "max", (8, 3, 3)),
        ((4, 4, 4), "avg", (4, 3, 3)),
        ((1, 7, 7), "avg", (16, 2, 2)),
        ((1, 20, 20), "max", (16, 1, 1)),
    ],
)
def test_pooling_in_a_reducer_matches_torch_and_clips_windows_to_the_layer(rng, window, kind, pooled):
    values = rng.normal(size=(3, 16, 14, 14)).astype(np.float32)
    reducer = LayerReducer(LayerReduction("fixed-size", pool=window, pool_kind=kind), (16, 14, 14))
    assert reducer.pooled_shape == pooled and reducer.n_units == int(np.prod(pooled))
    effective = tuple(min(w, e) for w, e in zip(window, (16, 14, 14)))
    layer = torch.nn.MaxPool3d(effective) if kind == "max" else torch.nn.AvgPool3d(effective)
    expected = layer(torch.from_numpy(values)[:, None])[:, 0].numpy().reshape(3, -1)
    assert np.allclose(reducer.pool(values.reshape(3, -1)), expected, atol=1e-6)
    with pytest.raises(ValueError, match=r"layer 'output' \(shape \(10,\)\).*channels, height, width.*reduce.layers"):
        layer_reducers(
            {"z1": LayerReduction(pool=(1, 2, 2)), "output": LayerReduction(pool=(1, 2, 2))},
            {"z1": (4, 4, 4), "output": (10,)},
        )


def _independent_states(values: np.ndarray, settings: dict, n_bins: int) -> int:
    """Distinct rows of one layer computed with torch pooling, np.quantile and np.unique(axis=0): no ibpipe code."""
    tensor = torch.from_numpy(values)
    if settings.get("pool"):
        window = tuple(min(w, e) for w, e in zip(settings["pool"], values.shape[1:]))
        pool = torch.nn.MaxPool3d(window) if settings["pool_kind"] == "max" else torch.nn.AvgPool3d(window)
        tensor = pool(tensor[:, None])[:, 0]
    flat = tensor.reshape(len(values), -1).double().numpy()
    if settings["method"] == "quantile":  # the thesis: n_bins levels, outside values clipped into the end ones
        low, high = np.quantile(flat, [0.01, 0.99], axis=0)
        codes = np.clip(np.floor((flat - low) / ((high - low) / n_bins)), 0, n_bins - 1)
    elif settings["method"] == "quantile-pooled":
        low, high = np.quantile(flat, [0.01, 0.99], axis=0)
        codes = np.clip(np.floor((flat - low) / ((high - low) / n_bins)) + 1, 0, n_bins + 1)
    elif settings["method"] == "threshold":
        codes = flat > settings["threshold"]
    else:
        codes = flat.argmax(axis=1)[:, None]
    return len(np.unique(codes, axis=0))


def _independent_preset_states(preset: str, layers: dict[str, np.ndarray], n_bins: int) -> dict[str, int]:
    return {name: _independent_states(values, PRESETS[preset][name], n_bins) for name, values in layers.items()}


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_each_thesis_preset_state_count_on_a_fixed_random_tensor(preset):
    generator = np.random.default_rng(5)
    n = 400
    layers = {
        INPUT_LAYER: generator.uniform(0, 1, (n, 1, 28, 28)).astype(np.float32) ** 3,
        "z1": np.maximum(generator.normal(size=(n, 16, 14, 14)), 0).astype(np.float32),
        "z2": np.maximum(generator.normal(size=(n, 32, 7, 7)), 0).astype(np.float32),
        "output": generator.dirichlet(np.ones(10), n).astype(np.float32),
    }
    reductions = layer_reductions({"n_bins": 2}, ["z1", "z2", "output"], preset)
    measured = {}
    for name, values in layers.items():
        codes = LayerReducer(reductions[name], values.shape[1:]).fit_transform_epoch(values.reshape(n, -1))
        measured[name] = row_ids(codes)[0].max() + 1 if codes.shape[1] == 1 else len(np.unique(row_ids(codes)[0]))
    assert measured == _independent_preset_states(preset, layers, n_bins=2)
    assert all(count > 1 for count in measured.values())  # the oracle is not compared on a degenerate layer


def test_without_pooling_every_image_sample_is_its_own_state_and_pooling_merges_them(rng):
    values = rng.normal(size=(300, 16 * 14 * 14)).astype(np.float32)
    codes = LayerReducer(LayerReduction("quantile", n_bins=2), (16, 14, 14)).fit_transform_epoch(values)
    assert len(np.unique(row_ids(codes)[0])) == 300
    pooled = LayerReducer(LayerReduction("quantile", n_bins=2, pool=(16, 7, 7)), (16, 14, 14)).fit_transform_epoch(
        values
    )
    # 16x7x7 windows leave 4 units, each on one of n_bins = 2 levels (the thesis coding: no end bins).
    assert pooled.shape == (300, 4) and pooled.min() >= 0 and pooled.max() <= 1
    expected = _independent_states(
        values.reshape(300, 16, 14, 14), {"method": "quantile", "pool": (16, 7, 7), "pool_kind": "max"}, n_bins=2
    )
    assert len(np.unique(row_ids(pooled)[0])) == expected < 300


def test_layer_reductions_resolve_defaults_then_preset_then_overrides():
    overrides = {"z2": {"n_bins": 7}, "input": {"method": "threshold", "threshold": 0.2}}
    resolved = layer_reductions(DEFAULTS, ["z1", "z2", "output"], "thesis-4", overrides)
    assert resolved["z1"] == LayerReduction("quantile", n_bins=3, pool=(1, 7, 7), pool_kind="max")
    assert resolved["z2"].n_bins == 7 and resolved["z2"].pool == (1, 7, 7)
    assert resolved["output"].method == "argmax"
    assert resolved[INPUT_LAYER].threshold == 0.2 and resolved[INPUT_LAYER].pool == (1, 4, 4)
    plain = layer_reductions(DEFAULTS, ["hidden1"])
    assert plain[INPUT_LAYER] is None and plain["hidden1"] == LayerReduction("quantile", n_bins=3)
    with pytest.raises(ValueError, match=r"names \['z9'\].*input, hidden1"):
        layer_reductions(DEFAULTS, ["hidden1"], overrides={"z9": {"n_bins": 2}})


def test_input_states_come_from_the_input_reduction():
    images = np.zeros((4, 1, 4, 4), dtype=np.float32)
    images[1, 0, 0, 0] = 0.9  # differs from image 0 only inside a pooled block that binarises the same way as image 2
    images[2, 0, 1, 1] = 0.8
    images[3, 0, 3, 3] = 0.4  # below the threshold: same state as the blank image
    assert len(set(input_state_ids(images, None).tolist())) == 4
    ids = input_state_ids(images, LayerReduction("threshold", threshold=0.5, pool=(1, 2, 2)))
    assert ids[1] == ids[2] and ids[0] == ids[3] and ids[0] != ids[1]


def test_bounded_row_keys_agree_across_chunks_and_tell_rows_apart(rng, monkeypatch):
    codes = rng.integers(0, 3, size=(2000, 8))
    low, high = codes.min(axis=0), codes.max(axis=0)
    whole = bounded_row_keys(codes, low, high)
    assert np.array_equal(
        np.concatenate([bounded_row_keys(part, low, high) for part in np.array_split(codes, 5)]), whole
    )
    assert np.array_equal(whole, (codes - low) @ (3 ** np.arange(8)))  # exact mixed radix while 3**8 fits
    wide = rng.integers(0, 30, size=(2000, 40))  # 30**40 keys: hashed
    hashed = []
    original = rowkeys._hash_rows

    def spy(codes):
        hashed.append(codes.shape)
        return original(codes)

    monkeypatch.setattr(rowkeys, "_hash_rows", spy)
    assert np.array_equal(bounded_row_keys(codes, low, high), whole) and hashed == []
    keys = bounded_row_keys(wide, np.zeros(40), np.full(40, 29))
    assert hashed == [(2000, 40)]  # the hash path ran
    assert np.array_equal(
        np.concatenate([bounded_row_keys(part, np.zeros(40), np.full(40, 29)) for part in np.array_split(wide, 3)]),
        keys,
    )
    assert len(np.unique(keys)) == len(np.unique(wide, axis=0))


def test_learning_bins_keeps_no_chunk_alive_after_it_is_read():
    import weakref

    seen = []

    def chunks():
        for position in range(6):
            if position >= 2:
                assert seen[position - 2]() is None, "an earlier chunk is still referenced"
            chunk = np.random.default_rng(position).normal(size=(200, 16)).astype(np.float32)
            seen.append(weakref.ref(chunk))
            yield chunk
            del chunk

    LayerReducer(LayerReduction("quantile-pooled"), (16,), max_fit_values=16 * 100).fit(chunks(), 1200)
    LayerReducer(LayerReduction("equal-mass"), (16,), max_fit_values=16 * 100).epoch_edges(chunks(), 1200)
