"""Synthetic unanswerable pairs: a SQuAD 1.1 answer sentence against a changed question.

SQuAD 2.0's unanswerable questions were written by changing one fact of an answerable one (an
entity or number swapped, a negation, a word replaced), so that the passage still looks
like it answers. `swapped_pairs(paragraphs)` makes pairs of that shape from SQuAD 1.1: for
each question whose answer sentence holds one of its names, numbers or longer words, that
one is replaced by another of the same shape from elsewhere in the article (never one the
sentence holds); or, for a question with an auxiliary ("did", "is", ...), "not" follows it.
The changed question against the answer sentence is a negative (`y = 0`, kind "swapped"), in
the original question's group, so that `rag.training.recipe` samples the two together.

`python -m rag.training --swapped` adds them to the base and replay pairs. Measured on the
held-out SQuAD 2.0 articles they did not help (`docs/reader.md`), so the recipe leaves them
out by default.

Does not: judge whether a changed question is still answerable by another sentence, or make
natural negations ("What did not Victoria study?").
"""

from __future__ import annotations

import random
import re

from ..reading.chunk import sentences
from .pairs import STOPWORDS, Pair
from .squad import Paragraph

_NAME = re.compile(r"(?<!^)(?<![.?!] )\b[A-Z][a-z]+(?: [A-Z][a-z]+)*")
_NUMBER = re.compile(r"\b\d[\d,]*(?:\.\d+)?\b")
_WORD = re.compile(r"\b[a-z]{5,}\b")
_AUX = re.compile(r"^(?:\w+\s){0,3}?(did|does|do|is|was|were|are|can|could|would|will|has|"
                  r"have|had)\b ")


def swapped_pairs(paragraphs: list[Paragraph], *, seed: int = 113) -> list[Pair]:
    """One changed-question negative per question where a change applies (seeded)."""
    rng = random.Random(seed)
    by_article: dict[str, list[Paragraph]] = {}
    for p in paragraphs:
        by_article.setdefault(p.article, []).append(p)
    out = []
    for article, paras in sorted(by_article.items()):
        text = " ".join(p.context for p in paras)
        pools = {"name": sorted(set(_NAME.findall(text))),
                 "number": sorted(set(_NUMBER.findall(text))),
                 "word": sorted({w for w in _WORD.findall(text) if w not in STOPWORDS})}
        title = article.replace("_", " ")
        for pi, p in enumerate(paras):
            for qi, q in enumerate(p.questions):
                sentence = _holder(p, q)
                changed = sentence and changed_question(q.question, sentence, pools, rng)
                if changed and changed != q.question:
                    out.append(Pair(changed, title, sentence, 0, group=f"{title}/{pi}/{qi}",
                                    kind="swapped"))
    return out


def _holder(p: Paragraph, q) -> str | None:
    """The sentence of `p` that holds the question's first answer, or None."""
    if not q.answers:
        return None
    text, start = q.answers[0]
    for a, b in sentences(p.context):
        if a <= start and start + len(text) <= b:
            return p.context[a:b]
    return None


def changed_question(question: str, sentence: str, pools: dict[str, list[str]],
                     rng: random.Random) -> str | None:
    """`question` with one fact the `sentence` supports changed, or None when none can be."""
    low = sentence.lower()
    options = [(kind, m) for kind, pattern in (("name", _NAME), ("number", _NUMBER))
               for m in pattern.finditer(question) if m.group(0) in sentence]
    words = [m for m in _WORD.finditer(question) if m.group(0) in low and m.group(0) not in STOPWORDS]
    if words:
        options.append(("word", max(words, key=lambda m: len(m.group(0)))))
    if _AUX.match(question):
        options.append(("not", None))
    if not options:
        return None
    kind, m = rng.choice(options)
    if kind == "not":
        end = _AUX.match(question).end(1)
        return question[:end] + " not" + question[end:]
    was = m.group(0).lower()
    others = [x for x in pools[kind] if x.lower() not in low and x.lower()[:4] != was[:4]]
    if not others:
        return None
    return question[:m.start()] + rng.choice(others) + question[m.end():]
