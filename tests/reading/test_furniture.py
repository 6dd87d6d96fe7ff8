"""Page furniture stays out of content spans; article prose stays in.

The seeds' own furniture is checked first, then furniture the seeds do not contain, so the
rule is shown to be general rather than a list of the seeds' strings.
"""

from __future__ import annotations

import pytest

from rag.reading import chunk_document
from rag.reading.furniture import content_spans, find_title, is_furniture, is_prose
from rag.reading.ingest import Document, make_document, normalize, read_documents


def _overlaps(doc: Document, start: int, end: int) -> bool:
    return any(start < b and a < end for a, b in doc.spans)


def _inside(doc: Document, start: int, end: int) -> bool:
    return any(a <= start and end <= b for a, b in doc.spans)


def _line_ranges(text: str) -> list[tuple[int, int]]:
    out, pos = [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        out.append((pos, pos + len(body)))
        pos += len(line)
    return out


def _lines_matching(doc: Document, needle: str) -> list[tuple[int, int]]:
    """Ranges of the lines of doc.text whose normalized text contains normalized `needle`."""
    key = normalize(needle)
    return [(a, b) for a, b in _line_ranges(doc.text) if key in normalize(doc.text[a:b])]


@pytest.fixture(scope="module")
def seed_docs() -> dict[str, Document]:
    from conftest import SEEDS

    return {d.id[:3]: d for d in read_documents([SEEDS])}


SEED_FURNITURE = [
    ("001", "Share this articleComments"),
    ("001", "Copy/paste the article video embed link below:"),
    ("003", "Accessibility links"),
    ("002", "Pinterest LinkedIn Tumblr"),
    ("001", "You might also like"),
    ("001", "Copyright Geert Vanden Wijngaert/Copyright 2024 The AP. All rights reserved"),
    ("003", "16x9 Image"),
    ("001", "By Maria PsaraMared Gwyn Jones"),
    # the related-link headlines after "You might also like"
    ("001", "Swedish PM hails country's accession to NATO as a 'historic day'"),
    ("001", "What is stalling Sweden’s accession to NATO?"),
    ("001", "EU Parliament 'ready' for requests to lift MEPs' immunity in Russian influence probe"),
]


@pytest.mark.parametrize("seed, furniture", SEED_FURNITURE)
def test_seed_furniture_is_outside_every_content_span(seed_docs, seed, furniture):
    doc = seed_docs[seed]
    lines = _lines_matching(doc, furniture)
    assert lines, f"{furniture!r} not found in seed {seed}"
    for a, b in lines:
        assert not _overlaps(doc, a, b), f"{doc.text[a:b]!r} is inside a content span"


@pytest.mark.parametrize("seed, prose", [
    ("000", "Stoltenberg is set to hand over the reins at the Western military alliance"),
    ("001", "NATO Secretary-General Jens Stoltenberg is \"confident\" the US will stay committed"),
    ("001", "Stoltenberg has previously said there are no plans to send military troops"),
    ("002", "NATO chief Jens Stoltenberg has hit back against"),
    ("003", "NATO Secretary-General Jens Stoltenberg has said the West is facing"),
    ("004", "To address these concerns, several European nations"),
])
def test_seed_prose_is_inside_a_content_span(seed_docs, seed, prose):
    doc = seed_docs[seed]
    at = doc.text.find(prose)
    assert at >= 0
    assert _inside(doc, at, at + len(prose))


# --- furniture the seeds do not contain -------------------------------------------------

HEADLINE = "Council approves new harbour bridge after decade of debate"
PROSE = [
    ("The city council voted on Tuesday to approve the construction of a new bridge across "
     "the harbour, ending a decade of argument about traffic and ferries."),
    ("Construction will begin next spring and is expected to take four years, according to "
     "the city engineer, who presented the final design to councillors."),
    ("Residents who live near the old ferry terminal said they hoped the bridge would cut "
     "their daily commute to the centre in half."),
]

FURNITURE = {
    "follow": ["Follow us on Facebook"],
    "advert": ["Advertisement"],
    "skip": ["Skip to main content"],
    "photo credit": ["Photo: Jane Doe/Reuters"],
    "newsletter": ["Sign up for our newsletter"],
    "image credit": ["Image credit: AFP"],
    "social bar": ["Twitter WhatsApp Email"],
    "print": ["Print this page"],
    "byline": ["By John Smith and Mary Jones"],
    "caption twice": ["The mayor at the harbour on Monday morning",
                      "The mayor at the harbour on Monday morning"],
}


def _article(parts: list[str]) -> str:
    return "\n\n".join(parts) + "\n"


def _check(text: str, furniture: list[str], prose: list[str]) -> None:
    doc = make_document(text, id="synthetic", source="synthetic.txt")
    at = 0
    for line in furniture:
        at = text.index(line, at)
        assert not _overlaps(doc, at, at + len(line)), f"{line!r} is inside a content span"
        at += len(line)
    for line in prose:
        at = text.index(line)
        if line == HEADLINE:  # the title: metadata, never an answer sentence
            assert doc.title == HEADLINE
            assert not _overlaps(doc, at, at + len(line)), "the headline is inside a content span"
            continue
        assert _inside(doc, at, at + len(line)), f"{line[:40]!r}... is not inside a content span"


@pytest.mark.parametrize("kind", sorted(FURNITURE))
@pytest.mark.parametrize("where", ["after the headline", "between paragraphs", "at the end"])
def test_furniture_the_seeds_lack_is_outside_spans_and_prose_inside(kind, where):
    lines = FURNITURE[kind]
    if where == "after the headline":
        parts = [HEADLINE, *lines, *PROSE]
    elif where == "between paragraphs":
        parts = [HEADLINE, PROSE[0], *lines, *PROSE[1:]]
    else:
        parts = [HEADLINE, *PROSE, *lines]
    _check(_article(parts), lines, [HEADLINE, *PROSE])


LINK_HEADLINES = [
    "Why the old ferry terminal will close for good next year?",
    "Mayor promises cheaper parking in the city centre",
    "Five things we learned from the harbour budget debate.",
]


@pytest.mark.parametrize("cue", ["Read more", "Related articles", "Most read", "See also"])
def test_end_cue_drops_the_link_headlines_after_it(cue):
    text = _article([HEADLINE, *PROSE, cue, *LINK_HEADLINES])
    _check(text, [cue, *LINK_HEADLINES], [HEADLINE, *PROSE])


def test_end_cue_as_the_first_line_does_not_drop_the_article():
    text = _article(["Read more", HEADLINE, *PROSE])
    _check(text, [], PROSE)


def test_hard_wrapped_paragraphs_keep_every_line():
    """Text wrapped at ~70 columns (.md files, PDF extraction) loses none of its lines,
    even wrapped lines that happen to hold a furniture word such as 'share' or 'photo'."""
    wrapped = (
        "The city council voted on Tuesday to approve the construction of a\n"
        "new bridge across the harbour, ending a decade of argument about\n"
        "traffic and ferries. The mayor said the city would share the cost\n"
        "with the regional government and that the photo exhibition about\n"
        "the old ferries would stay open until the end of the year.\n"
    )
    text = HEADLINE + "\n\n" + wrapped + "\n" + PROSE[1] + "\n"
    _check(text, [], [HEADLINE, *wrapped.splitlines(), PROSE[1]])


def test_article_in_a_script_without_spaces_keeps_its_prose():
    body = ("北约秘书长斯托尔滕贝格周四在布鲁塞尔发表告别演讲，警告美国和欧洲不要奉行孤立主义。"
            "他说，盟国必须继续增加国防开支，并在乌克兰问题上保持团结。"
            "荷兰前首相吕特将于十月一日接任北约秘书长一职。")
    text = "北约秘书长发表告别演讲\n\n" + body + "\n"
    _check(text, [], [body])


def test_a_leading_date_line_is_not_content_and_the_headline_after_it_is_the_title():
    text = " date 2024-05-01 " + HEADLINE + "\n\n" + _article(PROSE)
    doc = make_document(text, id="d", source="d.txt")
    assert doc.date == "2024-05-01"
    assert doc.title == HEADLINE
    assert not _overlaps(doc, 0, text.index(HEADLINE))
    _check(text, [], [HEADLINE, *PROSE])


@pytest.mark.parametrize("line, expected", [
    ("Share this article", True),
    ("Copyright 2024 Example News. All rights reserved", True),
    ("By Jane Doe", True),
    ("* * *", True),
    ("----", True),
    ("Getty Images", True),
    ("The minister shared her plans with reporters in a long press conference on Monday.", False),
    ("Officials said the image of the city had improved over the past decade and a half.", False),
])
def test_is_furniture_known_answers(line, expected):
    assert is_furniture(line) is expected


@pytest.mark.parametrize("line, expected", [
    ("The council voted on Tuesday to approve the bridge.", True),
    ("Council approves new harbour bridge", False),
    ("Why the old ferry terminal will close?", True),
    (" ".join(["word"] * 30), True),
])
def test_is_prose_known_answers(line, expected):
    assert is_prose(line) is expected


def test_content_spans_known_answer():
    text = "Headline here\n\nShare this article\n\nThe first paragraph has a sentence that ends.\n"
    a = text.index("The first")
    assert content_spans(text) == ((0, len("Headline here")), (a, len(text) - 1))


def test_content_spans_on_text_without_content_is_empty():
    assert content_spans("") == ()
    assert content_spans("\n\n  \n") == ()
    assert content_spans("Share this article\n16x9 Image\n") == ()


def test_find_title_shortens_a_long_first_line_at_a_word_boundary():
    line = "word " * 40
    text = line.strip() + ".\n"
    title = find_title(text, ((0, len(text) - 1),), limit=30)
    assert title.endswith("…")
    assert len(title) <= 31
    assert title[:-1] == title[:-1].rstrip()
    assert text.startswith(title[:-1])


# --- a plain-text headline is the title (issue 14, point 6: never an answer sentence) ---------

def test_a_plain_text_headline_is_the_title_and_never_in_a_chunk():
    doc = make_document(_article([HEADLINE, *PROSE]), id="h", source="h.txt")
    assert doc.title == HEADLINE
    assert all(HEADLINE not in c.text for c in chunk_document(doc))


def test_a_short_first_sentence_is_content_not_a_headline():
    first = "The council met on Tuesday."
    doc = make_document(_article([first, *PROSE]), id="s", source="s.txt")
    assert _inside(doc, 0, len(first))


def test_a_page_that_is_only_a_headline_keeps_it_as_content():
    doc = make_document(HEADLINE + "\n", id="o", source="o.txt")
    assert doc.spans == ((0, len(HEADLINE)),)


def test_the_seed_headlines_are_titles_not_chunks(seed_docs):
    for doc in seed_docs.values():
        assert all(not c.text.startswith(doc.title) for c in chunk_document(doc)), doc.id
