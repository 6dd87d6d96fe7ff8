"""The chat page's LLM turns (`rag.app.chat`), against a chat-completions server on loopback.

The LLM is the operator's: its URL, key, model names and deadline are fixed when the
service starts, and a reader picks only extractive or LLM and one of the models. While the
model streams, the page shows a progress line, never the model's text; the answer shown is
made of verified quotes only. At most `llm_slots` LLM turns run at once, so a slow or
dripping LLM never holds the turns of other readers.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time

import pytest
from llm_stub import SENTENCE, LLMServer

from rag.answering.llm import LLMConfig
from rag.app.chat import ChatService, ChatSettings, Conversation
from rag.cli import main
from rag.indexing.build import build_index
from rag.search.retrieve import Retriever


@pytest.fixture
def llm():
    server = LLMServer().start()
    yield server
    server.stop()


@pytest.fixture
def service(tmp_path, corpus, fake_embedder, llm) -> ChatService:
    build_index([corpus], index_dir=tmp_path / "index", embedder=fake_embedder)
    config = LLMConfig(llm.url, models=("small", "large"), api_key="sk-operator", timeout=2.0)
    return ChatService(Retriever.load(tmp_path / "index", embedder=fake_embedder),
                       feedback_path=tmp_path / "feedback.jsonl", llm=config, llm_slots=1)


def turn(service: ChatService, question: str = "When did the volcano erupt?", **settings):
    steps = list(service.chat(question, Conversation(), settings=ChatSettings(**settings)))
    return steps[-1][0], steps


def test_while_the_model_streams_only_a_progress_line_shows_then_verified_quotes(service):
    conv, steps = turn(service, answerer="llm")
    progress = [c.messages[-1]["content"] for c, _ in steps[1:-1]]
    assert len(progress) >= 3
    assert all("choosing quotes" in p and "Moon" not in p and "volcano" not in p.lower()
               for p in progress)
    answer = conv.answers[-1]
    assert not answer.refused and answer.citations[0].doc_id == "volcano", answer.notes
    shown = conv.messages[-1]["content"]
    assert "Moon" not in shown and "Putin" not in shown and "<sup>[1]</sup>" in shown
    assert answer.text == f"{answer.citations[0].quote} [1]"
    assert answer.citations[0].quote.startswith(SENTENCE)


def test_the_operators_url_key_and_models_are_used_and_a_reader_picks_only_a_model(service,
                                                                                    llm):
    assert [f.name for f in dataclasses.fields(ChatSettings)] == ["k", "answerer", "model", "as_of"]
    turn(service, answerer="llm", model="large")
    turn(service, answerer="llm")
    assert [r["body"]["model"] for r in llm.requests] == ["large", "small"]
    assert {r["auth"] for r in llm.requests} == {"Bearer sk-operator"}
    conv, _ = turn(service, answerer="llm", model="http://attacker.example/v1")
    assert "unknown LLM model" in conv.messages[-1]["content"] and len(llm.requests) == 2
    assert "sk-operator" not in repr(service.llm)


def test_llm_turns_beyond_the_slots_get_the_extractive_answer_at_once(service, llm):
    llm.mode = "drip"
    first: list = []
    slow = threading.Thread(target=lambda: first.append(turn(service, answerer="llm")))
    started = time.perf_counter()
    slow.start()
    while not llm.requests:  # the first turn holds the only slot
        time.sleep(0.02)
    busy, _ = turn(service, answerer="llm")
    plain, _ = turn(service)
    assert time.perf_counter() - started < 1.5  # neither waited for the dripping turn
    assert "all 1 LLM slots are busy" in busy.answers[-1].notes[0]
    assert not busy.answers[-1].refused and not plain.answers[-1].refused
    slow.join(10)
    assert time.perf_counter() - started < 4.0  # the total deadline (2 s) ended the drip
    note = first[0][0].answers[-1].notes[0]
    assert note.startswith("LLM answer not used: the LLM server failed or did not answer "
                           "within 2 s")
    assert len(llm.requests) == 1
    turn(service, answerer="llm")  # the slot is free again
    assert len(llm.requests) == 2


def test_what_the_llm_server_says_when_it_fails_goes_to_the_log_not_the_page(service, llm,
                                                                             capsys):
    llm.mode = "fail"
    conv, _ = turn(service, answerer="llm")
    shown = conv.messages[-1]["content"] + json.dumps(conv.answers[-1].to_dict())
    assert "INTERNAL-SECRET" not in shown and "127.0.0.1" not in shown
    assert "showing the extractive answer instead" in shown
    log = capsys.readouterr().err
    assert "INTERNAL-SECRET" in log and "HTTP 500" in log


@pytest.fixture
def served(monkeypatch, fake_embedder):
    """`ui.app.serve` replaced by a recorder, and the fake model for the library."""
    import sys
    import types

    import rag.indexing.build
    import rag.indexing.embed
    import rag.search.retrieve

    calls = []
    module = types.ModuleType("ui.app")
    module.serve = lambda retriever, **kw: calls.append(kw)
    monkeypatch.setitem(sys.modules, "ui.app", module)
    for mod in (rag.indexing.build, rag.search.retrieve, rag.indexing.embed):
        monkeypatch.setattr(mod, "get_embedder", lambda model=None: fake_embedder)
    for name in ("RAG_LLM_URL", "RAG_LLM_MODEL", "RAG_LLM_API_KEY", "RAG_LLM_TIMEOUT", "RAG_AUTH"):
        monkeypatch.delenv(name, raising=False)
    return calls


def test_rag_serve_fixes_the_llm_settings_at_start(served, monkeypatch, corpus, capsys):
    monkeypatch.setenv("RAG_CORPUS", str(corpus))
    monkeypatch.setenv("RAG_LLM_API_KEY", "sk-env")
    assert main(["serve", "--llm-url", "http://127.0.0.1:9/v1", "--llm-model", "a,b",
                 "--llm-timeout", "7", "--llm-slots", "3", "--allow-replace"]) == 0
    kw = served[-1]
    assert kw["llm"] == LLMConfig("http://127.0.0.1:9/v1", models=("a", "b"), api_key="sk-env",
                                  timeout=7.0)
    assert kw["llm_slots"] == 3 and kw["allow_replace"] is True
    assert "LLM answerer: http://127.0.0.1:9/v1, model a, b, 7 s" in capsys.readouterr().err
    assert main(["serve"]) == 0
    assert served[-1]["llm"] is None and served[-1]["allow_replace"] is False
    assert main(["serve", "--llm-url", "ftp://x"]) == 1
    assert "must start with http://" in capsys.readouterr().err


def test_the_llm_turn_reads_the_as_of_day_too(service):
    conv, _ = turn(service, answerer="llm", as_of="1999-01-05")
    answer = conv.answers[-1]
    assert answer.citations and not any(n.startswith("LLM answer not used") for n in answer.notes)
    assert any(n.startswith("no source here is dated from 1998-12-29") for n in answer.notes)
