"""Work spread over processes gives what one process gives, warnings included."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from conftest import FakeEmbedder, write_corpus

from rag import parallel
from rag.build import build_index
from rag.ingest import IngestWarning
from rag.store import open_index


def _square_and_pid(offset, x):
    if x == 3:
        warnings.warn(IngestWarning("three is odd"), stacklevel=1)
    return x * x + offset, os.getpid()


@pytest.mark.skipif(parallel.workers() < 2, reason="needs two cores")
def test_results_come_back_in_order_from_other_processes():
    with pytest.warns(IngestWarning, match="three is odd"):
        out = parallel.map_ordered(_square_and_pid, range(50), state=1, min_items=10)
    assert [v for v, _ in out] == [x * x + 1 for x in range(50)]
    assert os.getpid() not in {pid for _, pid in out}


def test_small_jobs_and_rag_workers_1_stay_in_this_process(monkeypatch):
    out = parallel.map_ordered(_square_and_pid, [1, 2], state=0)
    assert {pid for _, pid in out} == {os.getpid()}
    monkeypatch.setenv("RAG_WORKERS", "1")
    with pytest.warns(IngestWarning, match="three is odd"):
        out = parallel.map_ordered(_square_and_pid, range(500), state=0, min_items=10)
    assert {pid for _, pid in out} == {os.getpid()}


def test_a_build_on_every_core_equals_a_build_in_one_process(tmp_path, monkeypatch):
    files = {f"a{i:03d}.txt": f"Report {i}\n\nSurvey {i} of the fjord found {i} seals. "
             f"The team counted again in spring, Dr. Lee said. Tag{i} closes it.\n"
             for i in range(parallel.MIN_ITEMS + 20)}
    files["empty.txt"] = ""
    corpus = write_corpus(tmp_path / "corpus", files)
    built = {}
    for workers in ("1", "2"):
        monkeypatch.setenv("RAG_WORKERS", workers)
        with pytest.warns(IngestWarning, match="empty.txt"):
            build_index([corpus], index_dir=tmp_path / workers, embedder=FakeEmbedder())
        store = open_index(tmp_path / workers)
        built[workers] = ([c for _, c in store.chunks()], store.lexical.vocab,
                          np.asarray(store.lexical.data), np.asarray(store.vectors()))
    one, two = built["1"], built["2"]
    assert one[0] == two[0] and one[1] == two[1]
    assert np.array_equal(one[2], two[2]) and np.array_equal(one[3], two[3])
