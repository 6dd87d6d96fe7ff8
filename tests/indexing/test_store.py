"""The on-disk index: round trip, manifest checks, atomic replacement, crash safety."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
from conftest import ARTICLES

import rag.indexing.store
from rag.errors import IndexMismatchError, IndexNotFoundError, InputError
from rag.indexing.lexical import FILES as LEXICAL_FILES
from rag.indexing.lexical import TOKENIZER_VERSION
from rag.indexing.store import (
    FORMAT,
    FORMAT_VERSION,
    Manifest,
    StoreConfig,
    open_index,
    write_index,
)
from rag.reading.chunk import ChunkConfig, chunk_document
from rag.reading.ingest import make_document


def _contents(embedder, articles: dict[str, str]):
    docs = [make_document(text, id=Path(name).stem, source=f"/corpus/{name}", url=None)
            for name, text in articles.items()]
    chunks = [c for d in docs for c in chunk_document(d, model_limit=embedder.max_tokens,
                                                      model_counter=embedder.count_tokens)]
    vectors = embedder.embed([c.text for c in chunks])
    config = StoreConfig()
    manifest = Manifest(
        model=embedder.name, dimension=embedder.dimension, chunker=asdict(ChunkConfig()),
        store=asdict(config), documents={d.id: d.hash for d in docs},
        sources=["/corpus"], chunks=len(chunks), package_version="test", faiss="flat",
    )
    return {"manifest": manifest, "documents": docs, "chunks": chunks, "vectors": vectors,
            "config": config}


@pytest.fixture
def contents(fake_embedder):
    return _contents(fake_embedder, ARTICLES)


@pytest.fixture
def index_dir(tmp_path, contents) -> Path:
    path = tmp_path / "idx"
    write_index(path, **contents)
    return path


def _snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*"))
            if p.is_file()}


def _leftovers(path: Path) -> list[str]:
    """What an interrupted write left: anything of this index's but its lock and live version."""
    live = {path.resolve().name, f".{path.name}.lock"}
    return sorted(p.name for p in path.parent.iterdir()
                  if p.name.startswith(f".{path.name}.") and p.name not in live)


# --- round trip --------------------------------------------------------------------------

def test_write_then_open_round_trips_manifest_documents_chunks_and_vectors(index_dir, contents):
    store = open_index(index_dir)
    try:
        assert replace(store.manifest, files={}) == contents["manifest"]
        assert set(store.manifest.files) == {"meta.sqlite", "vectors.npy", "faiss.index",
                                             *(f"bm25/{f}" for f in LEXICAL_FILES),
                                             "bm25/prefixes.index.json"}
        assert store.manifest.format == FORMAT
        assert store.manifest.format_version == FORMAT_VERSION
        assert [c for _, c in store.chunks()] == contents["chunks"]
        assert [row for row, _ in store.chunks()] == list(range(len(contents["chunks"])))
        assert store.documents() == {d.id: d for d in contents["documents"]}
        np.testing.assert_array_equal(store.vectors(), contents["vectors"])
        assert store.size_on_disk() > 0
    finally:
        store.close()


def test_manifest_file_is_plain_json_with_the_documented_fields(index_dir, contents):
    data = json.loads((index_dir / "manifest.json").read_text())
    for key in ("format", "format_version", "package_version", "model", "dimension", "chunker",
                "store", "documents", "sources", "chunks"):
        assert key in data
    assert data["documents"] == contents["manifest"].documents
    assert sorted(p.name for p in index_dir.iterdir()) == [
        "bm25", "faiss.index", "manifest.json", "meta.sqlite", "vectors.npy"]
    assert data["lexical"]["tokenizer"] == TOKENIZER_VERSION


