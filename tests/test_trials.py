"""Trials: a batched run equals single runs trial by trial; compression statistics on curves with known answers."""

import numpy as np
import pytest
import torch
import xarray as xr

from ibpipe.infoplane.compression import compression_statistics, compression_summary, trial_interval, verdict
from ibpipe.nn.mlp import MLP
from ibpipe.nn.shares import split_trials
from ibpipe.nn.training import train_epochs
from ibpipe.nn.trials import train_trials, trial_seed


def _data():
    generator = torch.Generator().manual_seed(5)
    inputs = torch.randn(300, 12, generator=generator)
    test = torch.randn(50, 12, generator=generator)
    return (inputs, (inputs[:, 0] > 0).long()), (test, (test[:, 0] > 0).long())


def _build():
    return MLP(12, [10, 7, 5, 4, 3], 2, "tanh")


def test_each_trial_of_a_batched_run_follows_the_single_run_of_its_seed():
    train, test = _data()
    ((covered, records),) = list(
        train_trials(_build, train, test, trials=range(2), epochs=4, batch_size=64, learning_rate=1.0e-2, seed=7)
    )
    records = list(records)
    assert covered == range(2) and records[0].weights["layers.hidden1.0.weight"].shape == (2, 10, 12)
    for trial in range(2):
        torch.manual_seed(trial_seed(7, trial))
        single = list(train_epochs(_build(), train, test, 4, 64, 1.0e-2, trial_seed(7, trial)))
        for mine, reference in zip(records, single):
            for name, value in reference.weights.items():
                np.testing.assert_allclose(mine.weights[name][trial], value, atol=1e-6)
            for name, value in reference.metrics.items():
                assert mine.metrics[name][trial] == pytest.approx(value, abs=1e-6)
    # the two trials are different networks
    assert not np.allclose(
        records[-1].weights["layers.output.weight"][0], records[-1].weights["layers.output.weight"][1]
    )


def test_a_batched_mlp_is_its_mlps_with_a_leading_trial_axis():
    from ibpipe.nn.batched import BatchedMLP

    models = [_build() for _ in range(3)]
    batched = BatchedMLP(models)
    inputs = _data()[0][0][:40]
    for trial, model in enumerate(models):
        assert batched.state_dict().keys() == model.state_dict().keys()
        for name, value in model.state_dict().items():
            assert torch.equal(batched.state_dict()[name][trial], value)
        with torch.no_grad():
            # inputs shared by every network, or each network its own rows: (trials, rows, classes) logits
            np.testing.assert_allclose(batched(inputs)[trial], model(inputs), atol=1e-6)
            np.testing.assert_allclose(batched(inputs.expand(3, -1, -1))[trial], model(inputs), atol=1e-6)


def test_trials_split_over_processes_give_the_numbers_of_one_batched_process_to_rounding():
    # batched kernels of another batch size may sum in another order: last bits only
    import multiprocessing

    train, test = _data()

    def run(processes):
        streams = train_trials(
            _build,
            train,
            test,
            trials=range(5, 8),
            epochs=3,
            batch_size=64,
            learning_rate=1e-2,
            seed=2,
            processes=processes,
        )
        ((covered, records),) = list(streams)
        first = next(records)
        workers = len(multiprocessing.active_children())
        return covered, [first, *records], workers

    one, shared = run(1), run(2)
    # one stream of all the trials either way; with 2 processes one worker trains trials 5..6
    assert one[0] == shared[0] == range(5, 8) and (one[2], shared[2]) == (0, 1)
    assert [record.epoch for record in shared[1]] == [0, 1, 2, 3]
    for mine, reference in zip(shared[1], one[1], strict=True):
        for name, value in reference.weights.items():
            np.testing.assert_allclose(mine.weights[name], value, rtol=0, atol=1e-6)
        for name, value in reference.metrics.items():
            np.testing.assert_allclose(mine.metrics[name], value, rtol=0, atol=1e-6)


def test_a_killed_worker_stops_the_run_at_once_with_the_signal_named():
    import multiprocessing
    import os
    import signal

    train, test = _data()
    streams = train_trials(
        _build,
        train,
        test,
        trials=range(3),
        epochs=100_000,
        batch_size=64,
        learning_rate=1e-3,
        seed=0,
        processes=2,
    )
    here, records = next(streams)
    assert here == range(3)
    next(records)
    (worker,) = multiprocessing.active_children()
    os.kill(worker.pid, signal.SIGKILL)
    worker.join()
    with pytest.raises(RuntimeError, match=r"trials 0\.\.1 was killed by SIGKILL"):
        for _ in range(1000):  # far fewer than the 100000 epochs of the stage's own share
            next(records)
    streams.close()  # what dropping the failed stream does in the stage
    assert multiprocessing.active_children() == []


