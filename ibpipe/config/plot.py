"""The ``plot`` section: how the figures are drawn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ibpipe.config.checks import Section, integer, key, list_of, number


@dataclass(frozen=True)
class PlotParams(Section):
    section: ClassVar[str] = "plot"

    dpi: int = key(120, integer(30, 600), "resolution of the PNG figures")
    compare_layer: str = key(
        "auto",
        lambda v: None if isinstance(v, str) and v else "a layer name such as 'hidden5', or 'auto'",
        "layer of the estimator comparison ('auto': last hidden layer)",
    )
    betas: list[float] = key(
        [0.5, 1.0, 2.0],
        list_of(number(minimum=0.0), unique=True),
        "beta values of the IB Lagrangian figure I(X;T) - beta I(T;Y) (Tishby, Pereira & Bialek 1999)",
    )
