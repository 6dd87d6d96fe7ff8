"""An answer read as of a day says so when none of its sources is dated around that day:
known answers on a small dated index, through the extractive and the LLM answerer."""

from __future__ import annotations

import json

import pytest
from conftest import FakeEmbedder

from rag.answering.answer import Answerer
from rag.indexing.build import build_index
from rag.search.retrieve import Retriever

ARTICLES = [
    ("spring", "2023-03-01", "The harbor ferry strike ended after a pay deal with the workers."),
    ("summer", "2023-06-20", "Ferry workers marked a year since the harbor ferry strike began."),
]
NOTE = "no source here is dated from"


@pytest.fixture(scope="module")
def answerer(tmp_path_factory):
    root = tmp_path_factory.mktemp("dated")
    lines = [json.dumps({"id": i, "title": f"Story {i}", "text": t, "date": d})
             for i, d, t in ARTICLES]
    (root / "news.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    embedder = FakeEmbedder()
    build_index([root / "news.jsonl"], index_dir=root / "index", embedder=embedder)
    r = Retriever.load(root / "index", embedder=embedder)
    yield Answerer(r)
    r.store.close()


def notes_of(answer) -> list[str]:
    return [n for n in answer.notes if n.startswith(NOTE)]


def test_this_week_asked_long_after_says_the_sources_are_older(answerer):
    answer = answerer.ask("How did the harbor ferry strike end this week?", asked_on="2024-12-01")
    assert not answer.refused
    assert notes_of(answer) == [
        (f"{NOTE} 2024-11-24 to 2024-12-04, the days around 2024-12-01 that the question was "
        "read as of; these are from other days (see each source's date)")]
    assert notes_of(answer)[0] not in answer.text  # shown beside the answer, not quoted
    assert notes_of(answer)[0] in answer.to_dict()["notes"]


def test_no_note_when_a_quote_is_from_those_days(answerer):
    answer = answerer.ask("How did the harbor ferry strike end this week?", asked_on="2023-03-04")
    assert not answer.refused
    assert any(c.date.startswith("2023-03-01") for c in answer.citations)
    assert notes_of(answer) == []


def test_no_note_for_a_question_read_as_of_no_day(answerer):
    assert notes_of(answerer.ask("How did the harbor ferry strike end?")) == []


def test_as_of_is_checked_the_same_way(answerer):
    answer = answerer.ask("How did the harbor ferry strike end?", as_of="2025-01-10")
    assert len(notes_of(answer)) == 1
