"""ibpipe: information-plane measurements of neural networks as a cached DVC pipeline.

The public API:

- ``information(t, y, estimator="plugin", **options)``: H(T), I(X;T), I(T;Y) in bits for one layer;
- ``open_metrics(path)``: the metrics Dataset a pipeline run wrote (dims epoch, layer, estimator);
- ``load_params(path)``: params.yaml, validated.
"""

from ibpipe.config import ParamsError, load_params
from ibpipe.measure import information
from ibpipe.store import open_metrics

__version__ = "0.1.0"
__all__ = ["ParamsError", "__version__", "information", "load_params", "open_metrics"]
