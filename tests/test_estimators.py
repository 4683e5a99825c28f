"""Closed-form oracles for Miller-Madow (Miller 1955), the KDE bounds (Kolchinsky & Tracey 2017), k-NN
(Kozachenko & Leonenko 1987; Ross 2014) and bootstrap intervals."""

import numpy as np
import pytest
from scipy import integrate, stats

from ibpipe import information
from ibpipe.estimators import kde as kde_module
from ibpipe.estimators import kde_sweep, registry
from ibpipe.estimators.bootstrap import bootstrap_interval
from ibpipe.estimators.inputs import apply_ceilings, ceilings
from ibpipe.estimators.kde import kde_information
from ibpipe.estimators.knn import knn_information, kozachenko_leonenko_entropy_nats, mixed_information_nats
from ibpipe.estimators.plugin import entropy_bits, plugin_information
from ibpipe.estimators.registry import estimate_layer

LN2 = np.log(2)


# ---------------------------------------------------------------- Miller-Madow


def test_miller_madow_adds_m_minus_1_over_2n_nats_to_every_entropy(rng):
    codes = rng.integers(0, 6, (500, 1))
    plain = entropy_bits(codes)
    corrected = entropy_bits(codes, miller_madow=True)
    assert corrected - plain == pytest.approx((6 - 1) / (2 * 500 * LN2), abs=1e-12)


def test_miller_madow_removes_most_of_the_plugin_bias_on_uniform_states(rng):
    n_states, n_samples = 64, 300
    draws = [rng.integers(0, n_states, (n_samples, 1)) for _ in range(200)]
    plugin_bias = np.mean([entropy_bits(d) for d in draws]) - 6.0
    corrected_bias = np.mean([entropy_bits(d, miller_madow=True) for d in draws]) - 6.0
    assert plugin_bias < -0.1
    assert abs(corrected_bias) < abs(plugin_bias) / 3


def test_miller_madow_on_unique_rows_is_capped_at_the_source_entropies_and_counted():
    codes = np.arange(1024)[:, None]
    labels = np.arange(1024) % 2
    raw = plugin_information(codes, labels, miller_madow=True)
    assert raw["I_XT"] == pytest.approx(10 + 1023 / (2 * 1024 * LN2))  # the correction alone overshoots H(X) = 10
    # H_MM(T) + H_MM(Y) - H_MM(T,Y): the 1024 joint states cancel T's correction, Y's stays.
    assert raw["I_TY"] == pytest.approx(1.0 + 1 / (2 * 1024 * LN2))
    values = information(codes, labels, "miller-madow")
    assert values["I_XT"] == 10.0 and values["I_TY"] == 1.0 and values["capped"] == 2


# ---------------------------------------------------------------- KDE bounds


@pytest.mark.parametrize(
    ("distance", "lower_nats", "upper_nats"),
    [(1, 0.0605, 0.2191), (2, 0.2191, 0.5662), (4, 0.5662, 0.6928), (10, 0.6931, 0.6931)],
)
def test_kde_bounds_of_two_points_match_the_reference_table(distance, lower_nats, upper_nats):
    values = kde_information(np.array([[0.0], [float(distance)]]), np.array([0, 1]), noise_variance=1.0)
    assert values["lower"]["I_XT"] * LN2 == pytest.approx(lower_nats, abs=5e-5)
    assert values["upper"]["I_XT"] * LN2 == pytest.approx(upper_nats, abs=5e-5)


def test_kde_of_identical_points_is_zero_and_of_far_points_is_log_n(rng):
    same = kde_information(np.ones((300, 4)), rng.integers(0, 2, 300))
    assert same["upper"]["I_XT"] == pytest.approx(0.0, abs=1e-12)
    assert same["lower"]["I_TY"] == pytest.approx(0.0, abs=1e-12)
    far = kde_information(np.arange(500.0)[:, None] * 10, np.arange(500) % 2, noise_variance=1.0e-2)
    for bound in ("lower", "upper"):
        assert far[bound]["I_XT"] == pytest.approx(np.log2(500), abs=1e-9)
        assert far[bound]["I_TY"] == pytest.approx(1.0, abs=1e-9)


