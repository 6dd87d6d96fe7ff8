"""`rag serve`: the chat page for one index, with the operator's settings.

The operator fixes here what page readers cannot change: the LLM endpoint, the model names
readers may choose among, its key ($RAG_LLM_API_KEY) and deadline, how many LLM turns run at
once, whether an upload may replace an earlier upload of the same name, and whether readers
may remove documents from the index.

Does not: lay out the page (`ui/app.py`) or hold chat logic (`rag.app`).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import InputError, RagError
from ..search.recency import parse_day
from .common import answer_config, index_arg, llm_args, llm_config, open_retriever, reader_arg, say

LOCAL = ("127.0.0.1", "localhost", "::1")


def register(sub) -> None:
    p = sub.add_parser("serve", help="open the chat page (default http://127.0.0.1:7860)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; "
                        "0.0.0.0 opens the page to the network)")
    p.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    p.add_argument("--auth", metavar="USER:PASS", default=None,
                   help="ask for this user name and password (default: $RAG_AUTH; none)")
    p.add_argument("--feedback", metavar="FILE", type=Path, default=None,
                   help="where 👍/👎 are appended (default: $RAG_FEEDBACK or eval/feedback.jsonl)")
    p.add_argument("--allow-replace", action="store_true",
                   help="let an upload replace an earlier upload of the same name (default: "
                        "refused; an upload never replaces any other document)")
    p.add_argument("--allow-remove", action="store_true",
                   help="let readers of the page remove documents from the index (default: "
                        "the page lists them but offers no way to remove one); with a page "
                        "others can reach, use it with --auth")
    reader_arg(p)
    llm_args(p, several=True)
    p.add_argument("--llm-slots", metavar="N", type=int, default=2,
                   help="LLM turns answered at once (default 2); more get the extractive "
                        "answer at once, so slow LLM calls never hold other readers")
    p.add_argument("--as-of", metavar="YYYY-MM-DD", default=None,
                   help="the day the page reads questions as of unless a reader types another "
                        "in Settings (for a news archive, its last day); default: none, so "
                        "only a question that says 'this week' is read as of today")
    index_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..app.chat import parse_auth, warm

    auth = parse_auth(args.auth or os.environ.get("RAG_AUTH"))
    as_of = parse_day(args.as_of)
    llm = llm_config(args)
    if args.llm_slots < 1:
        raise InputError(f"--llm-slots must be 1 or more (got {args.llm_slots}); for example "
                         "--llm-slots 2")
    if llm is not None:
        say(f"LLM answerer: {llm.url}, model {', '.join(llm.models) or 'the server default'}, "
            f"{llm.timeout:g} s per answer, {args.llm_slots} at once")
    if args.host not in LOCAL:
        say(f"warning: listening on {args.host}: anyone who can reach this machine on port "
            f"{args.port} can use the page" + ("" if auth else "; consider --auth USER:PASS"))
    retriever = open_retriever(args)
    with ThreadPoolExecutor(1) as pool:
        warming = pool.submit(warm, retriever)  # load the models while Gradio is imported
        serve = _page()
        warming.result()
    serve(retriever, host=args.host, port=args.port, auth=auth, feedback_path=args.feedback,
          llm=llm, llm_slots=args.llm_slots, allow_replace=args.allow_replace,
          allow_remove=args.allow_remove, answer_config=answer_config(args),
          as_of=as_of.isoformat() if as_of else None)
    return 0


def _page():
    try:
        from ui.app import serve
    except ModuleNotFoundError as e:
        if e.name not in ("gradio", "ui"):
            raise
        raise RagError("the chat page needs Gradio: pip install -e '.[ui]'") from e
    return serve
