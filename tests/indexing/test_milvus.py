"""The index kept in Milvus: the same pipeline and records as a local directory, incremental,
published by alias. Every test runs milvus-lite on its own `.db` under tmp_path, started by
pymilvus in this process, with the fake embedder (no model).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ARTICLES, FakeEmbedder, write_corpus

import rag.indexing.build
import rag.indexing.embed
import rag.search.retrieve
from rag.answering.answer import AnswerConfig, Answerer
from rag.cli import main
from rag.errors import InputError
from rag.evaluation.evaluate import DEFAULT_SET, load_set
from rag.indexing import milvus_connect, milvus_store
from rag.indexing.backend import open_store
from rag.indexing.build import build_index
from rag.indexing.lexical import LexicalConfig
from rag.indexing.location import MilvusURI, parse_location
from rag.search.retrieve import Retriever

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
ORCHID = ("Rare orchid found in alpine meadow\n\nBotanists discovered a rare orchid species in "
          "an alpine meadow above the glacier, the first sighting in the valley for eighty years.\n")


@pytest.fixture
def uri(tmp_path):
    """A milvus-lite store of its own; its server thread is stopped after the test."""
    where = f"milvus://{tmp_path}/v.db"
    yield where
    milvus_connect.disconnect()


class Weighted(FakeEmbedder):
    """The fake embedder with a weight per word, so that dense scores seldom tie (ties are
    ordered differently by FAISS and Milvus)."""

    def _embed(self, texts):
        out = super()._embed(texts)
        return out * (1 + (hash_weights(self.dimension)))


def hash_weights(n: int):
    import numpy as np

    return np.random.default_rng(7).random(n).astype(np.float32)


@pytest.fixture
def seeds_pair(tmp_path, uri):
    """The seeds indexed twice with the same fake embedder: in Milvus and in a directory."""
    embedder = Weighted()
    build_index([SEEDS], index_dir=uri, embedder=embedder)
    build_index([SEEDS], index_dir=tmp_path / "local", embedder=embedder)
    return (Retriever.load(uri, embedder=embedder),
            Retriever.load(tmp_path / "local", embedder=embedder), embedder)


def _shown(passages) -> list[tuple]:
    return [(p.chunk_id, p.doc_id, p.start, p.end, p.text, p.title, p.date, p.source, p.url)
            for p in passages]


# --- the same records and results as the local store ---------------------------------------

@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_search_gives_the_local_stores_passages(seeds_pair, mode):
    milvus, local, _ = seeds_pair
    for q in load_set(DEFAULT_SET)[:40]:
        got, want = milvus.search(q.question, k=5, mode=mode), local.search(q.question, k=5, mode=mode)
        assert _shown(got) == _shown(want), q.question
        assert [p.score for p in got] == pytest.approx([p.score for p in want], rel=1e-5)


def test_milvus_bm25_ranks_and_scores_as_bm25s_on_every_seed_question(seeds_pair):
    """Milvus's BM25 over our encoded terms, divided by k1 + 1, is bm25s's "lucene" score."""
    milvus, local, _ = seeds_pair
    for q in load_set(DEFAULT_SET):
        got = milvus.store.lexical_hits(q.question, 10)
        want = local.store.lexical_hits(q.question, 10)
        assert [r for r, _ in got] == [r for r, _ in want], q.question
        assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-5)


def test_every_record_round_trips(seeds_pair):
    milvus, local, _ = seeds_pair
    m, lm = milvus.store.manifest, local.store.manifest
    assert (m.model, m.dimension, m.chunker, m.lexical, m.documents, m.chunks, m.sources) == (
        lm.model, lm.dimension, lm.chunker, lm.lexical, lm.documents, lm.chunks, lm.sources)
    assert (m.format, m.format_version) == (milvus_store.FORMAT, milvus_store.FORMAT_VERSION)
    assert milvus.store.chunks() == local.store.chunks()
    assert milvus.store.chunk_hashes() == local.store.chunk_hashes()
    assert milvus.store.documents() == local.store.documents()
    assert milvus.store.word_prefixes() == local.store.word_prefixes()
    assert milvus.store.files() == local.store.files()
    assert milvus.store.ids_by_source() == local.store.ids_by_source()
    rows = [0, 7, 3]
    assert milvus.store.vectors_of(rows) == pytest.approx(local.store.vectors_of(rows))
    terms = sorted(t for t in local.store.lexical.vocab if t) + ["neverindexedterm"]
    assert milvus.store.document_frequencies(terms) == local.store.document_frequencies(terms)


def test_a_version_without_term_counts_weighs_words_evenly(seeds_pair):
    """An index built before the counts were kept still answers: its IDF is uniform."""
    milvus, _, _ = seeds_pair
    store = milvus.store
    store.client.delete(store.names["meta"], filter='name == "frequencies"')
    fresh = open_store(store.path)
    assert fresh.document_frequencies(["nato"]) is None
    assert not Answerer(Retriever(fresh, milvus.embedder)).ask("Who leads NATO?").refused


def test_ask_cites_verified_quotes_from_milvus(seeds_pair):
    milvus, local, _ = seeds_pair
    for question in ("How many countries does NATO have?", "Who will succeed Stoltenberg?"):
        answer, want = Answerer(milvus).ask(question), Answerer(local).ask(question)
        assert answer.text == want.text and answer.citations == want.citations
        assert answer.confidence == pytest.approx(want.confidence, abs=1e-9)
        for c in answer.citations:
            assert Path(c.source).read_text(encoding="utf-8")[c.start:c.end] == c.quote


@pytest.mark.parametrize("reader", ["cheap", "learned"])
def test_both_readers_read_alike_through_milvus_on_every_seed_question(seeds_pair, reader):
    """The reader's features weigh words by how many chunks hold them, which Milvus keeps
    beside the index: every seed question gets the same answer and confidence."""
    milvus, local, _ = seeds_pair
    config = AnswerConfig(reader=reader)
    through, here = Answerer(milvus, config=config), Answerer(local, config=config)
    for q in load_set(DEFAULT_SET):
        answer, want = through.ask(q.question), here.ask(q.question)
        assert (answer.text, answer.refused) == (want.text, want.refused), q.question
        assert answer.confidence == pytest.approx(want.confidence, abs=1e-9), q.question


def test_a_long_non_ascii_document_is_stored_in_parts_and_read_back_whole(tmp_path, uri):
    text = "Über die Brücke. " * 9000 + "Café au lait coûte 3€. 🙂 " * 4000  # ~300,000 chars
    corpus = write_corpus(tmp_path / "c", {"long.txt": "Lange Geschichte\n\n" + text})
    build_index([corpus], index_dir=uri, embedder=FakeEmbedder())
    store = open_store(uri)
    [doc] = store.documents().values()
    assert doc.text == (corpus / "long.txt").read_text(encoding="utf-8")
    assert len(doc.text.encode("utf-8")) > 3 * milvus_store.PART_BYTES
    for _, chunk in store.chunks():
        assert doc.text[chunk.start:chunk.end] == chunk.text


# --- incremental, versioned ---------------------------------------------------------------------

def test_reindexing_embeds_only_what_changed(tmp_path, uri):
    corpus = write_corpus(tmp_path / "corpus", ARTICLES)
    embedder = FakeEmbedder()
    first = build_index([corpus], index_dir=uri, embedder=embedder)
    assert first.written and first.embedded == first.chunks == embedder.embedded
    again = build_index([corpus], index_dir=uri, embedder=embedder)
    assert not again.written and again.embedded == 0 and embedder.embedded == first.chunks
    (corpus / "orchid.txt").write_text(ORCHID, encoding="utf-8")
    added = build_index([corpus], index_dir=uri, embedder=embedder)
    assert added.added == ("orchid",) and added.embedded == embedder.embedded - first.chunks == 1
    (corpus / "chess.txt").unlink()
    removed = build_index([corpus], index_dir=uri, embedder=embedder)
    assert removed.removed == ("chess",) and removed.embedded == 0
    store = open_store(uri)
    assert set(store.documents()) == {"bakery", "volcano", "orchid"}
    assert {c.doc_id for _, c in store.chunks()} == {"bakery", "volcano", "orchid"}
    retriever = Retriever(store, embedder)
    assert retriever.search("grandmaster knight", k=3, mode="lexical") == []
    assert retriever.search("orchid glacier", k=1)[0].doc_id == "orchid"


def test_add_keeps_the_indexed_documents_and_new_bm25_settings_embed_nothing(tmp_path, uri):
    corpus = write_corpus(tmp_path / "corpus", ARTICLES)
    other = write_corpus(tmp_path / "other", {"orchid.txt": ORCHID})
    embedder = FakeEmbedder()
    build_index([corpus], index_dir=uri, embedder=embedder)
    before = embedder.embedded
    report = build_index([other], index_dir=uri, embedder=embedder, add=True)
    assert report.documents == 4 and report.embedded == embedder.embedded - before == 1
    retuned = build_index([corpus, other], index_dir=uri, embedder=embedder,
                          lexical_config=LexicalConfig(k1=1.2))
    assert retuned.written and retuned.embedded == 0
    store = open_store(uri)
    assert store.manifest.lexical["k1"] == 1.2
    local = tmp_path / "local"
    build_index([corpus, other], index_dir=local, embedder=FakeEmbedder(),
                lexical_config=LexicalConfig(k1=1.2))
    want = open_store(local).lexical_hits("bakery sourdough flour", 5)
    got = store.lexical_hits("bakery sourdough flour", 5)
    assert [r for r, _ in got] == [r for r, _ in want]
    assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-5)


def test_a_publish_moves_the_alias_and_keeps_only_the_version_it_replaced(tmp_path, uri):
    corpus = write_corpus(tmp_path / "corpus", ARTICLES)
    embedder = FakeEmbedder()
    build_index([corpus], index_dir=uri, embedder=embedder)
    reader = Retriever.load(uri, embedder=embedder)
    for i in range(3):
        (corpus / "orchid.txt").write_text(ORCHID + f"Update {i}.\n", encoding="utf-8")
        build_index([corpus], index_dir=uri, embedder=embedder)
    store = open_store(uri)
    assert store.version == 4 and store.details()["versions_stored"] == [3, 4]
    assert not reader.store.is_current()
    # version 1 was dropped under this reader: it opens the index again, reads version 4 only
    [p] = reader.search("orchid glacier", k=1)
    assert reader.store.version == 4 and p.doc_id == "orchid"


class StopAfter(FakeEmbedder):
    """Fails after `calls` calls to the model, as Ctrl-C would."""

    def __init__(self, calls: int):
        super().__init__()
        self.calls = calls

    def _embed(self, texts):
        if self.calls == 0:
            raise KeyboardInterrupt
        self.calls -= 1
        return super()._embed(texts)


def test_an_interrupted_build_leaves_the_alias_and_the_rerun_embeds_only_the_rest(tmp_path, uri,
                                                                                 monkeypatch):
    monkeypatch.setattr(rag.indexing.milvus_build, "BATCH", 4)
    corpus = write_corpus(tmp_path / "corpus", ARTICLES)
    build_index([corpus], index_dir=uri, embedder=FakeEmbedder())
    (corpus / "seeds").mkdir()
    for f in SEEDS.iterdir():
        (corpus / "seeds" / f.name).write_bytes(f.read_bytes())
    stopping = StopAfter(3)
    with pytest.raises(KeyboardInterrupt):
        build_index([corpus], index_dir=uri, embedder=stopping)
    assert stopping.embedded == 12
    store = open_store(uri)
    assert store.version == 1 and set(store.documents()) == {"bakery", "chess", "volcano"}
    rest = FakeEmbedder()
    report = build_index([corpus], index_dir=uri, embedder=rest)
    assert report.embedded == rest.embedded == report.chunks - 12 - store.manifest.chunks
    assert open_store(uri).details()["versions_stored"] == [1, 3]  # the leftover 2 is dropped


KILLED_BUILD = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from conftest import FakeEmbedder
import rag.indexing.milvus_build as mb
from rag.indexing.build import build_index
mb.BATCH = 4

class Killed(FakeEmbedder):
    def _embed(self, texts):
        if self.embedded >= {after}:
            os.kill(os.getpid(), signal.SIGKILL)
        return super()._embed(texts)

build_index([{corpus!r}], index_dir={uri!r}, embedder=Killed())
"""


