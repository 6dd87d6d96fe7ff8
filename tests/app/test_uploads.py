"""Files added through the chat page (`rag.app.uploads`, through `ChatService.add_files`).

The page may read only files the web framework received, inside its upload folder, checked
by real path: a forged path, a `..` path or a symlink out of the folder refuses the whole
request, and nothing is read, copied or indexed. An upload never replaces a document: one
named like an indexed article or an earlier upload is refused, unless the operator allowed
replacing, and then only an earlier upload is replaced. The result says what happened to
each file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

import rag.indexing.build
from rag.app.chat import ChatService, ChatSettings
from rag.errors import IndexBusyError
from rag.indexing.build import build_index
from rag.search.retrieve import Retriever

VOLCANO_QUESTION = "When did the volcano on the Reykjanes peninsula erupt?"
FAKE_VOLCANO = ("Volcano news\n\nThe volcano on the Reykjanes peninsula erupted on Friday "
                "morning, a fake report said.\n")
KITE = ("Kite festival report\n\nThe winning kite at the dune festival was painted {colour}, "
        "the judges of the kite festival said.\n")
SECRET = "Vault notes\n\nThe vault combination on the third floor is forty two eleven.\n"


def make_service(tmp_path, corpus, fake_embedder, **kw) -> ChatService:
    build_index([corpus], index_dir=tmp_path / "index", embedder=fake_embedder)
    return ChatService(Retriever.load(tmp_path / "index", embedder=fake_embedder),
                       feedback_path=tmp_path / "feedback.jsonl",
                       uploads_dir=tmp_path / "uploads", **kw)


@pytest.fixture
def service(tmp_path, corpus, fake_embedder) -> ChatService:
    return make_service(tmp_path, corpus, fake_embedder)


@pytest.fixture
def cache(tmp_path) -> Path:
    """The upload folder: each upload in a folder of its own, as Gradio keeps them."""
    folder = tmp_path / "gradio"
    folder.mkdir()
    return folder


def received(cache: Path, name: str, text: str) -> Path:
    path = cache / secrets.token_hex(8) / name
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    return path


def documents(service: ChatService) -> dict[str, str]:
    return {i: d.text for i, d in service.retriever.store.documents().items()}


# --- only files the page received ------------------------------------------------------------

def _outside(tmp_path, cache):
    secret = tmp_path / "private" / "vault_notes.txt"
    secret.parent.mkdir()
    secret.write_text(SECRET, encoding="utf-8")
    link = cache / "abc" / "notes.txt"
    link.parent.mkdir()
    link.symlink_to(secret)
    inner = received(cache, "inner.txt", KITE.format(colour="red"))
    return {"server file": str(secret), "dot-dot": f"{cache}/../private/vault_notes.txt",
            "symlink out": str(link), "the folder itself": str(cache),
            "a folder inside": str(inner.parent), "missing": str(cache / "nothing.txt"),
            "symlink in": _link_in(cache, inner)}


def _link_in(cache: Path, target: Path) -> str:
    link = cache / "def" / "kite.txt"
    link.parent.mkdir()
    link.symlink_to(target)
    return str(link)


@pytest.mark.parametrize("kind", ["server file", "dot-dot", "symlink out", "the folder itself",
                                  "a folder inside", "missing", "symlink in"])
def test_a_path_the_page_did_not_receive_is_refused_and_nothing_is_read(service, tmp_path, cache,
                                                                         fake_embedder, kind):
    path = _outside(tmp_path, cache)[kind]
    before, embedded = documents(service), fake_embedder.embedded
    result = service.add_files([path], received_in=cache)
    assert result.added == () and len(result.refused) == 1
    assert "was not uploaded through this page; nothing was added" in result.message
    assert str(tmp_path) not in result.message  # never a server path
    assert documents(service) == before and fake_embedder.embedded == embedded
    assert not service.uploads_dir.exists()
    answer = service.ask("What is the vault combination on the third floor?")
    assert "forty two eleven" not in answer.text


def test_one_forged_path_refuses_the_whole_request(service, tmp_path, cache):
    good = received(cache, "kites.txt", KITE.format(colour="crimson"))
    forged = _outside(tmp_path, cache)["server file"]
    before = documents(service)
    result = service.add_files([good, forged], received_in=cache)
    assert result.added == () and "vault_notes.txt" in result.refused[0]
    assert documents(service) == before


# --- never replacing a document --------------------------------------------------------------

@pytest.mark.parametrize("name", ["volcano.txt", "volcano.md"])
def test_an_upload_named_like_an_indexed_article_is_refused_and_the_article_kept(service, cache,
                                                                                name):
    before = documents(service)
    result = service.add_files([received(cache, name, FAKE_VOLCANO)], received_in=cache)
    assert result.added == () and result.replaced == ()
    assert "Refused" in result.message and "already indexed" in result.message
    assert "rename the file" in result.message
    assert documents(service) == before
    assert "Monday" in service.ask(VOLCANO_QUESTION).text


def test_an_upload_named_like_an_earlier_upload_is_refused_by_default(service, cache):
    first = service.add_files([received(cache, "kites.txt", KITE.format(colour="crimson"))],
                              received_in=cache)
    assert first.added == ("kites",)
    second = service.add_files([received(cache, "kites.txt", KITE.format(colour="teal"))],
                               received_in=cache)
    assert second.added == () and second.replaced == ()
    assert "an earlier upload with this name is indexed" in second.message
    assert "--allow-replace" in second.message
    assert "crimson" in (service.uploads_dir / "kites.txt").read_text()
    assert "crimson" in service.ask("What colour was the winning kite at the dune festival?").text


def test_when_the_operator_allows_it_an_earlier_upload_is_replaced_never_an_article(
        tmp_path, corpus, fake_embedder, cache):
    service = make_service(tmp_path, corpus, fake_embedder, allow_replace=True)
    service.add_files([received(cache, "kites.txt", KITE.format(colour="crimson"))],
                      received_in=cache)
    result = service.add_files([received(cache, "kites.txt", KITE.format(colour="teal"))],
                               received_in=cache)
    assert result.added == () and len(result.replaced) == 1
    assert "Replaced kites.txt: it replaced the earlier upload" in result.message
    answer = service.ask("What colour was the winning kite at the dune festival?")
    assert "teal" in answer.text and "crimson" not in answer.text
    refused = service.add_files([received(cache, "volcano.txt", FAKE_VOLCANO)], received_in=cache)
    assert refused.replaced == () and "a document with this name is already indexed" in \
        refused.message
    assert "Monday" in service.ask(VOLCANO_QUESTION).text


def test_text_already_indexed_changes_nothing_and_says_so(service, corpus, cache):
    copy = received(cache, "volcano_copy.txt", (corpus / "volcano.txt").read_text())
    before = documents(service)
    result = service.add_files([copy], received_in=cache)
    assert result.added == () and result.unchanged
    assert "the same text is indexed already (as volcano); nothing changed" in result.message
    assert documents(service) == before and not service.uploads_dir.exists()


def test_two_files_with_one_name_in_one_upload(service, cache):
    a = received(cache, "kites.txt", KITE.format(colour="crimson"))
    b = received(cache, "kites.txt", KITE.format(colour="teal"))
    result = service.add_files([a, b], received_in=cache)
    assert result.added == ("kites",) and "another file of this upload has the same name" in \
        result.refused[0]


def test_a_failed_build_puts_an_earlier_upload_back(tmp_path, corpus, fake_embedder, cache,
                                                    monkeypatch):
    service = make_service(tmp_path, corpus, fake_embedder, allow_replace=True)
    service.add_files([received(cache, "kites.txt", KITE.format(colour="crimson"))],
                      received_in=cache)

    def busy(*args, **kw):
        raise IndexBusyError("another process is writing the index; try again when it is done")

    monkeypatch.setattr(rag.indexing.build, "build_index", busy)
    result = service.add_files([received(cache, "kites.txt", KITE.format(colour="teal")),
                                received(cache, "new.txt", KITE.format(colour="blue"))],
                               received_in=cache)
    assert "indexing failed: another process" in result.message and result.replaced == ()
    assert sorted(os.listdir(service.uploads_dir)) == ["kites.txt"]
    assert "crimson" in (service.uploads_dir / "kites.txt").read_text()


def test_settings_never_name_a_file(service):
    assert "path" not in " ".join(f for f in ChatSettings.__dataclass_fields__)
