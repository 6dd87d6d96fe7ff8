"""What several commands share: their options, stderr messages, and opening an index.

`index_arg` adds `--index DIR` and `--store URI` to a command, and `index_dir(args)` resolves
them (or `$RAG_STORE`, `$RAG_INDEX`) to where the index lives: a directory or a Milvus URI
(`rag.indexing.location`). `open_retriever` opens the index a command names (building the
default one from the seeds when none exists yet, and saying so; an index whose model is gone
says how to rebuild it);
`open_answerer` puts the extractive answerer, or the optional LLM answerer, on top of it.

Does not: print answers or reports (each command group does), or parse the command line.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import EmbedderError, IndexNotFoundError, InputError


def say(text: str) -> None:
    """One line on stderr, at once: notes, progress and errors for people."""
    print(text, file=sys.stderr, flush=True)


def version() -> str:
    from ..indexing.manifest import package_version

    return package_version()


def index_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", metavar="DIR", type=Path, default=None,
                   help="index directory (default: $RAG_INDEX or index/default)")
    p.add_argument("--store", metavar="URI", default=None,
                   help="keep the index in Milvus instead: milvus:///path/file.db (the embedded "
                        "milvus-lite) or milvus://host:19530 (a server; token from "
                        "$RAG_MILVUS_TOKEN); default: $RAG_STORE, else the --index directory")


def k_arg(p: argparse.ArgumentParser, default: int = 5) -> None:
    p.add_argument("-k", type=int, default=default, metavar="N",
                   help=f"passages to retrieve (default {default})")


def json_arg(p: argparse.ArgumentParser, help: str = "print one JSON object") -> None:
    p.add_argument("--json", action="store_true", help=help)


def search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", choices=("dense", "lexical", "hybrid"),
                   default=os.environ.get("RAG_MODE") or None,
                   help="retrieval: dense (embeddings), lexical (BM25) or hybrid, both fused "
                        "(default: $RAG_MODE or hybrid)")
    p.add_argument("--fusion", choices=("rrf", "minmax", "zscore"), default=None,
                   help="how hybrid search fuses its two sides: by reciprocal rank (rrf) or by "
                        "normalized scores (default: $RAG_FUSION, else minmax for an index of "
                        "a million characters or more, rrf for a smaller one)")
    p.add_argument("--rerank", metavar="DIR|reader", default=os.environ.get("RAG_RERANKER") or None,
                   help="rerank with the cross-encoder model in DIR, or with the learned reader "
                        "(`reader`: a passage scores as its best sentence) (default: "
                        "$RAG_RERANKER; off)")


def as_of_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--as-of", metavar="YYYY-MM-DD", default=None,
                   help="the question's day: articles dated from 7 days before to 3 after it "
                        "come first (news about the past week); without it, a question that "
                        "says 'this week', 'recently' or 'yesterday' is read as of today")


def reader_arg(p: argparse.ArgumentParser) -> None:
    """--reader, falling back to $RAG_READER."""
    from ..answering.answer import READERS

    p.add_argument("--reader", choices=READERS, default=os.environ.get("RAG_READER") or "cheap",
                   help="how the answerer picks sentences and decides to refuse: cheap (the "
                        "hand-weighted score) or learned (the trained reader; docs/reader.md); "
                        "both give a confidence per answer (default: $RAG_READER or cheap)")
    p.add_argument("--threshold", type=float, metavar="T",
                   default=os.environ.get("RAG_THRESHOLD") or None,
                   help="refuse under this score (cheap) or confidence (learned), e.g. the one "
                        "`rag eval --calibrate` recommends for your own questions (default: "
                        "$RAG_THRESHOLD, else the reader's own: 0.42 cheap, the learned "
                        "model's from its manifest)")


def answer_config(args):
    """The answerer's settings from --reader and --threshold."""
    from ..answering.answer import AnswerConfig

    threshold = getattr(args, "threshold", None)
    return AnswerConfig(reader=getattr(args, "reader", None) or "cheap",
                        threshold=None if threshold is None else float(threshold))


def llm_args(p: argparse.ArgumentParser, *, several: bool = False) -> None:
    """--llm-url, --llm-model and --llm-timeout, falling back to $RAG_LLM_URL and friends."""
    p.add_argument("--llm-url", metavar="URL", default=os.environ.get("RAG_LLM_URL") or None,
                   help="answer with an OpenAI-compatible chat endpoint, e.g. "
                        "http://localhost:11434/v1 (default: $RAG_LLM_URL; API key: $RAG_LLM_API_KEY)")
    p.add_argument("--llm-model", metavar="NAME[,NAME...]" if several else "NAME",
                   default=os.environ.get("RAG_LLM_MODEL") or None,
                   help=("model names a page user may choose among, the first by default"
                         if several else "model name to ask the endpoint for")
                        + " (default: $RAG_LLM_MODEL)")
    p.add_argument("--llm-timeout", metavar="SECONDS", type=_seconds,
                   default=os.environ.get("RAG_LLM_TIMEOUT") or "60",
                   help="total time one LLM request may take, connecting and reading together; "
                        "after it the extractive answer is shown (default: $RAG_LLM_TIMEOUT or 60)")


