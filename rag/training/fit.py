"""Fit the reader's two logistic models, choose its refusal threshold, and score it by article.

`train(examples, articles)` fits, on the questions of `articles` only:
- the sentence model, on every candidate of the answerable questions whose candidates hold a
  gold answer somewhere (label: this one does);
- the answer model, on question features made from out-of-fold sentence logits (each
  article's logits come from a sentence model that did not see it), label: the reader's best
  candidate holds a gold answer (never, for an unanswerable question);
- the threshold: the highest confidence that refuses at most `false_refusals` of the
  answerable questions, on out-of-fold confidences (leave one article out again);
- the cheap answer model: the same question features, read with the cheap score in place of
  the sentence logits (`cheap_scores`), label: the cheap score's best candidate holds a gold
  answer. It gives the default (cheap) reader's `Answer.confidence`; the cheap reader still
  refuses by its own score.
`crossval` runs that for 4 folds of whole articles and scores each question with the model
of the fold that never saw its article: the whole-set figures of the issue.

Does not: compute features or read questions (`rag.training.examples`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..answering.answer import AnswerConfig
from ..answering.features import SENTENCE_FEATURES, question_features
from ..answering.reader import Linear
from ..evaluation.qa import auc
from .examples import Example


@dataclass(frozen=True)
class Trained:
    sentence: Linear
    answer: Linear
    threshold: float
    cheap: Linear


def fit_linear(x: np.ndarray, y: np.ndarray, *, c: float = 1.0) -> Linear:
    """A standardized L2 logistic regression (lbfgs: deterministic)."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, max_iter=2000).fit((x - mean) / scale, y)
    return Linear(mean, scale, model.coef_[0].copy(), float(model.intercept_[0]))


def fit_sentence(examples: list[Example]) -> Linear:
    usable = [e for e in examples if e.answerable and e.hits.any()]
    return fit_linear(np.vstack([e.x for e in usable]), np.concatenate([e.hits for e in usable]))


def question_rows(examples: list[Example], logits: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Question features and labels (best candidate holds gold) of `examples`."""
    q = np.vstack([question_features(e.x, z, e.question) for e, z in zip(examples, logits)])
    y = np.array([e.answerable and len(z) > 0 and bool(e.hits[int(np.argmax(z))])
                  for e, z in zip(examples, logits)])
    return q, y


def cheap_scores(e: Example, config: AnswerConfig = AnswerConfig()) -> np.ndarray:
    """The cheap score of each candidate (candidates are in its order): the best one's dense
    + coverage and typed at `config`'s weights (the answerer's defaults), plus each one's gap
    to it."""
    if not len(e.x):
        return np.zeros(0)
    col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    first = e.x[0]
    best = (first[col["dense"]] + config.lexical_weight * first[col["coverage"]]
            + config.type_weight * first[col["typed"]])
    return best + e.x[:, col["cheap_gap"]]


def fit_cheap(examples: list[Example]) -> Linear:
    """The cheap reader's confidence model: question features on the cheap scores."""
    q, y = question_rows(examples, [cheap_scores(e) for e in examples])
    return fit_linear(q, y)


def out_of_fold(examples: list[Example], fit, apply) -> list:
    """`apply(model, example)` for every example, the model fitted by `fit` on the other articles."""
    out: list = [None] * len(examples)
    for article in sorted({e.article for e in examples}):
        inside = [i for i, e in enumerate(examples) if e.article == article]
        model = fit([e for e in examples if e.article != article])
        for i in inside:
            out[i] = apply(model, examples[i])
    return out


def train(examples: list[Example], articles: set[str], *, false_refusals: float) -> Trained:
    """The reader fitted on the questions of `articles` (see the module docstring)."""
    chosen = [e for e in examples if e.article in articles]
    oof_logits = out_of_fold(chosen, fit_sentence, lambda m, e: m.logits(e.x))
    q, y = question_rows(chosen, oof_logits)
    answer = fit_linear(q, y)
    rows = {id(e): i for i, e in enumerate(chosen)}
    fit_answer = lambda part: fit_linear(q[[rows[id(e)] for e in part]], y[[rows[id(e)] for e in part]])
    conf = np.array(out_of_fold(chosen, fit_answer,
                                lambda m, e: _sigmoid(m.logits(q[rows[id(e)]][None, :])[0])))
    answerable = np.array([e.answerable for e in chosen])
    return Trained(fit_sentence(chosen), answer, pick_threshold(conf[answerable], false_refusals),
                   fit_cheap(chosen))


def pick_threshold(answerable_conf: np.ndarray, false_refusals: float) -> float:
    """The highest threshold refusing at most `false_refusals` of these confidences."""
    conf = np.sort(answerable_conf)
    if conf.size == 0:
        return 0.5
    allowed = int(np.floor(false_refusals * conf.size))
    return float(conf[min(allowed, conf.size - 1)])


@dataclass(frozen=True)
class Scored:
    answerable: bool
    hit: bool
    confidence: float
    refused: bool
    words: int


def apply(model: Trained, examples: list[Example]) -> list[Scored]:
    out = []
    for e in examples:
        z = model.sentence.logits(e.x)
        conf = _sigmoid(model.answer.logits(question_features(e.x, z, e.question)[None, :])[0])
        best = int(np.argmax(z)) if len(z) else -1
        out.append(Scored(e.answerable, e.answerable and best >= 0 and bool(e.hits[best]), conf,
                          conf < model.threshold, e.words[best] if best >= 0 else 0))
    return out


