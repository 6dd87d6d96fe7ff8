"""The settings a build takes from its collection's size: known answers, and builds with the
size limit lowered so that three small articles count as a large collection (fake model)."""

from __future__ import annotations

import pytest
from conftest import FakeEmbedder

import rag.indexing.build
from rag.indexing import milvus_connect, settings
from rag.indexing.build import build_index
from rag.indexing.embed import DEFAULT_MODEL, INT8_MODEL
from rag.indexing.location import parse_location
from rag.reading.chunk import ChunkConfig


def test_a_small_collection_keeps_the_defaults_and_a_large_one_gets_int8_and_200_tokens():
    small = settings.by_size(settings.LARGE_CHARACTERS - 1, model=True, chunking=True)
    assert (small.model, small.chunking) == (DEFAULT_MODEL, ChunkConfig())
    large = settings.by_size(settings.LARGE_CHARACTERS, model=True, chunking=True)
    assert (large.model, large.chunking.max_tokens) == (INT8_MODEL, 200)
    assert settings.by_size(10**9, model=False, chunking=False) == settings.Sized(None, None)
    assert settings.describe(settings.Sized(DEFAULT_MODEL, None), 10**9) is None
    assert settings.describe(small, settings.LARGE_CHARACTERS - 1) is None
    line = settings.describe(large, 29_424_340)
    assert "29.4 million characters" in line and INT8_MODEL in line and "200-token" in line
    assert "--model all-MiniLM-L6-v2 --chunk-tokens 128" in line


def test_without_onnxruntime_a_large_collection_keeps_the_float_model(monkeypatch):
    monkeypatch.setenv("RAG_ONNX", "0")
    sized = settings.by_size(settings.LARGE_CHARACTERS, model=True, chunking=True)
    assert (sized.model, sized.chunking.max_tokens) == (DEFAULT_MODEL, 200)
    assert "200-token chunks" in settings.describe(sized, settings.LARGE_CHARACTERS)
    assert DEFAULT_MODEL + " model" not in settings.describe(sized, settings.LARGE_CHARACTERS)


@pytest.fixture
def lowered(monkeypatch):
    """Any collection of 100 characters or more is large; models are fakes named as asked."""
    monkeypatch.setattr(settings, "LARGE_CHARACTERS", 100)
    made = []

    def fake(model=DEFAULT_MODEL):
        made.append(model)
        return FakeEmbedder(model)
    monkeypatch.setattr(rag.indexing.build, "get_embedder", fake)
    return made


def _settings(index) -> tuple[str, int]:
    own = settings.own_manifest(index)
    return own["model"], own["chunker"]["max_tokens"]


def test_a_new_large_index_is_int8_with_200_tokens_and_keeps_them(tmp_path, corpus, lowered,
                                                                 capsys):
    index = tmp_path / "index"
    build_index([corpus], index_dir=index, progress=True)
    assert _settings(index) == (INT8_MODEL, 200)
    assert "a large collection" in capsys.readouterr().err
    (corpus / "extra.txt").write_text("Extra\n\nA short note about the weather.\n", encoding="utf-8")
    report = build_index([corpus], index_dir=index)
    assert _settings(index) == (INT8_MODEL, 200) and report.embedded < report.chunks


def test_what_the_caller_names_wins_over_the_size(tmp_path, corpus, lowered):
    build_index([corpus], index_dir=tmp_path / "a", embedder=FakeEmbedder(DEFAULT_MODEL))
    assert _settings(tmp_path / "a") == (DEFAULT_MODEL, 200)
    build_index([corpus], index_dir=tmp_path / "b", chunk_config=ChunkConfig(max_tokens=64))
    assert _settings(tmp_path / "b") == (INT8_MODEL, 64)


def test_an_existing_index_keeps_its_settings_however_large(tmp_path, corpus, lowered):
    index = tmp_path / "index"
    build_index([corpus], index_dir=index, embedder=FakeEmbedder(DEFAULT_MODEL),
                chunk_config=ChunkConfig())
    build_index([corpus], index_dir=index)
    assert _settings(index) == (DEFAULT_MODEL, 128)


def test_a_milvus_index_keeps_its_model_when_built_again_without_one(tmp_path, corpus, lowered):
    uri = f"milvus://{tmp_path}/v.db"
    try:
        build_index([corpus], index_dir=uri)
        assert _settings(parse_location(uri)) == (INT8_MODEL, 200)
        assert settings.own_manifest(parse_location(uri))["characters"] > settings.LARGE_CHARACTERS
        lowered.clear()
        (corpus / "extra.txt").write_text("Extra\n\nA note on rain.\n", encoding="utf-8")
        report = build_index([corpus], index_dir=uri)
        assert lowered == [INT8_MODEL] and report.embedded < report.chunks
    finally:
        milvus_connect.disconnect()


def test_a_large_index_fuses_by_minmax_and_a_small_one_by_rank():
    assert settings.fusion_by_size(settings.FUSION_CHARACTERS - 1) == "rrf"
    assert settings.fusion_by_size(settings.FUSION_CHARACTERS) == "minmax"
    assert settings.fusion_by_size(19_717) == "rrf"  # the seeds
    assert settings.fusion_by_size(0) == "rrf"  # built before characters were recorded


def test_an_index_records_its_characters_and_searches_with_the_fusion_of_its_size(
        tmp_path, corpus, monkeypatch):
    from rag.search.retrieve import Retriever

    monkeypatch.setattr(settings, "FUSION_CHARACTERS", 100)  # these 3 articles count as large

    index = tmp_path / "index"
    build_index([corpus], index_dir=index, embedder=FakeEmbedder(DEFAULT_MODEL))
    retriever = Retriever.load(index, embedder=FakeEmbedder(DEFAULT_MODEL))
    texts = retriever.store.documents(sorted(retriever.store.manifest.documents))
    assert retriever.store.manifest.characters == sum(len(d.text) for d in texts.values())
    assert retriever.fusion == "minmax"
    assert retriever.with_config(fusion="rrf").fusion == "rrf"  # named wins
    question = "sourdough bakery lava"
    for fused in ("minmax", "rrf"):
        named = retriever.with_config(fusion=fused).search(question, k=3)
        ranked = [(p.chunk_id, p.score) for p in retriever.search(question, k=3)]
        assert ([(p.chunk_id, p.score) for p in named] == ranked) == (fused == "minmax")


def test_an_index_that_records_no_characters_is_rewritten_once_without_embedding(tmp_path,
                                                                               corpus):
    import json

    from rag.indexing import swap

    index = tmp_path / "index"
    build_index([corpus], index_dir=index, embedder=FakeEmbedder(DEFAULT_MODEL))
    file = swap.current_version(index) / "manifest.json"
    old = json.loads(file.read_text())
    file.write_text(json.dumps({k: v for k, v in old.items() if k != "characters"}))
    assert settings.own_manifest(index).get("characters") is None
    report = build_index([corpus], index_dir=index, embedder=FakeEmbedder(DEFAULT_MODEL))
    assert report.written and report.embedded == 0
    assert settings.own_manifest(index)["characters"] == old["characters"] > 0
    again = build_index([corpus], index_dir=index, embedder=FakeEmbedder(DEFAULT_MODEL))
    assert not again.written