def _seconds(value: str) -> float:
    """A positive number of seconds (argparse applies it to $RAG_LLM_TIMEOUT too)."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive number of seconds; "
                                         "for example --llm-timeout 60 (or RAG_LLM_TIMEOUT=60)")
    return seconds


def llm_config(args):
    """The operator's LLM settings from --llm-url, --llm-model, --llm-timeout and
    $RAG_LLM_API_KEY; None without --llm-url."""
    if not getattr(args, "llm_url", None):
        return None
    from ..answering.llm import LLMConfig

    return LLMConfig(args.llm_url, models=tuple((args.llm_model or "").split(",")),
                     api_key=os.environ.get("RAG_LLM_API_KEY") or None, timeout=args.llm_timeout)


def index_dir(args):
    """Where the command's index lives: `--index`, `--store`, else `$RAG_STORE`, else the
    default directory (a `Path` or a `rag.indexing.location.MilvusURI`)."""
    from ..indexing.location import default_location, parse_location

    index, store = getattr(args, "index", None), getattr(args, "store", None)
    if index is not None and store is not None:
        raise InputError("use one of --index DIR (a local index) and --store URI (Milvus)")
    if store is not None:
        return parse_location(store)
    return index if index is not None else default_location()


def check_question(question: str) -> None:
    if not question.strip():
        raise InputError("the question is empty; type a question about the articles")


def open_retriever(args):
    """The retriever for `--index` or `--store`, building the default index from seeds/ when
    none exists."""
    from ..answering.rerank import with_reranker
    from ..indexing.build import build_index, default_corpus
    from ..indexing.location import default_location, option
    from ..search.retrieve import Retriever

    where = index_dir(args)
    config = search_config(args)
    rerank = getattr(args, "rerank", None)
    try:
        return _note_pending(with_reranker(Retriever.load(where, config=config), rerank))
    except IndexNotFoundError:
        named = args.index is not None or getattr(args, "store", None) is not None
        if named and where != default_location():
            raise
    except EmbedderError as e:  # the model the index names is gone
        raise EmbedderError(f"{e}. The index at {where} was built with it: put it back, or "
                            f"rebuild the index with the default model (`rag index PATH ... "
                            f"{option(where)}`)") from e
    say(f"no index at {where} yet: building it from {default_corpus()} first")
    report = build_index([default_corpus()], index_dir=where, progress=True)
    say(f"indexed {report.documents} documents, {report.chunks} chunks in {report.seconds:.1f}s")
    return with_reranker(Retriever.load(where, config=config), rerank)


def search_config(args):
    """The `SearchConfig` of `--mode` and `--fusion`, else `$RAG_MODE` and `$RAG_FUSION` (for
    `rag serve` too), each left to the defaults if absent; an unknown value is one line."""
    from ..search.retrieve import FUSIONS, SearchConfig

    fusion = getattr(args, "fusion", None) or os.environ.get("RAG_FUSION") or None
    if fusion is not None and fusion not in FUSIONS:
        raise InputError(f"unknown fusion {fusion!r} (--fusion or RAG_FUSION); allowed: "
                         f"{', '.join(FUSIONS)}")
    mode = getattr(args, "mode", None) or os.environ.get("RAG_MODE") or SearchConfig.mode
    return SearchConfig(mode=mode, fusion=fusion)


def _note_pending(retriever):
    m = retriever.store.manifest
    if m.pending:
        say(f"note: {m.pending:,} of {m.chunks:,} chunks are still being embedded; until then "
            "they are found by their words only")
    return retriever


def open_answerer(args):
    """The extractive answerer over `open_retriever(args)`, or the LLM one with `--llm-url`."""
    from ..answering.answer import Answerer

    config = llm_config(args)  # a bad --llm-url is reported before the index is opened
    answerer = Answerer(open_retriever(args), config=answer_config(args))
    if config is None:
        return answerer
    from ..answering.llm import LLMAnswerer

    return LLMAnswerer(answerer.retriever, url=config.url, model=config.model(None),
                       api_key=config.api_key, timeout=config.timeout, fallback=answerer)
