"""``InformationCallback``: a PyTorch Lightning callback recording the trained module with ``ibpipe.Recorder``.

    trainer = lightning.pytorch.Trainer(max_epochs=20, callbacks=[
        InformationCallback(layers=["encoder", "head"], inputs=x_probe, labels=y_probe, store="data/run1")])

Epoch 0 is the module before training (recorded when fitting starts), epoch e the module after
e training epochs; the stores are committed when fitting ends and dropped if it fails.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl

from ibpipe.recorder import Recorder


class InformationCallback(pl.Callback):
    """Record the ``LightningModule`` (weights, and ``layers`` on the probe ``inputs``) per ``schedule``.

    Takes ``ibpipe.Recorder``'s arguments except the model; ``layers`` name modules of the
    LightningModule (``named_modules()``), and ``inputs`` go to its ``forward``. The training
    loss logged as ``train_loss`` (or ``loss``), when there is one, becomes the store's curve.
    """

    def __init__(
        self,
        layers: Any,
        inputs: Any,
        labels: Any,
        store: str | Path,
        schedule: Any = "log",
        **options: Any,
    ):
        super().__init__()
        self.settings = dict(layers=layers, inputs=inputs, labels=labels, store=store, schedule=schedule, **options)
        self.recorder: Recorder | None = None

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.recorder = Recorder(pl_module, **self.settings)
        self.recorder.step(0)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        metrics = {
            name: float(value)
            for name, value in trainer.callback_metrics.items()
            if name in ("train_loss", "loss") and getattr(value, "numel", lambda: 1)() == 1
        }
        self.recorder.step(trainer.current_epoch + 1, **metrics)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.recorder is not None:
            self.recorder.close()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if self.recorder is not None:
            self.recorder.abandon()
