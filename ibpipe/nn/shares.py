"""Trials shared out over processes: each share of the trials one batched model in its own process.

The stage process trains the last (smallest) share itself, as it also writes the store; each
other share trains in a worker started by ``torch.multiprocessing.spawn``, which names a worker's
signal or forwards its traceback when it fails, and on Linux stops a worker whose parent dies
(PR_SET_PDEATHSIG). A worker gets its job as one pickled bytes object (plain pickle, so tensors
travel in the bytes and not through torch's shared memory, which a small /dev/shm refuses) and
sends each epoch's record through its own pipe as soon as it has it; the stage joins the shares'
records epoch by epoch into one record of all the trials. The stage holds at most ``AHEAD`` epochs
of records of each share and a pipe at most its kernel buffer (64 KiB on Linux), so a process that
runs ahead waits there: memory stays bounded and nothing is written to disk. A worker whose stage
is gone finds the pipe broken at its next record and stops.
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections import deque
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

import numpy as np
import torch
import torch.multiprocessing
from torch.multiprocessing.spawn import ProcessContext, ProcessException, ProcessRaisedException

from ibpipe.nn.training import EpochRecord, train_epochs

AHEAD = 64  # epochs a process may train beyond the slowest one: a few KB each for the MLPs shared out


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


def _next_of_each(
    theirs: list[deque[EpochRecord]], receivers: tuple[Connection, ...], shares: list[range], workers: ProcessContext
) -> list[EpochRecord]:
    """Each worker's next record: the oldest it has sent, or the one it sends next."""
    return [held.popleft() if held else _receive(*pair, workers) for held, pair in zip(theirs, zip(receivers, shares))]


def train_in_processes(jobs: list[dict], shares: list[range], ahead: int = AHEAD) -> Iterator[EpochRecord]:
    """Records of all the trials of ``shares``: the last share trained here, the others in spawned workers.

    ``jobs`` holds ``train_epochs``' keyword arguments for each share, in share order; the records'
    trial axes follow that order. A failed worker stops the run at the next epoch with a
    ``RuntimeError`` naming its trials and its signal or traceback. Each process trains at its own
    pace up to ``ahead`` epochs beyond the slowest (records held here), so a process that the
    machine's other jobs hold back for a moment does not stall the others epoch by epoch.
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
    own: deque[EpochRecord] = deque()
    theirs: list[deque[EpochRecord]] = [deque() for _ in receivers]
    try:
        for record in train_epochs(**jobs[-1]):
            own.append(record)
            workers.join(timeout=0)  # a worker that died stops the run now, not when its records run out
            for receiver, held, share in zip(receivers, theirs, shares):
                while len(held) < ahead and receiver.poll():
                    held.append(_receive(receiver, share, workers))
            # hand on every epoch all shares have finished; wait for the workers only when `ahead` epochs are held
            while own and (len(own) >= ahead or all(theirs)):
                yield _joined([*_next_of_each(theirs, receivers, shares, workers), own.popleft()])
        while own:
            yield _joined([*_next_of_each(theirs, receivers, shares, workers), own.popleft()])
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
