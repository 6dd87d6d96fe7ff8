"""Follow-up questions: resolved into standalone queries from the previous turn, never glued.

The rules are general: most examples here are about subjects the seed articles never
mention (a library, a volcano, a bakery, a chess player), and none names a seed entity in
a rule. The issue's own examples come first.
"""

from __future__ import annotations

import re
import time

import pytest
from conftest import ARTICLES, FakeEmbedder, write_corpus
from hypothesis import given
from hypothesis import strategies as st

from rag.answering.answer import REFUSAL, Answerer
from rag.answering.phrases import answer_names
from rag.answering.rewrite import Turn, needs_context, rewrite
from rag.indexing.build import build_index
from rag.search.retrieve import Retriever

SUCCESSION = "Who will succeed Stoltenberg as NATO Secretary General?"
FINLAND = "When did Finland join NATO?"


# --- the examples -------------------------------------------------------------------

def test_and_sweden_after_finland_swaps_the_country():
    assert rewrite("And Sweden?", Turn(FINLAND, "April 2023")) == "When did Sweden join NATO?"


@pytest.mark.parametrize("history, question", [
    (FINLAND, "Which country lifted its veto on Sweden's accession?"),
    ("Which country lifted its veto on Sweden's accession?", "Where will NATO hold its June summit?"),
])
def test_a_new_question_after_another_is_left_exactly_as_it_is(history, question):
    turn = Turn(history, "Hungary", ("after Hungary lifted its veto on Stockholm's bid.",))
    assert not needs_context(question)
    assert rewrite(question, turn) == question


def test_who_designed_it_after_the_library_opened():
    assert rewrite("Who designed it?", Turn("When did the library open?", "March 2024")) == (
        "Who designed the library?")


def test_when_does_he_start_names_the_previous_answer():
    assert rewrite("When does he start?", Turn(SUCCESSION, "Mark Rutte")) == (
        "When does Mark Rutte start?")


# --- self-contained questions ---------------------------------------------------------------

SELF_CONTAINED = [
    SUCCESSION,
    "How many countries belong to NATO?",
    "When did Finland become a NATO member?",
    "What did Stoltenberg say about whether to talk with Russia?",
    "Where did Mark Rutte give his speech in March 2025?",
    "What was Mark Rutte's job before he was picked to lead NATO?",
    "What did Borrell say NATO cannot be?",
    "What did Trump say he would encourage Russia to do?",
    "What share of Russia's land border does it share with NATO countries?",
    "How many NATO countries met their spending target?",
    "Is it true that the bakery sells rye bread?",
    "How long did it take to rebuild the harbour wall?",
    "Are there any plans to reopen the Blue Lagoon?",
    "Why did the founder say she never weighed her flour?",
    "What is the capital of Norway?",
    "And how many loaves does the bakery sell each day?",
]


@pytest.mark.parametrize("question", SELF_CONTAINED)
def test_a_self_contained_question_is_left_as_it_is(question):
    assert not needs_context(question)
    for turn in (None, Turn(SUCCESSION, "Mark Rutte", ("former Dutch Prime Minister Mark Rutte",)),
                 Turn("When did the volcano erupt?"), Turn("Which bakery won the prize?")):
        assert rewrite(question, turn) == question


_NAMES = st.sampled_from(["Anna Berg", "Oslo", "the Red Cross", "Grindavik", "UNESCO",
                          "the city council", "Queen Margrethe", "Baker Street"])
_OPENINGS = st.sampled_from(["When did", "Why did", "Where did", "How did", "What did",
                             "How often did", "Which year did"])
_VERBS = st.sampled_from(["open", "close", "announce", "report", "say", "build", "sell"])
_OBJECTS = st.sampled_from(["", " the new bridge", " its plans", " the results in 2019",
                            " that prices would rise", " a museum in Bergen"])


@given(_OPENINGS, _NAMES, _VERBS, _OBJECTS, st.text(max_size=60), st.none() | st.text(max_size=20))
def test_property_a_question_naming_its_subject_is_never_rewritten(opening, name, verb, obj,
                                                                   previous, focus):
    question = f"{opening} {name} {verb}{obj}?"
    assert not needs_context(question)
    assert rewrite(question, Turn(previous or "x", focus)) == question


