"""H(T) beside I(X;T) and I(T;Y) in the per-layer figures, and I(T;Y) against its ceiling H(Y): the drawn data
are the metrics (read back from the figures' lines and bars and from the data the figure code built)."""

import numpy as np
import pytest
import xarray as xr

from ibpipe.config.plot import PlotParams
from ibpipe.infoplane.figures import report_figures
from ibpipe.io.files import write_figures

LAYERS = ["hidden1", "hidden2", "output"]
ESTIMATORS = ["plugin", "kde-upper"]
H_Y = 0.97


@pytest.fixture(scope="module")
def metrics():
    generator = np.random.default_rng(3)
    shape = (6, len(LAYERS), len(ESTIMATORS), 3)
    dims = ("epoch", "layer", "estimator", "trial")
    coords = {"epoch": [0, 1, 2, 4, 8, 16], "layer": LAYERS, "estimator": ESTIMATORS, "trial": [0, 1, 2]}
    # H(T) well apart from I(X;T), as with a coded X, so a panel drawing the wrong one cannot pass.
    variables = {
        name: (dims, generator.uniform(low, high, shape))
        for name, low, high in (("H_T", 5.0, 9.0), ("I_XT", 1.0, 4.0), ("I_TY", 0.1, H_Y))
    }
    return xr.Dataset(variables, coords=coords, attrs={"H_Y": H_Y, "H_X": 9.5, "n_samples": 100})


def _history():
    epochs = np.arange(17)
    curves = {
        f"{split}_{kind}": (("epoch", "trial"), np.ones((17, 3)))
        for split in ("train", "test")
        for kind in ("loss", "accuracy")
    }
    return xr.Dataset(curves, coords={"epoch": epochs, "trial": [0, 1, 2]})


@pytest.fixture(scope="module")
def figures(metrics):
    return report_figures(metrics, _history(), {"epochs": [0, 1, 2, 4, 8, 16], "method": "all"}, PlotParams())[0]


def _lines(axis, names):
    """{label: (x, y)} of the axis's lines labelled with one of ``names``."""
    return {
        line.get_label(): (line.get_xdata(), line.get_ydata()) for line in axis.get_lines() if line.get_label() in names
    }


def test_the_figures_exist_and_draw_h_t_beside_the_two_informations(metrics, figures, tmp_path):
    shown = ("information_ceiling", "information_over_epochs_plugin", "estimator_comparison")
    write_figures(tmp_path / "figures", {name: figures[name] for name in shown}, dpi=30)
    assert {path.name for path in (tmp_path / "figures").iterdir()} == {f"{name}.png" for name in shown}
    means = metrics.mean("trial")
    for estimator in ESTIMATORS:
        axes = figures[f"information_over_epochs_{estimator}"].axes
        assert [axis.get_ylabel() for axis in axes] == ["H(T) [bits]", "I(X;T) [bits]", "I(T;Y) [bits]"]
        for axis, quantity in zip(axes, ("H_T", "I_XT", "I_TY")):
            drawn = _lines(axis, LAYERS)
            assert sorted(drawn) == sorted(LAYERS)
            for layer, (x, y) in drawn.items():
                assert np.array_equal(x, metrics.epoch.values)
                np.testing.assert_allclose(y, means[quantity].sel(layer=layer, estimator=estimator).values, rtol=1e-12)
    comparison = figures["estimator_comparison"].axes  # the last hidden layer, one line per estimator
    for axis, quantity in zip(comparison, ("H_T", "I_XT", "I_TY")):
        for estimator, (_, y) in _lines(axis, ESTIMATORS).items():
            np.testing.assert_allclose(y, means[quantity].sel(layer="hidden2", estimator=estimator).values)


def test_the_ceiling_figure_draws_i_ty_over_h_y_and_the_last_epoch(metrics, figures):
    figure = figures["information_ceiling"]
    means = metrics.I_TY.sel(estimator="plugin").mean("trial")
    data = figure.plot_data
    assert data.attrs["H_Y"] == H_Y and data.attrs["final_epoch"] == 16
    np.testing.assert_allclose(data.share.transpose("epoch", "layer").values, (means / H_Y).transpose("epoch", "layer"))
    shares, bars = figure.axes
    for layer, (_, y) in _lines(shares, LAYERS).items():
        np.testing.assert_allclose(y, means.sel(layer=layer).values / H_Y, rtol=1e-12)
    assert _lines(shares, ["H(Y)"])["H(Y)"][1] == [1.0, 1.0]
    heights = [patch.get_height() for patch in bars.patches]
    np.testing.assert_allclose(heights, means.isel(epoch=-1).sel(layer=LAYERS).values, rtol=1e-12)
    assert _lines(bars, [f"H(Y) = {H_Y:.3f}"])[f"H(Y) = {H_Y:.3f}"][1] == [H_Y, H_Y]
    assert [text.get_text() for text in bars.texts] == [f"{share:.0%}" for share in means.isel(epoch=-1) / H_Y]
