"""A date line near the top, in any common form, is the article's date and not its content
(issue 14, point 6); dates in the story itself are never taken."""

from __future__ import annotations

import pytest

from rag.reading.dates import date_line, parse_date
from rag.reading.ingest import make_document

HEADLINE = "Council approves new harbour bridge"
PARAGRAPH = ("The city council voted on Tuesday to approve the construction of a new bridge "
             "across the harbour, ending a decade of argument about traffic and ferries.")

FORMS = {
    "Published 2025-04-02": "2025-04-02",
    "Updated March 3, 2024": "2024-03-03",
    "2024-09-19": "2024-09-19",
    "Posted on 3 March 2024": "2024-03-03",
    "Published: April 2, 2025 at 10:32 AM EDT": "2025-04-02",
    "Last updated on 2 April 2025": "2025-04-02",
    "Monday, March 3, 2024 10:15 a.m. EST": "2024-03-03",
    "Updated 14:05 GMT, 2 April 2025": "2025-04-02",
    "Date: 2024-09-19": "2024-09-19",
    "2024-09-19T10:00:00Z": "2024-09-19",
    "19.09.2024": "2024-09-19",
    "By Jane Doe | March 3, 2024": "2024-03-03",
    "Sept. 19th, 2024": "2024-09-19",
}


@pytest.mark.parametrize("line", sorted(FORMS))
def test_a_date_line_under_the_headline_is_the_date_and_not_content(line):
    text = f"{HEADLINE}\n{line}\n\n{PARAGRAPH}\n"
    doc = make_document(text, id="a", source="a.txt")
    assert doc.date == FORMS[line]
    at = text.index(line)
    assert not any(a < at + len(line) and at < b for a, b in doc.spans)
    assert any(doc.text[a:b] == PARAGRAPH for a, b in doc.spans)
    assert doc.title == HEADLINE


@pytest.mark.parametrize("line", ["Published 2025-04-02", "Updated March 3, 2024"])
def test_a_date_line_before_the_headline(line):
    doc = make_document(f"{line}\n\n{HEADLINE}\n\n{PARAGRAPH}\n", id="a", source="a.txt")
    assert (doc.date, doc.title) == (FORMS[line], HEADLINE)


def test_the_seed_form_gives_the_date_and_keeps_the_sentence_after_it():
    doc = make_document(f" date 2024-09-19 {PARAGRAPH}\n", id="a", source="a.txt")
    assert doc.date == "2024-09-19"
    assert [doc.text[a:b] for a, b in doc.spans] == [PARAGRAPH]


@pytest.mark.parametrize("text", [
    f"{HEADLINE}\n\nOn March 3, 2024, the council voted to build a bridge across the harbour.\n",
    f"{HEADLINE}\n\n{PARAGRAPH}\n\nPublished 2025-04-02\n",   # after the first prose: not "near the top"
    f"{HEADLINE}\n03/04/2024\n\n{PARAGRAPH}\n",              # March or April: no date
    f"{HEADLINE}\nFebruary 30, 2024\n\n{PARAGRAPH}\n",       # no such day
    f"{HEADLINE}\nThe 2024-09-19 summit\n\n{PARAGRAPH}\n",   # words beside the date
])
def test_no_date_is_taken_from_the_story_or_an_impossible_or_ambiguous_line(text):
    assert make_document(text, id="a", source="a.txt").date is None


def test_a_given_date_wins_over_the_date_line():
    doc = make_document(f"Published 2025-04-02\n\n{PARAGRAPH}\n", id="a", source="a.txt",
                        date="2020-01-01")
    assert doc.date == "2020-01-01"


def test_parse_and_date_line_known_answers():
    assert parse_date("Updated March 3, 2024") == "2024-03-03"
    assert parse_date("no date here") is None
    assert date_line("Posted on 3 March 2024") == ("2024-03-03", 22)
    assert date_line(" date 2024-09-19 The outgoing NATO chief") == ("2024-09-19", 17)
    assert date_line("NATO met on 2024-09-19 in Brussels") is None
