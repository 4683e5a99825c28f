"""An LSTM on a synthetic sequence task (is the running sum of +-1 steps positive at the end?), recorded
with ``ibpipe.Recorder``: the LSTM's ``(out, (h, c))`` tuple is read by ``output: 0`` and pooled to its
last time step by ``tokens: last``.

    python examples/lstm_sequences.py --out data/lstm --epochs 30
"""

import argparse

import torch
from _plane import report
from torch import nn

import ibpipe


class SequenceClassifier(nn.Module):
    def __init__(self, hidden: int = 16):
        super().__init__()
        self.lstm = nn.LSTM(1, hidden, batch_first=True)
        self.head = nn.Linear(hidden, 2)

    def forward(self, x):
        out, _ = self.lstm(x)
        return self.head(out[:, -1])


def sequences(rows: int, steps: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 2, (rows, steps, 1), generator=generator).float() * 2 - 1
    return x, (x.sum(dim=(1, 2)) > 0).long()


def main(out: str, epochs: int, rows: int) -> None:
    torch.manual_seed(0)
    x, y = sequences(rows, steps=9, seed=0)
    model = SequenceClassifier()
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    layers = {"lstm": {"output": 0, "tokens": "last"}, "head": {}}
    with ibpipe.Recorder(model, layers, x[:512], y[:512], out, schedule="log") as recorder:
        recorder.step(0)
        for epoch in range(1, epochs + 1):
            model.train()
            for batch in torch.randperm(len(x)).split(64):
                optimiser.zero_grad()
                nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
                optimiser.step()
            recorder.step(epoch)
    report(out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="data/lstm")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--rows", type=int, default=2048)
    arguments = parser.parse_args()
    main(arguments.out, arguments.epochs, arguments.rows)
