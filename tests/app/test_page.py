"""What the page offers and shows, checked without a browser: its wiring (`ui.app.build`), the
whole-article view, icons that need no emoji font, the note for a cut question, and where
feedback goes. The browser tests (`tests/browser`) check the same things as a reader sees them."""

from __future__ import annotations

import ast
import html
import re
import subprocess
import unicodedata
from pathlib import Path

import pytest
from conftest import write_corpus
from test_chat import ask, assert_safe, parse
from test_uploads import make_service

from rag.app.chat import SEED_EXAMPLES, ChatService, Conversation, default_feedback_path
from rag.app.render import article_text
from rag.indexing.build import build_index
from rag.reading.ingest import Document
from rag.search.retrieve import Retriever

ROOT = Path(__file__).resolve().parents[2]
gr = pytest.importorskip("gradio")


@pytest.fixture
def service(tmp_path, corpus, fake_embedder) -> ChatService:
    return make_service(tmp_path, corpus, fake_embedder)


def events(page) -> list:
    return list(page.fns.values())


def by_id(page, elem_id: str):
    return next(b for b in page.blocks.values() if getattr(b, "elem_id", None) == elem_id)


# --- wiring ------------------------------------------------------------------------------

def test_the_next_question_clears_the_feedback_message(service):
    from ui.app import build

    page = build(service)
    thanks = by_id(page, "vb-feedback")
    chat = next(e for e in events(page) if e.api_name == "chat")
    assert thanks in chat.outputs
    rows = list(chat.fn("When did the volcano erupt?", Conversation(), 5, "extractive", "", ""))
    assert all(row[chat.outputs.index(thanks)] == "" for row in rows)


def test_the_as_of_box_is_checked_and_read(service):
    from ui.app import build

    chat = next(e for e in events(build(service)) if e.api_name == "chat")
    with pytest.raises(gr.Error, match="YYYY-MM-DD"):
        list(chat.fn("When did the volcano erupt?", Conversation(), 5, "extractive", "", "May 5"))
    *_, last = chat.fn("When did the volcano erupt?", Conversation(), 5, "extractive", "",
                       " 1999-01-05 ")
    assert "no source here is dated from 1998-12-29" in last[0][-1]["content"]


def test_the_as_of_box_names_the_pages_day(service):
    from ui.app import build

    box = by_id(build(service), "vb-as-of")
    assert box.placeholder == "empty: today"
    service.as_of = "2023-06-30"
    box = by_id(build(service), "vb-as-of")
    assert box.placeholder == "empty: 2023-06-30" and "the page's day, 2023-06-30" in box.info


def test_no_remove_control_exists_unless_the_operator_allows_it(tmp_path, corpus, fake_embedder):
    from ui.app import build

    page = build(make_service(tmp_path, corpus, fake_embedder))
    elem_ids = {getattr(b, "elem_id", None) for b in page.blocks.values()}
    assert {"vb-docs", "vb-docs-table", "vb-docs-find"} <= elem_ids
    assert not {"vb-remove", "vb-remove-pick"} & elem_ids
    assert not any("remove" in (getattr(e.fn, "__name__", "") or "") for e in events(page))


def test_with_allow_remove_the_page_offers_removal_but_not_to_api_clients(tmp_path, corpus,
                                                                        fake_embedder):
    from ui.app import build

    page = build(make_service(tmp_path, corpus, fake_embedder, allow_remove=True))
    remove = next(e for e in events(page) if getattr(e.fn, "__name__", "") == "remove")
    assert by_id(page, "vb-remove-pick") in remove.inputs
    assert remove.api_visibility == "private"


def test_examples_show_their_whole_text_and_fill_the_question(tmp_path, fake_embedder):
    from ui.app import build

    seeds = ROOT / "seeds"
    build_index([seeds], index_dir=tmp_path / "index", embedder=fake_embedder)
    service = ChatService(Retriever.load(tmp_path / "index", embedder=fake_embedder),
                          feedback_path=tmp_path / "feedback.jsonl")
    page = build(service)
    buttons = [b for b in page.blocks.values() if "vb-example" in (b.elem_classes or [])]
    questions = [q for q, _ in SEED_EXAMPLES]
    assert sorted(b.value for b in buttons) == sorted(questions * 2)  # wide list + collapsed
    fills = [e for e in events(page) if e.js and by_id(page, "vb-question") in e.outputs]
    assert sorted(e.js for e in fills) == sorted(f"() => {__import__('json').dumps(q)}"
                                                 for q in questions * 2)


# --- the whole article -------------------------------------------------------------------

