"""The ``plot`` section: how the figures are drawn."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from ibpipe.schema import Allowed, Section, setting


class PlotParams(Section):
    section: ClassVar[str] = "plot"

    dpi: int = setting(120, "resolution of the PNG figures", unit="dots per inch", ge=30, le=600)
    compare_layer: Annotated[str, Field(min_length=1), Allowed("a layer name such as 'hidden5', or 'auto'")] = setting(
        "auto", "layer of the estimator comparison ('auto': last hidden layer)"
    )
    betas: list[Annotated[float, Field(ge=0.0)]] = setting(
        [0.5, 1.0, 2.0],
        "beta values of the IB Lagrangian figure I(X;T) - beta I(T;Y) (Tishby, Pereira & Bialek 1999)",
        unique=True,
        min_length=1,
    )
