"""Trials shared out over processes: each share of the trials one batched model in its own process.

The stage process trains the last (smallest) share itself, as it also writes the store; each
other share trains in a worker started by ``torch.multiprocessing.spawn``, which names a worker's
signal or forwards its traceback when it fails, and on Linux stops a worker whose parent dies
(PR_SET_PDEATHSIG). A worker gets its job as one pickled bytes object (plain pickle, so tensors
travel in the bytes and not through torch's shared memory, which a small /dev/shm refuses) and
sends each epoch's record through its own pipe as soon as it has it; the stage joins the shares'
records epoch by epoch into one record of all the trials. A pipe holds at most its kernel buffer
(64 KiB on Linux), so a worker that runs ahead waits there: memory stays bounded and nothing is
written to disk. A worker whose stage is gone finds the pipe broken at its next record and stops.
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing
from torch.multiprocessing.spawn import ProcessContext, ProcessException, ProcessRaisedException

from ibpipe.nn.training import EpochRecord, train_epochs


def split_trials(trials: range, processes: int) -> list[range]:
    """Contiguous shares of ``trials`` for ``processes`` processes, the larger shares first."""
    shares = np.array_split(np.arange(len(trials)), max(1, min(processes, len(trials))))
    return [range(trials[share[0]], trials[share[-1]] + 1) for share in shares]


def _train_share(number: int, jobs: bytes, senders: list[Connection]) -> None:
    """Worker process: train share ``number`` of the pickled ``train_epochs`` keyword arguments ``jobs``."""
    job = pickle.loads(jobs)[number]  # written by our own parent process
    torch.set_num_threads(job.pop("threads"))
    try:
        for record in train_epochs(**job):
            senders[number].send(record)
    except BrokenPipeError:
        return  # the stage process is gone: stop instead of training for nobody


def _failure(share: range, error: ProcessException) -> RuntimeError:
    trials = f"the process training trials {share.start}..{share.stop - 1}"
    if isinstance(error, ProcessRaisedException):
        return RuntimeError(f"{trials} failed:{error.msg}")
    how = f"was killed by {error.signal_name}" if error.signal_name else f"exited with {error.exit_code}"
    return RuntimeError(f"{trials} {how}")


def _joined(records: list[EpochRecord]) -> EpochRecord:
    """One record of the shares' records of one epoch, their trial axes concatenated in share order."""
    weights = {name: np.concatenate([record.weights[name] for record in records]) for name in records[0].weights}
    metrics = {name: np.concatenate([record.metrics[name] for record in records]) for name in records[0].metrics}
    return EpochRecord(records[0].epoch, weights, metrics)


def _receive(receiver: Connection, share: range, workers: ProcessContext) -> EpochRecord:
    """The next record from ``receiver``, or the failure of a worker that died meanwhile."""
    while not receiver.poll(0.5):
        workers.join(timeout=0)  # raises if a worker failed
    try:
        return receiver.recv()
    except EOFError:  # it exited without failing: interrupted (Ctrl-C reaches the workers too)
        raise RuntimeError(f"the process training trials {share.start}..{share.stop - 1} stopped early") from None


def train_in_processes(jobs: list[dict], shares: list[range]) -> Iterator[EpochRecord]:
    """Records of all the trials of ``shares``: the last share trained here, the others in spawned workers.

    ``jobs`` holds ``train_epochs``' keyword arguments for each share, in share order; the records'
    trial axes follow that order. A failed worker stops the run at the next epoch with a
    ``RuntimeError`` naming its trials and its signal or traceback.
    """
    context = multiprocessing.get_context("spawn")
    receivers, senders = zip(*(context.Pipe(duplex=False) for _ in shares[:-1]))
    threads = torch.get_num_threads()
    workers = torch.multiprocessing.spawn(
        _train_share,
        args=(pickle.dumps([{**job, "threads": threads} for job in jobs[:-1]]), senders),
        nprocs=len(senders),
        join=False,
        daemon=True,
    )
    for sender in senders:
        sender.close()  # the workers hold the only writing ends, so a broken pipe means the reader died
    try:
        for record in train_epochs(**jobs[-1]):
            workers.join(timeout=0)  # a worker that died stops the run now, not when its records run out
            yield _joined([*(_receive(*pair, workers) for pair in zip(receivers, shares)), record])
        while not workers.join():
            pass
    except ProcessException as error:
        raise _failure(shares[error.error_index], error) from None
    finally:
        for worker in workers.processes:
            if worker.is_alive():
                worker.terminate()
                worker.join()
        for receiver in receivers:
            receiver.close()
        for path in workers.error_files:  # where a worker that raised left its traceback
            Path(path).unlink(missing_ok=True)
