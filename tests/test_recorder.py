"""ibpipe.Recorder: recording inside a user's own loop changes nothing, handles the outputs users meet,
and writes stores the pipeline's reduce and estimate stages read."""

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn

import ibpipe
from ibpipe.errors import InputError, StoreError
from ibpipe.io.layers import layer_names, layer_shapes, open_layer_store, read_array
from ibpipe.io.weights import open_history, read_weights
from ibpipe.nn.recording import log_epochs

ROOT = Path(__file__).resolve().parents[1]


class Noise(nn.Module):
    """Draws from the global RNG in every forward pass, training or not: a probe pass that consumed the
    training's random stream would change the weights that follow."""

    def forward(self, x):
        return x + 0.01 * torch.randn_like(x)


class Block(nn.Module):
    def __init__(self, channels):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x):
        return torch.relu(x + self.bn(self.conv(x)))


def residual_cnn():
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        Block(4),
        Noise(),
        Block(4),
        nn.Dropout(0.3),
        nn.Flatten(),
        nn.Linear(4 * 8 * 8, 3),
    )


def probe_data(rows=40, seed=0):
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, 1, 8, 8, generator=generator)
    return x, (x.mean(dim=(1, 2, 3)) > 0).long() + (x[:, 0, 0, 0] > 1).long()


def train(model, x, y, epochs, recorder=None):
    """A plain SGD-with-momentum loop with shuffled mini-batches (global RNG), dropout and noise."""
    torch.manual_seed(1)
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    if recorder is not None:
        recorder.step(0)
    for epoch in range(1, epochs + 1):
        model.train()
        for batch in torch.randperm(len(x)).split(10):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimiser.step()
        if recorder is not None:
            recorder.step(epoch, loss=1.0 / epoch)
    return {name: value.clone() for name, value in model.state_dict().items()}


def test_weights_are_bitwise_equal_with_and_without_the_recorder(tmp_path):
    x, y = probe_data()
    torch.manual_seed(0)
    plain = train(residual_cnn(), x, y, epochs=4)
    torch.manual_seed(0)
    model = residual_cnn()
    with ibpipe.Recorder(model, ["1", "3.*", "6"], x, y, tmp_path / "run", schedule="every") as recorder:
        recorded = train(model, x, y, epochs=4, recorder=recorder)
    assert recorded.keys() == plain.keys()
    for name in plain:
        assert torch.equal(recorded[name], plain[name]), name
    stored = dict(read_weights(tmp_path / "run/weights.zarr", [4]))[4]
    for name in plain:
        np.testing.assert_array_equal(stored[name], plain[name].numpy())


def test_recording_restores_each_modules_train_flag_and_leaves_the_rng_alone(tmp_path):
    x, y = probe_data()
    model = residual_cnn().train()
    model[1].bn.eval()  # a frozen BatchNorm inside a training model stays frozen
    flags = [module.training for module in model.modules()]
    recorder = ibpipe.Recorder(model, ["1", "6"], x, y, tmp_path / "run", schedule="every")
    cpu_state = torch.get_rng_state()
    recorder.step(0)
    assert torch.equal(torch.get_rng_state(), cpu_state)
    assert [module.training for module in model.modules()] == flags
    recorder.close()


