"""What the reader reads: numeric features of each candidate sentence, and of the question.

`sentence_features` describes every candidate sentence against the question:
- how close it is in meaning (the embedder's cosine) and how it ranks among the others;
- how much of the question it holds: content words, the same weighted by their rarity in the
  index (IDF from the BM25 index's document frequencies), in the sentence and in its passage
  and title, the rarest question word it lacks, the question's names and numbers, and word
  pairs in the question's order;
- whether it holds the kind of thing asked for (a name for "who"...), whether one of the
  two is negated and the other not, and how much it says beyond the question's own words;
- where it came from (the passage's rank) and its length.
`question_features` describes the best candidate as the reader ranked it, beside the
runner-up: what `rag.answering.reader` turns into the answer's confidence.

Both are plain functions of their inputs, used the same way by the answerer and by
`rag.training.examples` (what the reader is fitted on), so the model always sees at run time what it
was trained on. Changing a feature means retraining: the names are recorded in the model's
manifest and checked on load.

Does not: fit or apply any weights (`rag.answering.reader`).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Sequence

import numpy as np

from ..indexing.lexical import tokenize
from ..reading.text import fold
from . import scoring

SENTENCE_FEATURES = (
    "dense", "dense_gap", "coverage", "idf_coverage", "idf_gap", "context_coverage",
    "missing_rarest", "names", "pairs", "typed", "untyped_question", "negation_mismatch",
    "novelty", "passage_rank", "cheap_order", "cheap_gap", "log_words",
)
QUESTION_FEATURES = (
    "best_logit", "logit_margin", "top3_mass", "best_idf_coverage", "best_missing_rarest",
    "best_names", "best_dense", "best_negation_mismatch", "untyped_question", "best_typed",
    "question_terms",
)

_NEGATION = re.compile(r"\b(?:not|never|no|none|neither|nor|without|cannot)\b|n't\b", re.IGNORECASE)
Idf = Callable[[list[str]], list[float]]


def uniform_idf(terms: list[str]) -> list[float]:
    """Every term weighs the same: for a store without a BM25 index to count them in."""
    return [1.0] * len(terms)


def index_idf(rows: int, frequencies: Callable[[list[str]], list[int] | None]) -> Idf:
    """IDF of analyzed terms from an index's document frequencies over its `rows` chunks
    (`Store.document_frequencies`; unknown terms are the rarest). An index that keeps no
    counts (None) weighs words evenly (`uniform_idf`)."""
    rows = max(int(rows), 1)

    def idf(terms: list[str]) -> list[float]:
        counts = frequencies(terms)
        if counts is None:
            return uniform_idf(terms)
        return [math.log(1 + (rows - df + 0.5) / (df + 0.5)) for df in counts]
    return idf


def sentence_features(query: str, candidates: Sequence, idf: Idf) -> np.ndarray:
    """One row of `SENTENCE_FEATURES` per candidate (an `Answerer.candidates` item, in the
    cheap score's order)."""
    if not candidates:
        return np.zeros((0, len(SENTENCE_FEATURES)))
    q_terms = [t for t in dict.fromkeys(tokenize(query)) if t not in scoring.STOP]
    weights = dict(zip(q_terms, idf(q_terms)))
    total = sum(weights.values()) or 1.0
    ceiling = max(weights.values(), default=1.0) or 1.0
    content = scoring.content_terms(query)
    names = scoring.salient_terms(query)
    q_pairs = set(itertools.pairwise(q_terms))
    kind = scoring.answer_type(query)
    q_negated = bool(_NEGATION.search(query))
    rows = []
    for order, c in enumerate(candidates, start=1):
        tokens = tokenize(c.text)
        held = set(tokens)
        around = held | set(tokenize(c.passage.text)) | set(tokenize(c.passage.title))
        missing = [w for t, w in weights.items() if t not in around]
        folded = fold(c.text)
        rows.append([
            c.dense, 0.0, scoring.coverage(content, c.text),
            sum(w for t, w in weights.items() if t in held) / total, 0.0,
            sum(w for t, w in weights.items() if t in around) / total,
            max(missing, default=0.0) / ceiling,
            sum(n in folded for n in names) / len(names) if names else 1.0,
            len(q_pairs & set(itertools.pairwise(tokens))) / len(q_pairs) if q_pairs else 0.0,
            float(c.focus is not None), float(kind == "other"),
            float(q_negated != bool(_NEGATION.search(c.text))),
            len(held - set(weights)) / max(len(held), 1),
            1.0 / c.passage.rank, 1.0 / order, c.score - candidates[0].score,
            math.log(1 + len(c.text.split())),
        ])
    x = np.asarray(rows, dtype=np.float64)
    x[:, 1] = x[:, 0] - x[:, 0].max()
    x[:, 4] = x[:, 3] - x[:, 3].max()
    return x


def question_features(x: np.ndarray, logits: np.ndarray, query: str) -> np.ndarray:
    """One row of `QUESTION_FEATURES`: the reader's best candidate (by `logits`, one per row of
    the sentence features `x`) against the runner-up. No candidate: the weakest possible row."""
    terms = float(len({t for t in tokenize(query) if t not in scoring.STOP}))
    if len(logits) == 0:
        return np.array([-10.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0,
                         float(scoring.answer_type(query) == "other"), 0.0, terms])
    order = np.argsort(-logits, kind="stable")
    best = int(order[0])
    runner = float(logits[order[1]]) if len(order) > 1 else -10.0
    probs = 1 / (1 + np.exp(-logits))
    col = {name: i for i, name in enumerate(SENTENCE_FEATURES)}
    row = x[best]
    return np.array([
        float(logits[best]), float(logits[best]) - runner, float(np.sort(probs)[::-1][:3].sum()),
        row[col["idf_coverage"]], row[col["missing_rarest"]], row[col["names"]],
        row[col["dense"]], row[col["negation_mismatch"]], row[col["untyped_question"]],
        row[col["typed"]], terms,
    ])
