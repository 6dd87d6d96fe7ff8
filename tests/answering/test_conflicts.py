"""Sources that disagree: spot two figures for the same thing and lead with the newest source.

The candidates here are plain records with the fields `rag.answering.conflicts` reads (a passage,
the sentence text, its score and start offset): they are the unit's input, not a mock of it.
The end-to-end case (a real Answerer over two dated files) is in test_answer.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rag.answering.conflicts import Conflict, find, note, order
from rag.reading.ingest import Document
from rag.search.retrieve import Passage

FEB = "The alliance now includes 31 countries after Finland joined the bloc."
SEP = "This year 23 of NATO's 32 countries are expected to meet the target."


@dataclass(frozen=True)
class Cand:
    passage: Passage
    text: str
    score: float
    start: int = 0


def _passage(doc_id: str, date: str | None, title: str, rank: int = 1) -> Passage:
    return Passage(rank=rank, score=0.5, text="", doc_id=doc_id, title=title, date=date,
                   source=f"{doc_id}.txt", start=0, end=100, chunk_id=f"{doc_id}:0")


def _docs(**dates: str | None) -> dict[str, Document]:
    return {d: Document(id=d, title=d, text="", source=f"{d}.txt", date=date)
            for d, date in dates.items()}


FEB_C = Cand(_passage("feb", "2024-02-11", "NATO welcomes Finland", 2), FEB, 0.9, 10)
SEP_C = Cand(_passage("sep", "2024-09-19", "Allies raise spending", 1), SEP, 0.8, 20)
DOCS = _docs(feb="2024-02-11", sep="2024-09-19")


def test_find_spots_two_figures_for_the_same_thing():
    conflict = find([FEB_C], [FEB_C, SEP_C])
    assert conflict == Conflict(FEB_C, SEP_C, "country", "31", "32")


@pytest.mark.parametrize("rival", [
    Cand(_passage("sep", "2024-09-19", "t"), "The alliance includes 31 countries.", 0.9),
    Cand(_passage("sep", "2024-09-19", "t"), "The alliance has 32 warships in the Baltic.", 0.9),
    Cand(_passage("sep", "2024-09-19", "t"), "The alliance has many countries.", 0.9),
    Cand(_passage("feb", "2024-02-11", "t"), "A later paragraph says 32 countries.", 0.9),
    Cand(_passage("sep", "2024-09-19", "t"), SEP, 0.5),
], ids=["same-figure", "other-thing", "no-figure", "same-document", "weak-rival"])
def test_find_ignores_what_is_not_a_disagreement(rival):
    assert find([FEB_C], [FEB_C, rival]) is None


def test_find_with_no_candidates():
    assert find([], []) is None
    assert find([FEB_C], []) is None


def test_order_leads_with_the_most_recent_source():
    chosen, conflict = order([FEB_C], [FEB_C, SEP_C], DOCS)
    assert chosen == [SEP_C, FEB_C]
    assert conflict.lead is SEP_C and conflict.other is FEB_C
    assert (conflict.lead_figure, conflict.other_figure, conflict.thing) == ("32", "31", "country")


def test_order_keeps_the_newest_first_when_it_already_leads():
    chosen, conflict = order([SEP_C], [SEP_C, FEB_C], DOCS)
    assert chosen == [SEP_C, FEB_C]
    assert conflict.lead is SEP_C


def test_an_undated_source_counts_as_oldest():
    undated = Cand(_passage("old", None, "Undated"), "NATO had 30 countries.", 0.95)
    docs = {**DOCS, **_docs(old=None)}
    chosen, conflict = order([undated], [undated, FEB_C], docs)
    assert chosen[0] is FEB_C and conflict.other is undated


def test_order_keeps_at_most_one_other_chosen_sentence():
    extra = [Cand(_passage(f"x{i}", "2024-01-01", "x"), f"Unrelated sentence {i}.", 0.85)
             for i in range(3)]
    chosen, _ = order([FEB_C, *extra], [FEB_C, SEP_C, *extra], DOCS)
    assert chosen == [SEP_C, FEB_C, extra[0]]


def test_order_without_a_conflict_changes_nothing():
    chosen = [FEB_C]
    assert order(chosen, [FEB_C], DOCS) == (chosen, None)


def test_note_names_both_sources_their_dates_and_figures():
    _, conflict = order([FEB_C], [FEB_C, SEP_C], DOCS)
    text = note(conflict, {("sep", 20): 1, ("feb", 10): 2})
    assert text.startswith("Note: the sources disagree.")
    assert "2024-09-19" in text and "[1]" in text and "32" in text
    assert "\u201cNATO welcomes Finland\u201d" in text and "2024-02-11" in text
    assert "[2] gives 31" in text


def test_note_for_an_undated_source():
    undated = Cand(_passage("old", None, "Undated piece"), "NATO had 30 countries.", 0.95)
    _, conflict = order([undated], [undated, FEB_C], {**DOCS, **_docs(old=None)})
    text = note(conflict, {("feb", 10): 1, ("old", 0): 2})
    assert "(undated) [2] gives 30" in text


def test_note_counts_in_the_sources_own_words():
    """The note says "32 countries", as the source does, not the stem "32 country"."""
    _, conflict = order([FEB_C], [FEB_C, SEP_C], DOCS)
    text = note(conflict, {("sep", 20): 1, ("feb", 10): 2})
    assert "gives 32 countries" in text
