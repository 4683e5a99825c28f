"""Epoch schedules: Saxe et al.'s stepped schedule, and delta-skip against a run where every epoch is known."""

import numpy as np
import pytest

from ibpipe.infoplane.selection import (
    delta_skip_approximate,
    delta_skip_exact,
    epoch_schedule,
    information_distance,
    stepped_epochs,
)

H_SOURCES = (12.0, 1.0)  # H(X), H(Y) in bits


def _known_run(n_epochs: int = 600, n_layers: int = 3, seed: int = 0) -> np.ndarray:
    """(epoch, layer, 2) information: fast early change, a late jump, small noise."""
    rng = np.random.default_rng(seed)
    epochs = np.arange(n_epochs + 1)[:, None]
    rise = 1 - np.exp(-epochs / np.array([20.0, 40.0, 80.0]))
    jump = (epochs >= 400) * np.array([0.0, 0.05, 0.1])
    i_xt = 12 - 3 * rise[:, :n_layers] + jump[:, :n_layers] * 12
    i_ty = rise[:, :n_layers] + rng.normal(scale=0.002, size=(n_epochs + 1, n_layers))
    return np.stack([i_xt, i_ty], axis=-1)


class RecordingProbe:
    def __init__(self, table):
        self.table, self.calls = table, []

    def __call__(self, epochs):
        self.calls.append(list(epochs))
        return {epoch: self.table[epoch] for epoch in epochs}


def test_distance_is_the_largest_change_normalised_by_the_source_entropy():
    a = np.array([[12.0, 0.5], [6.0, 0.2]])
    b = np.array([[11.4, 0.5], [6.0, 0.25]])
    assert information_distance(a, b, H_SOURCES) == pytest.approx(0.05)


@pytest.mark.parametrize("delta", [0.01, 0.02, 0.05])
def test_delta_exact_keeps_every_consecutive_pair_within_delta_or_adjacent(delta):
    table = _known_run()
    probe = RecordingProbe(table)
    result = delta_skip_exact(600, probe, H_SOURCES, delta)
    epochs = result["epochs"]
    assert epochs[0] == 0 and epochs[-1] == 600
    assert set(epochs) <= set(range(601)) and epochs == sorted(epochs)
    for a, b, stored in zip(epochs, epochs[1:], result["distances"]):
        true_distance = information_distance(table[a], table[b], H_SOURCES)
        assert stored == pytest.approx(true_distance)
        assert true_distance <= delta or b - a == 1
    probed = [epoch for call in probe.calls for epoch in call]
    assert len(probed) == len(set(probed)), "an epoch was measured twice"
    assert set(epochs) <= set(result["probed"]) == set(probed)
    assert len(epochs) < 601 / 3


def test_delta_exact_bisects_the_late_jump_down_to_adjacent_epochs():
    result = delta_skip_exact(600, RecordingProbe(_known_run()), H_SOURCES, 0.02)
    assert 399 in result["epochs"] and 400 in result["epochs"]


def test_delta_approximate_never_backtracks_and_probes_only_what_it_keeps():
    probe = RecordingProbe(_known_run())
    result = delta_skip_approximate(600, probe, H_SOURCES, 0.02)
    probed = [epoch for call in probe.calls for epoch in call]
    assert probed == sorted(probed) and len(probed) == len(set(probed))
    assert result["probed"] == result["epochs"]
    assert result["epochs"][-1] == 600


def test_delta_skip_rejects_meaningless_settings():
    with pytest.raises(ValueError, match="delta > 0"):
        delta_skip_exact(10, RecordingProbe(_known_run(10)), H_SOURCES, 0.0)


def test_stepped_schedule_matches_its_definition():
    epochs = stepped_epochs(2500)
    expected = sorted(
        set(range(20)) | set(range(20, 100, 5)) | set(range(100, 2000, 20)) | set(range(2000, 2501, 100)) | {2500}
    )
    assert epochs.tolist() == expected
    assert stepped_epochs(7, bounds=(3,), steps=(1, 2)).tolist() == [0, 1, 2, 3, 5, 7]
    assert epoch_schedule("stepped", 2500).tolist() == expected
    with pytest.raises(ValueError, match="one more step"):
        stepped_epochs(10, bounds=(3,), steps=(1,))