def test_the_article_view_dims_the_date_line_and_shows_the_date_as_metadata(tmp_path,
                                                                          fake_embedder):
    corpus = write_corpus(tmp_path / "c", {"seals.txt": (
        "Harbour seals return to the estuary sandbank\n\n date 2024-09-19\n\n"
        "Wardens counted forty harbour seals on the sandbank at low tide on Sunday.\n")})
    service = make_service(tmp_path, corpus, fake_embedder)
    _, panel, _ = ask(service, "How many harbour seals did the wardens count?")
    assert_safe(panel)
    article = panel[panel.index('<details class="vb-article">'):]
    text = article[article.index('<div class="vb-article-text">'):]
    assert text.startswith('<div class="vb-article-text"><span class="vb-furniture">Harbour seals '
                           "return to the estuary sandbank\n\n date 2024-09-19\n\n</span><mark")
    head = article[article.index('<p class="vb-article-head">'):article.index("</p>")]
    assert "2024-09-19" in head and "not part of the article" in head


@pytest.mark.parametrize("spans, marks", [
    ((), []), (((5, 20),), []), (((0, 4), (10, 30)), [(2, 12, None, None, 1)]),
    (((3, 8), (8, 12), (20, 40)), [(25, 35, 26, 27, 2), (0, 2, None, None, 0)])])
def test_dimming_never_changes_the_text_shown(spans, marks):
    text = "Héllo <b>&</b> world. " * 3
    doc = Document(id="d", title="t", text=text, source="d.txt", spans=spans)
    shown = article_text(doc, 0, len(text), marks)
    assert html.unescape("".join(parse(shown).text)) == text
    outside = re.findall(r'<span class="vb-furniture">', shown)
    assert bool(outside) == bool(spans)  # every case here leaves some text outside its spans


# --- icons that need no emoji font ----------------------------------------------------------

def _pictographic(ch: str) -> bool:
    """Characters that a machine without an emoji font may draw as an empty box."""
    cp = ord(ch)
    return (cp == 0xFE0F or 0x1F000 <= cp <= 0x1FAFF or 0x2300 <= cp <= 0x23FF
            or 0x2600 <= cp <= 0x27BF or 0x2B00 <= cp <= 0x2BFF
            or unicodedata.category(ch) == "So" and cp > 0x2100 and ch not in "©®™")


@pytest.mark.parametrize("path", sorted((ROOT / "rag" / "app").glob("*.py"))
                         + sorted((ROOT / "ui").glob("*.py")), ids=lambda p: p.name)
def test_nothing_the_page_shows_is_an_emoji(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = [(node.lineno, ch) for node in ast.walk(tree)
             if isinstance(node, ast.Constant) and isinstance(node.value, str)
             for ch in node.value if _pictographic(ch)]
    assert not found, f"{path.name}: emoji at lines {found}; use words, CSS or inline SVG"


def test_messages_of_a_whole_session_have_no_emoji(service, tmp_path):
    conv, panel, steps = ask(service, "How many submarines does Norway operate?")
    shown = [m["content"] for s, _ in steps for m in s.messages] + [panel]
    shown.append(service.feedback(conv, 1, True) + service.feedback(conv, 1, False))
    incoming = write_corpus(tmp_path / "gradio" / "x", {"a.txt": "Otters\n\nOtters swim.\n",
                                                        "b.exe": "MZ"})
    shown.append(service.add_files(sorted(incoming.iterdir()),
                                   received_in=tmp_path / "gradio").message)
    shown.append(service.remove(["a"]))
    assert "thumbs-up" in shown[-3] and "Indexed 1" in shown[-2]
    assert not [ch for text in shown for ch in text if _pictographic(ch)]


# --- a question cut to the model's length ----------------------------------------------------

def test_a_question_cut_to_the_model_s_length_gets_a_note_on_the_page(service):
    long = "When did the volcano erupt? " + " ".join(["lava"] * 400)
    with pytest.warns(UserWarning, match="longer than the model reads"):
        conv, _, _ = ask(service, long)
    with pytest.warns(UserWarning, match="longer than the model reads"):
        api = service.ask(long)
    answer = conv.answers[-1]
    assert answer.notes[0].startswith(f"Your question is {len(' '.join(long.split())):,} "
                                      "characters, longer than the model reads")
    assert "Note: Your question is" in conv.messages[-1]["content"]
    short, _, _ = ask(service, "When did the volcano erupt?")
    assert not any("longer than the model" in n for n in short.answers[-1].notes)
    assert api.notes[0].startswith("Your question is")


# --- feedback goes where git does not look ----------------------------------------------------

def test_feedback_and_candidate_files_are_ignored_by_git(monkeypatch):
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    monkeypatch.delenv("RAG_FEEDBACK", raising=False)
    paths = [default_feedback_path(), ROOT / "eval" / "sets" / "feedback-candidates.jsonl"]
    rel = [str(p.relative_to(ROOT)) for p in paths]
    done = subprocess.run(["git", "check-ignore", "--no-index", *rel], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.stdout.split() == rel, f"not ignored by git: {set(rel) - set(done.stdout.split())}"


def test_rag_feedback_still_chooses_the_feedback_file(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_FEEDBACK", str(tmp_path / "mine.jsonl"))
    assert default_feedback_path() == tmp_path / "mine.jsonl"
