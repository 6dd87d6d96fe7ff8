"""`rag search`, `rag ask` and `rag chat`: passages, answers and a conversation in the terminal.

Answers are printed for people (the text, then numbered sources or the closest matches) or,
with `--json`, as `Answer.to_dict()`.

Does not: retrieve or answer by itself (`rag.search`, `rag.answering`).
"""

from __future__ import annotations

import json
import sys
import textwrap

from ..errors import RagError
from .common import (
    as_of_arg,
    check_question,
    index_arg,
    json_arg,
    k_arg,
    llm_args,
    open_answerer,
    open_retriever,
    reader_arg,
    say,
    search_args,
)


def register(sub) -> None:
    p = sub.add_parser("search", help="show the passages that best match a question")
    p.add_argument("question")
    k_arg(p)
    search_args(p)
    as_of_arg(p)
    index_arg(p)
    json_arg(p)
    p.set_defaults(func=search)

    p = sub.add_parser("ask", help="answer a question with verified quotes of the sources")
    p.add_argument("question")
    k_arg(p)
    search_args(p)
    as_of_arg(p)
    index_arg(p)
    json_arg(p)
    reader_arg(p)
    llm_args(p)
    p.set_defaults(func=ask)

    p = sub.add_parser("chat", help="a conversation in the terminal (follow-up questions work)")
    k_arg(p)
    search_args(p)
    index_arg(p)
    reader_arg(p)
    llm_args(p)
    p.set_defaults(func=chat)


def search(args) -> int:
    from ..search.retrieve import check_k

    check_k(args.k)
    check_question(args.question)
    passages = open_retriever(args).search(args.question, k=args.k, as_of=args.as_of)
    if args.json:
        print(json.dumps({"question": args.question, "passages": [p.to_dict() for p in passages]},
                         ensure_ascii=False))
        return 0
    for p in passages:
        date = f", {p.date}" if p.date else ""
        print(f"[{p.rank}] {p.score:.3f}  {p.title}{date}\n    {p.source}:{p.start}-{p.end}")
        print(textwrap.indent(textwrap.fill(" ".join(p.text.split()), 96), "    "), end="\n\n")
    return 0


def ask(args) -> int:
    from ..search.retrieve import check_k

    check_k(args.k)
    check_question(args.question)
    answer = open_answerer(args).ask(args.question, k=args.k, as_of=args.as_of)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
    else:
        print_answer(answer)
    return 0


def chat(args) -> int:
    from ..search.retrieve import check_k

    check_k(args.k)
    answerer = open_answerer(args)
    history: list = []
    line_editing()
    say("Ask about the articles; an empty line or Ctrl-D quits.")
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
            say(f"error: {e}")
            continue
        print_answer(answer)
        history.append(answer)


def line_editing() -> bool:
    """Arrow keys and history for `input()` when a person types at a terminal; never when
    questions are piped in (readline would echo control codes). True when turned on."""
    if not sys.stdin.isatty():
        return False
    try:
        import readline  # noqa: F401 (importing it is what gives input() editing and history)
    except ImportError:  # a Python built without it: plain input() still works
        return False
    return True


def print_answer(answer) -> None:
    """An answer for people: the text, then numbered sources (or the closest matches)."""
    if answer.standalone_query != " ".join(answer.question.split()):
        print(f"(searched for: {answer.standalone_query})")
    print(textwrap.fill(answer.text, 100))
    if answer.confidence is not None:
        say(f"confidence: {answer.confidence:.2f} (the reader's estimate that the first quote "
            "answers the question)")
    for note in answer.notes:
        if note not in answer.text:  # the conflict note is part of the text already
            say(f"note: {note}")
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
