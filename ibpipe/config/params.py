"""The whole params.yaml: the sections each part of ibpipe declares, composed and validated at once.

Used by ``ibpipe params``, ``ibpipe run`` and the API. Stages do not import this module: each
validates only the sections it reads (``ibpipe.schema.load_sections``), so that editing the
schema of one experiment does not rerun the stages of another. The JSON Schema of params.yaml
and the params reference are generated from the same declarations (``params_schema``,
``ibpipe.config.reference``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ibpipe.ae_entropy.params import AeParams
from ibpipe.config.dataset import DatasetParams
from ibpipe.config.describe import DescribeParams
from ibpipe.config.dump import DumpParams
from ibpipe.config.estimate import EstimateParams
from ibpipe.config.model import ModelParams
from ibpipe.config.plot import PlotParams
from ibpipe.config.probes import ProbesParams
from ibpipe.config.reduce import ReduceParams
from ibpipe.config.select import SelectParams
from ibpipe.config.train import TrainParams
from ibpipe.config.tsne import TsneParams
from ibpipe.errors import ParamsError
from ibpipe.neurons.params import NeuronGaussiansParams, NeuronsBootstrapParams, NeuronsCompressParams
from ibpipe.schema import Section, build_sections, did_you_mean, read_params_file

SECTIONS: tuple[type[Section], ...] = (
    DatasetParams,
    ModelParams,
    TrainParams,
    SelectParams,
    DumpParams,
    ReduceParams,
    EstimateParams,
    PlotParams,
    DescribeParams,
    ProbesParams,
    TsneParams,
    AeParams,
    NeuronsBootstrapParams,
    NeuronGaussiansParams,
    NeuronsCompressParams,
)


class Params(Mapping[str, Section]):
    """Every validated section by dotted name; sections also read as attributes (``params.reduce``)."""

    def __init__(self, sections: list[Section]):
        self._sections = {section.section: section for section in sections}

    def __getitem__(self, name: str) -> Section:
        return self._sections[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._sections)

    def __len__(self) -> int:
        return len(self._sections)

    def __getattr__(self, name: str) -> Section:
        try:
            return self._sections[name]
        except KeyError:
            raise AttributeError(name) from None

    def to_json(self) -> str:
        """The validated params, defaults filled in, as one JSON string (for metrics attrs)."""
        return json.dumps({name: section.to_dict() for name, section in self._sections.items()}, sort_keys=True)


def _tops() -> dict[str, list[str]]:
    """Top-level sections of params.yaml and the sub-sections of each ('neurons': bootstrap, ...)."""
    tops: dict[str, list[str]] = {}
    for cls in SECTIONS:
        top, _, sub = cls.section.partition(".")
        tops.setdefault(top, []).extend([sub] if sub else [])
    return tops


def _unknown_sections(raw: Mapping[str, Any]) -> list[str]:
    tops = _tops()
    errors = [
        f"{name}: unknown section{did_you_mean(name, list(tops))}; allowed sections are {', '.join(tops)}"
        for name in raw
        if name not in tops
    ]
    for top, subs in tops.items():
        given = raw.get(top)
        if subs and given is not None and not isinstance(given, Mapping):
            errors.append(f"{top}: expected a mapping of sub-sections ({', '.join(sorted(subs))}), got {given!r}")
        if subs and isinstance(given, Mapping):
            errors += [
                f"{top}.{name}: unknown section{did_you_mean(name, subs)}; allowed sub-sections are "
                + ", ".join(sorted(subs))
                for name in given
                if name not in subs
            ]
    return errors


def validate_params(raw: Any) -> Params:
    """Turn a parsed params.yaml into ``Params``; raise ``ParamsError`` listing every problem."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ParamsError(f"params.yaml must be a mapping of sections, got {type(raw).__name__}")
    errors = _unknown_sections(raw)
    try:
        sections = build_sections(raw, SECTIONS)
    except ParamsError as error:
        errors += str(error).splitlines()[1:]
    if errors:
        raise ParamsError("invalid params.yaml:\n  " + "\n  ".join(line.strip() for line in errors))
    return Params(sections)


def load_params(path: str | Path = "params.yaml") -> Params:
    """Read and validate a whole params file."""
    return validate_params(read_params_file(path))


def params_schema() -> dict[str, Any]:
    """The JSON Schema of params.yaml: every section, every key, unknown keys refused at every level."""
    properties: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    for cls in SECTIONS:
        schema = cls.model_json_schema(ref_template="#/$defs/{model}")
        definitions.update(schema.pop("$defs", {}))
        top, _, sub = cls.section.partition(".")
        if sub:
            group = properties.setdefault(
                top, {"type": "object", "additionalProperties": False, "properties": {}, "title": top}
            )
            group["properties"][sub] = schema
        else:
            properties[top] = schema
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "params.yaml of ibpipe",
        "type": "object",
        "additionalProperties": False,
        "properties": properties,
        **({"$defs": definitions} if definitions else {}),
    }
