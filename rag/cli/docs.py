"""`rag docs`: the documents an index holds (title, date, source, chunks), and removing some.

`rag docs [--title WORDS] [--json]` lists them as the chat page's documents panel does;
`rag docs --remove ID [ID ...]` publishes the index without those documents, with the same
writer lock and atomic swap as `rag index` (nothing is embedded).

Does not: open the model to list, or delete any file: `rag index` over the folder a removed
document came from indexes it again.
"""

from __future__ import annotations

import json
import sys

from .common import index_arg, index_dir, json_arg, say


def register(sub) -> None:
    p = sub.add_parser("docs", help="list the indexed documents, or remove some")
    p.add_argument("--title", metavar="WORDS", default="",
                   help="only documents whose title, id or file name contains WORDS")
    p.add_argument("--remove", metavar="ID", nargs="+", default=None,
                   help="remove these documents (ids as `rag docs` lists them) from the index")
    index_arg(p)
    json_arg(p)
    p.set_defaults(func=run)


def run(args) -> int:
    from ..indexing.catalog import list_documents, remove_documents
    from ..indexing.store import open_index

    if args.remove:
        report = remove_documents(args.remove, index_dir=index_dir(args))
        if args.json:
            print(json.dumps({"index": report.index_dir, "removed": list(report.removed),
                              "documents": report.documents, "chunks": report.chunks},
                             ensure_ascii=False))
        else:
            say(f"removed {len(report.removed)} document(s): {', '.join(report.removed)}; "
                f"the index holds {report.documents} documents, {report.chunks} chunks "
                f"({report.seconds:.1f} s)")
        return 0
    store = open_index(index_dir(args))
    try:
        docs = list_documents(store, title=args.title)
    finally:
        store.close()
    if args.json:
        print(json.dumps({"index": str(store.path), "documents": [d.to_dict() for d in docs]},
                         ensure_ascii=False))
        return 0
    for d in docs:
        print(f"{d.id}  {d.date or 'undated':<10}  {d.chunks:>5} chunks  {d.title}\n"
              f"    {d.source}")
    sys.stdout.flush()
    say(f"{len(docs)} of {len(store.manifest.documents)} documents" if args.title
        else f"{len(docs)} documents")
    return 0
