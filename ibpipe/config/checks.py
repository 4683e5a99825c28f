"""The pieces every params section is built from: value checks, keys with docs, sections, loading.

A section is a frozen dataclass whose fields are made by ``key`` (default, check, doc). A
check returns None when a value is allowed and otherwise the phrase that says what is
allowed ("an integer >= 1"), so every message reads "key = value: expected <phrase>".
``load_sections`` validates only the sections a stage reads, so a stage (and its DVC deps)
does not depend on the schema of the others.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import field
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import yaml

from ibpipe.errors import ParamsError

SCHEDULER_KINDS = ("local", "threads", "synchronous")


Check = Callable[[Any], str | None]


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    return (is_int(value) or isinstance(value, float)) and math.isfinite(value)


def integer(minimum: int | None = None, maximum: int | None = None) -> Check:
    def check(value: Any) -> str | None:
        if not is_int(value):
            return "an integer"
        if minimum is not None and value < minimum:
            return f"an integer >= {minimum}"
        if maximum is not None and value > maximum:
            return f"an integer <= {maximum}"
        return None

    return check


def number(
    minimum: float | None = None, maximum: float | None = None, open_low: bool = False, open_high: bool = False
) -> Check:
    low = "" if minimum is None else f" {'>' if open_low else '>='} {minimum}"
    high = "" if maximum is None else f" {'<' if open_high else '<='} {maximum}"
    wanted = "a number" + (low + (" and" if low and high else "") + high if low or high else "")
    hint = " (write 4.0e-4, not 4e-4: YAML reads the latter as text)"

    def check(value: Any) -> str | None:
        if not is_number(value):
            return wanted + (hint if isinstance(value, str) else "")
        too_low = minimum is not None and (value <= minimum if open_low else value < minimum)
        too_high = maximum is not None and (value >= maximum if open_high else value > maximum)
        return wanted if too_low or too_high else None

    return check


def one_of(*allowed: str) -> Check:
    def check(value: Any) -> str | None:
        return None if value in allowed else "one of " + ", ".join(map(repr, allowed))

    return check


def list_of(item: Check, min_length: int = 1, unique: bool = False) -> Check:
    def check(value: Any) -> str | None:
        if not isinstance(value, list | tuple) or len(value) < min_length:
            return f"a list of at least {min_length} item(s)"
        for position, element in enumerate(value):
            problem = item(element)
            if problem:
                return f"a list whose items are each {problem} (item {position} is {element!r})"
        if unique and len(set(value)) != len(value):
            return "a list without repeated items"
        return None

    return check


def off_or(check: Check) -> Check:
    """0 switches a feature off; anything else must pass ``check``."""

    def checked(value: Any) -> str | None:
        problem = None if is_int(value) and value == 0 else check(value)
        return None if problem is None else f"0 (off) or {problem}"

    return checked


def scheduler(value: Any) -> str | None:
    if value in SCHEDULER_KINDS or (isinstance(value, str) and value.partition("://")[2].strip()):
        return None
    return "one of " + ", ".join(map(repr, SCHEDULER_KINDS)) + " or a scheduler address such as 'tcp://host:8786'"


def text(value: Any) -> str | None:
    return None if isinstance(value, str) else "a text value"


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def mapping_of(value_check: Check, what: str) -> Check:
    """A mapping with text keys whose values each pass ``value_check``."""

    def check(value: Any) -> str | None:
        if not isinstance(value, Mapping) or not all(isinstance(name, str) and name for name in value):
            return f"a mapping of {what}"
        for name, item in value.items():
            problem = value_check(item)
            if problem:
                return f"a mapping of {what} (entry {name!r} = {item!r} is not {problem})"
        return None

    return check


def anything(_value: Any) -> str | None:
    return None


def none_or(allowed: str, check: Check) -> Check:
    """The text 'none' switches a feature off; anything else must pass ``check``."""

    def checked(value: Any) -> str | None:
        problem = None if value == "none" else check(value)
        return None if problem is None else f"'none' or {problem}"

    return checked


def key(default: Any, check: Check, doc: str) -> Any:
    factory = (
        (lambda: list(default))
        if isinstance(default, list)
        else (lambda: dict(default))
        if isinstance(default, dict)
        else None
    )
    metadata = {"check": check, "doc": doc}
    if factory:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


class Section:
    """Base of every params section: ``section`` is its dotted place in params.yaml."""

    section: ClassVar[str]

    def errors(self) -> list[str]:
        """Problems that involve several keys of the section (each key alone was already checked)."""
        return []

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def key_fields(cls) -> list[dataclasses.Field]:
        return list(dataclasses.fields(cls))

    @classmethod
    def from_raw(cls, raw: Any) -> tuple[Section | None, list[str]]:
        """The section built from its raw mapping, or None with every problem found."""
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            return None, [f"{cls.section}: expected a mapping of keys, got {raw!r}"]
        fields = {spec.name: spec for spec in dataclasses.fields(cls)}
        errors = [
            f"{cls.section}.{unknown}: unknown key; allowed keys are {', '.join(fields)}"
            for unknown in raw
            if unknown not in fields
        ]
        values = {}
        for key_name, spec in fields.items():
            if key_name not in raw:
                continue
            value = raw[key_name]
            problem = spec.metadata["check"](value)
            if problem:
                errors.append(f"{cls.section}.{key_name} = {value!r}: expected {problem}")
            else:
                values[key_name] = value
        if errors:
            return None, errors
        section = cls(**values)
        return (None, section.errors()) if section.errors() else (section, [])


SectionT = TypeVar("SectionT", bound=Section)


def read_params_file(path: str | Path) -> Mapping[str, Any]:
    """params.yaml parsed, with a clear error when it is missing or not YAML."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: no such params file (run from the project directory)")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ParamsError(f"{path}: not valid YAML: {error}") from error
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ParamsError(f"{path} must be a mapping of sections, got {type(raw).__name__}")
    return raw


def raw_section(raw: Mapping[str, Any], dotted: str) -> Any:
    """The raw value at a dotted section name ('neurons.bootstrap'), None when absent."""
    for part in dotted.split("."):
        if not isinstance(raw, Mapping):
            return None
        raw = raw.get(part)
    return raw


def build_sections(raw: Mapping[str, Any], classes: tuple[type[Section], ...]) -> list[Section]:
    """Validate the named sections of a parsed params file; ParamsError lists every problem."""
    built, errors = [], []
    for cls in classes:
        section, problems = cls.from_raw(raw_section(raw, cls.section))
        built.append(section)
        errors += problems
    if errors:
        raise ParamsError("invalid params.yaml:\n  " + "\n  ".join(errors))
    return built


def load_sections(path: str | Path, *classes: type[Section]) -> list[Section]:
    """Read params.yaml and validate the sections a stage reads, before it does any work."""
    return build_sections(read_params_file(path), classes)


def sections_json(*sections: Section, upstream: str | None = None) -> str:
    """Validated sections as one JSON string {dotted name: keys}, added to an upstream store's (provenance).

    Every output carries the params of every stage that made it: the metrics hold those of
    train, dump, reduce and estimate, read from the stores they came through.
    """
    merged = json.loads(upstream) if upstream else {}
    merged.update({section.section: section.to_dict() for section in sections})
    return json.dumps(merged, sort_keys=True)
