"""The chat page's logic (`rag.app.chat`, `rag.app.render`), driven without Gradio on a fake-model index.

Every rendered piece of HTML is parsed and checked against the few tags and attributes the
page may contain, so article text can never become markup; the text a reader sees is
checked to be the article's own characters.
"""

from __future__ import annotations

import html
import json
import subprocess
import sys
import types
from html.parser import HTMLParser
from pathlib import Path

import pytest
from conftest import write_corpus
from hypothesis import given
from hypothesis import strategies as st

import rag.indexing.build
import rag.indexing.embed
import rag.search.retrieve
from rag.app.chat import SEED_EXAMPLES, ChatService, ChatSettings, Conversation, parse_auth
from rag.app.render import highlight, md_text
from rag.cli import main
from rag.errors import InputError
from rag.indexing.build import build_index
from rag.search.retrieve import Retriever

HOSTILE = (
    "Lighthouse keeper leaves strange notes\n\n"
    "The lighthouse keeper on Fastnet rock wrote <script>alert(1)</script> on the logbook "
    "cover.\n\n"
    "Visitors to the Fastnet lighthouse found <img src=x onerror=alert(1)> painted by the "
    "lighthouse door, and a card saying [free tour](javascript:alert(1)) with "
    '<a href="javascript:alert(1)">a link</a> and {{constructor}} ${alert(1)} inside.\n'
)
ALLOWED_TAGS = {"div", "p", "ol", "ul", "li", "span", "mark", "strong", "blockquote", "details",
                "summary", "h4", "q", "a", "sup"}
ALLOWED_ATTRS = {"class", "data-n", "data-state", "data-turn", "title", "href", "target", "rel"}