def test_search_finds_each_chunk_by_its_own_vector(index_dir, contents):
    store = open_index(index_dir)
    try:
        scores, rows = store.search(contents["vectors"], 1)
        assert list(rows[:, 0]) == list(range(len(contents["chunks"])))
        np.testing.assert_allclose(scores[:, 0], 1.0, rtol=1e-5)
    finally:
        store.close()


def test_selected_rows_and_documents(index_dir, contents):
    store = open_index(index_dir)
    try:
        rows = dict(store.chunks([2, 0]))
        assert rows == {0: contents["chunks"][0], 2: contents["chunks"][2]}
        assert list(store.documents(["bakery"])) == ["bakery"]
    finally:
        store.close()


@pytest.mark.parametrize("index_type", ["hnsw", "ivf"])
def test_other_index_types_round_trip(tmp_path, contents, index_type):
    config = StoreConfig(index_type=index_type)
    contents = {**contents, "config": config,
                "manifest": replace(contents["manifest"], store=asdict(config))}
    write_index(tmp_path / "idx", **contents)
    store = open_index(tmp_path / "idx")
    try:
        assert store.manifest.store["index_type"] == index_type
        _, rows = store.search(contents["vectors"][:1], 1)
        assert rows[0, 0] == 0
    finally:
        store.close()


def test_unknown_index_type_is_refused_with_the_allowed_ones():
    with pytest.raises(ValueError, match="flat, hnsw, ivf"):
        StoreConfig(index_type="annoy")


# --- opening what is not a good index ----------------------------------------------------

def test_open_missing_dir_names_the_rebuild_command(tmp_path):
    with pytest.raises(IndexNotFoundError, match="rag index") as info:
        open_index(tmp_path / "nothing-here")
    assert "nothing-here" in str(info.value)


def _edit_manifest(path: Path, **changes) -> None:
    data = json.loads((path / "manifest.json").read_text())
    data.update(changes)
    (path / "manifest.json").write_text(json.dumps(data))


@pytest.mark.parametrize("changes", [
    {"format_version": FORMAT_VERSION + 1},
    {"format_version": "1"},
    {"format": "someone-elses-index"},
])
def test_other_format_or_version_is_a_mismatch_naming_the_rebuild_command(index_dir, changes):
    _edit_manifest(index_dir, **changes)
    with pytest.raises(IndexMismatchError, match="rag index"):
        open_index(index_dir)


def test_a_field_this_version_does_not_know_is_not_damage(index_dir):
    _edit_manifest(index_dir, written_by_a_newer_verbatim={"x": 1})
    store = open_index(index_dir)
    assert store.manifest.chunks > 0
    store.close()


@pytest.mark.parametrize("version", [str(FORMAT_VERSION), True, 3.0, None, [FORMAT_VERSION]])
def test_a_format_version_that_is_not_a_whole_number_is_called_damage(index_dir, version):
    _edit_manifest(index_dir, format_version=version)
    with pytest.raises(IndexMismatchError, match="rag index") as info:
        open_index(index_dir)
    message = str(info.value)
    assert "manifest" in message and "damaged" in message and "not a whole number" in message
    assert f"reads version {FORMAT_VERSION}" not in message


@pytest.mark.parametrize("damage", ["{not json", "", "[]", "null", '"text"', "42"])
def test_damaged_manifest_is_a_mismatch(index_dir, damage):
    (index_dir / "manifest.json").write_text(damage)
    with pytest.raises(IndexMismatchError, match="rag index"):
        open_index(index_dir)


