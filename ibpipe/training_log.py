"""Training curves as DVC metrics and plots, written with DVCLive from the history the train stage stored."""

from __future__ import annotations

import json
from pathlib import Path

import xarray as xr

from ibpipe.io.files import atomic_path

# history variable -> DVCLive metric name ("a/b" nests: plots/metrics/a/b.tsv, summary {"a": {"b": v}})
LIVE_NAMES = {
    "train_loss": "train/loss",
    "train_accuracy": "train/accuracy",
    "test_loss": "test/loss",
    "test_accuracy": "test/accuracy",
}
# What metrics.json (the DVC metric) keeps of the last epoch: one column, so that `dvc metrics show` fits a
# terminal beside the other experiments' files; every curve stays in plots/metrics/.
METRIC_NAMES = ("test_accuracy",)


def write_training_log(directory: str | Path, history: xr.Dataset) -> None:
    """DVCLive's folder: plots/metrics/<split>/<metric>.tsv with step = epoch, and metrics.json, the last
    epoch's test accuracy (``METRIC_NAMES``; DVCLive's own summary of every curve is replaced).

    dvcyaml=None: the train stage declares these files in dvc.yaml itself, so DVCLive must not edit it;
    save_dvc_exp=False: under `dvc exp run` DVC records the experiment. Written to a temporary folder
    and moved into place whole. Loss is cross-entropy in nats, accuracy a fraction.
    """
    from dvclive import Live

    class FilesOnly(Live):
        # DVCLive's repository handling (find the DVC repo, read the baseline commit) is not wanted here:
        # DVC itself records the experiment, and it fails in a git repository without commits.
        def _init_dvc(self) -> None:
            self._dvc_file = None

    columns = {name: history[name].values for name in LIVE_NAMES if name in history}
    with atomic_path(directory) as temporary:
        with FilesOnly(dir=str(temporary), dvcyaml=None, save_dvc_exp=False, report=None, monitor_system=False) as live:
            for row, epoch in enumerate(history.epoch.values.tolist()):
                live.step = int(epoch)
                for name, values in columns.items():
                    live.log_metric(LIVE_NAMES[name], float(values[row]), plot=True)
            # no next_step(): it rewrites the summary and report at every step (minutes for 8000 epochs);
            # log_metric appends the rows, and metrics.json is written below, once.
        summary: dict = {}
        for name in METRIC_NAMES:
            if name in columns and len(columns[name]):
                split, metric = LIVE_NAMES[name].split("/")
                summary.setdefault(split, {})[metric] = float(columns[name][-1])
        Path(live.metrics_file).write_text(json.dumps(summary, indent=4) + "\n")
