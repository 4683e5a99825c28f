"""Quantization-aware training (model.quantize) and the exact codes of reduce.method exact."""

import numpy as np
import pytest
import torch

from ibpipe.config.model import ModelParams
from ibpipe.errors import InputError, ParamsError
from ibpipe.estimators.plugin import entropy_bits
from ibpipe.infoplane.exact import exact_grid_codes
from ibpipe.infoplane.reduce import LayerReducer, LayerReduction
from ibpipe.nn.architectures import build_model, model_spec
from ibpipe.nn.quantize import fake_quantize
from ibpipe.schema import build_sections


def entropy_of_distinct_rows(values: np.ndarray) -> float:
    """The reference: H of the layer's distinct rows, counted by np.unique, in bits."""
    _, counts = np.unique(values, axis=0, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def trained_quantized(activation: str, bits: int, steps: int = 30) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model(model_spec("mlp", (12,), 2, widths=[10, 7, 5], activation=activation, quantize={"bits": bits}))
    inputs = torch.randn(600, 12)
    labels = (inputs[:, 0] + inputs[:, 1] > 0).long()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        model.train()
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(model(inputs), labels).backward()
        optimizer.step()
    return model


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_quantized_layers_hold_at_most_two_to_the_bits_values_per_unit(activation):
    bits = 3
    model = trained_quantized(activation, bits)
    model.eval()
    inputs = torch.randn(2000, 12) * 3
    # recorded in four separate calls: the grid must not depend on which rows pass together
    parts = [model.record(chunk) for chunk in inputs.split(500)]
    for layer in parts[0]:
        values = torch.cat([part[layer] for part in parts]).numpy()
        per_unit = [np.unique(values[:, unit]).size for unit in range(values.shape[1])]
        assert max(per_unit) <= 2**bits, (layer, per_unit)


def test_fake_quantize_rounds_to_the_grid_and_passes_gradients_straight_through_inside_the_range():
    values = torch.tensor([-2.0, -0.9, 0.1, 0.26, 2.0], requires_grad=True)
    out = fake_quantize(values, torch.tensor(-1.0), torch.tensor(1.0), levels=5)  # grid -1, -0.5, 0, 0.5, 1
    assert out.detach().tolist() == [-1.0, -1.0, 0.0, 0.5, 1.0]
    out.sum().backward()
    assert values.grad.tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_quantized_training_learns():
    model = trained_quantized("tanh", 8, steps=60)
    inputs = torch.randn(500, 12)
    accuracy = (model(inputs).argmax(1) == (inputs[:, 0] + inputs[:, 1] > 0).long()).float().mean()
    assert accuracy > 0.9


def test_exact_codes_equal_counting_the_distinct_quantized_rows():
    bits = 4
    rng = np.random.default_rng(0)
    # a grid of 2**bits levels over a range the data need not fill
    grid = np.linspace(-0.8, 0.7, 2**bits).astype(np.float32)
    values = grid[rng.integers(2, 2**bits - 3, size=(3000, 3))]
    codes = exact_grid_codes(values, bits, (float(values.min()), float(values.max())))
    assert entropy_bits(codes) == pytest.approx(entropy_of_distinct_rows(values), abs=1e-12)
    assert len(np.unique(codes, axis=0)) == len(np.unique(values, axis=0))


def test_exact_codes_of_a_quantized_network_layer_equal_its_distinct_rows():
    model = trained_quantized("relu", 8)
    model.eval()
    recorded = model.record(torch.randn(3000, 12))
    reduction = LayerReduction(method="exact", bits=8)
    for layer, values in recorded.items():
        values = values.numpy()
        codes = LayerReducer(reduction, values.shape[1:]).fit_transform_epoch(values)
        assert entropy_bits(codes) == pytest.approx(entropy_of_distinct_rows(values), abs=1e-12), layer


def test_exact_codes_refuse_a_layer_with_more_values_than_the_grid():
    values = np.random.default_rng(0).normal(size=(100, 3))
    with pytest.raises(InputError, match="more than 2\\^4"):
        exact_grid_codes(values, 4, (values.min(), values.max()))


def test_quantize_params_need_bits_and_an_mlp():
    with pytest.raises(ParamsError, match=r"model\.quantize"):
        build_sections({"model": {"quantize": {"momentum": 0.1}}}, (ModelParams,))
    with pytest.raises(ParamsError, match=r"only model\.arch mlp"):
        build_sections({"model": {"arch": "digits-cnn", "widths": [10], "quantize": {"bits": 8}}}, (ModelParams,))
    (params,) = build_sections({"model": {"quantize": {"bits": 8}}}, (ModelParams,))
    assert params.quantize == {"bits": 8}
