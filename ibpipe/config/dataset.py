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
    root: str = setting(
        "auto",
        "folder of the data files: mnist/fashion_mnist the four IDX files ('auto': data/<name>); arrays inputs.npy "
        "+ labels.npy or data.npz, custom the factory's module if kept there ('auto': data/own, a dep of the stages)",
    )
    download: bool = setting(
        False, "mnist/fashion_mnist: let torchvision download missing files (needs torchvision and internet)"
    )
    factory: str = setting(
        "", "custom: import path 'package.module:function' returning a torch Dataset or (inputs, labels) arrays"
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

    def errors(self) -> list[str]:
        if self.name == "custom" and not _import_path(self.factory):
            return [f"dataset.factory = {self.factory!r}: dataset.name custom needs an import path 'module:function'"]
        if self.name != "custom" and self.factory:
            return [f"dataset.factory = {self.factory!r}: only used with dataset.name custom (name is {self.name!r})"]
        return []


def _import_path(text: str) -> bool:
    module, colon, function = text.partition(":")
    return bool(module and colon and function)