class _Tags(HTMLParser):
    """Collects start tags with attributes, and the text a browser would show."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def parse(markup: str) -> _Tags:
    p = _Tags()
    p.feed(markup)
    p.close()
    return p


def assert_safe(markup: str) -> None:
    for tag, attrs in parse(markup).tags:
        assert tag in ALLOWED_TAGS, f"unexpected <{tag}> in {markup[:200]}"
        assert set(attrs) <= ALLOWED_ATTRS, f"unexpected attributes {attrs} on <{tag}>"
        if "href" in attrs:
            assert attrs["href"].startswith(("http://", "https://")), attrs


@pytest.fixture
def service(tmp_path, corpus, fake_embedder) -> ChatService:
    write_corpus(corpus, {"hostile.txt": HOSTILE})
    build_index([corpus], index_dir=tmp_path / "index", embedder=fake_embedder)
    return ChatService(Retriever.load(tmp_path / "index", embedder=fake_embedder),
                       feedback_path=tmp_path / "feedback.jsonl",
                       uploads_dir=tmp_path / "uploads")


def ask(service: ChatService, question: str, conversation: Conversation | None = None,
        **settings):
    """The final (conversation, sources HTML) of one turn, and every step before it."""
    steps = list(service.chat(question, conversation or Conversation(),
                              settings=ChatSettings(**settings)))
    return steps[-1][0], steps[-1][1], steps


# --- answers, quotes and follow-ups ------------------------------------------------------

def test_answer_cites_and_highlights_its_quote_with_the_answering_span(service):
    conv, panel, _steps = ask(service, "When did the volcano erupt?")
    answer = conv.answers[-1]
    assert not answer.refused and answer.focus == "Monday"
    bubble = conv.messages[-1]["content"]
    assert "<sup>[1]</sup>" in bubble and "<strong>Monday</strong>" in bubble
    assert_safe(panel)
    c = answer.citations[0]
    marks = [m for m in parse(panel).tags if m[0] == "mark" and m[1].get("data-n") == "1"]
    assert marks, panel
    # The highlighted characters are exactly the quote, with the focus in <strong> inside.
    first = panel.index('<mark class="vb-quote" data-n="1">')
    inner = panel[first:panel.index("</mark>", first)]
    assert '<strong class="vb-focus">Monday</strong>' in inner
    assert html.unescape(inner.split(">", 1)[1].replace('<strong class="vb-focus">', "")
                         .replace("</strong>", "")) == c.quote
    assert 'data-state="answered"' in panel and 'data-turn="1"' in panel
    assert "volcano.txt" in panel and "undated" in panel


def test_whole_article_is_one_click_away_with_the_quote_in_place(service):
    _conv, panel, _ = ask(service, "When did the volcano erupt?")
    article = panel[panel.index('<details class="vb-article">'):]
    article = article[:article.index("</details>")]
    assert "Read the whole article" in article
    shown = html.unescape("".join(parse(article).text))
    assert "Geologists said the magma corridor" in shown  # beyond the cited passage
    assert '<mark class="vb-quote" data-n="1">' in article


def test_chat_shows_progress_first_and_keeps_history_aligned(service):
    conv, _, steps = ask(service, "When did the volcano erupt?")
    first_conv, first_panel = steps[0]
    assert "Searching" in first_conv.messages[-1]["content"]
    assert 'data-state="working"' in first_panel
    assert [m["role"] for m in conv.messages] == ["user", "assistant"]
    assert conv.answers[0] is None and conv.answers[1] is not None
    assert conv.history == [conv.answers[1]]


def test_follow_up_is_answered_with_history_and_shows_what_was_searched(service):
    conv, _, _ = ask(service, "When did the volcano erupt?")
    conv, panel, _ = ask(service, "Where did it erupt?", conv)
    answer = conv.answers[-1]
    assert answer.standalone_query != "Where did it erupt?"
    assert "volcano" in answer.standalone_query.lower()
    assert "*searched for:*" in conv.messages[-1]["content"]
    assert '<p class="vb-searched">Searched for: <q>' in panel
    assert conv.questions == 2 and 'data-turn="2"' in panel
    assert all(c.doc_id == "volcano" for c in answer.citations)


def test_refusal_looks_different_and_lists_the_closest_matches(service):
    conv, panel, _ = ask(service, "How many submarines does Norway operate?")
    answer = conv.answers[-1]
    assert answer.refused
    bubble = conv.messages[-1]["content"]
    assert bubble.startswith("> **I can't find this in the sources.**")
    assert "closest matches" in bubble
    assert_safe(panel)
    assert 'data-state="refused"' in panel and "Closest matches" in panel
    assert panel.count('<li class="vb-match">') == len(answer.passages) > 0
    assert 'class="vb-quote"' not in panel
    assert "norway" in html.unescape(panel)  # the reason is shown


def test_empty_question_and_an_llm_the_operator_did_not_set_up_become_messages(service):
    conv, panel, _ = ask(service, "   ")
    assert "question is empty" in conv.messages[-1]["content"]
    assert 'data-state="error"' in panel and conv.answers[-1] is None
    conv, panel, _ = ask(service, "When did the volcano erupt?", answerer="llm")
    assert "this page has no LLM answerer" in conv.messages[-1]["content"]
    with pytest.raises(ValueError, match="allowed: extractive, llm"):
        ChatSettings(answerer="gpt")


@pytest.mark.parametrize("k", [0, -1, 51, 1_000_000, 2.5, True])
def test_k_is_capped_with_a_clear_message(service, k):
    with pytest.raises(InputError, match="from 1 to 50"):
        service.ask("When did the volcano erupt?", settings=ChatSettings(k=k))
    assert service.ask("When did the volcano erupt?", settings=ChatSettings(k=50)).citations


@pytest.mark.parametrize("as_of", ["yesterday", "05/01/2023", "2023-13-01", "9" * 10_000, 20230105])
def test_a_bad_as_of_day_is_one_clear_message(as_of):
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        ChatSettings(as_of=as_of)


def test_questions_are_read_as_of_the_day_chosen(service):
    assert ChatSettings(as_of=" 2023-01-05 ").as_of == "2023-01-05"
    question = "When did the volcano erupt?"
    plain = service.ask(question)
    assert not any(n.startswith("no source here is dated") for n in plain.notes)
    dated = service.ask(question, settings=ChatSettings(as_of="1999-01-05"))
    assert [c.quote for c in dated.citations] == [c.quote for c in plain.citations]
    assert any(n.startswith("no source here is dated from 1998-12-29 to 1999-01-08")
               for n in dated.notes)
    conv, _, _ = ask(service, question, as_of="1999-01-05")
    assert "no source here is dated" in conv.messages[-1]["content"]  # shown under the answer


def test_the_pages_day_is_the_default_and_a_readers_day_wins(service):
    page = ChatService(service.retriever, feedback_path=service.feedback_path,
                       uploads_dir=service.uploads_dir, as_of="1999-01-05")
    question = "When did the volcano erupt?"
    noted = lambda a: [n for n in a.notes if n.startswith("no source here is dated")]
    assert "1998-12-29" in noted(page.ask(question))[0]
    assert "2009-12-29" in noted(page.ask(question, settings=ChatSettings(as_of="2010-01-05")))[0]
    with pytest.raises(InputError, match="YYYY-MM-DD"):
        ChatService(service.retriever, as_of="tomorrow")


# --- safety ------------------------------------------------------------------------------

def test_hostile_article_is_shown_as_text_never_as_markup(service):
    conv, panel, _ = ask(service, "What did the lighthouse keeper on Fastnet rock write on the "
                                  "logbook cover?")
    answer = conv.answers[-1]
    assert not answer.refused and answer.citations[0].doc_id == "hostile"
    assert_safe(panel)
    shown = "".join(parse(panel).text)
    for text in ("<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
                 "[free tour](javascript:alert(1))", '<a href="javascript:alert(1)">a link</a>',
                 "{{constructor}} ${alert(1)}"):
        assert text in shown
    bubble = conv.messages[-1]["content"]
    assert_safe(bubble)  # only <sup>/<strong> of ours; every < of the article is &lt;
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in bubble


def test_only_http_links_are_made_from_document_urls(tmp_path, fake_embedder):
    records = [{"id": "good", "title": "Harbour news", "url": "https://example.org/harbour",
                "text": "The harbour master counted forty ferries in the harbour today."},
               {"id": "evil", "title": "Harbour <b>rumours</b>", "url": "javascript:alert(1)",
                "text": "The harbour cat <i>sleeps</i> on the ferries every afternoon."}]
    src = tmp_path / "news.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    build_index([src], index_dir=tmp_path / "index", embedder=fake_embedder)
    service = ChatService(Retriever.load(tmp_path / "index", embedder=fake_embedder),
                          feedback_path=tmp_path / "f.jsonl")
    _, panel, _ = ask(service, "How many ferries did the harbour master count in the harbour?")
    assert_safe(panel)
    assert 'href="https://example.org/harbour"' in panel
    assert 'href="javascript' not in panel


@given(st.text(max_size=60), st.lists(st.tuples(st.integers(0, 60), st.integers(0, 60),
                                                st.integers(1, 3)), max_size=4))
def test_highlight_shows_exactly_the_text(text, spans):
    marks = [(min(a, b), max(a, b), None, None, n) for a, b, n in spans]
    out = highlight(text, 0, len(text), marks)
    assert_safe(out)
    assert "".join(parse(out).text) == text


MARKDOWNISH = st.sampled_from(list("\\`*_[]()#+-.!|~$^:<>&\"'=@{};\n\t 0123456789aZ"))


@given(st.text(MARKDOWNISH | st.characters(blacklist_categories=("Cc", "Cs")), max_size=80))
def test_md_text_renders_back_to_the_same_text(text):
    markdown_it = pytest.importorskip("markdown_it")
    md = markdown_it.MarkdownIt("commonmark").enable(["table", "strikethrough"])
    rendered = md.render(md_text(text))
    assert_safe(rendered.replace("<p>", "").replace("</p>", ""))
    assert "".join(parse(rendered).text).strip() == " ".join(text.split())


@pytest.mark.parametrize("marks, expected", [
    ([], "abc"),
    ([(0, 3, None, None, 1)], '<mark class="vb-quote" data-n="1">abc</mark>'),
    ([(0, 2, 1, 2, 1), (1, 3, None, None, 2)],
     ('<mark class="vb-quote" data-n="1">a<strong class="vb-focus">b</strong></mark>'
     '<mark class="vb-quote" data-n="2">c</mark>')),
    ([(0, 3, None, None, 0)], '<mark class="vb-near">abc</mark>'),
    ([(5, 9, None, None, 1)], "abc"),
])
def test_highlight_edges(marks, expected):
    assert highlight("abc", 0, 3, marks) == expected


# --- feedback ----------------------------------------------------------------------------

def test_feedback_appends_question_answer_citations_and_verdict(service):
    conv, _, _ = ask(service, "When did the volcano erupt?")
    assert service.feedback(conv, 1, False).startswith("Thanks")
    assert service.feedback(conv, 1, True)
    assert service.feedback(conv, 0, True) == ""      # a question, not an answer
    assert service.feedback(conv, 1, "") == ""        # a cleared vote
    assert service.feedback(conv, 7, True) == ""
    lines = service.feedback_path.read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["verdict"] for r in records] == ["down", "up"]
    r = records[0]
    assert r["question"] == "When did the volcano erupt?"
    assert r["answer"] == conv.answers[1].text and r["timestamp"]
    assert r["citations"][0]["quote"] == conv.answers[1].citations[0].quote
    assert r["citations"][0]["focus"] == "Monday"


# --- uploads -----------------------------------------------------------------------------

def test_upload_is_indexed_at_once_and_can_be_asked_about(service, tmp_path, fake_embedder):
    new = write_corpus(tmp_path / "incoming", {"orchard.txt": (
        "Apple harvest breaks records\n\n"
        "The cider orchard in Herefordshire picked ninety tonnes of russet apples this autumn, "
        "a record for the valley.\n")})
    before = fake_embedder.embedded
    result = service.add_files([new / "orchard.txt"], received_in=new)
    assert result.added == ("orchard",) and result.skipped == ()
    assert result.documents == 5 and "Indexed 1 document" in result.message
    assert fake_embedder.embedded - before <= 3  # only the new file's chunks were embedded
    assert "5 documents" in service.status()
    assert (service.uploads_dir / "orchard.txt").exists()
    conv, panel, _ = ask(service, "How many tonnes of russet apples did the cider orchard pick?")
    assert conv.answers[-1].citations[0].doc_id == "orchard"
    assert "orchard.txt" in panel


def test_bad_uploads_get_a_message_and_change_nothing(service, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "binary.txt").write_bytes(b"\x00\x01\x02 not text")
    (bad / "empty.md").write_text("", encoding="utf-8")
    (bad / "program.exe").write_bytes(b"MZ")
    (bad / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (bad / "huge.txt").write_text("word " * 100, encoding="utf-8")
    service.max_upload_bytes = 100
    before = service.retriever.store.manifest.documents
    result = service.add_files(sorted(bad.iterdir()), received_in=bad)
    assert result.added == ()
    assert len(result.skipped) == 5
    for name in ("binary.txt", "empty.md", "program.exe", "latin1.txt", "huge.txt"):
        assert md_text(name) in result.message
    assert str(bad) not in result.message  # file names, not server paths
    assert any("huge.txt: 0.0 MB, over the 0 MB limit" in s for s in result.skipped)
    assert service.retriever.store.manifest.documents == before
    assert not ask(service, "When did the volcano erupt?")[0].answers[-1].refused
    assert service.add_files([], received_in=bad).message == "Choose one or more files first."


def test_good_and_bad_files_together(service, tmp_path):
    folder = write_corpus(tmp_path / "mixed", {"kites.md": (
        "# Kite festival\n\nTwo hundred kites flew over the dunes at the kite festival on "
        "Saturday, the organisers said.\n")})
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    result = service.add_files([folder / "kites.md", folder / "broken.pdf"], received_in=folder)
    assert result.added == ("kites",)
    assert len(result.skipped) == 1 and "broken.pdf" in result.skipped[0]


# --- status, examples, auth, import weight ----------------------------------------------

def test_status_names_documents_chunks_and_model(service):
    m = service.retriever.store.manifest
    status = service.status()
    assert f"{len(m.documents)} documents" in status and f"{m.chunks} chunks" in status
    assert "fake-hash" in status
    assert "embedded so far" not in status


def test_while_vectors_are_coming_the_status_and_every_answer_say_words_only(tmp_path,
                                                                            fake_embedder):
    from rag.indexing.job import EARLY_SNAPSHOT_CHUNKS

    texts = {f"r{i:03d}.txt": f"Report {i}\n\nThe survey team logged marker{i} near the "
             f"harbor on day {i}. They mapped the ridge before dark.\n"
             for i in range(EARLY_SNAPSHOT_CHUNKS + 20)}
    corpus, index, seen = write_corpus(tmp_path / "big", texts), tmp_path / "index", []

    def on_publish(manifest):
        service = ChatService(Retriever.load(index, embedder=fake_embedder))
        conv, _panel, _steps = ask(service, "Where was marker7 logged?")
        seen.append((manifest.pending, service.status(), conv.answers[-1].notes,
                     conv.messages[-1]["content"]))

    build_index([corpus], index_dir=index, embedder=fake_embedder, on_publish=on_publish,
                snapshot_every=None)
    (pending, status, notes, bubble), *_, (done, status_done, notes_done, _) = seen
    assert pending == len(texts) and done == 0
    assert f"0 of {pending:,} embedded so far" in status
    assert "embedded so far" not in status_done
    assert f"{pending:,} of {pending:,} chunks are still being embedded" in notes[0]
    assert "words only" in bubble
    assert not any("still being embedded" in n for n in notes_done)


def test_examples_are_seed_questions_shown_only_for_indexed_seeds(service, tmp_path,
                                                                  seeds_dir, fake_embedder):
    assert service.examples() == []
    build_index([seeds_dir], index_dir=tmp_path / "seeds-index", embedder=fake_embedder)
    seeded = ChatService(Retriever.load(tmp_path / "seeds-index", embedder=fake_embedder))
    assert seeded.examples() == [q for q, _ in SEED_EXAMPLES]


def test_parse_auth():
    assert parse_auth(None) is None and parse_auth("") is None
    assert parse_auth("ann:pa:ss") == ("ann", "pa:ss")
    for bad in ("ann", ":pw", "ann:"):
        with pytest.raises(InputError, match="USER:PASSWORD"):
            parse_auth(bad)


def test_chat_logic_imports_no_gradio_and_no_model():
    code = ("import sys, rag.app.chat, rag.app.render\n"
            "print([m for m in ('gradio', 'torch', 'faiss') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


# --- rag serve ---------------------------------------------------------------------------

@pytest.fixture
def fake_page(monkeypatch, fake_embedder):
    """`ui.app.serve` replaced by a recorder; the library's model lookups get the fake model."""
    calls = []
    module = types.ModuleType("ui.app")
    module.serve = lambda retriever, **kw: calls.append((retriever, kw))
    monkeypatch.setitem(sys.modules, "ui.app", module)
    for mod in (rag.indexing.build, rag.search.retrieve, rag.indexing.embed):
        monkeypatch.setattr(mod, "get_embedder", lambda model=None: fake_embedder)
    return calls


