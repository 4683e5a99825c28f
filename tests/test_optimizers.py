"""train.optimizer / momentum / weight_decay / batch_size: full in the pipeline's training loop ``fit``."""

import numpy as np
import pytest
import torch

from ibpipe.config import train as train_config
from ibpipe.config.train import TrainParams
from ibpipe.nn import training
from ibpipe.nn.mlp import MLP
from ibpipe.nn.training import Optimizer, fit, train_epochs
from ibpipe.nn.trials import train_trials, trial_seed


def _squared_error(model, inputs, targets):
    return ((model(inputs)[:, 0] - targets) ** 2).mean()


def test_sgd_with_momentum_and_weight_decay_takes_the_hand_computed_steps():
    generator = np.random.default_rng(0)
    inputs, targets, start = generator.normal(size=(20, 3)), generator.normal(size=20), generator.normal(size=3)
    model = torch.nn.Linear(3, 1, bias=False).double()
    with torch.no_grad():
        model.weight.copy_(torch.from_numpy(start)[None])
    rate, momentum, decay = 0.1, 0.9, 0.01
    data = (torch.from_numpy(inputs), torch.from_numpy(targets))
    steps = fit(
        model,
        _squared_error,
        data,
        epochs=3,
        learning_rate=rate,
        batch_size="full",
        optimizer=Optimizer("sgd", momentum=momentum, weight_decay=decay),
    )
    weights, velocity, finished = start.copy(), None, []
    for epoch in steps:
        finished.append(epoch)
        # By hand: the gradient of the mean squared error plus the L2 term, heavy-ball velocity (first step: the
        # gradient itself, as torch's SGD), one step per epoch on all rows.
        gradient = 2 / len(inputs) * inputs.T @ (inputs @ weights - targets) + decay * weights
        velocity = gradient if velocity is None else momentum * velocity + gradient
        weights = weights - rate * velocity
        np.testing.assert_allclose(model.weight.detach().numpy()[0], weights, rtol=1e-12, atol=1e-14)
    assert finished == [1, 2, 3] and not np.allclose(weights, start)


@pytest.mark.parametrize(("batch_size", "steps"), [("full", 1), (None, 1), (7, 3), (20, 1)])
def test_full_batch_is_one_step_per_epoch_on_every_row(batch_size, steps):
    seen = []

    def counted(model, inputs, targets):
        seen.append(len(inputs))
        return _squared_error(model, inputs, targets)

    data = (torch.randn(20, 3, dtype=torch.float64), torch.randn(20, dtype=torch.float64))
    model = torch.nn.Linear(3, 1).double()
    list(
        fit(
            model,
            counted,
            data,
            epochs=4,
            learning_rate=0.01,
            batch_size=batch_size,
            generator=torch.Generator().manual_seed(1),
            optimizer=Optimizer("sgd"),
        )
    )
    assert len(seen) == 4 * steps and sum(seen) == 4 * 20


def _data():
    generator = torch.Generator().manual_seed(5)
    inputs, test = torch.randn(120, 6, generator=generator), torch.randn(30, 6, generator=generator)
    return (inputs, (inputs[:, 0] > 0).long()), (test, (test[:, 0] > 0).long())


def _build():
    return MLP(6, [5, 4], 2, "tanh")


@pytest.mark.parametrize(
    ("optimizer", "batch_size"),
    [
        (Optimizer("sgd", momentum=0.9, weight_decay=1e-3), 32),
        (Optimizer("sgd"), "full"),
        (Optimizer("adam", weight_decay=1e-2), "full"),
    ],
)
def test_each_trial_of_a_batched_run_follows_its_single_run_under_each_optimizer(optimizer, batch_size):
    train, test = _data()
    options = {"epochs": 3, "batch_size": batch_size, "learning_rate": 0.05}
    ((_, records),) = list(train_trials(_build, train, test, trials=range(2), seed=3, optimizer=optimizer, **options))
    records = list(records)
    for trial in range(2):
        torch.manual_seed(trial_seed(3, trial))
        single = list(
            train_epochs(_build(), train, test, 3, batch_size, 0.05, trial_seed(3, trial), optimizer=optimizer)
        )
        for mine, reference in zip(records, single, strict=True):
            for name, value in reference.weights.items():
                np.testing.assert_allclose(mine.weights[name][trial], value, atol=1e-6)
    first, last = records[0].weights["layers.output.weight"], records[-1].weights["layers.output.weight"]
    assert not np.allclose(first, last) and not np.allclose(last[0], last[1])


def test_sgd_in_fit_equals_torch_sgd_on_an_unbatched_copy_with_shuffled_minibatches():
    train, _ = _data()
    torch.manual_seed(0)
    model = _build()
    copy = _build()
    copy.load_state_dict(model.state_dict())
    list(
        fit(
            model,
            lambda net, x, y: torch.nn.functional.cross_entropy(net(x), y),
            train,
            epochs=2,
            learning_rate=0.1,
            batch_size=50,
            generator=torch.Generator().manual_seed(9),
            optimizer=Optimizer("sgd", momentum=0.5),
        )
    )
    reference = torch.optim.SGD(copy.parameters(), lr=0.1, momentum=0.5)
    generator = torch.Generator().manual_seed(9)
    for _ in range(2):
        order = torch.randperm(120, generator=generator)
        for start in range(0, 120, 50):
            rows = order[start : start + 50]
            reference.zero_grad()
            torch.nn.functional.cross_entropy(copy(train[0][rows]), train[1][rows]).backward()
            reference.step()
    for name, value in copy.state_dict().items():
        torch.testing.assert_close(model.state_dict()[name], value, rtol=1e-6, atol=1e-7)


def test_train_params_take_the_optimizer_keys_and_refuse_momentum_without_sgd():
    assert train_config.OPTIMIZERS == training.OPTIMIZERS  # written out in the params to keep torch out of them
    params = TrainParams(optimizer="sgd", momentum=0.9, weight_decay=1e-4, batch_size="full")
    assert (params.optimizer, params.momentum, params.batch_size) == ("sgd", 0.9, "full")
    assert TrainParams().optimizer == "adam" and TrainParams().batch_size == 256
    with pytest.raises(ValueError, match=r"train.momentum = 0.9 applies to optimizer sgd only"):
        TrainParams(momentum=0.9)
    with pytest.raises(ValueError):
        TrainParams(batch_size="half")
    with pytest.raises(ValueError):
        TrainParams(optimizer="rmsprop")
