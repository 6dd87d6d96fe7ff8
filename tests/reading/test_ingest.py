"""Reading files and folders into Documents: formats, dates, titles, bad input."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from rag.errors import InputError, NoDocumentsError
from rag.reading.ingest import (
    Document,
    IngestWarning,
    content_hash,
    make_document,
    normalize,
    read_documents,
)

PARAGRAPH = (
    "The city council voted on Tuesday to approve the construction of a new bridge across the "
    "harbour, ending a decade of argument about traffic and ferries."
)
SECOND = (
    "Construction will begin next spring and is expected to take four years, according to "
    "the city engineer, who presented the final design to councillors."
)


def _article(title: str = "Council approves new harbour bridge") -> str:
    return f"{title}\n\n{PARAGRAPH}\n\n{SECOND}\n"


def _read_quietly(paths) -> list[Document]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IngestWarning)
        return read_documents(paths)


# --- the seeds ---------------------------------------------------------------------------

def test_seeds_give_five_documents(seeds_dir):
    docs = read_documents([seeds_dir])
    assert sorted(d.id for d in docs) == sorted(p.stem for p in seeds_dir.glob("*.txt"))
    assert len(docs) == 5
    assert len({d.hash for d in docs}) == 5


def test_seed_dates_come_from_the_leading_date_line(seeds_dir):
    docs = {d.id[:3]: d for d in read_documents([seeds_dir])}
    assert docs["000"].date == "2024-09-19"
    assert docs["004"].date == "2025-03-26"
    assert docs["001"].date is None
    assert not docs["000"].title.startswith("date")


def test_seed_titles_are_their_headlines(seeds_dir):
    docs = {d.id[:3]: d for d in read_documents([seeds_dir])}
    assert docs["001"].title == (
        "Stoltenberg 'confident' US will remain a committed NATO ally after presidential election"
    )
    assert docs["003"].title == "NATO Chief Warns Against 'Going It Alone'"


def test_txt_document_text_is_the_file_text_unchanged(seeds_dir):
    for doc in read_documents([seeds_dir]):
        assert doc.text == Path(doc.source).read_text(encoding="utf-8")
        assert Path(doc.source).parent == seeds_dir


def test_md_document_text_is_unchanged_and_title_drops_the_hashes(tmp_path):
    text = "# Council approves new harbour bridge\n\n" + PARAGRAPH + "\n\n*" + SECOND + "*\n"
    (tmp_path / "bridge.md").write_text(text, encoding="utf-8")
    [doc] = read_documents([tmp_path / "bridge.md"])
    assert doc.text == text
    assert doc.title == "Council approves new harbour bridge"
    assert doc.id == "bridge"
    assert doc.source == str(tmp_path / "bridge.md")


def test_make_document_known_answer():
    doc = make_document(" date 2024-09-19 " + _article(), id="a", source="a.txt")
    assert doc.date == "2024-09-19"
    assert doc.title == "Council approves new harbour bridge"
    assert doc.hash == content_hash(_article())
    assert doc.text.startswith(" date 2024-09-19 ")


def test_explicit_date_and_title_win_over_the_text():
    doc = make_document(" date 2024-09-19 " + _article(), id="a", source="a.txt",
                        title="Given title", date="2020-01-01")
    assert (doc.title, doc.date) == ("Given title", "2020-01-01")


def test_normalize_folds_nfkc_no_break_spaces_whitespace_and_case():
    assert normalize("The\u00a0ﬁrst  Line\n\tHERE ") == "the first line here"


# --- HTML, PDF, JSONL --------------------------------------------------------------------

def test_html_uses_an_extractor_headline_and_drops_scripts_and_navigation(tmp_path):
    page = f"""<!doctype html>
