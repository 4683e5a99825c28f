"""Overhead of ``ibpipe.Recorder`` in a user's own loop: the same training with and without recording.

A ResNet-style CNN (stem + two residual blocks with BatchNorm, Dropout, linear head) trained by SGD with
momentum on 10000 digits-size images (scikit-learn's 8x8 digits tiled), 6 recorded layers, 1000 probe
rows, the ``log`` schedule. Every run starts from the same seed; the script checks that they end with
bitwise-equal weights, then prints the best wall and CPU times of each side (runs alternate, so a
change in machine load hits both), their ratios and the peak RSS. On a shared machine the CPU ratio
(process time of all threads, the recorder's writer thread included) is the steadier one.

    python benchmarks/bench_recorder.py --epochs 20
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time

import torch
from sklearn.datasets import load_digits
from torch import nn

import ibpipe

LAYERS = ["stem", "block1.conv1", "block1", "block2.conv1", "block2", "head"]


class Block(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x):
        return torch.relu(x + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


class ResNet(nn.Module):
    def __init__(self, channels: int = 16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU())
        self.block1 = Block(channels)
        self.block2 = Block(channels)
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(channels * 16, 10)

    def forward(self, x):
        x = self.block2(self.block1(self.stem(x)))
        return self.head(self.dropout(nn.functional.avg_pool2d(x, 2).flatten(1)))


def images(rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    digits = load_digits()
    repeats = -(-rows // len(digits.target))
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32)[:, None].repeat(repeats, 1, 1, 1)[:rows]
    return x, torch.tensor(digits.target).repeat(repeats)[:rows]


def train(x, y, epochs: int, store: str | None) -> dict:
    """Wall and CPU seconds (all threads) of training with recording, the seconds spent inside the recorder's
    calls, and the final weights."""
    torch.manual_seed(0)
    model = ResNet()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    recorder = ibpipe.Recorder(model, LAYERS, x[:1000], y[:1000], store, schedule="log") if store else None
    wall, cpu = time.perf_counter(), time.process_time()
    recording = 0.0
    for epoch in range(epochs + 1):
        model.train()
        for batch in torch.randperm(len(x)).split(128) if epoch else []:
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            optimiser.step()
        if recorder:
            begin = time.perf_counter()
            recorder.step(epoch)
            recording += time.perf_counter() - begin
    if recorder:
        begin = time.perf_counter()
        recorder.close()
        recording += time.perf_counter() - begin
    return {
        "wall": time.perf_counter() - wall,
        "cpu": time.process_time() - cpu,
        "inside": recording,
        "weights": model.state_dict(),
    }


def main(epochs: int, rows: int, repeats: int) -> None:
    torch.set_num_threads(1)  # one core for training in both runs, so the ratio is not a scheduling accident
    x, y = images(rows)
    plain, recorded = [], []
    with tempfile.TemporaryDirectory() as folder:
        # plain, recorded, recorded, plain, ...: a drift in machine load hits both sides alike; the best of each counts
        for repeat in range(repeats):
            order = [None, f"{folder}/run{repeat}"] if repeat % 2 == 0 else [f"{folder}/run{repeat}", None]
            for store in order:
                (recorded if store else plain).append(train(x, y, epochs, store))
        stored = _stored_epochs(f"{folder}/run0")
    equal = all(
        torch.equal(plain[0]["weights"][name], run["weights"][name]) for run in recorded for name in plain[0]["weights"]
    )
    best = {
        side: {key: min(run[key] for run in runs) for key in ("wall", "cpu", "inside")}
        for side, runs in (("plain", plain), ("recorded", recorded))
    }
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{rows} images, {epochs} epochs, {len(LAYERS)} layers, 1000 probe rows, log schedule: {stored}")
    print(
        f"best of {repeats}: without recorder {best['plain']['wall']:.2f} s wall, {best['plain']['cpu']:.2f} s CPU; "
        f"with recorder {best['recorded']['wall']:.2f} s wall, {best['recorded']['cpu']:.2f} s CPU "
        f"({best['recorded']['inside']:.2f} s wall inside step/close)"
    )
    print(
        f"ratio {best['recorded']['wall'] / best['plain']['wall']:.3f}x wall, "
        f"{best['recorded']['cpu'] / best['plain']['cpu']:.3f}x CPU (goal <= 1.2x); weights bitwise equal: {equal}"
    )
    print(f"peak RSS {peak_mib:.0f} MiB")
    if not equal:
        sys.exit("recording changed training")


def _stored_epochs(store: str) -> list[int]:
    from ibpipe.io.layers import open_layer_store, read_array

    return read_array(open_layer_store(f"{store}/activations.zarr"), "epoch").tolist()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rows", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=2, help="runs of each side, alternating (best counts)")
    arguments = parser.parse_args()
    main(arguments.epochs, arguments.rows, arguments.repeats)
