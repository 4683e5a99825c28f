from collections import Counter

import numpy as np
import pytest
import torch

from ibpipe.estimators.api import information
from ibpipe.nn.cnn import digits_cnn, thesis_cnn
from ibpipe.nn.recording import RecordedModel, build_custom, record_modules


def test_thesis_cnn_records_the_published_layer_shapes():
    torch.manual_seed(0)
    layers = thesis_cnn().record(torch.rand(3, 1, 28, 28))
    assert list(layers) == ["z1", "z2", "output"]
    assert layers["z1"].shape == (3, 16, 14, 14) and layers["z2"].shape == (3, 32, 7, 7)
    assert layers["output"].shape == (3, 10)
    assert torch.allclose(layers["output"].sum(dim=1), torch.ones(3))


def test_digits_cnn_fits_8x8_images_and_its_records_equal_a_manual_forward():
    torch.manual_seed(0)
    model = digits_cnn()
    inputs = torch.rand(4, 1, 8, 8)
    layers = model.record(inputs)
    assert layers["z1"].shape == (4, 8, 4, 4) and layers["z2"].shape == (4, 16, 2, 2)
    with torch.no_grad():
        assert torch.allclose(layers["z2"], model.block2(model.block1(inputs)))
        assert torch.allclose(layers["output"], torch.softmax(model(inputs), dim=1))


def test_a_custom_model_built_by_import_path_is_recorded_and_measured():
    torch.manual_seed(0)
    net = build_custom("custom_model_for_tests:make_net", {"hidden": 4})
    model = RecordedModel(net, {"hidden": "2", "output": "3"}, softmax_layer="output")
    inputs = torch.from_numpy(((np.arange(4096)[:, None] >> np.arange(12)) & 1).astype(np.float32))
    layers = model.record(inputs)
    assert layers["hidden"].shape == (4096, 4)
    with torch.no_grad():
        assert torch.allclose(layers["hidden"], net[2](net[1](inputs)))  # module "2": the Tanh after the Linear
    labels = np.arange(4096) % 2
    values = information(layers["hidden"].numpy(), labels, n_bins=30)
    # Independent plug-in reference: Tishby bins by np.digitize, states counted as tuples.
    codes = [tuple(row) for row in np.digitize(layers["hidden"].numpy(), np.linspace(-1, 1, 30)).tolist()]

    def entropy(rows):
        p = np.array(list(Counter(rows).values())) / 4096
        return float(-(p * np.log2(p)).sum())

    h_t = entropy(codes)
    assert values["I_XT"] == pytest.approx(h_t, abs=1e-12)  # 4096 distinct inputs: I(X;T) = H(T)
    assert values["I_TY"] == pytest.approx(
        h_t + entropy(labels.tolist()) - entropy(list(zip(codes, labels.tolist()))), abs=1e-12
    )


def test_custom_models_fail_clearly():
    with pytest.raises(ValueError, match=r"package\.module:factory"):
        build_custom("no_colon_here")
    with pytest.raises(ValueError, match="has no attribute 'missing'"):
        build_custom("custom_model_for_tests:missing")
    with pytest.raises(ValueError, match=r"not a torch\.nn\.Module"):
        build_custom("custom_model_for_tests:not_a_module")
    with pytest.raises(ValueError, match="no submodule 'nine'"):
        record_modules(build_custom("custom_model_for_tests:make_net"), torch.rand(2, 12), {"x": "nine"})
