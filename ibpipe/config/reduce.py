"""The ``reduce`` section: how activations become integer codes, per layer."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator

from ibpipe.infoplane.reduce import PRESETS, LayerReduction
from ibpipe.schema import Allowed, Section, describe, one_of, problems_of, setting


def _layer_settings(what: str) -> Any:
    """reduce.layers / reduce.reductions: names -> a mapping of some of the per-layer keys, each checked."""

    def check(value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        allowed = LayerReduction.model_fields
        for entry in value.values():
            unknown = [name for name in entry if name not in allowed]
            if unknown:
                raise ValueError(f"a mapping of {what}; {unknown[0]!r} is not one (allowed: {', '.join(allowed)})")
            try:
                LayerReduction.model_validate(entry)
            except ValueError as error:
                problems = problems_of(LayerReduction, entry, error, "")
                name = next(name for name in entry if f".{name} = " in problems[0])
                raise ValueError(f"valid: its {name} = {entry[name]!r} is not {describe(allowed[name])}") from None
        return value

    return Annotated[dict[str, dict[str, Any]], AfterValidator(check), Allowed(f"a mapping of {what}")]


def _settings(entry: dict[str, Any]) -> dict[str, Any]:
    """The keys an entry of reduce.layers / reduce.reductions sets, as LayerReduction holds them."""
    validated = LayerReduction.model_validate(entry)
    return {name: getattr(validated, name) for name in entry}


class ReduceParams(Section, LayerReduction):
    """The per-layer settings (``LayerReduction``) as every layer's defaults, then presets and overrides."""

    section: ClassVar[str] = "reduce"

    preset: one_of(("none", *PRESETS)) = setting(
        "none",
        "named per-layer settings for the CNNs' input, z1, z2, output (thesis-1..5; thesis-softmax: thesis-1 "
        "with the softmax output binarised, p > 0.5)",
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
        return {name: getattr(self, name) for name in LayerReduction.model_fields}

    def named_defaults(self) -> dict[str, dict[str, Any]]:
        """Per named reduction (``reductions``) its layer defaults: the section's, overridden by its settings."""
        return {name: {**self.layer_defaults(), **_settings(settings)} for name, settings in self.reductions.items()}

    def layer_overrides(self) -> dict[str, dict[str, Any]]:
        return {layer: _settings(settings) for layer, settings in self.layers.items()}

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
