"""A tiny randomly initialised BERT (nothing downloaded) fine-tuned by the Hugging Face ``Trainer``, recorded
by ``ibpipe``'s ``TrainerCallback``: the last encoder layer's [CLS] token (``tokens: first``) and the
classifier's logits.

Task: 16-token sequences over 20 word ids; the class is whether word 5 occurs.

    python examples/bert_trainer.py --out data/bert --epochs 5    # needs ibpipe[transformers]
"""

import argparse

import torch
from _plane import report
from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

from ibpipe.integrations.transformers import InformationCallback


class Sequences(torch.utils.data.Dataset):
    def __init__(self, ids: torch.Tensor, labels: torch.Tensor):
        self.ids, self.labels = ids, labels

    def __len__(self):
        return len(self.ids)

    def __getitem__(self, row):
        return {
            "input_ids": self.ids[row],
            "attention_mask": torch.ones_like(self.ids[row]),
            "labels": self.labels[row],
        }


def main(out: str, epochs: int, rows: int) -> None:
    torch.manual_seed(0)
    ids = torch.randint(1, 21, (rows, 16))
    ids[:, 0] = 0  # [CLS]
    labels = (ids == 5).any(dim=1).long()
    config = BertConfig(
        hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, vocab_size=100, num_labels=2
    )
    model = BertForSequenceClassification(config)
    probe = {"input_ids": ids[:256], "attention_mask": torch.ones_like(ids[:256])}
    callback = InformationCallback(
        layers={"bert.encoder.layer.1": {"tokens": "first"}, "classifier": {}},
        inputs=probe,
        labels=labels[:256],
        store=out,
        schedule="every",
    )
    arguments = TrainingArguments(
        output_dir=f"{out}/trainer",
        num_train_epochs=epochs,
        per_device_train_batch_size=32,
        learning_rate=1e-3,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        logging_steps=5,
        disable_tqdm=True,
        seed=0,
    )
    Trainer(model=model, args=arguments, train_dataset=Sequences(ids, labels), callbacks=[callback]).train()
    report(out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default="data/bert")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--rows", type=int, default=512)
    options = parser.parse_args()
    main(options.out, options.epochs, options.rows)
