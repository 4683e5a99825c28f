"""Training curves as DVC metrics and plots, written with DVCLive from the history the train stage stored."""

from __future__ import annotations

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


def write_training_log(directory: str | Path, history: xr.Dataset) -> None:
    """DVCLive's folder (metrics.json of the last epoch, plots/metrics/<split>/<metric>.tsv with step = epoch).

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

    with (
        atomic_path(directory) as temporary,
        FilesOnly(dir=str(temporary), dvcyaml=None, save_dvc_exp=False, report=None, monitor_system=False) as live,
    ):
        columns = {name: history[name].values for name in LIVE_NAMES if name in history}
        for row, epoch in enumerate(history.epoch.values.tolist()):
            live.step = int(epoch)
            for name, values in columns.items():
                live.log_metric(LIVE_NAMES[name], float(values[row]), plot=True)
        # next_step() rewrites the summary and report at every step (minutes for 8000 epochs):
        # the rows are appended by log_metric, the summary is written once at the end.
        live.make_summary()
