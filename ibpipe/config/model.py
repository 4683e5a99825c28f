"""The ``model`` section: the network trained by the ``train`` stage."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from ibpipe.config.checks import Section, anything, integer, key, list_of, mapping_of, number, one_of, text
from ibpipe.names import INPUT_LAYER
from ibpipe.nn.activations import ACTIVATIONS
from ibpipe.nn.architectures import ARCHITECTURES

QUANTIZE_KEYS = {"bits": integer(1, 16), "momentum": number(0.0, 1.0, open_low=True)}


def quantize_settings(value: Any) -> str | None:
    """null, or {bits: 1..16, momentum: (0, 1]} (momentum of the running range of unbounded activations)."""
    wanted = "null (off) or a mapping {bits: 1..16, momentum: (0, 1]} with bits required"
    if value is None:
        return None
    if not isinstance(value, Mapping) or "bits" not in value or set(value) - set(QUANTIZE_KEYS):
        return wanted
    for name, item in value.items():
        problem = QUANTIZE_KEYS[name](item)
        if problem:
            return f"{wanted}; its {name} = {item!r} is not {problem}"
    return None


@dataclass(frozen=True)
class ModelParams(Section):
    section: ClassVar[str] = "model"

    arch: str = key("mlp", one_of(*ARCHITECTURES), "network family")
    widths: list[int] = key([10, 7, 5, 4, 3], list_of(integer(1, 4096)), "hidden layer widths, input to output")
    activation: str = key("tanh", one_of(*ACTIVATIONS), "hidden-layer nonlinearity")
    factory: str = key(
        "", text, "custom: import path 'package.module:factory' of a function returning a torch.nn.Module"
    )
    kwargs: dict = key({}, mapping_of(anything, "keyword arguments"), "custom: keyword arguments of the factory")
    layers: dict = key(
        {},
        mapping_of(lambda v: None if isinstance(v, str) and v else "a module path", "layer name -> module path"),
        "custom: layers to record, name -> module path (e.g. hidden: encoder.2)",
    )
    softmax: str = key(
        "output", text, "custom: recorded layer whose output is logits, recorded as softmax ('' for none)"
    )
    noise_std: float = key(
        0.0,
        number(0.0),
        "noisy network (mlp only): std of the Gaussian noise added after every hidden layer, in training and "
        "measurement (Goldfeld et al. 2019); 0 = deterministic",
    )
    checkpoint: str = key(
        "", text, "optional state_dict file (torch.save) the network starts from, loaded with weights_only=True"
    )
    quantize: Any = key(
        None, quantize_settings, "mlp: quantization-aware training, e.g. {bits: 8, momentum: 0.01}; null = off"
    )

    def errors(self) -> list[str]:
        errors = custom_model_errors(self)
        if self.noise_std > 0 and self.arch != "mlp":
            errors.append(
                f"model.noise_std = {self.noise_std} with model.arch {self.arch!r}: noisy networks are built for "
                "arch mlp only (add the noise inside a custom model yourself); use 0 here"
            )
        if self.quantize is not None and self.noise_std > 0:
            errors.append(
                f"model.quantize = {self.quantize!r} and model.noise_std = {self.noise_std}: a network is either "
                "quantized or noisy; set one of them off"
            )
        if self.quantize is not None and self.arch != "mlp":
            errors.append(
                f"model.quantize = {self.quantize!r}: only model.arch mlp is quantized (arch is {self.arch!r})"
            )
        return errors


def custom_model_errors(model: ModelParams) -> list[str]:
    """factory/kwargs/layers belong to arch custom, which needs them all."""
    if model.arch != "custom":
        given = [name for name in ("factory", "kwargs", "layers") if getattr(model, name)]
        errors = [
            f"model.{name} = {getattr(model, name)!r}: only used with model.arch custom (arch is {model.arch!r})"
            for name in given
        ]
        default_widths = next(field.default_factory() for field in fields(model) if field.name == "widths")
        if model.arch != "mlp" and list(model.widths) != list(default_widths):
            errors.append(
                f"model.widths = {model.widths!r}: only used with model.arch mlp (arch is {model.arch!r}); "
                "remove it or set arch: mlp"
            )
        return errors
    errors = []
    module, colon, function = model.factory.partition(":")
    if not (module and colon and function):
        errors.append(
            f"model.factory = {model.factory!r}: model.arch custom needs an import path 'package.module:factory'"
        )
    if not model.layers:
        errors.append(
            "model.layers = {}: model.arch custom needs the layers to record, e.g. {hidden: '1', output: '3'}"
        )
    elif INPUT_LAYER in model.layers:
        errors.append(
            f"model.layers names a layer {INPUT_LAYER!r}: that name means the network's input in reduce.layers; "
            "rename the layer"
        )
    elif model.softmax and model.softmax not in model.layers:
        errors.append(
            f"model.softmax = {model.softmax!r}: not one of the recorded model.layers ({', '.join(model.layers)}); "
            "use '' for none"
        )
    return errors
