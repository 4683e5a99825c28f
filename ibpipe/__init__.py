"""ibpipe: information-plane measurements of neural networks as a cached DVC pipeline.

The public API, imported on first use so that a stage importing one submodule does not load
(or depend on) the whole library:

- ``information(t, y, estimator="plugin", **settings)``: H(T), I(X;T), I(T;Y) in bits for one layer;
- ``mutual_information(a, b, estimator="auto", ...)``, ``entropy(a, estimator="auto")``: any two
  variables (codes or continuous, (n,) or (n, d)), a labelled result in bits;
- ``measure(store, estimators=..., **settings)``: the metrics Dataset of a recorded store, in memory;
- ``open_metrics(path)``: the metrics Dataset a pipeline run wrote (dims epoch, layer, estimator);
- ``load_params(path)``: params.yaml, validated;
- ``ParamsError``, ``UserError``: what bad params or inputs raise.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

__version__ = "0.1.0"

if os.environ.get("IBPIPE_QUIET_CHILDREN"):  # a stage's worker process: its stage handles Ctrl-C (ibpipe.io.stage)
    import multiprocessing

    # a spawned child has its name before it imports the main module (parent_process() is set only after)
    if multiprocessing.current_process().name != "MainProcess":
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)

_PUBLIC = {
    "information": "ibpipe.estimators.api",
    "mutual_information": "ibpipe.estimators.general",
    "entropy": "ibpipe.estimators.general",
    "open_metrics": "ibpipe.io.files",
    "load_params": "ibpipe.config.params",
    "Recorder": "ibpipe.recorder",
    "measure": "ibpipe.infoplane.measure_store",
    "ParamsError": "ibpipe.errors",
    "UserError": "ibpipe.errors",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    if name not in _PUBLIC:
        raise AttributeError(f"module 'ibpipe' has no attribute {name!r}")
    return getattr(importlib.import_module(_PUBLIC[name]), name)


def __dir__() -> list[str]:
    return sorted(__all__)
