"""The ``train`` section: how the ``train`` stage fits the network."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ibpipe.config.checks import Section, integer, key, number


@dataclass(frozen=True)
class TrainParams(Section):
    section: ClassVar[str] = "train"

    epochs: int = key(8000, integer(1, 1_000_000), "number of training epochs")
    batch_size: int = key(256, integer(1), "minibatch size")
    learning_rate: float = key(4.0e-4, number(0.0, 10.0, open_low=True), "Adam learning rate")
    seed: int = key(0, integer(0), "seed of initialisation and minibatch order")
    torch_threads: int = key(1, integer(1, 256), "torch intra-op threads (1 is fastest for small networks)")
    trials: int = key(
        3,
        integer(1, 1000),
        "seeds of the same configuration (trial s uses seed + s); plain MLPs train them as one batched model",
    )
    processes: int = key(
        2,
        integer(1, 256),
        "processes sharing a batched run's trials, each with torch_threads threads (2 x 1 uses both cores of "
        "a laptop); the split changes the numbers by float rounding only",
    )
