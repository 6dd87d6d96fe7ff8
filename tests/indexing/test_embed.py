"""The embedder's ONNX query path: where exports live, when they are used, and that they
match PyTorch (cosine >= 0.99 on every chunk of seeds/) without importing torch.

The unit tests use small fake model folders and never load torch; the `integration` ones
export the real model once per module into a private cache directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from rag.indexing import onnx
from rag.indexing.embed import SentenceTransformerEmbedder, get_embedder


@pytest.fixture(autouse=True)
def private_cache(tmp_path_factory, monkeypatch) -> Path:
    """Exports go to a fresh cache directory, never the user's."""
    cache = tmp_path_factory.mktemp("rag-cache")
    monkeypatch.setenv("RAG_CACHE", str(cache))
    monkeypatch.delenv("RAG_ONNX", raising=False)
    return cache


def _fake_model(folder: Path, *, pooling: str = "mean") -> Path:
    """A model folder with just enough files for the export bookkeeping (no weights)."""
    (folder / "1_Pooling").mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"hidden_size": 8}))
    modes = {f"pooling_mode_{m}_tokens" if m != "cls" else "pooling_mode_cls_token": m == pooling
             for m in ("mean", "max", "cls")}
    (folder / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 8, **modes}))
    return folder


@pytest.mark.parametrize("value, on", [("0", False), ("false", False), (" OFF ", False),
                                       ("no", False), ("1", True), ("", True), ("yes", True)])
def test_rag_onnx_switch(monkeypatch, value, on):
    monkeypatch.setenv("RAG_ONNX", value)
    assert onnx.enabled() is on


