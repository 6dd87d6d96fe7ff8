"""The benchmark harness on tiny sizes: it runs, prints tables and writes sound JSON.

The search section runs end to end on 2,000 synthetic vectors (no model); the data helpers
are checked for determinism and shape. Sections that need the real model are `integration`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench import common, corpus, search

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def bench_cache(tmp_path_factory, monkeypatch) -> Path:
    cache = tmp_path_factory.mktemp("bench-cache")
    monkeypatch.setenv("BENCH_CACHE", str(cache))
    return cache


@pytest.mark.parametrize("text, n", [("10k", 10_000), ("1m", 1_000_000), ("2500", 2500),
                                     ("1.5k", 1500), (" 100K ", 100_000)])
def test_sizes_parse(text, n):
    assert common.parse_size(text) == n


def test_labels_round_trip():
    assert [common.label(n) for n in (10_000, 1_000_000, 2500)] == ["10k", "1M", "2500"]


def test_table_lays_out_missing_cells_blank():
    out = common.table([{"a": 1, "b": 0.5}, {"a": 12345}], ["a", "b"], "T")
    lines = out.splitlines()
    assert lines[0] == "T" and "12,345" in lines[-1] and lines[-1].rstrip().endswith("12,345")


def test_machine_records_the_load_average():
    m = common.machine()
    assert {"load_1m", "load_5m", "load_15m", "cores"} <= set(m) and m["cores"] >= 1


def test_articles_are_deterministic_and_news_sized():
    a, b = corpus.article_texts(5, seed=1), corpus.article_texts(5, seed=1)
    assert a == b and a != corpus.article_texts(5, seed=2)
    for text in a:
        assert text.startswith("date 20") and 1000 < len(text) < 10_000
        assert text.count("\n\n") >= 4


def test_article_folder_is_made_once(tmp_path):
    folder = corpus.make_articles(3, folder=tmp_path / "arts")
    assert sorted(p.name for p in folder.glob("*.txt")) == [
        "article_000000.txt", "article_000001.txt", "article_000002.txt"]
    before = (folder / "article_000000.txt").stat().st_mtime_ns
    corpus.make_articles(3, folder=tmp_path / "arts")
    assert (folder / "article_000000.txt").stat().st_mtime_ns == before


def test_synthetic_vectors_are_unit_length_and_clustered(tmp_path):
    base_file, query_file = corpus.synthetic_vectors(3000, queries=50, folder=tmp_path)
    base, queries = np.load(base_file), np.load(query_file)
    assert base.shape == (3000, 384) and queries.shape == (50, 384)
    assert np.allclose(np.linalg.norm(base, axis=1), 1, atol=1e-4)
    stats = corpus.vector_stats(base, sample=200)
    # clustered: nearest neighbours are much closer than random pairs (uniform would be ~0.2)
    assert stats["nn_cosine_median"] > stats["random_pair_cosine_mean"] + 0.3


def test_best_picks_the_fastest_setting_that_reaches_the_recall():
    rows = [{"size": 1, "type": "hnsw", "p95_ms": 1.0, "recall@10": 0.90},
            {"size": 1, "type": "hnsw", "p95_ms": 2.0, "recall@10": 0.96},
            {"size": 1, "type": "hnsw", "p95_ms": 3.0, "recall@10": 0.99}]
    assert search.best(rows) == [rows[1]]


def test_the_harness_runs_search_on_tiny_sizes(tmp_path):
    """`python -m bench` end to end: a table on stdout, JSON with load and recall."""
    env = {**os.environ, "BENCH_CACHE": os.environ["BENCH_CACHE"]}
    argv = [sys.executable, "-m", "bench", "--sections", "search", "--sizes", "2k",
            "--types", "flat,hnsw,ivf,ivf-sq8", "--queries", "40", "--latency-queries", "5",
            "--real-upto", "0", "--threads", "1", "--out", str(tmp_path), "--name", "t"]
    result = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=env,
                            timeout=600, check=False)
    assert result.returncode == 0, result.stderr
    assert "recall@10" in result.stdout and "Fastest setting" in result.stdout
    data = json.loads((tmp_path / "t.json").read_text())
    section = data["sections"]["search"]
    assert "load_1m" in section["machine_before"] and "load_1m" in data["machine"]
    rows = section["result"]["rows"]
    assert {r["type"] for r in rows} == {"flat", "hnsw", "ivf", "ivf-sq8"}
    assert all(r["size"] == 2000 and r["vectors"] == "synthetic" for r in rows)
    assert all(0 <= r["recall@10"] <= 1 and r["p95_ms"] >= r["p50_ms"] > 0 for r in rows)
    assert [r["recall@10"] for r in rows if r["type"] == "flat"] == [1.0]
    assert all(r["disk_mb"] > 0 and r["build_s"] >= 0 for r in rows)
    shown = subprocess.run([sys.executable, "-m", "bench", "--show", str(tmp_path / "t.json")],
                           capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert shown.returncode == 0 and "Fastest setting" in shown.stdout


def test_unknown_section_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "bench", "--sections", "warp"],
                            capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert result.returncode == 2 and "allowed" in result.stderr


@pytest.mark.integration
def test_reindex_on_a_small_corpus_embeds_nothing_when_unchanged(monkeypatch, tmp_path):
    from bench import ingest

    monkeypatch.setenv("RAG_CACHE", str(tmp_path / "rag-cache"))
    out = ingest.reindex(12, say=lambda *_: None)
    assert out["documents"] == 12 and out["unchanged_embedded"] == 0
    assert out["add_one_embedded"] > 0
    assert "load_1m" in out["machine_before"]


@pytest.mark.integration
def test_the_embedders_section_compares_the_float_and_int8_models_on_the_same_chunks():
    from bench import embedders
    from bench.tables import TABLES

    out = embedders.run(3, say=lambda _: None)
    assert out["chunks"] == len(embedders.chunk_texts(3)) > 3 and out["tokens"] > out["chunks"]
    float_row, int8_row = out["rows"]
    assert [float_row["model"], int8_row["model"]] == list(embedders.MODELS)
    assert float_row["cosine_min"] == pytest.approx(1.0, abs=1e-4) and float_row["speedup"] == 1.0
    assert 0.97 <= int8_row["cosine_min"] <= int8_row["cosine_mean"] < 1.0
    assert int8_row["backend"] == "onnx" and int8_row["chunks_per_s"] > 0
    assert "all-MiniLM-L6-v2-int8" in TABLES["embedders"](out)
