"""The seed evaluation set through the Milvus store gives the local store's figures (real model).

Both stores index seeds/ with all-MiniLM-L6-v2, and `rag.evaluation.evaluate` asks the 124
questions through each; every gated metric must agree within 0.01. A difference is listed
with the questions whose retrieval or answer differ, which is where its cause shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.answering.answer import Answerer
from rag.evaluation.evaluate import DEFAULT_SET, GATE, evaluate
from rag.indexing import milvus_connect
from rag.indexing.build import build_index
from rag.indexing.embed import DEFAULT_MODEL, get_embedder
from rag.search.retrieve import Retriever

pytestmark = pytest.mark.integration
SEEDS = Path(__file__).resolve().parents[2] / "seeds"


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    folder = tmp_path_factory.mktemp("milvus-eval")
    embedder = get_embedder(DEFAULT_MODEL)
    out = {}
    for name, where in (("local", folder / "local"), ("milvus", f"milvus://{folder}/v.db")):
        build_index([SEEDS], index_dir=where, embedder=embedder)
        out[name] = evaluate(DEFAULT_SET, Answerer(Retriever.load(where, embedder=embedder)))
    milvus_connect.disconnect()
    return out


def test_the_seed_set_gives_the_same_figures_through_milvus(reports):
    local, milvus = reports["local"].overall, reports["milvus"].overall
    differ = {m: (local[m], milvus[m]) for m in GATE
              if m in local and abs((local[m] or 0) - (milvus[m] or 0)) > 0.01}
    questions = [(a.question.id, a.ranked_docs[:5], b.ranked_docs[:5], a.answer, b.answer)
                 for a, b in zip(reports["local"].results, reports["milvus"].results)
                 if (a.ranked_docs, a.answer) != (b.ranked_docs, b.answer)]
    assert not differ, (differ, questions)


def test_every_question_ranks_and_answers_alike(reports):
    """Stronger than the 0.01 tolerance: the same ranked documents and the same answer text."""
    pairs = list(zip(reports["local"].results, reports["milvus"].results))
    assert len(pairs) == 124
    same = [(a.ranked_docs, a.answer, a.citations, a.refused) ==
            (b.ranked_docs, b.answer, b.citations, b.refused) for a, b in pairs]
    assert all(same), [a.question.id for (a, _), ok in zip(pairs, same) if not ok]
    assert reports["milvus"].overall["citation_verified"] == 1.0
