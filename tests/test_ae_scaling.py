"""The autoencoder study's Monte Carlo entropy of the codes and its ln C(r) against ln r curves."""

import numpy as np
import pytest
from scipy.spatial.distance import cdist, pdist
from scipy.special import logsumexp

from ibpipe.ae_entropy.curves import CORRELATION_CURVE, code_measures, curve_dataset, monte_carlo_split
from ibpipe.ae_entropy.params import CodeMeasureSettings
from ibpipe.ae_entropy.plots import ae_entropy_curves
from ibpipe.ae_entropy.scaling import correlation_curve
from ibpipe.dimension.correlation import correlation_dimension


def test_the_correlation_curve_is_the_share_of_pairs_closer_than_r_with_its_fitted_range(rng):
    points = rng.uniform(size=(150, 2))
    curve = correlation_curve(points, 0.01, 0.2, n_radii=25)
    distances = pdist(points)  # 11175 pairs: all of them, no subset
    radii = np.exp(curve["ln_r"])
    assert radii[0] == pytest.approx(distances.min()) and radii[-1] == pytest.approx(distances.max())
    shares = np.array([np.mean(distances <= r * (1 + 1e-12)) for r in radii])
    np.testing.assert_allclose(curve["ln_C"], np.log(shares), rtol=0, atol=1e-12)
    assert curve["ln_C"][-1] == pytest.approx(0.0)
    np.testing.assert_allclose(np.exp(curve["fit_ln_r"]), np.quantile(distances, [0.01, 0.2]), rtol=1e-12)
    assert curve["fit_line"][0] == correlation_dimension(points, 0.01, 0.2)


def test_monte_carlo_entropy_of_the_codes_is_minus_the_mean_kde_log_density_of_a_held_out_half(rng):
    codes = rng.normal(size=(300, 2)) * [1.0, 0.3]
    settings = CodeMeasureSettings(bandwidth=0.25, seed=4)
    measured = code_measures(codes, settings)
    reference, held_out = monte_carlo_split(300, 4)
    assert len(np.intersect1d(reference, held_out)) == 0 and len(np.union1d(reference, held_out)) == 300
    squared = cdist(codes[held_out], codes[reference], "sqeuclidean")
    log_density = logsumexp(-squared / (2 * 0.25**2), axis=1) - np.log(150) - np.log(2 * np.pi * 0.25**2)
    assert measured["H_mc"] == pytest.approx(-log_density.mean(), abs=1e-10)
    assert measured["H_mc"] != pytest.approx(measured["H_raw"], abs=1e-3)  # a different estimate, not a copy
    assert measured["corrdim_codes"] == measured[CORRELATION_CURVE]["fit_line"][0]


def test_the_curves_and_the_figure_hold_the_monte_carlo_entropy_and_the_correlation_integrals(rng):
    dims = [1, 2, 3]
    results = []
    for d in dims:
        codes = rng.normal(size=(120, d))
        results.append({"mse": 0.1 / d, "epochs": 5.0, **code_measures(codes, CodeMeasureSettings(bandwidth=0.5))})
    curves = curve_dataset(dims, results, {"corrdim_data": 2.0, "nn_dim_data": 2.0}, {"source": "test"})
    assert curves.H_mc.dims == ("d",) and curves.H_mc.attrs["units"] == "nat" and "bend_H_mc" in curves.attrs
    assert curves.ln_C.dims == ("d", "radius") and curves.fit_ln_r.dims == ("d", "bound")
    for position, result in enumerate(results):
        for name in ("ln_r", "ln_C", "fit_ln_r", "fit_line"):
            np.testing.assert_array_equal(curves[name].values[position], result[CORRELATION_CURVE][name])
    figure = ae_entropy_curves(curves)
    entropy_axis, scaling_axis = figure.axes[0], figure.axes[3]
    (mc,) = [line for line in entropy_axis.get_lines() if line.get_label().startswith("H_mc")]
    np.testing.assert_array_equal(mc.get_ydata(), curves.H_mc.values)
    lines = {line.get_label(): line for line in scaling_axis.get_lines()}
    for d in dims:
        one = curves.sel(d=d)
        np.testing.assert_array_equal(lines[f"d = {d}"].get_xdata(), one.ln_r.values)
        np.testing.assert_array_equal(lines[f"d = {d}"].get_ydata(), one.ln_C.values)
        fitted = lines[f"fit d = {d}"]
        np.testing.assert_array_equal(fitted.get_xdata(), one.fit_ln_r.values)  # the fitted range, marked
        slope, intercept = one.fit_line.values
        np.testing.assert_allclose(fitted.get_ydata(), slope * one.fit_ln_r.values + intercept)
