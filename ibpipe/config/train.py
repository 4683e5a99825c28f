"""The ``train`` section: how the ``train`` stage fits the network."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, WithJsonSchema

from ibpipe.schema import Allowed, Section, one_of, setting

# The names of ibpipe.nn.training.OPTIMIZERS and FULL_BATCH, written out so params need no torch.
OPTIMIZERS = ("adam", "sgd")
BatchSize = Annotated[
    Annotated[int, Field(ge=1)] | Literal["full"],
    Allowed("an integer >= 1 or 'full'"),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 1}, {"const": "full"}]}),
]


class TrainParams(Section):
    section: ClassVar[str] = "train"

    epochs: int = setting(8000, "number of training epochs", ge=1, le=1_000_000)
    batch_size: BatchSize = setting(
        256, "minibatch size, or 'full': every epoch one gradient step on all training rows", unit="rows"
    )
    learning_rate: float = setting(4.0e-4, "learning rate of the optimizer", gt=0.0, le=10.0)
    optimizer: one_of(OPTIMIZERS) = setting("adam", "adam (Kingma & Ba 2015) or sgd (plain or with momentum)")
    momentum: float = setting(0.0, "sgd: momentum (torch's heavy ball; 0 = plain SGD)", ge=0.0, lt=1.0)
    weight_decay: float = setting(0.0, "L2 penalty added to the gradient (torch's weight_decay)", ge=0.0, le=1.0)
    seed: int = setting(0, "seed of initialisation and minibatch order", ge=0)
    torch_threads: int = setting(1, "torch intra-op threads (1 is fastest for small networks)", ge=1, le=256)
    trials: int = setting(
        3,
        "seeds of the same configuration (trial s uses seed + s); plain MLPs train them as one batched model",
        ge=1,
        le=1000,
    )
    processes: int = setting(
        1,
        "processes sharing a batched run's trials, each with torch_threads threads; a step of a small batched "
        "net is mostly per-op overhead, so one process steps all trials about as fast as two and leaves a core "
        "free (two: 1.5x the wall time, 1.7x the CPU on the 12-bit net); the split changes numbers by float "
        "rounding only",
        ge=1,
        le=256,
    )

    def errors(self) -> list[str]:
        if self.optimizer != "sgd" and self.momentum != 0.0:
            return [
                f"train.momentum = {self.momentum} applies to optimizer sgd only, not {self.optimizer!r}; "
                "set train.optimizer: sgd or train.momentum: 0.0"
            ]
        return []
