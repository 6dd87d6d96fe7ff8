"""The `rag` command: a thin layer over the library, one small module per command group.

`main(argv)` parses the command line and runs the command. Library errors become one line on
stderr and a non-zero exit, warnings become `note:` lines, `--json` prints one JSON object on
stdout for machines. Heavy modules are imported inside the commands, so `rag --help` starts
fast.

The commands, in the order `rag --help` lists them, and the module of each:
- `index`: `rag.cli.indexing`;
- `search`, `ask`, `chat`: `rag.cli.asking`;
- `eval`: `rag.cli.evaluating`;
- `serve`: `rag.cli.serving`;
- `info`: `rag.cli.info`;
- `docs`: `rag.cli.docs`.

Does not: hold any retrieval, answering or evaluation logic; every decision is the library's.
"""

from __future__ import annotations

import argparse
import sys
import warnings

from ..errors import RagError
from . import asking, docs, evaluating, indexing, info, serving
from .common import say, version

# Each command group registers its sub-commands on the parser; `rag --help` lists them in
# this order.
COMMANDS = (indexing, asking, evaluating, serving, info, docs)


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="rag", description=(
        "verbatim: ask questions over your articles; every answer is built from verbatim, "
        "verified quotes."))
    ap.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in COMMANDS:
        group.register(sub)
    return ap


def _show_warning(message, category, filename, lineno, file=None, line=None):
    say(f"note: {message}")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    warnings.showwarning = _show_warning
    try:
        return args.func(args)
    except RagError as e:
        say(f"error: {e}")
        return 1
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
