"""The base every declared setting is built on: a pydantic model per params section or settings group.

A setting is declared once, beside the code that reads it, with ``setting(default, doc, ...)``:
its constraint (``gt``, ``ge``, ``le``, a ``Literal`` type), its default, its unit and a one-line
doc. Validation, the params reference and the JSON Schema of params.yaml are all derived from
these declarations.

A params section is a ``Section`` (a ``Settings`` with its dotted place in params.yaml).
``load_sections`` reads params.yaml and validates only the sections a stage reads, before any
work, so that a stage (and its DVC deps) does not depend on the schema of the others. Every
problem is reported at once, one line each: ``section.key = value: expected <what is allowed>``
(``describe`` words the allowed values from the declaration itself), with "did you mean" for
unknown keys.
"""

from __future__ import annotations

import difflib
import json
import types
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, TypeVar, Union, get_args, get_origin

import annotated_types
import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, WithJsonSchema, model_validator
from pydantic.fields import FieldInfo

from ibpipe.errors import ParamsError

SCHEDULER_KINDS = ("local", "threads", "synchronous")
NUMBER_HINT = " (write 4.0e-4, not 4e-4: YAML reads the latter as text)"


class Settings(BaseModel):
    """Frozen, strict (YAML's ``true`` is not an integer, ``'4e-4'`` not a number), finite, closed to unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, validate_default=False, allow_inf_nan=False)


def setting(default: Any, doc: str, *, unit: str | None = None, unique: bool = False, **constraints: Any) -> Any:
    """One declared setting: its default, one-line doc, optional unit and pydantic constraints (gt=0, ...).

    ``unique``: a list without repeated items (checked by ``Section``, written as ``uniqueItems``).
    """
    # pydantic copies a mutable default for each instance, so a list default is safe here
    extra = {"unit": unit} if unit else {}
    if unique:
        extra["uniqueItems"] = True
    return Field(default, description=doc, json_schema_extra=extra or None, **constraints)


def one_of(names: Any) -> Any:
    """The Literal type of a table's names (a tuple, or the keys of a registry dict)."""
    return Literal[tuple(names)]


class Allowed(str):
    """Annotated metadata: how messages word the allowed values of a type whose shape says too little."""


def allowed_by(check: Callable[[Any], bool], allowed: str) -> AfterValidator:
    """A validator that refuses values failing ``check``, saying ``allowed``."""

    def validate(value: Any) -> Any:
        if not check(value):
            raise ValueError(allowed)
        return value

    return AfterValidator(validate)


def off_or(minimum: int, maximum: int | None = None) -> Any:
    """An integer that is 0 (off) or within [minimum, maximum]."""
    within = f"an integer >= {minimum}" + ("" if maximum is None else f" and <= {maximum}")
    schema = {"type": "integer", "minimum": minimum, **({} if maximum is None else {"maximum": maximum})}
    return Annotated[
        int,
        Field(ge=0, le=maximum),
        allowed_by(lambda value: value == 0 or value >= minimum, f"0 (off) or {within}"),
        Allowed(f"0 (off) or {within}"),
        WithJsonSchema({"anyOf": [{"const": 0}, schema]}),
    ]


def _is_scheduler(value: str) -> bool:
    return value in SCHEDULER_KINDS or bool(value.partition("://")[2].strip())


SCHEDULER_ALLOWED = (
    "one of " + ", ".join(map(repr, SCHEDULER_KINDS)) + " or a scheduler address such as 'tcp://host:8786'"
)
# A Dask scheduler: a local process cluster, threads, synchronous, or the address of a running one.
Scheduler = Annotated[str, allowed_by(_is_scheduler, SCHEDULER_ALLOWED), Allowed(SCHEDULER_ALLOWED)]


