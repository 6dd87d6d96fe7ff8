"""Answerability and the refusal threshold, fitted on questions the reader never trained on.

`read_questions(reader, questions)` reads every shortlisted candidate of each question with
the exported reader (ONNX, as at run time) and returns, per question, the best candidate and
the features `rag.training.reader.answerability_features` makes of the shortlist.
`fit(read)` fits a logistic regression of "the best candidate holds a gold answer" (false for
every unanswerable question) on those features, standardized, and `threshold(...)` picks
the confidence under which to refuse: the highest one that refuses at most `false_refusals` of
the answerable questions. `score(read, head, threshold)` gives the figures the issue asks for.

Does not: train the reader, or read the SQuAD files (`rag.training.squad`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .pairs import OpenQuestion
from .reader import FEATURES, Reader, answerability_features


@dataclass(frozen=True)
class Read:
    """One question as the reader saw it."""

    answerable: bool
    hit: bool  # the best candidate holds a gold answer
    features: dict
    best_rank: int  # position of the reader's best in the cheap shortlist (0 = first)
    words: int  # length of the best candidate, in words


def read_questions(reader: Reader, questions: list[OpenQuestion]) -> list[Read]:
    out = []
    for oq in questions:
        cands = oq.candidates
        if not cands:
            out.append(Read(not oq.item.unanswerable, False,
                            answerability_features([], [], [], [], []), -1, 0))
            continue
        readings = reader.read(oq.item.question, [c.title for c in cands],
                               [c.sentence for c in cands])
        logits = [r.logit for r in readings]
        best = int(np.argmax(logits))
        features = answerability_features([r.prob for r in readings], logits,
                                          [r.span_score for r in readings],
                                          [c.cheap for c in cands], [c.coverage for c in cands])
        out.append(Read(not oq.item.unanswerable, cands[best].hit, features, best,
                        len(cands[best].sentence.split())))
    return out


def fit(read: list[Read], *, c: float = 1.0) -> dict:
    """The answerability model as plain numbers (what the manifest stores)."""
    from sklearn.linear_model import LogisticRegression

    x = np.array([[r.features[f] for f in FEATURES] for r in read], dtype=np.float64)
    y = np.array([int(r.answerable and r.hit) for r in read])
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=c, max_iter=1000).fit((x - mean) / scale, y)
    return {"features": list(FEATURES), "coef": model.coef_[0].round(6).tolist(),
            "intercept": round(float(model.intercept_[0]), 6), "mean": mean.round(6).tolist(),
            "scale": scale.round(6).tolist(),
            "target": "the reader's best candidate holds a gold answer"}


def confidences(head: dict, read: list[Read]) -> np.ndarray:
    x = np.array([[r.features[f] for f in head["features"]] for r in read], dtype=np.float64)
    z = ((x - np.array(head["mean"])) / np.array(head["scale"])) @ np.array(head["coef"])
    return 1.0 / (1.0 + np.exp(-(z + head["intercept"])))


def threshold(head: dict, read: list[Read], *, false_refusals: float = 0.10) -> float:
    """The highest confidence threshold that refuses at most `false_refusals` of the
    answerable questions of `read`."""
    conf = np.sort(confidences(head, read)[[r.answerable for r in read]])
    if conf.size == 0:
        return 0.5
    allowed = int(np.floor(false_refusals * conf.size))
    return float(conf[allowed]) if allowed < conf.size else float(conf[-1])


def score(head: dict, limit: float, read: list[Read]) -> dict:
    """Overall, has-answer accuracy, refusal precision/recall, false refusals, AUC, length."""
    from sklearn.metrics import roc_auc_score

    conf = confidences(head, read)
    refused = conf < limit
    answerable = np.array([r.answerable for r in read])
    hit = np.array([r.hit for r in read])
    right = np.where(answerable, hit & ~refused, refused)
    auc = roc_auc_score(answerable, conf) if 0 < answerable.sum() < len(read) else None
    return {
        "questions": len(read), "overall": _mean(right),
        "has_answer_accuracy": _mean((hit & ~refused)[answerable]),
        "first_quote_hit": _mean(hit[answerable]),
        "refusal_recall": _mean(refused[~answerable]),
        "refusal_precision": _mean(~answerable[refused]) if refused.any() else None,
        "false_refusals": _mean(refused[answerable]),
        "auc": None if auc is None else round(float(auc), 4),
        "median_words": float(np.median([r.words for r in read])) if read else None,
    }


def _mean(values) -> float | None:
    values = np.asarray(values)
    return round(float(values.mean()), 4) if values.size else None
