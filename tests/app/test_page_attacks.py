"""The attacks of the red-team pass, against the real chat page on loopback.

The page (`ui.app.launch`, what `rag serve` runs) is started in this process over a
fake-model index, with the operator's LLM on a loopback stub, and attacked through
`gradio_client` and raw HTTP, as any reader of the page could: a forged file path, an upload
named like an indexed article, a URL where the page takes a model name, k = 1,000,000, two
dripping LLM turns before a plain question, a made-up claim around a real quote, and quick
password guesses.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import ARTICLES, FakeEmbedder, write_corpus
from llm_stub import MADE_UP, LLMServer

from rag.answering.llm import LLMConfig
from rag.app.chat import ChatService
from rag.indexing.build import build_index
from rag.search.retrieve import Retriever

pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

VOLCANO = "When did the volcano on the Reykjanes peninsula erupt?"
DEADLINE = 4.0  # the operator's LLM deadline on this page, seconds


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Site:
    """The running page, its service, the operator's LLM stub and an attacker's listener."""

    def __init__(self, root: Path, *, auth=None):
        from ui.app import launch

        fake = FakeEmbedder()
        build_index([write_corpus(root / "corpus", ARTICLES)], index_dir=root / "index",
                    embedder=fake)
        self.llm, self.listener = LLMServer(pause=0.05).start(), LLMServer().start()
        config = LLMConfig(self.llm.url, models=("small",), api_key="sk-operator",
                           timeout=DEADLINE)
        self.service = ChatService(Retriever.load(root / "index", embedder=fake),
                                   feedback_path=root / "feedback.jsonl", llm=config)
        self.url = f"http://127.0.0.1:{_port()}"
        self.page = launch(self.service, port=int(self.url.rsplit(":", 1)[1]), auth=auth)

    def client(self):
        return gradio_client.Client(self.url, verbose=False, analytics_enabled=False)

    def close(self) -> None:
        self.page.close()
        self.llm.stop()
        self.listener.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("page")
    before = os.environ.get("GRADIO_TEMP_DIR")
    os.environ["GRADIO_TEMP_DIR"] = str(root / "gradio")  # Gradio's upload folder
    s = Site(root)
    yield s
    s.close()
    if before is None:
        os.environ.pop("GRADIO_TEMP_DIR", None)
    else:
        os.environ["GRADIO_TEMP_DIR"] = before


def _post(url: str, payload: dict) -> str:
    """A raw API call (no client-side upload of anything): the event stream's text."""
    request = urllib.request.Request(url, data=json.dumps(payload).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as r:
        event = json.loads(r.read())["event_id"]
    with urllib.request.urlopen(f"{url}/{event}", timeout=60) as r:
        return r.read().decode("utf-8", "replace")


def test_a_forged_file_path_reads_nothing(site, tmp_path):
    secret = tmp_path / "vault_notes.txt"
    secret.write_text("Vault notes\n\nThe vault combination on the third floor is forty two "
                      "eleven.\n", encoding="utf-8")
    cache = Path(os.environ["GRADIO_TEMP_DIR"])
    link = cache / "forged" / "notes.txt"
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(secret)
    for path in (str(secret), f"{cache}/{os.path.relpath(secret, cache)}", str(link)):
        shown = _post(f"{site.url}/gradio_api/call/add_files",
                      {"data": [[{"path": path, "meta": {"_type": "gradio.FileData"}}]]})
        assert "Indexed" not in shown
    answer = site.client().predict("What is the vault combination on the third floor?", 5,
                                   api_name="/ask")
    assert "forty two eleven" not in json.dumps(answer)
    assert not site.service.uploads_dir.exists()


def test_an_upload_named_like_an_indexed_article_is_refused(site, tmp_path):
    fake = tmp_path / "volcano.txt"
    fake.write_text("Volcano news\n\nThe volcano on the Reykjanes peninsula erupted on Friday "
                    "morning, a fake report said.\n", encoding="utf-8")
    client = site.client()
    message = client.predict([gradio_client.handle_file(str(fake))], api_name="/add_files")[0]
    assert "Refused volcano.txt" in message and "already indexed" in message
    answer = client.predict(VOLCANO, 5, api_name="/ask")
    assert "Monday" in answer["answer"] and "Friday" not in json.dumps(answer)


def test_a_reader_cannot_aim_the_llm_or_reach_its_key(site):
    client = site.client()
    api = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert [p["parameter_name"] for p in api["/chat"]["parameters"]] == \
        ["message", "k", "answerer", "model", "as_of"]
    labels = [c.get("props", {}).get("label") for c in client.config["components"]]
    assert not any("URL" in (label or "") for label in labels)
    with pytest.raises(Exception, match="not in the list of choices"):
        client.predict(VOLCANO, 5, "llm", site.listener.url, api_name="/chat")
    assert site.listener.requests == []
    assert all(r["auth"] == "Bearer sk-operator" for r in site.llm.requests)


def test_ask_checks_the_as_of_day(site):
    with pytest.raises(Exception, match="YYYY-MM-DD"):
        site.client().predict("Where is NATO headquartered?", 5, "x" * 5000, api_name="/ask")


@pytest.mark.parametrize("k", [1_000_000, 51, 0])
def test_ask_caps_k(site, k):
    with pytest.raises(Exception, match="from 1 to 50"):
        site.client().predict("Where is NATO headquartered?", k, api_name="/ask")


def test_two_dripping_llm_turns_do_not_hold_a_plain_question(site):
    site.llm.mode = "drip"
    try:
        started = time.perf_counter()
        slow = [site.client().submit(VOLCANO, 5, "llm", "small", api_name="/chat")
                for _ in range(2)]
        while len(site.llm.requests) < 2:  # both LLM turns are dripping now
            assert time.perf_counter() - started < 30
            time.sleep(0.05)
        asked = time.perf_counter()
        plain = site.client().predict(VOLCANO, 5, "extractive", "small", api_name="/chat")
        assert time.perf_counter() - asked < DEADLINE - 1  # it did not wait for the drips
        assert not any(job.done() for job in slow) and "Monday" in json.dumps(plain[0])
        for job in slow:
            messages = job.result(timeout=DEADLINE + 10)[0]
            assert "did not answer within 4 s" in json.dumps(messages)
        assert time.perf_counter() - started < DEADLINE + 8
    finally:
        site.llm.mode = "reply"


def test_a_made_up_claim_around_a_real_quote_is_never_shown(site):
    job = site.client().submit(VOLCANO, 5, "llm", "small", api_name="/chat")
    job.result(timeout=60)
    shown = [json.dumps(o[0]) for o in job.outputs()]
    assert len(shown) >= 3  # searching, progress while streaming, the answer
    assert not any(word in s for s in shown for word in ("Moon", "Putin", MADE_UP[:20]))
    assert "choosing quotes" in " ".join(shown) and "Monday" in shown[-1]


def _login(url: str, password: str) -> bool:
    data = urllib.parse.urlencode({"username": "reader", "password": password}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{url}/login", data=data),
                                    timeout=30) as r:
            return r.status == 200
    except urllib.error.HTTPError:
        return False


def test_quick_password_guesses_do_not_get_in(tmp_path):
    site = Site(tmp_path, auth=("reader", "correct-horse"))
    try:
        guesses = ["correct-horse" if i == 24 else f"guess-{i}" for i in range(30)]
        assert not any(_login(site.url, g) for g in guesses)
        time.sleep(1.1)  # the pause after five wrong guesses
        assert _login(site.url, "correct-horse")
    finally:
        site.close()
