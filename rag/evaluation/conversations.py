"""Measure follow-up questions: conversations run turn by turn, as the chat runs them.

`evaluate_conversations(set_path, answerer)` asks each conversation's turns in order, each
with the earlier `Answer`s as its history (what `rag chat` and the chat page pass), and
scores every turn twice:
- the rewrite: the standalone query equals one of the turn's expected standalone forms
  after normalisation (case, punctuation, whitespace): `rewrite_accuracy`, overall, by
  turn position and by kind of follow-up (`new` questions must come back unchanged);
- the answer, judged as the question set's are (`rag.evaluation.evaluate`): retrieval of
  the gold documents, answer contains an acceptable answer, citations, refusals; and
  `answer_contains` by turn position (`answer_contains_turn1`, `_turn2`, ...).

The gate is the question set's (`check`), against `eval/baseline-conversations.json`.

Does not: rewrite anything itself, or write reports (see `rag.evaluation.report`).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .evalset import KINDS, Conversation, check_against, load_conversations
from .evaluate import (
    _ROOT,
    GATE,
    RETRIEVAL_DEPTH,
    QuestionResult,
    _bar,
    _judge,
    _shown,
    summarize,
    with_retrieval,
    write_baseline,
)
from .metrics import mean, normalize_answer

DEFAULT_CONVERSATIONS = _ROOT / "eval" / "sets" / "conversations.jsonl"
DEFAULT_CONVERSATION_BASELINE = _ROOT / "eval" / "baseline-conversations.json"
POSITIONS = 4  # turn positions reported and gated one by one; later turns count overall

CONVERSATION_GATE = {
    "rewrite_accuracy": ("higher", 0.02),
    **{f"answer_contains_turn{n}": ("higher", 0.02) for n in range(1, POSITIONS + 1)},
    **GATE,
}


@dataclass(frozen=True)
class TurnResult:
    """One turn of a conversation: how it was rewritten and how its answer scored."""

    conversation: str
    position: int
    kind: str
    expected: tuple[str, ...]
    rewrite_ok: bool
    result: QuestionResult


@dataclass(frozen=True)
class ConversationReport:
    set_path: str
    index: str
    model: str
    k: int
    conversations: int
    overall: dict
    by_turn: dict
    by_kind: dict
    turns: tuple[TurnResult, ...]
    seconds: float

    @property
    def results(self) -> tuple[QuestionResult, ...]:
        return tuple(t.result for t in self.turns)


def same_question(a: str, b: str) -> bool:
    """Equal after folding case, punctuation and whitespace.

    >>> same_question("When did Sweden join NATO?", "when did  sweden join NATO")
    True
    """
    return normalize_answer(a) == normalize_answer(b)


def evaluate_conversations(set_path: str | Path, answerer, *, k: int = 5,
                           progress: bool = False) -> ConversationReport:
    """Run the conversation set at `set_path` through `answerer` and score every turn.

    >>> evaluate_conversations(DEFAULT_CONVERSATIONS, answerer).overall["rewrite_accuracy"]  # doctest: +SKIP
    """
    started = time.perf_counter()
    conversations = load_conversations(set_path)
    turns = run_conversations(conversations, answerer, k=k, progress=progress)
    store = answerer.retriever.store
    by_turn = {str(n): summarize_turns([t for t in turns if t.position == n])
               for n in sorted({t.position for t in turns})}
    by_kind = {kind: summarize_turns([t for t in turns if t.kind == kind])
               for kind in KINDS if any(t.kind == kind for t in turns)}
    return ConversationReport(
        set_path=_shown(set_path), index=str(store.path), model=store.manifest.model, k=k,
        conversations=len(conversations), overall=summarize_turns(turns), by_turn=by_turn,
        by_kind=by_kind, turns=tuple(turns), seconds=time.perf_counter() - started)


def run_conversations(conversations: Sequence[Conversation], answerer, *, k: int = 5,
                      progress: bool = False) -> list[TurnResult]:
    """Ask every turn with the conversation's earlier Answers as history, and judge it."""
    documents = answerer.retriever.store.documents()
    check_against([t.question for c in conversations for t in c.turns], documents)
    out: list[TurnResult] = []
    for c in _bar(conversations, progress, "conversations", "conversation"):
        history: list = []
        for n, turn in enumerate(c.turns, start=1):
            started = time.perf_counter()
            answer = answerer.ask(turn.question.question, history=list(history), k=k)
            latency = (time.perf_counter() - started) * 1000
            history.append(answer)
            passages = answerer.retriever.search(answer.standalone_query, k=RETRIEVAL_DEPTH)
            result = _judge(turn.question, answer, [p.doc_id for p in passages], documents, latency)
            ok = any(same_question(answer.standalone_query, s) for s in turn.standalone)
            out.append(TurnResult(c.id, n, turn.kind, turn.standalone, ok, result))
    results = with_retrieval([t.result for t in out])
    return [TurnResult(t.conversation, t.position, t.kind, t.expected, t.rewrite_ok, r)
            for t, r in zip(out, results)]


def summarize_turns(turns: Sequence[TurnResult]) -> dict[str, float | None]:
    """Rewrite accuracy, answer accuracy by turn position, then every question-set metric."""
    m: dict[str, float | None] = {"rewrite_accuracy": mean(t.rewrite_ok for t in turns)}
    for n in range(1, POSITIONS + 1):
        m[f"answer_contains_turn{n}"] = mean(t.result.contains for t in turns if t.position == n)
    return {**m, **summarize([t.result for t in turns])}


def write_conversation_baseline(report: ConversationReport,
                                path: str | Path = DEFAULT_CONVERSATION_BASELINE) -> Path:
    """Accept `report`'s figures as the conversation set's baseline."""
    return write_baseline(report, path, gate=CONVERSATION_GATE,
                          sections={"by_turn": report.by_turn, "by_kind": report.by_kind})
