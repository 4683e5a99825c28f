"""DVC stage `select`: decide which epochs are measured.

(Not named select.py: a script of that name would shadow the standard library module.)
"""

from pathlib import Path

from ibpipe import store
from ibpipe.config import load_params
from ibpipe.selection import epoch_schedule
from ibpipe.stage import run_stage


def main(params_file: Path = Path("params.yaml"), out: Path = Path("data/selection.json")) -> None:
    params = load_params(params_file)
    choice = params.select
    epochs = epoch_schedule(
        choice.method, params.train.epochs, choice.every, choice.n_points, tuple(choice.step_bounds), tuple(choice.step_sizes)
    )
    store.write_json(out, {"method": choice.method, "epochs": epochs.tolist()})
    print(f"select: {len(epochs)} of {params.train.epochs + 1} epochs ({choice.method})")


if __name__ == "__main__":
    run_stage(main)
