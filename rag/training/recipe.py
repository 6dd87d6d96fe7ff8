"""The reader's recipe, step by step, and its by-article cross-validation.

The SQuAD 2.0 half's 8 articles are cut into 4 folds of 2 (seeded). For a fold i: the reader
fine-tunes on the product's open-domain candidates of two folds, is calibrated on the next
fold, and is scored on fold i, which neither step saw. The shipped model is fold 0's, so its
own test articles are the CI gate's (`rag eval --qa ... --check`).

1. base: the MiniLM layers trained on SQuAD 1.1 pairs (`rag.training.pairs.reading_pairs`),
   shared by every fold (none of its data is SQuAD 2.0);
2. fine-tune: the fold's fine-tuning articles' candidates (real unanswerables included),
   with a replay of SQuAD 1.1 pairs so that reading is not forgotten;
3. export: ONNX, int8 if it agrees with float32 (`rag.training.export`);
4. calibrate: answerability and threshold on the calibration articles;
5. score: the test articles, as the answerer would answer them.

Does not: write anywhere but the output folder and the cache folder.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from ..indexing.onnx import cache_root
from . import calibrate, export, model
from .pairs import OpenQuestion, Pair, open_pairs, reading_pairs
from .squad import SQUAD2_HALF, SQUAD11_SAMPLE, folds, read_paragraphs
from .swaps import swapped_pairs


@dataclass(frozen=True)
class Recipe:
    """How much of each kind of data, and the training settings."""

    base_pairs: int = 16_000
    replay_pairs: int = 3_000
    false_refusals: float = 0.10
    train: model.TrainConfig = field(default_factory=model.TrainConfig)
    finetune_lr: float = 3e-5
    seed: int = 7
    swapped: bool = False  # add `rag.training.swaps` negatives to the SQuAD 1.1 pairs

    def tiny(self) -> Recipe:
        return replace(self, base_pairs=256, replay_pairs=64)

    def with_swaps(self) -> Recipe:
        """Swapped-question negatives added, with a third more pairs so that about as many
        questions are kept (most questions gain one negative)."""
        return replace(self, swapped=True, base_pairs=self.base_pairs * 21 // 16,
                       replay_pairs=self.replay_pairs * 4 // 3)


def base_model(recipe: Recipe, cache: Path, say=print):
    """The SQuAD 1.1 base reader, trained once per recipe and kept in the cache folder."""
    import torch

    key = f"base-{recipe.base_pairs}-{recipe.train.layers}-{recipe.train.max_length}-" \
          f"{recipe.train.seed}" + ("-swapped" if recipe.swapped else "")
    path = cache / f"{key}.pt"
    net = model.net(recipe.train.layers)
    if path.exists():
        net.load_state_dict(torch.load(path, weights_only=True))
        say(f"base: reusing {path}")
        return net.eval()
    pairs = _sample(squad11_pairs(recipe, recipe.seed), recipe.base_pairs, recipe.seed)
    say(f"base: {len(pairs):,} SQuAD 1.1 pairs")
    net = model.train(pairs, config=recipe.train, model=net, say=say)
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return net


def squad11_pairs(recipe: Recipe, seed: int) -> list[Pair]:
    """The SQuAD 1.1 sample's reading pairs, with its swapped-question negatives if asked."""
    paragraphs = read_paragraphs(SQUAD11_SAMPLE)
    pairs = reading_pairs(paragraphs, seed=seed)
    return pairs + swapped_pairs(paragraphs, seed=seed + 100) if recipe.swapped else pairs


def _sample(pairs: list[Pair], n: int, seed: int) -> list[Pair]:
    """`n` pairs, whole questions kept together, in a seeded random order."""
    groups: dict[str, list[Pair]] = {}
    for p in pairs:
        groups.setdefault(p.group, []).append(p)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    out: list[Pair] = []
    for key in keys:
        if len(out) >= n:
            break
        out += groups[key]
    return out


@dataclass(frozen=True)
class Roles:
    """The articles of each role in one fold."""

    finetune: tuple[str, ...]
    calibrate: tuple[str, ...]
    test: tuple[str, ...]


