"""Markdown is read by a Markdown parser: headings and front matter are the title or metadata,
never content, and offsets stay offsets into the file's own text (issue 14, point 6)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.reading import chunk_document, read_documents
from rag.reading.ingest import Document, make_document
from rag.reading.markdown import read_markdown

OPENING = ("The Eldermoor public library opened on Monday after ten years of planning and two "
           "years of building work.")
FLOORS = ("It has three floors and 40,000 books, said the head librarian\nMira Holt, who "
          "thanked the builders at the opening.")
WAIT = ("Residents had asked for a library since the old one closed in 2012, and the council "
        "agreed to pay for it in 2015.")
ARTICLE = f"""# Eldermoor opens **new** library

{OPENING}
{FLOORS}

![The reading room on the first floor](reading-room.jpg)

## A long wait for the town

{WAIT}

<div class="promo">Eldermoor Courier</div>

Opening hours
-------------

The library is open from nine to five on weekdays, and from ten to four on Saturdays.
"""
HEADINGS = ("Eldermoor opens", "A long wait for the town", "Opening hours", "-----")


def _read(tmp_path: Path, text: str, name: str = "library.md") -> Document:
    (tmp_path / name).write_text(text, encoding="utf-8")
    [doc] = read_documents([tmp_path / name])
    return doc


def _content(doc: Document) -> str:
    return "\n".join(doc.text[a:b] for a, b in doc.spans)


def test_headings_are_the_title_and_never_content(tmp_path):
    doc = _read(tmp_path, ARTICLE)
    assert doc.title == "Eldermoor opens new library"
    content = _content(doc)
    for heading in HEADINGS:
        assert heading not in content
    for chunk in chunk_document(doc):
        assert "#" not in chunk.text
        assert not any(h in chunk.text for h in HEADINGS)


def test_the_text_is_the_file_text_and_every_chunk_stands_at_its_offsets(tmp_path):
    doc = _read(tmp_path, ARTICLE)
    assert doc.text == Path(doc.source).read_text(encoding="utf-8")
    for chunk in chunk_document(doc):
        assert Path(doc.source).read_text(encoding="utf-8")[chunk.start:chunk.end] == chunk.text


def test_paragraphs_lists_and_closing_text_are_content(tmp_path):
    content = _content(_read(tmp_path, ARTICLE))
    for sentence in (OPENING, FLOORS, WAIT, "open from nine to five on weekdays"):
        assert sentence in content


def test_images_and_raw_html_are_not_content(tmp_path):
    content = _content(_read(tmp_path, ARTICLE))
    assert "reading-room.jpg" not in content
    assert "Eldermoor Courier" not in content


def test_front_matter_gives_title_and_date_and_is_not_content(tmp_path):
    text = ("---\ntitle: \"Library opens in Eldermoor\"\ndate: 2025-04-02\ntags: [towns]\n---\n\n"
            f"{OPENING}\n\n{WAIT}\n")
    doc = _read(tmp_path, text)
    assert (doc.title, doc.date) == ("Library opens in Eldermoor", "2025-04-02")
    assert "tags" not in _content(doc)
    assert OPENING in _content(doc)


def test_toml_front_matter_and_a_date_line_under_the_heading(tmp_path):
    toml = _read(tmp_path, f"+++\ntitle = \"Library\"\ndate = 2024-03-05\n+++\n\n{OPENING}\n",
                 "a.md")
    assert (toml.title, toml.date) == ("Library", "2024-03-05")
    dated = _read(tmp_path, f"# Eldermoor opens\n\n*Published 2025-04-02*\n\n{OPENING}\n", "b.md")
    assert dated.date == "2025-04-02"
    assert "Published" not in _content(dated)


def test_without_a_level_one_heading_the_first_heading_is_the_title(tmp_path):
    doc = _read(tmp_path, f"## Library news\n\n{OPENING}\n")
    assert doc.title == "Library news"
    assert "Library news" not in _content(doc)


def test_a_file_that_is_not_front_matter_is_read_as_markdown(tmp_path):
    """A thematic break first, then text: no YAML block, nothing lost."""
    doc = _read(tmp_path, f"---\n\n{OPENING}\n\n{WAIT}\n")
    assert OPENING in _content(doc) and WAIT in _content(doc)


@pytest.mark.parametrize("text", ["", "#", "# Only a heading\n", "---\ntitle: x\n---\n",
                                  "* * *\n", "<div>html only</div>\n", "😀 emoji\n"])
def test_edge_inputs_give_units_inside_the_text(text):
    layout = read_markdown(text)
    for a, b in layout.units:
        assert 0 <= a < b <= len(text)
        assert text[a:b].strip() == text[a:b]


def test_markup_must_be_known():
    with pytest.raises(ValueError, match="markdown"):
        make_document("x", id="a", source="a.md", markup="rst")