def test_manifest_missing_a_field_is_a_mismatch(index_dir):
    data = json.loads((index_dir / "manifest.json").read_text())
    del data["model"]
    (index_dir / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(IndexMismatchError):
        open_index(index_dir)


@pytest.mark.parametrize("missing", ["vectors.npy", "meta.sqlite", "faiss.index"])
def test_missing_file_is_a_mismatch_naming_it(index_dir, missing):
    (index_dir / missing).unlink()
    with pytest.raises(IndexMismatchError, match=missing):
        open_index(index_dir)


def test_damaged_metadata_database_is_a_mismatch(index_dir):
    (index_dir / "meta.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(IndexMismatchError, match="rag index"):
        store = open_index(index_dir)
        store.chunks()


# --- atomic writes -----------------------------------------------------------------------

def test_rewrite_replaces_the_index_and_leaves_no_temporary_dirs(index_dir, fake_embedder):
    smaller = _contents(fake_embedder, {"chess.txt": ARTICLES["chess.txt"]})
    write_index(index_dir, **smaller)
    store = open_index(index_dir)
    try:
        assert list(store.documents()) == ["chess"]
        assert store.manifest.chunks == len(smaller["chunks"])
    finally:
        store.close()
    # the version replaced stays for readers that opened it, until the next write
    assert [p.startswith(f".{index_dir.name}.v-") for p in _leftovers(index_dir)] == [True]
    write_index(index_dir, **smaller)
    assert len(_leftovers(index_dir)) == 1


def test_mismatched_vectors_leave_the_old_index_whole(index_dir, fake_embedder):
    before = _snapshot(index_dir)
    bad = _contents(fake_embedder, {"chess.txt": ARTICLES["chess.txt"]})
    bad["vectors"] = bad["vectors"][:-1]
    with pytest.raises(ValueError, match="vectors"):
        write_index(index_dir, **bad)
    assert _snapshot(index_dir) == before
    assert _leftovers(index_dir) == []


def test_crash_while_writing_leaves_the_old_index_whole_and_loadable(
        index_dir, contents, fake_embedder, monkeypatch):
    before = _snapshot(index_dir)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(rag.indexing.store, "_write_faiss", crash)
    with pytest.raises(OSError, match="disk full"):
        write_index(index_dir, **_contents(fake_embedder, {"chess.txt": ARTICLES["chess.txt"]}))
    assert _snapshot(index_dir) == before
    assert _leftovers(index_dir) == []
    store = open_index(index_dir)
    try:
        assert store.documents().keys() == {d.id for d in contents["documents"]}
    finally:
        store.close()


def test_half_finished_swap_is_recovered_by_open_index(index_dir, contents):
    before = _snapshot(index_dir)
    index_dir.rename(index_dir.with_name(f".{index_dir.name}.old-1a2b3c4d"))
    store = open_index(index_dir)
    try:
        assert replace(store.manifest, files={}) == contents["manifest"]
    finally:
        store.close()
    assert _snapshot(index_dir) == before
    assert _leftovers(index_dir) == []


def test_half_finished_swap_is_recovered_by_write_index(index_dir, fake_embedder):
    index_dir.rename(index_dir.with_name(f".{index_dir.name}.old-1a2b3c4d"))
    write_index(index_dir, **_contents(fake_embedder, {"chess.txt": ARTICLES["chess.txt"]}))
    store = open_index(index_dir)
    try:
        assert list(store.documents()) == ["chess"]
    finally:
        store.close()


def test_refuses_to_overwrite_a_directory_that_is_not_an_index(tmp_path, contents):
    target = tmp_path / "my-documents"
    target.mkdir()
    (target / "thesis.txt").write_text("years of work")
    (target / "manifest.json").write_text('{"format": "something else"}')
    before = _snapshot(target)
    with pytest.raises(InputError, match="not a verbatim index"):
        write_index(target, **contents)
    assert _snapshot(target) == before
    assert _leftovers(target) == []


def test_refuses_to_overwrite_a_file(tmp_path, contents):
    target = tmp_path / "notes.txt"
    target.write_text("keep me")
    with pytest.raises(InputError):
        write_index(target, **contents)
    assert target.read_text() == "keep me"


def test_writes_into_an_empty_existing_directory(tmp_path, contents):
    (tmp_path / "idx").mkdir()
    write_index(tmp_path / "idx", **contents)
    store = open_index(tmp_path / "idx")
    store.close()

