"""Models as people write them in the pipeline's own train and dump stages: forwards taking several tensors or
keywords (the batch structure declared once, by the dataset factory), tuple and dict outputs, and the check of
one probe batch before training, which refuses a wrong network in seconds with the key, the output and the fix."""

import time

import numpy as np
import pytest
import torch

from ibpipe.config.dump import DumpParams
from ibpipe.config.model import ModelParams
from ibpipe.config.train import TrainParams
from ibpipe.data.datasets import load_dataset
from ibpipe.errors import InputError
from ibpipe.infoplane.dumping import dump_activations
from ibpipe.infoplane.train import train_into_store
from ibpipe.io.layers import layer_shapes, open_layer_store, read_array, read_slab
from ibpipe.io.stores import new_store
from ibpipe.io.weights import read_weights

MODULE = "own_model_for_tests"


def _section(cls, raw):
    section, problems = cls.from_raw(raw)
    assert not problems, problems
    return section


def _model(factory, layers, softmax="output", **kwargs):
    raw = {"arch": "custom", "factory": f"{MODULE}:{factory}", "layers": layers, "softmax": softmax, "kwargs": kwargs}
    return _section(ModelParams, raw)


def _train(tmp_path, data, net, epochs=2):
    """Train ``net`` on the custom dataset ``data`` (a factory of own_model_for_tests); the weights store's path."""
    dataset = load_dataset("custom", root=tmp_path, factory=f"{MODULE}:{data}", test_fraction=0.25)
    fit = _section(TrainParams, {"epochs": epochs, "batch_size": 16, "learning_rate": 0.01, "trials": 1})
    weights = str(tmp_path / "weights.zarr")
    train_into_store(dataset, net, fit, out=weights, live=tmp_path / "live", params="{}")
    return dataset, weights


def _train_and_dump(tmp_path, data, net, epochs=2):
    dataset, weights = _train(tmp_path, data, net, epochs)
    with new_store(str(tmp_path / "activations.zarr")) as root:
        dump = _section(DumpParams, {})
        dump_activations(root, weights, dataset, epochs=np.arange(epochs + 1), dump=dump, params="{}")
    return dataset, weights, str(tmp_path / "activations.zarr")


def _refused_before_training(tmp_path, data, net, *fragments):
    """``net`` fails the probe-batch check: fast, before any weights exist, with every fragment in the message."""
    start = time.perf_counter()
    with pytest.raises(InputError) as caught:
        _train(tmp_path, data, net, epochs=100_000)  # training this long would take minutes
    assert time.perf_counter() - start < 10
    assert not (tmp_path / "weights.zarr").exists()
    message = str(caught.value)
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message
    return message


def test_a_forward_taking_two_tensors_trains_and_is_dumped(tmp_path):
    net = _model("two_inputs", {"hidden": "act", "output": "head"})
    dataset, weights, activations = _train_and_dump(tmp_path, "two_arrays", net)
    root = open_layer_store(activations)
    assert layer_shapes(root) == {"hidden": (4,), "output": (2,)}
    # Oracle: the stored hidden layer of the last epoch is tanh(left(a) + right(b)) under that epoch's weights.
    ((_, state),) = read_weights(weights, [2])
    a, b = dataset.inputs[dataset.measured_rows, :5], dataset.inputs[dataset.measured_rows, 5:]
    left, right = (state[f"model.{side}.weight"] for side in ("left", "right"))
    bias = state["model.left.bias"] + state["model.right.bias"]
    expected = np.tanh(a @ left.T + b @ right.T + bias)
    np.testing.assert_allclose(read_slab(activations, "hidden", "activation", 2, 3)[0], expected, atol=1e-5)
    # The packed inputs are what the activations store holds as X.
    np.testing.assert_array_equal(read_array(root, "inputs").reshape(len(a), -1), dataset.inputs[dataset.measured_rows])


@pytest.mark.parametrize("data", ["dict_of_arrays", "dict_items"])
def test_a_dict_batch_reaches_the_forward_as_keywords(tmp_path, data):
    # The forward returns a dict: its 'logits' are trained on, its parts recorded by the output selector.
    layers = {"hidden": {"module": "body", "output": "hidden"}, "output": {"module": "body", "output": "logits"}}
    net = _model("dict_output", layers)
    _, _, activations = _train_and_dump(tmp_path, data, net)
    assert layer_shapes(open_layer_store(activations)) == {"hidden": (4,), "output": (2,)}


def test_integer_and_boolean_inputs_reach_the_forward_in_their_dtype(tmp_path):
    net = _model("tokens", {"embedded": "embed", "output": "head"})
    _, _, activations = _train_and_dump(tmp_path, "tokens_and_mask", net, epochs=1)
    assert layer_shapes(open_layer_store(activations)) == {"embedded": (4, 3), "output": (2,)}


def test_an_lstm_layer_without_selector_is_recorded_by_the_default_rule(tmp_path):
    # The LSTM returns (out, (h, c)): the default rule records out, (rows, 6 steps, 5 features), all tokens as units.
    net = _model("recurrent", {"lstm": "lstm", "output": "head"})
    _, _, activations = _train_and_dump(tmp_path, "sequences", net, epochs=1)
    assert layer_shapes(open_layer_store(activations)) == {"lstm": (6, 5), "output": (2,)}
    # With a selector and token pooling: h of (h, c) is (1, rows, 5), so the part is picked and pooled instead.
    net = _model("recurrent", {"last": {"module": "lstm", "output": 0, "tokens": "last"}, "output": "head"})
    _, _, activations = _train_and_dump(tmp_path / "pooled", "sequences", net, epochs=1)
    assert layer_shapes(open_layer_store(activations)) == {"last": (5,), "output": (2,)}


