"""Dense, lexical and hybrid search over one index, kept in step by incremental builds."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict

import numpy as np
import pytest
from conftest import FakeEmbedder, write_corpus

import rag.indexing.build
import rag.indexing.embed
import rag.indexing.store
import rag.search.retrieve
from rag.cli import main
from rag.errors import IndexMismatchError, InputError
from rag.indexing.build import build_index
from rag.indexing.lexical import TOKENIZER_VERSION, LexicalConfig
from rag.search.fusion import rrf
from rag.search.rerank import Reranker
from rag.search.retrieve import Retriever, SearchConfig

SEED_TERMS = [  # (query, text the best lexical passage must hold, its document)
    ("Erdogan veto", "Erdoğan", "001_4db963de024e33e7"),
    ("$95.3 billion aid", "$95.3 billion", "002_be2d0c343ec47e23"),
    ("11% land border", "11%", "001_4db963de024e33e7"),
    ("Secretary General", "Secretary-General", None),
]


@pytest.fixture
def index(tmp_path, corpus, fake_embedder):
    path = tmp_path / "index"
    build_index([corpus], index_dir=path, embedder=fake_embedder)
    return path


@pytest.fixture
def retriever(index, fake_embedder):
    r = Retriever.load(index, embedder=fake_embedder)
    yield r
    r.store.close()


@pytest.fixture(scope="module")
def seeds_retriever(tmp_path_factory):
    path = tmp_path_factory.mktemp("seeds") / "index"
    embedder = FakeEmbedder()
    build_index([rag.indexing.build.default_corpus()], index_dir=path, embedder=embedder)
    return Retriever.load(path, embedder=embedder)


# --- modes -------------------------------------------------------------------------------

@pytest.mark.parametrize("query, must_hold, doc", SEED_TERMS)
def test_lexical_search_finds_exact_names_and_numbers_in_the_seeds(
        seeds_retriever, query, must_hold, doc):
    [best] = seeds_retriever.search(query, k=1, mode="lexical")
    assert must_hold in best.text and best.doc_id == (doc or best.doc_id)
    assert best.score == best.lexical_score > 0 and best.dense_score is None


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_every_mode_ranks_the_right_article_first(retriever, mode):
    passages = retriever.search("sourdough starter culture bakery", k=3, mode=mode)
    assert passages[0].doc_id == "bakery"
    assert [p.rank for p in passages] == list(range(1, len(passages) + 1))
    scores = [p.score for p in passages]
    assert scores == sorted(scores, reverse=True)


def test_the_default_mode_is_hybrid_and_a_config_can_change_it(index, fake_embedder):
    assert SearchConfig().mode == "hybrid"
    r = Retriever.load(index, embedder=fake_embedder, config=SearchConfig(mode="lexical"))
    assert r.search("lava", k=1)[0].dense_score is None
    assert r.with_config(mode="dense").search("lava", k=1)[0].lexical_score is None
    assert r.with_config(mode="dense").store is r.store


def test_hybrid_is_the_rrf_of_both_sides(retriever):
    q = "the volcano lava near the village and the bakery flour"
    n = retriever.store.manifest.chunks
    dense = [(p.chunk_id, p.score) for p in retriever.search(q, k=n, mode="dense")]
    lexical = [(p.chunk_id, p.score) for p in retriever.search(q, k=n, mode="lexical")]
    want = rrf([dense, lexical], k=60)
    got = retriever.with_config(max_per_doc=None).search(q, k=n, mode="hybrid")
    assert [p.chunk_id for p in got] == [c for c, _ in want]
    assert [p.score for p in got] == pytest.approx([s for _, s in want])


def test_each_side_fetches_more_candidates_than_k(retriever, monkeypatch):
    asked = []
    dense, lexical = retriever.store.dense_hits, retriever.store.lexical_hits
    monkeypatch.setattr(retriever.store, "dense_hits",
                        lambda q, k: asked.append(k) or dense(q, k))
    monkeypatch.setattr(retriever.store, "lexical_hits",
                        lambda q, k: asked.append(k) or lexical(q, k))
    r = retriever.with_config(candidates=4)
    assert len(r.search("lava", k=2)) == 2
    assert asked == [4, 4]
    r.search("lava", k=5)
    assert asked[-2:] == [5, 5]  # never fewer than k
    r.search("lava", k=50)
    assert asked[-2:] == [6, 6]  # nor more than the index holds


def test_side_weights_decide_between_the_sides(retriever):
    q = "grandmaster knight chess flour rye"
    dense_first = retriever.search(q, k=1, mode="dense")[0].chunk_id
    lexical_first = retriever.search(q, k=1, mode="lexical")[0].chunk_id
    assert retriever.with_config(lexical_weight=0).search(q, k=1)[0].chunk_id == dense_first
    assert retriever.with_config(dense_weight=0).search(q, k=1)[0].chunk_id == lexical_first


@pytest.mark.parametrize("fusion", ["minmax", "zscore"])
def test_score_fusion_is_available(retriever, fusion):
    [best] = retriever.with_config(fusion=fusion).search("sourdough bakery", k=1)
    assert best.doc_id == "bakery" and isinstance(best.score, float) and best.score > 0


def test_lexical_search_loads_no_model(retriever, fake_embedder):
    before = fake_embedder.embedded
    assert retriever.search("lava Grindavik", k=2, mode="lexical")[0].doc_id == "volcano"
    assert fake_embedder.embedded == before


def test_lexical_with_no_known_word_finds_nothing_but_hybrid_still_answers(retriever):
    assert retriever.search("zeppelin", k=3, mode="lexical") == []
    assert len(retriever.search("zeppelin", k=3)) == 3


def test_unknown_mode_is_refused_with_the_allowed_ones(retriever):
    with pytest.raises(InputError, match="dense, lexical, hybrid"):
        retriever.search("lava", k=1, mode="semantic")
    with pytest.raises(InputError, match="dense, lexical, hybrid"):
        SearchConfig(mode="bm25")


@pytest.mark.parametrize("changes, message", [
    ({"candidates": 0}, "candidates"), ({"fusion": "max"}, "rrf, minmax, zscore"),
    ({"max_per_doc": 0}, "max_per_doc"), ({"mmr": 2.0}, "mmr"), ({"rrf_k": -1}, "rrf_k"),
    ({"dense_weight": -1}, "weights")])
def test_bad_search_settings_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        SearchConfig(**changes)


# --- diversity and reranking -------------------------------------------------------------

def test_per_document_cap_spreads_the_top_k(retriever):
    q = "volcano lava Grindavik eruption peninsula magma"
    uncapped = retriever.with_config(max_per_doc=None).search(q, k=3, mode="dense")
    assert len({p.doc_id for p in uncapped}) < 3
    capped = retriever.with_config(max_per_doc=1).search(q, k=3, mode="dense")
    assert len({p.doc_id for p in capped}) == 3


def test_the_default_cap_is_two_passages_per_document(tmp_path, fake_embedder):
    corpus = write_corpus(tmp_path / "c", {
        "long.txt": "Lava everywhere\n\n" + "\n\n".join(
            f"Lava flowed over road {i} and the lava kept coming for hours, said witness {i}."
            for i in range(12)),
        "short.txt": "Bread\n\nThe bakery sells bread, and a little lava cake."})
    build_index([corpus], index_dir=tmp_path / "i", embedder=fake_embedder)
    r = Retriever.load(tmp_path / "i", embedder=fake_embedder)
    assert r.store.manifest.chunks > 3
    passages = r.search("lava", k=3)
    assert [p.doc_id for p in passages] == ["long", "long", "short"]
    uncapped = r.with_config(max_per_doc=None).search("lava", k=3)
    assert [p.doc_id for p in uncapped] == ["long"] * 3


def test_mmr_spreads_the_top_k(retriever):
    q = "volcano lava Grindavik eruption bakery"
    spread = retriever.with_config(mmr=0.3).search(q, k=3, mode="dense")
    assert len({p.doc_id for p in spread}) >= 2
    assert spread[0].chunk_id == retriever.search(q, k=1, mode="dense")[0].chunk_id


class Mentions(Reranker):
    """Deterministic: how often a text mentions `word`."""

    def __init__(self, word: str):
        self.word = word
        self.seen: list[int] = []

    def _score(self, query, texts):
        self.seen.append(len(texts))
        return [t.lower().count(self.word) for t in texts]


def test_a_reranker_reorders_the_best_candidates(retriever):
    reranker = Mentions("starter")
    r = retriever.with_config(reranker=reranker, rerank_depth=4)
    passages = r.search("bakery sourdough flour oven", k=2)
    assert "starter" in passages[0].text
    assert passages[0].score == passages[0].text.lower().count("starter")
    assert reranker.seen == [4]
    r.search("bakery sourdough flour oven", k=5)
    assert reranker.seen[-1] == 5  # at least k are reranked


def test_reranking_is_off_by_default(retriever):
    assert SearchConfig().reranker is None and retriever.reranker is None


# --- the index on disk -------------------------------------------------------------------

def test_adding_changing_and_removing_files_keeps_bm25_in_step(tmp_path, corpus, fake_embedder):
    index = tmp_path / "index"
    build_index([corpus], index_dir=index, embedder=fake_embedder)
    write_corpus(corpus, {"zeppelin.txt": "Zeppelin returns\n\nA zeppelin flew over the lake."})
    before = fake_embedder.embedded
    build_index([corpus], index_dir=index, embedder=fake_embedder)
    assert fake_embedder.embedded - before == 1  # only the new file's one chunk
    lexical = Retriever.load(index, embedder=fake_embedder).with_config(mode="lexical")
    assert lexical.search("zeppelin", k=1)[0].doc_id == "zeppelin"

    (corpus / "zeppelin.txt").write_text("Airship returns\n\nAn airship flew over the lake.")
    build_index([corpus], index_dir=index, embedder=fake_embedder)
    lexical = Retriever.load(index, embedder=fake_embedder).with_config(mode="lexical")
    assert lexical.search("zeppelin", k=1) == []
    assert lexical.search("airship", k=1)[0].doc_id == "zeppelin"

    (corpus / "zeppelin.txt").unlink()
    build_index([corpus], index_dir=index, embedder=fake_embedder)
    lexical = Retriever.load(index, embedder=fake_embedder).with_config(mode="lexical")
    assert lexical.search("airship", k=1) == []
    assert lexical.search("sourdough", k=1)[0].doc_id == "bakery"


def test_a_passage_matches_its_articles_title_lexically(tmp_path, fake_embedder):
    body = "\n\n".join(f"Paragraph {i} tells of engines, a gondola and the crew." for i in range(30))
    corpus = write_corpus(tmp_path / "c", {"z.txt": f"Zeppelin returns\n\n{body}",
                                           "b.txt": "Bread\n\nThe bakery sells bread."})
    build_index([corpus], index_dir=tmp_path / "i", embedder=fake_embedder)
    r = Retriever.load(tmp_path / "i", embedder=fake_embedder)
    zeppelin = r.search("zeppelin", k=50, mode="lexical")
    assert len(zeppelin) == r.store.manifest.chunks - 1 > 2  # every chunk of z.txt
    assert {p.title for p in zeppelin} == {"Zeppelin returns"}
    assert not any("Zeppelin" in p.text for p in zeppelin)  # the headline is the title only


def test_new_bm25_settings_rewrite_the_index_without_embedding(index, corpus, fake_embedder):
    before = fake_embedder.embedded
    report = build_index([corpus], index_dir=index, embedder=fake_embedder,
                         lexical_config=LexicalConfig(k1=1.5, b=0.6))
    assert report.written and fake_embedder.embedded == before
    r = Retriever.load(index, embedder=fake_embedder)
    assert r.store.manifest.lexical == asdict(LexicalConfig(k1=1.5, b=0.6))
    assert r.search("sourdough", k=1, mode="lexical")[0].doc_id == "bakery"


def _downgrade_to_version_1(index):
    """What an index written before BM25 existed looks like."""
    import shutil

    data = json.loads((index / "manifest.json").read_text())
    data["format_version"] = 1
    del data["lexical"]
    (index / "manifest.json").write_text(json.dumps(data))
    shutil.rmtree(index / "bm25")


def test_an_index_of_format_version_1_gets_a_rebuild_message(index, fake_embedder):
    _downgrade_to_version_1(index)
    with pytest.raises(IndexMismatchError, match=r"format version 1.*rag index"):
        Retriever.load(index, embedder=fake_embedder)


def test_rag_index_upgrades_a_version_1_index_without_embedding(index, corpus, fake_embedder):
    _downgrade_to_version_1(index)
    before = fake_embedder.embedded
    report = build_index([corpus], index_dir=index, embedder=fake_embedder)
    assert report.written and report.embedded == 0 and fake_embedder.embedded == before
    r = Retriever.load(index, embedder=fake_embedder)
    assert r.search("sourdough", k=1, mode="lexical")[0].doc_id == "bakery"


def test_an_index_tokenized_by_another_tokenizer_version_is_a_mismatch(index, fake_embedder):
    data = json.loads((index / "manifest.json").read_text())
    data["lexical"]["tokenizer"] = TOKENIZER_VERSION + 1
    (index / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(IndexMismatchError, match=r"tokenizer version.*rag index"):
        Retriever.load(index, embedder=fake_embedder)


@pytest.mark.parametrize("damage", ["missing", "garbage", "other rows"])
def test_a_damaged_bm25_index_is_a_mismatch_naming_the_rebuild_command(index, fake_embedder,
                                                                      damage):
    params = index / "bm25" / "params.index.json"
    if damage == "missing":
        params.unlink()
    elif damage == "garbage":
        (index / "bm25" / "data.csc.index.npy").write_bytes(b"garbage")
    else:
        params.write_text(json.dumps({**json.loads(params.read_text()), "num_docs": 1}))
    with pytest.raises(IndexMismatchError, match="rag index"):
        Retriever.load(index, embedder=fake_embedder).search("lava", k=1, mode="lexical")


def test_importing_rag_and_searching_lexically_loads_no_heavy_library(index):
    code = (f"import sys\nfrom rag.indexing.store import open_index\n"
            f"s = open_index({str(index)!r})\nprint(s.lexical.search('lava', 1))\n"
            f"print([m for m in ('torch', 'faiss', 'bm25s', 'numba', 'sentence_transformers') "
            f"if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


# --- the command line --------------------------------------------------------------------

@pytest.fixture
def fake_model(monkeypatch, fake_embedder):
    for module in (rag.indexing.build, rag.search.retrieve, rag.indexing.embed):
        monkeypatch.setattr(module, "get_embedder", lambda model=None: fake_embedder)
    return fake_embedder


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_rag_search_mode(tmp_path, corpus, capsys, fake_model, mode):
    assert main(["index", str(corpus), "--index", str(tmp_path / "i")]) == 0
    capsys.readouterr()
    assert main(["search", "sourdough bakery", "--mode", mode, "--json", "-k", "2",
                 "--index", str(tmp_path / "i")]) == 0
    passages = json.loads(capsys.readouterr().out)["passages"]
    assert passages[0]["doc_id"] == "bakery"
    assert (passages[0]["dense_score"] is None) == (mode == "lexical")
    assert (passages[0]["lexical_score"] is None) == (mode == "dense")


def test_rag_mode_falls_back_to_the_environment(tmp_path, corpus, capsys, fake_model, monkeypatch):
    assert main(["index", str(corpus), "--index", str(tmp_path / "i")]) == 0
    monkeypatch.setenv("RAG_MODE", "lexical")
    capsys.readouterr()
    assert main(["search", "zeppelin", "--json", "--index", str(tmp_path / "i")]) == 0
    assert json.loads(capsys.readouterr().out)["passages"] == []
    monkeypatch.setenv("RAG_MODE", "fuzzy")
    assert main(["search", "lava", "--index", str(tmp_path / "i")]) == 1
    assert "dense, lexical, hybrid" in capsys.readouterr().err


def test_rag_ask_takes_a_mode(tmp_path, corpus, capsys, fake_model):
    assert main(["index", str(corpus), "--index", str(tmp_path / "i")]) == 0
    capsys.readouterr()
    code = main(["ask", "Who won the national chess championship?", "--mode", "lexical",
                 "--json", "--index", str(tmp_path / "i")])
    assert code == 0
    answer = json.loads(capsys.readouterr().out)
    assert all(c["doc_id"] == "chess" for c in answer["citations"])


def test_rag_search_with_a_reranker_path_that_is_no_model(tmp_path, corpus, capsys, fake_model):
    assert main(["index", str(corpus), "--index", str(tmp_path / "i")]) == 0
    capsys.readouterr()
    code = main(["search", "lava", "--rerank", str(tmp_path / "nothing"), "--index",
                 str(tmp_path / "i")])
    assert code == 1
    assert "never downloaded" in capsys.readouterr().err


# --- a real cross-encoder, built tiny in the test (no download) ---------------------------

@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory):
    """A 2-layer BERT sequence classifier with random weights and MiniLM's tokenizer."""
    import shutil

    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    from rag.indexing.embed import resolve_model_path

    path = tmp_path_factory.mktemp("tiny-cross-encoder")
    source = resolve_model_path("all-MiniLM-L6-v2")
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(source / name, path / name)
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, num_labels=1)
    transformers.BertForSequenceClassification(config).save_pretrained(path)
    return path


@pytest.mark.integration
def test_a_cross_encoder_on_disk_reranks(tiny_cross_encoder, retriever):
    from rag.search.rerank import get_reranker

    reranker = get_reranker(tiny_cross_encoder)
    texts = ["The volcano erupted.", "Sourdough loaves.", "A chess endgame."]
    scores = reranker.score("volcano", texts)
    assert scores.shape == (3,) and np.isfinite(scores).all()
    np.testing.assert_allclose(reranker.score("volcano", texts, batch_size=1), scores, rtol=1e-4)

    r = retriever.with_config(reranker=str(tiny_cross_encoder), rerank_depth=6)
    passages = r.search("volcano lava", k=3)
    direct = reranker.score("volcano lava", [p.text for p in passages])
    assert [p.score for p in passages] == pytest.approx(sorted(direct.tolist(), reverse=True),
                                                        rel=1e-4)
