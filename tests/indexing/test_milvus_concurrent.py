"""A new version is published while another process asks questions: no error, and every
answer comes whole from one version.

The test starts `milvus-lite server` on a free loopback port (a `.db` opens in one process
only; a server is how several share it, as with a real Milvus), a writer process that
publishes versions of two corpora in turn, and a reader process that asks questions in a loop
meanwhile, opening the newest version when there is one (as the chat page does), and checks
every passage and citation against the documents of the version it read them from. The two
corpora give one document different text and offsets, so an answer mixing versions would not
stand at its offsets.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
PUBLISHES = 6

WRITER = """
import sys, time
sys.path.insert(0, {tests!r})
from conftest import FakeEmbedder
from rag.indexing.build import build_index
embedder = FakeEmbedder()
for i in range({publishes}):
    corpus = {corpora!r}[i % 2]
    report = build_index([corpus], index_dir={uri!r}, embedder=embedder)
    print(report.documents, report.chunks, report.embedded, flush=True)
    time.sleep(0.3)
"""

READER = """
import json, os, sys
sys.path.insert(0, {tests!r})
from conftest import FakeEmbedder
from rag.answering.answer import Answerer
from rag.search.retrieve import Retriever

QUESTIONS = ["How many countries does NATO have?", "Who will succeed Stoltenberg?",
             "What did Trump say about NATO?", "A paragraph added for the second corpus",
             "defence spending two percent"]
retriever = Retriever.load({uri!r}, embedder=FakeEmbedder())
asked = mixed = errors = reopened = 0
versions = set()
while not os.path.exists({stop!r}) or asked < 10:
    if asked % 2 == 0 and not retriever.store.is_current():
        retriever = Retriever.load({uri!r}, embedder=retriever.embedder)
        reopened += 1
    try:
        answer = Answerer(retriever).ask(QUESTIONS[asked % len(QUESTIONS)])
        store = retriever.store  # the version this answer was read from
        shown = {{p.doc_id for p in answer.passages}} | {{c.doc_id for c in answer.citations}}
        docs = store.documents(sorted(shown))
        whole = all(docs[p.doc_id].hash == store.manifest.documents[p.doc_id]
                    and docs[p.doc_id].text[p.start:p.end] == p.text for p in answer.passages)
        whole = whole and all(docs[c.doc_id].text[c.start:c.end] == c.quote
                              for c in answer.citations)
        mixed += not whole
        versions.add(store.version)
    except Exception as e:
        errors += 1
        print("ERROR", type(e).__name__, e, file=sys.stderr, flush=True)
    asked += 1
print(json.dumps({{"asked": asked, "mixed": mixed, "errors": errors, "reopened": reopened,
                  "versions": sorted(versions)}}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _second_corpus(folder: Path) -> Path:
    """The seeds less one article, with a paragraph put in front of another (new offsets)."""
    folder.mkdir()
    for f in sorted(SEEDS.iterdir())[:4]:
        text = f.read_text(encoding="utf-8")
        if f.name.startswith("000_"):
            title, rest = text.split("\n", 1)
            text = (f"{title}\nA paragraph added for the second corpus: NATO allies met again "
                    f"in Brussels on Friday.\n{rest}")
        (folder / f.name).write_text(text, encoding="utf-8")
    return folder


def _python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def test_a_publish_while_another_process_searches(tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("milvus-lite")), "server", "--data-dir",
         str(tmp_path / "shared.db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert "listening" in server.stdout.readline()
        uri, stop = f"milvus://127.0.0.1:{port}", tmp_path / "stop"
        fill = {"tests": str(ROOT / "tests"), "uri": uri, "stop": str(stop),
                "corpora": [str(SEEDS), str(_second_corpus(tmp_path / "b"))]}
        first = subprocess.run(_python(WRITER.format(publishes=1, **fill)), cwd=ROOT,
                               capture_output=True, text=True, timeout=600, check=False)
        assert first.returncode == 0, first.stderr[-3000:]
        reader = subprocess.Popen(_python(READER.format(**fill)), cwd=ROOT, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(1)
        writer = subprocess.run(_python(WRITER.format(publishes=PUBLISHES, **fill)), cwd=ROOT,
                                capture_output=True, text=True, timeout=900, check=False)
        stop.touch()
        out, err = reader.communicate(timeout=600)
    finally:
        server.terminate()
        server.wait(timeout=60)
    assert writer.returncode == 0, writer.stderr[-3000:]
    published = [line.split() for line in writer.stdout.splitlines()]
    assert len(published) == PUBLISHES and {p[0] for p in published} == {"4", "5"}
    assert reader.returncode == 0, err[-3000:]
    seen = json.loads(out.strip().splitlines()[-1])
    assert seen["errors"] == 0 and seen["mixed"] == 0, (seen, err[-3000:])
    assert seen["asked"] >= 10 and len(seen["versions"]) >= 3, seen
    print(seen, file=sys.stderr)  # pytest -s shows what the reader saw
