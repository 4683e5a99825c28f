"""The ``model`` section: the network trained by the ``train`` stage."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, NotRequired

from pydantic import ConfigDict, Field
from typing_extensions import TypedDict

from ibpipe.names import INPUT_LAYER
from ibpipe.nn.activations import ACTIVATIONS
from ibpipe.nn.architectures import ARCHITECTURES
from ibpipe.schema import Allowed, Section, one_of, setting

DEFAULT_WIDTHS = [10, 7, 5, 4, 3]


class Quantize(TypedDict):
    """Quantization-aware training: bits per value, momentum of the running range of unbounded activations."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    bits: Annotated[int, Field(ge=1, le=16)]
    momentum: NotRequired[Annotated[float, Field(gt=0.0, le=1.0)]]


QUANTIZE_ALLOWED = "null (off) or a mapping {bits: 1..16, momentum: (0, 1]} with bits required"
ModulePath = Annotated[str, Field(min_length=1), Allowed("a module path")]


class LayerChoice(TypedDict):
    """A recorded layer whose module returns a tuple, dict or ModelOutput, or (rows, tokens, features)."""

    __pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[misc]

    module: ModulePath
    output: NotRequired[int | str]
    tokens: NotRequired[Literal["mean", "last", "first"]]


LAYERS_ALLOWED = (
    "a mapping of layer name -> module path, or -> {module: path, output: index or key, tokens: mean|last|first}"
)


class ModelParams(Section):
    section: ClassVar[str] = "model"

    arch: one_of(ARCHITECTURES) = setting("mlp", "network family")
    widths: list[Annotated[int, Field(ge=1, le=4096)]] = setting(
        DEFAULT_WIDTHS, "hidden layer widths, input to output", unit="units", min_length=1
    )
    activation: one_of(ACTIVATIONS) = setting("tanh", "hidden-layer nonlinearity")
    factory: str = setting("", "custom: import path 'package.module:factory' of a function returning a torch.nn.Module")
    kwargs: Annotated[dict[str, Any], Allowed("a mapping of keyword arguments")] = setting(
        {}, "custom: keyword arguments of the factory"
    )
    layers: Annotated[dict[str, ModulePath | LayerChoice], Allowed(LAYERS_ALLOWED)] = setting(
        {},
        "custom: layers to record, name -> module path (e.g. hidden: encoder.2), or -> {module, output: the part "
        "of a tuple/dict output, tokens: mean|last|first pooling of a (rows, tokens, features) output}",
    )
    softmax: str = setting("output", "custom: recorded layer whose output is logits, recorded as softmax ('' for none)")
    noise_std: float = setting(
        0.0,
        "noisy network (mlp only): std of the Gaussian noise added after every hidden layer, in training and "
        "measurement (Goldfeld et al. 2019); 0 = deterministic",
        unit="activation units",
        ge=0.0,
    )
    checkpoint: str = setting(
        "", "optional state_dict file (torch.save) the network starts from, loaded with weights_only=True"
    )
    quantize: Annotated[Quantize | None, Allowed(QUANTIZE_ALLOWED)] = setting(
        None, "mlp: quantization-aware training, e.g. {bits: 8, momentum: 0.01}; null = off"
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
        if model.arch != "mlp" and list(model.widths) != DEFAULT_WIDTHS:
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
