"""The ``reduce`` section: how activations become integer codes, per layer."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from ibpipe.config.checks import Section, integer, is_int, is_number, key, mapping_of, none_or, number, one_of
from ibpipe.infoplane.reduce import POOLING_KINDS, PRESETS, REDUCE_METHODS, RENAMED_METHODS


def reduce_method(value: Any) -> str | None:
    """One of REDUCE_METHODS; a renamed method says what to write instead."""
    if value in RENAMED_METHODS:
        return f"one of {', '.join(map(repr, REDUCE_METHODS))} ({RENAMED_METHODS[value]})"
    return one_of(*REDUCE_METHODS)(value)


def value_range_or_data(value: Any) -> str | None:
    allowed = "'data' or a list [low, high] of two numbers with low < high"
    if value == "data":
        return None
    if isinstance(value, list | tuple) and len(value) == 2 and all(map(is_number, value)):
        return None if value[0] < value[1] else allowed
    return allowed


def pooling_window(value: Any) -> str | None:
    wanted = "a (channel, height, width) window such as [1, 4, 4]"
    if isinstance(value, list | tuple) and len(value) == 3 and all(is_int(size) and size >= 1 for size in value):
        return None
    return wanted


def layer_reduction(value: Any) -> str | None:
    """One entry of reduce.layers: any of the per-layer reduce keys, each with its own check."""
    allowed = {name: spec for name, spec in ReduceParams.__dataclass_fields__.items() if name in LAYER_REDUCTION_KEYS}
    if not isinstance(value, Mapping):
        return "a mapping of reduce settings (" + ", ".join(allowed) + ")"
    for name, item in value.items():
        if name not in allowed:
            return f"a mapping of reduce settings; {name!r} is not one (allowed: {', '.join(allowed)})"
        problem = allowed[name].metadata["check"](item)
        if problem:
            return f"valid: its {name} = {item!r} is not {problem}"
    return None


@dataclass(frozen=True)
class ReduceParams(Section):
    section: ClassVar[str] = "reduce"

    method: str = key("fixed-width", reduce_method, "how activations become integer codes")
    n_bins: int = key(
        30, integer(2, 1_000_000), "edges of 'fixed-width' (Tishby: 30); bins of 'quantile', 'equal-mass' and 'ebab'"
    )
    value_range: Any = key([-1.0, 1.0], value_range_or_data, "range of 'fixed-width' bins, or 'data'")
    bin_size: float = key(0.07, number(0.0, open_low=True), "bin size of 'fixed-size' (Saxe: 0.07)")
    q_low: float = key(0.01, number(0.0, 1.0), "lower per-unit quantile of 'quantile' bins")
    q_high: float = key(0.99, number(0.0, 1.0), "upper per-unit quantile of 'quantile' bins")
    threshold: float = key(0.5, number(), "'threshold': code 1 where x > threshold")
    pool: Any = key("none", none_or("none", pooling_window), "(channel, h, w) pooling before coding, or 'none'")
    pool_kind: str = key("max", one_of(*POOLING_KINDS), "pooling: max or avg")
    bits: int = key(8, integer(1, 16), "'exact': bits of the quantized network (model.quantize.bits)")
    preset: str = key(
        "none", one_of("none", *PRESETS), "named per-layer settings (thesis-1..5 for the CNNs' input, z1, z2, output)"
    )
    layers: dict = key(
        {},
        mapping_of(layer_reduction, "layer name -> reduce settings"),
        "per-layer settings over the defaults and the preset ('input' codes X)",
    )
    reductions: dict = key(
        {},
        mapping_of(layer_reduction, "reduction name -> reduce settings"),
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
