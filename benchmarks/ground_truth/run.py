"""ibpipe's MI estimators and reference implementations on the bmi v1 tasks, on the very same samples.

Run (from the repository root; the reference implementations are the ``bench`` extra):

    python -m benchmarks.ground_truth.run                       # 40 tasks x 10 seeds at N = 5000
    python -m benchmarks.ground_truth.run --n 500 --n 50000     # the scaling
    python -m benchmarks.ground_truth.run --seeds 3 --skip-neural-above 10 --out reports/ground_truth

Every seed draws one sample of a task; every estimator sees that same sample. Written under --out:
``raw.csv`` (one row per task, estimator, N, seed: estimate in bits and seconds, appended as it goes),
``summary.csv`` and ``summary.json`` (per task, estimator and N: truth, mean estimate, bias = mean -
truth, spread = standard deviation over seeds, seconds per sample) and ``bias.png`` (the bias per task
and estimator). Units: bits.

Estimators (columns):
- ibpipe-ksg, ibpipe-ksg2 (when ``ibpipe.mutual_information`` exists), else ibpipe-kl3: the Kozachenko-
  Leonenko entropies of ibpipe/estimators/knn.py combined as H(X) + H(Y) - H(X, Y) (k = 3);
- ibpipe-lga: the local Gaussian approximation (Gao, Ver Steeg & Galstyan 2015; ibpipe/estimators/lga.py,
  30 effective neighbours), O(N^2 d^2): run where X and Y have at most ``LGA_MAX_DIMS`` dimensions together;
- ibpipe-infonce, -nwj, -mine, -smile: ibpipe/estimators/neural.py with its default settings;
- npeet-ksg: NPEET's KSG 1 (``npeet_plus.mi``, k = 3, max-norm; adds a 1e-10 jitter);
- sklearn-mir: scikit-learn's ``mutual_info_regression`` (KSG 1 between one feature and a 1-D target,
  k = 3, after scaling both to unit variance and adding 1e-10 noise). It measures I(X;Y) only when X and
  Y are both 1-D; on the other tasks it would give per-feature marginal informations I(X_i; Y), whose
  sum is not I(X;Y), so it is run on the 1 x 1 tasks alone.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import ibpipe
from benchmarks.ground_truth.tasks import Task, benchmark_tasks
from ibpipe.estimators.knn import kozachenko_leonenko_entropy_nats
from ibpipe.estimators.neural import OBJECTIVES, neural_mutual_information

LN2 = math.log(2)
NEIGHBOURS = 3
LGA_MAX_DIMS = 6
Estimator = Callable[[np.ndarray, np.ndarray, int], float]  # (x, y, seed) -> bits


def ibpipe_mutual_information(x: np.ndarray, y: np.ndarray, estimator: str) -> float:
    """The one place the runner calls ibpipe's k-NN MI, in bits: ``ibpipe.mutual_information`` where it
    exists, else the three Kozachenko-Leonenko entropies of ibpipe/estimators/knn.py."""
    if estimator != "kl3":
        return float(ibpipe.mutual_information(x, y, estimator=estimator, n_neighbors=NEIGHBOURS))
    joint = np.hstack([x, y])
    h = lambda points: kozachenko_leonenko_entropy_nats(points, NEIGHBOURS)  # noqa: E731
    return (h(x) + h(y) - h(joint)) / LN2


def ibpipe_knn_names() -> list[str]:
    return ["ksg", "ksg2", "lga"] if hasattr(ibpipe, "mutual_information") else ["kl3"]


def npeet_ksg(x: np.ndarray, y: np.ndarray, seed: int) -> float:
    import npeet_plus  # imported (slowly, once) by estimators(), outside the timed calls

    np.random.seed(seed)  # NPEET jitters with the global RNG; seeded so a rerun gives the same table
    return float(npeet_plus.mi(x, y, k=NEIGHBOURS, base=2))


def sklearn_regression(x: np.ndarray, y: np.ndarray, seed: int) -> float:
    from sklearn.feature_selection import mutual_info_regression

    return float(mutual_info_regression(x, y[:, 0], n_neighbors=NEIGHBOURS, random_state=seed)[0]) / LN2


def estimators(neural: tuple[str, ...] = OBJECTIVES, references: bool = True, lga: bool = True) -> dict[str, Estimator]:
    table: dict[str, Estimator] = {}
    for name in ibpipe_knn_names() if lga else [name for name in ibpipe_knn_names() if name != "lga"]:
        table[f"ibpipe-{name}"] = lambda x, y, seed, name=name: ibpipe_mutual_information(x, y, name)
    for objective in neural:
        table[f"ibpipe-{objective}"] = lambda x, y, seed, objective=objective: neural_mutual_information(
            x, y, objective=objective, seed=seed
        )
    if references:
        import npeet_plus  # noqa: F401  (first import takes seconds: not inside a timed estimate)
        import sklearn.feature_selection  # noqa: F401

        table["npeet-ksg"] = npeet_ksg
        table["sklearn-mir"] = sklearn_regression
    return table


def applies(name: str, task: Task, skip_neural_above: int | None) -> bool:
    if name == "sklearn-mir":
        return task.dim_x == 1 and task.dim_y == 1
    if name == "ibpipe-lga":
        return task.dim_x + task.dim_y <= LGA_MAX_DIMS
    if skip_neural_above is not None and name.removeprefix("ibpipe-") in OBJECTIVES:
        return max(task.dim_x, task.dim_y) <= skip_neural_above
    return True


def run(
    tasks: list[Task],
    table: dict[str, Estimator],
    sizes: list[int],
    seeds: int,
    out: Path,
    skip_neural_above: int | None = None,
    log: Callable[[str], None] = print,
) -> list[dict]:
    """Every estimator that applies on ``seeds`` samples of every task at every N; raw rows appended to out/raw.csv."""
    out.mkdir(parents=True, exist_ok=True)
    raw_path = out / "raw.csv"
    fields = ["task", "estimator", "n", "seed", "truth_bits", "estimate_bits", "seconds"]
    rows: list[dict] = []
    with raw_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for task in tasks:
            for n in sizes:
                for seed in range(seeds):
                    # one sample per (task, N, seed), shared by every estimator
                    generator = np.random.default_rng([seed, n, _stable_hash(task.id)])
                    x, y = task.sample(n, generator)
                    for name, estimate in table.items():
                        if not applies(name, task, skip_neural_above):
                            continue
                        start = time.perf_counter()
                        value = estimate(x, y, seed)
                        row = {
                            "task": task.id,
                            "estimator": name,
                            "n": n,
                            "seed": seed,
                            "truth_bits": task.truth_bits,
                            "estimate_bits": value,
                            "seconds": time.perf_counter() - start,
                        }
                        writer.writerow(row)
                        handle.flush()
                        rows.append(row)
                log(f"{task.id} N={n}: done")
    return rows


def _stable_hash(text: str) -> int:
    return int.from_bytes(text.encode(), "little") % (2**63)


def summarise(rows: list[dict]) -> list[dict]:
    """Per (task, estimator, N): truth, mean estimate, bias, spread over seeds, seconds per sample."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["task"], row["estimator"], int(row["n"])), []).append(row)
    summary = []
    for (task, name, n), group in groups.items():
        estimates = np.array([float(row["estimate_bits"]) for row in group])
        # An estimator that declines a sample (NaN with a warning) is summarised over the samples it measured,
        # and the declined ones are counted: a mean over NaN would hide every estimate it did make.
        values = estimates[np.isfinite(estimates)]
        truth = float(group[0]["truth_bits"])
        summary.append(
            {
                "task": task,
                "estimator": name,
                "n": n,
                "seeds": len(estimates),
                "not_finite": int(len(estimates) - len(values)),
                "truth_bits": round(truth, 4),
                "mean_bits": round(float(np.mean(values)), 4) if len(values) else float("nan"),
                "bias_bits": round(float(np.mean(values) - truth), 4) if len(values) else float("nan"),
                "spread_bits": round(float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, 4),
                "seconds": round(float(np.mean([float(row["seconds"]) for row in group])), 3),
            }
        )
    return summary