class Section(Settings):
    """A params section: ``section`` is its dotted place in params.yaml."""

    section: ClassVar[str]

    def errors(self) -> list[str]:
        """Problems that involve several keys of the section (each key alone was already checked)."""
        return []

    @model_validator(mode="after")
    def _cross_key_rules(self) -> Section:
        problems = [
            f"{self.section}.{name} = {getattr(self, name)!r}: expected {describe(spec)}"
            for name, spec in type(self).model_fields.items()
            if _unique(spec) and len(set(map(repr, getattr(self, name)))) != len(getattr(self, name))
        ]
        problems = problems or self.errors()
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()

    @classmethod
    def from_raw(cls, raw: Any) -> tuple[Section | None, list[str]]:
        """The section built from its raw mapping, or None with every problem found."""
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            return None, [f"{cls.section}: expected a mapping of keys, got {raw!r}"]
        try:
            return cls.model_validate(dict(raw)), []
        except ValidationError as error:
            return None, problems_of(cls, raw, error, cls.section)


def _unique(spec: FieldInfo) -> bool:
    return isinstance(spec.json_schema_extra, dict) and spec.json_schema_extra.get("uniqueItems", False)


def _bounds(metadata: list[Any]) -> str:
    words = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    bounds = [
        f"{words[name]} {getattr(item, name)}"
        for item in metadata
        for name in words
        if hasattr(item, name) and getattr(item, name) is not None
    ]
    return (" " + " and ".join(bounds)) if bounds else ""


def _flat(metadata: list[Any]) -> list[Any]:
    return [inner for item in metadata for inner in (item.metadata if isinstance(item, FieldInfo) else [item])]


def describe_type(kind: Any, metadata: list[Any] | tuple = ()) -> str:
    """What a type allows, in words: 'an integer >= 1', "one of 'max', 'avg'", 'a list of ...'."""
    metadata = _flat(list(metadata))
    if get_origin(kind) is Annotated:
        kind, *inner = get_args(kind)
        return describe_type(kind, [*_flat(inner), *metadata])
    worded = next((item for item in metadata if isinstance(item, Allowed)), None)
    if worded is not None:
        return str(worded)
    origin = get_origin(kind)
    if kind is bool:
        return "true or false"
    if kind is int:
        return "an integer" + _bounds(metadata)
    if kind is float:
        return "a number" + _bounds(metadata)
    if kind is str:
        return "a text value" + (" (not empty)" if any(isinstance(m, annotated_types.MinLen) for m in metadata) else "")
    if origin is Literal:
        return "one of " + ", ".join(map(repr, get_args(kind)))
    if origin is list:
        least = next((m.min_length for m in metadata if isinstance(m, annotated_types.MinLen)), 0)
        return f"a list of at least {least} item(s), each {describe_type(get_args(kind)[0])}"
    if origin is dict:
        values = get_args(kind)[1]
        return "a mapping" + ("" if values is Any else f" of names to {describe_type(values)}")
    if origin in (Union, types.UnionType):
        return " or ".join("null" if part is type(None) else describe_type(part) for part in get_args(kind))
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return "a mapping of keys (" + ", ".join(kind.model_fields) + ")"
    return "a value of the declared type"


def describe(spec: FieldInfo) -> str:
    """What one declared setting allows, in words."""
    phrase = describe_type(spec.annotation, spec.metadata)
    return phrase + (", without repeated items" if _unique(spec) else "")


