"""DVC stage `select`: decide which epochs are measured.

Fixed schedules need only the number of epochs; the delta-skip methods probe the trained
network (from data/weights.zarr) at the epochs they consider, on Dask workers.
(Not named select.py: a script of that name would shadow the standard library module.)
"""

from pathlib import Path

from ibpipe import store
from ibpipe.config import load_params
from ibpipe.data import load_dataset
from ibpipe.estimators import entropy_bits
from ibpipe.parallel import dask_client, run_tasks, share
from ibpipe.probing import probe_epochs
from ibpipe.reduce import distinct_input_ids
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
    choice, data, reduce = params.select, params.dataset, params.reduce
    dataset = load_dataset(data.name, data.test_fraction, data.split_seed, data.measure_on)
    inputs, labels = dataset.inputs[dataset.measured_rows], dataset.labels[dataset.measured_rows]
    x_ids = distinct_input_ids(inputs)
    settings = {name: getattr(reduce, name) for name in ("method", "n_bins", "value_range", "bin_size", "q_low", "q_high")}
    shared = {"weights_path": str(weights.resolve()), "inputs": inputs, "labels": labels, "x_ids": x_ids, "reduce_settings": settings, "estimator": choice.probe}
    with dask_client("local", choice.workers) as client:
        shared = share(client, shared)

        def probe(epochs):
            # One task per epoch: bisection rounds measure their midpoints in parallel.
            measured = {}
            for part in run_tasks(client, probe_epochs, [([epoch],) for epoch in epochs], shared, None):
                measured.update(part)
            return measured

        result = SEARCHES[choice.method](params.train.epochs, probe, (entropy_bits(x_ids), entropy_bits(labels)), choice.delta, choice.factor)
    return {"delta": choice.delta, **result}


if __name__ == "__main__":
    run_stage(main)
