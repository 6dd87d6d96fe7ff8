"""Plain-text tables of each section's results (the JSON keeps everything else).

Does not: compute anything; it only lays out what the sections returned.
"""

from __future__ import annotations

from .common import label, table


def _load(out: dict) -> str:
    before, after = out.get("machine_before") or {}, out.get("machine_after") or {}
    if not before:
        return ""
    return (f" [load {before.get('load_1m')} -> {after.get('load_1m', '?')} on "
            f"{before.get('cores')} cores]")


def ingest(out: dict) -> str:
    rows = [
        {"what": "build_index", "seconds": out["build_s"], "cpu s": out.get("build_cpu_s"),
         "docs/s": out["docs_per_s"], "chunks/s": out["chunks_per_s"],
         "tokens/s": out["tokens_per_s"]},
        {"what": "encode alone (bound)", "seconds": out["encode_s"],
         "cpu s": out.get("encode_cpu_s"), "chunks/s": out["bound_chunks_per_s"],
         "tokens/s": out["bound_tokens_per_s"]},
        {"what": "build_index, stand-in embedder", "seconds": out.get("no_model_build_s")},
    ]
    title = (f"Ingestion: {out['documents']} articles, {out['chunks']} chunks, "
             f"{out['tokens']:,} model tokens; build - encode = {out['overhead_s']} s, "
             f"without the model {out.get('no_model_build_s')} s{_load(out)}")
    return table(rows, ["what", "seconds", "cpu s", "docs/s", "chunks/s", "tokens/s"], title)


def reindex(out: dict) -> str:
    rows = [
        {"what": "unchanged (build_index)", "seconds": out["unchanged_s"],
         "embedded": out["unchanged_embedded"]},
        {"what": "unchanged (`rag index`, new process)", "seconds": out["unchanged_cli_s"]},
        {"what": "one article added (build_index)", "seconds": out["add_one_s"],
         "embedded": out["add_one_embedded"]},
        {"what": "one article added (`rag index`)", "seconds": out["add_one_cli_s"]},
    ]
    title = f"Re-indexing {out['documents']:,} articles, {out['chunks']:,} chunks{_load(out)}"
    return table(rows, ["what", "seconds", "embedded"], title)


def search(out: dict) -> str:
    rows = []
    for r in out["rows"]:
        rows.append({"chunks": label(r["size"]), "vectors": r["vectors"], "type": r["type"],
                     "param": r["param"], "value": r["value"], "p50 ms": r["p50_ms"],
                     "p95 ms": r["p95_ms"], "recall@10": r["recall@10"],
                     "build s": r["build_s"], "RSS MB": r["index_rss_mb"],
                     "disk MB": r["disk_mb"], "load": r["machine_before"]["load_1m"]})
    cols = ["chunks", "vectors", "type", "param", "value", "p50 ms", "p95 ms", "recall@10",
            "build s", "RSS MB", "disk MB", "load"]
    best = [{"chunks": label(r["size"]), "type": r["type"], "value": r["value"],
             "p95 ms": r["p95_ms"], "recall@10": r["recall@10"], "RSS MB": r["index_rss_mb"]}
            for r in out["best_at_recall_0.95"]]
    return (table(rows, cols, "Search: single-query latency, recall@10 vs exact, memory, disk")
            + "\n\n" + table(best, ["chunks", "type", "value", "p95 ms", "recall@10", "RSS MB"],
                             "Fastest setting per type with recall@10 >= 0.95"))


def coldstart(out: dict) -> str:
    rows = [{"command": k, "median s": v, "runs": len(out["runs"][k])}
            for k, v in out["median_s"].items()]
    return table(rows, ["command", "median s", "runs"], f"Cold start (seeds/){_load(out)}")


def reader(out: dict) -> str:
    rows = [{"reader": r, **w, "one-off rag ask s": out["one_off_s"][r]["median"]}
            for r, w in out["warm"].items()]
    return table(rows, ["reader", "p50_ms", "p95_ms", "max_ms", "asks", "one-off rag ask s"],
                 f"Reader: warm ask over {out['questions']} seed questions, one-off rag ask"
                 f"{_load(out)}")


def llamaindex(out: dict) -> str:
    if "skipped" in out:
        return f"LlamaIndex: skipped ({out['skipped']})"
    ing = out["ingestion"]
    rows = [{"side": side, "seconds": r["build_s"], "cpu s": r.get("build_cpu_s"),
             "docs": r["documents"], "chunks": r["chunks"], "tokens": r.get("tokens"),
             "chunks/s": r["chunks_per_s"], "tokens/s": r.get("tokens_per_s"),
             "peak RSS MB": r["peak_rss_mb"]}
            for side, r in (("verbatim", ing["verbatim"]), ("llamaindex", ing["llamaindex"]))]
    first = table(rows, ["side", "seconds", "cpu s", "docs", "chunks", "tokens", "chunks/s",
                         "tokens/s", "peak RSS MB"],
                  f"Ingestion side by side: LlamaIndex / verbatim time = {ing['time_ratio']}"
                  f"{_load(ing['verbatim'])}")
    rows = [{"chunks": label(r["size"]), "vectors": r["vectors"], "side": r["side"],
             "p50 ms": r["p50_ms"], "p95 ms": r["p95_ms"], "index RSS MB": r["index_rss_mb"],
             "queries": r["queries_timed"], "load": r["machine_before"]["load_1m"]}
            for r in out["search"]]
    second = table(rows, ["chunks", "vectors", "side", "p50 ms", "p95 ms", "index RSS MB",
                          "queries", "load"], "Search side by side (query given as a vector)")
    third = table(out["ratios"], ["size", "p50_ratio", "p95_ratio", "memory_ratio"],
                  "LlamaIndex / verbatim")
    return f"{first}\n\n{second}\n\n{third}"


def large(out: dict) -> str:
    first, again = out["first_run"], out["after_kill"]
    rows = [
        {"what": "`rag index` says: searchable (BM25, first snapshot)",
         "seconds": first["searchable_s"]},
        {"what": f"`rag ask` started then has its answer ({first['citations']} citations)",
         "seconds": first["answered_s"]},
        {"what": f"kill -9 after embedding: {first['cached_at_kill']:,} chunks cached",
         "seconds": first["killed_after_s"]},
        {"what": f"second run searchable, {again['embedded_at_first_snapshot']:,} chunks "
                 "already embedded", "seconds": again["searchable_s"]},
    ]
    title = (f"A large collection: {out['documents']:,} articles, {first['chunks']:,} chunks; "
             f"resumed without re-embedding: {out['resumed_without_reembedding']}{_load(out)}")
    return table(rows, ["what", "seconds"], title)


def embedders(out: dict) -> str:
    title = (f"Embedding {out['chunks']:,} chunks ({out['tokens']:,} model tokens) of "
             f"{out['documents']} articles, per model{_load(out)}")
    return table(out["rows"], ["model", "backend", "seconds", "chunks_per_s", "tokens_per_s",
                               "speedup", "cosine_min", "cosine_mean"], title)


TABLES = {"embedders": embedders, "ingest": ingest, "reindex": reindex, "search": search, "coldstart": coldstart,
          "llamaindex": llamaindex, "large": large, "reader": reader}
