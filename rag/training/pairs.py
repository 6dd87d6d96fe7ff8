"""Training pairs for the reader: (question, title, sentence, label, answer span in the sentence).

Two sources:
- `reading_pairs`: SQuAD 1.1 paragraphs. Per question, the sentence holding the answer
  (positive, with its span) and two hard negatives: the sentence of the same paragraph and the
  sentence of the two nearest other paragraphs of the article that share most of the
  question's rare words (IDF-weighted), never one holding the answer text. This teaches which
  sentence answers.
- `open_pairs`: the product's own open-domain candidates for a QA folder (an index of its
  corpus, `Retriever.search`, then `Answerer.candidates`, shortlisted as the answerer
  does), each labelled by whether it holds a gold answer; every candidate of an unanswerable
  question is a negative. This teaches when nothing answers, on real adversarial questions.

Does not: tokenize or train (`rag.training.model`).
"""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from ..evaluation.metrics import contains_answer, normalize_answer
from ..evaluation.qa import QAItem
from ..reading.chunk import sentences
from .squad import Paragraph

_WORD = re.compile(r"\w+")
STOPWORDS = frozenset("""a an the of in on at to for by with from and or as is was were are be been
being did do does what which who whom whose when where why how that this these those it its into
than then there their they he she his her him not no""".split())


@dataclass(frozen=True)
class Pair:
    """One training example: `y` 1 when `sentence` answers `question`; `a:b` the answer in it."""

    question: str
    title: str
    sentence: str
    y: int
    a: int = -1
    b: int = -1
    group: str = ""  # the question it belongs to (for ranking metrics)
    kind: str = ""


def _terms(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in STOPWORDS}


def reading_pairs(paragraphs: list[Paragraph], *, seed: int = 13) -> list[Pair]:
    """Positives and hard negatives from SQuAD-style paragraphs (see the module docstring)."""
    rng = random.Random(seed)
    by_article: dict[str, list[Paragraph]] = {}
    for p in paragraphs:
        by_article.setdefault(p.article, []).append(p)
    out: list[Pair] = []
    for article, paras in sorted(by_article.items()):
        out += _article_pairs(article.replace("_", " "), paras, rng)
    return out


def _article_pairs(title: str, paras: list[Paragraph], rng: random.Random) -> list[Pair]:
    split = [[(a, b) for a, b in sentences(p.context) if len(p.context[a:b].split()) >= 4]
             for p in paras]
    terms = [[_terms(p.context[a:b]) for a, b in ss] for p, ss in zip(paras, split, strict=True)]
    df = Counter(t for ts in terms for s in ts for t in s)
    total = sum(len(ts) for ts in terms) or 1
    idf = {t: math.log((total + 1) / (c + 0.5)) for t, c in df.items()}
    out = []
    for pi, p in enumerate(paras):
        for qi, q in enumerate(p.questions):
            group = f"{title}/{pi}/{qi}"
            out += _question_pairs(title, group, q, pi, paras, split, terms, idf, rng)
    return out


def _question_pairs(title, group, q, pi, paras, split, terms, idf, rng) -> list[Pair]:
    text, start = q.answers[0]
    ctx = paras[pi].context
    holder = next((i for i, (a, b) in enumerate(split[pi]) if a <= start and start + len(text) <= b),
                  None)
    if holder is None:
        return []
    a, b = split[pi][holder]
    pairs = [Pair(q.question, title, ctx[a:b], 1, start - a, start - a + len(text), group, "pos")]
    asked = _terms(q.question)
    weight = lambda ts: sum(idf.get(t, 0.0) for t in asked & ts) + rng.random() * 1e-3
    answers = [t for t, _ in q.answers]
    safe = lambda s: not contains_answer(s, answers)
    same = [i for i in range(len(split[pi])) if i != holder
            and safe(ctx[split[pi][i][0]:split[pi][i][1]])]
    if same:
        i = max(same, key=lambda i: weight(terms[pi][i]))
        pairs.append(Pair(q.question, title, ctx[split[pi][i][0]:split[pi][i][1]], 0,
                          group=group, kind="same paragraph"))
    near = sorted((pj for pj in range(len(paras)) if pj != pi),
                  key=lambda pj: -weight(set().union(*terms[pj]) if terms[pj] else set()))[:2]
    others = sorted(((weight(ts), pj, i) for pj in near for i, ts in enumerate(terms[pj])),
                    reverse=True)
    for _, pj, i in others[:5]:
        s = paras[pj].context[split[pj][i][0]:split[pj][i][1]]
        if safe(s):
            pairs.append(Pair(q.question, title, s, 0, group=group, kind="other paragraph"))
            break
    return pairs


@dataclass(frozen=True)
class OpenCandidate:
    """A shortlisted candidate of the product for one QA question, labelled."""

    title: str
    sentence: str
    hit: bool  # holds a gold answer
    cheap: float
    coverage: float
    rank: int  # of its passage


@dataclass(frozen=True)
class OpenQuestion:
    item: QAItem
    article: str  # the article (corpus file name) the question was written on
    candidates: tuple[OpenCandidate, ...]


def open_pairs(questions: list[OpenQuestion]) -> list[Pair]:
    """Every shortlisted candidate of `questions` as a pair; spans where the answer is found."""
    out = []
    for oq in questions:
        answers = () if oq.item.unanswerable else oq.item.answers
        for c in oq.candidates:
            y = int(bool(answers) and c.hit)
            a, b = _span(c.sentence, answers) if y else (-1, -1)
            out.append(Pair(oq.item.question, c.title, c.sentence, y, a, b, oq.item.id,
                            "open positive" if y else "open negative"))
    return out


def _span(sentence: str, answers: tuple[str, ...]) -> tuple[int, int]:
    """Where a gold answer stands verbatim (case folded) in `sentence`, or (-1, -1)."""
    low = sentence.lower()
    for answer in sorted(answers, key=len):
        at = low.find(answer.lower())
        if at >= 0 and normalize_answer(answer):
            return at, at + len(answer)
    return -1, -1


def save_open(questions: list[OpenQuestion], path: Path) -> None:
    rows = [{"item": asdict(q.item), "article": q.article,
             "candidates": [asdict(c) for c in q.candidates]} for q in questions]
    path.write_text(json.dumps(rows), encoding="utf-8")


def load_open(path: Path) -> list[OpenQuestion]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    return [OpenQuestion(QAItem(**{**r["item"], "answers": tuple(r["item"]["answers"])}),
                         r["article"], tuple(OpenCandidate(**c) for c in r["candidates"]))
            for r in rows]
