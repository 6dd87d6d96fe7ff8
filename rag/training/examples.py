"""The reader's training examples: every candidate sentence of every question, as features.

`extract(folder)` indexes a QA folder's corpus (the real embedding model, the default
chunker and hybrid search, as `rag index` does), asks every question open-domain over it the
way the answerer does (`Retriever.prepare`, `Retriever.search`, `Answerer.candidates`), and
keeps, per question, the rows of `rag.answering.features.sentence_features` for its
candidates with a label each (the sentence holds a gold answer; never, for an unanswerable
question). The result is cached as JSON under the cache folder, keyed by the folder's content,
the package version and the feature names, so a second run reads it back in a second.

Does not: fit anything (`rag.training.fit`).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..answering.answer import AnswerConfig, Answerer
from ..answering.features import SENTENCE_FEATURES
from ..evaluation.metrics import contains_answer
from ..evaluation.qa import read_qa_folder
from ..indexing.build import build_index
from ..indexing.manifest import package_version
from ..search.retrieve import Retriever
from .squad import first_per_article, folder_key

EXAMPLES_VERSION = 1


@dataclass(frozen=True)
class Example:
    """One question: its candidates' sentence features and whether each holds a gold answer."""

    id: str
    question: str  # as searched (after `Retriever.prepare`)
    article: str
    answerable: bool
    x: np.ndarray  # (candidates, len(SENTENCE_FEATURES))
    hits: np.ndarray  # (candidates,) bool
    words: tuple[int, ...]  # each candidate's length in words


def _key(folder: Path, k: int, per_article: int | None) -> str:
    return folder_key(folder, EXAMPLES_VERSION, package_version(), k, per_article,
                      ",".join(SENTENCE_FEATURES))


def extract(folder: str | Path, *, cache: Path, k: int = 5, per_article: int | None = None,
            say=print) -> list[Example]:
    """The examples of every question of the QA `folder` (or of the first `per_article` of
    each article), cached under `cache`."""
    folder = Path(folder)
    root = cache / f"examples-{_key(folder, k, per_article)}"
    done = root / "examples.json"
    if done.exists():
        return _load(done)
    corpus, items = read_qa_folder(folder)
    if per_article:
        items = first_per_article(items, per_article)
    started = time.perf_counter()
    build_index([corpus], index_dir=root / "index")
    answerer = Answerer(Retriever.load(root / "index"), config=AnswerConfig(reader="cheap"))
    out = []
    for n, item in enumerate(items, start=1):
        out.append(_example(answerer, item, k))
        if n % 250 == 0:
            say(f"examples: {n}/{len(items)} questions, {time.perf_counter() - started:.0f} s")
    _save(out, done)
    return out


def _example(answerer: Answerer, item, k: int) -> Example:
    retriever = answerer.retriever
    query = retriever.prepare(item.question)
    passages = retriever.search(query, k=k)
    docs = retriever.store.documents(sorted({p.doc_id for p in passages}))
    candidates = answerer.candidates(query, passages, docs)
    x = answerer.sentence_features(query, candidates)
    answers = () if item.unanswerable else item.answers
    hits = np.array([bool(answers) and contains_answer(c.text, answers) for c in candidates],
                    dtype=bool)
    return Example(item.id, query, item.doc.removesuffix(".txt"), not item.unanswerable, x, hits,
                   tuple(len(c.text.split()) for c in candidates))


def _save(examples: list[Example], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"id": e.id, "question": e.question, "article": e.article,
             "answerable": e.answerable, "x": np.round(e.x, 6).tolist(),
             "hits": e.hits.astype(int).tolist(), "words": list(e.words)} for e in examples]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"version": EXAMPLES_VERSION, "features": list(SENTENCE_FEATURES),
                               "examples": rows}), encoding="utf-8")
    tmp.replace(path)


def _load(path: Path) -> list[Example]:
    data = json.loads(path.read_text(encoding="utf-8"))
    width = len(SENTENCE_FEATURES)
    return [Example(r["id"], r["question"], r["article"], r["answerable"],
                    np.asarray(r["x"], dtype=np.float64).reshape(-1, width),
                    np.asarray(r["hits"], dtype=bool), tuple(r["words"]))
            for r in data["examples"]]