def test_a_sequence_first_lstm_is_refused_before_training(tmp_path):
    net = _model("recurrent", {"lstm": "lstm", "output": "head"}, batch_first=False)
    _refused_before_training(
        tmp_path,
        "sequences",
        net,
        "model.layers.lstm (module 'lstm') cannot be recorded",
        "tuple(Tensor(6, 8, 5)",
        "batch_first=True",
    )


def test_token_pooling_of_a_flat_output_is_refused_before_training(tmp_path):
    net = _model("two_inputs", {"hidden": {"module": "act", "tokens": "mean"}, "output": "head"})
    _refused_before_training(tmp_path, "two_arrays", net, "model.layers.hidden", "Tensor(8, 4)", "leave 'tokens' out")


def test_a_factory_with_seven_logits_for_two_classes_is_refused_before_training(tmp_path):
    net = _model("seven_logits", {"hidden": "2", "output": "3"})
    _refused_before_training(tmp_path, "one_array", net, "Tensor(8, 7)", "count 2 classes", "with 2 outputs")


def test_a_forward_taking_two_tensors_given_one_is_refused_before_training(tmp_path):
    net = _model("two_inputs", {"hidden": "act", "output": "head"})
    _refused_before_training(
        tmp_path, "one_array", net, "its forward failed on a probe batch", "Tensor(8, 5)", "(x1, x2, labels)"
    )


def test_an_unknown_layer_and_an_unknown_part_are_refused_before_training(tmp_path):
    net = _model("two_inputs", {"hidden": "akt", "output": "head"})
    _refused_before_training(tmp_path, "two_arrays", net, "model.layers.hidden = 'akt'", "did you mean 'act'")
    net = _model("dict_output", {"hidden": {"module": "body", "output": "hiden"}, "output": "body.inner.head"})
    _refused_before_training(
        tmp_path, "dict_of_arrays", net, "output = 'hiden' is not one of its parts", "dict{'hidden': Tensor(8, 4)"
    )
    net = _model("two_inputs", {"hidden": {"module": "act", "output": 0}, "output": "head"})
    _refused_before_training(tmp_path, "two_arrays", net, "it is one tensor", "leave 'output' out")


def test_a_forward_given_keywords_it_does_not_take_is_refused_before_training(tmp_path):
    net = _model("two_inputs", {"hidden": "act", "output": "head"})
    _refused_before_training(tmp_path, "tokens_and_mask", net, "its forward failed", "'input_ids': Tensor(8, 4)")


def test_a_dataset_of_several_tensors_needs_a_custom_model(tmp_path):
    dataset = load_dataset("custom", root=tmp_path, factory=f"{MODULE}:two_arrays")
    net = _section(ModelParams, {"arch": "mlp", "widths": [3]})
    fit = _section(TrainParams, {"epochs": 1, "trials": 1})
    with pytest.raises(InputError, match=r"several input tensors .* only a custom model"):
        train_into_store(dataset, net, fit, out=str(tmp_path / "w.zarr"), live=tmp_path / "live", params="{}")


def test_several_inputs_are_packed_with_a_layout_that_restores_them():
    from ibpipe.data.arrays import pack_inputs
    from ibpipe.nn.recording import unpack_inputs

    ids = np.array([[1, 2], [3, 4]])
    scores = np.arange(6, dtype=np.float32).reshape(2, 3, 1)
    packed, layout = pack_inputs({"ids": ids, "scores": scores}, "test")
    assert packed.shape == (2, 5) and packed.dtype == np.float32
    restored = unpack_inputs(torch.from_numpy(packed), layout)
    assert restored["ids"].dtype == torch.int64 and restored["ids"].tolist() == ids.tolist()
    assert restored["scores"].shape == (2, 3, 1) and restored["scores"].numpy().tobytes() == scores.tobytes()
    with pytest.raises(InputError, match="beyond 2\\*\\*24"):
        pack_inputs((np.array([[2**25]]), np.ones((1, 1))), "test")
    with pytest.raises(InputError, match="different numbers of rows"):
        pack_inputs((np.ones((2, 1)), np.ones((3, 1))), "test")


def test_a_wrapped_custom_model_loads_its_own_and_the_bare_networks_weights():
    from torch import nn

    from ibpipe.nn.recording import RecordedModel

    bare = nn.Sequential(nn.Linear(3, 2))
    wrapped = RecordedModel(nn.Sequential(nn.Linear(3, 2)), {"output": "0"})
    wrapped.load_state_dict(bare.state_dict())  # as ibpipe.Recorder stores them: no "model." prefix
    assert torch.equal(wrapped.model[0].weight, bare[0].weight)
    again = RecordedModel(nn.Sequential(nn.Linear(3, 2)), {"output": "0"})
    again.load_state_dict(wrapped.state_dict())
    assert torch.equal(again.model[0].weight, bare[0].weight)
    with pytest.raises(RuntimeError, match="Missing key"):
        again.load_state_dict({"0.weight": torch.zeros(2, 3)})
