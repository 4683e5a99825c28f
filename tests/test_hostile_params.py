"""Hostile params and model factories: each refused before training with one sentence naming the key and the fix.

A stage validates only the sections it reads, so a misspelt section it reads (``trian:``) would
silently give that section its defaults; a factory module that fails to import, a factory that
raises and a network with nothing to train would end in a traceback from inside torch.
"""

import sys
import textwrap

import pytest

from ibpipe.config.model import ModelParams
from ibpipe.config.train import TrainParams
from ibpipe.data.datasets import load_dataset
from ibpipe.errors import InputError, ParamsError
from ibpipe.infoplane.train import train_into_store
from ibpipe.neurons.params import NeuronsBootstrapParams
from ibpipe.schema import build_sections

# (case, params as parsed, the sections the stage reads, words the error must hold)
MISSPELT = [
    ("trian", {"trian": {"epochs": 3}}, (TrainParams,), ["trian: unknown section (did you mean 'train'?)", "defaults"]),
    ("tran beside dataset", {"dataset": {}, "tran": {}}, (TrainParams,), ["tran: unknown section", "'train'"]),
    (
        "neurons.bootstrapp",
        {"neurons": {"bootstrapp": {}}},
        (NeuronsBootstrapParams,),
        ["neurons.bootstrapp: unknown section (did you mean 'neurons.bootstrap'?)"],
    ),
]


@pytest.mark.parametrize(("case", "raw", "classes", "named"), MISSPELT, ids=[case for case, *_ in MISSPELT])
def test_a_misspelt_section_a_stage_reads_is_refused_not_replaced_by_defaults(case, raw, classes, named):
    with pytest.raises(ParamsError) as caught:
        build_sections(raw, classes)
    for words in named:
        assert words in str(caught.value), (case, str(caught.value))


def test_a_section_left_out_takes_its_defaults_when_nothing_resembles_it():
    (train,) = build_sections({"estimate": {}, "dataset": {}}, (TrainParams,))
    assert train == TrainParams()


FACTORIES = {
    "imports_missing": "import hostile_module_that_is_not_installed\n\ndef make():\n    pass\n",
    "raises_on_import": "raise RuntimeError('configuration file not found')\n",
    "raises_when_called": "def make():\n    raise RuntimeError('boom in the factory')\n",
    "no_parameters": textwrap.dedent(
        """
        from torch import nn

        class FirstTwo(nn.Module):
            def forward(self, x):
                return x.flatten(1)[:, :2]

        def make():
            return nn.Sequential(FirstTwo())
        """
    ),
}
# (case, module, words the error must hold)
BAD_FACTORIES = [
    (
        "a module whose own import is missing",
        "imports_missing",
        ["importing module", "No module named 'hostile_module_that_is_not_installed'", "imports_missing.py:1"],
    ),
    ("a module that raises on import", "raises_on_import", ["RuntimeError: configuration file not found", ".py:1"]),
    ("a factory that raises", "raises_when_called", ["raised RuntimeError: boom in the factory", "model.kwargs"]),
    ("a network without parameters", "no_parameters", ["no trainable parameters", "nothing to train"]),
]


@pytest.mark.parametrize(("case", "module", "named"), BAD_FACTORIES, ids=[case for case, _, _ in BAD_FACTORIES])
def test_a_broken_factory_is_one_sentence_before_training(tmp_path, monkeypatch, case, module, named):
    name = f"hostile_factory_{module}"
    (tmp_path / f"{name}.py").write_text(FACTORIES[module])
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    raw = {"arch": "custom", "factory": f"{name}:make", "layers": {"out": "0"}, "softmax": ""}
    net, _ = ModelParams.from_raw(raw)
    fit, _ = TrainParams.from_raw({"epochs": 100_000, "trials": 1})
    with pytest.raises(InputError) as caught:
        train_into_store(
            load_dataset("tishby12"), net, fit, out=str(tmp_path / "w.zarr"), live=tmp_path / "l", params=""
        )
    message = str(caught.value)
    assert f"model.factory = '{name}:make'" in message or f"model.factory '{name}:make'" in message, message
    for words in named:
        assert words in message, (case, message)
    assert not (tmp_path / "w.zarr").exists()
