"""`rag docs`: listing the indexed documents (plain and --json), and removing some."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from test_cli import run

import rag.indexing.build
import rag.indexing.catalog
import rag.indexing.embed
import rag.search.retrieve


@pytest.fixture(autouse=True)
def fake_model(monkeypatch, fake_embedder):
    for module in (rag.indexing.build, rag.indexing.catalog, rag.search.retrieve,
                   rag.indexing.embed):
        monkeypatch.setattr(module, "get_embedder", lambda model=None: fake_embedder)
    return fake_embedder


@pytest.fixture
def index(tmp_path, corpus, capsys) -> Path:
    code, _, err = run(capsys, "index", corpus, "--index", tmp_path / "index")
    assert code == 0, err
    return tmp_path / "index"


def test_docs_lists_id_date_chunks_title_and_source(index, corpus, capsys):
    code, out, err = run(capsys, "docs", "--index", index)
    assert code == 0 and "3 documents" in err
    assert "chess  undated" in out and "Teenager wins the national chess championship" in out
    assert str(corpus / "chess.txt") in out


def test_docs_json_is_one_object_with_every_document(index, corpus, capsys):
    code, out, _ = run(capsys, "docs", "--index", index, "--json")
    data = json.loads(out)
    assert code == 0 and data["index"] == str(index)
    by_id = {d["id"]: d for d in data["documents"]}
    assert set(by_id) == {"volcano", "bakery", "chess"}
    assert set(by_id["bakery"]) == {"id", "title", "date", "source", "url", "chunks"}
    assert by_id["bakery"]["source"] == str(corpus / "bakery.txt") and by_id["bakery"]["chunks"] > 0


def test_docs_title_finds_by_title(index, capsys):
    code, out, _ = run(capsys, "docs", "--index", index, "--title", "SOURDOUGH", "--json")
    assert code == 0 and [d["id"] for d in json.loads(out)["documents"]] == ["bakery"]


def test_docs_remove_takes_documents_out_and_embeds_nothing(index, capsys, fake_model):
    embedded = fake_model.embedded
    code, out, _ = run(capsys, "docs", "--index", index, "--remove", "chess", "bakery", "--json")
    assert code == 0 and json.loads(out)["removed"] == ["bakery", "chess"]
    assert fake_model.embedded == embedded
    _, out, _ = run(capsys, "docs", "--index", index, "--json")
    assert [d["id"] for d in json.loads(out)["documents"]] == ["volcano"]


def test_docs_remove_of_an_unknown_id_is_one_error_line(index, capsys):
    code, out, err = run(capsys, "docs", "--index", index, "--remove", "nope")
    assert code == 1 and out == "" and err.startswith("error: no document nope")
    assert "Traceback" not in err


def test_docs_without_an_index_is_one_error_line(tmp_path, capsys):
    code, out, err = run(capsys, "docs", "--index", tmp_path / "none")
    assert code == 1 and out == "" and err.startswith("error: no index at")
