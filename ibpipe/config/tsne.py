"""The ``tsne`` section: t-SNE maps of each layer over epochs (stage ``tsne``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ibpipe.config.checks import Section, boolean, integer, is_int, key, list_of, number, text

EPOCH_NAMES = ("first", "peak", "last")


def epoch_choice(value: Any) -> str | None:
    return None if value in EPOCH_NAMES or (is_int(value) and value >= 0) else "first, peak, last or an epoch number"


@dataclass(frozen=True)
class TsneParams(Section):
    section: ClassVar[str] = "tsne"

    epochs: list = key(
        ["first", "peak", "last"],
        list_of(epoch_choice),
        "epochs of each layer's sequence: first, peak (the layer's largest I(X;T)), last, or epoch numbers",
    )
    peak_estimator: str = key("plugin", text, "estimator of reports/metrics.nc whose I(X;T) peak is 'peak'")
    n_rows: int = key(500, integer(10), "rows embedded (a seeded subset of the measured rows, the same each epoch)")
    perplexity: float = key(30.0, number(1.0), "t-SNE perplexity")
    n_iter: int = key(500, integer(1), "optimisation steps of the first map (after 250 early-exaggeration steps)")
    n_iter_next: int = key(250, integer(1), "steps of each later map, started from the previous one, no exaggeration")
    dimensions: int = key(2, integer(2, 3), "2 or 3 (3-D maps use Barnes-Hut)")
    seed: int = key(0, integer(0), "seed of the row subset and of t-SNE")
    gif: bool = key(True, boolean, "also write sequence.gif (needs pillow; skipped with a note otherwise)")
    n_jobs: int = key(1, integer(1, 256), "threads of openTSNE")
