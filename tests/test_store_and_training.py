import numpy as np
import pytest
import torch
import xarray as xr
import zarr

from ibpipe.data.datasets import load_dataset
from ibpipe.errors import StoreError
from ibpipe.io.files import atomic_path
from ibpipe.io.layers import (
    LayerStoreWriter,
    input_shape,
    layer_chunks,
    layer_names,
    layer_shapes,
    open_layer_store,
    write_layer_store_header,
)
from ibpipe.io.weights import open_history, read_weights, write_weights
from ibpipe.nn.architectures import build_model, model_spec
from ibpipe.nn.layers import layer_widths, load_weights, record_epochs
from ibpipe.nn.training import HISTORY_METRICS, train_epochs
from ibpipe.nn.trials import with_trial_axis


def _tiny_run(epochs=3, seed=0):
    dataset = load_dataset("tishby12")
    torch.manual_seed(seed)
    model = build_model(model_spec("mlp", (12,), 2, widths=[6, 4], activation="tanh"))
    inputs, labels = torch.from_numpy(dataset.inputs), torch.from_numpy(dataset.labels)
    train = (inputs[dataset.train_rows], labels[dataset.train_rows])
    test = (inputs[dataset.test_rows], labels[dataset.test_rows])
    return model, list(train_epochs(model, train, test, epochs=epochs, batch_size=256, learning_rate=1.0e-2, seed=seed))


