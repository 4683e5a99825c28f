"""A residual CNN with BatchNorm and Dropout on scikit-learn's digits, trained by a plain SGD-with-momentum
loop; ``ibpipe.Recorder`` records it on 500 probe digits.

    python examples/residual_cnn.py --out data/residual_cnn --epochs 30
"""

import argparse

import torch
from _plane import report
from sklearn.datasets import load_digits
from torch import nn

import ibpipe


class Block(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn = nn.BatchNorm2d(channels)

    def forward(self, x):
        return torch.relu(x + self.bn(self.conv(x)))


def residual_cnn(channels: int = 8) -> nn.Module:
    return nn.Sequential(
        nn.Sequential(nn.Conv2d(1, channels, 3, padding=1), nn.BatchNorm2d(channels), nn.ReLU()),
        Block(channels),
        Block(channels),
        nn.Sequential(nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Dropout(0.2), nn.Linear(4 * channels, 10)),
    )


def main(out: str, epochs: int, probe_rows: int) -> None:
    torch.manual_seed(0)
    digits = load_digits()
    x = torch.tensor(digits.images / 16.0, dtype=torch.float32)[:, None]
    y = torch.tensor(digits.target)
    model = residual_cnn()
    optimiser = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    with ibpipe.Recorder(model, ["0", "1", "2", "3.3"], x[:probe_rows], y[:probe_rows], out, "log") as recorder:
        recorder.step(0)  # the initial network is epoch 0
        for epoch in range(1, epochs + 1):
            model.train()
            total = 0.0
            for batch in torch.randperm(len(x)).split(64):
                optimiser.zero_grad()
                loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
                loss.backward()
                optimiser.step()
                total += loss.item() * len(batch)
            recorder.step(epoch, loss=total / len(x))
    report(out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="data/residual_cnn")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--probe-rows", type=int, default=500)
    arguments = parser.parse_args()
    main(arguments.out, arguments.epochs, arguments.probe_rows)
