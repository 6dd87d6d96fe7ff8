"""The product's open-domain candidates for every question of a QA folder, cached.

The folder's corpus is indexed with `rag.build_index` (the real embedding model, hybrid
search, the default chunker), each question is searched with `Retriever.search` (k passages),
and its passages' sentences are scored and shortlisted by `rag.training.candidates` exactly
as the answerer does before the reader reads them. The result is kept as JSON under the cache
folder, keyed by the folder's content, the package version and the settings.

Does not: read anything with the reader, or score answers.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from ..evaluation.metrics import contains_answer
from ..evaluation.qa import read_qa_folder
from ..indexing.build import build_index
from ..indexing.manifest import package_version
from ..indexing.onnx import cache_root
from ..search.retrieve import Retriever
from .candidates import VectorCache, candidates
from .pairs import OpenCandidate, OpenQuestion, load_open, save_open


def _key(folder: Path, k: int, shortlist: int, per_article: int | None) -> str:
    digest = hashlib.sha256(f"{package_version()}|{k}|{shortlist}|{per_article}".encode())
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


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
        items = _first(items, per_article)
    started = time.perf_counter()
    build_index([corpus], index_dir=root / "index")
    retriever = Retriever.load(root / "index")
    out, vectors = [], VectorCache()
    for n, item in enumerate(items, start=1):
        out.append(_question(retriever, item, k, shortlist, vectors))
        if n % 500 == 0:
            say(f"candidates: {n}/{len(items)} questions, {time.perf_counter() - started:.0f} s")
    root.mkdir(parents=True, exist_ok=True)
    save_open(out, done)
    return out


def _first(items, n: int):
    seen: dict[str, int] = {}
    out = []
    for item in items:
        seen[item.doc] = seen.get(item.doc, 0) + 1
        if seen[item.doc] <= n:
            out.append(item)
    return out


def _question(retriever: Retriever, item, k: int, shortlist: int,
              vectors: VectorCache) -> OpenQuestion:
    query = retriever.prepare(item.question)
    passages = retriever.search(query, k=k)
    docs = retriever.store.documents(sorted({p.doc_id for p in passages}))
    found = candidates(query, passages, docs, embedder=retriever.embedder,
                       vectors=vectors)[:shortlist]
    answers = () if item.unanswerable else item.answers
    return OpenQuestion(item, item.doc, tuple(
        OpenCandidate(c.passage.title, c.text, bool(answers) and contains_answer(c.text, answers),
                      c.score, c.coverage, c.passage.rank) for c in found))
