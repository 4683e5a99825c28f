"""The ``tsne`` section: t-SNE maps of each layer over epochs (stage ``tsne``)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from ibpipe.schema import Allowed, Section, setting

EPOCH_NAMES = ("first", "peak", "last")
EpochName = Annotated[
    Literal["first", "peak", "last"] | Annotated[int, Field(ge=0)], Allowed("first, peak, last or an epoch number")
]


class TsneParams(Section):
    section: ClassVar[str] = "tsne"

    epochs: list[EpochName] = setting(
        ["first", "peak", "last"],
        "epochs of each layer's sequence: first, peak (the layer's largest I(X;T)), last, or epoch numbers",
        min_length=1,
    )
    peak_estimator: str = setting("plugin", "estimator of reports/metrics.nc whose I(X;T) peak is 'peak'")
    n_rows: int = setting(
        500, "rows embedded (a seeded subset of the measured rows, the same each epoch)", unit="rows", ge=10
    )
    perplexity: float = setting(30.0, "t-SNE perplexity", ge=1.0)
    n_iter: int = setting(500, "optimisation steps of the first map (after 250 early-exaggeration steps)", ge=1)
    n_iter_next: int = setting(250, "steps of each later map, started from the previous one, no exaggeration", ge=1)
    dimensions: int = setting(2, "2 or 3 (3-D maps use Barnes-Hut)", ge=2, le=3)
    seed: int = setting(0, "seed of the row subset and of t-SNE", ge=0)
    gif: bool = setting(True, "also write sequence.gif (needs pillow; skipped with a note otherwise)")
    n_jobs: int = setting(1, "threads of openTSNE", ge=1, le=256)
