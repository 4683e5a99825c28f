"""Property-based: ``ibpipe.information`` on any small layer is within its ceilings or raises a clear ValueError."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ibpipe import information
from ibpipe.estimators.registry import ESTIMATORS, NEURAL_ESTIMATORS

DTYPES = [np.float64, np.float32, np.float16, np.int8, np.int64, np.bool_]


def _entropy_bits(values):
    _, counts = np.unique(values, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


@st.composite
def layers(draw):
    n_rows = draw(st.integers(0, 30))
    n_units = draw(st.integers(1, 4))
    dtype = draw(st.sampled_from(DTYPES))
    values = np.asarray(
        draw(st.lists(st.floats(-3, 3, allow_nan=False), min_size=n_rows * n_units, max_size=n_rows * n_units)),
        dtype=np.float64,
    ).reshape(n_rows, n_units)
    if n_rows and draw(st.booleans()):
        values[:, draw(st.integers(0, n_units - 1))] = 0.5  # a constant column
    if n_rows > 1 and draw(st.booleans()):
        values[n_rows // 2 :] = values[: n_rows - n_rows // 2]  # duplicate rows
    if n_rows and draw(st.booleans()):
        values[draw(st.integers(0, n_rows - 1)), 0] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    if dtype == np.bool_:
        layer = values > 0
    elif np.issubdtype(dtype, np.integer):
        layer = np.nan_to_num(values, posinf=3, neginf=-3).round().astype(dtype)
    else:
        layer = values.astype(dtype)
    labels = np.asarray(draw(st.lists(st.integers(0, 2), min_size=n_rows, max_size=n_rows)), dtype=np.int64)
    if draw(st.booleans()):
        labels = labels.astype(np.float32)
    x_ids = None
    if n_rows and draw(st.booleans()):
        x_ids = np.asarray(draw(st.lists(st.integers(0, max(n_rows // 2, 1)), min_size=n_rows, max_size=n_rows)))
    return layer, labels, x_ids


@pytest.mark.parametrize(  # the neural bounds train critics for seconds and give no H(T): their own tests
    "estimator",
    [name for name, info in ESTIMATORS.items() if info.needs != "pre_noise" and name not in NEURAL_ESTIMATORS],
)
@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=layers())
def test_information_is_within_its_ceilings_or_a_documented_value_error(estimator, case):
    layer, labels, x_ids = case
    binning = {"n_bins": 5, "value_range": (-3.0, 3.0)} if layer.dtype.kind == "f" else {}
    options = binning if ESTIMATORS[estimator].needs == "codes" else {"noise_variance": 1.0e-2}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            values = information(layer, labels, estimator, x_ids=x_ids, **options)
        except ValueError as error:
            no_rows = len(layer) == 0 and "no rows" in str(error)
            too_few_for_neighbours = estimator == "knn" and len(layer) <= 3 and "n_neighbors" in str(error)
            assert no_rows or too_few_for_neighbours, str(error)
            return
    if layer.dtype.kind == "f" and not np.all(np.isfinite(layer)):
        assert all(np.isnan(values[q]) for q in ("H_T", "I_XT", "I_TY"))
        assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
        return
    lost_fit = [w for w in caught if "outside their own local Gaussian fit" in str(w.message)]
    declined = {q for q in ("H_T", "I_XT", "I_TY") if np.isnan(values[q])}
    # lga declines (NaN with its warning) the quantities whose local fits an isolated row breaks, only those
    assert bool(declined) == (estimator == "lga" and bool(lost_fit)), (declined, [str(w.message) for w in caught])
    h_x = np.log2(len(layer)) if x_ids is None else _entropy_bits(x_ids)
    assert "H_T" in declined or np.isfinite(values["H_T"])
    assert "I_XT" in declined or 0.0 <= values["I_XT"] <= h_x + 1e-12
    assert "I_TY" in declined or 0.0 <= values["I_TY"] <= _entropy_bits(labels) + 1e-12
    assert values["capped"] in (0, 1, 2)


def test_an_unknown_setting_is_refused_naming_the_closest_one():
    codes, labels = np.array([[0], [1], [2], [3]]), np.array([0, 0, 1, 1])
    with pytest.raises(TypeError, match=r"'noise_varaince' \(did you mean 'noise_variance'\?\)"):
        information(codes, labels, "plugin", noise_varaince=0.1)
    with pytest.raises(ValueError, match="noise_variance"):  # the declared constraint: > 0
        information(codes.astype(float), labels, "kde-upper", noise_variance=-1.0)
    assert information(codes, labels, seed=3) == information(codes, labels)  # a declared setting is accepted
