"""The ``plot`` section: how the figures are drawn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ibpipe.config.checks import Section, integer, key


@dataclass(frozen=True)
class PlotParams(Section):
    section: ClassVar[str] = "plot"

    dpi: int = key(120, integer(30, 600), "resolution of the PNG figures")
    compare_layer: str = key(
        "auto",
        lambda v: None if isinstance(v, str) and v else "a layer name such as 'hidden5', or 'auto'",
        "layer of the estimator comparison ('auto': last hidden layer)",
    )
