"""Preferring a question's week: known answers on a dated index, and the date checks."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from conftest import FakeEmbedder

from rag.errors import InputError
from rag.indexing.build import build_index
from rag.search.recency import outside_note, parse_day, says_recent
from rag.search.retrieve import Retriever, SearchConfig

ARTICLES = [  # the same story at three dates, worded so the oldest matches best
    ("old", "2023-01-02", "Harbor ferry strike: ferry workers strike over ferry pay at the harbor."),
    ("week", "2023-03-01", "The harbor ferry strike ended after a pay deal."),
    ("later", "2023-06-20", "A harbor ferry strike anniversary was marked."),
    ("undated", None, "Ferry strike at the harbor, ferry pay talks, ferry workers."),
]


@pytest.fixture(scope="module")
def retriever(tmp_path_factory):
    root = tmp_path_factory.mktemp("dates")
    lines = [json.dumps({"id": i, "title": f"Story {i}", "text": t, **({"date": d} if d else {})})
             for i, d, t in ARTICLES]
    (root / "news.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    embedder = FakeEmbedder()
    build_index([root / "news.jsonl"], index_dir=root / "index", embedder=embedder)
    r = Retriever.load(root / "index", embedder=embedder)
    yield r
    r.store.close()


def test_the_articles_of_the_questions_week_come_first(retriever):
    question = "harbor ferry strike pay"
    plain = [p.doc_id for p in retriever.search(question, k=4)]
    dated = [p.doc_id for p in retriever.search(question, k=4, as_of="2023-03-03")]
    assert plain[0] != "week"
    assert dated[0] == "week"
    assert sorted(dated) == sorted(plain)  # nothing is dropped, only reordered
    assert [p.rank for p in retriever.search(question, k=4, as_of="2023-03-03")] == [1, 2, 3, 4]


def test_the_window_is_a_setting(retriever):
    wide = retriever.with_config(date_window=(365, 365))
    inside = [p.doc_id for p in wide.search("harbor ferry strike pay", k=4, as_of="2023-03-03")]
    assert inside[-1] == "undated"  # every dated article is inside; the undated one is not


def test_a_question_saying_this_week_is_read_as_of_the_day_it_is_asked(retriever):
    question = "harbor ferry strike pay this week"
    assert retriever.search(question, k=4, asked_on="2023-03-03")[0].doc_id == "week"
    no_words = [p.doc_id for p in retriever.search("harbor ferry strike pay", k=4,
                                                   asked_on="2023-03-03")]
    assert no_words[0] != "week"  # the day asked matters only when the words point at it
    told = retriever.search(question, k=4, as_of="2023-06-21", asked_on="2023-03-03")
    assert told[0].doc_id == "later"  # an explicit as_of wins
    off = retriever.with_config(recent_words=False)
    assert off.search(question, k=4, asked_on="2023-03-03")[0].doc_id != "week"


def test_without_a_day_asked_it_is_today(retriever, monkeypatch):
    class Today(dt.date):
        @classmethod
        def today(cls):
            return cls(2023, 6, 22)
    monkeypatch.setattr("rag.search.retrieve.dt.date", Today)
    assert retriever.search("harbor ferry strike pay recently", k=4)[0].doc_id == "later"


@pytest.mark.parametrize("question, recent", [
    ("Which team won the final on Sunday?", True), ("Who resigned this week?", True),
    ("What did the minister say last weekend?", True), ("Which company recently cut jobs?", True),
    ("What happened yesterday in Paris?", True), ("What was announced today?", True),
    ("Who founded NATO?", False), ("What is a weekly magazine?", False),
    ("Which film won in March 2023?", False), ("How many Sundays are in a year?", False)])
def test_words_that_point_at_the_last_few_days(question, recent):
    assert says_recent(question) is recent


@pytest.mark.parametrize("value, day", [("2023-01-05", dt.date(2023, 1, 5)),
                                        ("2023-01-05T10:00", dt.date(2023, 1, 5)),
                                        (dt.date(2024, 2, 29), dt.date(2024, 2, 29)), (None, None)])
def test_days_are_read(value, day):
    assert parse_day(value) == day


@pytest.mark.parametrize("value", ["05/01/2023", "yesterday", "2023-13-01", ""])
def test_a_bad_day_says_how_to_write_it(value):
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        parse_day(value)


def test_a_bad_window_is_refused():
    with pytest.raises(ValueError, match="days before, days after"):
        SearchConfig(date_window=(-1, 3))


@pytest.mark.parametrize("dates, note", [
    (["2023-02-21", None], False), (["2023-03-06T09:00"], False),  # 10 days before, 3 after
    (["2023-02-20"], True), (["2023-03-07"], True), ([None, "not a day"], True), ([], True)])
def test_a_note_when_no_source_is_in_the_days_around(dates, note):
    said = outside_note(dates, dt.date(2023, 3, 3), (10, 3))
    assert (said is not None) is note
    if note:
        assert said.startswith("no source here is dated from 2023-02-21 to 2023-03-06, the days "
                               "around 2023-03-03")


def test_no_note_without_a_day():
    assert outside_note([None], None, (7, 3)) is None
