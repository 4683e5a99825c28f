"""Settings objects built from a params section by field name, never by position."""

from __future__ import annotations

import dataclasses
from typing import Any, Self


class FromParams:
    """Mixin for frozen dataclasses of settings: ``from_params(section)`` copies the fields it shares by name.

    Lists become tuples (settings are hashable and travel to Dask workers); ``overrides`` win.
    """

    @classmethod
    def from_params(cls, section: Any, **overrides: Any) -> Self:
        values = {}
        for spec in dataclasses.fields(cls):
            if spec.name in overrides:
                values[spec.name] = overrides[spec.name]
            elif hasattr(section, spec.name):
                value = getattr(section, spec.name)
                values[spec.name] = tuple(value) if isinstance(value, list) else value
        return cls(**values)
