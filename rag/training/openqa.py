"""The product's open-domain candidates for every question of a QA folder, cached.

The folder's corpus is indexed with `rag.build_index` (the real embedding model, hybrid
search, the default chunker), each question is searched with `Retriever.search` (k passages),
and its passages' sentences are scored and shortlisted by `Answerer.candidates` exactly
as the answerer does before the reader reads them. The result is kept as JSON under the cache
folder, keyed by the folder's content, the package version and the settings.

Does not: read anything with the reader, or score answers.
"""

from __future__ import annotations

import time
from pathlib import Path

from ..answering import scoring
from ..answering.answer import Answerer
from ..evaluation.metrics import contains_answer
from ..evaluation.qa import read_qa_folder
from ..indexing.build import build_index
from ..indexing.manifest import package_version
from ..indexing.onnx import cache_root
from ..search.retrieve import Retriever
from .pairs import OpenCandidate, OpenQuestion, load_open, save_open
from .squad import first_per_article, folder_key


def _key(folder: Path, k: int, shortlist: int, per_article: int | None) -> str:
    return folder_key(folder, package_version(), k, shortlist, per_article)


def open_questions(folder: str | Path, *, k: int = 5, shortlist: int = 8,
                   per_article: int | None = None, cache: Path | None = None,
                   say=print) -> list[OpenQuestion]:
    """The shortlisted candidates of every question in the QA `folder` (cached); with
    `per_article`, of only the first that many questions of each article."""
    folder = Path(folder)
    root = (cache or cache_root() / "training") / _key(folder, k, shortlist, per_article)
    done = root / "open.json"
    if done.exists():
        return load_open(done)
    corpus, items = read_qa_folder(folder)
    if per_article:
        items = first_per_article(items, per_article)
    started = time.perf_counter()
    build_index([corpus], index_dir=root / "index")
    answerer = Answerer(Retriever.load(root / "index"))
    out = []
    for n, item in enumerate(items, start=1):
        out.append(_question(answerer, item, k, shortlist))
        if n % 500 == 0:
            say(f"candidates: {n}/{len(items)} questions, {time.perf_counter() - started:.0f} s")
    root.mkdir(parents=True, exist_ok=True)
    save_open(out, done)
    return out


def _question(answerer: Answerer, item, k: int, shortlist: int) -> OpenQuestion:
    retriever = answerer.retriever
    query = retriever.prepare(item.question)
    passages = retriever.search(query, k=k)
    docs = retriever.store.documents(sorted({p.doc_id for p in passages}))
    found = answerer.candidates(query, passages, docs)[:shortlist]
    answers = () if item.unanswerable else item.answers
    terms = scoring.content_terms(query)
    return OpenQuestion(item, item.doc, tuple(
        OpenCandidate(c.passage.title, c.text, bool(answers) and contains_answer(c.text, answers),
                      c.score, scoring.coverage(terms, c.text), c.passage.rank) for c in found))
