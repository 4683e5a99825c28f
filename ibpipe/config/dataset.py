"""The ``dataset`` section: which data the network trains and is measured on."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from ibpipe.data.datasets import DATASETS, MEASURE_ON
from ibpipe.schema import Allowed, Section, allowed_by, one_of, setting

MeasureOn = one_of(MEASURE_ON)
MEASURE_ON_ALLOWED = "one of " + ", ".join(map(repr, MEASURE_ON)) + ", or a list of them such as [train, test]"


def _no_repeats(value: object) -> bool:
    return not isinstance(value, list) or len(set(value)) == len(value)


class DatasetParams(Section):
    section: ClassVar[str] = "dataset"

    name: one_of(DATASETS) = setting("tishby12", "which dataset to train and measure on")
    root: str = setting("auto", "mnist/fashion_mnist: directory of the four IDX files ('auto': data/<name>)")
    download: bool = setting(
        False, "mnist/fashion_mnist: let torchvision download missing files (needs torchvision and internet)"
    )
    test_fraction: float = setting(0.2, "share of rows held out for testing", gt=0.0, le=0.9)
    split_seed: int = setting(0, "seed of the stratified train/test split", ge=0)
    measure_on: Annotated[
        MeasureOn | Annotated[list[MeasureOn], Field(min_length=1)],
        allowed_by(_no_repeats, MEASURE_ON_ALLOWED + ", without repeats"),
        Allowed(MEASURE_ON_ALLOWED),
    ] = setting(
        "all",
        "rows the information is measured on; a list (e.g. [train, test]) measures each (metrics dim 'split')",
    )
