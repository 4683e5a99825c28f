"""The whole params.yaml: every section validated at once (for ``ibpipe params``, ``ibpipe run`` and the API).

Stages do not import this module: each validates only the sections it reads
(``ibpipe.config.checks.load_sections``), so that editing the schema of one experiment does not
rerun the stages of another.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ibpipe.config.ae import AeParams
from ibpipe.config.checks import Section, build_sections, read_params_file
from ibpipe.config.dataset import DatasetParams
from ibpipe.config.dump import DumpParams
from ibpipe.config.estimate import EstimateParams
from ibpipe.config.model import ModelParams
from ibpipe.config.neurons import NeuronGaussiansParams, NeuronsBootstrapParams, NeuronsCompressParams
from ibpipe.config.plot import PlotParams
from ibpipe.config.probes import ProbesParams
from ibpipe.config.reduce import ReduceParams
from ibpipe.config.select import SelectParams
from ibpipe.config.train import TrainParams
from ibpipe.config.tsne import TsneParams
from ibpipe.errors import ParamsError

SECTIONS: tuple[type[Section], ...] = (
    DatasetParams,
    ModelParams,
    TrainParams,
    SelectParams,
    DumpParams,
    ReduceParams,
    EstimateParams,
    PlotParams,
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


def _unknown_sections(raw: Mapping[str, Any]) -> list[str]:
    tops: dict[str, set[str]] = {}
    for cls in SECTIONS:
        top, _, sub = cls.section.partition(".")
        tops.setdefault(top, set()).update([sub] if sub else [])
    errors = [f"{name}: unknown section; allowed sections are {', '.join(tops)}" for name in raw if name not in tops]
    for top, subs in tops.items():
        given = raw.get(top)
        if subs and given is not None and not isinstance(given, Mapping):
            errors.append(f"{top}: expected a mapping of sub-sections ({', '.join(sorted(subs))}), got {given!r}")
        if subs and isinstance(given, Mapping):
            errors += [
                f"{top}.{name}: unknown section; allowed sub-sections are {', '.join(sorted(subs))}"
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
