"""The chat page's logic as plain Python: conversation, feedback, uploads, index status.

`ChatService(retriever, llm=LLMConfig(...))` serves one index to every reader of the page.
`chat(message, conversation, settings=...)` is a generator: it answers with the
conversation's history (so follow-ups are rewritten into standalone questions) and yields
the updated `Conversation` with the sources panel: first a "searching" step, then, while an
LLM streams, a progress line that never shows the model's unchecked text, then the answer
(see `rag.app.render` for how it is shown, safely).

The LLM's endpoint, model names, key and deadline are the operator's (`LLMConfig`, fixed
when the service starts); a reader picks only extractive or LLM, and one of the configured
models. At most `llm_slots` LLM turns run at once; one more gets the extractive answer at
once, with a note, so slow LLM calls never hold the turns of readers who asked without one.
Uploads go through `rag.app.uploads` (only files the page received, never replacing a
document unless the operator allowed it) and the page switches to the new index at once.
`documents` lists what is indexed; `remove` takes documents out only when the operator
allowed it (`allow_remove`, `rag serve --allow-remove`), through `rag.app.documents`.
While `rag index` is still embedding the version the page serves, the status line and every
answer say how much is embedded: the rest is found by its words only until it is done.
Thumbs up and down append to `eval/feedback.jsonl` (ignored by git) or `$RAG_FEEDBACK`.

`ui/app.py` only passes these to Gradio; tests drive them directly.

Does not: import Gradio, keep conversations on disk, remove documents unless the operator
allowed it, or let a reader choose where the server sends a request.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from ..answering.answer import Answer, AnswerConfig, Answerer
from ..errors import InputError, RagError
from ..indexing.catalog import DocumentInfo, list_documents
from ..search import recency
from ..search.retrieve import Retriever
from .documents import Removal, choices, documents_html, remove
from .render import WORKING, answer_markdown, error_html, md_text, panel, sources_html
from .uploads import MAX_UPLOAD_BYTES, UploadResult, add_files

if TYPE_CHECKING:
    from ..answering.llm import LLMConfig

ANSWERERS = ("extractive", "llm")
MAX_K = 50  # passages a reader may ask for
EXTRACTIVE_TURNS = 2  # turns the page runs at once besides the LLM ones
_ROOT = Path(__file__).resolve().parents[2]

# Seed questions for the page's examples, each shown only when its article is indexed.
SEED_EXAMPLES = (
    ("Who is the European Union's top diplomat quoted reacting to Trump's remarks?",
     "002_be2d0c343ec47e23"),
    ("What tendency did Stoltenberg caution America about in his farewell address as NATO chief?",
     "000_909c1f4abb7fe135"),
    (("Which country had its NATO membership marked by raising its flag at the Brussels "
     "headquarters?"), "001_4db963de024e33e7"),
    ("How many NATO members were hitting the 2% spending goal in 2022?", "002_be2d0c343ec47e23"),
    ("Which US president did Trump claim he could outdo when it came to negotiating with Putin?",
     "003_e0c101915f90f1cd"),
    ("In which city will NATO hold its summit in June 2025?", "004_47575fa39b048119"),
    ("Who will succeed Stoltenberg as NATO Secretary General?", "000_909c1f4abb7fe135"),
)


def default_feedback_path() -> Path:
    """`$RAG_FEEDBACK`, else `eval/feedback.jsonl` in the project checkout (git ignores it)."""
    return Path(os.environ.get("RAG_FEEDBACK") or _ROOT / "eval" / "feedback.jsonl")


@dataclass(frozen=True)
class ChatSettings:
    """What a reader chooses: passages to retrieve (1 to 50), the answerer, one of the
    operator's LLM models (None: the first), and the day questions are read as of (YYYY-MM-DD;
    None: a "this week" question is read as of today). Never a URL: that is the operator's."""

    k: int = 5
    answerer: Literal["extractive", "llm"] = "extractive"
    model: str | None = None
    as_of: str | None = None

    def __post_init__(self):
        if self.as_of is not None:
            if not isinstance(self.as_of, str) or len(self.as_of) > 32:
                raise InputError("the as-of date must be a day written YYYY-MM-DD, for example "
                                 "2023-01-05, or left empty")
            object.__setattr__(self, "as_of", recency.parse_day(self.as_of).isoformat())
        if self.answerer not in ANSWERERS:
            raise InputError(f"unknown answerer {self.answerer!r}; allowed: {', '.join(ANSWERERS)}")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= MAX_K:
            raise InputError(f"k must be a whole number of passages from 1 to {MAX_K} "
                             f"(got {self.k!r}); ask for fewer passages")


