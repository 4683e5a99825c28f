"""The ``train`` section: how the ``train`` stage fits the network."""

from __future__ import annotations

from typing import ClassVar

from ibpipe.schema import Section, setting


class TrainParams(Section):
    section: ClassVar[str] = "train"

    epochs: int = setting(8000, "number of training epochs", ge=1, le=1_000_000)
    batch_size: int = setting(256, "minibatch size", unit="rows", ge=1)
    learning_rate: float = setting(4.0e-4, "Adam learning rate", gt=0.0, le=10.0)
    seed: int = setting(0, "seed of initialisation and minibatch order", ge=0)
    torch_threads: int = setting(1, "torch intra-op threads (1 is fastest for small networks)", ge=1, le=256)
    trials: int = setting(
        3,
        "seeds of the same configuration (trial s uses seed + s); plain MLPs train them as one batched model",
        ge=1,
        le=1000,
    )
    processes: int = setting(
        2,
        "processes sharing a batched run's trials, each with torch_threads threads (2 x 1 uses both cores of "
        "a laptop); the split changes the numbers by float rounding only",
        ge=1,
        le=256,
    )