def test_kde_conditional_entropy_constant_is_the_gaussian_entropy(rng):
    points = rng.normal(size=(200, 3))
    values = kde_information(points, np.zeros(200, int), noise_variance=0.5)
    gaussian_bits = 1.5 * np.log(2 * np.pi * np.e * 0.5) / LN2
    assert values["upper"]["H_T"] - values["upper"]["I_XT"] == pytest.approx(gaussian_bits, abs=1e-12)


def test_kde_block_size_does_not_change_results(rng):
    points = np.tanh(rng.normal(size=(700, 5)))
    labels = rng.integers(0, 3, 700)
    reference = kde_information(points, labels, 1.0e-2, block_rows=700)
    for block_rows in (1, 7, 64, 333):
        values = kde_information(points, labels, 1.0e-2, block_rows=block_rows)
        for bound in ("lower", "upper"):
            for quantity in ("H_T", "I_XT", "I_TY"):
                assert values[bound][quantity] == pytest.approx(reference[bound][quantity], abs=1e-11)


def _dense_kde_mi_nats(points, labels, variance):
    distances = ((points[:, None, :] - points[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-distances / (2 * variance))
    i_xt = -np.mean(np.log(kernel.mean(axis=1)))
    same = labels[:, None] == labels[None, :]
    i_xt_given_y = -np.mean(np.log((kernel * same).sum(1) / same.sum(1)))
    return i_xt, i_xt - i_xt_given_y


def test_kde_upper_bound_equals_the_dense_textbook_formula_with_repeated_rows(rng):
    points = np.round(np.tanh(rng.normal(size=(400, 3))), 1)  # rounding makes many exact duplicates
    labels = rng.integers(0, 2, 400)
    i_xt, i_ty = _dense_kde_mi_nats(points - points.mean(0), labels, 0.05)
    values = kde_information(points, labels, 0.05)
    assert values["upper"]["I_XT"] * LN2 == pytest.approx(i_xt, abs=1e-10)
    assert values["upper"]["I_TY"] * LN2 == pytest.approx(i_ty, abs=1e-10)
    lower_i_xt, _ = _dense_kde_mi_nats(points, labels, 0.05 * 4)
    assert values["lower"]["I_XT"] * LN2 == pytest.approx(lower_i_xt, abs=1e-10)


def test_kde_sparse_and_dense_block_paths_agree_with_the_textbook_formula(rng, monkeypatch):
    # Spread points with little noise: most pairs are negligible, so blocks take the sparse path;
    # with much noise every pair counts and blocks take the dense path.
    points = rng.normal(size=(600, 4))
    labels = rng.integers(0, 3, 600)
    taken = []
    monkeypatch.setattr(kde_module, "FUSED_MAX_DIMS", 0)  # the blocked path of wide layers, here on 4 units
    for name in ("_add_sparse_block", "_add_dense_block"):
        original = getattr(kde_module, name)

        def spy(*args, _original=original, _name=name, **kwargs):
            taken.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(kde_module, name, spy)
    for variance, path in ((1.0e-3, "_add_sparse_block"), (1.0e-1, None), (10.0, "_add_dense_block")):
        taken.clear()
        i_xt, i_ty = _dense_kde_mi_nats(points - points.mean(0), labels, variance)
        values = kde_information(points, labels, variance, block_rows=50)
        assert values["upper"]["I_XT"] * LN2 == pytest.approx(i_xt, abs=1e-10)
        assert values["upper"]["I_TY"] * LN2 == pytest.approx(i_ty, abs=1e-10)
        assert len(taken) == 600 // 50  # one call per block of rows
        if path is not None:
            assert set(taken) == {path}, (variance, sorted(set(taken)))


@pytest.mark.parametrize("variance", [1.0e-3, 1.0e-1, 10.0])
def test_kde_compiled_sweep_of_narrow_layers_equals_the_blocked_path_and_the_textbook_formula(
    rng, monkeypatch, variance
):
    # Repeated rows (weights), three classes, and rounds of few pairs (a round boundary inside the rows).
    base = np.tanh(rng.normal(size=(400, 5)))
    points, labels = np.concatenate([base, base[:150]]), rng.integers(0, 3, 550)
    monkeypatch.setattr(kde_sweep, "SWEEP_PAIRS", 1000)
    assert kde_module.fused_sweep(points.shape[1])
    kde_module.clear_cache()
    swept = kde_information(points, labels, variance)
    monkeypatch.setattr(kde_module, "FUSED_MAX_DIMS", 0)
    kde_module.clear_cache()
    blocked = kde_information(points, labels, variance)
    for bound in ("upper", "lower"):
        for quantity in ("H_T", "I_XT", "I_TY"):
            assert swept[bound][quantity] == pytest.approx(blocked[bound][quantity], rel=1e-12, abs=1e-12)
    i_xt, i_ty = _dense_kde_mi_nats(points - points.mean(0), labels, variance)
    assert swept["upper"]["I_XT"] * LN2 == pytest.approx(i_xt, abs=1e-10)
    assert swept["upper"]["I_TY"] * LN2 == pytest.approx(i_ty, abs=1e-10)
    assert swept["lower"]["I_XT"] * LN2 == pytest.approx(_dense_kde_mi_nats(points, labels, 4 * variance)[0], abs=1e-10)


def test_kde_lower_bound_never_exceeds_the_upper(rng):
    for scale in (0.01, 0.1, 1.0):
        values = kde_information(rng.normal(scale=scale, size=(300, 2)), rng.integers(0, 2, 300), 1.0e-2)
        assert values["lower"]["I_XT"] <= values["upper"]["I_XT"] + 1e-12


# ---------------------------------------------------------------- k-NN


@pytest.mark.parametrize("dimension", [1, 2])
def test_kozachenko_leonenko_entropy_of_a_standard_gaussian(rng, dimension):
    points = rng.normal(size=(4000, dimension))
    expected = 0.5 * dimension * np.log(2 * np.pi * np.e)
    assert kozachenko_leonenko_entropy_nats(points, n_neighbors=3) == pytest.approx(expected, abs=0.05)


def test_kozachenko_leonenko_rejects_repeated_points():
    with pytest.raises(ValueError, match="add noise"):
        kozachenko_leonenko_entropy_nats(np.zeros((50, 2)), n_neighbors=3)


def _mixture_information_nats(shift: float) -> float:
    def density(t):
        return 0.5 * (stats.norm.pdf(t, -shift) + stats.norm.pdf(t, shift))

    mixture_entropy, _ = integrate.quad(lambda t: -density(t) * np.log(density(t)), -shift - 12, shift + 12, limit=200)
    return mixture_entropy - 0.5 * np.log(2 * np.pi * np.e)


@pytest.mark.parametrize("shift", [0.5, 1.0, 2.0])
def test_ross_information_of_a_two_gaussian_mixture(rng, shift):
    labels = rng.integers(0, 2, 5000)
    points = rng.normal(size=5000) + np.where(labels == 1, shift, -shift)
    assert mixed_information_nats(points, labels, n_neighbors=3) == pytest.approx(
        _mixture_information_nats(shift), abs=0.03
    )


def test_ross_information_is_near_zero_for_independent_labels_in_two_dimensions(rng):
    assert mixed_information_nats(rng.normal(size=(3000, 2)), rng.integers(0, 3, 3000), n_neighbors=3) < 0.02


def test_knn_information_with_noise_recovers_the_gaussian_channel(rng):
    # T ~ N(0, 1) seen through noise of variance 0.25: I(X; T + Z) = 0.5 ln(1 + 1 / 0.25) nats.
    # Several draws per input and the conditional entropy from the same draws: within 0.1 nats here
    # (benchmarks/validate_estimators.py measures the bias in more dimensions).
    points = rng.normal(size=(5000, 1))
    values = knn_information(points, np.zeros(5000, int), noise_variance=0.25, seed=1)
    assert values["I_XT"] * LN2 == pytest.approx(0.5 * np.log(5.0), abs=0.1)
    with pytest.raises(ValueError, match="noise_variance must be > 0"):
        knn_information(points, np.zeros(5000, int), noise_variance=0.0)


# ---------------------------------------------------------------- bootstrap and dispatch


def test_bootstrap_intervals_cover_the_true_information_at_their_level():
    # Y = T xor noise with flip probability 0.2: I(T;Y) = 1 - h(0.2) bits exactly.
    truth = 1 + 0.2 * np.log2(0.2) + 0.8 * np.log2(0.8)
    covered = 0
    for seed in range(60):
        generator = np.random.default_rng(seed)
        t = generator.integers(0, 2, 800)
        y = np.where(generator.random(800) < 0.2, 1 - t, t)

        def estimate(rows, t=t, y=y):
            return plugin_information(t[rows, None], y[rows])

        low, high = bootstrap_interval(estimate, 800, 100, 0.9, seed)["I_TY"]
        covered += low <= truth <= high
    assert 0.8 <= covered / 60 <= 0.99


def test_bootstrap_rejects_meaningless_settings():
    with pytest.raises(ValueError, match="n_resamples"):
        bootstrap_interval(lambda rows: {"H_T": 0.0}, 10, n_resamples=1)
    with pytest.raises(ValueError, match="level"):
        bootstrap_interval(lambda rows: {"H_T": 0.0}, 10, level=1.5)


def test_estimate_layer_returns_each_estimators_own_values_and_shares_the_kde_pass(rng, monkeypatch):
    activations = np.tanh(rng.normal(size=(600, 3)))
    codes = np.digitize(activations, np.linspace(-1, 1, 30))
    labels = rng.integers(0, 2, 600)
    names = ["plugin", "miller-madow", "kde-upper", "kde-lower", "knn"]
    kde_calls = []

    def counting_kde(*args, **kwargs):
        kde_calls.append(args)
        return kde_information(*args, **kwargs)

    monkeypatch.setattr(registry, "kde_information", counting_kde)
    values = estimate_layer(names, labels, codes=codes, activations=activations, noise_variance=1.0e-2)
    assert list(values) == names
    assert len(kde_calls) == 1  # both bounds from one pass over the pairwise distances
    bounds = kde_information(activations, labels, 1.0e-2)
    expected = {
        "plugin": plugin_information(codes, labels),
        "miller-madow": plugin_information(codes, labels, miller_madow=True),
        "kde-upper": bounds["upper"],
        "kde-lower": bounds["lower"],
        "knn": knn_information(activations, labels, 1.0e-2, n_neighbors=3, seed=0),
    }
    limits = ceilings(labels, None)
    for name in names:
        bounded, n_capped = apply_ceilings(expected[name], limits)
        assert values[name] == pytest.approx({**bounded, "capped": n_capped}, abs=1e-12), name
    assert values["kde-lower"]["I_XT"] <= values["kde-upper"]["I_XT"]
    with pytest.raises(ValueError, match="need activations"):
        estimate_layer(["kde-upper"], labels, codes=codes)


def test_information_api_on_separated_classes_gives_the_closed_forms_without_binning(rng):
    from scipy.special import digamma

    labels = (rng.random(400) < 0.3).astype(int)
    activations = rng.normal(size=(400, 2)) + np.where(labels[:, None] == 1, 20.0, -20.0) * np.array([1.0, 0.0])
    counts = np.bincount(labels)
    h_y = -np.sum(counts / 400 * np.log2(counts / 400))
    kde = information(activations, labels, "kde-upper", noise_variance=1.0e-2)
    i_xt, _ = _dense_kde_mi_nats(activations - activations.mean(0), labels, 1.0e-2)
    assert kde["I_XT"] * LN2 == pytest.approx(i_xt, abs=1e-10)
    # Classes 40 noise widths apart: the class is read off T + Z exactly, I(T;Y) = H(Y).
    assert kde["I_TY"] == pytest.approx(h_y, abs=1e-9)
    knn = information(activations, labels, "knn", noise_variance=1.0e-3)
    # Ross's estimator with no other class within reach: psi(N m) - <psi(N_y m)> over m = 8 draws per row, in bits.
    # That digamma difference exceeds H(Y) by ~2e-4 bits, so the ceiling clips it and counts it.
    ross = digamma(400 * 8) - np.mean(digamma(8 * counts[labels]))
    assert ross / LN2 > h_y + 1e-5
    assert knn["I_TY"] == pytest.approx(h_y, abs=1e-12) and knn["capped"] >= 1