def test_a_build_killed_with_sigkill_resumes_without_embedding_twice(tmp_path, uri):
    code = KILLED_BUILD.format(tests=str(ROOT / "tests"), after=20, corpus=str(SEEDS), uri=uri)
    child = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=300, cwd=ROOT, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    embedder = FakeEmbedder()
    report = build_index([SEEDS], index_dir=uri, embedder=embedder)
    assert report.written and report.embedded == embedder.embedded == report.chunks - 20
    assert open_store(uri).details()["versions_stored"] == [2]


# --- the command line and the Python API take the URI ---------------------------------------

@pytest.fixture
def fake_model(monkeypatch, fake_embedder):
    for module in (rag.indexing.build, rag.search.retrieve, rag.indexing.embed):
        monkeypatch.setattr(module, "get_embedder", lambda model=None: fake_embedder)
    return fake_embedder


def test_rag_index_ask_info_with_store(uri, capsys, fake_model):
    assert main(["index", str(SEEDS), "--store", uri]) == 0
    assert f"{uri}: updated, 5 documents" in capsys.readouterr().out
    assert main(["ask", "How many countries does NATO have?", "--store", uri, "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert not answer["refused"] and answer["citations"]
    for c in answer["citations"]:
        assert Path(c["source"]).read_text(encoding="utf-8")[c["start"]:c["end"]] == c["quote"]
    assert main(["info", "--store", uri, "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["store"] == "milvus-lite" and info["documents"] == 5 and info["version"] == 1
    assert info["faiss"] == "FLAT" and info["size_bytes"] > 0
    assert main(["index", str(SEEDS), "--store", uri]) == 0
    assert "unchanged" in capsys.readouterr().out


def test_rag_store_is_the_default_and_index_with_store_is_refused(uri, capsys, fake_model,
                                                                  monkeypatch):
    monkeypatch.setenv("RAG_STORE", uri)
    assert main(["search", "Stoltenberg", "--json"]) == 0  # builds the default index first
    assert "building it from" in capsys.readouterr().err
    assert open_store(uri).manifest.chunks > 0
    assert main(["search", "NATO", "--store", uri, "--index", "x"]) == 1
    assert "use one of --index DIR" in capsys.readouterr().err
    missing = uri.replace("v.db", "w.db")
    assert main(["search", "NATO", "--store", missing]) == 1
    assert f"no index at {missing}; build it with `rag index PATH ... --store {missing}`" in \
        capsys.readouterr().err


def test_the_python_api_takes_the_uri_where_it_takes_a_directory(uri, fake_embedder):
    build_index([SEEDS], index_dir=uri, embedder=fake_embedder)
    answerer = Answerer(Retriever.load(uri, embedder=fake_embedder))
    assert answerer.retriever.store.path == uri and answerer.ask("Who is Mark Rutte?").citations
    assert isinstance(parse_location(uri), MilvusURI)


@pytest.mark.parametrize("text, fix", [
    ("milvus:///tmp/v", "ending in .db"), ("ftp://host/x", "unknown store"),
    ("milvus://host:19530?shards=0", "1 or more"), ("milvus://host:x", "port is not a number"),
    ("milvus:///tmp/v.db?name=a-b", "letters, digits"), ("milvus:///tmp/v.db?nam=a", "takes .name=NAME")])
def test_bad_uris_say_which_forms_exist(text, fix):
    with pytest.raises(InputError, match=fix):
        parse_location(text)


def test_uri_forms():
    lite = parse_location("milvus:///tmp/x/v.db?name=news")
    assert (lite.uri, lite.local_file, lite.prefix) == ("/tmp/x/v.db", Path("/tmp/x/v.db"),
                                                          "verbatim_news")
    server = parse_location("https://db.example/prod?replicas=2&shards=4")
    assert (server.uri, server.db_name, server.replicas, server.shards, server.local_file) == (
        "https://db.example:19530", "prod", 2, 4, None)
    assert parse_location("milvus://db.example").uri == "http://db.example:19530"
    assert os.fspath(parse_location("index/default")) == "index/default"
