"""The ``describe`` section: the exploratory figures of the data set and of one layer's activations."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from ibpipe.schema import Allowed, Section, setting

Position = Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1, max_length=2)]


class DescribeParams(Section):
    section: ClassVar[str] = "describe"

    layer: Annotated[str, Field(min_length=1), Allowed("a layer name such as 'hidden1', or 'auto'")] = setting(
        "auto", "layer whose activations, borders and pooling are drawn ('auto': the first recorded layer)"
    )
    epoch: int = setting(-1, "measured epoch of the layer figures (-1: the last measured)", unit="epochs", ge=-1)
    pixels: list[Position] = setting(
        [],
        "the two inputs of the independence test: [row, column] of an image, [unit] of flat inputs"
        " (empty: the centre and the quarter point, (14, 14) and (7, 7) on 28x28 MNIST; units 0 and 1 of flat inputs)",
        max_length=2,
    )
    max_features: int = setting(16, "features (units, or channels of an image layer) drawn at most", ge=1, le=256)
    bins: int = setting(30, "bins of the histograms", ge=2, le=1000)

    def errors(self) -> list[str]:
        if len(self.pixels) == 1:
            return [f"describe.pixels = {self.pixels}: give two positions, or [] for the defaults"]
        return []