@dataclass(frozen=True)
class Conversation:
    """The page's messages (role/content dicts) and the Answer behind each one (or None)."""

    messages: tuple[dict, ...] = ()
    answers: tuple[Answer | None, ...] = ()

    @property
    def history(self) -> list[Answer]:
        """The answers so far, oldest first: what `Answerer.ask` needs for follow-ups."""
        return [a for a in self.answers if a is not None]

    @property
    def questions(self) -> int:
        return sum(m["role"] == "user" for m in self.messages)

    def add(self, role: str, content: str, answer: Answer | None = None) -> Conversation:
        return Conversation(self.messages + ({"role": role, "content": content},),
                            self.answers + (answer,))


class ChatService:
    """One index served to the page; safe to share between readers and threads.

    >>> service = ChatService(Retriever.load("index/default"))  # doctest: +SKIP
    >>> conversation, panel = list(service.chat("Who leads NATO?"))[-1]  # doctest: +SKIP
    """

    def __init__(self, retriever: Retriever, *, feedback_path: str | Path | None = None,
                 uploads_dir: str | Path | None = None, max_upload_bytes: int = MAX_UPLOAD_BYTES,
                 allow_replace: bool = False, allow_remove: bool = False,
                 llm: LLMConfig | None = None, llm_slots: int = 2,
                 answer_config: AnswerConfig | None = None, as_of: str | None = None):
        self.retriever = retriever
        self.as_of = ChatSettings(as_of=as_of).as_of  # the page's day, checked like a reader's
        self.answer_config = answer_config or AnswerConfig()
        self.feedback_path = Path(feedback_path) if feedback_path else default_feedback_path()
        index = Path(retriever.store.path)
        self.uploads_dir = Path(uploads_dir or index.with_name(f"{index.name}-uploads"))
        self.max_upload_bytes = max_upload_bytes
        self.allow_replace, self.allow_remove = allow_replace, allow_remove
        if llm_slots < 1:
            raise InputError(f"--llm-slots must be 1 or more (got {llm_slots})")
        self.llm, self.llm_slots = llm, llm_slots
        self._lock = threading.Lock()
        self._llm_turns = threading.BoundedSemaphore(llm_slots)

    @property
    def turns_at_once(self) -> int:
        """Chat turns the page should run at once: the extractive ones plus the LLM slots."""
        return EXTRACTIVE_TURNS + (self.llm_slots if self.llm else 0)

    def answerer(self, settings: ChatSettings, retriever: Retriever | None = None):
        """The extractive Answerer, or an LLMAnswerer on the operator's endpoint over it."""
        retriever = retriever or self.retriever
        extractive = Answerer(retriever, config=self.answer_config)
        if settings.answerer == "extractive":
            return extractive
        if self.llm is None:
            raise InputError("this page has no LLM answerer; choose extractive (the operator "
                             "can add one with rag serve --llm-url URL --llm-model NAME)")
        from ..answering.llm import LLMAnswerer

        return LLMAnswerer(retriever, url=self.llm.url, model=self.llm.model(settings.model),
                           api_key=self.llm.api_key, timeout=self.llm.timeout,
                           fallback=extractive, on_error=_log)

    def current(self) -> Retriever:
        """The retriever, reopened first if `rag index` has published a newer version."""
        retriever = self.retriever
        if retriever.store.is_current() or not self._lock.acquire(blocking=False):
            return retriever
        try:
            fresh = Retriever.load(retriever.store.path, embedder=retriever.embedder,
                                   config=retriever.config)
            self.retriever = fresh
            return fresh
        except RagError:
            return retriever  # the version it has is still whole
        finally:
            self._lock.release()

    def ask(self, question: str, history: Sequence[str | Answer] = (), *,
            settings: ChatSettings = ChatSettings()) -> Answer:
        """One answer, no streaming: what the page's `ask` API endpoint returns."""
        *_, answer = self._answer(question, history, settings, self.current())
        return answer

    def chat(self, message: str, conversation: Conversation = Conversation(), *,
             settings: ChatSettings = ChatSettings()) -> Iterator[tuple[Conversation, str]]:
        """Yield (conversation, sources panel HTML) as the answer to `message` takes shape."""
        question = message if isinstance(message, str) else ""
        asked = conversation.add("user", md_text(question) or "…")
        turn = asked.questions
        working = panel(turn, "working", WORKING)
        yield asked.add("assistant", "*Searching the articles…*"), working
        retriever = self.current()  # an upload may swap it; this answer stays on one index
        try:
            for step in self._answer(question, conversation.history, settings, retriever):
                if isinstance(step, str):
                    yield asked.add("assistant", step), working
                else:
                    answer = step
        except RagError as e:
            note = f"**Error:** {md_text(str(e))}"
            yield asked.add("assistant", note), error_html(str(e), turn=turn)
            return
        docs = retriever.store.documents(sorted({p.doc_id for p in answer.passages}
                                                | {c.doc_id for c in answer.citations}))
        shown = asked.add("assistant", answer_markdown(answer), answer)
        yield shown, sources_html(answer, docs, turn=turn)

    def _answer(self, question: str, history: Sequence[str | Answer], settings: ChatSettings,
                retriever: Retriever) -> Iterator[str | Answer]:
        """Progress lines (Markdown, never the model's text), then the verified Answer, with a
        note first when the question was cut to the model's length."""
        first = tuple(n for n in (_cut_note(question, retriever), pending_note(retriever)) if n)
        for step in self._steps(question, history, settings, retriever):
            if first and isinstance(step, Answer):
                step = replace(step, notes=(*first, *step.notes))
            yield step

    def _steps(self, question: str, history: Sequence[str | Answer], settings: ChatSettings,
               retriever: Retriever) -> Iterator[str | Answer]:
        answerer = self.answerer(settings, retriever)
        as_of = settings.as_of or self.as_of  # the reader's day, else the page's
        if not hasattr(answerer, "stream"):
            yield answerer.ask(question, history=history, k=settings.k, as_of=as_of)
            return
        if not self._llm_turns.acquire(blocking=False):
            answer = answerer.fallback.ask(question, history=history, k=settings.k, as_of=as_of)
            busy = (f"LLM answer not used: all {self.llm_slots} LLM slots are busy; showing the "
                    "extractive answer instead")
            yield replace(answer, notes=(busy, *answer.notes))
            return
        try:
            received = 0
            for part in answerer.stream(question, history=history, k=settings.k, as_of=as_of):
                if isinstance(part, str):
                    received += len(part)
                    yield (f"*The language model is choosing quotes… ({received:,} "
                           "characters received; only verified quotes will be shown)*")
                else:
                    yield part
        finally:
            self._llm_turns.release()

    def feedback(self, conversation: Conversation, index: int, liked: bool | str) -> str:
        """Append a thumbs up (`liked`) or down on the answer at message `index` to the
        feedback file; the message to show."""
        answer = conversation.answers[index] if 0 <= index < len(conversation.answers) else None
        if answer is None or liked not in (True, False):
            return ""
        verdict = "up" if liked else "down"
        record = {"timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
                  "verdict": verdict, "question": answer.question,
                  "standalone_query": answer.standalone_query, "answer": answer.text,
                  "refused": answer.refused, "citations": [c.to_dict() for c in answer.citations],
                  "index": str(self.retriever.store.path)}
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock:
            self.feedback_path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.feedback_path, "a", encoding="utf-8") as f:
                f.write(line)
        return f"Thanks: your thumbs-{'up' if liked else 'down'} was saved."

    def add_files(self, paths: Sequence[str | Path], *, received_in: str | Path) -> UploadResult:
        """Index files the page received (inside `received_in`, checked by real path) and
        switch to the new index at once; see `rag.app.uploads` for what each file does."""
        with self._lock:
            result, fresh = add_files(self.retriever, paths, received_in=received_in,
                                      uploads_dir=self.uploads_dir,
                                      allow_replace=self.allow_replace,
                                      max_bytes=self.max_upload_bytes)
            if fresh is not None:
                self.retriever = fresh
            return result

    def documents(self, title: str = "") -> list[DocumentInfo]:
        """The indexed documents, or those whose title, id or file name contains `title`."""
        return list_documents(self.current().store, title=title if isinstance(title, str) else "")

    def documents_html(self, title: str = "") -> str:
        """The documents table for the page (see `rag.app.documents`)."""
        title = title if isinstance(title, str) else ""
        return documents_html(self.documents(title), title=title,
                              total=len(self.current().store.manifest.documents))

    def removable(self, title: str = "") -> list[tuple[str, str]]:
        """(label, id) choices of documents a reader may remove; none unless allowed."""
        return choices(self.documents(title)) if self.allow_remove else []

    def remove(self, ids) -> str:
        """Remove the documents `ids` (as a reader sent them) when the operator allows it,
        and switch to the new index at once; the message to show."""
        if not self.allow_remove:
            return ("Removing documents is off on this page; the operator can allow it with "
                    "rag serve --allow-remove.")
        with self._lock:
            done: Removal = remove(self.retriever, ids, uploads_dir=self.uploads_dir)
            if done.retriever is not None:
                self.retriever = done.retriever
            return done.message

    def status(self) -> str:
        """The index status line (Markdown): documents, chunks, model."""
        m = self.current().store.manifest
        line = (f"**Index:** {len(m.documents)} documents · {m.chunks} chunks · "
                f"model {md_text(Path(m.model).name)}")
        if m.pending:
            line += f" · {m.chunks - m.pending:,} of {m.chunks:,} embedded so far"
        return line

    def examples(self) -> list[str]:
        """Seed questions whose articles are in the index."""
        have = set(self.retriever.store.manifest.documents)
        return [q for q, doc in SEED_EXAMPLES if doc in have]

    def warm(self) -> None:
        warm(self.retriever)


