"""The ``dataset`` section: which data the network trains and is measured on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ibpipe.config.checks import Section, boolean, integer, key, list_of, number, one_of, text
from ibpipe.data.datasets import DATASETS, MEASURE_ON


def measure_on_rows(value: Any) -> str | None:
    """One of MEASURE_ON, or a list of them without repeats (measured split by split)."""
    if isinstance(value, list | tuple):
        return list_of(one_of(*MEASURE_ON), unique=True)(value)
    problem = one_of(*MEASURE_ON)(value)
    return None if problem is None else f"{problem}, or a list of them such as [train, test]"


@dataclass(frozen=True)
class DatasetParams(Section):
    section: ClassVar[str] = "dataset"

    name: str = key("tishby12", one_of(*DATASETS), "which dataset to train and measure on")
    root: str = key("auto", text, "mnist/fashion_mnist: directory of the four IDX files ('auto': data/<name>)")
    download: bool = key(
        False, boolean, "mnist/fashion_mnist: let torchvision download missing files (needs torchvision and internet)"
    )
    test_fraction: float = key(0.2, number(0.0, 0.9, open_low=True), "share of rows held out for testing")
    split_seed: int = key(0, integer(0), "seed of the stratified train/test split")
    measure_on: Any = key(
        "all",
        measure_on_rows,
        "rows the information is measured on; a list (e.g. [train, test]) measures each (metrics dim 'split')",
    )