def test_serve_builds_the_default_index_and_stays_on_loopback(fake_page, private_index,
                                                              monkeypatch, capsys, corpus):
    monkeypatch.setenv("RAG_CORPUS", str(corpus))
    monkeypatch.delenv("RAG_AUTH", raising=False)
    assert main(["serve", "--port", "7999"]) == 0
    retriever, kw = fake_page[-1]
    assert Path(retriever.store.path) == private_index
    assert kw["host"] == "127.0.0.1" and kw["port"] == 7999 and kw["auth"] is None
    assert "warning" not in capsys.readouterr().err


def test_serve_takes_the_pages_day(fake_page, private_index, monkeypatch, capsys, corpus):
    monkeypatch.setenv("RAG_CORPUS", str(corpus))
    assert main(["serve", "--as-of", "2023-06-30"]) == 0
    assert fake_page[-1][1]["as_of"] == "2023-06-30"
    assert main(["serve"]) == 0 and fake_page[-1][1]["as_of"] is None
    assert main(["serve", "--as-of", "June 30"]) == 1
    assert "write it as YYYY-MM-DD" in capsys.readouterr().err


def test_serve_on_all_interfaces_warns_and_takes_auth_from_env(fake_page, monkeypatch, capsys,
                                                               corpus):
    monkeypatch.setenv("RAG_CORPUS", str(corpus))
    monkeypatch.setenv("RAG_AUTH", "reader:s3cret")
    assert main(["serve", "--host", "0.0.0.0"]) == 0
    assert fake_page[-1][1]["auth"] == ("reader", "s3cret")
    assert "warning: listening on 0.0.0.0" in capsys.readouterr().err
    monkeypatch.delenv("RAG_AUTH")
    assert main(["serve", "--auth", "nopassword"]) == 1
    assert "USER:PASSWORD" in capsys.readouterr().err


