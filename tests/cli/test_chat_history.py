"""`rag chat` at a terminal: the up arrow brings back the last question (readline)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"

# `rag chat` over a fake-model index, in its own process so it can own a terminal.
CHAT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests!r})
    from conftest import ARTICLES, FakeEmbedder, write_corpus
    import rag.indexing.build, rag.indexing.embed, rag.search.retrieve
    from rag.cli import main
    fake = FakeEmbedder()
    for module in (rag.indexing.build, rag.search.retrieve, rag.indexing.embed):
        module.get_embedder = lambda model=None: fake
    corpus = write_corpus(__import__("pathlib").Path({root!r}) / "corpus", ARTICLES)
    main(["index", str(corpus), "--index", {root!r} + "/index"])
    sys.exit(main(["chat", "--index", {root!r} + "/index"]))
""")


def _read_until(fd: int, seen: bytearray, done, timeout: float = 120) -> None:
    """Read the terminal into `seen` until `done(seen)`."""
    deadline = time.monotonic() + timeout
    while not done(seen):
        left = deadline - time.monotonic()
        assert left > 0, f"gave up waiting; the terminal showed {bytes(seen)[-2000:]!r}"
        if select.select([fd], [], [], left)[0]:
            try:
                seen += os.read(fd, 65536)
            except OSError:  # the child closed the terminal
                return


def test_the_up_arrow_asks_the_last_question_again(tmp_path):
    main, child = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "PYTHONPATH": str(ROOT)}
    script = CHAT.format(tests=str(TESTS), root=str(tmp_path))
    process = subprocess.Popen([sys.executable, "-c", script], stdin=child, stdout=child,
                               stderr=child, cwd=ROOT, env=env, close_fds=True)
    os.close(child)
    seen = bytearray()
    try:
        _read_until(main, seen, lambda s: s.count(b"you> ") == 1)
        os.write(main, b"When did the volcano on the Reykjanes peninsula erupt?\r")
        _read_until(main, seen, lambda s: s.count(b"you> ") == 2)
        os.write(main, b"\x1b[A\r")  # up arrow, Enter: the same question again
        _read_until(main, seen, lambda s: s.count(b"you> ") == 3)
        os.write(main, b"\r")  # an empty line quits
        assert process.wait(timeout=60) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(main)
    question = b"When did the volcano on the Reykjanes peninsula erupt?"
    assert seen.count(question) == 2 and b"^[[A" not in seen  # recalled, not typed as ^[[A
    assert seen.count(b"Sources:") == 2 and seen.count(b"Monday night") >= 2


def test_piped_questions_do_not_load_readline():
    code = ("import sys; from rag.cli.asking import line_editing; "
            "print(line_editing(), 'readline' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], stdin=subprocess.PIPE, cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