ORPHAN_SCRIPT = """
import multiprocessing, torch
from ibpipe.nn.mlp import MLP
from ibpipe.nn.trials import train_trials

if __name__ == "__main__":
    inputs = torch.randn(300, 12)
    data = (inputs, (inputs[:, 0] > 0).long())
    streams = train_trials(lambda: MLP(12, [10, 7], 2), data, data, trials=range(2), epochs=10**6, batch_size=64,
                           learning_rate=1e-3, seed=0, processes=2)
    _, records = next(streams)
    next(records)
    print(multiprocessing.active_children()[0].pid, flush=True)
    for _ in records:
        pass
"""


@pytest.mark.slow
def test_a_worker_whose_stage_is_killed_stops_and_leaves_nothing(tmp_path):
    import subprocess
    import sys
    import time

    script = tmp_path / "stage.py"
    script.write_text(ORPHAN_SCRIPT)
    # the worker's records travel through a pipe: nothing is written beside the stage or in its folder
    stage = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True, cwd=tmp_path)
    worker = int(stage.stdout.readline())
    assert _alive(worker)
    stage.kill()  # SIGKILL: no finally runs in the stage
    stage.wait()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and _alive(worker):
        time.sleep(0.2)
    assert not _alive(worker) and [path.name for path in tmp_path.iterdir()] == ["stage.py"]


def _alive(pid):
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a finished child of a killed parent may linger as a zombie
        return stat.read().split(")")[-1].split()[0] != "Z"


def test_trials_are_shared_out_contiguously_larger_shares_first():
    assert split_trials(range(5), 2) == [range(3), range(3, 5)]
    assert split_trials(range(2, 4), 8) == [range(2, 3), range(3, 4)]
    assert split_trials(range(4), 1) == [range(4)]


def test_trial_zero_is_the_single_run_of_the_seed():
    assert trial_seed(3, 0) == 3 and trial_seed(3, 4) == 7


def _curves(finals):
    """I(X;T) rising linearly to 2 bits at epoch 5, then falling linearly to 2 x final/peak at epoch 10."""
    epochs = np.arange(11)
    curves = [np.where(epochs <= 5, 0.4 * epochs, 2.0 + (2.0 * f - 2.0) * (epochs - 5) / 5) for f in finals]
    values = np.stack(curves, axis=-1)[:, None, None, :]
    return xr.Dataset(
        {"I_XT": (("epoch", "layer", "estimator", "trial"), values)},
        coords={"epoch": epochs, "layer": ["hidden1"], "estimator": ["plugin"], "trial": np.arange(len(finals))},
    )


def test_compression_statistics_give_peak_epoch_and_ratio_of_known_curves():
    statistics = compression_statistics(_curves([0.4, 0.5, 1.0])["I_XT"])
    assert statistics.peak_I_XT.dims == ("layer", "estimator", "trial")
    np.testing.assert_allclose(statistics.peak_I_XT.values.ravel(), [2.0, 2.0, 2.0])
    np.testing.assert_allclose(statistics.peak_epoch.values.ravel(), [5, 5, 5])
    np.testing.assert_allclose(statistics.final_to_peak.values.ravel(), [0.4, 0.5, 1.0])


def test_a_curve_without_information_has_no_ratio():
    flat = _curves([0.5]).assign(I_XT=lambda d: d.I_XT * 0)
    assert np.isnan(compression_statistics(flat["I_XT"]).final_to_peak).all()


def test_t_interval_over_trials_matches_the_textbook_formula():
    values = np.array([0.3, 0.4, 0.5])
    mean, low, high = trial_interval(values, level=0.95)
    # t_{2, 0.975} = 4.302653; sd = 0.1
    assert mean == pytest.approx(0.4)
    assert high - mean == pytest.approx(4.302653 * 0.1 / np.sqrt(3), rel=1e-6)
    assert mean - low == pytest.approx(high - mean)
    assert np.isnan(trial_interval(np.array([0.4]))[1])


def test_t_interval_stays_inside_the_range_of_the_quantity():
    values = np.array([0.05, 0.9, 0.95])  # t-interval [-0.28, 1.55] unclipped
    mean, low, high = trial_interval(values, level=0.95, bounds=(0.0, 1.0))
    assert (low, high) == (0.0, 1.0) and mean == pytest.approx(0.6333333)
    assert trial_interval(values, level=0.95)[1] < 0


def test_verdicts_follow_the_rule_on_the_interval():
    assert verdict(0.3, 0.5) == "compresses"
    assert verdict(0.95, 1.0) == "no compression"
    assert verdict(0.5, 0.95) == "undecided"
    assert verdict(float("nan"), float("nan")) == "undecided"


def test_summary_interval_of_final_to_peak_stays_in_zero_one():
    summary = compression_summary(_curves([0.05, 0.9, 0.95]))  # the bare t-interval is [-0.28, 1.55]
    mean, low, high = summary["layers"]["hidden1"]["final_to_peak"]
    assert (low, high) == (0.0, 1.0) and mean == pytest.approx(0.6333, abs=1e-4)


