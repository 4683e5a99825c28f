"""The curves on synthetic manifolds of known dimension: estimated against true dimension for every
curve and estimator."""

from __future__ import annotations

from ibpipe.ae_entropy.curves import entropy_curves
from ibpipe.ae_entropy.params import AutoencoderSettings, CodeMeasureSettings
from ibpipe.ae_entropy.points import prepare_points

# (manifold, ambient dimension D, k) of the validation run: the usual test manifolds of the
# intrinsic-dimension literature, the swiss roll (Tenenbaum, de Silva & Langford, Science 290, 2000),
# the S-curve (Roweis & Saul, Science 290, 2000), a linear subspace and a sphere.
VALIDATION_CASES = (("linear", 20, 5), ("swissroll", 10, 2), ("scurve", 10, 2), ("sphere", 10, 3))


VALIDATION_COLUMNS = (
    "bend_H_raw",
    "bend_H_std",
    "bend_I_noise",
    "mse_elbow",
    "corrdim_codes_dmax",
    "corrdim_data",
    "nn_dim_data",
)


def validate_on_manifolds(
    dmax: int,
    n_samples: int,
    noise: float,
    seed: int,
    training: AutoencoderSettings,
    measuring: CodeMeasureSettings,
    client,
) -> list[dict]:
    """Estimated against true dimension for every curve and estimator, one row per synthetic manifold."""
    from ibpipe.data.manifolds import make_manifold

    rows = []
    for name, ambient, k in VALIDATION_CASES:
        raw, true_dim = make_manifold(name, n_samples, ambient, k, noise, seed)
        curves = entropy_curves(
            prepare_points(raw, n_samples, seed), dmax, training, measuring, client, f"{name} in R^{ambient}"
        )
        row = {"manifold": name, "D": ambient, "true_dim": true_dim}
        row.update({column: float(curves.attrs[column]) for column in VALIDATION_COLUMNS if column in curves.attrs})
        row["corrdim_codes_dmax"] = float(curves.corrdim_codes.values[-1])
        rows.append(row)
    return rows


def validation_markdown(rows: list[dict]) -> str:
    header = ["manifold", "D", "true_dim", *VALIDATION_COLUMNS]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    for row in rows:
        lines.append(
            "| "
            + " | ".join(f"{row[key]:.2f}" if isinstance(row[key], float) else str(row[key]) for key in header)
            + " |"
        )
    return "\n".join(lines) + "\n"