def did_you_mean(name: Any, allowed: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(str(name), list(allowed), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _detail(spec: FieldInfo, loc: tuple, value: Any) -> str:
    """The item or entry of a list or mapping value that failed, if that is where it failed."""
    kind = spec.annotation
    while get_origin(kind) is Annotated:
        kind = get_args(kind)[0]
    if not loc or get_origin(kind) not in (list, dict):
        return ""
    try:
        item = value[loc[0]]
    except (KeyError, IndexError, TypeError):
        return ""
    if get_origin(kind) is list:
        return f" (item {loc[0]} is {item!r})"
    return f" (entry {loc[0]!r} = {item!r} is not {describe_type(get_args(kind)[1])})"


def problems_of(model: type[BaseModel], raw: Mapping[str, Any], error: ValidationError, where: str) -> list[str]:
    """Translate pydantic's errors into one line per offending key: ``where.key = value: expected ...``."""
    problems: list[str] = []
    seen: set[str] = set()
    fields = model.model_fields
    for item in error.errors():
        loc, kind = item["loc"], item["type"]
        if not loc:
            message = str(item.get("ctx", {}).get("error", item["msg"]))
            problems += [line for line in message.splitlines() if line not in problems]
            continue
        name = str(loc[0])
        if name in seen:
            continue
        seen.add(name)
        if kind == "extra_forbidden":
            problems.append(
                f"{where}.{name}: unknown key{did_you_mean(name, list(fields))}; allowed keys are {', '.join(fields)}"
            )
            continue
        value, spec = raw.get(name), fields[name]
        if kind == "value_error" and len(loc) == 1:
            phrase = str(item["ctx"]["error"])
        else:
            phrase = describe(spec) + _detail(spec, loc[1:], value)
        hint = NUMBER_HINT if _reads_as_number(value) and "a number" in phrase and NUMBER_HINT not in phrase else ""
        problems.append(f"{where}.{name} = {value!r}: expected {phrase}{hint}")
    return problems


def _reads_as_number(value: Any) -> bool:
    """Text that YAML 1.1 left as text but a reader takes for a number ('4e-4', '0.2')."""
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return isinstance(value, str)


class UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader that refuses a key written twice in one mapping (DVC refuses such a file too)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            name = self.construct_object(key_node, deep=deep)
            if name in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {name!r} is written twice in one mapping", key_node.start_mark
                )
            seen.add(name)
        return super().construct_mapping(node, deep=deep)


def read_params_file(path: str | Path) -> Mapping[str, Any]:
    """params.yaml parsed, with a clear error when it is missing, not YAML or repeats a key."""
    path = Path(path)
    if not path.exists():
        raise ParamsError(f"{path}: no such params file (run from the project directory)")
    try:
        raw = yaml.load(path.read_text(), Loader=UniqueKeyLoader)
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


SectionT = TypeVar("SectionT", bound=Section)


def build_sections(raw: Mapping[str, Any], classes: tuple[type[Section], ...]) -> list[Any]:
    """Validate the named sections of a parsed params file; ParamsError lists every problem."""
    built, errors = [], []
    for cls in classes:
        given = raw_section(raw, cls.section)
        if given is None and (misspelt := _misspelt(raw, cls.section)):
            errors.append(
                f"{misspelt}: unknown section (did you mean {cls.section!r}?); as written, {cls.section} would take "
                "its defaults"
            )
        section, problems = cls.from_raw(given)
        built.append(section)
        errors += problems
    if errors:
        raise ParamsError("invalid params.yaml:\n  " + "\n  ".join(errors))
    return built


def _misspelt(raw: Mapping[str, Any], dotted: str) -> str | None:
    """The dotted name of a key of ``raw`` close to the absent section ``dotted`` ('trian' for 'train')."""
    *parents, name = dotted.split(".")
    level = raw_section(raw, ".".join(parents)) if parents else raw
    if not isinstance(level, Mapping):
        return None
    close = difflib.get_close_matches(name, [str(key) for key in level], n=1, cutoff=0.75)
    return ".".join([*parents, close[0]]) if close else None


def load_sections(path: str | Path, *classes: type[Section]) -> list[Any]:
    """Read params.yaml and validate the sections a stage reads, before it does any work."""
    return build_sections(read_params_file(path), classes)


def validate_section(cls: type[SectionT], raw: Any) -> SectionT:
    """One section from a raw mapping (params.yaml, or the params JSON an upstream store carries)."""
    (section,) = build_sections(_nest(cls.section, raw), (cls,))
    return section


def _nest(dotted: str, value: Any) -> dict[str, Any]:
    for part in reversed(dotted.split(".")):
        value = {part: value}
    return value


def sections_json(*sections: Section, upstream: str | None = None) -> str:
    """Validated sections as one JSON string {dotted name: keys}, added to an upstream store's (provenance).

    Every output carries the params of every stage that made it: the metrics hold those of
    train, dump, reduce and estimate, read from the stores they came through.
    """
    merged = json.loads(upstream) if upstream else {}
    merged.update({section.section: section.to_dict() for section in sections})
    return json.dumps(merged, sort_keys=True)
