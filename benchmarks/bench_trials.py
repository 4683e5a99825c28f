"""Wall time of S trials against one single run: the default 12-bit network (Shwartz-Ziv & Tishby 2017).

Times what the train stage does per run (every epoch trained, evaluated on train and test rows, and its
weights copied out), without writing the store. S = 1 is a single run (``train_epochs``, the plain torch
loop); S > 1 is ``train_trials``: the trials split over ``--processes`` processes, each share one batched
model. Prints the ratios to S = 1 measured in this one run, the CPU seconds of this process and its
children (which tell the work apart from the load of other jobs on a shared machine), and peak memory.

    PYTHONPATH=. python benchmarks/bench_trials.py --epochs 8000 --trials 1 10 50 --processes 2
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from ibpipe.data.datasets import load_dataset
from ibpipe.nn.architectures import build_model, model_spec
from ibpipe.nn.training import train_epochs
from ibpipe.nn.trials import train_trials

SPEC = model_spec("mlp", (12,), 2, widths=[10, 7, 5, 4, 3], activation="tanh")


def _data():
    dataset = load_dataset("tishby12")
    inputs, labels = torch.from_numpy(dataset.inputs), torch.from_numpy(dataset.labels)
    train_rows, test_rows = torch.from_numpy(dataset.train_rows), torch.from_numpy(dataset.test_rows)
    return (inputs[train_rows], labels[train_rows]), (inputs[test_rows], labels[test_rows])


def _cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def time_run(n_trials: int, epochs: int, processes: int = 1) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its children) of one run."""
    train, test = _data()
    start, cpu = time.perf_counter(), _cpu_seconds()
    if n_trials == 1:
        torch.manual_seed(0)
        for _ in train_epochs(build_model(SPEC), train, test, epochs, 256, 4.0e-4, 0):
            pass
    else:
        streams = train_trials(
            lambda: build_model(SPEC),
            train,
            test,
            trials=range(n_trials),
            epochs=epochs,
            batch_size=256,
            learning_rate=4.0e-4,
            seed=0,
            processes=processes,
        )
        for _trials, records in streams:
            for _ in records:
                pass
    return time.perf_counter() - start, _cpu_seconds() - cpu


def _peak_megabytes(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8000)
    parser.add_argument("--trials", type=int, nargs="+", default=[1, 10, 50])
    parser.add_argument("--processes", type=int, default=2, help="processes sharing the trials (S > 1)")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads per process")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    times = {n: time_run(n, args.epochs, args.processes) for n in args.trials}
    wall, cpu = times[args.trials[0]]
    print(f"{args.epochs} epochs, {args.processes} processes, torch threads {args.threads}")
    print(f"{'trials':>6} {'wall s':>8} {'ratio':>6} {'cpu s':>8} {'ratio':>6}")
    for n, (seconds, used) in times.items():
        print(f"{n:>6} {seconds:>8.2f} {seconds / wall:>6.2f} {used:>8.2f} {used / cpu:>6.2f}")
    # ru_maxrss of the children is the largest of them (each a spawned process, not a fork of this one)
    print(
        f"peak RSS: this process {_peak_megabytes(resource.RUSAGE_SELF):.0f} MB, "
        f"largest child {_peak_megabytes(resource.RUSAGE_CHILDREN):.0f} MB"
    )


if __name__ == "__main__":
    main()
