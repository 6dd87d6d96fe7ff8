"""Answer a question with verbatim quotes of the retrieved passages, or refuse.

The default answerer is offline and deterministic. It splits the retrieved passages into
sentences, scores each against the (standalone) question by dense similarity with the
index's own embedding model plus the share of the question's content words, names and
numbers it contains, and a bonus when it holds the kind of thing asked for (a name for
"who", a date for "when", a number for "how many"). The best one to three non-redundant
sentences, each cited [n], make the answer; inside each the answering span is marked.
When the best evidence scores under a threshold calibrated on the evaluation set, the
answer is "I can't find this in the sources." with the closest passages.

Invariant, checked before any answer is returned: for every citation
`document.text[start:end] == quote` and the quote lies inside its cited passage. A quote
that fails is dropped; an answer left with none becomes a refusal.

Does not: paraphrase or generate text (see `rag.answering.llm` for the optional LLM answerer).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..indexing import lexical
from ..reading.chunk import sentences
from ..reading.ingest import Document
from ..search.retrieve import Passage, Retriever, check_k
from . import conflicts, features, scoring, soft
from .reader import DEFAULT_MODEL, Reader, load_reader
from .rewrite import Turn, needs_context, rewrite

REFUSAL = "I can't find this in the sources."


@dataclass(frozen=True)
class Citation:
    """A verbatim quote: `document.text[start:end] == quote`; `focus_*` marks the answering span."""

    n: int
    doc_id: str
    title: str
    date: str | None
    source: str
    quote: str
    start: int
    end: int
    passage_rank: int
    focus_start: int | None = None
    focus_end: int | None = None

    @property
    def focus(self) -> str | None:
        if self.focus_start is None:
            return None
        return self.quote[self.focus_start - self.start:self.focus_end - self.start]

    def to_dict(self) -> dict:
        return {**self.__dict__, "focus": self.focus}


@dataclass(frozen=True)
class Answer:
    """An answer whose every sentence is a cited quote, or a refusal with the closest passages."""

    question: str
    standalone_query: str
    text: str
    refused: bool
    citations: tuple[Citation, ...]
    passages: tuple[Passage, ...]
    score: float = 0.0
    notes: tuple[str, ...] = ()
    timings: dict = field(default_factory=dict)
    confidence: float | None = None

    @property
    def focus(self) -> str | None:
        return next((c.focus for c in self.citations if c.focus), None)

    def to_dict(self) -> dict:
        return {
            "question": self.question, "standalone_query": self.standalone_query,
            "answer": self.text, "refused": self.refused, "score": round(self.score, 4),
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "citations": [c.to_dict() for c in self.citations],
            "passages": [p.to_dict() for p in self.passages], "notes": list(self.notes),
            "timings": self.timings,
        }


def dated(retriever: Retriever, answer: Answer, day) -> Answer:
    """`answer` with a note when it was read as of `day` and none of its sources (its quotes,
    or a refusal's closest passages) is dated in the days around it."""
    sources = answer.citations if answer.citations else answer.passages
    note = retriever.outside_note([s.date for s in sources], day)
    return replace(answer, notes=(*answer.notes, note)) if note else answer


READERS = ("learned", "cheap")
CHEAP_THRESHOLD = 0.42


@dataclass(frozen=True)
class AnswerConfig:
    """Settings of the extractive answerer.

    `reader`: "cheap" (the default) ranks sentences and decides to answer with the
    hand-weighted score; "learned" with the trained reader (`rag.answering.reader`, its file
    `reader_model`). Both give `Answer.confidence` from that file's models; the cheap reader
    still refuses by its score. The learned reader is better on Wikipedia-style questions
    (SQuAD 2.0) and not yet on the news seeds: see docs/reader.md. `threshold`: None takes
    the reader's own (chosen on held-out articles for its stated false-refusal rate; 0.42 for
    the cheap score); `rag eval --calibrate` sweeps it. `confident`: from this confidence on,
    the answer is one quote unless another adds.
    """

    k: int = 5
    max_sentences: int = 3
    threshold: float | None = None
    reader: str = "cheap"
    reader_model: str | None = None
    confident: float = 0.5
    lexical_weight: float = 0.5
    type_weight: float = 0.15
    closeness: float = 0.9
    redundancy: float = 0.8
    min_words: int = 4
    typed_window: int = 3

    def __post_init__(self):
        if self.reader not in READERS:
            raise ValueError(f"unknown reader {self.reader!r}; choose one of {', '.join(READERS)}")


@dataclass(frozen=True)
class _Candidate:
    passage: Passage
    start: int
    end: int
    text: str
    score: float
    dense: float
    focus: tuple[int, int] | None
    vector: np.ndarray = field(repr=False, compare=False)
    soft: float | None = None  # soft coverage of the question (`rag.answering.soft`)


class Answerer:
    """Answers questions over one index; keeps its retriever (and model) warm."""

    def __init__(self, retriever: Retriever, *, config: AnswerConfig = AnswerConfig()):
        self.retriever = retriever
        self.config = config
        self._vocabulary: frozenset[str] | None = None
        self._model: Reader | None = None
        self.reader: Reader | None = self.model if config.reader == "learned" else None

    @property
    def model(self) -> Reader:
        """The reader model file (checked on load): the learned reader's models, and the cheap
        reader's confidence model. The cheap reader reads it at its first answer, so that
        ranking sentences (`candidates`) works without it, as training needs."""
        if self._model is None:
            self._model = load_reader(Path(self.config.reader_model or DEFAULT_MODEL))
        return self._model

    @property
    def threshold(self) -> float:
        """The confidence (learned reader) or score (cheap) under which the answerer refuses."""
        if self.config.threshold is not None:
            return self.config.threshold
        return self.reader.threshold if self.reader is not None else CHEAP_THRESHOLD

    @classmethod
    def load(cls, index_dir: str | Path, *, config: AnswerConfig = AnswerConfig()) -> Answerer:
        return cls(Retriever.load(index_dir), config=config)

    def ask(self, question: str, *, history: Sequence[str | Answer] = (), k: int | None = None,
            as_of: str | None = None, asked_on: str | None = None) -> Answer:
        """Answer `question`; `history` holds earlier user turns (strings or Answers), oldest
        first; `as_of` (YYYY-MM-DD) prefers the articles of that day's week, and `asked_on`
        is the day asked, for one that says "this week" (`Retriever.search`). An answer read as
        of a day notes when none of its sources is dated in the days around it (`dated`)."""
        started = time.perf_counter()
        k = check_k(self.config.k if k is None else k)
        question = self.retriever.prepare(question)
        standalone = rewrite(question, self.previous_turn(history))
        day = self.retriever.reading_day(standalone, as_of=as_of, asked_on=asked_on)
        passages = self.retriever.search(standalone, k=k, as_of=day)
        retrieved = time.perf_counter()
        docs = self.retriever.store.documents(sorted({p.doc_id for p in passages}))
        candidates, confidence = self.read(standalone, self.candidates(standalone, passages, docs))
        answer = dated(self.retriever, self._compose(question, standalone, passages, candidates,
                                                     docs, confidence), day)
        done = time.perf_counter()
        timings = {"retrieve_ms": round((retrieved - started) * 1000, 1),
                   "answer_ms": round((done - retrieved) * 1000, 1),
                   "total_ms": round((done - started) * 1000, 1)}
        return replace(answer, timings=timings)

    def vocabulary(self) -> frozenset[str]:
        """Word prefixes of every indexed text: what the sources mention at all.

        Read from the index, where they are saved with its BM25 index; an index saved before
        they were kept has its chunks read once instead.
        """
        if self._vocabulary is None:
            store = self.retriever.store
            saved = store.word_prefixes()
            self._vocabulary = saved if saved is not None else lexical.corpus_prefixes(
                c.text for _, c in store.chunks())
        return self._vocabulary

    def previous_turn(self, history: Sequence[str | Answer]) -> Turn | None:
        """The last turn of `history`: its standalone question and what its answer gave (the
        focus and the quotes, where a follow-up's pronoun may find its name)."""
        if not history:
            return None
        last = history[-1]
        if isinstance(last, Answer):
            if last.refused:
                return Turn(last.standalone_query)
            return Turn(last.standalone_query, last.focus, tuple(c.quote for c in last.citations))
        if not isinstance(last, str) or not last.strip():
            return None
        earlier = None
        if scoring.answer_type(last) == "who":  # its answer names the person a pronoun means
            earlier = self.ask(last, history=history[-2:-1] if needs_context(last) else ())
        if earlier is None or earlier.refused:
            return Turn(earlier.standalone_query if earlier is not None else last)
        return Turn(earlier.standalone_query, earlier.focus,
                    tuple(c.quote for c in earlier.citations))

    def candidates(self, query: str, passages: list[Passage],
                   docs: dict[str, Document]) -> list[_Candidate]:
        """Every sentence of `passages` that is not itself a question, scored as the answer is
        chosen (dense + weighted coverage of the question's words + type bonus), best first,
        each with its soft coverage where the embedder gives token states."""
        spans = []
        for p in passages:
            text = docs[p.doc_id].text
            for a, b in sentences(text, p.start, p.end):
                if len(text[a:b].split()) >= self.config.min_words \
                        and not scoring.is_question(text[a:b]):
                    spans.append((p, a, b, text[a:b]))
        if not spans:
            return []
        vectors, states = self.retriever.embedder.embed_with_states([query] + [s[3] for s in spans])
        dense = vectors[1:] @ vectors[0]
        terms = scoring.content_terms(query)
        kind = scoring.answer_type(query)
        out = []
        for (p, a, b, text), d, v in zip(spans, dense, vectors[1:]):
            dated = scoring.with_years(text, p.date)
            focus = scoring.focus_span(text, kind, query) \
                if kind != "other" and not scoring.other_years(dated, query) else None
            typed = self.config.type_weight if focus else 0.0
            score = float(d) + self.config.lexical_weight * scoring.coverage(terms, dated) + typed
            out.append(_Candidate(p, a, b, text, score, float(d), focus, v))
        if states:  # how well each sentence holds the question, token by token
            near = soft.soft_coverage(soft.question_pieces(states[0]), states[1:])
            out = [replace(c, soft=float(n)) for c, n in zip(out, near)]
        out.sort(key=lambda c: (-c.score, c.passage.rank, c.start))
        return out

    def sentence_features(self, query: str, candidates: list[_Candidate]) -> np.ndarray:
        """`rag.answering.features.sentence_features` of `candidates`, with the IDF of this
        index's chunks (the same from a local index and from Milvus; an index built before
        its counts were kept weighs words evenly)."""
        store = self.retriever.store
        idf = features.index_idf(store.manifest.chunks, store.document_frequencies)
        return features.sentence_features(query, candidates, idf)

    def read(self, query: str, candidates: list[_Candidate]) -> tuple[list[_Candidate], float]:
        """`candidates` in the reader's order, each scored with its sentence probability, and
        the confidence that the first answers `query`. The cheap reader keeps its order and
        scores; its confidence comes from the model file's cheap answer model."""
        x = self.sentence_features(query, candidates)
        if self.reader is None:
            scores = np.array([c.score for c in candidates])
            return candidates, self.model.cheap_confidence(
                features.question_features(x, scores, query))
        logits = self.reader.sentence_logits(x)
        confidence = self.reader.confidence(features.question_features(x, logits, query))
        probs = 1 / (1 + np.exp(-np.clip(logits, -30, 30)))
        ranked = [replace(c, score=float(p)) for c, p in zip(candidates, probs)]
        order = sorted(range(len(ranked)), key=lambda i: (-logits[i], i))
        return [ranked[i] for i in order], confidence

    def _compose(self, question, standalone, passages, candidates, docs, confidence) -> Answer:
        best = candidates[0].score if candidates else 0.0
        score = best if self.reader is None else confidence
        refuse = (Answer(question, standalone, REFUSAL, True, (), tuple(passages[:3]), score,
                         confidence=confidence))
        why = self._refusal_reasons(standalone, candidates, score)
        if why:
            return replace(refuse, notes=tuple(why))
        if self.reader is None:  # refusing read the cheap order; the first quote is by soft
            candidates = soft.first_by_soft(candidates, self.config.type_weight)
        chosen = self._select(standalone, candidates, confidence)
        chosen, conflict = conflicts.order(chosen, candidates, docs)
        citations = verified([_citation(i, c) for i, c in enumerate(chosen, start=1)], docs, passages)
        if not citations:
            return refuse
        text = " ".join(f"{c.quote} [{c.n}]" for c in citations)
        numbers = {(c.doc_id, c.start): c.n for c in citations}
        notes = [conflicts.note(conflict, numbers)] if conflict and len(numbers) >= 2 else []
        text += "".join(f" {n}" for n in notes)
        return Answer(question, standalone, text, False, tuple(citations), tuple(passages), score,
                      tuple(notes), confidence=confidence)

    def _refusal_reasons(self, query, candidates, score) -> list[str]:
        """Why the evidence is too weak to answer (empty when it is strong enough)."""
        missing = scoring.missing_terms(query, self.vocabulary())
        if missing:
            return [f"the sources never mention {', '.join(missing)}"]
        if candidates and scoring.unsettled(candidates[0].text, query):
            return ["the closest source says this is not known yet"]
        kind = scoring.answer_type(query)
        if self.reader is None and self.config.typed_window and kind != "other" \
                and not any(_gives(c, kind, query) for c in candidates[: self.config.typed_window]):
            unit = scoring.asked_unit(query)
            figure = {None: "a matching figure", "percent": "a percentage"}.get(
                unit, f"a figure in {unit}s")
            wanted = {"who": "a person's name", "name": "a name", "when": "a date",
                      "number": figure}[kind]
            return [f"no close sentence gives {wanted}"]
        if score < self.threshold:
            what = "the best evidence scores" if self.reader is None else "the reader's confidence is"
            return [f"{what} {score:.2f}, under the threshold {self.threshold:.2f}"]
        return []

    def _select(self, query: str, candidates: list[_Candidate],
                confidence: float | None) -> list[_Candidate]:
        """The first candidate, and up to `max_sentences` in all when they add: close seconds
        while the reader is unsure or the question asks for several things, then another
        document naming the same answer."""
        chosen = [candidates[0]]
        if confidence is not None and confidence >= self.config.confident \
                and not scoring.asks_for_several(query):
            return self._corroborate(chosen, candidates)
        for c in candidates[1:]:
            if len(chosen) >= self.config.max_sentences or c.score < self.config.closeness * chosen[0].score:
                break
            if any(_overlaps(c, o) or float(c.vector @ o.vector) >= self.config.redundancy
                   for o in chosen):
                continue
            chosen.append(c)
        return self._corroborate(chosen, candidates)

    def _corroborate(self, chosen: list[_Candidate], candidates: list[_Candidate]) -> list[_Candidate]:
        """Add the best sentence of another document that names the same answer, if any."""
        lead = chosen[0]
        if not lead.focus or len(chosen) >= self.config.max_sentences:
            return chosen
        focus = lead.text[lead.focus[0]:lead.focus[1]]
        docs = {c.passage.doc_id for c in chosen}
        for c in candidates:
            at = c.text.find(focus)
            if at >= 0 and c.passage.doc_id not in docs and not any(_overlaps(c, o) for o in chosen):
                return chosen + [replace(c, focus=(at, at + len(focus)))]
        return chosen


def _overlaps(a: _Candidate, b: _Candidate) -> bool:
    return a.passage.doc_id == b.passage.doc_id and a.start < b.end and b.start < a.end


def _citation(n: int, c: _Candidate) -> Citation:
    p = c.passage
    focus = (c.start + c.focus[0], c.start + c.focus[1]) if c.focus else (None, None)
    return Citation(n=n, doc_id=p.doc_id, title=p.title, date=p.date, source=p.source, quote=c.text,
                    start=c.start, end=c.end, passage_rank=p.rank,
                    focus_start=focus[0], focus_end=focus[1])


def check_citation(c: Citation, docs: dict[str, Document], passages: Sequence[Passage]) -> bool:
    """The invariant: the quote stands at its offsets and inside the passage it cites."""
    doc = docs.get(c.doc_id)
    if doc is None or doc.text[c.start:c.end] != c.quote or not c.quote:
        return False
    return any(p.doc_id == c.doc_id and p.rank == c.passage_rank and p.start <= c.start
               and c.end <= p.end for p in passages)


def verified(citations: list[Citation], docs, passages) -> list[Citation]:
    """Only the citations that hold the invariant, renumbered 1..n in order."""
    good = [c for c in citations if check_citation(c, docs, passages)]
    return [replace(c, n=i) for i, c in enumerate(good, start=1)]


def _gives(candidate: _Candidate, kind: scoring.AnswerType, query: str) -> bool:
    """Whether a candidate gives the kind of thing asked: its focus, or for "who" a one-word
    name ("Hungary" vetoed the bid, "Putin" said), which is too loose to bold as the answer."""
    return candidate.focus is not None or (
        kind == "who" and scoring.focus_span(candidate.text, "name", query) is not None)
