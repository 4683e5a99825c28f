"""The ``probes`` section: linear probes and class separation per (epoch, layer) (stage ``probes``)."""

from __future__ import annotations

from typing import ClassVar

from ibpipe.schema import Section, setting


class ProbesParams(Section):
    section: ClassVar[str] = "probes"

    test_fraction: float = setting(0.3, "held-out share of the measured rows (stratified)", gt=0.0, lt=1.0)
    seed: int = setting(0, "seed of the probe split and of the separation subsample", ge=0)
    l2_c: float = setting(1.0, "inverse L2 strength C of the logistic regression", gt=0.0)
    max_iter: int = setting(100, "L-BFGS iterations per (epoch, layer); warm-started across epochs", ge=1)
    max_epochs: int = setting(
        40, "measured epochs probed, evenly spread over the measured ones, first and last kept (0 = all)", ge=0
    )
    separation_rows: int = setting(1000, "rows of the silhouette subsample (class_separation)", unit="rows", ge=10)
