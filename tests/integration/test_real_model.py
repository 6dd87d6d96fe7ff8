"""The real model (all-MiniLM-L6-v2), fully offline: outbound connections are refused.

Builds one index of seeds/ per module in a temp dir. Run with `-m integration`, or as part
of the whole suite.
"""

from __future__ import annotations

import json
import socket
import warnings

import pytest

from rag.cli import main
from rag.indexing.build import build_index
from rag.indexing.embed import DEFAULT_MODEL, get_embedder
from rag.search.retrieve import QuestionTruncated, Retriever

pytestmark = pytest.mark.integration

OFFLINE = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "DO_NOT_TRACK": "1",
}
QUESTION = "Who will succeed Stoltenberg as NATO Secretary General?"


@pytest.fixture(scope="module")
def network_attempts():
    """Refuse every connection except unix sockets; record what was attempted."""
    attempts: list[object] = []
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def allowed(sock) -> bool:
        return hasattr(socket, "AF_UNIX") and sock.family == socket.AF_UNIX

    def connect(self, address):
        if allowed(self):
            return real_connect(self, address)
        attempts.append(address)
        raise ConnectionRefusedError(f"network access refused in tests: {address!r}")

    def connect_ex(self, address):
        if allowed(self):
            return real_connect_ex(self, address)
        attempts.append(address)
        return 111  # ECONNREFUSED

    with pytest.MonkeyPatch.context() as mp:
        for key, value in OFFLINE.items():
            mp.setenv(key, value)
        mp.setattr(socket.socket, "connect", connect)
        mp.setattr(socket.socket, "connect_ex", connect_ex)
        yield attempts


@pytest.fixture(scope="module")
def seeds_index(tmp_path_factory, network_attempts):
    from conftest import SEEDS

    index = tmp_path_factory.mktemp("real") / "index"
    report = build_index([SEEDS], index_dir=index)
    return index, report


@pytest.fixture(scope="module")
def retriever(seeds_index):
    r = Retriever.load(seeds_index[0])
    yield r
    r.store.close()


def test_build_embeds_every_seed_chunk_offline(seeds_index, network_attempts):
    _, report = seeds_index
    assert report.written is True
    assert report.documents == 5
    assert report.embedded == report.chunks > 5
    assert network_attempts == []


def test_the_index_records_the_real_model(retriever):
    m = retriever.store.manifest
    assert m.model == DEFAULT_MODEL
    assert m.dimension == 384
    assert retriever.embedder is get_embedder(DEFAULT_MODEL)


# Known gap (issue 2): the issue wants the 000 passage naming Mark Rutte ranked first for the
# succession question. Dense search alone ranks it 3rd (the role words "as NATO Secretary
# General" favour passages that repeat them), BM25 24th-27th ("succeed" occurs nowhere in the
# seeds, so only the role and the name match), and hybrid search 8th. Why the general fixes
# tried so far did not hold: see tests/integration/test_answers_real.py.
# Strict: the marker must go when this is fixed.
KNOWN_SUCCESSION_GAP = pytest.mark.xfail(
    strict=True, reason="the Rutte passage of 000 is not in the top 3 for the succession question")


@KNOWN_SUCCESSION_GAP
def test_succession_question_finds_mark_rutte(retriever, network_attempts):
    passages = retriever.search(QUESTION, k=3)
    assert any(p.doc_id == "000_909c1f4abb7fe135" and "Mark Rutte" in p.text for p in passages)
    assert network_attempts == []


def test_rebuild_unchanged_embeds_nothing(seeds_index, network_attempts):
    from conftest import SEEDS

    index, first = seeds_index
    report = build_index([SEEDS], index_dir=index)
    assert report.written is False
    assert report.embedded == 0
    assert report.reused == first.chunks
    assert network_attempts == []


def test_passages_are_exact_slices_of_the_seed_files(retriever):
    for p in retriever.search("defence spending target of two percent", k=10):
        with open(p.source, encoding="utf-8") as f:
            assert f.read()[p.start:p.end] == p.text


def test_a_100kb_question_is_cut_to_the_model_limit_and_answered(retriever):
    question = (QUESTION + " ") * 1800
    assert len(question) > 100_000
    with pytest.warns(QuestionTruncated):
        passages = retriever.search(question, k=3)
    assert len(passages) == 3
    with pytest.warns(QuestionTruncated):
        cut = retriever.prepare(question)
    assert question.startswith(cut)
    assert 100 < retriever.embedder.count_tokens(cut) <= retriever.embedder.max_tokens


@pytest.mark.parametrize("question", [
    "谁将接替斯托尔滕贝格担任北约秘书长？",
    "من سيخلف ستولتنبرغ أمينا عاما لحلف الناتو؟",
])
def test_a_question_in_another_script_is_answered(retriever, question):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        passages = retriever.search(question, k=3)
    assert len(passages) == 3


@KNOWN_SUCCESSION_GAP
def test_cli_search_json_finds_the_rutte_passage(seeds_index, capsys, network_attempts):
    code = main(["search", QUESTION, "--json", "-k", "3", "--index", str(seeds_index[0])])
    out, err = capsys.readouterr()
    assert code == 0, err
    passages = json.loads(out)["passages"]
    assert any(p["source"].endswith("000_909c1f4abb7fe135.txt") and "Mark Rutte" in p["text"]
               for p in passages)
    assert network_attempts == []


def test_the_network_guard_is_live(network_attempts):
    before = len(network_attempts)
    with pytest.raises(ConnectionRefusedError, match="refused in tests"):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    assert network_attempts[before:] == [("127.0.0.1", 9)]
    del network_attempts[before:]


def test_the_sentence_that_holds_the_question_token_by_token_is_quoted_first(retriever):
    from rag.answering.answer import Answerer

    question = "On what issue does Stoltenberg think NATO will eventually have to talk with Russia again?"
    answer = Answerer(retriever).ask(question)
    assert "arms control" in answer.citations[0].quote  # "return to dialogue with Moscow"
    plain = Answerer(retriever).candidates(question, retriever.search(question, k=5),
                                           retriever.store.documents())
    assert "arms control" not in plain[0].text  # the cheap score alone ranks another first
