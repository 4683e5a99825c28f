"""DVC stage `select`: decide which epochs are measured.

Fixed schedules need only the number of epochs; the delta-skip methods probe the trained
network (from data/weights.zarr) at the epochs they consider, on Dask workers.
(Not named select.py: a script of that name would shadow the standard library module.)
"""

from pathlib import Path

from ibpipe.config.checks import load_sections
from ibpipe.config.dataset import DatasetParams
from ibpipe.config.reduce import ReduceParams
from ibpipe.config.select import SelectParams
from ibpipe.config.train import TrainParams
from ibpipe.data.datasets import load_dataset
from ibpipe.infoplane.probing import parallel_probe, probe_setup
from ibpipe.infoplane.selection import delta_skip_approximate, delta_skip_exact, epoch_schedule
from ibpipe.io.files import write_json
from ibpipe.io.stage import run_stage
from ibpipe.parallel import dask_client

SEARCHES = {"delta-exact": delta_skip_exact, "delta-approx": delta_skip_approximate}


def main(
    params_file: Path = Path("params.yaml"),
    weights: Path = Path("data/weights.zarr"),
    out: Path = Path("data/selection.json"),
) -> None:
    select_params, fit = load_sections(params_file, SelectParams, TrainParams)
    if select_params.method in SEARCHES:
        selection = _delta_skip(params_file, select_params, fit.epochs, weights)
    else:
        epochs = epoch_schedule(
            select_params.method,
            fit.epochs,
            select_params.every,
            select_params.n_points,
            tuple(select_params.step_bounds),
            tuple(select_params.step_sizes),
        )
        selection = {"epochs": epochs.tolist()}
    write_json(out, {"method": select_params.method, **selection})
    print(f"select: {len(selection['epochs'])} of {fit.epochs + 1} epochs ({select_params.method})")


def _delta_skip(params_file: Path, select_params: SelectParams, n_epochs: int, weights: Path) -> dict:
    data, reduce = load_sections(params_file, DatasetParams, ReduceParams)
    dataset = load_dataset(**data.to_dict())
    shared, source_entropies = probe_setup(dataset, reduce, select_params.probe, str(weights.resolve()))
    with dask_client("local", select_params.workers) as client:
        probe = parallel_probe(client, shared)
        result = SEARCHES[select_params.method](
            n_epochs, probe, source_entropies, select_params.delta, select_params.factor
        )
    return {"delta": select_params.delta, **result}


if __name__ == "__main__":
    run_stage(main)