def test_cache_root_prefers_rag_cache_then_xdg(monkeypatch, tmp_path):
    monkeypatch.setenv("RAG_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "b"))
    assert onnx.cache_root() == tmp_path / "a"
    monkeypatch.delenv("RAG_CACHE")
    assert onnx.cache_root() == tmp_path / "b" / "verbatim"


@pytest.mark.parametrize("pooling, ok", [("mean", True), ("cls", False), ("max", False)])
def test_only_mean_pooling_models_are_exported(tmp_path, pooling, ok):
    assert onnx.supported(_fake_model(tmp_path / "m", pooling=pooling)) is ok
    assert onnx.supported(tmp_path / "missing") is False


def test_a_changed_model_gets_another_export_directory(tmp_path):
    model = _fake_model(tmp_path / "m")
    before = onnx.export_dir(model)
    assert before.parent == onnx.cache_root() / "onnx"
    onnx.fingerprint.cache_clear()
    (model / "config.json").write_text(json.dumps({"hidden_size": 16}))
    assert onnx.export_dir(model) != before


def test_packaged_models_are_named_after_their_package(tmp_path):
    model = _fake_model(tmp_path / "some_package" / "model")
    assert onnx.export_dir(model).name.startswith("some_package-")


def test_no_export_means_no_encoder(tmp_path):
    model = _fake_model(tmp_path / "m")
    assert onnx.find_export(model) is None
    assert onnx.load_encoder(model) is None


def test_a_damaged_export_warns_is_removed_and_falls_back(tmp_path):
    pytest.importorskip("onnxruntime")
    model = _fake_model(tmp_path / "m")
    directory = onnx.export_dir(model)
    directory.mkdir(parents=True)
    (directory / "export.json").write_text("{}")
    (directory / "model.onnx").write_bytes(b"not a model")
    (directory / "tokenizer.json").write_text("{}")
    with pytest.warns(onnx.OnnxExportFailed, match="unreadable"):
        assert onnx.load_encoder(model) is None
    assert not directory.exists()


def test_the_int8_model_without_onnxruntime_is_a_clear_error(monkeypatch):
    from rag.errors import EmbedderError
    from rag.indexing.embed import INT8_MODEL

    with pytest.raises(EmbedderError, match="onnxruntime only: unset RAG_ONNX=0"):
        SentenceTransformerEmbedder(INT8_MODEL, onnx=False).embed(["NATO"])
    monkeypatch.setenv("RAG_ONNX", "0")
    with pytest.raises(EmbedderError, match="--model all-MiniLM-L6-v2"):
        SentenceTransformerEmbedder(INT8_MODEL).embed(["NATO"])


def test_turned_off_embedder_has_no_onnx_encoder():
    assert SentenceTransformerEmbedder(onnx=False).onnx_encoder() is None


def test_rag_onnx_0_hides_an_existing_export(monkeypatch, tmp_path):
    model = _fake_model(tmp_path / "m")
    directory = onnx.export_dir(model)
    directory.mkdir(parents=True)
    (directory / "export.json").write_text("{}")
    assert onnx.find_export(model) == directory
    monkeypatch.setenv("RAG_ONNX", "0")
    assert onnx.load_encoder(model) is None


# --- the real model -------------------------------------------------------------------


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The real model loaded in PyTorch (which exports it) with a module-private cache."""
    cache = tmp_path_factory.mktemp("rag-cache-real")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("RAG_CACHE", str(cache))
        mp.delenv("RAG_ONNX", raising=False)
        embedder = SentenceTransformerEmbedder()
        with warnings.catch_warnings():
            warnings.simplefilter("error", onnx.OnnxExportFailed)
            embedder.model  # noqa: B018 - loading the model makes the export
        yield embedder, cache


def _seed_chunks() -> list[str]:
    from conftest import SEEDS

    from rag.reading.chunk import chunk_document
    from rag.reading.ingest import read_documents

    counter = get_embedder().count_tokens
    limit = get_embedder().max_tokens
    return [c.text for d in read_documents([SEEDS])
            for c in chunk_document(d, model_limit=limit, model_counter=counter)]


@pytest.mark.integration
def test_loading_the_model_exports_it_once(exported, monkeypatch):
    embedder, cache = exported
    monkeypatch.setenv("RAG_CACHE", str(cache))
    directory = onnx.find_export(embedder.path)
    assert directory is not None and directory.is_relative_to(cache)
    meta = json.loads((directory / "export.json").read_text())
    assert meta["format"] == onnx.EXPORT_FORMAT and meta["min_cosine"] >= onnx.MIN_COSINE
    made = (directory / "model.onnx").stat().st_mtime_ns
    assert onnx.ensure_export(embedder.model, embedder.path) == directory
    assert (directory / "model.onnx").stat().st_mtime_ns == made


@pytest.mark.integration
def test_onnx_matches_pytorch_on_every_seed_chunk(exported, monkeypatch):
    embedder, cache = exported
    monkeypatch.setenv("RAG_CACHE", str(cache))
    texts = _seed_chunks()
    assert len(texts) > 20
    reference = SentenceTransformerEmbedder(onnx=False).embed(texts)
    encoder = embedder.onnx_encoder()
    assert encoder is not None
    batched = encoder.encode(texts)
    one_by_one = np.vstack([embedder.embed([t]) for t in texts[:20]])
    assert embedder.last_backend == "onnx"
    assert (reference * batched).sum(axis=1).min() >= 0.99
    assert (reference[:len(one_by_one)] * one_by_one).sum(axis=1).min() >= 0.99
    assert np.allclose(np.linalg.norm(batched, axis=1), 1.0, atol=1e-5)


@pytest.mark.integration
def test_indexing_calls_use_the_export_too_sorted_by_length_in_input_order(exported, monkeypatch):
    embedder, cache = exported
    monkeypatch.setenv("RAG_CACHE", str(cache))
    texts = _seed_chunks()[:40] + ["NATO.", "A short one."]
    reference = SentenceTransformerEmbedder(onnx=False).embed(texts)
    vectors = embedder.embed(texts, batch_size=8)
    assert embedder.last_backend == "onnx"
    assert (reference * vectors).sum(axis=1).min() >= 0.999


@pytest.mark.integration
def test_a_one_off_search_or_answer_never_imports_torch(exported, tmp_path):
    """A new process searching and answering on a real-model index embeds the question (and
    the sentences `rag.answering.answer` scores) with onnxruntime."""
    from conftest import SEEDS

    from rag.indexing.build import build_index

    embedder, cache = exported
    build_index([SEEDS], index_dir=tmp_path / "index", embedder=embedder)
    code = ("import sys\nfrom rag.search.retrieve import Retriever\n"
            f"r = Retriever.load({str(tmp_path / 'index')!r})\n"
            "p = r.search('Who will succeed Stoltenberg as NATO Secretary General?', k=3)\n"
            "assert p and 'Stoltenberg' in p[0].text, p\n"
            "from rag.answering.answer import Answerer\n"
            "a = Answerer(r).ask('Who will succeed Stoltenberg as NATO Secretary General?')\n"
            "print(r.embedder.last_backend, 'torch' in sys.modules)\n")
    env = {**os.environ, "RAG_CACHE": str(cache)}
    env.pop("RAG_ONNX", None)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["onnx", "False"]


@pytest.mark.integration
def test_the_int8_model_is_quantized_once_and_stays_close_to_the_float_one(exported, monkeypatch):
    from rag.indexing.embed import INT8_MODEL

    embedder, cache = exported
    monkeypatch.setenv("RAG_CACHE", str(cache))
    onnx._open.cache_clear()
    int8 = SentenceTransformerEmbedder(INT8_MODEL)
    texts = _seed_chunks()
    vectors = int8.embed(texts)
    directory = onnx.find_export(embedder.path)
    made = (directory / onnx.INT8_FILE).stat()
    assert made.st_size < (directory / "model.onnx").stat().st_size * 0.7
    assert oct(made.st_mode & 0o777) == "0o644"
    cosine = (embedder.embed(texts) * vectors).sum(axis=1)
    assert cosine.min() >= onnx.MIN_COSINE_INT8 and cosine.mean() >= 0.99
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert int8.last_backend == "onnx" and int8.name == INT8_MODEL
    again = SentenceTransformerEmbedder(INT8_MODEL)
    assert np.array_equal(again.embed(texts), vectors)
    # activations are quantized per batch, so a chunk's vector moves a little with its company
    alone = np.vstack([again.embed([t]) for t in texts[:8]])
    assert (alone * vectors[:8]).sum(axis=1).min() >= 0.98
    assert (directory / onnx.INT8_FILE).stat().st_mtime_ns == made.st_mtime_ns
    assert not list(directory.glob(".int8-*"))


@pytest.mark.integration
def test_an_int8_index_is_searched_with_the_int8_model_in_a_new_process(exported, tmp_path):
    """`rag index --model all-MiniLM-L6-v2-int8`, then `rag search` and `rag index` again with
    no --model: the questions use the index's model and nothing is embedded twice."""
    from conftest import SEEDS

    _, cache = exported
    env = {**os.environ, "RAG_CACHE": str(cache), "RAG_INDEX": str(tmp_path / "index")}
    env.pop("RAG_ONNX", None)

    def rag(*args):
        result = subprocess.run([sys.executable, "-m", "rag", *args], capture_output=True,
                                text=True, env=env, timeout=300, check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout

    first = json.loads(rag("index", str(SEEDS), "--model", "all-MiniLM-L6-v2-int8", "--json"))
    assert first["embedded"] == first["chunks"] > 20
    assert json.loads(rag("info", "--json"))["model"] == "all-MiniLM-L6-v2-int8"
    found = json.loads(rag("search", "How many allies met the 2% spending goal in 2022?",
                           "--json"))
    assert any("seven countries were meeting" in p["text"] for p in found["passages"][:3])
    again = json.loads(rag("index", str(SEEDS), "--json"))
    assert again["embedded"] == 0 and again["reused"] == first["chunks"]
    assert json.loads(rag("info", "--json"))["model"] == "all-MiniLM-L6-v2-int8"


def test_the_embedding_bar_moves_by_characters_and_counts_chunks(capsys):
    """Chunks go shortest first: 90 short chunks of 100 are 8% of the work, not 90%."""
    from rag.indexing.embed import EmbeddingBar

    texts = ["a"] * 90 + ["b" * 100] * 10
    bar = EmbeddingBar(texts)
    bar.update(texts[:90])
    shown = bar.bar.format_dict
    assert (shown["n"], shown["total"]) == (90, 1090)
    assert shown["prefix"] == "embedding 90/100 chunks" and shown["postfix"].endswith("chunks/s")
    bar.update(texts[90:])
    bar.close()
    assert "embedding 0/100 chunks   0%|" in capsys.readouterr().err
