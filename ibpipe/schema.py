"""The base every declared setting is built on: a pydantic model per params section or settings group.

A setting is declared once, beside the code that reads it, with ``setting(default, doc, ...)``:
its constraint (``gt``, ``ge``, ``le``, a ``Literal`` type), its default, its unit and a one-line
doc. Validation, the params reference and the JSON Schema of params.yaml are all derived from
these declarations.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Settings(BaseModel):
    """Frozen, strict (YAML's ``true`` is not an integer, ``'4e-4'`` is not a number) and closed to unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, validate_default=False)


def setting(default: Any, doc: str, *, unit: str | None = None, **constraints: Any) -> Any:
    """One declared setting: its default, one-line doc, optional unit and pydantic constraints (gt=0, ...)."""
    # pydantic copies a mutable default for each instance, so a list default is safe here
    extra = {"unit": unit} if unit else None
    return Field(default, description=doc, json_schema_extra=extra, **constraints)
