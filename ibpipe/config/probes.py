"""The ``probes`` section: linear probes and class separation per (epoch, layer) (stage ``probes``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ibpipe.config.checks import Section, integer, key, number


@dataclass(frozen=True)
class ProbesParams(Section):
    section: ClassVar[str] = "probes"

    test_fraction: float = key(
        0.3, number(0.0, 1.0, open_low=True, open_high=True), "held-out share of the measured rows (stratified)"
    )
    seed: int = key(0, integer(0), "seed of the probe split and of the separation subsample")
    l2_c: float = key(1.0, number(0.0, open_low=True), "inverse L2 strength C of the logistic regression")
    max_iter: int = key(100, integer(1), "L-BFGS iterations per (epoch, layer); warm-started across epochs")
    max_epochs: int = key(
        40, integer(0), "measured epochs probed, evenly spread over the measured ones, first and last kept (0 = all)"
    )
    separation_rows: int = key(1000, integer(10), "rows of the silhouette subsample (class_separation)")
