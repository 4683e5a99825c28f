"""Hostile files and paths: a checkpoint that would run code, factory paths with typos."""

import os
import pickle
from pathlib import Path

import pytest
import torch

from ibpipe.errors import InputError, UserError
from ibpipe.nn.architectures import build_model, load_checkpoint, model_spec
from ibpipe.nn.recording import build_custom

TESTS = Path(__file__).resolve().parent


class _RunsCode:
    """Unpickling this calls os.system: what a malicious checkpoint does."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def _mlp():
    return build_model(model_spec("mlp", (12,), 2, widths=[5, 3], activation="tanh"))


def test_a_checkpoint_that_would_run_code_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "code_ran"
    checkpoint = tmp_path / "evil.pt"
    torch.save({"state_dict": _RunsCode(marker)}, checkpoint)
    with pytest.raises(
        InputError, match=r"model\.checkpoint: .*evil\.pt is not a state_dict loadable with weights_only"
    ):
        load_checkpoint(_mlp(), checkpoint)
    assert not marker.exists()
    # A bare pickle (not torch.save's zip format) that runs code is refused the same way.
    checkpoint.write_bytes(pickle.dumps(_RunsCode(marker), protocol=2))
    with pytest.raises(InputError, match="weights_only"):
        load_checkpoint(_mlp(), checkpoint)
    assert not marker.exists()


def test_a_plain_state_dict_loads(tmp_path):
    source, target = _mlp(), _mlp()
    torch.save(source.state_dict(), tmp_path / "plain.pt")
    load_checkpoint(target, tmp_path / "plain.pt")
    assert all(torch.equal(a, b) for a, b in zip(source.state_dict().values(), target.state_dict().values()))


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("custom_model_for_test:make_net", "module 'custom_model_for_test' was not found"),
        ("custom_model_for_tests.nets:make_net", "module 'custom_model_for_tests.nets' was not found"),
        ("custom_model_for_tests:make_nett", "module 'custom_model_for_tests'"),
        ("custom_model_for_tests:make_nett", "has no attribute 'make_nett'; did you mean 'make_net'"),
        ("custom_model_for_tests:build", "has no attribute 'build'; it defines"),
    ],
)
def test_a_factory_path_with_a_typo_names_the_module_or_attribute_not_found(monkeypatch, path, named):
    monkeypatch.chdir(TESTS)
    with pytest.raises(UserError) as caught:
        build_custom(path)
    assert named in str(caught.value)
    assert f"model.factory = {path!r}" in str(caught.value)
