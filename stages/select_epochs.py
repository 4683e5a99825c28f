"""DVC stage `select`: decide which epochs are measured.

Fixed schedules need only the number of epochs; the delta-skip methods probe the trained
network (from data/weights.zarr) at the epochs they consider, on Dask workers.
(Not named select.py: a script of that name would shadow the standard library module.)
"""

from pathlib import Path

from ibpipe import store
from ibpipe.config import load_params
from ibpipe.parallel import dask_client
from ibpipe.probing import parallel_probe, probe_setup
from ibpipe.selection import delta_skip_approximate, delta_skip_exact, epoch_schedule
from ibpipe.stage import run_stage

SEARCHES = {"delta-exact": delta_skip_exact, "delta-approx": delta_skip_approximate}


def main(params_file: Path = Path("params.yaml"), weights: Path = Path("data/weights.zarr"), out: Path = Path("data/selection.json")) -> None:
    params = load_params(params_file)
    choice = params.select
    if choice.method in SEARCHES:
        selection = _delta_skip(params, weights)
    else:
        epochs = epoch_schedule(choice.method, params.train.epochs, choice.every, choice.n_points, tuple(choice.step_bounds), tuple(choice.step_sizes))
        selection = {"epochs": epochs.tolist()}
    store.write_json(out, {"method": choice.method, **selection})
    print(f"select: {len(selection['epochs'])} of {params.train.epochs + 1} epochs ({choice.method})")


def _delta_skip(params, weights: Path) -> dict:
    choice = params.select
    shared, source_entropies = probe_setup(params, str(weights.resolve()))
    with dask_client("local", choice.workers) as client:
        probe = parallel_probe(client, shared)
        result = SEARCHES[choice.method](params.train.epochs, probe, source_entropies, choice.delta, choice.factor)
    return {"delta": choice.delta, **result}


if __name__ == "__main__":
    run_stage(main)
