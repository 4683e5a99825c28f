"""The shared loop ``fit`` reproduces, bit for bit, the three loops it replaced.

Each ``_old_*`` function below is a frozen copy of a trainer as it was before ``fit`` existed; it
is the independent reference. Same seed in, ``torch.equal`` weights out: any change in RNG
consumption, optimizer implementation or op order would show up as a differing bit.
"""

import math

import numpy as np
import torch
from torch import nn

from ibpipe.ae_entropy.autoencoder import Autoencoder, split_rows, train_autoencoder
from ibpipe.ae_entropy.params import AutoencoderSettings
from ibpipe.data.datasets import load_dataset
from ibpipe.neurons.network import HiddenLayerNet
from ibpipe.neurons.replicas import NetSettings, initial_state, train_net
from ibpipe.nn.architectures import build_model, model_spec
from ibpipe.nn.training import snapshot, train_epochs


def _old_train_epochs(model, train, epochs, batch_size, learning_rate, seed):
    """Snapshots of epochs 0..epochs of the pipeline's former loop (its metrics never touched the weights)."""
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate, fused=True)
    train_inputs, train_labels = train
    snapshots = [snapshot(model)]
    for _ in range(epochs):
        model.train()
        order = torch.randperm(len(train_labels), generator=generator)
        shuffled_inputs, shuffled_labels = train_inputs[order], train_labels[order]
        for start in range(0, len(train_labels), batch_size):
            optimizer.zero_grad(set_to_none=True)
            logits = model(shuffled_inputs[start : start + batch_size])
            nn.functional.cross_entropy(logits, shuffled_labels[start : start + batch_size]).backward()
            optimizer.step()
        model.eval()
        snapshots.append(snapshot(model))
    return snapshots


def _old_train_autoencoder(points, code_dim, settings):
    torch.manual_seed(settings.seed)
    data = torch.from_numpy(np.asarray(points, dtype=np.float32))
    train_rows, val_rows = split_rows(len(data), settings.val_fraction, settings.seed)
    train, val = data[train_rows], data[val_rows]
    model = Autoencoder(data.shape[1], code_dim, tuple(settings.widths), settings.activation)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    generator = torch.Generator().manual_seed(settings.seed)
    best, best_state, since_best, epoch = math.inf, None, 0, 0
    for epoch in range(1, settings.max_epochs + 1):  # noqa: B007 -- returned after the loop
        model.train()
        shuffled = train[torch.randperm(len(train), generator=generator)]
        for start in range(0, len(shuffled), settings.batch_size):
            batch = shuffled[start : start + settings.batch_size]
            optimizer.zero_grad(set_to_none=True)
            nn.functional.mse_loss(model(batch), batch).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_mse = nn.functional.mse_loss(model(val), val).item()
        if val_mse < best * (1 - 1e-4):
            best, best_state, since_best = val_mse, {k: v.clone() for k, v in model.state_dict().items()}, 0
        else:
            since_best += 1
            if since_best >= settings.patience:
                break
    model.load_state_dict(best_state)
    return model, best, epoch


def _old_train_net(inputs, labels, settings, start=None, seed=None):
    torch.manual_seed(settings.seed if seed is None else seed)
    x, y = torch.as_tensor(inputs, dtype=torch.float32).flatten(1), torch.as_tensor(labels, dtype=torch.long)
    net = HiddenLayerNet(x.shape[1], settings.hidden, int(labels.max()) + 1, settings.activation)
    if start is not None:
        net.load_state_dict(start)
    optimizer = torch.optim.Adam(net.parameters(), lr=settings.learning_rate)
    for _ in range(settings.epochs):
        optimizer.zero_grad(set_to_none=True)
        nn.functional.cross_entropy(net(x), y).backward()
        optimizer.step()
    return net


def _assert_same_state(new: nn.Module, old: nn.Module) -> None:
    new_state, old_state = new.state_dict(), old.state_dict()
    assert new_state.keys() == old_state.keys()
    for name in new_state:
        assert torch.equal(new_state[name], old_state[name]), name


