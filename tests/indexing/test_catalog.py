"""What an index holds, and taking documents out through the build's own publishing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import ARTICLES, lock_held_elsewhere, write_corpus

from rag.errors import IndexBusyError, InputError
from rag.indexing.build import build_index
from rag.indexing.catalog import list_documents, remove_documents
from rag.indexing.store import open_index
from rag.search.retrieve import Retriever


@pytest.fixture
def index(tmp_path, corpus, fake_embedder) -> Path:
    write_corpus(corpus, {"dated.txt": " date 2024-09-19 Harbour seals return\n\nHarbour seals "
                                       "were counted on the sandbank by the estuary wardens.\n"})
    build_index([corpus], index_dir=tmp_path / "index", embedder=fake_embedder)
    return tmp_path / "index"


def test_lists_title_date_source_and_chunks_of_every_document(index, corpus):
    store = open_index(index)
    docs = {d.id: d for d in list_documents(store)}
    assert set(docs) == {"volcano", "bakery", "chess", "dated"}
    assert docs["dated"].date == "2024-09-19" and docs["volcano"].date is None
    assert docs["chess"].title == "Teenager wins the national chess championship"
    assert docs["bakery"].source == str(corpus / "bakery.txt")
    counts = {}
    for _, chunk in store.chunks():
        counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
    assert {i: d.chunks for i, d in docs.items()} == counts
    assert docs["chess"].to_dict()["chunks"] == counts["chess"]


@pytest.mark.parametrize("title, expected", [
    ("CHESS", {"chess"}), ("  national   chess ", {"chess"}), ("bakery.txt", {"bakery"}),
    ("volcano", {"volcano"}), ("no such words", set()), ("", {"volcano", "bakery", "chess",
                                                               "dated"})])
def test_finds_documents_by_title_id_or_file_name(index, title, expected):
    assert {d.id for d in list_documents(open_index(index), title=title)} == expected


def test_removing_publishes_a_new_version_without_the_document_and_embeds_nothing(
        index, fake_embedder):
    reader = open_index(index)  # a search that opened the index before the removal
    vectors = {c.hash: reader.vectors()[row].copy() for row, c in reader.chunks()}
    embedded = fake_embedder.embedded
    report = remove_documents(["chess"], index_dir=index, embedder=fake_embedder)
    assert fake_embedder.embedded == embedded  # every remaining vector was reused
    assert report.removed == ("chess",) and report.documents == 3 and report.embedded == 0
    store = open_index(index)
    assert set(store.manifest.documents) == {"volcano", "bakery", "dated"}
    assert store.manifest.pending == 0 and store.manifest.chunks == report.chunks
    assert all(c.doc_id != "chess" for _, c in store.chunks())
    for row, c in store.chunks():
        assert np.array_equal(store.vectors()[row], vectors[c.hash])
    found = Retriever.load(index, embedder=fake_embedder).search("grandmaster chess endgame", k=20)
    assert found and all(p.doc_id != "chess" for p in found)
    assert not reader.is_current() and "chess" in reader.documents()  # the old version is whole


def test_rag_index_of_the_folder_brings_a_removed_document_back(index, corpus, fake_embedder):
    remove_documents(["chess"], index_dir=index, embedder=fake_embedder)
    build_index([corpus], index_dir=index, embedder=fake_embedder)
    assert "chess" in open_index(index).manifest.documents


def test_a_document_of_a_file_that_holds_several_is_removed_alone(tmp_path, fake_embedder):
    lines = [f'{{"id": "n{i}", "title": "Note {i}", "text": "{w} grew in the {w} garden."}}'
             for i, w in enumerate(["tulip", "fern", "cactus"])]
    folder = write_corpus(tmp_path / "notes", {"notes.jsonl": "\n".join(lines) + "\n"})
    build_index([folder], index_dir=tmp_path / "index", embedder=fake_embedder)
    remove_documents(["n1"], index_dir=tmp_path / "index", embedder=fake_embedder)
    assert set(open_index(tmp_path / "index").manifest.documents) == {"n0", "n2"}
    build_index([folder], index_dir=tmp_path / "index", embedder=fake_embedder)
    assert set(open_index(tmp_path / "index").manifest.documents) == {"n0", "n1", "n2"}


@pytest.mark.parametrize("ids, why", [
    (["no-such-id"], "no document no-such-id"), ([], "at least one"), ([""], "non-empty"),
    ([None], "non-empty"), (["volcano", "bakery", "chess", "dated"], "every document"),
    ([f"x{i}" for i in range(1001)], "at most")])
def test_what_cannot_be_removed_is_an_error_and_the_index_is_unchanged(index, fake_embedder,
                                                                        ids, why):
    before = open_index(index).root
    with pytest.raises(InputError, match=why):
        remove_documents(ids, index_dir=index, embedder=fake_embedder)
    assert open_index(index).root == before


def test_while_another_process_writes_the_index_removing_is_refused(index, fake_embedder):
    with lock_held_elsewhere(index), pytest.raises(IndexBusyError, match="another process"):
        remove_documents(["chess"], index_dir=index, embedder=fake_embedder)
    assert "chess" in open_index(index).manifest.documents


def test_removing_needs_the_index_s_own_model(index):
    from conftest import FakeEmbedder

    with pytest.raises(InputError, match="built with fake-hash"):
        remove_documents(["chess"], index_dir=index, embedder=FakeEmbedder("other-model"))


def test_the_corpus_stays_untouched(index, corpus, fake_embedder):
    remove_documents(["bakery"], index_dir=index, embedder=fake_embedder)
    assert (corpus / "bakery.txt").read_text(encoding="utf-8") == ARTICLES["bakery.txt"]
