"""Large builds: searchable before embedding ends, resumable after a crash or kill -9."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT, FakeEmbedder, write_corpus

from rag.indexing.build import build_index
from rag.indexing.embcache import cache_file
from rag.indexing.job import EARLY_SNAPSHOT_CHUNKS, WINDOW
from rag.indexing.store import open_index
from rag.search.retrieve import Retriever

WORDS = ["amber", "basalt", "cedar", "delta", "ember", "fjord", "garnet", "harbor", "indigo", "juniper", "kelp", "lagoon", "meadow", "nectar", "onyx", "prairie", "quartz", "reef", "sierra", "tundra", "umber", "valley", "willow", "xenon", "yarrow", "zephyr"]


def _article(i: int) -> str:
    """A one-chunk article with a word no other article has (`tag{i}`)."""
    picks = [WORDS[(i * 7 + j) % len(WORDS)] for j in range(6)]
    return (f"Report number {i}\n\nThe survey team logged tag{i} near the {picks[0]} "
            f"{picks[1]} by the {picks[2]} {picks[3]}. Later they mapped {picks[4]} and "
            f"{picks[5]} ground. The crew returned to camp {i} before dark to write up the "
            f"notes.\n")


@pytest.fixture
def big_corpus(tmp_path) -> Path:
    n = EARLY_SNAPSHOT_CHUNKS + WINDOW + 50  # two embedding steps, the second a part one
    return write_corpus(tmp_path / "big", {f"r{i:04d}.txt": _article(i) for i in range(n)})


class PowerCut(Exception):
    pass


class DyingEmbedder(FakeEmbedder):
    """The fake model, cut off after `calls` batches (a crash in the middle of a run)."""

    def __init__(self, calls: int):
        super().__init__()
        self.calls = calls

    def _embed(self, texts):
        if self.calls == 0:
            raise PowerCut("power cut")
        self.calls -= 1
        return super()._embed(texts)


def test_a_first_snapshot_is_searchable_by_bm25_before_embedding(tmp_path, big_corpus):
    index, seen = tmp_path / "index", []

    def check(manifest):
        retriever = Retriever.load(index, embedder=FakeEmbedder())
        hits = retriever.search("tag300", k=1, mode="lexical")
        hybrid = retriever.search("tag300 survey", k=3)
        seen.append((manifest.pending, hits[0].doc_id, len(hybrid)))
        retriever.store.close()

    report = build_index([big_corpus], index_dir=index, embedder=FakeEmbedder(), on_publish=check,
                         snapshot_every=None)
    assert seen[0] == (report.chunks, "r0300", 3)  # nothing embedded yet, BM25 finds it
    assert seen[-1][0] == 0 and len(seen) == 2
    assert open_index(index).manifest.pending == 0
    assert not cache_file(index).exists()


class SlowEmbedder(FakeEmbedder):
    """The fake model at a real model's pace: a second a step."""

    def _embed(self, texts):
        time.sleep(1.0 / (WINDOW // 32))
        return super()._embed(texts)


def test_snapshots_while_embedding_grow_the_dense_part(tmp_path, big_corpus):
    index, pending = tmp_path / "index", []
    build_index([big_corpus], index_dir=index, embedder=SlowEmbedder(), snapshot_every=0.0,
                on_publish=lambda m: pending.append(m.pending))
    assert pending[0] > pending[1] > 0 and pending[-1] == 0
    assert pending == sorted(pending, reverse=True)


def test_a_crash_while_embedding_keeps_the_snapshot_and_the_next_run_resumes(tmp_path, big_corpus):
    index = tmp_path / "index"
    with pytest.raises(PowerCut):
        build_index([big_corpus], index_dir=index,
                    embedder=DyingEmbedder(calls=WINDOW // 32))  # dies in the second step
    snapshot = open_index(index)
    assert snapshot.manifest.pending == snapshot.manifest.chunks  # BM25-only, whole
    total = snapshot.manifest.chunks
    snapshot.close()
    again = FakeEmbedder()
    report = build_index([big_corpus], index_dir=index, embedder=again)
    assert report.embedded == total - WINDOW  # the first step was kept in the cache
    assert len(set(again.texts)) == len(again.texts) == total - WINDOW
    store = open_index(index)
    assert store.manifest.pending == 0
    assert np.all(np.any(store.vectors() != 0, axis=1))


def test_kill_9_while_embedding_resumes_without_embedding_a_chunk_twice(tmp_path, big_corpus):
    index = tmp_path / "index"
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from conftest import FakeEmbedder
        from rag.indexing.build import build_index

        class Slow(FakeEmbedder):
            def _embed(self, texts):
                time.sleep(0.2)
                return super()._embed(texts)

        build_index([{str(big_corpus)!r}], index_dir={str(index)!r}, embedder=Slow())
    """)
    child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        cached = _wait_for_cached(cache_file(index), child)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    again = FakeEmbedder()
    report = build_index([big_corpus], index_dir=index, embedder=again)
    assert cached >= 1 and report.embedded <= report.chunks - cached
    assert len(set(again.texts)) == len(again.texts)
    assert open_index(index).manifest.pending == 0


def _wait_for_cached(file: Path, child: subprocess.Popen, timeout: float = 120.0) -> int:
    """Wait until the child has committed at least one batch to the cache; return how many."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        if file.exists():
            try:
                con = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
                n = con.execute("SELECT count(*) FROM vectors").fetchone()[0]
                con.close()
                if n:
                    return n
            except sqlite3.Error:
                pass
        time.sleep(0.05)
    raise AssertionError("the indexing process never committed a batch")


def test_an_unchanged_file_is_not_read_again(tmp_path, corpus, fake_embedder):
    index = tmp_path / "index"
    build_index([corpus], index_dir=index, embedder=fake_embedder)
    target = min(corpus.iterdir())
    stat = target.stat()
    text = target.read_text()
    target.write_text(text.replace("e", "a", 1))  # same size, then the old time back
    os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    report = build_index([corpus], index_dir=index, embedder=fake_embedder)
    assert report.written is False
    target.write_text(text.replace("e", "a", 1) + " ")  # a real change is seen
    report = build_index([corpus], index_dir=index, embedder=fake_embedder)
    assert report.written is True and report.changed == (target.stem,)


def test_adding_one_file_reads_only_that_file(tmp_path, corpus, fake_embedder, monkeypatch):
    index = tmp_path / "index"
    build_index([corpus], index_dir=index, embedder=fake_embedder)
    write_corpus(corpus, {"orchid.txt": "Rare orchid found\n\nBotanists found a rare orchid."})
    read = []
    import rag.reading.ingest

    real = rag.reading.ingest._read_file
    monkeypatch.setattr(rag.reading.ingest, "_read_file", lambda p: read.append(p.name) or real(p))
    report = build_index([corpus], index_dir=index, embedder=fake_embedder)
    assert read == ["orchid.txt"] and report.added == ("orchid",)


class ShortModel(FakeEmbedder):
    """A model that reads only 24 tokens: most 128-token chunks are over its limit."""

    max_tokens = 24


def test_chunks_over_the_models_limit_are_cut_again_after_the_first_snapshot(tmp_path, big_corpus):
    index, snapshots = tmp_path / "index", []
    model = ShortModel()
    report = build_index([big_corpus], index_dir=index, embedder=model,
                         on_publish=lambda m: snapshots.append(m.chunks))
    store = open_index(index)
    texts = [c.text for _, c in store.chunks()]
    assert all(model.count_tokens(t) <= 24 for t in texts)
    assert snapshots[0] < snapshots[-1] == report.chunks == len(texts)  # more, shorter chunks
    assert report.embedded == len(set(texts)) and store.manifest.pending == 0
    assert store.lexical.search("tag300", 1)[0][0] in {
        row for row, c in store.chunks() if c.doc_id == "r0300"}


def test_a_kill_9_at_chunk_320_of_774_loses_at_most_the_batch_being_embedded(tmp_path):
    """The cache is committed batch by batch (issue 12, point 11): before, a step of 512
    chunks was committed whole, and a kill at chunk 320 re-embedded all 774."""
    total, killed_at = 774, 320
    corpus = write_corpus(tmp_path / "c", {f"r{i:04d}.txt": _article(i) for i in range(total)})
    index = tmp_path / "index"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from conftest import FakeEmbedder
        from rag.indexing.build import build_index

        class Killed(FakeEmbedder):
            def _embed(self, texts):
                if self.embedded + len(texts) > {killed_at}:  # kill -9 inside this batch
                    os.kill(os.getpid(), signal.SIGKILL)
                return super()._embed(texts)

        build_index([{str(corpus)!r}], index_dir={str(index)!r}, embedder=Killed())
    """)
    child = subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=False)
    assert child.returncode == -signal.SIGKILL
    again = FakeEmbedder()
    report = build_index([corpus], index_dir=index, embedder=again)
    assert report.chunks == total
    assert report.embedded == total - killed_at  # 454; it was 774
    assert len(set(again.texts)) == len(again.texts)
