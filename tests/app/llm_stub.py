"""A chat-completions server on loopback for the page's LLM tests: it wraps a made-up claim
around a real quote (streamed a few characters at a time), drips one byte at a time, or
fails with a secret in its error; it records every request it gets."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SENTENCE = "The volcano on the Reykjanes peninsula erupted again on Monday night"
MADE_UP = "The volcano was founded on the Moon in 1812 and is led by Vladimir Putin"


class LLMServer(ThreadingHTTPServer):
    """`mode`: reply (MADE_UP [n: "SENTENCE"]), drip, or fail."""

    daemon_threads = True

    def __init__(self, *, pause: float = 0.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode, self.pause = "reply", pause
        self.requests: list[dict] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"

    def start(self) -> LLMServer:
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: LLMServer

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.requests.append({"body": None, "auth": self.headers.get("Authorization")})
        self.send_response(404)
        self.end_headers()

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append({"body": body, "auth": self.headers.get("Authorization")})
        if self.server.mode == "fail":
            data = b"INTERNAL-SECRET: stack trace of the model server"
            self.send_response(500)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        try:
            if self.server.mode == "drip":
                self._drip()
            else:
                self._reply(body["messages"][-1]["content"])
        except OSError:
            pass  # the client gave up

    def _drip(self) -> None:
        for _ in range(100):
            self.wfile.write(b":")
            self.wfile.flush()
            time.sleep(0.2)

    def _reply(self, prompt: str) -> None:
        n = prompt[:prompt.index("Reykjanes")].count("] Title: ")
        reply = f'{MADE_UP} [{n}: "{SENTENCE}"].'
        for i in range(0, len(reply), 8):
            delta = {"choices": [{"delta": {"content": reply[i:i + 8]}}]}
            self.wfile.write(f"data: {json.dumps(delta)}\n\n".encode())
            self.wfile.flush()
            time.sleep(self.server.pause)
        self.wfile.write(b"data: [DONE]\n\n")
