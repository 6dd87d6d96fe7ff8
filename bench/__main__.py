"""`python -m bench [--quick] [--sizes 10k,100k,1m] [--sections ...]`: run, print, save JSON.

Sections: ingest (build_index vs encode alone), reindex (unchanged and add-one), large
(time to the first answer while `rag index` embeds, kill -9 and resume), search
(FAISS types at each size), coldstart (new processes), llamaindex (side by side), milvus
(the index in a directory and in milvus-lite, side by side), reader (warm asks per reader),
embedders (chunks/s of the float and int8 models on the same chunks). Every
section records the load average before and after, and the results file is rewritten after
each section, so a long run that stops keeps what it measured.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from importlib import metadata
from pathlib import Path

from . import common

SECTIONS = ("ingest", "reindex", "large", "search", "coldstart", "llamaindex", "milvus", "reader",
            "embedders")
RESULTS = Path(__file__).resolve().parent / "results"


def _sizes(text: str) -> list[int]:
    return [common.parse_size(s) for s in text.split(",") if s.strip()]


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="a few minutes: small corpora, 10k synthetic vectors, fewer repeats")
    ap.add_argument("--sections", default=",".join(SECTIONS),
                    help=f"comma-separated, from {', '.join(SECTIONS)} (default: all)")
    ap.add_argument("--sizes", default=None, help="search sizes, e.g. 10k,100k,1m "
                    "(default 10k,100k; --quick 10k)")
    ap.add_argument("--types", default="flat,hnsw,ivf,ivf-sq8,ivf-pq", help="FAISS index types")
    ap.add_argument("--real-upto", type=common.parse_size, default=None,
                    help="sizes up to this use real embeddings (default 10k; --quick 0)")
    ap.add_argument("--queries", type=int, default=None, help="queries for recall (default 1000)")
    ap.add_argument("--latency-queries", type=int, default=None,
                    help="single queries timed per setting (default 200)")
    ap.add_argument("--threads", type=int, default=0, help="FAISS threads (default: FAISS's own)")
    ap.add_argument("--docs", type=int, default=None, help="articles to ingest (default 200)")
    ap.add_argument("--reindex-docs", type=int, default=None,
                    help="articles in the re-index corpus (default 5000)")
    ap.add_argument("--llama-sizes", default=None, help="side-by-side search sizes "
                    "(default 10k,100k; --quick 10k)")
    ap.add_argument("--milvus-sizes", default=None, help="sizes of the local vs milvus-lite "
                    "section (default 10k,100k; --quick 10k)")
    ap.add_argument("--repeat", type=int, default=None, help="cold-start repeats (default 5)")
    ap.add_argument("--no-serve", action="store_true", help="skip timing `rag serve`")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for the JSON results")
    ap.add_argument("--name", default=None, help="results file name (default: date and time)")
    ap.add_argument("--resume", type=Path, default=None, metavar="FILE",
                    help="add to a results file, skipping the sections it already has")
    ap.add_argument("--show", type=Path, default=None, metavar="FILE",
                    help="print the tables of a results file and exit (measures nothing)")
    return ap


def settings(args) -> dict:
    quick = args.quick
    return {
        "sizes": _sizes(args.sizes or ("10k" if quick else "10k,100k")),
        "types": [t for t in args.types.split(",") if t],
        "real_upto": args.real_upto if args.real_upto is not None else (0 if quick else 10_000),
        "queries": args.queries or (300 if quick else 1000),
        "latency_queries": args.latency_queries or (100 if quick else 200),
        "docs": args.docs or (20 if quick else 200),
        "reindex_docs": args.reindex_docs or (300 if quick else 5000),
        "embed_seconds": 30.0 if quick else 90.0,
        "llama_sizes": _sizes(args.llama_sizes or ("10k" if quick else "10k,100k")),
        "milvus_sizes": _sizes(args.milvus_sizes or ("10k" if quick else "10k,100k")),
        "repeat": args.repeat or (2 if quick else 5),
        "threads": args.threads, "serve": not args.no_serve,
    }


def _versions() -> dict:
    out = {"python": platform.python_version()}
    for name in ("verbatim", "torch", "sentence-transformers", "faiss-cpu", "onnxruntime",
                 "llama-index-core", "numpy"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.show:
        import json

        data = json.loads(args.show.read_text())
        for section, part in data["sections"].items():
            print(report(section, part["result"]) + "\n")
        return 0
    sections = [s for s in args.sections.split(",") if s]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser().error(f"unknown section {', '.join(unknown)}; allowed: {', '.join(SECTIONS)}")
    conf = settings(args)
    name = args.name or time.strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
    results = {"command": " ".join(["python -m bench", *(argv or sys.argv[1:])]),
               "settings": conf, "machine": common.machine(), "versions": _versions(),
               "notes": NOTES, "sections": {}}
    if args.resume:
        import json

        results = json.loads(args.resume.read_text())
        results.setdefault("resumed", []).append(
            {"command": " ".join(["python -m bench", *(argv or sys.argv[1:])]),
             "machine": common.machine()})
        conf = {**conf, **results["settings"]}
        name, args.out = args.resume.stem, args.resume.parent
    say = _say
    path = args.out / f"{name}.json"
    for section in sections:
        if section in results["sections"]:
            say(f"{section}: already in {args.resume}; skipped")
            continue
        started = common.machine()
        out = RUNNERS[section](conf, say, results["sections"])
        results["sections"][section] = {"machine_before": started, "result": out,
                                        "machine_after": common.machine()}
        path = common.write_results(results, args.out, name)
        print("\n" + report(section, out) + "\n", flush=True)
    print(f"results: {path}")
    return 0


NOTES = {
    "ingest": "synthetic articles sampled from SciFact abstracts and seeds/ sentences, "
              "real model (ONNX export, as `rag index` uses it); bound = encode() alone on the same chunk texts",
    "reindex": "first index built with a stand-in embedder carrying the real model's name; "
               "re-index timings use the real SentenceTransformerEmbedder and build_index",
    "large": "`rag index` in a new process on the reindex corpus, real model; `rag ask` in "
             "another process once it says it is searchable; kill -9 after embed_seconds",
    "search": "sizes <= real_upto use real MiniLM embeddings of SciFact chunks with SciFact "
              "claims as queries; larger sizes use a synthetic 384-d Gaussian mixture "
              "(see vector_stats); recall@10 is against exact search",
    "coldstart": "new processes on an index of seeds/; medians of repeated runs",
    "embedders": "synthetic articles chunked as rag index chunks them; each model embeds "
                 "every chunk once after a warm-up batch; cosine is to the float model",
    "reader": "warm Answerer.ask over the seed set's questions per reader, then rag ask "
              "--reader R in new processes (median)",
    "llamaindex": "llama-index-core VectorStoreIndex, default SimpleVectorStore, our model "
                  "wrapped in a BaseEmbedding, batch 64; search given query vectors",
    "milvus": "each store written through its own write path from the same synthetic chunks "
              "(stand-in embedder, clustered vectors), then Retriever.search(k=5) per mode in a "
              "fresh process; queries are a chunk's vector plus noise (cosine ~0.95) and 3-5 "
              "of its words; 100k uses a quarter of the queries",
}


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _ingest(conf, say, done):
    return common.run_worker("ingest.measure_ingestion", documents=conf["docs"])


def _reindex(conf, say, done):
    from . import ingest

    return ingest.reindex(conf["reindex_docs"], say=say)


def _large(conf, say, done):
    from . import large

    return large.run(conf["reindex_docs"], embed_seconds=conf["embed_seconds"], say=say)


def _search(conf, say, done):
    from . import search

    rows = search.run(conf["sizes"], conf["types"], queries=conf["queries"],
                      latency_queries=conf["latency_queries"], real_upto=conf["real_upto"],
                      threads=conf["threads"], say=say)
    return {"rows": rows, "best_at_recall_0.95": search.best(rows)}


def _coldstart(conf, say, done):
    from . import coldstart

    return coldstart.run(repeat=conf["repeat"], serve=conf["serve"], say=say)


def _llamaindex(conf, say, done):
    from . import llamaindex

    try:
        import llama_index.core  # noqa: F401
    except ImportError:
        say("llamaindex: llama-index-core is not installed (pip install -e '.[bench]'); skipped")
        return {"skipped": "llama-index-core not installed"}
    say(f"llamaindex: ingesting {conf['docs']} articles ...")
    theirs = common.run_worker("llamaindex.ingestion", documents=conf["docs"])
    ours = done["ingest"]["result"] if "ingest" in done else common.run_worker(
        "ingest.measure_ingestion", documents=conf["docs"])
    rows = llamaindex.search(conf["llama_sizes"], queries=conf["queries"],
                             real_upto=conf["real_upto"],
                             latency_queries=conf["latency_queries"], say=say)
    return {"ingestion": {"verbatim": ours, "llamaindex": theirs,
                          "time_ratio": round(theirs["build_s"] / ours["build_s"], 2),
                          "peak_rss_ratio": round(theirs["peak_rss_mb"] / ours["peak_rss_mb"], 2)},
            "search": rows, "ratios": _ratios(rows)}


def _ratios(rows: list[dict]) -> list[dict]:
    out = []
    for size in sorted({r["size"] for r in rows}):
        pair = {r["side"]: r for r in rows if r["size"] == size}
        if {"verbatim", "llamaindex"} <= set(pair):
            v, li = pair["verbatim"], pair["llamaindex"]
            out.append({"size": size, "p50_ratio": round(li["p50_ms"] / max(v["p50_ms"], 1e-6), 1),
                        "p95_ratio": round(li["p95_ms"] / max(v["p95_ms"], 1e-6), 1),
                        "memory_ratio": round(li["index_rss_mb"] / max(v["index_rss_mb"], 1e-6),
                                              2)})
    return out


def _milvus(conf, say, done):
    from . import milvus

    try:
        import milvus_lite  # noqa: F401
        import pymilvus  # noqa: F401
    except ImportError:
        say("milvus: pymilvus or milvus-lite is not installed (pip install -e '.[milvus]'); skipped")
        return {"skipped": "pymilvus or milvus-lite not installed"}
    return milvus.run(conf.get("milvus_sizes", [10_000]), queries=conf["latency_queries"], say=say)


def _reader(conf, say, done):
    from . import reader

    return reader.run(repeat=conf["repeat"], say=say)


def _embedders(conf, say, done):
    from . import embedders

    return embedders.run(conf["docs"], say=say)


RUNNERS = {"ingest": _ingest, "reindex": _reindex, "large": _large, "search": _search,
           "coldstart": _coldstart, "llamaindex": _llamaindex, "milvus": _milvus,
           "reader": _reader, "embedders": _embedders}


def report(section: str, out: dict) -> str:
    """The section's figures as a plain-text table."""
    from .tables import TABLES

    if section == "milvus":
        from .milvus import table

        return out.get("skipped") or table(out)
    return TABLES[section](out)


if __name__ == "__main__":
    sys.exit(main())
