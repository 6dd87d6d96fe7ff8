"""The candidate sentences of an answer, and the cheap score that shortlists them for the reader.

`candidates(query, passages, docs, embedder=...)` splits each retrieved passage into its
sentences (the chunker's own splitter, so offsets are exact), keeps those of at least
`min_words` words, and scores each by dense similarity to the question with the index's
embedding model, plus the weighted share of the question's content words, names and numbers
it contains, plus a bonus when it holds the kind of thing asked for (a name for "who", a date
for "when", a figure for "how many"). The best `shortlist` of them go on to the reader
(`rag.training.reader`), which decides; the rest are still there for corroboration and for
spotting sources that disagree.

The same function builds the reader's training candidates (`rag.training`), so the reader
is trained on exactly what it sees at run time.

Does not: decide the answer or whether to answer (`rag.answering.answer`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..answering import scoring
from ..reading.chunk import sentences
from ..reading.ingest import Document
from ..search.retrieve import Passage


@dataclass(frozen=True)
class CandidateConfig:
    """Weights of the cheap score and what counts as a candidate sentence."""

    lexical_weight: float = 0.5
    type_weight: float = 0.15
    min_words: int = 4


@dataclass(frozen=True)
class Candidate:
    """A sentence of a retrieved passage: `document.text[start:end] == text`.

    `score` is the cheap score (dense + coverage + type bonus); `focus` the pattern-found span
    of the asked type, as offsets into `text`; `vector` the sentence's embedding.
    """

    passage: Passage
    start: int
    end: int
    text: str
    score: float
    dense: float
    coverage: float
    focus: tuple[int, int] | None
    vector: np.ndarray = field(repr=False, compare=False)


class VectorCache:
    """Sentence vectors by text, at most `size` of them (the oldest go first); thread-safe
    enough for a chat server: a lost race only embeds a sentence twice."""

    def __init__(self, size: int = 50_000):
        self.size = size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()

    def embed(self, embedder, texts: list[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        if missing:
            for text, vector in zip(missing, embedder.embed(missing), strict=True):
                self._vectors[text] = vector
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)
        return np.stack([self._vectors.get(t) if t in self._vectors else embedder.embed([t])[0]
                         for t in texts])


def candidates(query: str, passages: Sequence[Passage], docs: dict[str, Document], *,
               embedder, config: CandidateConfig = CandidateConfig(),
               vectors: VectorCache | None = None) -> list[Candidate]:
    """Every candidate sentence of `passages`, best cheap score first (no repeats).
    `vectors` keeps sentence vectors between questions (a chat reads the same passages often).

    >>> candidates("Who leads NATO?", passages, docs, embedder=embedder)[0].text  # doctest: +SKIP
    """
    spans, seen = [], set()
    for p in passages:
        text = docs[p.doc_id].text
        for a, b in sentences(text, p.start, p.end):
            if len(text[a:b].split()) >= config.min_words and (p.doc_id, a) not in seen:
                seen.add((p.doc_id, a))
                spans.append((p, a, b, text[a:b]))
    if not spans:
        return []
    cache = vectors if vectors is not None else VectorCache()
    sentence_vectors = cache.embed(embedder, [s[3] for s in spans])
    dense = sentence_vectors @ embedder.embed([query])[0]
    terms = scoring.content_terms(query)
    kind = scoring.answer_type(query)
    out = []
    for (p, a, b, text), d, v in zip(spans, dense, sentence_vectors, strict=True):
        focus = scoring.focus_span(text, kind, query) if kind != "other" else None
        cover = scoring.coverage(terms, text)
        score = float(d) + config.lexical_weight * cover + (config.type_weight if focus else 0.0)
        out.append(Candidate(p, a, b, text, score, float(d), cover, focus, v))
    out.sort(key=lambda c: (-c.score, c.passage.rank, c.start))
    return out
