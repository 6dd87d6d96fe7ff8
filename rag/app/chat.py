"""The chat page's logic as plain Python: conversation, feedback, uploads, index status.

`ChatService(retriever)` serves one index to every reader of the page. `chat(message,
conversation, settings=...)` is a generator: it answers with the conversation's history
(so follow-ups are rewritten into standalone questions) and yields the updated
`Conversation` with the sources panel: first a "searching" step, then the partial text
while an LLM streams, then the answer (see `rag.app.render` for how it is shown, safely).
Uploads are indexed incrementally (`rag.indexing.build.build_index(..., add=True)`) and the page
switches to the new index at once. 👍/👎 append to `eval/feedback.jsonl`.

`ui/app.py` only passes these to Gradio; tests drive them directly.

Does not: import Gradio, keep conversations on disk, or delete indexed documents.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from ..answering.answer import Answer, Answerer
from ..errors import InputError, NoDocumentsError, RagError
from ..reading.ingest import SUFFIXES, Document, IngestWarning, read_documents
from ..search.retrieve import Retriever
from .render import WORKING, answer_markdown, error_html, md_text, panel, sources_html

ANSWERERS = ("extractive", "llm")
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
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
    """`$RAG_FEEDBACK`, else `eval/feedback.jsonl` in the project checkout."""
    return Path(os.environ.get("RAG_FEEDBACK") or _ROOT / "eval" / "feedback.jsonl")


@dataclass(frozen=True)
class ChatSettings:
    """What the settings panel chooses: passages to retrieve and which answerer to use."""

    k: int = 5
    answerer: Literal["extractive", "llm"] = "extractive"
    llm_url: str | None = None
    llm_model: str | None = None

    def __post_init__(self):
        if self.answerer not in ANSWERERS:
            raise ValueError(f"unknown answerer {self.answerer!r}; allowed: {', '.join(ANSWERERS)}")


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


@dataclass(frozen=True)
class UploadResult:
    """What adding files did: documents added or updated, files skipped (with why)."""

    added: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()
    documents: int = 0
    seconds: float = 0.0

    @property
    def message(self) -> str:
        lines = []
        if self.added:
            lines.append(f"✅ Indexed {len(self.added)} document(s) in {self.seconds:.1f} s: "
                         f"{md_text(', '.join(self.added))}. The index now holds "
                         f"{self.documents} documents; ask about them now.")
        lines += [f"⚠️ {md_text(s)}" for s in self.skipped]
        return "\n\n".join(lines) or "Choose one or more files first."


class ChatService:
    """One index served to the page; safe to share between readers and threads.

    >>> service = ChatService(Retriever.load("index/default"))  # doctest: +SKIP
    >>> conversation, panel = list(service.chat("Who leads NATO?"))[-1]  # doctest: +SKIP
    """

    def __init__(self, retriever: Retriever, *, feedback_path: str | Path | None = None,
                 uploads_dir: str | Path | None = None, max_upload_bytes: int = MAX_UPLOAD_BYTES):
        self.retriever = retriever
        self.feedback_path = Path(feedback_path) if feedback_path else default_feedback_path()
        index = Path(retriever.store.path)
        self.uploads_dir = Path(uploads_dir or index.with_name(f"{index.name}-uploads"))
        self.max_upload_bytes = max_upload_bytes
        self._lock = threading.Lock()

    def answerer(self, settings: ChatSettings, retriever: Retriever | None = None):
        """The extractive Answerer, or an LLMAnswerer that falls back to it."""
        retriever = retriever or self.retriever
        extractive = Answerer(retriever)
        if settings.answerer == "extractive":
            return extractive
        if not (settings.llm_url or "").strip():
            raise InputError("the LLM answerer needs the URL of an OpenAI-compatible server, "
                             "e.g. http://localhost:11434/v1; set it under Settings")
        from ..answering.llm import LLMAnswerer

        return LLMAnswerer(retriever, url=settings.llm_url.strip(),
                           model=(settings.llm_model or "").strip() or None,
                           api_key=os.environ.get("RAG_LLM_API_KEY") or None, fallback=extractive)

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
        return self.answerer(settings, self.current()).ask(question, history=history, k=settings.k)

    def chat(self, message: str, conversation: Conversation = Conversation(), *,
             settings: ChatSettings = ChatSettings()) -> Iterator[tuple[Conversation, str]]:
        """Yield (conversation, sources panel HTML) as the answer to `message` takes shape."""
        question = message if isinstance(message, str) else ""
        asked = conversation.add("user", md_text(question) or "…")
        turn = asked.questions
        working = panel(turn, "working", WORKING)
        yield asked.add("assistant", "⏳ *Searching the articles…*"), working
        retriever = self.current()  # an upload may swap it; this answer stays on one index
        try:
            answerer = self.answerer(settings, retriever)
            if hasattr(answerer, "stream"):
                answer, text = None, ""
                for part in answerer.stream(question, history=conversation.history, k=settings.k):
                    if isinstance(part, str):
                        text += part
                        yield asked.add("assistant", md_text(text) + " ▍"), working
                    else:
                        answer = part
            else:
                answer = answerer.ask(question, history=conversation.history, k=settings.k)
        except RagError as e:
            note = f"⚠️ {md_text(str(e))}"
            yield asked.add("assistant", note), error_html(str(e), turn=turn)
            return
        docs = retriever.store.documents(sorted({p.doc_id for p in answer.passages}
                                                | {c.doc_id for c in answer.citations}))
        shown = asked.add("assistant", answer_markdown(answer), answer)
        yield shown, sources_html(answer, docs, turn=turn)

    def feedback(self, conversation: Conversation, index: int, liked: bool | str) -> str:
        """Append a 👍/👎 on the answer at message `index` to the feedback file; a message."""
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
        return f"Thanks: your {'👍' if liked else '👎'} was saved."

    def add_files(self, paths: Sequence[str | Path]) -> UploadResult:
        """Index uploaded files incrementally and switch to the new index at once.

        Files are kept in `uploads_dir`; one named like an earlier upload replaces it.
        Unsupported, oversized or unreadable files are skipped with the reason.
        """
        from ..indexing.build import build_index
        from ..indexing.store import StoreConfig

        with self._lock:
            files, skipped = self._acceptable(paths)
            docs, why = _readable(files)
            skipped += why
            if not docs:
                return UploadResult(skipped=tuple(skipped))
            self.uploads_dir.mkdir(parents=True, exist_ok=True)
            kept = []
            for source in sorted({Path(d.source) for d in docs}):
                kept.append(self.uploads_dir / source.name)
                shutil.copyfile(source, kept[-1])
            store = self.retriever.store
            try:
                report = build_index(kept, index_dir=store.path, embedder=self.retriever.embedder,
                                     store_config=StoreConfig(**store.manifest.store), add=True)
            except RagError as e:  # the index is written atomically: the old one is intact
                return UploadResult(skipped=(*skipped, f"indexing failed: {e}"))
            fresh = Retriever.load(store.path, embedder=self.retriever.embedder)
            fresh.search("warm up", k=1)  # load its search structures before readers switch
            self.retriever = fresh
            return UploadResult(tuple(d.id for d in docs), tuple(skipped), report.documents,
                                report.seconds)

    def _acceptable(self, paths: Sequence[str | Path]) -> tuple[list[Path], list[str]]:
        files, skipped = [], []
        limit = self.max_upload_bytes
        for raw in paths or ():
            path = Path(raw)
            size = path.stat().st_size if path.is_file() else -1
            if path.suffix.lower() not in SUFFIXES:
                skipped.append(f"{path.name}: unsupported file type; use {', '.join(SUFFIXES)}")
            elif size < 0:
                skipped.append(f"{path.name}: not found")
            elif size > limit:
                skipped.append(f"{path.name}: {size / 1e6:.1f} MB, over the "
                               f"{limit / 1e6:.0f} MB limit")
            else:
                files.append(path)
        return files, skipped

    def status(self) -> str:
        """The index status line (Markdown): documents, chunks, model."""
        m = self.retriever.store.manifest
        return (f"**Index:** {len(m.documents)} documents · {m.chunks} chunks · "
                f"model {md_text(Path(m.model).name)}")

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


def _readable(files: list[Path]) -> tuple[list[Document], list[str]]:
    """The documents in `files` and, for files that could not be read, why."""
    if not files:
        return [], []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", IngestWarning)
        try:
            docs = read_documents(files)
        except NoDocumentsError:
            docs = []
    names = {str(f): f.name for f in files}
    why = []
    for w in caught:
        if issubclass(w.category, IngestWarning):
            text = str(w.message).removeprefix("skipped ")
            for full, name in names.items():
                text = text.replace(full, name)
            why.append(text)
    return docs, why


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
