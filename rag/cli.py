"""The `rag` command: a thin layer over the library.

Library errors become one line on stderr and a non-zero exit, warnings become `note:`
lines, `--json` prints one JSON object on stdout for machines. Heavy modules are imported
inside the commands, so `rag --help` starts fast.
"""

from __future__ import annotations

import argparse
import json
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
    p.add_argument("--index-type", choices=("flat", "hnsw", "ivf"), default="flat",
                   help="FAISS index type (default flat: exact search)")
    p.add_argument("--json", action="store_true", help="print a JSON report")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("search", help="show the passages that best match a question")
    p.add_argument("question")
    _k_arg(p)
    _index_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_search)

    p = sub.add_parser("ask", help="answer a question with verified quotes of the sources")
    p.add_argument("question")
    _k_arg(p)
    _index_arg(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="a conversation in the terminal (follow-up questions work)")
    _k_arg(p)
    _index_arg(p)
    p.set_defaults(func=cmd_chat)

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
    report = build_index(paths, index_dir=_index_dir(args), add=args.add, progress=True,
                         store_config=StoreConfig(index_type=args.index_type))
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


def open_retriever(args):
    """The retriever for `--index`, building the default index from seeds/ when none exists."""
    from .build import build_index, default_corpus, default_index_dir
    from .retrieve import Retriever

    index_dir = _index_dir(args)
    try:
        return Retriever.load(index_dir)
    except IndexNotFoundError:
        if args.index is not None and Path(args.index) != default_index_dir():
            raise
    _say(f"no index at {index_dir} yet: building it from {default_corpus()} first")
    report = build_index([default_corpus()], index_dir=index_dir, progress=True)
    _say(f"indexed {report.documents} documents, {report.chunks} chunks in {report.seconds:.1f}s")
    return Retriever.load(index_dir)


def cmd_search(args) -> int:
    from .retrieve import check_k

    check_k(args.k)
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

    return Answerer(open_retriever(args))


def print_answer(answer) -> None:
    """An answer for people: the text, then numbered sources (or the closest matches)."""
    if answer.standalone_query != " ".join(answer.question.split()):
        print(f"(searched for: {answer.standalone_query})")
    print(textwrap.fill(answer.text, 100))
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


def cmd_info(args) -> int:
    from .store import open_index

    store = open_index(_index_dir(args))
    m = store.manifest
    info = {"index": str(store.path), "documents": len(m.documents), "chunks": m.chunks,
            "model": m.model, "dimension": m.dimension, "index_type": m.store.get("index_type"),
            "chunker": m.chunker, "sources": m.sources, "size_bytes": store.size_on_disk(),
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
