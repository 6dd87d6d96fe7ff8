"""Searching an index: known answers, exact citations, and checked questions."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from conftest import FakeEmbedder, write_corpus

from rag.errors import IndexMismatchError, IndexNotFoundError, InputError
from rag.indexing.build import build_index
from rag.search.retrieve import Passage, QuestionTruncated, Retriever, check_k


@pytest.fixture
def retriever(tmp_path, corpus, fake_embedder):
    index = tmp_path / "index"
    build_index([corpus], index_dir=index, embedder=fake_embedder)
    r = Retriever.load(index, embedder=fake_embedder)
    yield r
    r.store.close()


@pytest.mark.parametrize("question, doc_id", [
    ("Where did the volcano erupt and where is the lava flowing?", "volcano"),
    ("Which bakery bakes sourdough loaves with a starter culture?", "bakery"),
    ("Who won the national chess championship with a rook and bishop?", "chess"),
])
def test_a_question_with_a_documents_words_ranks_it_first(retriever, question, doc_id):
    passages = retriever.search(question, k=3)
    assert passages[0].doc_id == doc_id
    assert [p.rank for p in passages] == [1, 2, 3]
    assert passages[0].score > passages[-1].score
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)


@pytest.mark.parametrize("mode", ["dense", "hybrid"])
def test_scores_are_cosine_similarities(retriever, fake_embedder, mode):
    """Dense scores are cosine similarities; hybrid reports them as `dense_score`."""
    [best] = retriever.search("volcano lava Grindavik", k=1, mode=mode)
    q, = fake_embedder.embed(["volcano lava Grindavik"])
    v, = fake_embedder.embed([best.text])
    assert best.dense_score == pytest.approx(float(q @ v), abs=1e-5)
    if mode == "dense":
        assert best.score == pytest.approx(float(q @ v), abs=1e-5)
        assert 0 < best.score <= 1.0 + 1e-6


def test_passage_fields_cite_the_exact_source_text(retriever, corpus):
    docs = retriever.store.documents()
    for p in retriever.search("bakery sourdough chess volcano", k=10):
        assert isinstance(p, Passage)
        doc = docs[p.doc_id]
        assert p.text == doc.text[p.start:p.end]
        assert p.text == Path(p.source).read_text(encoding="utf-8")[p.start:p.end]
        with open(p.source, encoding="utf-8") as f:
            assert f.read()[p.start:p.end] == p.text
        assert Path(p.source) == corpus / f"{p.doc_id}.txt"
        assert p.title == doc.title and p.date == doc.date and p.url == doc.url
        assert p.chunk_id.startswith(p.doc_id + ":")
        assert set(p.to_dict()) >= {"rank", "score", "text", "doc_id", "title", "date",
                                    "source", "start", "end"}


@pytest.mark.parametrize("name, data", [
    ("lf.txt", "Bridge approved\n\n{p}\n\n{q}\n"),
    ("crlf.txt", "Bridge approved\r\n\r\n{p}\r\n\r\n{q}\r\n"),
    ("bom.txt", "\ufeffBridge approved\n\n{p}\n\n{q}\n"),
], ids=["lf", "crlf", "bom"])
def test_open_source_read_slice_equals_the_passage_for_any_line_ending(
        tmp_path, fake_embedder, name, data):
    """The promise `open(source).read()[start:end] == passage.text` holds for files saved
    on Windows (CRLF) or with a byte-order mark, too."""
    p = ("The harbour bridge was approved by the council on Tuesday after a decade of debate "
         "about traffic and ferries.")
    q = ("Construction will begin next spring and take four years, according to the city "
         "engineer who presented the design.")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / name).write_bytes(data.format(p=p, q=q).encode("utf-8"))
    build_index([tmp_path / "c"], index_dir=tmp_path / "index", embedder=fake_embedder)
    retriever = Retriever.load(tmp_path / "index", embedder=fake_embedder)
    passages = retriever.search("construction engineer design", k=5)
    assert passages
    for passage in passages:
        with open(passage.source, encoding="utf-8") as f:
            assert f.read()[passage.start:passage.end] == passage.text


def test_seeds_passages_match_the_files(tmp_path, seeds_dir, fake_embedder):
    build_index([seeds_dir], index_dir=tmp_path / "index", embedder=fake_embedder)
    retriever = Retriever.load(tmp_path / "index", embedder=fake_embedder)
    n = retriever.store.manifest.chunks
    passages = retriever.search("Who will succeed Stoltenberg as NATO Secretary General?", k=n)
    assert len(passages) == n
    for p in passages:
        with open(p.source, encoding="utf-8") as f:
            assert f.read()[p.start:p.end] == p.text
    dates = {p.doc_id[:3]: p.date for p in passages}
    assert dates["000"] == "2024-09-19" and dates["004"] == "2025-03-26"


@pytest.mark.parametrize("question", ["", " ", "\n\t  \u00a0 ", None, 42])
def test_empty_or_non_text_question_is_refused(retriever, question):
    with pytest.raises(InputError, match="question"):
        retriever.search(question, k=3)


@pytest.mark.parametrize("k", [0, -1, "3", 2.5, True, None])
def test_bad_k_is_refused(retriever, k):
    with pytest.raises(InputError, match="k must be"):
        retriever.search("volcano", k=k)


@pytest.mark.parametrize("k", [1, 5, 10**6])
def test_check_k_accepts_whole_numbers(k):
    assert check_k(k) == k


def test_k_larger_than_the_index_returns_every_chunk_once(retriever):
    n = retriever.store.manifest.chunks
    passages = retriever.search("volcano", k=1000)
    assert len(passages) == n
    assert len({p.chunk_id for p in passages}) == n
    assert [p.rank for p in passages] == list(range(1, n + 1))


def test_a_100kb_question_is_cut_with_a_warning_and_still_answered(retriever, fake_embedder):
    question = ("Where did the volcano erupt near Grindavik and where is the lava flowing? " * 1400)
    assert len(question) > 100_000
    with pytest.warns(QuestionTruncated, match="characters"):
        passages = retriever.search(question, k=3)
    assert len(passages) == 3
    assert passages[0].doc_id == "volcano"
    asked = fake_embedder.texts[-1]
    assert fake_embedder.count_tokens(asked) <= fake_embedder.max_tokens
    assert question.startswith(asked)


def test_a_question_within_the_limit_gives_no_warning(retriever):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        retriever.search("volcano " * 200, k=1)


@pytest.mark.parametrize("question", [
    "谁将接替斯托尔滕贝格担任北约秘书长？",
    "من سيخلف ستولتنبرغ أمينا عاما لحلف الناتو؟",
    "Кто сменит Столтенберга?",
    "🌋🔥",
    "???",
])
def test_a_question_in_another_script_returns_passages(retriever, question):
    passages = retriever.search(question, k=2)
    assert len(passages) == 2
    assert all(isinstance(p.score, float) for p in passages)


def test_load_missing_index_raises_not_found(tmp_path, fake_embedder):
    with pytest.raises(IndexNotFoundError, match="rag index"):
        Retriever.load(tmp_path / "none", embedder=fake_embedder)


def test_loading_with_another_embedder_is_a_mismatch(retriever):
    with pytest.raises(IndexMismatchError, match="rag index"):
        Retriever(retriever.store, FakeEmbedder("another-model"))


def test_load_uses_the_embedder_named_in_the_manifest(retriever, monkeypatch, fake_embedder):
    import rag.search.retrieve

    asked = []

    def get_embedder(model):
        asked.append(model)
        return fake_embedder

    monkeypatch.setattr(rag.search.retrieve, "get_embedder", get_embedder)
    r = Retriever.load(retriever.store.path)
    assert asked == ["fake-hash"]
    assert r.search("volcano", k=1)[0].doc_id == "volcano"


def test_search_after_an_index_with_one_document(tmp_path, fake_embedder):
    corpus = write_corpus(tmp_path / "one", {"only.txt": (
        "Only article\n\nThe only article in this index talks about a lighthouse keeper.\n")})
    build_index([corpus], index_dir=tmp_path / "index", embedder=fake_embedder)
    r = Retriever.load(tmp_path / "index", embedder=fake_embedder)
    passages = r.search("lighthouse", k=5)
    assert [p.doc_id for p in passages] == ["only"] * r.store.manifest.chunks
