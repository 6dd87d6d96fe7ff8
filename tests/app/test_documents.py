"""The page's documents panel: what is indexed, and removing documents only when the operator
allows it, with everything a reader sends treated as hostile."""

from __future__ import annotations

import html

import pytest
from conftest import lock_held_elsewhere, write_corpus
from test_chat import assert_safe, parse
from test_uploads import make_service as uploads_service

from rag.app.chat import ChatService
from rag.app.documents import MAX_REMOVE, MAX_ROWS, documents_html
from rag.indexing.catalog import DocumentInfo

HOSTILE_TITLE = 'Tide <img src=x onerror=alert(1)> "report" & [link](javascript:alert(1))'
ORCHARD = ("Apple harvest breaks records\n\nThe cider orchard in Herefordshire picked ninety "
           "tonnes of russet apples this autumn, a record for the valley.\n")


def make_service(tmp_path, corpus, fake_embedder, **kw) -> ChatService:
    write_corpus(corpus, {"tide.txt": f"{HOSTILE_TITLE}\n\nThe spring tide flooded the quay.\n"})
    return uploads_service(tmp_path, corpus, fake_embedder, **kw)


@pytest.fixture
def service(tmp_path, corpus, fake_embedder) -> ChatService:
    return make_service(tmp_path, corpus, fake_embedder, allow_remove=True)


def ids(service: ChatService) -> set[str]:
    return set(service.retriever.store.manifest.documents)


# --- listing -----------------------------------------------------------------------------

def test_the_panel_lists_title_date_file_and_chunks_of_every_document_safely(service):
    panel = service.documents_html()
    assert_safe_table(panel)
    shown = html.unescape(" ".join(parse(panel).text))
    assert "4 documents" in shown and HOSTILE_TITLE in shown  # the title's own characters
    assert "Teenager wins the national chess championship" in shown and "chess.txt" in shown
    assert "undated" in shown
    rows = [a for tag, a in parse(panel).tags if tag == "tr" and "data-id" in a]
    assert {r["data-id"] for r in rows} == {"volcano", "bakery", "chess", "tide"}


def test_the_panel_finds_documents_by_title(service):
    panel = service.documents_html("  SOURDOUGH ")
    shown = html.unescape(" ".join(parse(panel).text))
    assert "1 of 4 documents match “SOURDOUGH”" in shown and "bakery.txt" in shown
    assert "chess.txt" not in shown
    assert "0 of 4" in service.documents_html("<script>")  # escaped, and nothing matches
    assert "<script>" not in service.documents_html("<script>")
    assert service.documents_html(None) == service.documents_html("")  # not a string: all


def test_a_large_index_shows_the_first_rows_and_says_how_to_find_the_others():
    docs = [DocumentInfo(f"d{i}", f"Title {i}", None, f"/c/d{i}.txt", None, 1)
            for i in range(MAX_ROWS + 50)]
    panel = documents_html(docs, total=len(docs))
    assert panel.count('<tr class="vb-doc"') == MAX_ROWS
    assert f"showing the first {MAX_ROWS}" in panel and "search by title" in panel


def assert_safe_table(markup: str) -> None:
    table_tags = {"table", "thead", "tbody", "tr", "th", "td"}
    for tag, attrs in parse(markup).tags:
        if tag in table_tags:
            assert set(attrs) <= {"class", "data-id", "title"}, attrs
    assert_safe(_without(markup, table_tags))


def _without(markup: str, tags: set[str]) -> str:
    import re

    return re.sub(rf"</?({'|'.join(tags)})\b[^>]*>", "", markup)


# --- removing ----------------------------------------------------------------------------

def test_removing_is_off_unless_the_operator_allows_it(tmp_path, corpus, fake_embedder):
    service = make_service(tmp_path, corpus, fake_embedder)
    before = service.retriever.store.root
    message = service.remove(["chess"])
    assert "off on this page" in message and "rag serve --allow-remove" in message
    assert service.retriever.store.root == before and "chess" in ids(service)
    assert service.removable() == []  # nothing is offered to remove either


def test_a_removed_document_is_gone_from_answers_list_and_status_at_once(service,
                                                                        fake_embedder):
    embedded = fake_embedder.embedded
    assert ("Teenager wins the national chess championship (chess)", "chess") \
        in service.removable()
    message = service.remove(["chess"])
    assert message.startswith("Removed 1 document(s): Teenager wins the national chess "
                              "championship (chess)") and "now holds 3 documents" in message
    assert fake_embedder.texts[embedded:] == ["warm up"]  # a query; no chunk embedded again
    assert "chess" not in ids(service) and "3 documents" in service.status()
    assert "chess.txt" not in service.documents_html()
    answer = service.ask("Who won the national chess championship with a Sicilian defence?")
    assert all(p.doc_id != "chess" for p in answer.passages)


@pytest.mark.parametrize("sent", [
    None, "", [], {}, 42, [42], [None], [["chess"]], [{"id": "chess"}], ["no-such-id"],
    ["../index"], ["/etc/passwd"], ["chess\n"], ["x" * 10_000], ["chess"] + ["x"] * 5,
    ["chess"] * (MAX_REMOVE + 1), ["volcano", "bakery", "chess", "tide"]])
def test_whatever_a_reader_sends_removes_nothing_unless_it_names_indexed_documents(service, sent):
    before, root = ids(service), service.retriever.store.root
    message = service.remove(sent)
    assert not message.startswith("Removed"), message
    assert ids(service) == before and service.retriever.store.root == root
    assert len(message) < 300 and "Traceback" not in message


def test_one_id_sent_as_a_string_is_fine(service):
    assert service.remove("bakery").startswith("Removed 1 document(s)")
    assert "bakery" not in ids(service)


def test_a_removed_upload_takes_its_copy_in_the_upload_folder_with_it(service, tmp_path):
    incoming = write_corpus(tmp_path / "gradio" / "a1", {"orchard.txt": ORCHARD})
    assert service.add_files([incoming / "orchard.txt"], received_in=tmp_path / "gradio").added
    kept = service.uploads_dir / "orchard.txt"
    assert kept.exists()
    assert service.remove(["orchard"]).startswith("Removed")
    assert not kept.exists() and "orchard" not in ids(service)
    again = service.add_files([incoming / "orchard.txt"], received_in=tmp_path / "gradio")
    assert again.added == ("orchard",)  # the same upload can be added again


def test_removing_an_article_of_the_corpus_leaves_its_file_alone(service, corpus):
    assert service.remove(["volcano"]).startswith("Removed")
    assert (corpus / "volcano.txt").exists()


def test_while_rag_index_writes_the_index_the_page_says_so_and_removes_nothing(service):
    with lock_held_elsewhere(service.retriever.store.path):
        message = service.remove(["chess"])
    assert message.startswith("Nothing was removed") and "another process" in message
    assert "chess" in ids(service)