def cheap_figures(model: Trained, examples: list[Example]) -> dict:
    """How well the cheap reader's confidence separates and predicts: ROC AUC (answerable
    against unanswerable) and the expected calibration error against a right first quote."""
    conf, right, answerable = [], [], []
    for e in examples:
        s = cheap_scores(e)
        conf.append(_sigmoid(model.cheap.logits(question_features(e.x, s, e.question)[None, :])[0]))
        right.append(e.answerable and len(s) > 0 and bool(e.hits[0]))
        answerable.append(e.answerable)
    return {"questions": len(examples), "auc": auc(conf, np.array(answerable)),
            "ece": calibration_error(np.array(conf), np.array(right))}


def calibration_error(confidence: np.ndarray, right: np.ndarray, bins: int = 10) -> float | None:
    """Expected calibration error: the count-weighted gap between mean confidence and the
    share right, over equal-width confidence bins."""
    if confidence.size == 0:
        return None
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    gaps = [abs(confidence[which == b].mean() - right[which == b].mean()) * (which == b).sum()
            for b in range(bins) if (which == b).any()]
    return round(float(sum(gaps) / confidence.size), 4)


def figures(scored: list[Scored]) -> dict:
    """The figures of `rag eval --qa`, for these questions."""
    answerable = np.array([s.answerable for s in scored])
    refused = np.array([s.refused for s in scored])
    hit = np.array([s.hit for s in scored])
    right = np.where(answerable, hit & ~refused, refused)
    words = [s.words for s in scored if not s.refused]
    return {"questions": len(scored), "overall": _mean(right),
            "has_answer_accuracy": _mean((hit & ~refused)[answerable]),
            "first_quote_hit": _mean(hit[answerable]),
            "refusal_precision": _mean(~answerable[refused]),
            "refusal_recall": _mean(refused[~answerable]),
            "false_refusals": _mean(refused[answerable]),
            "auc": auc([s.confidence for s in scored], answerable),
            "ece": calibration_error(np.array([s.confidence for s in scored]), hit),
            "median_words": float(np.median(words)) if words else None}


def crossval(examples: list[Example], folds: list[list[str]], *, false_refusals: float) -> dict:
    """Whole-set figures: each question scored by the model of the fold that never saw it."""
    scored = []
    for test in folds:
        rest = {e.article for e in examples} - set(test)
        model = train(examples, rest, false_refusals=false_refusals)
        scored += apply(model, [e for e in examples if e.article in test])
    return figures(scored)


def _sigmoid(z: float) -> float:
    return float(1 / (1 + np.exp(-np.clip(z, -30, 30))))


def _mean(values) -> float | None:
    values = np.asarray(values, dtype=float)
    return round(float(values.mean()), 4) if values.size else None


# --- the command: python -m rag.training.fit ------------------------------------------------

HELD_OUT = ("1973_oil_crisis", "Scottish_Parliament")  # fold 0 of squad.folds: never trained on
FALSE_REFUSALS = 0.10
TINY_QUESTIONS = 30  # per article


def parser():
    import argparse

    from ..answering.reader import DEFAULT_MODEL
    from .squad import SQUAD2_HALF

    ap = argparse.ArgumentParser(prog="python -m rag.training.fit",
                                 description="Rebuild the reader from the committed SQuAD 2.0 half.")
    ap.add_argument("--qa", type=Path, default=SQUAD2_HALF, help="QA folder to train on")
    ap.add_argument("--out", type=Path, default=DEFAULT_MODEL, help="model file to write")
    ap.add_argument("--false-refusals", type=float, default=FALSE_REFUSALS,
                    help="share of answerable questions the threshold may refuse (default 0.10)")
    ap.add_argument("--tiny", action="store_true", help="the first 30 questions of each article")
    ap.add_argument("--cache", type=Path, default=None,
                    help="cache folder (default ~/.cache/verbatim/training)")
    return ap


def main(argv: list[str] | None = None) -> int:
    import json
    import time

    from ..answering.reader import save_reader
    from ..indexing.onnx import cache_root
    from .examples import extract
    from .squad import folds

    args = parser().parse_args(argv)
    started = time.perf_counter()
    say = lambda text: print(text, flush=True)
    examples = extract(args.qa, cache=args.cache or cache_root() / "training",
                       per_article=TINY_QUESTIONS if args.tiny else None, say=say)
    articles = sorted({e.article for e in examples})
    held_out = [a for a in HELD_OUT if a in articles] or articles[:1]
    say(f"examples: {len(examples):,} questions on {len(articles)} articles "
        f"({time.perf_counter() - started:.0f} s)")
    whole = crossval(examples, folds(articles), false_refusals=args.false_refusals)
    trained_on = sorted(set(articles) - set(held_out))
    model = train(examples, set(trained_on), false_refusals=args.false_refusals)
    test = figures(apply(model, [e for e in examples if e.article in held_out]))
    about = {"data": {"qa_folder": args.qa.name, "licence": "CC BY-SA 4.0 (SQuAD 2.0)",
                      "questions_sha256": _sha256(args.qa / "questions.jsonl"),
                      "trained_on": trained_on, "held_out": held_out,
                      "questions": len(examples)},
             "seed": "deterministic (lbfgs; articles split by rag.training.squad.folds, seed 7)",
             "false_refusal_target": args.false_refusals,
             "metrics": {"held_out": test, "crossval_whole_set": whole,
                         "cheap_confidence_held_out": cheap_figures(
                             model, [e for e in examples if e.article in held_out])},
             "command": "python -m rag.training.fit" + (" --tiny" if args.tiny else ""),
             "minutes": round((time.perf_counter() - started) / 60, 1)}
    save_reader(args.out, sentence=model.sentence, answer=model.answer,
                threshold=model.threshold, cheap=model.cheap, about=about)
    say(json.dumps({"model": str(args.out), "threshold": round(model.threshold, 4), **about},
                   indent=1))
    return 0


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


if __name__ == "__main__":
    import sys

    sys.exit(main())