<html><head><title>Harbour bridge approved | City News</title>
<script>var tracker = "SCRIPT_SECRET_TOKEN";</script>
<style>.x {{ color: red }}</style></head>
<body>
<nav><ul><li>Home</li><li>NAVIGATION_LINK_TEXT</li></ul></nav>
<article>
<h1>Council approves new harbour bridge</h1>
<p>{PARAGRAPH}</p>
<p>{SECOND}</p>
</article>
<footer>FOOTER_TEXT about us</footer>
<script>document.write("ANOTHER_SCRIPT")</script>
</body></html>"""
    (tmp_path / "page.html").write_text(page, encoding="utf-8")
    [doc] = read_documents([tmp_path / "page.html"])
    assert doc.title == "Council approves new harbour bridge"  # the headline, not <title>
    for hidden in ("SCRIPT_SECRET_TOKEN", "NAVIGATION_LINK_TEXT", "FOOTER_TEXT", "ANOTHER_SCRIPT",
                   "<p>", "color: red"):
        assert hidden not in doc.text
    for para in (PARAGRAPH, SECOND):
        at = doc.text.index(para)
        assert any(a <= at and at + len(para) <= b for a, b in doc.spans)


def test_html_inline_tags_add_no_spaces_before_punctuation(tmp_path):
    """<b>, <a>, <em> inside a paragraph leave its text as the reader sees it."""
    marked = SECOND.replace("four years", 'four <b>years</b>').replace(
        "city engineer", '<a href="/x">city engineer</a>')
    (tmp_path / "page.html").write_text(
        f"<html><body><h1>Bridge</h1><p>{PARAGRAPH}</p><p>{marked}</p></body></html>",
        encoding="utf-8")
    [doc] = read_documents([tmp_path / "page.html"])
    assert SECOND in doc.text


def test_htm_suffix_is_read_as_html(tmp_path):
    (tmp_path / "page.htm").write_text(
        f"<html><body><h1>Bridge</h1><p>{PARAGRAPH}</p></body></html>", encoding="utf-8")
    [doc] = read_documents([tmp_path])
    assert PARAGRAPH in doc.text
    assert "<" not in doc.text


def _make_pdf(path: Path, paragraphs: list[str]) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    for para in paragraphs:
        pdf.multi_cell(0, 8, para)
        pdf.ln(4)
    pdf.output(str(path))


def test_pdf_text_is_extracted_with_a_real_parser(tmp_path):
    paras = ["Council approves new harbour bridge", "The council voted on Tuesday.",
             "Construction begins in spring."]
    _make_pdf(tmp_path / "bridge.pdf", paras)
    [doc] = read_documents([tmp_path / "bridge.pdf"])
    assert doc.id == "bridge"
    assert doc.title == "Council approves new harbour bridge"
    for para in paras:
        assert para in doc.text


def test_pdf_wrapped_paragraph_is_kept_whole(tmp_path):
    """PDF text comes out one visual line at a time; no line of the article is lost."""
    long_para = PARAGRAPH + " " + SECOND
    _make_pdf(tmp_path / "bridge.pdf", ["Council approves new harbour bridge", long_para])
    [doc] = read_documents([tmp_path / "bridge.pdf"])
    words = long_para.split()
    covered = " ".join(doc.text[a:b] for a, b in doc.spans).split()
    assert [w for w in words if w not in covered] == []


def test_damaged_pdf_is_skipped_with_a_warning(tmp_path):
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    (tmp_path / "good.txt").write_text(_article(), encoding="utf-8")
    with pytest.warns(IngestWarning, match="broken.pdf"):
        docs = read_documents([tmp_path])
    assert [d.id for d in docs] == ["good"]


def test_jsonl_records_become_documents_and_a_bad_line_is_skipped(tmp_path):
    records = [
        {"id": "n1", "title": "Bridge approved", "date": "2024-01-02", "url": "https://x.test/1",
         "text": _article()},
        {"text": _article("Bakery revives sourdough").replace("bridge", "bakery")},
    ]
    lines = [json.dumps(records[0]), "{not json at all", "", json.dumps(records[1]),
             json.dumps({"id": "no-text"})]
    file = tmp_path / "news.jsonl"
    file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.warns(IngestWarning) as caught:
        docs = read_documents([file])
    messages = [str(w.message) for w in caught if issubclass(w.category, IngestWarning)]
    assert any(f"{file}:2" in m for m in messages)
    assert any(f"{file}:5" in m for m in messages)
    first, second = docs
    assert (first.id, first.title, first.date, first.url) == (
        "n1", "Bridge approved", "2024-01-02", "https://x.test/1")
    assert first.text == records[0]["text"]
    assert first.source == str(file)
    assert second.id == "news-4"
    assert second.title == "Bakery revives sourdough"


# --- bad input ---------------------------------------------------------------------------

BAD_FILES = {
    "empty.txt": b"",
    "blank.txt": b"  \n\t\n   \n",
    "binary.txt": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)),
    "latin1.txt": ("Caf\u00e9 au lait, se\u00f1or. " + PARAGRAPH).encode("latin-1"),
    "furniture.txt": b"Share this article\nAdvertisement\n16x9 Image\n",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_is_skipped_with_a_warning_naming_it_and_the_rest_is_indexed(tmp_path, name):
    (tmp_path / name).write_bytes(BAD_FILES[name])
    (tmp_path / "good.txt").write_text(_article(), encoding="utf-8")
    with pytest.warns(IngestWarning) as caught:
        docs = read_documents([tmp_path])
    assert [d.id for d in docs] == ["good"]
    assert any(name in str(w.message) for w in caught)


def test_unsupported_suffix_named_explicitly_is_skipped_with_a_warning(tmp_path):
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04 not a text file")
    (tmp_path / "good.txt").write_text(_article(), encoding="utf-8")
    with pytest.warns(IngestWarning, match="notes.docx"):
        docs = read_documents([tmp_path / "notes.docx", tmp_path / "good.txt"])
    assert [d.id for d in docs] == ["good"]


def test_folder_ignores_unsupported_and_hidden_files(tmp_path):
    (tmp_path / "image.png").write_bytes(b"\x89PNG\x00")
    (tmp_path / ".hidden.txt").write_text(_article("Hidden"), encoding="utf-8")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "good.TXT").write_text(_article(), encoding="utf-8")
    docs = read_documents([tmp_path])
    assert [d.id for d in docs] == ["good"]


def test_missing_path_raises_input_error_naming_it(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(InputError, match="nope"):
        read_documents([missing])


def test_no_paths_raises_input_error():
    with pytest.raises(InputError):
        read_documents([])


def test_empty_folder_raises_no_documents_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoDocumentsError, match="empty"):
        _read_quietly([tmp_path / "empty"])


def test_folder_of_only_bad_files_raises_no_documents_error(tmp_path):
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02")
    with pytest.raises(NoDocumentsError):
        _read_quietly([tmp_path])


@pytest.mark.parametrize("variant", [
    lambda t: t.upper(),
    lambda t: "  " + t.replace(" ", "   ").replace("\n\n", "\n \n\n") + "\n\n",
    lambda t: t.replace(" ", "\u00a0").replace("fi", "\ufb01"),
])
def test_same_normalized_text_is_indexed_once(tmp_path, variant):
    (tmp_path / "a.txt").write_text(_article(), encoding="utf-8")
    (tmp_path / "b.txt").write_text(variant(_article()), encoding="utf-8")
    with pytest.warns(IngestWarning, match="b.txt"):
        docs = read_documents([tmp_path])
    assert [d.id for d in docs] == ["a"]


def test_same_file_given_twice_is_indexed_once(tmp_path):
    (tmp_path / "a.txt").write_text(_article(), encoding="utf-8")
    docs = _read_quietly([tmp_path / "a.txt", tmp_path])
    assert [d.id for d in docs] == ["a"]


def test_same_stem_in_two_folders_gets_distinct_ids(tmp_path):
    for folder, title in (("x", "Bridge approved"), ("y", "Bakery opens")):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "story.txt").write_text(
            _article(title).replace("harbour", folder + "-harbour"), encoding="utf-8")
    docs = read_documents([tmp_path])
    assert len(docs) == 2
    assert len({d.id for d in docs}) == 2
    assert {Path(d.source).parent.name for d in docs} == {"x", "y"}


# --- JSONL fields of the wrong type (issue 12, point 7) -----------------------------------

WRONG_FIELDS = {
    "title a number": {"id": "a", "title": 123},
    "date a list": {"id": "a", "date": [2024]},
    "url a number": {"id": "a", "url": 5},
    "text a list": {"id": "a", "text": ["not", "a", "string"]},
    "text a number": {"id": "a", "text": 42},
    "id an object": {"id": {"x": 1}},
    "id a list": {"id": ["a"]},
    "id true": {"id": True},
    "record a list": [1, 2],
    "record a string": "text",
}


@pytest.mark.parametrize("case", sorted(WRONG_FIELDS))
def test_a_jsonl_field_of_the_wrong_type_is_one_warning_and_the_rest_is_read(tmp_path, case):
    bad = WRONG_FIELDS[case]
    if isinstance(bad, dict):
        bad = {"text": _article("Bakery revives sourdough").replace("bridge", "bakery"), **bad}
    good = {"id": "good", "title": "Bridge approved", "date": "2024-01-02", "text": _article()}
    file = tmp_path / "news.jsonl"
    file.write_text(f"{json.dumps(bad)}\n{json.dumps(good)}\n", encoding="utf-8")
    (tmp_path / "other.txt").write_text(_article("Chess final").replace("bridge", "chess"),
                                        encoding="utf-8")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        docs = read_documents([tmp_path])
    notes = [str(w.message) for w in caught]
    assert len(notes) == 1 and notes[0].startswith(f"skipped {file}:1: "), notes
    assert sorted(d.id for d in docs) == ["good", "other"]


def test_a_whole_number_id_is_read_as_text(tmp_path):
    file = tmp_path / "news.jsonl"
    file.write_text(json.dumps({"id": 17, "text": _article()}) + "\n", encoding="utf-8")
    assert [d.id for d in read_documents([file])] == ["17"]
