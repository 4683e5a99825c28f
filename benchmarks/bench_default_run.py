"""The default experiment's time budget: `dvc repro` in a fresh clone, seconds and peak memory per stage.

Clones the repository (the committed HEAD of ``--source``) into a temporary directory, reuses an existing
virtual environment (installation is not timed), then runs every stage of dvc.yaml in topological order,
one ``dvc repro --single-item <stage>`` each, under a wrapper that reports the stage's wall time and the
largest resident set of any process it started (``ru_maxrss`` of the waited-for children). Prints the
machine load (``os.getloadavg``) at start and end: figures measured beside other jobs are loaded figures.

    python benchmarks/bench_default_run.py                 # the repository this script is in
    python benchmarks/bench_default_run.py --keep          # keep the clone (its path is printed)
    python benchmarks/bench_default_run.py --venv /path/to/.venv

The goal the project keeps: the whole default run within 6 minutes on 2 quiet cores.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _topological(stages: dict) -> list[str]:
    """Stage names of dvc.yaml, each after every stage whose outputs it depends on (file order breaks ties)."""
    outs = {}
    for name, stage in stages.items():
        for out in stage.get("outs", []) + stage.get("metrics", []) + stage.get("plots", []):
            path = next(iter(out)) if isinstance(out, dict) else out
            outs[str(path).rstrip("/")] = name

    def producers(name: str) -> set[str]:
        found = set()
        for dep in stages[name].get("deps", []):
            dep = str(dep).rstrip("/")
            for out, producer in outs.items():
                if producer != name and (dep == out or dep.startswith(out + "/") or out.startswith(dep + "/")):
                    found.add(producer)
        return found

    order: list[str] = []
    pending = list(stages)
    while pending:
        for name in pending:
            if producers(name) <= set(order):
                order.append(name)
                pending.remove(name)
                break
        else:
            raise RuntimeError(f"dvc.yaml has a dependency cycle among {pending}")
    return order


def _run_stage(clone: Path, stage: str, env: dict, log) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MB of the stage's processes, and return code of one `dvc repro -s`."""
    wrapper = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "rc = subprocess.call(sys.argv[1:])\n"
        "dt = time.perf_counter() - t\n"
        "print(f'@@ {dt:.3f} {resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss} {rc}', file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    command = [sys.executable, "-c", wrapper, "dvc", "repro", "--single-item", stage]
    result = subprocess.run(command, cwd=clone, env=env, stdout=log, stderr=subprocess.PIPE, text=True)
    lines = result.stderr.splitlines()
    log.write("\n".join(line for line in lines if not line.startswith("@@ ")) + "\n")
    log.flush()
    marker = [line for line in lines if line.startswith("@@ ")][-1].split()
    return float(marker[1]), int(marker[2]) / 1024.0, int(marker[3])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=ROOT, help="repository to clone (its committed HEAD)")
    parser.add_argument("--venv", type=Path, default=None, help="virtual environment to reuse (default: .venv)")
    parser.add_argument("--keep", action="store_true", help="keep the clone")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    args = parser.parse_args(argv)

    venv = args.venv or next(
        (p for p in [args.source / ".venv", ROOT / ".venv", Path(sys.prefix)] if (p / "bin" / "dvc").exists()), None
    )
    if venv is None:
        parser.error("no virtual environment with dvc found: pass --venv (run `make install` first)")
    load_start = os.getloadavg()
    workdir = Path(tempfile.mkdtemp(prefix="ibpipe-default-run-"))
    clone = workdir / "repo"
    subprocess.run(["git", "clone", "--quiet", str(args.source), str(clone)], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(
        PATH=f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}",
        VIRTUAL_ENV=str(venv),
        PYTHONPATH=str(clone),
        DVC_NO_ANALYTICS="1",
    )
    stages = yaml.safe_load((clone / "dvc.yaml").read_text())["stages"]
    order = _topological(stages)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True)
    print(f"commit {commit.stdout.strip()}, clone {clone}, venv {venv}, cores {os.cpu_count()}")
    print(f"load average at start: {load_start[0]:.2f} {load_start[1]:.2f} {load_start[2]:.2f}", flush=True)

    rows = []
    failed = None
    with open(workdir / "repro.log", "w") as log:
        start = time.perf_counter()
        for stage in order:
            seconds, peak_mb, rc = _run_stage(clone, stage, env, log)
            rows.append({"stage": stage, "seconds": round(seconds, 1), "peak_mb": round(peak_mb), "rc": rc})
            failure = "" if rc == 0 else f"  FAILED rc {rc}"
            print(f"{stage:<22} {seconds:8.1f} s {peak_mb:8.0f} MB{failure}", flush=True)
            if rc != 0:
                failed = stage
                break
        total = time.perf_counter() - start
    load_end = os.getloadavg()
    print(f"{'total':<22} {total:8.1f} s {max(r['peak_mb'] for r in rows):8.0f} MB (largest stage)")
    print(f"load average at end: {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    print(f"dvc output: {workdir / 'repro.log'}")
    if args.json:
        report = {"stages": rows, "total_s": round(total, 1), "load_start": load_start, "load_end": load_end}
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    if not args.keep and failed is None:
        shutil.rmtree(clone, ignore_errors=True)
    if failed:
        print(f"stage {failed} failed: see {workdir / 'repro.log'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
