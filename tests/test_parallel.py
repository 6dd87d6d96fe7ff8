"""Work spread over processes gives what one process gives, warnings included."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import numpy as np
import pytest
from conftest import ROOT, FakeEmbedder, write_corpus

from rag import parallel
from rag.indexing.build import build_index
from rag.indexing.store import open_index
from rag.reading.ingest import IngestWarning


def _square_and_pid(offset, x):
    if x == 3:
        warnings.warn(IngestWarning("three is odd"), stacklevel=1)
    return x * x + offset, os.getpid()


FRESH_PROCESS = """
import os, sys, warnings
sys.path.insert(0, {tests!r})
from rag import parallel
from test_parallel import _square_and_pid
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    out = parallel.map_ordered(_square_and_pid, range(50), state=1, min_items=10)
print([v for v, _ in out] == [x * x + 1 for x in range(50)], os.getpid() in {{p for _, p in out}},
      [str(w.message) for w in caught])
"""


@pytest.mark.skipif(parallel.workers() < 2, reason="needs two cores")
def test_results_come_back_in_order_from_other_processes():
    # a fresh process: the pool is only used by a single-threaded one, and a test run may
    # have threads left by earlier tests
    code = FRESH_PROCESS.format(tests=str(ROOT / "tests"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=120, check=True)
    assert result.stdout.strip() == "True False ['three is odd']"


def test_small_jobs_and_rag_workers_1_stay_in_this_process(monkeypatch):
    out = parallel.map_ordered(_square_and_pid, [1, 2], state=0)
    assert {pid for _, pid in out} == {os.getpid()}
    monkeypatch.setenv("RAG_WORKERS", "1")
    with pytest.warns(IngestWarning, match="three is odd"):
        out = parallel.map_ordered(_square_and_pid, range(500), state=0, min_items=10)
    assert {pid for _, pid in out} == {os.getpid()}


BUILD = """
import sys, warnings
sys.path.insert(0, {tests!r})
from conftest import FakeEmbedder
from rag.indexing.build import build_index
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    build_index([{corpus!r}], index_dir={index!r}, embedder=FakeEmbedder())
print([str(w.message) for w in caught])
"""


def test_a_build_on_every_core_equals_a_build_in_one_process(tmp_path, monkeypatch):
    files = {f"a{i:03d}.txt": f"Report {i}\n\nSurvey {i} of the fjord found {i} seals. "
             f"The team counted again in spring, Dr. Lee said. Tag{i} closes it.\n"
             for i in range(parallel.MIN_ITEMS + 20)}
    files["empty.txt"] = ""
    corpus = write_corpus(tmp_path / "corpus", files)
    monkeypatch.setenv("RAG_WORKERS", "1")
    with pytest.warns(IngestWarning, match="empty.txt"):
        build_index([corpus], index_dir=tmp_path / "one", embedder=FakeEmbedder())
    code = BUILD.format(tests=str(ROOT / "tests"), corpus=str(corpus), index=str(tmp_path / "two"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=ROOT, timeout=300, check=True,
                            env={**os.environ, "RAG_WORKERS": "2"})
    assert "empty.txt" in result.stdout  # the worker's warning came back
    built = []
    for name in ("one", "two"):
        store = open_index(tmp_path / name)
        built.append(([c for _, c in store.chunks()], store.lexical.vocab,
                      np.asarray(store.lexical.data), np.asarray(store.vectors())))
    one, two = built
    assert one[0] == two[0] and one[1] == two[1]
    assert np.array_equal(one[2], two[2]) and np.array_equal(one[3], two[3])


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_named_bar_shows_over_many_items_only(capsys, monkeypatch, workers):
    monkeypatch.setenv("RAG_WORKERS", workers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", IngestWarning)
        out = parallel.map_ordered(_square_and_pid, range(12), state=0, min_items=10,
                                   bar="chunking")
        assert [v for v, _ in out] == [x * x for x in range(12)]
        assert "chunking" in capsys.readouterr().err
        parallel.map_ordered(_square_and_pid, range(5), state=0, min_items=10, bar="chunking")
    assert capsys.readouterr().err == ""