def test_pipeline_training_matches_the_former_loop_bitwise():
    dataset = load_dataset("tishby12")
    inputs, labels = torch.from_numpy(dataset.inputs), torch.from_numpy(dataset.labels)
    train = (inputs[dataset.train_rows], labels[dataset.train_rows])
    test = (inputs[dataset.test_rows], labels[dataset.test_rows])
    spec = model_spec("mlp", (12,), 2, widths=[10], activation="tanh")
    # 100 does not divide the training rows: the last, shorter batch of every epoch is covered too.
    assert len(train[1]) % 100
    torch.manual_seed(3)
    model = build_model(spec)
    records = list(train_epochs(model, train, test, epochs=4, batch_size=100, learning_rate=1.0e-2, seed=3))
    torch.manual_seed(3)
    expected = _old_train_epochs(build_model(spec), train, epochs=4, batch_size=100, learning_rate=1.0e-2, seed=3)
    assert [record.epoch for record in records] == [0, 1, 2, 3, 4]
    for record, weights in zip(records, expected, strict=True):
        assert record.weights.keys() == weights.keys()
        assert all(np.array_equal(record.weights[name], weights[name]) for name in weights), record.epoch
    first, last = records[0].weights, records[-1].weights
    assert not all(np.array_equal(first[name], last[name]) for name in first), "training must move the weights"


def test_autoencoder_training_with_early_stopping_matches_the_former_loop_bitwise():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(150, 2)) @ rng.normal(size=(2, 5))
    settings = AutoencoderSettings(widths=[6], batch_size=32, learning_rate=3.0e-2, patience=3, max_epochs=200, seed=1)
    model, best, epochs = train_autoencoder(points, 2, settings)
    old_model, old_best, old_epochs = _old_train_autoencoder(points, 2, settings)
    assert epochs < settings.max_epochs, "early stopping must trigger for this test to cover it"
    assert (best, epochs) == (old_best, old_epochs)
    _assert_same_state(model, old_model)


def test_autoencoder_training_to_max_epochs_matches_the_former_loop_bitwise():
    points = np.random.default_rng(1).normal(size=(60, 4))
    settings = AutoencoderSettings(widths=[5], batch_size=16, patience=1000, max_epochs=5, seed=2)
    model, best, epochs = train_autoencoder(points, 2, settings)
    old_model, old_best, old_epochs = _old_train_autoencoder(points, 2, settings)
    assert epochs == old_epochs == settings.max_epochs and best == old_best
    _assert_same_state(model, old_model)


def test_replica_training_matches_the_former_loop_bitwise():
    rng = np.random.default_rng(2)
    inputs, labels = rng.normal(size=(40, 4)), rng.integers(0, 3, 40)
    settings = NetSettings(hidden=5, activation="tanh", epochs=60, learning_rate=1.0e-2, seed=4)
    _assert_same_state(train_net(inputs, labels, settings), _old_train_net(inputs, labels, settings))
    start = initial_state(4, 3, settings)
    _assert_same_state(
        train_net(inputs, labels, settings, start, seed=9), _old_train_net(inputs, labels, settings, start, seed=9)
    )


def test_fused_adam_steps_as_torchs_fused_adam_bit_for_bit():
    from ibpipe.nn.training import FusedAdam

    generator = torch.Generator().manual_seed(0)
    for weight_decay in (0.0, 1e-2):
        theirs = [torch.randn(3, 5, 4, generator=generator), torch.randn(3, 5, generator=generator), torch.randn(7)]
        ours = [tensor.clone() for tensor in theirs]
        reference = torch.optim.Adam(theirs, lr=1e-2, weight_decay=weight_decay, fused=True)
        mine = FusedAdam(ours, lr=1e-2, weight_decay=weight_decay)
        for step in range(30):
            gradients = [torch.randn(tensor.shape, generator=generator) for tensor in theirs]
            if step % 7 == 3:
                gradients[2] = None  # a parameter without a gradient is skipped, its step count too
            for tensors in (theirs, ours):
                for tensor, gradient in zip(tensors, gradients):
                    tensor.grad = None if gradient is None else gradient.clone()
            reference.step()
            mine.step()
        assert all(torch.equal(a, b) for a, b in zip(theirs, ours))
        assert [reference.state[tensor]["step"].item() for tensor in theirs] == [30, 30, 26]
        assert [count.item() for count in mine.state_steps] == [30, 30, 26]
