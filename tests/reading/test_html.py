"""HTML pages are read by trafilatura, a main-text extractor made for news pages: the article's
paragraphs stay, the page around them goes, and the title and date come from the page's
metadata (issue 14, point 6). The page below is made up; its furniture sits in plain `div`s,
where the earlier block rules (BeautifulSoup, then the line rules) kept it."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.reading import chunk_document, read_documents
from rag.reading.html import read_html

PARAGRAPHS = [
    ("The city council voted on Tuesday to approve the construction of a new bridge across the "
    "harbour, ending a decade of argument about traffic and ferries."),
    ("Construction will begin next spring and is expected to take four years, according to the "
    "city engineer, who presented the final design to councillors."),
    ("The bridge will carry two lanes of traffic, a cycle path and a footpath, and will open to "
    "ships twice an hour, the engineer said."),
    ("Ferry operators, who had opposed the plan, said they would ask the council to phase out "
    "the crossing slowly so that no crew loses work before the bridge opens."),
]
TEASERS = [
    "Mayor unveils plan for car-free city centre by the end of the decade",
    "Harbour seals return to the old docks for the first time in forty years",
    "Local school wins national robotics prize with a rescue drone",
]
PAGE = f"""<!doctype html>
<html lang="en"><head>
<title>Harbour bridge approved | The Harbour Post</title>
<meta property="og:title" content="Council approves new harbour bridge">
<meta property="article:published_time" content="2024-03-05T10:00:00Z">
</head><body>
<div class="top-bar"><div class="menu"><a href="/">Home</a> <a href="/city">City news</a>
<a href="/sport">Sport and leisure in the harbour towns</a></div></div>
<div class="page"><div class="main">
<article>
<h1>Council approves new harbour bridge</h1>
<div class="byline">By Jane Doe, city reporter</div>
{"".join(f"<p>{p}</p>" for p in PARAGRAPHS)}
</article>
<div class="most-read"><h3>Most read this week in the harbour towns</h3><ul>
{"".join(f'<li><a href="/story/{n}">{t}</a></li>' for n, t in enumerate(TEASERS))}
</ul></div>
<div class="comments"><h3>Comments</h3>
<div class="comment">Finally! I have waited twenty years for this bridge, said one reader.</div>
</div>
</div></div>
<div class="site-footer">The Harbour Post, 12 Quay Street, Harbourtown. Registered in England.
</div>
</body></html>"""


@pytest.fixture
def page_doc(tmp_path: Path):
    (tmp_path / "bridge.html").write_text(PAGE, encoding="utf-8")
    [doc] = read_documents([tmp_path / "bridge.html"])
    return doc


def test_the_article_paragraphs_are_kept(page_doc):
    content = "\n".join(page_doc.text[a:b] for a, b in page_doc.spans)
    for paragraph in PARAGRAPHS:
        assert paragraph in content


def test_the_page_around_the_article_is_left_out(page_doc):
    chunks = "\n".join(c.text for c in chunk_document(page_doc))
    for furniture in [*TEASERS, "Most read this week", "waited twenty years", "12 Quay Street",
                      "Sport and leisure"]:
        assert furniture not in chunks


def test_title_and_date_come_from_the_page_metadata(page_doc):
    assert page_doc.title == "Council approves new harbour bridge"
    assert page_doc.date == "2024-03-05"


def test_offsets_point_into_the_extracted_text(page_doc):
    """An HTML document's text is the extracted text, one block a paragraph."""
    assert "<" not in page_doc.text
    for chunk in chunk_document(page_doc):
        assert page_doc.text[chunk.start:chunk.end] == chunk.text
    assert "\n\n".join(PARAGRAPHS) in page_doc.text


@pytest.mark.parametrize(("markup", "text"), [
    ("", ""), ("<html></html>", ""), ("<p>Short.</p>", "Short."),
    ("not html at all", "not html at all"),
    ("<html><body><div><span>x</span></div></body></html>", "x"),
])
def test_odd_markup_gives_its_text_never_an_error(markup, text):
    assert read_html(markup).text == text