def test_recorded_activations_are_the_eval_mode_outputs(tmp_path):
    x, y = probe_data()
    model = residual_cnn()
    with ibpipe.Recorder(model, ["3", "6"], x, y, tmp_path / "run", schedule="every", batch_size=16) as recorder:
        recorder.step(0)
    root = open_layer_store(tmp_path / "run/activations.zarr")
    assert layer_names(root) == ["3", "6"]
    assert layer_shapes(root) == {"3": (4, 8, 8), "6": (3,)}
    model.eval()
    with torch.no_grad():
        expected = model[:4](x).flatten(1).numpy()
    np.testing.assert_allclose(read_array(root, "3/activation")[0], expected, rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(read_array(root, "labels"), y.numpy())


def test_glob_selects_matching_modules_in_forward_order(tmp_path):
    x, y = probe_data()
    recorder = ibpipe.Recorder(residual_cnn(), ["3.*", "1.bn"], x, y, tmp_path / "run")
    assert list(recorder.layers) == ["1.bn", "3.conv", "3.bn"]
    recorder.abandon()


def test_an_unknown_layer_fails_at_construction_naming_it(tmp_path):
    x, y = probe_data()
    with pytest.raises(InputError, match=r"layer 'blok1' is not a module of this Sequential"):
        ibpipe.Recorder(residual_cnn(), ["blok1"], x, y, tmp_path / "run")
    assert not (tmp_path / "run").exists()


class Sequences(nn.Module):
    def __init__(self, batch_first=True):
        super().__init__()
        self.lstm = nn.LSTM(3, 5, batch_first=batch_first)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def test_lstm_tuple_output_is_recorded_by_index_and_pooled_over_time(tmp_path):
    x = torch.randn(20, 7, 3)
    y = torch.arange(20) % 2
    model = Sequences()
    layers = {"lstm": {"output": 0, "tokens": "last"}, "head": {}}
    with ibpipe.Recorder(model, layers, x, y, tmp_path / "run", schedule="every") as recorder:
        recorder.step(0)
    root = open_layer_store(tmp_path / "run/activations.zarr")
    with torch.no_grad():
        out, (h, _) = model.lstm(x)
    np.testing.assert_allclose(read_array(root, "lstm/activation")[0], out[:, -1].numpy(), atol=1e-6)
    np.testing.assert_allclose(read_array(root, "lstm/activation")[0], h[0].numpy(), atol=1e-6)
    assert layer_shapes(root)["lstm"] == (5,)


def test_lstm_without_a_selector_records_its_sequence_output_whole(tmp_path):
    x, y = torch.randn(6, 7, 3), torch.arange(6) % 2
    recorder = ibpipe.Recorder(Sequences(), ["lstm"], x, y, tmp_path / "run")
    recorder.step(0)
    recorder.close()
    assert layer_shapes(open_layer_store(tmp_path / "run/activations.zarr"))["lstm"] == (7, 5)


def test_an_output_without_rows_first_is_refused_with_layer_type_shape_and_fix(tmp_path):
    class TimeFirst(nn.Module):
        def forward(self, x):
            return x.transpose(0, 1)

    model = Sequences()
    model.add_module("time_first", TimeFirst())
    model.forward = lambda x: model.head(model.time_first(model.lstm(x)[0])[-1])
    x, y = torch.randn(6, 7, 3), torch.arange(6) % 2
    with pytest.raises(InputError) as caught:
        ibpipe.Recorder(model, ["time_first"], x, y, tmp_path / "run")
    message = str(caught.value)
    assert "layer 'time_first' cannot be recorded: its output is Tensor(7, 6, 5)" in message
    assert "not the input rows (6 in this batch" in message and "batch_first=True" in message


class Tokens(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.1, batch_first=True)
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.encoder(x).mean(dim=1))


@pytest.mark.parametrize(
    ("tokens", "pool"),
    [("mean", lambda t: t.mean(dim=1)), ("last", lambda t: t[:, -1]), ("first", lambda t: t[:, 0])],
)
def test_transformer_tokens_are_pooled_as_named(tmp_path, tokens, pool):
    torch.manual_seed(0)
    x, y = torch.randn(10, 12, 8), torch.arange(10) % 2
    model = Tokens()
    with ibpipe.Recorder(model, {"encoder": {"tokens": tokens}}, x, y, tmp_path / "run", "every") as recorder:
        recorder.step(0)
    model.eval()
    with torch.no_grad():
        expected = pool(model.encoder(x)).numpy()
    root = open_layer_store(tmp_path / "run/activations.zarr")
    np.testing.assert_allclose(read_array(root, "encoder/activation")[0], expected, atol=1e-5)
    assert layer_shapes(root)["encoder"] == (8,)


def test_tokens_none_makes_each_token_a_row_labelled_by_its_sequence(tmp_path):
    torch.manual_seed(0)
    x, y = torch.randn(10, 12, 8), torch.arange(10) % 2
    model = Tokens()
    with ibpipe.Recorder(model, {"encoder": {"tokens": "none"}}, x, y, tmp_path / "run", "every") as recorder:
        recorder.step(0)
    model.eval()
    with torch.no_grad():
        expected = model.encoder(x).reshape(120, 8).numpy()
    root = open_layer_store(tmp_path / "run/activations.zarr")
    np.testing.assert_allclose(read_array(root, "encoder/activation")[0], expected, atol=1e-5)
    np.testing.assert_array_equal(read_array(root, "labels"), np.repeat(y.numpy(), 12))
    np.testing.assert_array_equal(read_array(root, "sample"), np.repeat(np.arange(10), 12))
    # X of a token row is (sequence, position): its inputs end with the position, so all 120 rows are distinct
    inputs = read_array(root, "inputs")
    assert inputs.shape == (120, 12 * 8 + 1)
    assert len(np.unique(inputs, axis=0)) == 120