def test_summary_line_names_layer_verdict_interval_and_trials():
    summary = compression_summary(_curves([0.38, 0.40, 0.42]))
    line = summary["layers"]["hidden1"]["verdict"]
    assert line.startswith("hidden1: compresses, final/peak 0.40 [") and line.endswith("3 trials")
    assert summary["layers"]["hidden1"]["final_to_peak"][0] == pytest.approx(0.40)


def test_codes_groups_map_to_their_trials_activations():
    from ibpipe.io.layers import activation_group, reduction_prefix, trial_prefix

    assert activation_group(reduction_prefix("bins30") + trial_prefix(2) + "hidden1") == "trial2/hidden1"
    assert activation_group(reduction_prefix("bins30") + trial_prefix(0) + "hidden1") == "hidden1"
    assert activation_group(trial_prefix(1) + "output") == "trial1/output"


def test_unbatchable_networks_train_their_trials_one_after_another_as_single_runs():
    train, test = _data()

    def build():
        return MLP(12, [6, 4], 2, "tanh", noise_std=0.1)  # noisy: not batched

    streams = list(
        train_trials(build, train, test, trials=range(2), epochs=2, batch_size=64, learning_rate=1e-2, seed=3)
    )
    assert [covered for covered, _ in streams] == [range(1), range(1, 2)]
    records = list(streams[1][1])
    torch.manual_seed(trial_seed(3, 1))  # the single run: seed, build, train (noise from the global generator)
    model = build()
    single = list(train_epochs(model, train, test, 2, 64, 1e-2, trial_seed(3, 1)))
    for name, value in single[-1].weights.items():
        np.testing.assert_array_equal(records[-1].weights[name][0], value)


def _autograd_gradients(model, inputs, labels):
    from ibpipe.nn.batched import summed_classification_loss

    for parameter in model.parameters():
        parameter.grad = None
    summed_classification_loss(model, inputs, labels).backward()
    return {name: parameter.grad.clone() for name, parameter in model.named_parameters()}


def test_hand_written_gradients_of_a_batched_tanh_mlp_are_autograds_bit_for_bit():
    from ibpipe.nn.batched import BatchedMLP, hand_gradients

    torch.manual_seed(1)
    model = BatchedMLP([_build() for _ in range(3)])
    set_gradients = hand_gradients(model)
    generator = torch.Generator().manual_seed(2)
    inputs, labels = torch.randn(3, 300, 12, generator=generator), torch.randint(0, 2, (3, 300), generator=generator)
    batches = [
        (inputs.narrow(1, 0, 64), labels.narrow(1, 0, 64)),  # a minibatch as fit slices it
        (inputs.narrow(1, 256, 44), labels.narrow(1, 256, 44)),  # the shorter last one
        (inputs[0].expand(3, -1, -1), labels[0].expand(3, -1)),  # a full batch behind a trial axis
        (inputs[0], labels[0].expand(3, -1)),  # rows shared by every network
    ]
    for batch_inputs, batch_labels in batches:
        expected = _autograd_gradients(model, batch_inputs, batch_labels)
        set_gradients(batch_inputs, batch_labels)
        for name, parameter in model.named_parameters():
            assert torch.equal(parameter.grad, expected[name]), name
        through_graph = model(batch_inputs)
        with torch.no_grad():  # the forward without a graph (evaluation) gives the same numbers too
            assert torch.equal(model(batch_inputs), through_graph.detach())
    assert any(parameter.grad.abs().max() > 0 for parameter in model.parameters())


def test_batched_training_with_hand_gradients_equals_training_through_autograd_bit_for_bit():
    from ibpipe.nn.batched import BatchedMLP, summed_classification_loss

    train, test = _data()

    def run(loss):
        torch.manual_seed(4)
        model = BatchedMLP([_build() for _ in range(2)])
        return list(train_epochs(model, train, test, 3, 64, 1e-2, [4, 5], loss=loss))

    hand = run(summed_classification_loss)
    through_autograd = run(lambda model, inputs, labels: summed_classification_loss(model, inputs, labels))
    for mine, reference in zip(hand, through_autograd, strict=True):
        for name, value in reference.weights.items():
            np.testing.assert_array_equal(mine.weights[name], value)
        for name, value in reference.metrics.items():
            np.testing.assert_array_equal(mine.metrics[name], value)
    assert not np.array_equal(hand[0].weights["layers.output.weight"], hand[-1].weights["layers.output.weight"])


def test_only_batched_tanh_mlps_get_hand_written_gradients():
    from ibpipe.nn.batched import BatchedMLP, hand_gradients

    assert hand_gradients(BatchedMLP([MLP(12, [5], 2, "relu") for _ in range(2)])) is None
    assert hand_gradients(_build()) is None
    assert hand_gradients(BatchedMLP([_build()])) is not None
