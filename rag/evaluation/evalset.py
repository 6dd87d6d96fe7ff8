"""Read evaluation data: the labelled question set and BEIR-format benchmark folders.

A set file is JSONL, one question a line: `id`, `question`, `type` (one of `TYPES`),
optional `history` (earlier user turns, oldest first), `answers` (acceptable answers),
`gold_docs` and `evidence` (`[{"doc", "text"}]`, each text a verbatim substring of its
document). Reading stops at the first bad line with an `EvalSetError` naming the file and
line: a regression gate must not quietly shrink its set. Blank lines are allowed.

A BEIR folder holds `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl` (`_id`,
`text`) and `qrels/<split>.tsv` (`query-id`, `corpus-id`, `score`); only the queries that
have relevance labels are kept.

Does not: run anything or compute metrics (see `rag.evaluation.evaluate` and `rag.evaluation.metrics`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ..errors import EvalSetError
from ..reading.ingest import Document

TYPES = ("factoid", "number", "date", "quote", "multi-document", "follow-up", "conflicting",
         "unanswerable")


@dataclass(frozen=True)
class Evidence:
    doc: str
    text: str


@dataclass(frozen=True)
class EvalQuestion:
    """One labelled question; unanswerable ones have no answers, gold documents or evidence."""

    id: str
    question: str
    type: str
    history: tuple[str, ...] = ()
    answers: tuple[str, ...] = ()
    gold_docs: tuple[str, ...] = ()
    evidence: tuple[Evidence, ...] = ()

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


def load_set(path: str | Path) -> list[EvalQuestion]:
    """The questions of a JSONL set file, in file order.

    >>> load_set("eval/sets/seeds.jsonl")[0].type  # doctest: +SKIP
    'factoid'
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise EvalSetError(f"cannot read the evaluation set {path} ({e}); pass --set FILE") from e
    questions: list[EvalQuestion] = []
    seen: dict[str, int] = {}
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            q = _question(json.loads(line))
        except (json.JSONDecodeError, ValueError, TypeError) as e:
            raise EvalSetError(f"{path}:{lineno}: {e}; fix the line and run again "
                               f"(evaluation stops at the first bad line)") from e
        if q.id in seen:
            raise EvalSetError(f"{path}:{lineno}: id {q.id!r} already used on line {seen[q.id]}; "
                               f"give every question its own id")
        seen[q.id] = lineno
        questions.append(q)
    if not questions:
        raise EvalSetError(f"the evaluation set {path} holds no questions")
    return questions


def _question(record) -> EvalQuestion:
    if not isinstance(record, dict):
        raise TypeError(f"expected a JSON object, got {type(record).__name__}")
    missing = [f for f in ("id", "question", "type") if f not in record]
    if missing:
        raise ValueError(f"missing field {missing[0]!r}")
    kind = record["type"]
    if kind not in TYPES:
        raise ValueError(f"unknown question type {kind!r}; allowed: {', '.join(TYPES)}")
    question = record["question"]
    if not isinstance(question, str) or not question.strip():
        raise ValueError("'question' must be a non-empty string")
    evidence = tuple(_evidence(e) for e in _list(record, "evidence", dict))
    q = EvalQuestion(id=str(record["id"]), question=question, type=kind,
                     history=_list(record, "history", str), answers=_list(record, "answers", str),
                     gold_docs=_list(record, "gold_docs", str), evidence=evidence)
    if q.answerable and not (q.answers and q.gold_docs and q.evidence):
        raise ValueError(f"a {kind} question needs 'answers', 'gold_docs' and 'evidence'")
    if not q.answerable and (q.answers or q.gold_docs or q.evidence):
        raise ValueError("an unanswerable question has no 'answers', 'gold_docs' or 'evidence'")
    if q.type == "follow-up" and not q.history:
        raise ValueError("a follow-up question needs 'history' (the earlier user turns)")
    return q


def _list(record: dict, field: str, kind: type) -> tuple:
    value = record.get(field) or []
    if not isinstance(value, list) or not all(isinstance(v, kind) for v in value):
        raise ValueError(f"{field!r} must be a list of {'strings' if kind is str else 'objects'}")
    return tuple(value)


