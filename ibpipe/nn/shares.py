"""Trials shared out over processes: each share of the trials one batched model in its own process.

The stage process trains the smallest share itself (it also writes the store) while each other
share trains in a spawned worker. A worker receives its models and the data through a file in a
scratch folder (not through torch's shared-memory pickling, which a small /dev/shm refuses), and
writes its records as (epoch, trial, ...) .npy files read back once the stage's own share is done;
``done.json`` is written last. A worker whose parent dies stops and removes the scratch folder; the
parent terminates its workers on any exit and stops as soon as one of them fails.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from ibpipe.nn.batched import train_batched
from ibpipe.nn.mlp import MLP
from ibpipe.nn.training import EpochRecord

PREFIX = "weights."


def split_trials(trials: range, processes: int) -> list[range]:
    """Contiguous shares of ``trials`` for ``processes`` processes, the larger shares first."""
    shares = np.array_split(np.arange(len(trials)), max(1, min(processes, len(trials))))
    return [range(trials[share[0]], trials[share[-1]] + 1) for share in shares]


def _train_share_to_files(folder: str, parent: int) -> None:
    """Worker process: train the share described in ``folder``/share.pt into .npy files of ``folder``."""
    job = torch.load(Path(folder, "share.pt"), weights_only=False)  # written by our own parent process
    Path(folder, "share.pt").unlink()
    torch.set_num_threads(job["threads"])
    epochs = job["arguments"]["epochs"]
    arrays: dict[str, np.ndarray] = {}
    records = train_batched(**job["arguments"])
    for record in records:
        if os.getppid() != parent:  # the stage was killed: stop instead of training for nobody
            shutil.rmtree(Path(folder).parent, ignore_errors=True)
            return
        values = {**{f"{PREFIX}{k}": v for k, v in record.weights.items()}, **record.metrics}
        for name, value in values.items():
            if name not in arrays:
                shape = (epochs + 1, *np.shape(value))
                arrays[name] = np.lib.format.open_memmap(f"{folder}/{name}.npy", "w+", np.asarray(value).dtype, shape)
            arrays[name][record.epoch] = value
    for array in arrays.values():
        array.flush()
    Path(folder, "done.json").write_text(json.dumps(list(arrays)))


def _records_from_files(folder: str) -> Iterator[EpochRecord]:
    names = json.loads(Path(folder, "done.json").read_text())
    arrays = {name: np.load(f"{folder}/{name}.npy", mmap_mode="r") for name in names}
    for epoch in range(len(next(iter(arrays.values())))):
        weights = {name[len(PREFIX) :]: np.array(a[epoch]) for name, a in arrays.items() if name.startswith(PREFIX)}
        metrics = {name: np.array(a[epoch]) for name, a in arrays.items() if not name.startswith(PREFIX)}
        yield EpochRecord(epoch, weights, metrics)


def _failure(share: range, exitcode: int | None) -> RuntimeError:
    how = f"was killed by {signal.Signals(-exitcode).name}" if exitcode and exitcode < 0 else f"exited with {exitcode}"
    return RuntimeError(
        f"the process training trials {share.start}..{share.stop - 1} {how} (a Python error prints its traceback above)"
    )


def _watching(records: Iterator[EpochRecord], workers: list) -> Iterator[EpochRecord]:
    """The stage's own records, stopping at the first worker that failed rather than at the end."""
    for record in records:
        for share, _folder, worker in workers:
            if worker.exitcode not in (None, 0):
                raise _failure(share, worker.exitcode)
        yield record


def train_in_processes(
    models: list[MLP],
    shares: list[range],
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    *,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seeds: list[int],
    beside: str | Path | None = None,
) -> Iterator[tuple[range, Iterator[EpochRecord]]]:
    """(share, records) pairs: the last (smallest) share trained here, the others in spawned workers.

    ``models`` and ``seeds`` are in trial order, covering the shares in order. The workers' records
    wait in a scratch folder (one float per parameter, epoch and trial: on disk, not in memory, for
    big networks): beside the output path ``beside``, named like ``ibpipe.io.files.atomic_path``'s
    temporaries so that the next writer of that output removes it if this process is killed; in the
    system's temporary folder when ``beside`` is None.
    """
    context = multiprocessing.get_context("spawn")
    starts = np.cumsum([0, *map(len, shares)])
    where = {"prefix": "ibpipe-trials-"}
    if beside is not None:
        beside = Path(beside)
        beside.parent.mkdir(parents=True, exist_ok=True)
        where = {"prefix": f".{beside.name}.{os.getpid()}.trials.", "suffix": ".tmp", "dir": beside.parent}
    with tempfile.TemporaryDirectory(**where) as folder_root:
        workers: list = []
        try:
            for number, share in enumerate(shares[:-1]):
                folder = Path(folder_root, f"share{number}")
                folder.mkdir()
                picked = slice(starts[number], starts[number + 1])
                arguments = {
                    "models": models[picked],
                    "train": train,
                    "test": test,
                    "epochs": epochs,
                    "batch_size": batch_size,
                    "learning_rate": learning_rate,
                    "seeds": seeds[picked],
                }
                job = {"arguments": arguments, "threads": torch.get_num_threads()}  # train_batched's keywords
                torch.save(job, folder / "share.pt")
                worker = context.Process(target=_train_share_to_files, args=(str(folder), os.getpid()), daemon=True)
                worker.start()
                workers.append((share, str(folder), worker))
            here = slice(starts[-2], starts[-1])
            records = train_batched(models[here], train, test, epochs, batch_size, learning_rate, seeds[here])
            yield shares[-1], _watching(records, workers)
            for share, folder, worker in workers:
                worker.join()
                if worker.exitcode != 0 or not Path(folder, "done.json").exists():
                    raise _failure(share, worker.exitcode)
                yield share, _records_from_files(folder)
        finally:
            for _share, _folder, worker in workers:
                if worker.is_alive():
                    worker.terminate()
                    worker.join()
