"""The train stage's work: train the trials of the configured network, write weights.zarr and the DVCLive log."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ibpipe.data.datasets import Dataset
from ibpipe.io.attrs import MODEL_ATTR, PARAMS_ATTR
from ibpipe.io.weights import check_weights_room, open_history, write_weights
from ibpipe.nn.architectures import build_model, check_on_probe_batch, load_checkpoint, model_spec
from ibpipe.nn.training import Optimizer
from ibpipe.nn.trials import train_trials
from ibpipe.progress import progress as report
from ibpipe.training_log import write_training_log


def network_spec(net: Any, dataset: Dataset) -> dict[str, Any]:
    """The ``model_spec`` of a validated ``model`` section for ``dataset``'s inputs and classes."""
    return model_spec(
        net.arch,
        dataset.input_shape,
        dataset.n_classes,
        widths=net.widths,
        activation=net.activation,
        factory=net.factory,
        kwargs=net.kwargs,
        layers=net.layers,
        softmax=net.softmax,
        noise_std=net.noise_std,
        quantize=net.quantize,
        inputs=dataset.input_layout,
    )


def _state_bytes(spec: dict[str, Any]) -> int:
    """Bytes of one trial's state_dict, counted on torch's meta device (nothing allocated); 0 if that fails."""
    try:
        with torch.random.fork_rng(devices=[]), torch.device("meta"):
            return sum(value.numel() * value.element_size() for value in build_model(spec).state_dict().values())
    except Exception:  # a factory that needs real tensors: write_weights checks at the initial weights
        return 0


def train_into_store(dataset: Dataset, net: Any, fit: Any, *, out: str, live: Path, params: str) -> None:
    """Train ``fit.trials`` trials of ``net`` (validated ``model`` and ``train`` sections) on ``dataset``.

    Every epoch's weights go to ``out`` (a path or fsspec URL) with the spec and ``params`` in its attrs;
    DVCLive at ``live`` logs the mean curve over trials (the per-trial curves stay in weights.zarr/history).
    """
    spec = network_spec(net, dataset)
    check_weights_room(out, _state_bytes(spec), fit.epochs + 1, fit.trials)  # a store the disk cannot hold
    # Seconds, not a traceback after training: the forward, the logits' width, the labels, the recorded layers.
    check_on_probe_batch(spec, dataset.inputs[dataset.train_rows], dataset.labels)
    prepare = (lambda model: load_checkpoint(model, net.checkpoint)) if net.checkpoint else None
    inputs, labels = torch.from_numpy(dataset.inputs), torch.from_numpy(dataset.labels)
    train_rows, test_rows = torch.from_numpy(dataset.train_rows), torch.from_numpy(dataset.test_rows)
    streams = train_trials(
        lambda: build_model(spec),
        train=(inputs[train_rows], labels[train_rows]),
        test=(inputs[test_rows], labels[test_rows]),
        trials=range(fit.trials),
        epochs=fit.epochs,
        batch_size=fit.batch_size,
        learning_rate=fit.learning_rate,
        seed=fit.seed,
        prepare=prepare,
        processes=fit.processes,
        optimizer=Optimizer(fit.optimizer, fit.momentum, fit.weight_decay),
    )
    progress = (
        (trials, report(records, total=fit.epochs + 1, desc=f"train trials {trials.start}..{trials.stop - 1}"))
        for trials, records in streams
    )
    write_weights(out, progress, fit.epochs + 1, fit.trials, {MODEL_ATTR: spec, PARAMS_ATTR: params})
    write_training_log(live, open_history(out).mean("trial"))
