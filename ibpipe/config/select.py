"""The ``select`` section: which epochs are measured."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ibpipe.config.checks import Section, integer, key, list_of, number, one_of
from ibpipe.estimators.registry import COUNTING_ESTIMATORS

SELECT_METHODS = ("all", "every", "log", "stepped", "delta-exact", "delta-approx")


@dataclass(frozen=True)
class SelectParams(Section):
    section: ClassVar[str] = "select"

    method: str = key("log", one_of(*SELECT_METHODS), "which epochs are measured")
    every: int = key(100, integer(1), "step of the 'every' schedule")
    n_points: int = key(400, integer(2), "points of the 'log' schedule before duplicates are dropped")
    step_bounds: list[int] = key(
        [20, 100, 2000], list_of(integer(1), unique=True), "epochs where the 'stepped' schedule changes step"
    )
    step_sizes: list[int] = key(
        [1, 5, 20, 100], list_of(integer(1)), "steps of 'stepped': one below each bound, one after the last"
    )
    delta: float = key(
        0.02, number(0.0, 1.0, open_low=True), "delta-*: largest change of I(.;T)/H(.) between measured epochs"
    )
    factor: float = key(
        2.0, number(1.0, 100.0, open_low=True), "delta-*: growth of the skip after a small change (> 1)"
    )
    probe: str = key(
        "plugin",
        one_of(*COUNTING_ESTIMATORS),
        "delta-*: counting estimator of the probes, on the reduce settings in force",
    )
    workers: int = key(2, integer(1, 256), "delta-*: Dask workers that measure probe epochs")

    def errors(self) -> list[str]:
        bounds, sizes = self.step_bounds, self.step_sizes
        if list(bounds) != sorted(bounds) or len(sizes) != len(bounds) + 1:
            return [
                f"select.step_bounds = {bounds} and select.step_sizes = {sizes}: "
                "bounds must increase and there must be one more size than bounds"
            ]
        return []
