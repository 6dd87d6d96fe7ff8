"""`rag serve`: the chat page for one index.

Does not: lay out the page (`ui/app.py`) or hold chat logic (`rag.app`).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..errors import RagError
from .common import index_arg, open_retriever, say

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
    index_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..app.chat import parse_auth, warm

    auth = parse_auth(args.auth or os.environ.get("RAG_AUTH"))
    if args.host not in LOCAL:
        say(f"warning: listening on {args.host}: anyone who can reach this machine on port "
            f"{args.port} can use the page" + ("" if auth else "; consider --auth USER:PASS"))
    retriever = open_retriever(args)
    with ThreadPoolExecutor(1) as pool:
        warming = pool.submit(warm, retriever)  # load the models while Gradio is imported
        serve = _page()
        warming.result()
    serve(retriever, host=args.host, port=args.port, auth=auth, feedback_path=args.feedback)
    return 0


def _page():
    try:
        from ui.app import serve
    except ModuleNotFoundError as e:
        if e.name not in ("gradio", "ui"):
            raise
        raise RagError("the chat page needs Gradio: pip install -e '.[ui]'") from e
    return serve