def test_per_token_and_per_row_layers_cannot_share_a_store(tmp_path):
    x, y = torch.randn(4, 12, 8), torch.arange(4) % 2
    with pytest.raises(InputError, match="two Recorders"):
        ibpipe.Recorder(Tokens(), {"encoder": {"tokens": "none"}, "head": {}}, x, y, tmp_path / "run")


def test_tokens_on_a_flat_output_is_refused(tmp_path):
    x, y = torch.randn(4, 12, 8), torch.arange(4) % 2
    with pytest.raises(
        InputError, match=r"layer 'head'.*Tensor\(4, 2\).*\(rows, tokens, features\) output; leave 'tokens' out"
    ):
        ibpipe.Recorder(Tokens(), {"head": {"tokens": "mean"}}, x, y, tmp_path / "run")


class Parts(nn.Module):
    """Returns a dict, like a Hugging Face ModelOutput."""

    def __init__(self):
        super().__init__()
        self.linear = nn.Linear(4, 3)

    def forward(self, x):
        return {"loss": self.linear(x).sum(), "logits": self.linear(x), "doubled": 2 * self.linear(x)}


class DictModel(nn.Module):
    def __init__(self):
        super().__init__()
        self.parts = Parts()

    def forward(self, x):
        return self.parts(x)["logits"]


def test_dict_output_is_recorded_by_key_and_by_the_default_rule(tmp_path):
    x, y = torch.randn(9, 4), torch.arange(9) % 3
    model = DictModel()
    with ibpipe.Recorder(model, {"parts": {"output": "doubled"}}, x, y, tmp_path / "a", "every") as recorder:
        recorder.step(0)
    with ibpipe.Recorder(model, ["parts"], x, y, tmp_path / "b", "every") as recorder:
        recorder.step(0)
    with torch.no_grad():
        logits = model.parts.linear(x).numpy()
    doubled = read_array(open_layer_store(tmp_path / "a/activations.zarr"), "parts/activation")[0]
    default = read_array(open_layer_store(tmp_path / "b/activations.zarr"), "parts/activation")[0]
    np.testing.assert_allclose(doubled, 2 * logits, atol=1e-6)
    np.testing.assert_allclose(default, logits, atol=1e-6)  # the scalar loss has no rows: skipped


def test_an_unrecordable_output_names_layer_type_shape_and_fix(tmp_path):
    class Scalars(nn.Module):
        def forward(self, x):
            return x.sum(), x.mean()

    model = nn.Sequential(nn.Linear(4, 3))
    model.add_module("stats", Scalars())
    with pytest.raises(InputError) as caught:
        ibpipe.Recorder(model, ["stats"], torch.randn(5, 4), torch.zeros(5), tmp_path / "run")
    message = str(caught.value)
    assert "layer 'stats' cannot be recorded" in message
    assert "tuple(Tensor(), Tensor())" in message
    assert "{'stats': {'output': 0}}" in message
    with pytest.raises(
        InputError, match=r"dict\{'loss': Tensor\(\), .*'nope' is not one of its parts.*'output': 'logits'"
    ):
        ibpipe.Recorder(DictModel(), {"parts": {"output": "nope"}}, torch.randn(5, 4), torch.zeros(5), tmp_path)


def test_log_schedule_is_dense_early_and_closes_on_the_last_epoch(tmp_path):
    assert log_epochs(40).tolist() == [0, 1, 2, 3, 4, 5, 7, 8, 10, 12, 15, 18, 21, 25, 31, 37]
    x, y = probe_data(8)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    with ibpipe.Recorder(model, ["1"], x, y, tmp_path / "run") as recorder:
        recorded = [epoch for epoch in range(14) if recorder.step(epoch)]
    assert recorded == [0, 1, 2, 3, 4, 5, 7, 8, 10, 12]
    stored = read_array(open_layer_store(tmp_path / "run/activations.zarr"), "epoch").tolist()
    assert stored == [*recorded, 13]
    with pytest.raises(StoreError, match=r"lacks epoch 6 .*holds epochs \[0, 1, 2, 3, 4, 5, 7"):
        list(read_weights(tmp_path / "run/weights.zarr", [5, 6]))


def test_nothing_appears_when_the_loop_fails_or_records_nothing(tmp_path):
    x, y = probe_data(8)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3))
    with pytest.raises(RuntimeError, match="diverged"), ibpipe.Recorder(model, ["1"], x, y, tmp_path / "failed") as rec:
        rec.step(0)
        raise RuntimeError("diverged")
    recorder = ibpipe.Recorder(model, ["1"], x, y, tmp_path / "empty")
    with pytest.raises(InputError, match="nothing was recorded"):
        recorder.close()
    assert not any((tmp_path / "failed").iterdir()) and not any((tmp_path / "empty").iterdir())