def test_a_newer_index_published_by_rag_index_is_picked_up(service, corpus, fake_embedder):
    write_corpus(corpus, {"orchard.txt": (
        "Apple harvest breaks records\n\n"
        "The cider orchard in Herefordshire picked ninety tonnes of russet apples.\n")})
    build_index([corpus], index_dir=service.retriever.store.path, embedder=fake_embedder)
    conv, _, _ = ask(service, "How many tonnes of russet apples did the cider orchard pick?")
    assert conv.answers[-1].citations[0].doc_id == "orchard"
    assert service.retriever.store.is_current()


def test_a_page_shows_each_answers_confidence_with_either_reader(tmp_path, corpus,
                                                                              fake_embedder):
    from rag.answering.answer import AnswerConfig

    build_index([corpus], index_dir=tmp_path / "index", embedder=fake_embedder)
    learned = ChatService(Retriever.load(tmp_path / "index", embedder=fake_embedder),
                          feedback_path=tmp_path / "feedback.jsonl",
                          uploads_dir=tmp_path / "uploads",
                          answer_config=AnswerConfig(reader="learned", threshold=0.0))
    conv, _panel, _ = ask(learned, "When did the volcano erupt?")
    answer = conv.answers[-1]
    bubble = conv.messages[-1]["content"]
    assert not answer.refused and answer.confidence is not None
    assert f"Confidence {answer.confidence:.0%}" in bubble
    plain, _panel, _ = ask(ChatService(Retriever.load(tmp_path / "index", embedder=fake_embedder),
                                       feedback_path=tmp_path / "f2.jsonl",
                                       uploads_dir=tmp_path / "u2"), "When did the volcano erupt?")
    cheap = plain.answers[-1]
    assert cheap.confidence is not None and cheap.score != cheap.confidence
    assert f"Confidence {cheap.confidence:.0%}" in plain.messages[-1]["content"]
