"""The learned reader as a passage reranker (`--rerank reader`): known orders, the CLI path."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import FakeEmbedder

import rag.indexing.build
import rag.indexing.embed
import rag.search.retrieve
from rag.answering.rerank import ReaderReranker, with_reranker
from rag.cli import main
from rag.errors import ReaderError
from rag.indexing.build import build_index
from rag.search.retrieve import Retriever


@pytest.fixture
def retriever(tmp_path, corpus):
    embedder = FakeEmbedder()
    build_index([corpus], index_dir=tmp_path / "index", embedder=embedder)
    r = Retriever.load(tmp_path / "index", embedder=embedder)
    yield r
    r.store.close()


def test_each_passage_scores_its_best_sentence_probability(retriever):
    question = "Which starter culture did the founder bring from San Francisco?"
    passages = retriever.search(question, k=6)
    scores = ReaderReranker().score_passages(question, passages, retriever)
    assert scores.shape == (len(passages),) and scores.dtype == np.float32
    assert ((scores >= 0) & (scores <= 1)).all()
    assert "San Francisco" in passages[int(np.argmax(scores))].text


def test_the_retriever_orders_passages_by_the_reader(retriever):
    question = "Which starter culture did the founder bring from San Francisco?"
    reranked = with_reranker(retriever, "reader").with_config(rerank_depth=6)
    passages = reranked.search(question, k=6)
    scores = [p.score for p in passages]
    assert scores == sorted(scores, reverse=True)
    assert "San Francisco" in passages[0].text
    assert {p.chunk_id for p in passages} == {p.chunk_id for p in retriever.search(question, k=6)}


def test_with_reranker_none_turns_reranking_off(retriever):
    assert with_reranker(retriever, None).reranker is None
    assert isinstance(with_reranker(retriever, "reader").reranker, ReaderReranker)


def test_the_reader_reranker_wants_passages_not_bare_texts():
    with pytest.raises(TypeError, match="score_passages"):
        ReaderReranker().score("a question", ["a text"])


def test_rag_search_rerank_reader(tmp_path, corpus, capsys, monkeypatch):
    embedder = FakeEmbedder()
    for module in (rag.indexing.build, rag.search.retrieve, rag.indexing.embed):
        monkeypatch.setattr(module, "get_embedder", lambda model=None: embedder)
    assert main(["index", str(corpus), "--index", str(tmp_path / "i")]) == 0
    capsys.readouterr()
    assert main(["search", "Who won the national chess championship?", "--rerank", "reader",
                 "--index", str(tmp_path / "i"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert "chess" in out["passages"][0]["text"]


def test_a_missing_reader_model_fails_when_the_reranker_is_made(tmp_path):
    with pytest.raises(ReaderError, match="no reader model"):
        ReaderReranker(reader_model=str(tmp_path / "absent.json"))
