"""DVC stage `select`: decide which epochs are measured.

Fixed schedules need only the number of epochs; the delta-skip methods probe the trained
network (from data/weights.zarr) at the epochs they consider, on Dask workers.
(Not named select.py: a script of that name would shadow the standard library module.)
"""

from pathlib import Path

from ibpipe.config.dataset import DatasetParams
from ibpipe.config.reduce import ReduceParams
from ibpipe.config.select import SELECT_METHODS, SelectParams
from ibpipe.config.train import TrainParams
from ibpipe.data.datasets import load_dataset
from ibpipe.infoplane.selection import epoch_schedule, selectable_epochs
from ibpipe.io.files import write_json
from ibpipe.io.stage import run_stage
from ibpipe.schema import load_sections

# The delta-skip methods (probing.SEARCHES): only they import the prober, and with it torch (~1.5 s a process).
SEARCHES = tuple(method for method in SELECT_METHODS if method.startswith("delta-"))


def main(
    params_file: Path = Path("params.yaml"),
    weights: Path = Path("data/weights.zarr"),
    out: Path = Path("data/selection.json"),
) -> None:
    select_params, fit = load_sections(params_file, SelectParams, TrainParams)
    # Weights recorded by ibpipe.Recorder bring their own number of epochs.
    n_epochs = selectable_epochs(str(weights), select_params.method, fit.epochs, SEARCHES)
    if select_params.method in SEARCHES:
        from ibpipe.infoplane.probing import delta_skip_selection

        data, reduce = load_sections(params_file, DatasetParams, ReduceParams)
        dataset = load_dataset(**data.to_dict())
        selection = delta_skip_selection(select_params, n_epochs, dataset, reduce, str(weights.resolve()))
    else:
        epochs = epoch_schedule(
            select_params.method,
            n_epochs,
            every=select_params.every,
            n_points=select_params.n_points,
            step_bounds=tuple(select_params.step_bounds),
            step_sizes=tuple(select_params.step_sizes),
        )
        selection = {"epochs": epochs.tolist()}
    write_json(out, {"method": select_params.method, **selection})
    print(f"select: {len(selection['epochs'])} of {n_epochs + 1} epochs ({select_params.method})")


if __name__ == "__main__":
    run_stage(main)