def _evidence(e: dict) -> Evidence:
    if not isinstance(e.get("doc"), str) or not isinstance(e.get("text"), str) or not e["text"]:
        raise ValueError("each evidence needs a 'doc' id and a non-empty 'text'")
    return Evidence(e["doc"], e["text"])


def evidence_spans(q: EvalQuestion, documents: dict[str, Document]) -> list[tuple[str, int, int]]:
    """(doc, start, end) of every occurrence of every evidence string of `q`."""
    spans = []
    for e in q.evidence:
        text = documents[e.doc].text if e.doc in documents else ""
        spans += [(e.doc, m.start(), m.end()) for m in re.finditer(re.escape(e.text), text)]
    return spans


def check_against(questions: list[EvalQuestion], documents: dict[str, Document]) -> None:
    """Raise EvalSetError unless every gold document exists and holds its evidence verbatim."""
    for q in questions:
        for doc in q.gold_docs + tuple(e.doc for e in q.evidence):
            if doc not in documents:
                raise EvalSetError(f"question {q.id}: document {doc!r} is not in the index; "
                                   f"index the set's corpus or fix the id")
        for e in q.evidence:
            if e.text not in documents[e.doc].text:
                raise EvalSetError(f"question {q.id}: evidence {_short(e.text)!r} is not found "
                                   f"verbatim in document {e.doc}; copy it exactly from the text")


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


@dataclass(frozen=True)
class BeirData:
    """A BEIR data set as plain dicts (only the queries that have relevance labels)."""

    name: str
    corpus: dict[str, dict[str, str]]
    queries: dict[str, str]
    qrels: dict[str, dict[str, int]]


def load_beir(folder: str | Path, *, split: str = "test") -> BeirData:
    """Read `corpus.jsonl`, `queries.jsonl` and `qrels/<split>.tsv` from a BEIR folder."""
    folder = Path(folder)
    files = [folder / "corpus.jsonl", folder / "queries.jsonl", folder / "qrels" / f"{split}.tsv"]
    if not folder.is_dir():
        raise EvalSetError(f"BEIR folder {folder} does not exist; pass the folder that holds "
                           f"corpus.jsonl, queries.jsonl and qrels/{split}.tsv")
    for f in files:
        if not f.is_file():
            raise EvalSetError(f"BEIR folder {folder} has no {f.relative_to(folder)}; a BEIR "
                               f"data set needs corpus.jsonl, queries.jsonl and qrels/{split}.tsv")
    corpus = {r["_id"]: {"title": str(r.get("title") or ""), "text": str(r.get("text") or "")}
              for r in _jsonl(files[0], ("_id", "text"))}
    qrels = _qrels(files[2])
    queries = {r["_id"]: str(r["text"]) for r in _jsonl(files[1], ("_id", "text"))
               if r["_id"] in qrels}
    missing = sorted(set(qrels) - set(queries))
    if missing:
        raise EvalSetError(f"{files[2]} labels query {missing[0]!r} that {files[1]} does not hold")
    return BeirData(folder.resolve().name, corpus, queries, qrels)


def _jsonl(path: Path, fields: tuple[str, ...]) -> Iterator[dict]:
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or any(k not in record for k in fields):
                    raise ValueError(f"expected a JSON object with {' and '.join(fields)}")
            except ValueError as e:
                raise EvalSetError(f"{path}:{lineno}: {e}") from e
            record["_id"] = str(record["_id"])
            yield record


def _qrels(path: Path) -> dict[str, dict[str, int]]:
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            parts = line.split()
            if not parts or (lineno == 1 and parts[0] == "query-id"):
                continue
            try:
                qid, doc, score = parts
                score = int(score)
            except ValueError as e:
                raise EvalSetError(f"{path}:{lineno}: expected 'query-id corpus-id score' "
                                   f"separated by tabs, got {line.strip()!r}") from e
            if score > 0:
                qrels.setdefault(qid, {})[doc] = score
    if not qrels:
        raise EvalSetError(f"{path} holds no relevance labels")
    return qrels
