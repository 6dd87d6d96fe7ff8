"""The extractive answerer over a fake-embedder index: verified quotes, refusals, bad input.

The invariant (issue 4): every citation's quote is `document.text[start:end]` and lies
inside the passage it cites. It is checked here on every answer, and `check_citation` and
`verified` are checked on citations that break it.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import replace

import pytest
from conftest import ARTICLES, FakeEmbedder, write_corpus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rag.answering.answer import (
    REFUSAL,
    Answer,
    AnswerConfig,
    Answerer,
    Citation,
    check_citation,
    verified,
)
from rag.errors import InputError, ReaderError
from rag.indexing.build import build_index
from rag.indexing.lexical import PREFIXES_FILE, corpus_prefixes
from rag.search.retrieve import QuestionTruncated, Retriever

QUESTIONS = [
    "Where did the volcano erupt and where is the lava flowing?",
    "Which bakery bakes sourdough loaves with a starter culture?",
    "When were residents of Grindavik evacuated?",
    "Who won the national chess championship?",
    "What is the price of a small loaf at the bakery?",
    "How much does a small loaf cost?",
    "What did the coach say about the Sicilian defence?",
    "Why were the Blue Lagoon spa and the power plant closed?",
    "How many submarines does Norway operate?",
    "what about it?",
    "volcano bakery chess",
    "Erdoğan\u00a0and the lava?",
]


@pytest.fixture(scope="module")
def retriever(tmp_path_factory):
    root = tmp_path_factory.mktemp("answer")
    embedder = FakeEmbedder()
    build_index([write_corpus(root / "corpus", ARTICLES)], index_dir=root / "index",
                embedder=embedder)
    r = Retriever.load(root / "index", embedder=embedder)
    yield r
    r.store.close()


@pytest.fixture(scope="module")
def answerer(retriever):
    return Answerer(retriever)


@pytest.fixture(scope="module")
def docs(retriever):
    return retriever.store.documents()


def assert_invariant(answer: Answer, docs) -> None:
    """What issue 4 promises of every answer, refused or not."""
    assert isinstance(answer, Answer)
    assert answer.refused == (answer.text == REFUSAL)
    if answer.refused:
        assert answer.citations == ()
        return
    assert answer.citations
    assert [c.n for c in answer.citations] == list(range(1, len(answer.citations) + 1))
    for c in answer.citations:
        assert check_citation(c, docs, answer.passages), c
        doc = docs[c.doc_id]
        assert doc.text[c.start:c.end] == c.quote
        cited = [p for p in answer.passages if p.rank == c.passage_rank]
        assert len(cited) == 1 and cited[0].doc_id == c.doc_id
        assert cited[0].start <= c.start < c.end <= cited[0].end
        assert (c.title, c.date, c.source) == (doc.title, doc.date, doc.source)
        if c.focus is not None:
            assert c.start <= c.focus_start < c.focus_end <= c.end
            assert c.focus in c.quote


# --- the invariant ---------------------------------------------------------------------------

@pytest.mark.parametrize("question", QUESTIONS)
def test_every_answer_holds_the_invariant(answerer, docs, question):
    assert_invariant(answerer.ask(question), docs)


def test_the_question_list_gets_answers_and_refusals(answerer):
    answers = [answerer.ask(q) for q in QUESTIONS]
    assert any(a.refused for a in answers) and any(not a.refused for a in answers)


_VOCABULARY = sorted({w for text in ARTICLES.values() for w in text.split()})


@settings(max_examples=40, suppress_health_check=list(HealthCheck))
@given(st.lists(st.sampled_from(_VOCABULARY), min_size=1, max_size=12),
       st.integers(min_value=1, max_value=8))
def test_any_question_from_the_articles_words_holds_the_invariant(answerer, docs, words, k):
    answer = answerer.ask(" ".join(words) + "?", k=k)
    assert_invariant(answer, docs)
    assert len(answer.passages) <= k


ANSWERED = [q for q in QUESTIONS[:8] if not q.startswith(("Who won", "How much"))]


@pytest.mark.parametrize("question", ANSWERED)
def test_the_answer_text_is_the_quotes_with_their_markers(answerer, question):
    answer = answerer.ask(question)
    assert not answer.refused
    positions = [answer.text.index(f"{c.quote} [{c.n}]") for c in answer.citations]
    assert positions == sorted(positions) and positions[0] == 0
    assert 1 <= len(answer.citations) <= AnswerConfig().max_sentences


def test_known_answer_with_its_focus(answerer, docs):
    answer = answerer.ask("When were residents of Grindavik evacuated?")
    assert not answer.refused
    first = answer.citations[0]
    assert first.doc_id == "volcano"
    assert first.quote.startswith("Residents of Grindavik were evacuated in November")
    assert "November" in first.focus and answer.focus == first.focus
    assert answer.text.startswith(first.quote + " [1]")
    with open(first.source, encoding="utf-8") as f:
        assert f.read()[first.start:first.end] == first.quote
    assert_invariant(answer, docs)


def test_chosen_sentences_do_not_overlap(answerer):
    for question in QUESTIONS:
        cites = answerer.ask(question).citations
        for i, a in enumerate(cites):
            for b in cites[i + 1:]:
                assert a.doc_id != b.doc_id or a.end <= b.start or b.end <= a.start


def test_answers_are_deterministic(answerer):
    one = answerer.ask("Where did the volcano erupt and where is the lava flowing?")
    two = answerer.ask("Where did the volcano erupt and where is the lava flowing?")
    assert replace(one, timings={}) == replace(two, timings={})


def test_to_dict_follows_the_documented_schema(answerer):
    answer = answerer.ask("When were residents of Grindavik evacuated?")
    data = json.loads(json.dumps(answer.to_dict()))
    assert {"question", "standalone_query", "answer", "refused", "citations", "passages",
            "timings"} <= set(data)
    assert data["answer"] == answer.text and data["refused"] is False
    for c in data["citations"]:
        assert {"n", "doc_id", "title", "date", "source", "quote", "start", "end"} <= set(c)
    assert {"retrieve_ms", "answer_ms", "total_ms"} <= set(data["timings"])
    assert data["timings"]["total_ms"] >= data["timings"]["retrieve_ms"]


# --- refusal ---------------------------------------------------------------------------------

def _assert_refusal(answer: Answer) -> None:
    assert answer.refused is True
    assert answer.text == REFUSAL
    assert answer.citations == ()
    assert 1 <= len(answer.passages) <= 3
    assert [p.rank for p in answer.passages] == list(range(1, len(answer.passages) + 1))
    assert answer.notes and all(n.strip() for n in answer.notes)
    assert answer.focus is None


def test_a_question_about_something_the_sources_never_mention_is_refused(answerer):
    answer = answerer.ask("How many submarines does Norway operate?")
    _assert_refusal(answer)
    assert "norway" in " ".join(answer.notes).lower()


def test_the_vocabulary_comes_from_the_index_without_reading_the_chunks(retriever, monkeypatch):
    scanned = corpus_prefixes(c.text for _, c in retriever.store.chunks())
    fresh = Answerer(retriever)
    some_chunks = retriever.store.chunks

    def chunks(rows=None):
        assert rows is not None, "the vocabulary must not read every chunk"
        return some_chunks(rows)

    monkeypatch.setattr(retriever.store, "chunks", chunks)
    assert fresh.vocabulary() == retriever.store.lexical.prefixes
    assert fresh.vocabulary() >= scanned  # plus the titles that BM25 indexes with the chunks
    _assert_refusal(fresh.ask("How many submarines does Norway operate?"))


def test_an_index_saved_without_prefixes_has_its_chunks_read_once(tmp_path):
    embedder = FakeEmbedder()
    build_index([write_corpus(tmp_path / "corpus", ARTICLES)], index_dir=tmp_path / "index",
                embedder=embedder)
    retriever = Retriever.load(tmp_path / "index", embedder=embedder)
    (retriever.store.root / "bm25" / PREFIXES_FILE).unlink()
    try:
        answerer = Answerer(retriever)
        assert answerer.vocabulary() == corpus_prefixes(c.text for _, c in retriever.store.chunks())
        _assert_refusal(answerer.ask("How many submarines does Norway operate?"))
    finally:
        retriever.store.close()


def test_weak_evidence_is_refused_with_the_threshold_in_the_notes(retriever):
    answer = Answerer(retriever, config=AnswerConfig(threshold=99.0)).ask(
        "When were residents of Grindavik evacuated?")
    _assert_refusal(answer)
    assert "threshold" in " ".join(answer.notes)


def test_a_who_question_without_any_name_nearby_is_refused(answerer):
    answer = answerer.ask("Who won the national chess championship?")
    _assert_refusal(answer)
    assert "name" in " ".join(answer.notes)


def test_a_refusal_serializes(answerer):
    data = json.loads(json.dumps(answerer.ask("How many submarines does Norway operate?").to_dict()))
    assert data["refused"] is True and data["citations"] == [] and data["passages"]


# --- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("question", ["", "   ", "\n\t", None])
def test_an_empty_question_is_an_input_error(answerer, question):
    with pytest.raises(InputError, match="empty"):
        answerer.ask(question)


@pytest.mark.parametrize("k", [0, -1, True, 1.5, "3"])
def test_a_bad_k_is_an_input_error(answerer, k):
    with pytest.raises(InputError, match="k must be"):
        answerer.ask("When were residents of Grindavik evacuated?", k=k)


def test_a_bad_configured_k_is_an_input_error(retriever):
    with pytest.raises(InputError, match="k must be"):
        Answerer(retriever, config=AnswerConfig(k=0)).ask("volcano")


def test_a_very_long_question_is_cut_with_a_warning_and_answered(answerer, docs):
    question = "When were residents of Grindavik evacuated? " * 400
    with pytest.warns(QuestionTruncated):
        answer = answerer.ask(question)
    assert_invariant(answer, docs)
    assert len(answer.standalone_query) < len(question)


def test_what_about_it_with_no_history_is_answered_or_refused(answerer, docs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        answer = answerer.ask("what about it?")
    assert answer.standalone_query == "what about it?"
    assert_invariant(answer, docs)


def test_k_bounds_the_passages(answerer):
    assert len(answerer.ask("volcano lava", k=1).passages) == 1
    assert len(answerer.ask("volcano lava", k=1000).passages) <= 1000


# --- check_citation and verified ---------------------------------------------------------------

@pytest.fixture(scope="module")
def good(answerer):
    answer = answerer.ask("When were residents of Grindavik evacuated?")
    return answer.citations[0], answer.passages


@pytest.mark.parametrize("change", [
    lambda c: {"quote": c.quote + " "},
    lambda c: {"quote": c.quote.upper()},
    lambda c: {"start": c.start + 1},
    lambda c: {"start": c.start + 1, "end": c.end + 1},
    lambda c: {"quote": "", "start": c.start, "end": c.start},
    lambda c: {"doc_id": "bakery"},
    lambda c: {"doc_id": "nowhere"},
    lambda c: {"passage_rank": 99},
], ids=["quote-extra-space", "quote-changed", "start-moved", "span-shifted", "empty",
        "other-document", "unknown-document", "uncited-passage"])
def test_check_citation_rejects_a_broken_citation(good, docs, change):
    citation, passages = good
    assert check_citation(citation, docs, passages)
    assert not check_citation(replace(citation, **change(citation)), docs, passages)


def test_check_citation_rejects_a_quote_outside_its_passage(good, docs):
    citation, passages = good
    p = next(p for p in passages if p.rank == citation.passage_rank)
    doc = docs[citation.doc_id]
    assert p.end < len(doc.text)
    wide = replace(citation, end=p.end + 1, quote=doc.text[citation.start:p.end + 1])
    assert doc.text[wide.start:wide.end] == wide.quote
    assert not check_citation(wide, docs, passages)


def test_verified_drops_broken_citations_and_renumbers(good, docs):
    citation, passages = good
    broken = replace(citation, n=1, quote="not in the text")
    kept = verified([broken, replace(citation, n=2)], docs, passages)
    assert kept == [replace(citation, n=1)]
    assert verified([broken], docs, passages) == []


def test_citation_focus_and_dict(good):
    citation, _ = good
    assert isinstance(citation, Citation)
    assert citation.to_dict()["focus"] == citation.focus
    assert replace(citation, focus_start=None, focus_end=None).focus is None


# --- sources that disagree ---------------------------------------------------------------------

FEBRUARY = (" date 2024-02-11 NATO welcomes Finland\n\n"
            "The alliance now includes 31 countries after Finland joined the military bloc.\n\n"
            "Sweden is still waiting for Hungary to approve its membership bid.\n")
SEPTEMBER = (" date 2024-09-19 Allies raise defence spending\n\n"
             "This year 23 of NATO's 32 countries are expected to meet the spending target.\n\n"
             "The outgoing secretary general praised the progress in his final speech.\n")


def test_disagreeing_sources_lead_with_the_most_recent_and_name_the_other_figure(tmp_path):
    """NATO's "31 countries" (February 2024) against "32" (September 2024).

    The fake embedder's bag-of-words scores are low and it has no notion of a number
    answering "how many", so the refusal gates are opened with
    AnswerConfig(threshold=0.0, typed_window=0): this test is about ordering and the note.
    """
    embedder = FakeEmbedder()
    corpus = write_corpus(tmp_path / "corpus", {"february.txt": FEBRUARY,
                                                "september.txt": SEPTEMBER})
    build_index([corpus], index_dir=tmp_path / "index", embedder=embedder)
    retriever = Retriever.load(tmp_path / "index", embedder=embedder)
    answerer = Answerer(retriever, config=AnswerConfig(threshold=0.0, typed_window=0))
    docs = retriever.store.documents()
    assert (docs["february"].date, docs["september"].date) == ("2024-02-11", "2024-09-19")

    answer = answerer.ask("How many countries does NATO have?")
    assert_invariant(answer, docs)
    assert not answer.refused
    lead = answer.citations[0]
    assert lead.doc_id == "september" and lead.date == "2024-09-19"
    assert "32 countries" in lead.quote
    assert answer.text.startswith(lead.quote + " [1]")
    other = next(c for c in answer.citations if c.doc_id == "february")
    [note] = [n for n in answer.notes if "disagree" in n]
    assert "31" in note and "2024-02-11" in note and f"[{other.n}]" in note
    assert "NATO welcomes Finland" in note and "2024-09-19" in note
    assert note in answer.text
    retriever.store.close()


# --- the learned reader (issue 13) -------------------------------------------------------------

@pytest.fixture(scope="module")
def learned(retriever):
    return Answerer(retriever, config=AnswerConfig(reader="learned"))


@pytest.mark.parametrize("question", QUESTIONS)
def test_the_learned_reader_keeps_the_invariant_and_gives_a_confidence(learned, docs, question):
    answer = learned.ask(question)
    assert_invariant(answer, docs)
    assert answer.confidence is not None and 0.0 <= answer.confidence <= 1.0
    assert answer.to_dict()["confidence"] == round(answer.confidence, 4)


def test_the_cheap_reader_gives_a_confidence_but_decides_by_its_own_score(retriever, answerer):
    answer = answerer.ask("When were residents of Grindavik evacuated?")
    assert answer.confidence is not None and 0.0 < answer.confidence < 1.0
    assert answer.to_dict()["confidence"] == round(answer.confidence, 4)
    above = Answerer(retriever, config=AnswerConfig(threshold=answer.score + 1e-6)).ask(
        "When were residents of Grindavik evacuated?")
    assert above.refused and "best evidence scores" in " ".join(above.notes)
    assert above.confidence == pytest.approx(answer.confidence)


def test_the_cheap_reader_needs_the_model_file_only_for_its_confidence(retriever, tmp_path):
    broken = Answerer(retriever, config=AnswerConfig(reader_model=str(tmp_path / "none.json")))
    assert broken.candidates("When were residents of Grindavik evacuated?", [], {}) == []
    with pytest.raises(ReaderError, match="no reader model"):
        broken.ask("When were residents of Grindavik evacuated?")


def test_a_confident_answer_is_one_quote_plus_at_most_a_corroboration(retriever):
    sure = Answerer(retriever, config=AnswerConfig(reader="learned", confident=0.0, threshold=0.0))
    unsure = Answerer(retriever, config=AnswerConfig(reader="learned", confident=1.01,
                                                     threshold=0.0, closeness=0.0))
    question = "Where did the volcano erupt and where is the lava flowing?"
    one, several = sure.ask(question), unsure.ask(question)
    assert 1 <= len(one.citations) <= 2
    assert len(several.citations) >= len(one.citations)
    assert one.citations[0].quote == several.citations[0].quote  # the same best sentence


@pytest.mark.parametrize("reader", ["cheap", "learned"])
def test_either_reader_gives_one_quote_from_its_confidence_on(retriever, reader):
    """Close seconds are added only while the reader is unsure (confident=1.01 never is)."""
    settings = {"reader": reader, "threshold": 0.0, "closeness": 0.0}
    sure = Answerer(retriever, config=AnswerConfig(confident=0.0, **settings))
    unsure = Answerer(retriever, config=AnswerConfig(confident=1.01, **settings))
    question = "Where is the lava flowing?"
    one, several = sure.ask(question), unsure.ask(question)
    assert one.confidence is not None and len(one.citations) <= 2  # one, or one corroborated
    assert len(several.citations) == AnswerConfig().max_sentences
    assert one.citations[0].quote == several.citations[0].quote


def test_the_learned_reader_refuses_an_absent_fact_and_a_weak_one(retriever):
    learned = Answerer(retriever, config=AnswerConfig(reader="learned"))
    _assert_refusal(learned.ask("How many submarines does Norway operate?"))
    strict = Answerer(retriever, config=AnswerConfig(reader="learned", threshold=1.0))
    answer = strict.ask("When were residents of Grindavik evacuated?")
    _assert_refusal(answer)
    assert "reader's confidence" in " ".join(answer.notes)
    assert answer.confidence is not None and answer.score == answer.confidence


def test_the_threshold_defaults_to_the_readers_own(retriever, answerer):
    from rag.answering.answer import CHEAP_THRESHOLD
    from rag.answering.reader import load_reader

    assert answerer.threshold == CHEAP_THRESHOLD
    learned = Answerer(retriever, config=AnswerConfig(reader="learned"))
    assert learned.threshold == load_reader().threshold


def test_an_unknown_reader_lists_the_known_ones():
    with pytest.raises(ValueError, match="choose one of learned, cheap"):
        AnswerConfig(reader="bert")


def _ask_one_article(tmp_path, text: str, questions: list[str], **config) -> list[Answer]:
    """Answers to `questions` over an index of the one article `text` (fake embedder)."""
    embedder = FakeEmbedder()
    corpus = write_corpus(tmp_path / "corpus", {"article.txt": text})
    build_index([corpus], index_dir=tmp_path / "index", embedder=embedder)
    retriever = Retriever.load(tmp_path / "index", embedder=embedder)
    try:
        answerer = Answerer(retriever, config=AnswerConfig(**config))
        return [answerer.ask(q) for q in questions]
    finally:
        retriever.store.close()


def test_a_who_question_answered_by_a_one_word_name_is_not_refused(tmp_path):
    """"Who vetoed Sweden's bid?" is answered by "Hungary": a one-word name gives what a
    "who" question asks (the issue's example), though only a full name is bolded as a person."""
    answer, = _ask_one_article(tmp_path, (
        "The alliance vote\n\nFor months the parliament of Hungary vetoed the bid of Sweden to "
        "join the alliance, and the vote waited.\n"), ["Who vetoed the bid of Sweden?"])
    assert not answer.refused, answer.notes
    assert "Hungary" in answer.citations[0].quote and answer.focus is None


def test_a_figure_in_another_unit_does_not_answer(tmp_path):
    """Issue 13: "How large is NATO's annual common budget in euros?" was answered with a count
    of countries; a figure in another unit, or none, gives no answer in euros."""
    text = ("The alliance budget\n\nThe alliance budget grew by 12 percent this year, and the "
            "alliance budget now pays for 9 new projects in 2 countries.\n")
    euros, percent = _ask_one_article(tmp_path, text, [
        "How large is the alliance budget in euros?",
        "What percentage did the alliance budget grow by?"])
    assert euros.refused and euros.notes == ("no close sentence gives a figure in euros",)
    assert not percent.refused and percent.focus == "12 percent"


def test_a_question_about_an_outcome_the_source_says_is_not_known_is_refused(tmp_path):
    """Issue 13: "Who won the 2024 US presidential election?" was answered from "allies wait to
    see if Trump will win": the closest source says the outcome is not known yet."""
    won, will = _ask_one_article(tmp_path, (
        "The election\n\nAllies wait to see if Donald Trump will win the presidential election "
        "in November.\n"), ["Who won the presidential election?",
                             "Will Donald Trump win the presidential election?"],
        threshold=0.0, typed_window=0)
    assert won.refused and won.notes == ("the closest source says this is not known yet",)
    assert not will.refused, will.notes
