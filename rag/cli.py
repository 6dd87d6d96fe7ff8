"""The `rag` command: a thin layer over the library.

Library errors become one line on stderr and a non-zero exit, warnings become `note:`
lines, `--json` prints one JSON object on stdout for machines. Heavy modules are imported
inside the commands, so `rag --help` starts fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import textwrap
import warnings
from pathlib import Path

from .errors import IndexNotFoundError, RagError


def _index_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", metavar="DIR", type=Path, default=None,
                   help="index directory (default: $RAG_INDEX or index/default)")


def _k_arg(p: argparse.ArgumentParser, default: int = 5) -> None:
    p.add_argument("-k", type=int, default=default, metavar="N",
                   help=f"passages to retrieve (default {default})")


def _search_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", choices=("dense", "lexical", "hybrid"),
                   default=os.environ.get("RAG_MODE") or None,
                   help="retrieval: dense (embeddings), lexical (BM25) or hybrid, both fused "
                        "(default: $RAG_MODE or hybrid)")
    p.add_argument("--rerank", metavar="DIR", default=os.environ.get("RAG_RERANKER") or None,
                   help="rerank with the cross-encoder model in DIR (default: $RAG_RERANKER; off)")


def _llm_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--llm-url", metavar="URL", default=os.environ.get("RAG_LLM_URL") or None,
                   help="answer with an OpenAI-compatible chat endpoint, e.g. "
                        "http://localhost:11434/v1 (default: $RAG_LLM_URL; API key: $RAG_LLM_API_KEY)")
    p.add_argument("--llm-model", metavar="NAME", default=os.environ.get("RAG_LLM_MODEL") or None,
                   help="model name to ask the endpoint for (default: $RAG_LLM_MODEL)")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="rag", description=(
        "verbatim: ask questions over your articles; every answer is built from verbatim, "
        "verified quotes."))
    ap.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser("index", help="index files or folders (default: the seeds/ corpus)")
    p.add_argument("paths", nargs="*", metavar="PATH", help=".txt .md .html .pdf .jsonl files or folders")
    _index_arg(p)
    p.add_argument("--add", action="store_true", help="keep the documents already indexed")
    p.add_argument("--index-type", choices=("auto", "flat", "hnsw", "ivf", "ivf-sq8"),
                   default="auto", help="FAISS index type (default auto: exact search up to "
                   "50,000 chunks, then IVF)")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="show the passages that best match a question")
    p.add_argument("question")
    _k_arg(p)
    _search_args(p)
    _index_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question with verified quotes of the sources")
    p.add_argument("question")
    _k_arg(p)
    _search_args(p)
    _index_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    _llm_args(p)
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="a conversation in the terminal (follow-up questions work)")
    _k_arg(p)
    _search_args(p)
    _index_arg(p)
    _llm_args(p)
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("eval", help="measure retrieval, answers, citations and refusals")
    p.add_argument("--set", dest="set_file", metavar="FILE", type=Path, default=None,
                   help="evaluation set, JSONL (default: $RAG_EVAL_SET or eval/sets/seeds.jsonl)")
    _index_arg(p)
    _k_arg(p)
    _search_args(p)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="exit 1 when a metric is worse than the baseline beyond its tolerance")
    mode.add_argument("--update-baseline", action="store_true",
                      help="accept the current figures as the baseline")
    mode.add_argument("--calibrate", action="store_true",
                      help="sweep the refusal threshold and recommend one")
    mode.add_argument("--from-feedback", metavar="FILE", nargs="?", type=Path,
                      const=Path(""), default=None,
                      help="turn 👎 answers of the chat page (default eval/feedback.jsonl) into "
                           "candidate cases in eval/sets/feedback-candidates.jsonl, to review")
    mode.add_argument("--beir", metavar="DIR", type=Path, default=None,
                      help="retrieval metrics on a BEIR folder (index cached in index/beir-NAME "
                           "unless --index is given)")
    p.add_argument("--baseline", metavar="FILE", type=Path, default=None,
                   help="baseline figures (default eval/baseline.json)")
    p.add_argument("--reports", metavar="DIR", type=Path, default=None,
                   help="folder for the Markdown report and chart (default eval/reports)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("serve", help="open the chat page (default http://127.0.0.1:7860)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; "
                        "0.0.0.0 opens the page to the network)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--auth", metavar="USER:PASS", default=None,
                   help="ask for this user name and password (default: $RAG_AUTH; none)")
    p.add_argument("--feedback", metavar="FILE", type=Path, default=None,
                   help="where 👍/👎 are appended (default: $RAG_FEEDBACK or eval/feedback.jsonl)")
    _index_arg(p)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("info", help="describe an index")
    _index_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_info)
    return ap


def _version() -> str:
    from .store import _package_version

    return _package_version()


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _index_dir(args) -> Path:
    from .build import default_index_dir

    return args.index or default_index_dir()


def cmd_index(args) -> int:
    from .build import build_index, default_corpus
    from .store import StoreConfig

    paths = args.paths or [default_corpus()]
    try:
        report = build_index(paths, index_dir=_index_dir(args), add=args.add,
                             progress=not args.json, on_publish=_say_published,
                             store_config=StoreConfig(index_type=args.index_type))
    except KeyboardInterrupt:
        _say("interrupted: every finished batch of embeddings is kept; run the same "
             "`rag index` again to go on from there")
        return 130
    if args.json:
        print(json.dumps(report.__dict__, ensure_ascii=False))
        return 0
    state = "updated" if report.written else "unchanged"
    print(f"{report.index_dir}: {state}, {report.documents} documents, {report.chunks} chunks "
          f"({report.embedded} embedded, {report.reused} reused) in {report.seconds:.2f}s")
    for label in ("added", "changed", "removed"):
        if getattr(report, label):
            print(f"  {label}: {', '.join(getattr(report, label))}")
    return 0


def _say_published(manifest) -> None:
    """Tell the user a snapshot is searchable while embedding goes on."""
    if manifest.pending:
        done = manifest.chunks - manifest.pending
        _say(f"searchable now: {manifest.chunks:,} chunks by BM25, {done:,} of them by meaning "
             f"too; embedding the other {manifest.pending:,} goes on")


def _check_question(question: str) -> None:
    from .errors import InputError

    if not question.strip():
        raise InputError("the question is empty; type a question about the articles")


def open_retriever(args):
    """The retriever for `--index`, building the default index from seeds/ when none exists."""
    from .build import build_index, default_corpus, default_index_dir
    from .retrieve import Retriever, SearchConfig

    index_dir = _index_dir(args)
    config = SearchConfig(mode=getattr(args, "mode", None) or SearchConfig.mode,
                          reranker=getattr(args, "rerank", None))
    try:
        return _note_pending(Retriever.load(index_dir, config=config))
    except IndexNotFoundError:
        if args.index is not None and Path(args.index) != default_index_dir():
            raise
    _say(f"no index at {index_dir} yet: building it from {default_corpus()} first")
    report = build_index([default_corpus()], index_dir=index_dir, progress=True)
    _say(f"indexed {report.documents} documents, {report.chunks} chunks in {report.seconds:.1f}s")
    return Retriever.load(index_dir, config=config)


def _note_pending(retriever):
    m = retriever.store.manifest
    if m.pending:
        _say(f"note: {m.pending:,} of {m.chunks:,} chunks are still being embedded; until then "
             "they are found by their words only")
    return retriever


def cmd_search(args) -> int:
    from .retrieve import check_k

    check_k(args.k)
    _check_question(args.question)
    passages = open_retriever(args).search(args.question, k=args.k)
    if args.json:
        print(json.dumps({"question": args.question, "passages": [p.to_dict() for p in passages]},
                         ensure_ascii=False))
        return 0
    for p in passages:
        date = f", {p.date}" if p.date else ""
        print(f"[{p.rank}] {p.score:.3f}  {p.title}{date}\n    {p.source}:{p.start}-{p.end}")
        print(textwrap.indent(textwrap.fill(" ".join(p.text.split()), 96), "    "), end="\n\n")
    return 0


def open_answerer(args):
    from .answer import Answerer

    answerer = Answerer(open_retriever(args))
    if not getattr(args, "llm_url", None):
        return answerer
    from .llm import LLMAnswerer

    return LLMAnswerer(answerer.retriever, url=args.llm_url, model=args.llm_model,
                       api_key=os.environ.get("RAG_LLM_API_KEY") or None, fallback=answerer)


def print_answer(answer) -> None:
    """An answer for people: the text, then numbered sources (or the closest matches)."""
    if answer.standalone_query != " ".join(answer.question.split()):
        print(f"(searched for: {answer.standalone_query})")
    print(textwrap.fill(answer.text, 100))
    for note in answer.notes:
        if note not in answer.text:  # the conflict note is part of the text already
            _say(f"note: {note}")
    if answer.refused:
        print("\nClosest matches:")
        for p in answer.passages:
            print(f"  - {p.title} ({p.date or 'undated'}) {p.source}:{p.start}-{p.end}")
            print(textwrap.indent(textwrap.shorten(" ".join(p.text.split()), 200), "      "))
        return
    print("\nSources:")
    for c in answer.citations:
        focus = f"  answer: {c.focus}" if c.focus else ""
        print(f"  [{c.n}] {c.title} ({c.date or 'undated'}) {c.source}:{c.start}-{c.end}{focus}")
        print(textwrap.indent(textwrap.fill(f"\u201c{c.quote}\u201d", 96), "      "))


def cmd_ask(args) -> int:
    from .retrieve import check_k

    check_k(args.k)
    _check_question(args.question)
    answer = open_answerer(args).ask(args.question, k=args.k)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        print_answer(answer)
    return 0


def cmd_chat(args) -> int:
    from .retrieve import check_k

    check_k(args.k)
    answerer = open_answerer(args)
    history: list = []
    _say("Ask about the articles; an empty line or Ctrl-D quits.")
    while True:
        try:
            question = input("\nyou> ").strip()
        except EOFError:
            return 0
        if not question:
            return 0
        try:
            answer = answerer.ask(question, history=history, k=args.k)
        except RagError as e:
            _say(f"error: {e}")
            continue
        print_answer(answer)
        history.append(answer)


def cmd_eval(args) -> int:
    from dataclasses import asdict

    from . import evaluate as ev
    from .report import beir_summary, calibration_table, summary, write_report
    from .retrieve import check_k

    check_k(args.k)
    if args.beir:
        beir = ev.evaluate_beir(args.beir, index_dir=args.index, progress=True, mode=args.mode)
        print(json.dumps(asdict(beir)) if args.json else beir_summary(beir))
        return 0
    set_file = args.set_file or Path(os.environ.get("RAG_EVAL_SET") or ev.DEFAULT_SET)
    questions = ev.load_set(set_file)  # a bad set fails before any model loads
    if args.from_feedback is not None:
        return _from_feedback(args.from_feedback, questions, Path(set_file).parent)
    if args.calibrate:
        cal = ev.calibrate(questions, open_answerer(args), k=args.k, progress=True)
        print(json.dumps(asdict(cal)) if args.json else calibration_table(cal))
        return 0
    baseline_file = args.baseline or ev.DEFAULT_BASELINE
    baseline = ev.read_baseline(baseline_file) if args.check else None
    report = ev.evaluate(set_file, open_answerer(args), k=args.k, progress=not args.json)
    md, png = write_report(report, args.reports or ev.DEFAULT_REPORTS)
    problems = ev.check(report.overall, baseline, questions=len(report.results)) if baseline else []
    if args.json:
        print(json.dumps({"set": report.set_path, "overall": report.overall,
                          "by_type": report.by_type, "report": str(md), "chart": str(png),
                          "regressions": problems}))
    else:
        print(f"{summary(report)}\n\nreport: {md}\nchart: {png}")
    if args.update_baseline:
        _say(f"baseline written to {ev.write_baseline(report, baseline_file)}")
    for problem in problems:
        _say(f"regression: {problem}")
    if args.check and not problems:
        _say(f"check passed: no metric worse than {baseline_file} beyond its tolerance")
    return 1 if problems else 0


def _from_feedback(feedback: Path, questions, sets_dir: Path) -> int:
    from .chat import default_feedback_path
    from .feedback import candidates_from_feedback, write_candidates

    found = candidates_from_feedback(feedback if str(feedback) else default_feedback_path(),
                                     known={q.question for q in questions})
    out = write_candidates(found, sets_dir / "feedback-candidates.jsonl")
    print(f"{len(found)} candidate case(s) written to {out}; review them, then move them into the set")
    return 0


def cmd_serve(args) -> int:
    import os
    from concurrent.futures import ThreadPoolExecutor

    from .chat import parse_auth, warm

    auth = parse_auth(args.auth or os.environ.get("RAG_AUTH"))
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        _say(f"warning: listening on {args.host}: anyone who can reach this machine on port "
             f"{args.port} can use the page" + ("" if auth else "; consider --auth USER:PASS"))
    retriever = open_retriever(args)
    with ThreadPoolExecutor(1) as pool:
        warming = pool.submit(warm, retriever)  # load the models while Gradio is imported
        try:
            from ui.app import serve
        except ModuleNotFoundError as e:
            if e.name not in ("gradio", "ui"):
                raise
            raise RagError("the chat page needs Gradio: pip install -e '.[ui]'") from e
        warming.result()
    serve(retriever, host=args.host, port=args.port, auth=auth, feedback_path=args.feedback)
    return 0


def cmd_info(args) -> int:
    from .store import open_index

    store = open_index(_index_dir(args))
    m = store.manifest
    info = {"index": str(store.path), "documents": len(m.documents), "chunks": m.chunks,
            "model": m.model, "dimension": m.dimension, "index_type": m.store.get("index_type"),
            "faiss": m.faiss, "pending": m.pending,
            "chunker": m.chunker, "lexical": m.lexical, "sources": m.sources,
            "size_bytes": store.size_on_disk(),
            "package_version": m.package_version}
    if args.json:
        print(json.dumps(info, ensure_ascii=False))
        return 0
    for key, value in info.items():
        if key == "size_bytes":
            key, value = "size on disk", f"{value / 1e6:.2f} MB"
        print(f"{key:>16}: {value}")
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None):
    _say(f"note: {message}")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        return args.func(args)
    except RagError as e:
        _say(f"error: {e}")
        return 1
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
