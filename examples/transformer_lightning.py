"""A tiny Transformer encoder trained by PyTorch Lightning, recorded by ``ibpipe``'s Lightning callback:
the encoder layer's (rows, tokens, features) output is pooled by ``tokens: mean``.

Task: sequences of 12 tokens out of 8; the class is whether token 0 occurs more often than token 1.

    python examples/transformer_lightning.py --out data/transformer --epochs 20    # needs ibpipe[lightning]
"""

import argparse

import lightning.pytorch as pl
import torch
from _plane import report
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ibpipe.integrations.lightning import InformationCallback


class TinyEncoder(pl.LightningModule):
    def __init__(self, vocabulary: int = 8, width: int = 16):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, width)
        self.encoder = nn.TransformerEncoderLayer(width, 2, dim_feedforward=32, dropout=0.1, batch_first=True)
        self.head = nn.Linear(width, 2)

    def forward(self, tokens):
        return self.head(self.encoder(self.embed(tokens)).mean(dim=1))

    def training_step(self, batch, _index):
        tokens, labels = batch
        loss = nn.functional.cross_entropy(self(tokens), labels)
        self.log("train_loss", loss, on_epoch=True, on_step=False)
        return loss

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=3e-3)


def token_data(rows: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randint(0, 8, (rows, 12), generator=generator)
    return tokens, ((tokens == 0).sum(1) > (tokens == 1).sum(1)).long()


def main(out: str, epochs: int, rows: int) -> None:
    pl.seed_everything(0, verbose=False)
    tokens, labels = token_data(rows)
    callback = InformationCallback(
        layers={"encoder": {"tokens": "mean"}, "head": {}},
        inputs=tokens[:512],
        labels=labels[:512],
        store=out,
        schedule="log",
    )
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        callbacks=[callback],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(TinyEncoder(), DataLoader(TensorDataset(tokens, labels), batch_size=64, shuffle=True))
    report(out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="data/transformer")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--rows", type=int, default=2048)
    arguments = parser.parse_args()
    main(arguments.out, arguments.epochs, arguments.rows)
