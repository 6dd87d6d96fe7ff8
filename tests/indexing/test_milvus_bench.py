"""`python -m bench --sections milvus` on a tiny size: both stores built, searched, tabled."""

from __future__ import annotations

from bench import milvus


def test_the_milvus_section_measures_both_stores(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_CACHE", str(tmp_path / "cache"))
    out = milvus.run([1000], queries=5, say=lambda _: None)
    rows = {r["store"]: r for r in out["rows"]}
    assert set(rows) == {"local", "milvus"}
    for r in rows.values():
        assert r["size"] == 1000 and r["queries"] == 5 and r["build_s"] > 0
        assert r["recall@10"] == 1.0  # exact search in both at this size
        assert all(r[mode]["p95_ms"] >= r[mode]["p50_ms"] > 0 for mode in milvus.MODES)
    shown = milvus.table(out)
    assert "milvus-lite" in shown and "local" in shown and "FLAT" in shown