def test_atomic_path_leaves_no_trace_when_the_writer_fails(tmp_path):
    target = tmp_path / "out.zarr"
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        zarr.open_group(temporary, mode="w").create_array("x", shape=(3,), dtype="int8")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_replaces_an_existing_store_whole(tmp_path):
    target = tmp_path / "out"
    target.mkdir()
    (target / "stale").write_text("old")
    with atomic_path(target) as temporary:
        temporary.mkdir()
        (temporary / "fresh").write_text("new")
    assert [p.name for p in target.iterdir()] == ["fresh"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_training_is_seeded_and_starts_from_the_initial_weights():
    _, first = _tiny_run(seed=5)
    _model, again = _tiny_run(seed=5)
    _, other = _tiny_run(seed=6)
    assert [r.epoch for r in first] == [0, 1, 2, 3]
    for a, b in zip(first, again):
        assert all(np.array_equal(a.weights[k], b.weights[k]) for k in a.weights)
    assert not np.array_equal(
        first[-1].weights["layers.hidden1.0.weight"], other[-1].weights["layers.hidden1.0.weight"]
    )
    assert not np.array_equal(first[0].weights["layers.hidden1.0.weight"], first[1].weights["layers.hidden1.0.weight"])
    assert set(first[0].metrics) == set(HISTORY_METRICS)
    assert first[-1].metrics["train_loss"] < first[0].metrics["train_loss"]


def test_initial_weights_are_truncated_normal_with_std_one_over_sqrt_fan_in():
    torch.manual_seed(0)
    model = build_model(model_spec("mlp", (400,), 2, widths=[300], activation="tanh"))
    weight = model.layers.hidden1[0].weight.detach().numpy()
    bound = 2 / np.sqrt(400)
    assert np.abs(weight).max() <= bound
    # A normal truncated at two std keeps 0.774 of its variance.
    assert weight.std() == pytest.approx(np.sqrt(0.774) / np.sqrt(400), rel=0.03)
    assert not model.layers.hidden1[0].bias.detach().numpy().any()


def test_weights_store_round_trips_every_epoch_and_the_history(tmp_path):
    _model, records = _tiny_run(epochs=4)
    _model, other = _tiny_run(epochs=4, seed=1)
    path = tmp_path / "weights.zarr"
    streams = [(range(1), with_trial_axis(iter(records))), (range(1, 2), with_trial_axis(iter(other)))]
    write_weights(path, streams, 5, 2, {"model": {"arch": "mlp"}}, epochs_per_chunk=2)
    for trial, run in enumerate((records, other)):
        for epoch, weights in read_weights(path, [0, 3, 4], trial):
            assert all(np.array_equal(weights[k], run[epoch].weights[k]) for k in weights)
    history = open_history(path)
    assert history.train_loss.dims == ("trial", "epoch")
    assert history.train_loss.sel(trial=1).values.tolist() == [r.metrics["train_loss"] for r in other]
    with pytest.raises(StoreError, match=r"holds epochs 0\.\.4"):
        next(read_weights(path, [7]))


def test_recording_rebuilds_the_network_and_gives_softmax_output():
    model, records = _tiny_run(epochs=2)
    inputs = torch.from_numpy(load_dataset("tishby12").inputs)
    assert layer_widths(model, inputs) == {"hidden1": 6, "hidden2": 4, "output": 2}
    recorded = dict(record_epochs(model, [(r.epoch, r.weights) for r in records], inputs))
    load_weights(model, records[1].weights)
    with torch.no_grad():
        expected = torch.tanh(model.layers.hidden1[0](inputs)).numpy()
    assert np.allclose(recorded[1]["hidden1"], expected, atol=1e-6)
    assert np.allclose(recorded[2]["output"].sum(axis=1), 1, atol=1e-6)


def test_layer_store_is_sharded_by_epoch_slab_and_opens_with_xarray(tmp_path, rng):
    path = tmp_path / "activations.zarr"
    epochs, widths = np.array([0, 1, 2, 5, 9]), {"hidden1": (3,), "output": (2,)}
    values = {layer: rng.normal(size=(5, 7, *width)).astype("float32") for layer, width in widths.items()}
    root = zarr.open_group(path, mode="w")
    write_layer_store_header(
        root, epochs=epochs, sample_rows=np.arange(7), inputs=np.eye(7), labels=np.zeros(7), shapes=widths, attrs={}
    )
    writer = LayerStoreWriter(
        root, "activation", shapes=widths, epochs=epochs, n_samples=7, epochs_per_shard=2, dtype="float32"
    )
    for slab in writer.slabs():
        writer.write(slab, {layer: v[slab] for layer, v in values.items()})
    assert [s.start for s in writer.slabs()] == [0, 2, 4]
    assert len(list((path / "hidden1" / "activation" / "c").iterdir())) == 3
    layer = xr.open_zarr(path, group="hidden1", consolidated=False)
    assert layer.activation.dims == ("epoch", "sample", "unit")
    assert layer.epoch.values.tolist() == epochs.tolist()
    assert np.array_equal(layer.activation.values, values["hidden1"])
    assert layer_names(open_layer_store(path)) == ["hidden1", "output"]
    assert layer_shapes(open_layer_store(path)) == {"hidden1": (3,), "output": (2,)}


def test_layer_store_shards_split_samples_when_a_slab_would_not_fit(tmp_path, rng):
    path = tmp_path / "activations.zarr"
    values = rng.normal(size=(3, 10, 2, 2, 2)).astype("float32")
    root = zarr.open_group(path, mode="w")
    write_layer_store_header(
        root,
        epochs=np.arange(3),
        sample_rows=np.arange(10),
        inputs=np.zeros((10, 1, 4, 4)),
        labels=np.zeros(10),
        shapes={"z1": (2, 2, 2)},
        attrs={},
    )
    writer = LayerStoreWriter(
        root,
        "activation",
        shapes={"z1": (2, 2, 2)},
        epochs=np.arange(3),
        n_samples=10,
        epochs_per_shard=2,
        dtype="float32",
        samples_per_chunk=4,
    )
    assert [(s.start, s.stop) for s in writer.sample_chunks()] == [(0, 4), (4, 8), (8, 10)]
    for slab in writer.slabs():
        for samples in writer.sample_chunks():
            writer.write(slab, {"z1": values[slab, samples].reshape(slab.stop - slab.start, -1, 8)}, samples)
    shard_files = [p for p in (path / "z1" / "activation" / "c").rglob("*") if p.is_file()]
    assert len(shard_files) == 2 * 3  # 2 epoch slabs x 3 sample chunks
    opened = open_layer_store(path)
    assert input_shape(opened) == (1, 4, 4) and layer_shapes(opened) == {"z1": (2, 2, 2)}
    chunks = list(layer_chunks(opened, "z1", "activation", slice(1, 3)))
    assert [samples.stop for samples, _ in chunks] == [4, 8, 10]
    assert np.array_equal(np.concatenate([part for _, part in chunks], axis=1), values[1:3].reshape(2, 10, 8))
