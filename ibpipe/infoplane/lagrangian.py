"""The information-bottleneck Lagrangian of each layer over training."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr


def ib_lagrangian(metrics: xr.Dataset, betas: Sequence[float]) -> xr.DataArray:
    """L_beta = I(X;T) - beta I(T;Y) in bits, for every beta, epoch, layer (and any other dim of the metrics).

    Tishby, Pereira & Bialek (1999) minimise this functional over encoders p(t|x): small beta favours
    compression (low I(X;T)), large beta prediction (high I(T;Y)). Here it is evaluated on the measured
    informations of each layer, so its decrease over epochs shows the layer moving towards the
    bottleneck optimum for that beta. NaN informations give NaN.
    """
    beta = xr.DataArray(np.asarray(betas, dtype=float), dims="beta", attrs={"long_name": "trade-off parameter beta"})
    lagrangian = metrics.I_XT - beta * metrics.I_TY
    lagrangian.attrs = {"units": "bit", "long_name": "IB Lagrangian I(X;T) - beta I(T;Y)"}
    return lagrangian.assign_coords(beta=beta).transpose("beta", ...).rename("ib_lagrangian")
