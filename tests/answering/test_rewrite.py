"""Follow-up questions: rewritten into standalone queries from the previous turn only."""

from __future__ import annotations

import time

import pytest
from conftest import ARTICLES, FakeEmbedder, write_corpus

from rag.answering.answer import REFUSAL, Answerer
from rag.answering.rewrite import Turn, needs_context, rewrite
from rag.indexing.build import build_index
from rag.search.retrieve import Retriever

SUCCESSION = "Who will succeed Stoltenberg as NATO Secretary General?"


# --- rewrite, the pure function ------------------------------------------------------------

@pytest.mark.parametrize("question", [
    SUCCESSION,
    "How many countries belong to NATO?",
    "When did Finland become a NATO member?",
    "What did Stoltenberg say about whether to talk with Russia?",
    "Where did Mark Rutte give his speech in March 2025?",
    "What was Mark Rutte's job before he was picked to lead NATO?",
    "What did Borrell say NATO cannot be?",
])
def test_a_self_contained_question_is_left_as_it_is(question):
    assert not needs_context(question)
    assert rewrite(question, Turn(SUCCESSION, "Mark Rutte")) == question
    assert rewrite(question, None) == question


def test_when_does_he_start_names_the_previous_answer():
    out = rewrite("When does he start?", Turn(SUCCESSION, "Mark Rutte"))
    assert "Mark Rutte" in out
    assert out == "When does Mark Rutte start?"


def test_a_possessive_pronoun_becomes_a_possessive_name():
    assert rewrite("What was his job?", Turn(SUCCESSION, "Mark Rutte")) == "What was Mark Rutte's job?"


def test_without_an_answer_focus_the_previous_question_is_carried_along():
    out = rewrite("When does he start?", Turn(SUCCESSION))
    assert out.startswith("When does he start?")
    assert SUCCESSION in out


def test_and_what_about_a_year_swaps_the_year():
    previous = Turn("How many NATO countries met the 2% spending target in 2022?", "seven")
    assert rewrite("And what about 2016?", previous) == (
        "How many NATO countries met the 2% spending target in 2016?")
    assert rewrite("what about 2014", previous) == (
        "How many NATO countries met the 2% spending target in 2014?")


def test_what_about_something_else_joins_it_to_the_previous_question():
    out = rewrite("And what about Sweden?", Turn("When did Finland join NATO?"))
    assert out.startswith("When did Finland join NATO") and "Sweden" in out


@pytest.mark.parametrize("question", ["what about it?", "What about it", "and then?", "Why?"])
def test_a_dangling_question_without_history_is_left_unchanged(question):
    assert needs_context(question)
    assert rewrite(question, None) == question


def test_a_dangling_question_with_history_carries_the_previous_question():
    assert rewrite("Why?", Turn("When did Finland join NATO?")).startswith(
        "When did Finland join NATO?")


def test_whitespace_is_folded():
    assert rewrite("  When   does\nhe\tstart? ", Turn(SUCCESSION, "Mark Rutte")) == (
        "When does Mark Rutte start?")


@pytest.mark.parametrize("question, expected", [
    ("When does he start?", True),
    ("What did he say there about going it alone?", True),
    ("Who lifted the last veto holding it up?", True),
    ("And how many were expected to hit it in 2024?", True),
    ("What is the capital of Norway?", False),
    ("", False),
])
def test_needs_context(question, expected):
    assert needs_context(question) is expected


# --- through the Answerer: only the last turn is used ---------------------------------------

class CountingRetriever(Retriever):
    """The real retriever, recording each query it is asked to search."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.queries: list[str] = []

    def search(self, question, **options):
        self.queries.append(question)
        return super().search(question, **options)


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("rewrite")
    embedder = FakeEmbedder()
    build_index([write_corpus(root / "corpus", ARTICLES)], index_dir=root / "index",
                embedder=embedder)
    return root / "index", embedder


@pytest.fixture
def counting(index):
    path, embedder = index
    retriever = CountingRetriever.load(path, embedder=embedder)
    yield retriever
    retriever.store.close()


def _history(n: int) -> list[str]:
    """n earlier turns, each a distinct 'who' question (the kind the Answerer re-asks)."""
    return [f"Who baked loaf number {i} at the bakery on Baker Street?" for i in range(n)]


def test_a_500_turn_history_uses_only_the_last_turns(counting):
    answerer = Answerer(counting)
    history = _history(499) + ["When were residents of Grindavik evacuated?"]
    started = time.perf_counter()
    long = answerer.ask("Why were they evacuated?", history=history)
    elapsed = time.perf_counter() - started
    asked = list(counting.queries)

    counting.queries.clear()
    short = answerer.ask("Why were they evacuated?", history=history[-1:])
    assert long.standalone_query == short.standalone_query
    assert "Grindavik" in long.standalone_query
    assert long.text == short.text
    assert len(asked) <= 2, asked  # the question itself and, at most, the previous turn
    assert not any(f"number {i} " in q for q in asked for i in range(499))
    assert elapsed < 5.0


def test_a_long_history_of_who_questions_costs_no_more_than_a_short_one(counting):
    """The Answerer may re-ask the last 'who' turn to learn its answer (the name a pronoun
    stands for); it must not walk further back, however long the conversation."""
    answerer = Answerer(counting)
    answerer.ask("When did they bake it?", history=_history(2))
    short = len(counting.queries)
    counting.queries.clear()
    answerer.ask("When did they bake it?", history=_history(500))
    assert len(counting.queries) == short
    assert not any(f"number {i} " in q for q in counting.queries for i in range(498))


def test_a_self_contained_last_turn_is_asked_without_the_turn_before_it(counting):
    """A couple of asks at most: the question and the last turn. The last turn here stands
    on its own, so the turn before it is not needed to understand it."""
    answerer = Answerer(counting)
    answerer.ask("When did they bake it?", history=_history(500))
    assert len(counting.queries) <= 2, counting.queries
    assert not any("number 498 " in q for q in counting.queries)


def test_a_history_of_answers_asks_nothing_again(counting):
    answerer = Answerer(counting)
    first = answerer.ask("When were residents of Grindavik evacuated?")
    history = [first] * 500
    counting.queries.clear()
    answer = answerer.ask("Why?", history=history)
    assert len(counting.queries) == 1
    assert answer.standalone_query.startswith(first.standalone_query)


def test_what_about_it_without_history_is_answered_or_refused(counting):
    answer = Answerer(counting).ask("what about it?")
    assert answer.standalone_query == "what about it?"
    assert answer.refused == (answer.text == REFUSAL)
    if answer.refused:
        assert answer.citations == () and answer.notes


@pytest.mark.parametrize("history", [[""], ["   "], [None], [42]], ids=repr)
def test_blank_or_odd_history_turns_are_ignored(counting, history):
    answer = Answerer(counting).ask("When were residents of Grindavik evacuated?", history=history)
    assert answer.standalone_query == "When were residents of Grindavik evacuated?"
