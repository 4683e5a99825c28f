"""Hostile arguments to the Python API of the estimators: each is a one-sentence error or NaN with one warning.

Two tables. MISUSES: arguments that make no sense (``n_bins=0``, more neighbours than rows); each raises
a ``ValueError`` that is also an ``ibpipe.UserError`` and names the argument, the value and what is
allowed. OVERFLOWING: finite values so large (1e200) that squared distances overflow float64; each
estimator that measures distances returns NaN with exactly one ``RuntimeWarning`` saying why, never inf
and never numpy's own warnings.
"""

import math
import warnings

import numpy as np
import pytest

import ibpipe
from ibpipe.estimators.binning import fixed_width_codes
from ibpipe.estimators.counting import count_states

RNG = np.random.default_rng(0)
T = RNG.normal(size=(40, 3))
Y = RNG.integers(0, 2, 40)

# (case, call, words the message must hold)
MISUSES = [
    ("information n_bins=0", lambda: ibpipe.information(T, Y, n_bins=0), ["n_bins = 0", "at least 2"]),
    ("information n_bins=-3", lambda: ibpipe.information(T, Y, n_bins=-3), ["n_bins = -3", "at least 2"]),
    ("information n_bins=1", lambda: ibpipe.information(T, Y, n_bins=1), ["n_bins = 1", "at least 2"]),
    ("information n_bins=2.5", lambda: ibpipe.information(T, Y, n_bins=2.5), ["n_bins = 2.5", "integer"]),
    ("count_states n_bins=0", lambda: count_states(T, n_bins=0), ["n_bins = 0", "at least 2"]),
    ("fixed_width_codes n_bins=-3", lambda: fixed_width_codes(T, -3, (-1.0, 1.0)), ["n_bins = -3", "at least 2"]),
    (
        "knn with 5 neighbours on 3 rows",
        lambda: ibpipe.information(T[:3], Y[:3], "knn", n_neighbors=5),
        ["n_neighbors", "1..2 for 3 rows", "got 5", "'knn'"],
    ),
    (
        "knn with as many neighbours as rows",
        lambda: ibpipe.information(T[:5], Y[:5], "knn", n_neighbors=5),
        ["1..4 for 5 rows", "got 5"],
    ),
    (
        "mutual_information knn on 3 rows",
        lambda: ibpipe.mutual_information(T[:3], Y[:3], "knn", n_neighbors=5),
        ["1..2 for 3 rows"],
    ),
    (
        "fixed-size codes beyond int32",
        lambda: ibpipe.information(T * 1e200, Y, bin_size=0.1),
        ["overflow int32 codes", "bin_size 0.1", "raise bin_size"],
    ),
]


@pytest.mark.parametrize(("case", "call", "named"), MISUSES, ids=[case for case, _, _ in MISUSES])
def test_each_misuse_of_an_estimator_is_one_user_error_naming_argument_value_and_what_is_allowed(case, call, named):
    with pytest.raises(ValueError) as caught:
        call()
    assert isinstance(caught.value, ibpipe.UserError), type(caught.value)
    for words in named:
        assert words in str(caught.value), (case, str(caught.value))


def test_a_numpy_integer_n_bins_is_accepted():
    assert ibpipe.information(T, Y, n_bins=np.int64(5)) == ibpipe.information(T, Y, n_bins=5)


HUGE = T * 1e200
# (case, call returning the values that must all be NaN)
OVERFLOWING = [
    *[
        (f"information {name}", lambda name=name: list(ibpipe.information(HUGE, Y, name).values())[:3])
        for name in ("kde-upper", "kde-lower", "kde-mc", "knn", "renyi")
    ],
    ("mutual_information ksg", lambda: [ibpipe.mutual_information(HUGE, T[:, :1]).value]),
    ("mutual_information kde-upper", lambda: [ibpipe.mutual_information(HUGE, Y, "kde-upper").value]),
    ("mutual_information mixed", lambda: [ibpipe.mutual_information(HUGE, Y, "mixed").value]),
    ("mutual_information lga", lambda: [ibpipe.mutual_information(HUGE, T[:, :1], "lga").value]),
    ("entropy lga", lambda: [ibpipe.entropy(HUGE, "lga").value]),
    ("entropy kl", lambda: [ibpipe.entropy(HUGE, "kl").value]),
    ("entropy kde", lambda: [ibpipe.entropy(HUGE, "kde").value]),
]


@pytest.mark.parametrize(("case", "call"), OVERFLOWING, ids=[case for case, _ in OVERFLOWING])
def test_values_whose_distances_overflow_give_nan_and_one_warning_saying_why(case, call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = call()
    assert all(math.isnan(value) for value in values), (case, values)
    messages = [str(warning.message) for warning in caught]
    assert len(messages) == 1, (case, messages)
    for words in ("overflow float64", f"{np.abs(HUGE).max():.3g}", "rescale"):
        assert words in messages[0], messages


def test_large_values_that_do_not_overflow_are_measured():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isfinite(ibpipe.entropy(T * 1e100, "kl").value)
