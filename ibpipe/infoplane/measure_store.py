"""An information plane from a recorded store in one call: the pipeline's reduce and estimate steps, in memory.

``measure`` runs what the ``reduce`` stage (``ibpipe.infoplane.coding.write_codes``) and the ``estimate``
stage (``ibpipe.infoplane.tasks.estimate_run``) run, on a store ``ibpipe.Recorder`` wrote or on a
pipeline activations store, without DVC and without a params.yaml: the sections are built from their
declared defaults plus the caller's keywords and validated as params.yaml would be.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import xarray as xr

from ibpipe.errors import MissingFileError, ParamsError
from ibpipe.schema import Section

ACTIVATIONS_STORE = "activations.zarr"  # what ibpipe.Recorder(..., store=DIR) writes under DIR
# A notebook's default: threads share the kernel's memory and need neither child processes (which
# re-import the caller's modules and hold their own copy of the stores) nor a __main__ guard; the
# pipeline's default, a local process cluster, pays seconds of start-up that a small store does not repay.
NOTEBOOK_SCHEDULER = "threads"


def measure(
    store: str | Path,
    estimators: list[str] | str | None = None,
    *,
    reduce: Mapping[str, Any] | Section | None = None,
    codes: str | Path | None = None,
    **settings: Any,
) -> xr.Dataset:
    """Measure H(T), I(X;T) and I(T;Y) of every recorded layer and epoch of ``store``.

    The activations are coded per layer as the ``reduce`` section says (by default Tishby's fixed-width
    binning of the pipeline's defaults) and every estimator of the ``estimate`` section measures each
    (epoch, layer), exactly as ``dvc repro`` would with those two sections in params.yaml.

    Parameters
    ----------
    store : str or Path
        The folder given to ``ibpipe.Recorder(..., store=DIR)`` (it holds ``activations.zarr``), or an
        activations store itself (the pipeline's ``data/activations.zarr``).
    estimators : list of str, optional
        Estimators to run (``estimate.estimators``; default the pipeline's: plugin, miller-madow,
        kde-upper, kde-lower). One name may be given as a string.
    reduce : mapping or ReduceParams, optional
        The ``reduce`` section, or some of its keys over the defaults (e.g. ``{"method": "quantile",
        "n_bins": 8}``).
    codes : str or Path, optional
        Where to keep the integer codes store; by default a temporary folder removed afterwards.
    **settings
        Any other key of the ``estimate`` section (``noise_variance``, ``n_neighbors``, ``seed``,
        ``dimensions``, ``scheduler``, ...). ``scheduler`` defaults to ``"threads"`` here.

    Returns
    -------
    xr.Dataset
        The metrics the estimate stage writes to ``reports/metrics.nc``: ``I_XT``, ``I_TY`` and ``H_T``
        in bits over (``trial``, ``epoch``, ``layer``, ``estimator``), with the stage's other variables and
        the params of every step in ``attrs``.

    Raises
    ------
    ParamsError
        An unknown or invalid setting, naming it (and the closest allowed key).
    MissingFileError
        No activations store at ``store``.

    Example
    -------
    >>> plane = ibpipe.measure("data/run1", estimators=["plugin"])
    >>> plane.I_TY.sel(estimator="plugin", trial=0).plot.line(x="epoch", hue="layer")
    """
    from ibpipe.config.estimate import EstimateParams
    from ibpipe.config.reduce import ReduceParams

    activations = activations_store(store)
    if isinstance(estimators, str):
        estimators = [estimators]
    estimate_raw = {"scheduler": NOTEBOOK_SCHEDULER, **settings}
    if estimators is not None:
        estimate_raw["estimators"] = list(estimators)
    reduce_params = reduce if isinstance(reduce, ReduceParams) else _section(ReduceParams, reduce or {})
    estimate_params = _section(EstimateParams, estimate_raw)
    if codes is not None:
        return _measure(activations, str(codes), reduce_params, estimate_params)
    with tempfile.TemporaryDirectory(prefix="ibpipe-codes-") as folder:
        return _measure(activations, str(Path(folder) / "codes.zarr"), reduce_params, estimate_params)


def activations_store(store: str | Path) -> str:
    """The activations store a Recorder folder holds, or ``store`` itself when it is one; else a clear error."""
    from ibpipe.io.stores import is_url

    if is_url(store):
        return str(store)
    path = Path(store)
    if (path / ACTIVATIONS_STORE).is_dir():
        return str(path / ACTIVATIONS_STORE)
    if (path / ".zgroup").is_file() or (path / "zarr.json").is_file():
        return str(path)
    raise MissingFileError(
        f"{path}: no activations store there; give the folder ibpipe.Recorder(..., store=...) wrote "
        f"(it holds {ACTIVATIONS_STORE}) or an activations store such as data/activations.zarr"
    )


def _section(cls: type[Section], raw: Mapping[str, Any]) -> Any:
    """The section from defaults plus ``raw``, every problem worded as for params.yaml (closest key named)."""
    section, problems = cls.from_raw(raw)
    if problems:
        raise ParamsError("ibpipe.measure: invalid settings:\n  " + "\n  ".join(problems))
    return section


def _measure(activations: str, codes: str, reduce_params: Any, estimate_params: Any) -> xr.Dataset:
    """stages/reduce.py then stages/estimate.py, without their files of params or metrics."""
    from ibpipe.infoplane.coding import write_codes
    from ibpipe.infoplane.tasks import estimate_run
    from ibpipe.io.attrs import PARAMS_ATTR, REDUCTION_DESCRIPTIONS_ATTR
    from ibpipe.io.layers import open_layer_store
    from ibpipe.io.stores import new_store
    from ibpipe.schema import sections_json

    source = open_layer_store(activations)
    with new_store(codes) as root:
        write_codes(source, root, reduce_params, sections_json(reduce_params, upstream=source.attrs.get(PARAMS_ATTR)))
    upstream = open_layer_store(codes).attrs
    attrs = {
        PARAMS_ATTR: sections_json(estimate_params, upstream=upstream.get(PARAMS_ATTR)),
        REDUCTION_DESCRIPTIONS_ATTR: upstream.get(REDUCTION_DESCRIPTIONS_ATTR, "{}"),
    }
    return estimate_run(estimate_params, codes, activations, attrs).load()