def warm(retriever: Retriever) -> None:
    """Load everything a first answer needs (search structures, the model for questions and
    the one for many sentences at once) now, so the first reader does not wait for it."""
    Answerer(retriever).ask(SEED_EXAMPLES[0][0], k=20)


def pending_note(retriever: Retriever) -> str:
    """A note for the page while `rag index` is still embedding this version; else ""."""
    m = retriever.store.manifest
    if not m.pending:
        return ""
    return (f"{m.pending:,} of {m.chunks:,} chunks are still being embedded: until then they "
            "are found by their words only, so this answer may miss what they say in other "
            "words. Ask again when indexing is done.")


def _cut_note(question: str, retriever: Retriever) -> str:
    """A note for the page when `question` is longer than the model reads; else ""."""
    try:
        used = retriever.prepare(question)
    except RagError:
        return ""  # the answerer says why
    asked = " ".join(question.split())
    if len(used) >= len(asked):
        return ""
    return (f"Your question is {len(asked):,} characters, longer than the model reads: only "
            f"its first {len(used):,} characters were used (up to “{used[-40:]}”).")


def _log(message: str) -> None:
    """What the LLM server said when it failed: for the operator's log, not the page."""
    print(f"note: LLM: {message}", file=sys.stderr, flush=True)


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """`USER:PASS` as a (user, password) pair; None for no password.

    >>> parse_auth("ann:s3cret")
    ('ann', 's3cret')
    """
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise InputError("--auth (or RAG_AUTH) must be USER:PASSWORD, e.g. --auth reader:s3cret")
    return user, password
