"""What the red-team script (`bench/redteam.py`) drives: `rag serve`, stub servers, the page.

- `Stub`: an HTTP server on loopback that plays an OpenAI-compatible LLM (honest quotes, a
  fabricated claim, or a drip of one byte every few seconds) or an attacker's listener and
  an internal service (it records every request and answers with a secret);
- `Serve`: `rag serve` in a subprocess on a free loopback port, stopped at the end;
- `Page`: the page's API through `gradio_client`, matching the chat endpoint's parameters by
  name, so the same script runs against a page that still takes an LLM URL and one that
  does not.

Does not: listen on or connect to anything but 127.0.0.1.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET = "INTERNAL-SECRET-7731"
FABRICATED = "NATO has 45 member countries and is led by Vladimir Putin"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Stub(ThreadingHTTPServer):
    """A loopback HTTP server; `mode` is quote, fabricate, drip or secret."""

    daemon_threads = True

    def __init__(self, mode: str = "quote", *, drip_gap: float = 2.0):
        super().__init__(("127.0.0.1", 0), _StubHandler)
        self.mode, self.drip_gap = mode, drip_gap
        self.requests: list[dict] = []
        self.stopping = threading.Event()
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()


def _first_sentence(prompt: str) -> str:
    text = re.search(r"^\[1\] Title: .*\nDate: .*\nText: (.*)$", prompt, re.MULTILINE).group(1)
    return re.split(r"(?<=[.!?])\s+", text)[0].rstrip(".")


class _StubHandler(BaseHTTPRequestHandler):
    server: Stub

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._record(b"")
        self._send(500, f"{SECRET}: admin console, do not expose".encode())

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._record(body)
        mode = self.server.mode
        if mode == "secret":
            return self._send(500, f"{SECRET}: admin console, do not expose".encode())
        try:
            request = json.loads(body)
        except ValueError:
            return self._send(400, b"not json")
        if mode == "drip":
            return self._drip()
        quote = _first_sentence(request["messages"][-1]["content"])
        lead = FABRICATED if mode == "fabricate" else "The passage says so"
        self._reply(f'{lead} [1: "{quote}"].', stream=bool(request.get("stream")))

    def _record(self, body: bytes) -> None:
        self.server.requests.append({"path": self.path,
                                     "authorization": self.headers.get("Authorization"),
                                     "body": body[:200]})

    def _send(self, status: int, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _reply(self, text: str, *, stream: bool) -> None:
        if not stream:
            data = json.dumps({"choices": [{"message": {"content": text}}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        for i in range(0, len(text), 6):  # slowly enough for the page to show each step
            delta = {"choices": [{"delta": {"content": text[i:i + 6]}}]}
            self.wfile.write(f"data: {json.dumps(delta)}\n\n".encode())
            self.wfile.flush()
            time.sleep(0.1)
        self.wfile.write(b"data: [DONE]\n\n")

    def _drip(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            while not self.server.stopping.wait(self.server.drip_gap):
                self.wfile.write(b":")  # a comment line that never ends
                self.wfile.flush()
        except OSError:
            pass


class Serve:
    """`rag serve` on a free loopback port, over an index it is given."""

    def __init__(self, root: Path, index: Path, *, args: list[str] = (), env: dict | None = None,
                 name: str = "serve"):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / f"{name}.log"
        env = {**os.environ, "RAG_INDEX": str(index), "RAG_FEEDBACK": str(root / "feedback.jsonl"),
               "GRADIO_TEMP_DIR": str(root / "gradio"), "GRADIO_ANALYTICS_ENABLED": "False",
               "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT), **(env or {})}
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "rag", "serve", "--port", str(self.port), *args],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self._wait(600)

    def _wait(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rag serve exited:\n{self.log.read_text()[-3000:]}")
            if "ready:" in self.log.read_text():
                return
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"rag serve not ready in {seconds} s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def serve_flags() -> set[str]:
    """The options this checkout's `rag serve` takes (an older page takes no LLM options)."""
    out = subprocess.run([sys.executable, "-m", "rag", "serve", "--help"], cwd=ROOT,
                         capture_output=True, text=True, check=False,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    return set(re.findall(r"--[a-z][a-z-]+", out.stdout))


class Page:
    """One page session through gradio_client; `chat` maps its options to the endpoint's names."""

    def __init__(self, url: str, *, operator_llm: str | None = None):
        from gradio_client import Client

        self.url, self.operator_llm = url, operator_llm
        self.client = Client(url, verbose=False, analytics_enabled=False)
        api = self.client.view_api(return_format="dict", print_info=False)["named_endpoints"]
        self.chat_params = [p["parameter_name"] for p in api["/chat"]["parameters"]]

    def chat_args(self, question: str, *, answerer: str = "extractive", model: str | None = None,
                  url: str | None = None) -> dict:
        """The /chat arguments by name; an old page's URL box gets the operator's LLM URL."""
        values = {"message": question, "k": 5, "answerer": answerer}
        if "llm_url" in self.chat_params:  # a page that takes a URL: the operator's, or ours
            values["llm_url"] = url or self.operator_llm or ""
            values["llm_model"] = model or ""
        elif model is not None or url is not None:  # a page that takes only a model name
            values["model"] = model if model is not None else url
        return {k: v for k, v in values.items() if k in self.chat_params}

    def submit(self, question: str, **kw):
        return self.client.submit(api_name="/chat", **self.chat_args(question, **kw))

    def chat(self, question: str, *, timeout: float = 300, **kw) -> tuple[str, list[str]]:
        """The last message shown, and every version of it the page showed on the way."""
        job = self.submit(question, **kw)
        job.result(timeout=timeout)
        steps = [bot_text(o[0]) for o in job.outputs()]
        return steps[-1], steps

    def ask(self, question: str, k: int = 5) -> dict:
        result = self.client.predict(question, k, api_name="/ask")
        return json.loads(result) if isinstance(result, str) else result

    def upload(self, path: Path) -> str:
        from gradio_client import handle_file

        return str(self.client.predict([handle_file(str(path))], api_name="/add_files")[0])

    def forge(self, path: str) -> str:
        """/add_files with a file path that was never uploaded, as raw JSON (no client upload)."""
        body = json.dumps({"data": [[{"path": path, "orig_name": Path(path).name,
                                      "meta": {"_type": "gradio.FileData"}}]]}).encode()
        request = urllib.request.Request(f"{self.url}/gradio_api/call/add_files", data=body,
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as r:
            event = json.loads(r.read())["event_id"]
        with urllib.request.urlopen(f"{self.url}/gradio_api/call/add_files/{event}",
                                    timeout=120) as r:
            return r.read().decode("utf-8", "replace")


def bot_text(messages) -> str:
    """The text of the last assistant message of a Chatbot value."""
    bots = [m for m in messages or [] if isinstance(m, dict) and m.get("role") == "assistant"]
    if not bots:
        return ""
    content = bots[-1].get("content")
    if isinstance(content, list):
        return " ".join(c.get("text", "") for c in content if isinstance(c, dict))
    return content if isinstance(content, str) else json.dumps(content)


def login(url: str, user: str, password: str) -> bool:
    data = urllib.parse.urlencode({"username": user, "password": password}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(f"{url}/login", data=data),
                                    timeout=60) as r:
            return r.status == 200
    except urllib.error.HTTPError:
        return False
