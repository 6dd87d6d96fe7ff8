"""Read evaluation data: the labelled question set, conversation sets and BEIR folders.

A set file is JSONL, one question a line: `id`, `question`, `type` (one of `TYPES`),
optional `history` (earlier user turns, oldest first), `answers` (acceptable answers),
`gold_docs` and `evidence` (`[{"doc", "text"}]`, each text a verbatim substring of its
document). Reading stops at the first bad line with an `EvalSetError` naming the file and
line: a regression gate must not quietly shrink its set. Blank lines are allowed.

A conversation set is JSONL too, one conversation a line: `id` and `turns`, two or more,
each a question as above (without `id` and `history`: a turn's history is the questions
before it) plus `kind`, one of `KINDS` (how it leans on the turn before: `new` for a
self-contained question), and `standalone`, the acceptable standalone forms of the question
(a `new` turn's is the question itself, and may be left out). `is_conversation_set` tells
the two kinds of file apart by their first record.

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
    return _load(path, _question, "questions")


def _load(path: str | Path, parse, what: str) -> list:
    """Every record of a JSONL file through `parse`; the first bad line stops with its number."""
    path = Path(path)
    items: list = []
    seen: dict[str, int] = {}
    for lineno, line in _lines(path):
        try:
            item = parse(json.loads(line))
        except (json.JSONDecodeError, ValueError, TypeError) as e:
            raise EvalSetError(f"{path}:{lineno}: {e}; fix the line and run again "
                               f"(evaluation stops at the first bad line)") from e
        if item.id in seen:
            raise EvalSetError(f"{path}:{lineno}: id {item.id!r} already used on line "
                               f"{seen[item.id]}; give every one its own id")
        seen[item.id] = lineno
        items.append(item)
    if not items:
        raise EvalSetError(f"the evaluation set {path} holds no {what}")
    return items


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, line) of every non-blank line of a set file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise EvalSetError(f"cannot read the evaluation set {path} ({e}); pass --set FILE") from e
    return ((n, line) for n, line in enumerate(text.splitlines(), start=1) if line.strip())


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


KINDS = ("new", "pronoun-answer", "pronoun-subject", "swap", "ellipsis")


@dataclass(frozen=True)
class ConversationTurn:
    """One turn: its question (history: the questions before it), how it leans on the turn
    before, and the standalone forms it may be rewritten to."""

    question: EvalQuestion
    kind: str
    standalone: tuple[str, ...]


@dataclass(frozen=True)
class Conversation:
    id: str
    turns: tuple[ConversationTurn, ...]


def load_conversations(path: str | Path) -> list[Conversation]:
    """The conversations of a JSONL conversation set, in file order.

    >>> len(load_conversations("eval/sets/conversations.jsonl")[0].turns)  # doctest: +SKIP
    4
    """
    return _load(path, _conversation, "conversations")


def is_conversation_set(path: str | Path) -> bool:
    """True when the file's first record holds `turns` (a conversation set)."""
    for _, line in _lines(Path(path)):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            return False
        return isinstance(record, dict) and "turns" in record
    return False


def _conversation(record) -> Conversation:
    if not isinstance(record, dict):
        raise TypeError(f"expected a JSON object, got {type(record).__name__}")
    if "id" not in record or not isinstance(record.get("turns"), list):
        raise ValueError("a conversation needs an 'id' and a list of 'turns'")
    raw = record["turns"]
    if len(raw) < 2 or not all(isinstance(t, dict) for t in raw):
        raise ValueError("a conversation needs two or more turns, each a JSON object")
    turns: list[ConversationTurn] = []
    for n, t in enumerate(raw, start=1):
        try:
            turns.append(_turn(t, f"{record['id']}.{n}", [x.question.question for x in turns]))
        except (ValueError, TypeError) as e:
            raise type(e)(f"turn {n}: {e}") from e
    return Conversation(str(record["id"]), tuple(turns))


def _turn(t: dict, id: str, history: list[str]) -> ConversationTurn:
    if "id" in t or "history" in t:
        raise ValueError("a turn has no 'id' or 'history' (they come from its conversation)")
    kind = t.get("kind")
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; allowed: {', '.join(KINDS)}")
    if not history and kind != "new":
        raise ValueError("the first turn has nothing to lean on: its kind is 'new'")
    fields = {k: v for k, v in t.items() if k not in ("kind", "standalone")}
    q = _question({**fields, "id": id, "history": history})
    standalone = _list(t, "standalone", str) or ((q.question,) if kind == "new" else ())
    if not standalone or not all(s.strip() for s in standalone):
        raise ValueError("a follow-up needs 'standalone': the standalone forms of its question")
    if kind == "new" and standalone != (q.question,):
        raise ValueError("a new question is left exactly as it is: its one standalone form is "
                         "the question itself")
    return ConversationTurn(q, kind, standalone)


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
