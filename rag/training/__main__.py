"""`python -m rag.training [--out DIR] [--tiny] [--crossval] [--swapped] [--also DIR]`: rebuild
the reader.

Trains the reader from the committed data with fixed seeds and writes it, as ONNX with its
manifest, to `rag/training/reader/` (or `--out`). `--crossval` also scores the recipe on the
whole SQuAD 2.0 half by article (4 folds: each question is scored by a model that never saw
its article) and prints the figures. `--tiny` runs every step on a few hundred examples.
`--also` adds the questions of more QA folders (other articles: SQuAD 2.0 *train*, say, made
with `rag.training.squad.squad_to_folder`) to every fold's fine-tuning data, never to its
calibration or test.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from ..errors import EvalSetError, RagError
from ..evaluation.qa import read_qa_folder
from . import calibrate
from .openqa import open_questions
from .reader import DEFAULT_DIR
from .recipe import Recipe, base_model, cache_folder, describe, run_fold
from .squad import SQUAD2_HALF

TINY_QUESTIONS = 40  # per article


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m rag.training", description=" ".join(__doc__.split("\n\n")[0].split()))
    ap.add_argument("--out", type=Path, default=DEFAULT_DIR,
                    help=f"where the model goes (default {DEFAULT_DIR})")
    ap.add_argument("--tiny", action="store_true", help="every step on a few hundred examples")
    ap.add_argument("--swapped", action="store_true",
                    help="add swapped-question negatives to the SQuAD 1.1 pairs "
                         "(rag.training.swaps; measured, not the default)")
    ap.add_argument("--also", type=Path, action="append", default=[], metavar="DIR",
                    help="another QA folder whose questions join the fine-tuning data "
                         "(repeatable; measured: rag/training/data/squad2-train-slice)")
    ap.add_argument("--crossval", action="store_true", help="score all 4 folds (whole set)")
    ap.add_argument("--qa", type=Path, default=SQUAD2_HALF, help="QA folder to fine-tune on")
    ap.add_argument("--cache", type=Path, default=None,
                    help="cache folder (default ~/.cache/verbatim/training)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return train(args)
    except RagError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


def train(args: argparse.Namespace) -> int:
    """Every step of the recipe, as `args` ask; prints and records the report."""
    started = time.perf_counter()
    check_also(args.also, args.qa)
    recipe = Recipe().tiny() if args.tiny else Recipe()
    recipe = recipe.with_swaps() if args.swapped else recipe
    cache = args.cache or cache_folder()
    say = lambda text: print(text, flush=True)
    questions = open_questions(args.qa, cache=cache, say=say,
                               per_article=TINY_QUESTIONS if args.tiny else None)
    say(f"candidates: {len(questions):,} questions ({time.perf_counter() - started:.0f} s)")
    also = more_questions(args.also, cache=cache, say=say,
                          per_article=TINY_QUESTIONS if args.tiny else None)
    base = base_model(recipe, cache / ("tiny" if args.tiny else "full"), say=say)
    folds = range(4) if args.crossval else range(1)
    pooled, per_fold = [], {}
    for fold in folds:
        target = args.out if fold == 0 else cache / f"fold-{fold}"
        per_fold[fold], read = run_fold(base, questions, fold, target, recipe,
                                        cache / ("tiny" if args.tiny else "full"), say=say,
                                        also=also)
        pooled += read
    report = {"folds": per_fold, **describe(recipe), "also": [str(f) for f in args.also],
              "minutes": round((time.perf_counter() - started) / 60, 1)}
    if args.crossval:
        report["whole_set"] = _pooled(pooled)
    say(json.dumps(report, indent=1))
    _record(args.out, report)
    if args.crossval:
        shutil.copyfile(args.out / "manifest.json", cache / "fold-0-manifest.json")
    return 0


def check_also(folders: list[Path], main: Path) -> None:
    """Refuse `--also` folders that are not QA folders or share an article with another."""
    taken = {item.doc for item in read_qa_folder(main)[1]}
    for folder in folders:
        articles = {item.doc for item in read_qa_folder(folder)[1]}
        shared = sorted(taken & articles)
        if shared:
            raise EvalSetError(f"{folder} has articles already in the training data "
                               f"({', '.join(shared)}): give --also folders of other articles")
        taken |= articles


def more_questions(folders: list[Path], *, cache: Path, say=print,
                   per_article: int | None = None) -> list:
    """The candidates of the `--also` folders' questions."""
    out = []
    for folder in folders:
        more = open_questions(folder, cache=cache, say=say, per_article=per_article)
        say(f"--also {folder}: {len(more):,} questions "
            f"({sum(q.item.unanswerable for q in more):,} unanswerable)")
        out += more
    return out


def _pooled(pooled) -> dict:
    """Whole-set figures: each question scored with its own fold's head and threshold."""
    import numpy as np

    right, parts = [], []
    for head, limit, read in pooled:
        parts.append(calibrate.score(head, limit, [read]))
        right.append(read)
    keys = ("overall", "has_answer_accuracy", "refusal_recall", "false_refusals")
    answerable = [p for p, r in zip(parts, right, strict=True) if r.answerable]
    return {
        "questions": len(parts),
        "overall": round(float(np.mean([p["overall"] for p in parts])), 4),
        "has_answer_accuracy": round(float(np.mean([p["has_answer_accuracy"]
                                                    for p in answerable])), 4),
        "refusal_recall": round(float(np.mean([p["refusal_recall"] for p in parts
                                               if p["refusal_recall"] is not None])), 4),
        "false_refusals": round(float(np.mean([p["false_refusals"] for p in answerable])), 4),
        "auc": _auc(pooled), "keys": keys,
    }


def _auc(pooled) -> float:
    from sklearn.metrics import roc_auc_score

    conf = [float(calibrate.confidences(h, [r])[0]) for h, _, r in pooled]
    return round(float(roc_auc_score([r.answerable for _, _, r in pooled], conf)), 4)


def _record(out: Path, report: dict) -> None:
    (out / "training-report.json").write_text(json.dumps(report, indent=1) + "\n",
                                              encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
