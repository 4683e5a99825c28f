"""Epochs per second of the default ``train`` stage: this code against an earlier commit, on identical data.

Runs ``stages/train.py`` of both code trees (this working tree, and ``--before``, a git ref extracted with
``git archive`` into a temporary directory) on the default params.yaml with ``train.epochs`` set to
``--epochs``, alternating before/after for ``--repeats`` rounds. Prints each tree's median stage wall time,
epochs per second and CPU seconds (the stage and its worker process: the work, apart from the load of other
jobs), the after/before ratios measured in this one run, the machine load seen (``os.getloadavg``), and
whether the two weights.zarr stores hold the same numbers bit for bit (every weight and metric of every
epoch and trial). A stage's wall time includes its start (imports, the worker's start): at the default
8000 epochs that is a few seconds of it.

    python benchmarks/bench_train.py                           # 1000 epochs, against main
    python benchmarks/bench_train.py --epochs 8000 --before 5fead0b~1 --repeats 3
    python benchmarks/bench_train.py --processes 1             # train.processes for both trees
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml
import zarr

ROOT = Path(__file__).resolve().parents[1]


def _extract(ref: str, into: Path) -> Path:
    """The committed tree of ``ref`` in ``into`` (``git archive``: no checkout, the working tree is untouched)."""
    into.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _params(tree: Path, epochs: int, processes: int | None, out: Path) -> Path:
    """The tree's own params.yaml with ``train.epochs`` (and ``train.processes`` if given) replaced."""
    params = yaml.safe_load((tree / "params.yaml").read_text())
    params["train"]["epochs"] = epochs
    if processes is not None:
        params["train"]["processes"] = processes
    out.write_text(yaml.safe_dump(params, sort_keys=False))
    return out


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def run_stage(tree: Path, params: Path, store: Path, live: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the stage and its workers) of one run of the tree's train stage."""
    env = {**os.environ, "PYTHONPATH": str(tree), "IBPIPE_PROGRESS": "off", "DVC_NO_ANALYTICS": "1"}
    command = [sys.executable, "stages/train.py", "--params-file", str(params), "--out", str(store)]
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run([*command, "--live", str(live)], cwd=tree, env=env, check=True, capture_output=True)
    return time.perf_counter() - start, _children_cpu() - cpu


def same_numbers(first: Path, second: Path) -> tuple[bool, int]:
    """(every array of the two weights stores equal bit for bit, arrays compared)."""
    one, two = zarr.open_group(str(first), mode="r"), zarr.open_group(str(second), mode="r")
    names = [f"{group}/{name}" for group in ("weights", "history") for name, _ in one[group].arrays()]
    equal = all(name in two and np.array_equal(one[name][...], two[name][...], equal_nan=True) for name in names)
    return equal, len(names)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--before", default="main", help="git ref of the code to compare against")
    parser.add_argument("--repeats", type=int, default=1, help="alternating before/after rounds (median)")
    parser.add_argument("--processes", type=int, default=None, help="train.processes for both (default: params)")
    args = parser.parse_args()
    load_start = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="bench-train-") as scratch:
        scratch = Path(scratch)
        trees = {"before": _extract(args.before, scratch / "before"), "after": ROOT}
        times: dict[str, list[tuple[float, float]]] = {tag: [] for tag in trees}
        for _ in range(args.repeats):
            for tag, tree in trees.items():
                params = _params(tree, args.epochs, args.processes, scratch / f"params-{tag}.yaml")
                times[tag].append(run_stage(tree, params, scratch / f"{tag}.zarr", scratch / f"live-{tag}"))
        equal, compared = same_numbers(scratch / "before.zarr", scratch / "after.zarr")
    load_end = os.getloadavg()
    print(f"train stage, default params, {args.epochs} epochs, {args.repeats} round(s), before = {args.before}")
    print(f"load average at start {load_start[0]:.2f}, at end {load_end[0]:.2f} (1 min)")
    wall = {tag: statistics.median(t for t, _ in runs) for tag, runs in times.items()}
    cpu = {tag: statistics.median(c for _, c in runs) for tag, runs in times.items()}
    print(f"{'':>7} {'wall s':>8} {'epochs/s':>9} {'cpu s':>8}")
    for tag in trees:
        print(f"{tag:>7} {wall[tag]:>8.1f} {args.epochs / wall[tag]:>9.1f} {cpu[tag]:>8.1f}")
    print(
        f"after/before: epochs/s x{wall['before'] / wall['after']:.2f}, cpu s x{cpu['after'] / cpu['before']:.2f}; "
        f"same numbers bit for bit: {'yes' if equal else 'NO'} ({compared} arrays)"
    )


if __name__ == "__main__":
    main()