@given(st.text(max_size=80), st.text(min_size=1, max_size=80), st.none() | st.text(max_size=20),
       st.lists(st.text(max_size=60), max_size=2))
def test_property_an_earlier_question_is_never_appended(question, previous, focus, quotes):
    out = rewrite(question, Turn(previous, focus, tuple(quotes)))
    prev = " ".join(previous.split())
    q = " ".join(question.split())
    assert out == q or needs_context(q)  # only a question that leans is changed
    if prev and prev in out and prev not in q:
        assert out == prev  # at most the previous question itself, never glued to another
    assert not out.endswith(f"({prev})") or f"({prev})" in q


# --- known rewrites, by kind ------------------------------------------------------------------

@pytest.mark.parametrize("question, turn, expected", [
    # a pronoun: the name the last answer gave
    ("What was his job?", Turn(SUCCESSION, "Mark Rutte"), "What was Mark Rutte's job?"),
    ("Where did she learn to bake?", Turn("Who founded the bakery on Baker Street?", "Anna Berg"),
     "Where did Anna Berg learn to bake?"),
    ("When was it built?", Turn("Which bridge collapsed in Genoa?", None,
                                ("The Morandi Bridge collapsed in Genoa in August 2018.",)),
     "When was Morandi Bridge built?"),
    ("Who is its leader?", Turn("Which country delayed the treaty?", None,
                                ("The treaty was delayed, notably by Portugal.",)),
     "Who is Portugal's leader?"),
    ("Where did he post his reaction?", Turn("Who is the mayor of Bergen?", None,
                                             ("Bergen Mayor Erik Halvorsen also hit back.",)),
     "Where did Erik Halvorsen post his reaction?"),
    # a pronoun: the subject of the last question
    ("Where did it erupt?", Turn("When did the volcano erupt?", "Monday night"),
     "Where did the volcano erupt?"),
    ("Why were they evacuated?", Turn("When were residents of Grindavik evacuated?", "November"),
     "Why were residents of Grindavik evacuated?"),
    ("What did he say about the harbour?", Turn("When did Halvorsen visit Grindavik?", "May"),
     "What did Halvorsen say about the harbour?"),
    ("Who did she say she learned from?", Turn("What did the founder bring from San Francisco?"),
     "Who did the founder say she learned from?"),
    ("What did they agree on?", Turn("When did the NATO leaders meet in Vilnius?"),
     "What did the NATO leaders agree on?"),
    ("And when did it launch its invasion?", Turn("When did Russia seize Crimea?", "March 2014"),
     "When did Russia launch its invasion?"),
    ("Which country's flag was raised there?", Turn("Where is the alliance's headquarters?", None,
                                                     ("at the alliance's headquarters in Brussels, it said",)),
     "Which country's flag was raised in Brussels?"),
    # "And X?" / "What about X?"
    ("And Norway?", Turn("How many submarines does Sweden operate?"),
     "How many submarines does Norway operate?"),
    ("What about the EU?", Turn(FINLAND), "When did Finland join the EU?"),
    ("What about Erik Halvorsen?", Turn("What is Anna Berg's job?"), "What is Erik Halvorsen's job?"),
    ("What about Anna Berg?", Turn("How did the city council describe the plan?"),
     "How did Anna Berg describe the plan?"),
    ("And what about 2016?", Turn("How many NATO countries met the 2% spending target in 2022?"),
     "How many NATO countries met the 2% spending target in 2016?"),
    ("And in November?", Turn("How many earthquakes hit Grindavik in October?"),
     "How many earthquakes hit Grindavik in November?"),
    ("And according to Reuters?", Turn("How many people were evacuated, according to AFP?"),
     "How many people were evacuated, according to Reuters?"),
    ("And the rye loaf?", Turn("How much does the small loaf cost?"), "How much does the rye loaf cost?"),
    # a lone question word
    ("Why?", Turn(FINLAND), "Why did Finland join NATO?"),
    ("Where?", Turn("When will the summit be held?"), "Where will the summit be held?"),
    ("And since when?", Turn("Where does the grandmaster train?"), "Since when does the grandmaster train?"),
    ("Who else?", Turn("Who criticized the plan on Saturday?"), "Who else criticized the plan on Saturday?"),
    ("How?", Turn("Did Sweden join NATO?"), "How did Sweden join NATO?"),
])
def test_known_rewrites(question, turn, expected):
    assert needs_context(question)
    assert rewrite(question, turn) == expected