# Two layers, (I(X;T), I(Y;T)) each, over epochs 0..4; H(X) = 12 bits, H(Y) = 1 bit. Consecutive changes by hand:
#   0->1: X of layer 1 drops 1 bit, Y of layer 0 rises 0.1: unnormalised (Eq. 3.8) 1.0 bit, normalised 0.1
#   1->2: Y of layer 0 rises 0.1: 0.1 either way;  2->3: Y rises 0.4: 0.4 either way
#   3->4: X of layer 1 drops 2 bits: unnormalised 2.0, normalised 2/12
#   1->3: Y rises 0.5: 0.5 either way;  2->4: unnormalised 2.0 (X), normalised 0.4 (Y)
HAND_RUN = np.array(
    [
        [[12.0, 0.0], [6.0, 0.0]],
        [[12.0, 0.1], [5.0, 0.0]],
        [[12.0, 0.2], [5.0, 0.0]],
        [[12.0, 0.6], [5.0, 0.0]],
        [[12.0, 0.6], [3.0, 0.0]],
    ]
)


def test_the_unnormalised_distance_of_eq_3_8_is_the_largest_change_in_bits():
    from ibpipe.infoplane.selection import distance_scales

    assert distance_scales(H_SOURCES, "unnormalised") == (1.0, 1.0)
    assert distance_scales(H_SOURCES, "normalised") == H_SOURCES
    unnormalised = [information_distance(HAND_RUN[a], HAND_RUN[a + 1], (1.0, 1.0)) for a in range(4)]
    normalised = [information_distance(HAND_RUN[a], HAND_RUN[a + 1], H_SOURCES) for a in range(4)]
    assert unnormalised == pytest.approx([1.0, 0.1, 0.4, 2.0])
    assert normalised == pytest.approx([0.1, 0.1, 0.4, 2 / 12])
    with pytest.raises(ValueError, match="distance = 'bits'"):
        distance_scales(H_SOURCES, "bits")


@pytest.mark.parametrize(
    ("search", "distance", "epochs", "distances"),
    [
        # forward 0->1 (0.1) grows the skip to 2, 1->3 (0.5, at delta) to 4, 3->4 ends: no gap left to bisect
        (delta_skip_exact, "normalised", [0, 1, 3, 4], [0.1, 0.5, 2 / 12]),
        (delta_skip_approximate, "normalised", [0, 1, 3, 4], [0.1, 0.5, 2 / 12]),
        # 0->1 is 1 bit: the skip stays 1; 1->2 grows it to 2; 2->4 is 2 bits, which exact bisects at 3
        (delta_skip_exact, "unnormalised", [0, 1, 2, 3, 4], [1.0, 0.1, 0.4, 2.0]),
        (delta_skip_approximate, "unnormalised", [0, 1, 2, 4], [1.0, 0.1, 2.0]),
    ],
)
def test_delta_skip_selects_the_hand_computed_epochs_under_either_distance(search, distance, epochs, distances):
    result = search(4, RecordingProbe(HAND_RUN), H_SOURCES, 0.5, 2.0, distance=distance)
    assert result["epochs"] == epochs
    assert result["distances"] == pytest.approx(distances)


def test_select_section_takes_a_delta_in_bits_only_for_the_unnormalised_distance():
    from pydantic import ValidationError

    from ibpipe.config.select import SelectParams

    assert SelectParams(delta=2.0, distance="unnormalised").delta == 2.0
    with pytest.raises(ValidationError, match=r"select\.delta = 2\.0: a normalised delta is a fraction of H"):
        SelectParams(delta=2.0)


def test_the_select_stage_searches_with_the_distance_its_section_names(monkeypatch):
    """delta_skip_selection hands select.distance to the search: the hand-computed unnormalised selection."""
    import contextlib

    import ibpipe.parallel
    from ibpipe.config.select import SelectParams
    from ibpipe.infoplane import probing

    monkeypatch.setattr(probing, "probe_setup", lambda *arguments: ({}, H_SOURCES))
    monkeypatch.setattr(probing, "parallel_probe", lambda client, shared: RecordingProbe(HAND_RUN))
    monkeypatch.setattr(ibpipe.parallel, "dask_client", lambda *arguments, **keywords: contextlib.nullcontext())
    for distance, epochs in (("unnormalised", [0, 1, 2, 4]), ("normalised", [0, 1, 3, 4])):
        params = SelectParams(method="delta-approx", delta=0.5, distance=distance)
        result = probing.delta_skip_selection(params, 4, None, None, "weights.zarr")
        assert (result["distance"], result["epochs"]) == (distance, epochs)
