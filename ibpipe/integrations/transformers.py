"""``InformationCallback``: a Hugging Face ``TrainerCallback`` recording the trained model with ``ibpipe.Recorder``.

    trainer = transformers.Trainer(model=model, args=args, train_dataset=train, callbacks=[
        InformationCallback(layers={"bert.encoder.layer.1": {"tokens": "first"}, "classifier": {}},
                            inputs={"input_ids": ids, "attention_mask": mask}, labels=y, store="data/run1")])

Epoch 0 is the model before training, epoch e the model after e epochs (``state.epoch``); the
stores are committed when training ends.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from ibpipe.recorder import Recorder


class InformationCallback(TrainerCallback):
    """Record the Trainer's model (weights, and ``layers`` on the probe ``inputs``) per ``schedule``.

    Takes ``ibpipe.Recorder``'s arguments except the model. ``inputs`` is usually a dict of
    tensors (``input_ids``, ``attention_mask``) given to ``model(**inputs)``; a layer returning a
    ``ModelOutput`` or tuple records its first field with rows unless ``output`` picks another, and
    hidden states (rows, tokens, features) are pooled by ``tokens`` (``first`` = [CLS]).
    The last training loss logged before each epoch's end becomes the store's curve.
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
        self.settings = dict(layers=layers, inputs=inputs, labels=labels, store=store, schedule=schedule, **options)
        self.recorder: Recorder | None = None
        self.loss: float | None = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.recorder = Recorder(model, **self.settings)
        self.recorder.step(0)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if logs and "loss" in logs:
            self.loss = float(logs["loss"])

    def on_epoch_end(self, args, state, control, **kwargs):
        metrics = {} if self.loss is None else {"loss": self.loss}
        self.recorder.step(round(state.epoch), **metrics)

    def on_train_end(self, args, state, control, **kwargs):
        if self.recorder is not None:
            self.recorder.close()