@pytest.mark.parametrize("question, turn", [
    ("When?", Turn("Who lifted the veto?")),  # would need the verb's base form
    ("What did he say?", Turn("Which bridge collapsed in Genoa?")),  # no person anywhere
    ("What about it?", Turn(FINLAND)),
    ("And then?", Turn(FINLAND)),
    ("And rye?", Turn("How much does spelt flour cost?")),  # nothing of its kind to swap
])
def test_a_follow_up_whose_referent_is_not_found_is_left_unchanged(question, turn):
    assert needs_context(question)
    assert rewrite(question, turn) == question


def test_a_pronoun_found_inside_the_rewrite_is_not_replaced_twice():
    # "he" becomes the name; the second "he" and "his" then refer to it inside the question
    turn = Turn("Which word did Trump use to describe NATO during his campaign?", "obsolete")
    assert rewrite("Who did he say he would be better at negotiating with than his rival?", turn) \
        == "Who did Trump say he would be better at negotiating with than his rival?"


@pytest.mark.parametrize("question", ["what about it?", "What about it", "and then?", "Why?"])
def test_a_dangling_question_without_history_is_left_unchanged(question):
    assert needs_context(question)
    assert rewrite(question, None) == question


def test_whitespace_is_folded():
    assert rewrite("  When   does\nhe\tstart? ", Turn(SUCCESSION, "Mark Rutte")) == (
        "When does Mark Rutte start?")
    assert rewrite("  What is   the capital of Norway? ", None) == "What is the capital of Norway?"


@pytest.mark.parametrize("question, expected", [
    ("When does he start?", True),
    ("What did he say there about going it alone?", True),
    ("Who lifted the last veto holding it up?", True),
    ("And how many were expected to hit it in 2024?", True),
    ("What attacks were they responding to?", True),
    ("Which country's flag was raised there?", True),
    ("And Sweden?", True),
    ("What about Reuters?", True),
    ("Where?", True),
    ("For how long?", True),
    ("What is the capital of Norway?", False),
    ("Which countries said they would spend more?", False),
    ("What did Trump say he would do?", False),
    ("Is there a bakery on Baker Street?", False),
    ("Where will NATO hold its June summit?", False),
    ("", False),
])
def test_needs_context(question, expected):
    assert needs_context(question) is expected


def test_answer_names_puts_the_name_beside_the_question_words_first():
    quote = "Sweden's accession became possible last month, after Hungary lifted its veto on Stockholm's bid."
    assert answer_names("Which country lifted its veto on Sweden's accession?", [quote])[0] == "Hungary"
    assert answer_names("Who is the European Council President?",
                        ["European Council President Charles Michel also hit back."],
                        kind="person") == ["Charles Michel"]
    assert answer_names("Where is the headquarters?", ["at the headquarters in Brussels, Stoltenberg said"],
                        kind="place") == ["Brussels"]
    assert answer_names("Who won?", []) == []


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
    assert long.standalone_query == short.standalone_query == (
        "Why were residents of Grindavik evacuated?")
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
    assert answer.standalone_query == "Why were residents of Grindavik evacuated?"


def test_the_previous_answer_gives_its_focus_and_quotes(counting):
    answerer = Answerer(counting)
    first = answerer.ask("Who won the national chess championship?")
    turn = answerer.previous_turn([first])
    assert turn.question == first.standalone_query
    assert turn.answer_quotes == tuple(c.quote for c in first.citations)
    assert turn.answer_focus == (None if first.refused else first.focus)


def test_new_questions_in_a_conversation_are_searched_as_they_are(counting):
    """The issue's chat: three unrelated questions, each searched exactly as asked."""
    answerer = Answerer(counting)
    questions = ["When were residents of Grindavik evacuated?",
                 "Which opening did the grandmaster play in the final round?",
                 "Where did the founder of the bakery bring the starter from?"]
    history: list = []
    for q in questions:
        answer = answerer.ask(q, history=history)
        assert answer.standalone_query == q
        history.append(answer)
    assert not any(re.search(r"\(.*\?\)", q) for q in counting.queries), counting.queries


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
