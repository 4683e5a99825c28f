"""The ``reduce`` section: how activations become integer codes, per layer."""

from __future__ import annotations

import math
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from ibpipe.infoplane.reduce import POOLING_KINDS, PRESETS, REDUCE_METHODS, RENAMED_METHODS
from ibpipe.schema import Allowed, Section, allowed_by, describe, one_of, problems_of, setting


def _refuse_renamed(value: Any) -> Any:
    """A renamed method says what to write instead."""
    if isinstance(value, str) and value in RENAMED_METHODS:
        raise ValueError(f"one of {', '.join(map(repr, REDUCE_METHODS))} ({RENAMED_METHODS[value]})")
    return value


def _low_below_high(value: Any) -> bool:
    return value == "data" or (len(value) == 2 and all(map(math.isfinite, value)) and value[0] < value[1])


def _window(value: Any) -> bool:
    return value == "none" or len(value) == 3


RANGE_ALLOWED = "'data' or a list [low, high] of two numbers with low < high"
POOL_ALLOWED = "'none' or a (channel, height, width) window such as [1, 4, 4]"
Method = Annotated[one_of(REDUCE_METHODS), BeforeValidator(_refuse_renamed)]
ValueRange = Annotated[
    Literal["data"] | list[float], allowed_by(_low_below_high, RANGE_ALLOWED), Allowed(RANGE_ALLOWED)
]
Pool = Annotated[
    Literal["none"] | list[Annotated[int, Field(ge=1)]], allowed_by(_window, POOL_ALLOWED), Allowed(POOL_ALLOWED)
]


def _layer_settings(what: str) -> Any:
    """reduce.layers / reduce.reductions: names -> a mapping of some of the per-layer keys, each checked."""

    def check(value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        allowed = {name: ReduceParams.model_fields[name] for name in LAYER_REDUCTION_KEYS}
        for entry in value.values():
            unknown = [name for name in entry if name not in allowed]
            if unknown:
                raise ValueError(f"a mapping of {what}; {unknown[0]!r} is not one (allowed: {', '.join(allowed)})")
            try:
                ReduceParams.model_validate(entry)
            except ValueError as error:
                problems = problems_of(ReduceParams, entry, error, "")
                name = next((name for name in entry if f".{name} = " in problems[0]), None)
                if name is None:
                    continue  # a rule across keys: ReduceParams.errors words it with the layer's name
                raise ValueError(f"valid: its {name} = {entry[name]!r} is not {describe(allowed[name])}") from None
        return value

    return Annotated[dict[str, dict[str, Any]], AfterValidator(check), Allowed(f"a mapping of {what}")]


class ReduceParams(Section):
    section: ClassVar[str] = "reduce"

    method: Method = setting("fixed-width", "how activations become integer codes")
    n_bins: int = setting(
        30, "edges of 'fixed-width' (Tishby: 30); bins of 'quantile', 'equal-mass' and 'ebab'", ge=2, le=1_000_000
    )
    value_range: ValueRange = setting([-1.0, 1.0], "range of 'fixed-width' bins, or 'data'", unit="activation units")
    bin_size: float = setting(0.07, "bin size of 'fixed-size' (Saxe: 0.07)", unit="activation units", gt=0.0)
    q_low: float = setting(0.01, "lower per-unit quantile of 'quantile' bins", ge=0.0, le=1.0)
    q_high: float = setting(0.99, "upper per-unit quantile of 'quantile' bins", ge=0.0, le=1.0)
    threshold: float = setting(0.5, "'threshold': code 1 where x > threshold", unit="activation units")
    pool: Pool = setting("none", "(channel, h, w) pooling before coding, or 'none'")
    pool_kind: one_of(POOLING_KINDS) = setting("max", "pooling: max or avg")
    bits: int = setting(8, "'exact': bits of the quantized network (model.quantize.bits)", ge=1, le=16)
    preset: one_of(("none", *PRESETS)) = setting(
        "none", "named per-layer settings (thesis-1..5 for the CNNs' input, z1, z2, output)"
    )
    layers: _layer_settings("reduce settings") = setting(
        {}, "per-layer settings over the defaults and the preset ('input' codes X)"
    )
    reductions: _layer_settings("reduce settings") = setting(
        {},
        "ablation in one run: named settings over the defaults, each coded and measured (metrics dim 'reduction'); "
        "{} = the single reduction above",
    )

    def layer_defaults(self) -> dict[str, Any]:
        """The settings every recorded layer starts from, as ``ibpipe.infoplane.reduce.LayerReduction`` keywords."""
        return {name: reduction_value(name, getattr(self, name)) for name in LAYER_REDUCTION_KEYS}

    def named_defaults(self) -> dict[str, dict[str, Any]]:
        """Per named reduction (``reductions``) its layer defaults: the section's, overridden by its settings."""
        return {
            name: {**self.layer_defaults(), **{key: reduction_value(key, value) for key, value in settings.items()}}
            for name, settings in self.reductions.items()
        }

    def layer_overrides(self) -> dict[str, dict[str, Any]]:
        return {
            layer: {name: reduction_value(name, value) for name, value in settings.items()}
            for layer, settings in self.layers.items()
        }

    @property
    def preset_name(self) -> str | None:
        return None if self.preset == "none" else self.preset

    def errors(self) -> list[str]:
        errors = []
        layers = [("reduce", self.to_dict())] + [
            (f"reduce.layers.{layer}", dict(values)) for layer, values in self.layers.items()
        ]
        for where, settings in layers:
            q_low, q_high = settings.get("q_low", self.q_low), settings.get("q_high", self.q_high)
            if q_low >= q_high:
                errors.append(f"{where}: q_low = {q_low} and q_high = {q_high}: q_low must be below q_high")
        for name in self.reductions:
            if not name.replace("-", "").replace("_", "").isalnum():
                errors.append(
                    f"reduce.reductions: name {name!r} is not allowed; use letters, digits, '-' and '_' (a group name)"
                )
        return errors


LAYER_REDUCTION_KEYS = (
    "method",
    "n_bins",
    "value_range",
    "bin_size",
    "q_low",
    "q_high",
    "threshold",
    "pool",
    "pool_kind",
    "bits",
)


def reduction_value(name: str, value: Any) -> Any:
    if name == "pool":
        return None if value == "none" else tuple(value)
    if name == "value_range" and value != "data":
        return tuple(value)
    return value
