"""What the compress stage reports: its DVC metric (reports/compression.json: the verdict code of W2 against
Euclidean) and, for `python -m ibpipe summary`, the full net, the parameters
that reach the threshold, and the W2-vs-Euclidean tests with their verdict."""

from __future__ import annotations

import math

import xarray as xr

from ibpipe.neurons.statistics import higher_is_better, smallest_parameters_at, verdict_code


def compression_metrics(curves: xr.Dataset) -> dict:
    """The DVC metric of the neuron-space experiment: ``w2.verdict``, the code of W2 against Euclidean
    (``better``, ``worse``, ``none``, ``unclear``; see ``ibpipe.neurons.statistics.verdict_code``), e.g.
    ``{"w2": {"verdict": "unclear"}}``; empty without that comparison.

    One column, so that `dvc metrics show` fits a terminal beside the other experiments' files (a
    second ``test.accuracy`` would also make `dvc exp show` name both by their file). Everything else
    is in compression.nc; ``compression_report`` gives it.
    """
    return {"w2": {"verdict": _verdict_code(curves)}} if "auc_p_value" in curves.attrs else {}


def _verdict_code(curves: xr.Dataset) -> str:
    attrs = curves.attrs
    return verdict_code(
        int(attrs["auc_n"]), float(attrs["auc_mean_difference"]), float(attrs["auc_p_value"]), higher_is_better(curves)
    )


def compression_report(curves: xr.Dataset, mse_threshold: float) -> dict:
    """The report of compression ``curves``; a series task's threshold is ``mse_threshold`` (forecast MSE),
    a classification's 0.9 accuracy."""
    score = curves.attrs["primary_score"]
    report = {"dataset": curves.attrs["dataset"], "covariance_source": curves.attrs["covariance_source"]}
    report.update(
        {
            key: round(float(value), 4)
            for key, value in curves.attrs.items()
            if key.endswith("_full") and key != "params_full"
        }
    )
    report["params_full"] = int(curves.attrs["params_full"])
    threshold, label = (
        (0.9, "params_at_0.90") if score == "accuracy" else (mse_threshold, f"params_at_mse_{mse_threshold:g}")
    )
    report.update({f"{label}_{metric}": value for metric, value in smallest_parameters_at(curves, threshold).items()})
    report.update({key: round(float(value), 3) for key, value in curves.attrs.items() if key.startswith("circle_")})
    if "p_value_overall" in curves.attrs:
        report.update(_comparison(curves, score))
    return report


def _comparison(curves: xr.Dataset, score: str) -> dict:
    """The paired W2-vs-Euclidean tests: sign test over (k, restart) pairs, permutation test of the areas."""
    attrs = curves.attrs
    # d_z is +-inf when every restart differs by the same amount; JSON has no infinity.
    dz = attrs["auc_effect_size_dz"]
    return {
        "p_value_w2_vs_euclidean": float(f"{attrs['p_value_overall']:.3g}"),
        f"mean_{score}_difference_w2_minus_euclidean": round(float(attrs["mean_difference_overall"]), 4),
        "pairs_w2_better": attrs["w2_better"],
        "pairs_euclidean_better": attrs["euclidean_better"],
        "pairs_tied": attrs["ties"],
        "restarts": int(curves.sizes["restart"]),
        **{f"auc_{metric}": round(float(curves.auc.sel(metric=metric).mean()), 4) for metric in ("euclidean", "w2")},
        "auc_difference_w2_minus_euclidean": round(attrs["auc_mean_difference"], 4),
        "auc_difference_ci95": [round(attrs["auc_ci95_low"], 4), round(attrs["auc_ci95_high"], 4)],
        "auc_effect_size_dz": round(dz, 3) if math.isfinite(dz) else None,
        "auc_permutation_p": float(f"{attrs['auc_p_value']:.3g}"),
        "verdict": attrs["verdict"],
        "verdict_code": _verdict_code(curves),
    }
