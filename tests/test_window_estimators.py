"""Oracles: a window of epochs ("as if random") read by the activation estimators.

A window of w epochs pools each input's w activations as draws of T given that input: H(T|X) is taken
per input over its w rows, H(T) over all w x N rows. Cases with a known answer:

- Coincident draws. Blocks 100 apart, each of two inputs in 1-D: input a at 0 (epoch 1) and 1 (epoch 2),
  input b at 1 and 2. With noise s2 far below the spacing, T + Z is discrete on {0, 1, 2} with weights
  (1/4, 1/2, 1/4) per block: H(T) - H(Z) = log2 M + 1.5 bits, H(T|X) - H(Z) = 1 bit, so I(X;T) = log2 M
  + 0.5 bits < H(X) = log2 2M. Rows read as inputs of their own would give log2 M + 1.5 bits (clipped to
  H(X), counted as capped).
- Identical epochs: a window of w copies of one epoch is that epoch (a mixture of w equal Gaussians is one).
- A Gaussian conditional: inputs far apart, each epoch's jitter N(0, 1): I(X;T) = log2 M, H(T|X) the
  Gaussian's (lga, which fits that Gaussian from the input's w draws).
"""

import numpy as np
import pytest
from pydantic import ValidationError

from ibpipe.infoplane.measure import slab_information

BLOCKS = 16  # M: blocks of two inputs
NOISE = 1.0e-4  # s2: components 1 apart are 100 noise sds apart


def _coincident_slab() -> tuple[np.ndarray, np.ndarray]:
    """(2 epochs, 2M inputs, 1 unit) activations and the labels (one class per input of a block)."""
    offsets = 100.0 * np.repeat(np.arange(BLOCKS), 2)
    first = offsets + np.tile([0.0, 1.0], BLOCKS)
    second = offsets + np.tile([1.0, 2.0], BLOCKS)
    return np.stack([first, second])[:, :, None], np.tile([0, 1], BLOCKS)


def _measured(estimators, slab, labels, window, **keys):
    from ibpipe.config.estimate import EstimateParams

    params = EstimateParams(
        estimators=list(estimators), dimensions=[], max_pairwise_samples=0, window=window, noise_variance=NOISE, **keys
    )
    return slab_information(params, labels, np.arange(slab.shape[1]), None, slab, lead=window - 1)


@pytest.mark.parametrize("estimator", ["kde-upper", "kde-lower", "kde-mc"])
def test_a_window_measures_each_inputs_epochs_as_draws_of_t_given_x_exactly(estimator):
    slab, labels = _coincident_slab()
    measured = _measured([estimator], slab, labels, window=2)
    exact = 1e-9 if estimator != "kde-mc" else 1e-6  # kde-mc: Monte Carlo draws, common to both mixtures
    assert measured.I_XT.item() == pytest.approx(np.log2(BLOCKS) + 0.5, abs=exact)
    assert measured.capped.item() == 0  # below H(X) = log2 2M: nothing clipped
    # I(T;Y): at 0 and 2 the class is known, at 1 it is a coin: H(Y|T) = 1/2 bit
    assert measured.I_TY.item() == pytest.approx(0.5, abs=exact)
    if estimator != "kde-mc":  # H(T) in closed form (kde-mc's is a Monte Carlo mean of the noise's log density)
        noise_bits = 0.5 * np.log2(2 * np.pi * np.e * NOISE)
        assert measured.H_T.item() == pytest.approx(noise_bits + np.log2(BLOCKS) + 1.5, abs=1e-9)


def test_a_window_read_by_knn_approaches_the_coincident_draws_answer():
    slab, labels = _coincident_slab()
    measured = _measured(["knn"], slab, labels, window=2, noise_draws=16)
    assert measured.I_XT.item() == pytest.approx(np.log2(BLOCKS) + 0.5, abs=0.2)
    assert measured.capped.item() == 0


# Not lga: one noise draw per row, so w copies of a point are w draws that it reads as a denser sample (it does
# not resolve components narrower than the rows' spacing, at any window); its window case is the Gaussian jitter.
@pytest.mark.parametrize("estimator", ["kde-upper", "kde-lower", "kde-mc", "knn"])
def test_a_window_of_identical_epochs_is_that_epoch(estimator):
    activations = np.tanh(np.random.default_rng(3).normal(size=(60, 2)))
    labels = np.arange(60) % 3
    one = _measured([estimator], activations[None], labels, window=1)
    three = _measured([estimator], np.stack([activations] * 3), labels, window=3)
    if estimator in ("kde-upper", "kde-lower"):
        tolerance = 1e-9  # a mixture of 3 equal Gaussians per input is one: the same bounds
    else:
        tolerance = 0.15  # noise draws: other draws, the same expectation
    for quantity in ("H_T", "I_XT", "I_TY"):
        assert three[quantity].item() == pytest.approx(one[quantity].item(), abs=tolerance)


def test_lga_reads_a_windows_gaussian_jitter_as_the_conditional_of_t_given_x():
    inputs, window, rng = 8, 40, np.random.default_rng(5)
    slab = 1000.0 * np.arange(inputs)[None, :, None] + rng.normal(size=(window, inputs, 1))
    labels = np.arange(inputs) % 2
    measured = _measured(["lga"], slab, labels, window=window, lga_neighbors=30)
    assert measured.I_XT.item() == pytest.approx(np.log2(inputs), abs=0.15)
    gaussian_bits = 0.5 * np.log2(2 * np.pi * np.e * (1.0 + NOISE))
    assert measured.H_T.item() == pytest.approx(gaussian_bits + np.log2(inputs), abs=0.15)


@pytest.mark.parametrize(
    ("estimator", "reason"),
    [("renyi", "mini-batches split"), ("sample-propagation", "noisy passes of one epoch")],
)
def test_a_window_is_refused_with_the_reason_for_estimators_that_cannot_read_it(estimator, reason):
    from ibpipe.config.estimate import EstimateParams

    with pytest.raises(ValidationError, match=rf"estimate\.window = 2 with estimate\.estimators \['{estimator}'\]"):
        EstimateParams(estimators=["plugin", estimator], window=2)
    with pytest.raises(ValidationError, match=reason):
        EstimateParams(estimators=[estimator], window=2)
    assert EstimateParams(estimators=["kde-upper", "kde-lower", "kde-mc", "knn", "lga"], window=2).window == 2