def test_several_input_tensors_go_to_forward_as_positional_arguments(tmp_path):
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = nn.Linear(2, 3), nn.Linear(4, 3)

        def forward(self, left, right):
            return self.a(left) + self.b(right)

    left, right, y = torch.randn(6, 2), torch.randn(6, 4), torch.arange(6) % 2
    with ibpipe.Recorder(Two(), ["a", "b"], (left, right), y, tmp_path / "run", "every") as recorder:
        recorder.step(0)
    assert read_array(open_layer_store(tmp_path / "run/activations.zarr"), "inputs").shape == (6, 6)


def _plugin_bits(*columns):
    """Entropy in bits of the joint of integer columns: a few lines, independent of the library."""
    _, counts = np.unique(np.column_stack(columns), axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def test_reduce_and_estimate_stages_measure_a_recorded_run(tmp_path, monkeypatch):
    """The stores pass the stages' readers and checks; the estimate stage's plug-in numbers equal
    ibpipe.information on the same codes and a few-line numpy plug-in."""
    monkeypatch.syspath_prepend(str(ROOT))
    import stages.estimate
    import stages.reduce

    x, y = probe_data(60)
    model = residual_cnn()
    with ibpipe.Recorder(model, ["1", "3", "6"], x, y, tmp_path / "run", schedule="every") as recorder:
        train(model, x, y, epochs=3, recorder=recorder)
    assert open_history(tmp_path / "run/weights.zarr")["loss"].values[0, 1:].tolist() == [1.0, 0.5, 1 / 3]
    params = tmp_path / "params.yaml"
    params.write_text(
        "reduce:\n  method: quantile\n  n_bins: 4\nestimate:\n  estimators: [plugin]\n  scheduler: synchronous\n"
    )
    activations, codes = str(tmp_path / "run/activations.zarr"), str(tmp_path / "codes.zarr")
    stages.reduce.main(params, activations, codes)
    stages.estimate.main(params, codes, activations, tmp_path / "metrics.nc", tmp_path / "metrics.json")
    metrics = xr.open_dataset(tmp_path / "metrics.nc")
    assert list(metrics.layer.values) == ["1", "3", "6"] and list(metrics.epoch.values) == [0, 1, 2, 3]
    root = open_layer_store(codes)
    labels, x_ids = read_array(root, "labels"), read_array(root, "x_id")
    for layer in ["3", "6"]:
        t = read_array(root, f"{layer}/code")[-1]
        ids = np.unique(t, axis=0, return_inverse=True)[1].reshape(-1)
        found = ibpipe.information(t, labels, "plugin", x_ids=x_ids)
        cell = metrics.sel(layer=layer, epoch=3, estimator="plugin", trial=0)
        np.testing.assert_allclose(float(cell.I_XT), found["I_XT"], atol=1e-9)
        np.testing.assert_allclose(float(cell.I_TY), found["I_TY"], atol=1e-9)
        i_xt = _plugin_bits(x_ids) + _plugin_bits(ids) - _plugin_bits(x_ids, ids)
        i_ty = _plugin_bits(ids) + _plugin_bits(labels) - _plugin_bits(ids, labels)
        np.testing.assert_allclose([found["I_XT"], found["I_TY"]], [i_xt, i_ty], atol=1e-9)
    assert 0 < float(metrics.I_TY.sel(layer="6", epoch=3, estimator="plugin", trial=0)) <= _plugin_bits(labels) + 1e-9


def test_the_recorder_is_public_api():
    assert "Recorder" in ibpipe.__all__ and ibpipe.Recorder.__module__ == "ibpipe.recorder"
    assert sys.modules["ibpipe.recorder"].Recorder is ibpipe.Recorder


def test_a_double_precision_model_gets_its_dtype_and_float32_is_stored(tmp_path):
    x, y = probe_data(8)
    model = nn.Sequential(nn.Flatten(), nn.Linear(64, 3)).double()
    with ibpipe.Recorder(model, ["1"], x, y, tmp_path / "run", "every") as recorder:
        recorder.step(0)
    root = open_layer_store(tmp_path / "run/activations.zarr")
    with torch.no_grad():
        expected = model(x.double()).numpy()
    assert root["1/activation"].dtype == np.float32
    np.testing.assert_allclose(read_array(root, "1/activation")[0], expected, rtol=1e-6)