def roles(fold: int, articles: list[str], seed: int) -> Roles:
    parts = folds(articles, 4, seed=seed)
    return Roles(tuple(parts[(fold + 2) % 4] + parts[(fold + 3) % 4]), tuple(parts[(fold + 1) % 4]),
                 tuple(parts[fold]))


def run_fold(base, questions: list[OpenQuestion], fold: int, out: Path, recipe: Recipe,
             cache: Path, say=print, also: list[OpenQuestion] = ()) -> tuple[dict, list]:
    """Fine-tune, export, calibrate and score one fold; the model is written to `out`.
    `also`: questions of other articles that join the fine-tuning data (`--also`)."""
    articles = sorted({q.article for q in questions})
    r = roles(fold, articles, recipe.seed)
    pick = lambda names: [q for q in questions if q.article in names]
    tune = open_pairs(pick(r.finetune) + list(also))
    replay = _sample(squad11_pairs(recipe, recipe.seed + 1), recipe.replay_pairs, recipe.seed + 1)
    more = f" and {len({q.article for q in also})} --also articles" if also else ""
    say(f"fold {fold}: fine-tune on {', '.join(r.finetune)}{more} ({len(tune):,} pairs + "
        f"{len(replay):,} SQuAD 1.1), calibrate on {', '.join(r.calibrate)}, "
        f"test on {', '.join(r.test)}")
    config = replace(recipe.train, lr=recipe.finetune_lr, seed=recipe.train.seed + fold)
    net = _finetuned(base, tune + replay, config, cache, fold, say)
    check = {}
    for p in open_pairs(pick(r.calibrate)):
        check.setdefault(p.group, []).append(p)
    written = export.export(net, out, config=recipe.train, check=check, say=say, manifest={
        "fold": fold, "roles": asdict(r)})
    reader = _reader(out)
    head = calibrate.fit(calibrate.read_questions(reader, pick(r.calibrate)))
    limit = calibrate.threshold(head, calibrate.read_questions(reader, pick(r.calibrate)),
                                false_refusals=recipe.false_refusals)
    tested = calibrate.read_questions(reader, pick(r.test))
    figures = calibrate.score(head, limit, tested)
    say(f"fold {fold}: {json.dumps(figures)}")
    manifest = {k: v for k, v in written.items() if k not in ("format", "format_version", "sha256")}
    export.write(out, {**manifest, "answerability": head, "threshold": round(limit, 6),
                       "test_figures": figures})
    return figures, [(head, limit, t) for t in tested]


def _finetuned(base, pairs: list[Pair], config, cache: Path, fold: int, say):
    """The fold's fine-tuned reader, kept in the cache keyed by its data and settings."""
    import copy
    import hashlib

    import torch

    digest = hashlib.sha256(repr((config, [(p.question, p.sentence, p.y) for p in pairs]))
                            .encode()).hexdigest()[:12]
    path = cache / f"fold-{fold}-{digest}.pt"
    net = copy.deepcopy(base)
    if path.exists():
        net.load_state_dict(torch.load(path, weights_only=True))
        say(f"fold {fold}: reusing {path}")
        return net.eval()
    net = model.train(pairs, config=config, model=net, say=say)
    cache.mkdir(parents=True, exist_ok=True)
    torch.save(net.state_dict(), path)
    return net


def _reader(path: Path):
    from .reader import Reader

    return Reader(path)


def cache_folder() -> Path:
    return cache_root() / "training"


def describe(recipe: Recipe) -> dict:
    return {"recipe": asdict(recipe), "data": {
        "squad11": f"{SQUAD11_SAMPLE.name}: SQuAD 1.1 train, 12,000 questions (CC BY-SA 4.0)",
        "squad2": f"{SQUAD2_HALF.name}: SQuAD 2.0 half, by article (CC BY-SA 4.0)"},
        "threads": recipe.train.threads, "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "load_average": [round(x, 2) for x in os.getloadavg()]}
