"""Models and datasets as users write them, which the own-model pipeline tests import by path."""

import numpy as np
import torch
from torch import nn

ROWS = 48


def _rows(seed: int = 0):
    generator = np.random.default_rng(seed)
    a = generator.normal(size=(ROWS, 5)).astype(np.float32)
    b = generator.normal(size=(ROWS, 3)).astype(np.float32)
    labels = ((a[:, 0] + b[:, 0]) > 0).astype(np.int64)
    return a, b, labels


def two_arrays():
    """Two input arrays and the labels last: the model's forward takes (a, b)."""
    return _rows()


def dict_of_arrays():
    """A dict of inputs with the labels under 'labels': the model's forward takes a=..., b=..."""
    a, b, labels = _rows()
    return {"a": a, "b": b, "labels": labels}


class DictItems(torch.utils.data.Dataset):
    """A map-style dataset whose items are dicts, as a Hugging Face-style dataset gives them."""

    def __init__(self):
        self.a, self.b, self.labels = _rows()

    def __len__(self):
        return ROWS

    def __getitem__(self, index):
        return {"a": torch.from_numpy(self.a[index]), "b": torch.from_numpy(self.b[index]), "label": self.labels[index]}


def dict_items():
    return DictItems()


def sequences():
    """(rows, 6 steps, 2 features) sequences labelled by the sign of the sum of their first feature."""
    generator = np.random.default_rng(1)
    x = generator.normal(size=(ROWS, 6, 2)).astype(np.float32)
    return x, (x[:, :, 0].sum(1) > 0).astype(np.int64)


def tokens_and_mask():
    """Token ids (integers) and a boolean mask: inputs whose dtypes must come back as they were."""
    generator = np.random.default_rng(2)
    ids = generator.integers(0, 20, size=(ROWS, 4))
    mask = generator.random((ROWS, 4)) > 0.2
    mask[:, 0] = True
    return {"input_ids": ids, "attention_mask": mask, "labels": (ids[:, 0] % 2).astype(np.int64)}


class TwoInputs(nn.Module):
    def __init__(self, n_classes: int = 2):
        super().__init__()
        self.left, self.right = nn.Linear(5, 4), nn.Linear(3, 4)
        self.act = nn.Tanh()
        self.head = nn.Linear(4, n_classes)

    def forward(self, a, b):
        return self.head(self.act(self.left(a) + self.right(b)))


def two_inputs(n_classes: int = 2):
    return TwoInputs(n_classes)


class Body(nn.Module):
    def __init__(self):
        super().__init__()
        self.inner = TwoInputs()

    def forward(self, a, b):
        return {"hidden": self.inner.act(self.inner.left(a) + self.inner.right(b)), "logits": self.inner(a, b)}


class DictOutput(nn.Module):
    """Keyword inputs; returns a dict whose 'logits' the pipeline trains on."""

    def __init__(self):
        super().__init__()
        self.body = Body()

    def forward(self, a, b):
        return self.body(a=a, b=b)


def dict_output():
    return DictOutput()


class Recurrent(nn.Module):
    def __init__(self, batch_first: bool = True):
        super().__init__()
        self.batch_first = batch_first
        self.lstm = nn.LSTM(2, 5, batch_first=batch_first)
        self.head = nn.Linear(5, 2)

    def forward(self, x):
        out, _ = self.lstm(x if self.batch_first else x.transpose(0, 1))
        return self.head(out[:, -1] if self.batch_first else out[-1])


def recurrent(batch_first: bool = True):
    return Recurrent(batch_first)


class Tokens(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(20, 3)
        self.head = nn.Linear(3, 2)

    def forward(self, input_ids, attention_mask):
        assert input_ids.dtype == torch.int64 and attention_mask.dtype == torch.bool
        embedded = self.embed(input_ids) * attention_mask[..., None]
        return self.head(embedded.mean(1))


def tokens():
    return Tokens()


def seven_logits():
    """A factory whose output layer has 7 logits, for data of 2 classes."""
    return nn.Sequential(nn.Flatten(), nn.Linear(5, 4), nn.Tanh(), nn.Linear(4, 7))


def one_array():
    a, _, labels = _rows()
    return a, labels
