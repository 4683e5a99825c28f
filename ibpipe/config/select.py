"""The ``select`` section: which epochs are measured."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from ibpipe.estimators.registry import COUNTING_ESTIMATORS
from ibpipe.infoplane.selection import DELTA_DISTANCES
from ibpipe.schema import Section, one_of, setting

SELECT_METHODS = ("all", "every", "log", "stepped", "delta-exact", "delta-approx")
Epochs = list[Annotated[int, Field(ge=1)]]


class SelectParams(Section):
    section: ClassVar[str] = "select"

    method: one_of(SELECT_METHODS) = setting(
        "delta-exact",
        "which epochs are measured (delta-exact: consecutive measured epochs differ by at most select.delta or"
        " are adjacent)",
    )
    every: int = setting(100, "step of the 'every' schedule", unit="epochs", ge=1)
    n_points: int = setting(400, "points of the 'log' schedule before duplicates are dropped", ge=2)
    step_bounds: Epochs = setting(
        [20, 100, 2000], "epochs where the 'stepped' schedule changes step", unique=True, min_length=1
    )
    step_sizes: Epochs = setting(
        [1, 5, 20, 100], "steps of 'stepped': one below each bound, one after the last", unit="epochs", min_length=1
    )
    delta: float = setting(
        0.05,
        "delta-*: largest change of I(.;T) between measured epochs: a fraction of H(.) when select.distance is"
        " normalised (at most 1), bits when it is unnormalised",
        gt=0.0,
        le=64.0,
    )
    distance: one_of(DELTA_DISTANCES) = setting(
        "normalised",
        "delta-*: normalised divides each change of I(X;T), I(Y;T) by H(X), H(Y); unnormalised is the"
        " dissertation's Eq. 3.8, the change in bits",
    )
    factor: float = setting(2.0, "delta-*: growth of the skip after a small change (> 1)", gt=1.0, le=100.0)
    probe: one_of(COUNTING_ESTIMATORS) = setting(
        "plugin", "delta-*: counting estimator of the probes, on the reduce settings in force"
    )
    workers: int = setting(
        2, "delta-*: Dask worker processes that measure probe epochs (1: in the stage's own process)", ge=1, le=256
    )

    def errors(self) -> list[str]:
        bounds, sizes = self.step_bounds, self.step_sizes
        errors = []
        if list(bounds) != sorted(bounds) or len(sizes) != len(bounds) + 1:
            errors.append(
                f"select.step_bounds = {bounds} and select.step_sizes = {sizes}: "
                "bounds must increase and there must be one more size than bounds"
            )
        if self.distance == "normalised" and self.delta > 1.0:
            errors.append(
                f"select.delta = {self.delta}: a normalised delta is a fraction of H(.), at most 1"
                " (set select.distance: unnormalised for a delta in bits)"
            )
        return errors