def write_summary(summary: list[dict], out: Path) -> None:
    with (out / "summary.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(summary[0]))
        writer.writeheader()
        writer.writerows(summary)
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")


REFERENCES = ("npeet-ksg", "sklearn-mir")


def _cell(row: dict) -> str:
    """ "bias ± spread", with the samples an estimator declined (NaN) counted."""
    declined = row.get("not_finite", 0)
    if declined == row["seeds"]:
        return f"NaN ({declined}/{declined})"
    text = f"{row['bias_bits']:+.3f} ± {row['spread_bits']:.3f}"
    return f"{text} ({declined}/{row['seeds']} NaN)" if declined else text


def markdown_table(summary: list[dict], n: int, margin: float = 0.05) -> str:
    """Task x estimator cells "bias ± spread" (bits) at one N, the seconds per sample of each estimator, and
    the cells where an ibpipe estimator's |bias| exceeds the best reference's by more than ``margin`` bits."""
    rows = [row for row in summary if row["n"] == n]
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    names = list(dict.fromkeys(row["estimator"] for row in rows))
    cell = {(row["task"], row["estimator"]): row for row in rows}
    lines = [
        "| task | truth | " + " | ".join(names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    worse = []
    for task in tasks:
        truth = next(row["truth_bits"] for row in rows if row["task"] == task)
        cells = []
        for name in names:
            row = cell.get((task, name))
            cells.append(_cell(row) if row else "")
        lines.append(f"| {task} | {truth:.3f} | " + " | ".join(cells) + " |")
        references = [
            abs(cell[task, name]["bias_bits"])
            for name in REFERENCES
            if (task, name) in cell and np.isfinite(cell[task, name]["bias_bits"])
        ]
        if references:
            for name in names:
                if name.startswith("ibpipe-") and (task, name) in cell:
                    gap = abs(cell[task, name]["bias_bits"]) - min(references)
                    if gap > margin:
                        worse.append(
                            f"- {task}: {name} |bias| {abs(cell[task, name]['bias_bits']):.3f} vs "
                            f"best reference {min(references):.3f} bits"
                        )
    seconds = []
    for name in names:
        times = [row["seconds"] for row in rows if row["estimator"] == name]
        seconds.append(f"{np.mean(times):.2f}")
    lines.append("| seconds per sample (mean over tasks) | | " + " | ".join(seconds) + " |")
    lines += ["", f"ibpipe estimators worse than the best reference by more than {margin} bits of |bias|:", ""]
    return "\n".join(lines + (worse or ["- none"])) + "\n"


def plot_bias(summary: list[dict], path: Path, n: int) -> None:
    """A task x estimator grid of the bias at one N (bits; blank where an estimator does not apply)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [row for row in summary if row["n"] == n]
    tasks = list(dict.fromkeys(row["task"] for row in rows))
    names = list(dict.fromkeys(row["estimator"] for row in rows))
    grid = np.full((len(tasks), len(names)), np.nan)
    for row in rows:
        grid[tasks.index(row["task"]), names.index(row["estimator"])] = row["bias_bits"]
    limit = max(0.25, float(np.nanmax(np.abs(grid)))) if np.isfinite(grid).any() else 1.0
    figure, axes = plt.subplots(figsize=(1.1 * len(names) + 5, 0.28 * len(tasks) + 1.5))
    image = axes.imshow(np.clip(grid, -1.0, 1.0), cmap="RdBu_r", vmin=-1.0, vmax=1.0, aspect="auto")
    for (i, j), value in np.ndenumerate(grid):
        if np.isfinite(value):
            axes.text(j, i, f"{value:+.2f}", ha="center", va="center", fontsize=6.5)
    axes.set_xticks(range(len(names)), names, rotation=40, ha="right", fontsize=8)
    axes.set_yticks(range(len(tasks)), tasks, fontsize=7)
    axes.set_title(f"bias (mean estimate - truth, bits) at N = {n}; colour clipped at +-1 (largest |bias| {limit:.2f})")
    figure.colorbar(image, ax=axes, shrink=0.6, label="bits")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, action="append", help="sample size(s) (default 5000; repeat for several)")
    parser.add_argument("--seeds", type=int, default=10, help="samples per task and N (default 10)")
    parser.add_argument("--tasks", nargs="*", help="task ids (default: all 40)")
    parser.add_argument("--neural", nargs="*", default=list(OBJECTIVES), help="neural objectives to run")
    parser.add_argument("--no-references", action="store_true", help="skip NPEET and scikit-learn")
    parser.add_argument("--only", nargs="*", help="run only these estimator columns (e.g. npeet-ksg ibpipe-kl3)")
    parser.add_argument(
        "--skip-neural-above", type=int, help="skip neural estimators on tasks with more dimensions per side"
    )
    parser.add_argument("--out", type=Path, default=Path("reports/ground_truth"))
    parser.add_argument(
        "--from-raw", nargs="*", type=Path, help="only summarise and plot these raw.csv files (runs split by task)"
    )
    args = parser.parse_args(argv)
    if args.from_raw:
        rows = [row for path in args.from_raw for row in csv.DictReader(path.open())]
        report(rows, sorted({int(row["n"]) for row in rows}), args.out)
        return
    tasks = benchmark_tasks()
    if args.tasks:
        known = {task.id for task in tasks}
        unknown = [task for task in args.tasks if task not in known]
        if unknown:
            parser.error(f"unknown task(s) {unknown}; known: {sorted(known)}")
        tasks = [task for task in tasks if task.id in args.tasks]
    sizes = args.n or [5000]
    table = estimators(tuple(args.neural), references=not args.no_references)
    if args.only:
        table = {name: estimate for name, estimate in table.items() if name in args.only}
    start = time.perf_counter()
    rows = run(tasks, table, sizes, args.seeds, args.out, args.skip_neural_above)
    report(rows, sizes, args.out)
    print(f"{len(rows)} estimates in {time.perf_counter() - start:.0f} s; written under {args.out}")


def report(rows: list[dict], sizes: list[int], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(rows)
    write_summary(summary, out)
    for n in sizes:
        plot_bias(summary, out / (f"bias-{n}.png" if len(sizes) > 1 else "bias.png"), n)
        (out / (f"summary-{n}.md" if len(sizes) > 1 else "summary.md")).write_text(markdown_table(summary, n))


if __name__ == "__main__":
    main()
