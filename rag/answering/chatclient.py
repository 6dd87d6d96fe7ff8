"""A minimal OpenAI chat-completions client with one wall-clock deadline per request.

`ChatClient(url, model=..., api_key=..., timeout=60)` sends one POST to
`<url>/v1/chat/completions` with the standard library's `http.client`, plain or streamed
(server-sent events), and gives back the reply's text. `timeout` is a TOTAL deadline:
connecting, sending and every read together. A timer shuts the socket down when it passes,
so a server that drips one byte every few seconds is cut off on time, not kept alive by
each byte as a per-read timeout would be. Every failure is one `LLMError` whose message says
what to check.

Does not: follow redirects (a 3xx is an error: the request goes only where the operator
aimed it), use proxies from the environment, retry, or bound the DNS look-up of a host name
(use an IP address for a hard bound).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import InputError, LLMError


def endpoint(url: str) -> str:
    """The chat-completions URL for a server or API base URL.

    >>> endpoint("http://localhost:11434/v1")
    'http://localhost:11434/v1/chat/completions'
    """
    parts = urllib.parse.urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InputError(f"the LLM URL must start with http:// or https:// (got {url!r}); "
                         "for example --llm-url http://localhost:11434/v1")
    path = parts.path.rstrip("/")
    if not path.endswith("/chat/completions"):
        path += "/chat/completions" if path.endswith("/v1") else "/v1/chat/completions"
    return urllib.parse.urlunsplit(parts._replace(path=path))


class Deadline:
    """A wall-clock limit over one HTTP exchange; `watch(sock)` cuts the socket at the end."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._timer: threading.Timer | None = None

    def left(self) -> float:
        """Seconds left; raises TimeoutError when none are."""
        left = self.end - time.monotonic()
        if left <= 0:
            self.expired = True
            raise TimeoutError("deadline passed")
        return left

    def watch(self, sock: socket.socket) -> None:
        self._timer = threading.Timer(self.left(), self._cut, (sock,))
        self._timer.daemon = True
        self._timer.start()

    def _cut(self, sock: socket.socket) -> None:
        self.expired = True
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked read at once
        except OSError:
            pass

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


class _HTTPStatus(Exception):
    def __init__(self, status: int, reason: str, body: str):
        super().__init__(f"HTTP {status}")
        self.status, self.reason, self.body = status, reason, body


class ChatClient:
    """One POST to a chat-completions endpoint, plain or streamed, within `timeout` seconds."""

    def __init__(self, url: str, *, model: str | None = None, api_key: str | None = None,
                 timeout: float = 60.0, max_tokens: int = 512):
        if not isinstance(timeout, int | float) or timeout <= 0:
            raise InputError(f"the LLM timeout must be a positive number of seconds "
                             f"(got {timeout!r}); for example --llm-timeout 60")
        self.url = endpoint(url)
        self.model, self.api_key, self.timeout, self.max_tokens = model, api_key, timeout, max_tokens

    def complete(self, messages: list[dict]) -> str:
        """The reply's text; raises LLMError on any failure, or when the deadline passes."""
        with self._open(messages, stream=False) as response:
            return _content(_json(response.read()))

    def stream(self, messages: list[dict]) -> Iterator[str]:
        """The reply's text deltas as they arrive; raises LLMError on any failure."""
        with self._open(messages, stream=True) as response:
            if "event-stream" not in (response.getheader("Content-Type") or ""):
                yield _content(_json(response.read()))  # a server that ignored "stream"
                return
            yield from _sse_deltas(response)

    @contextmanager
    def _open(self, messages: list[dict], *, stream: bool):
        deadline = Deadline(self.timeout)
        parts = urllib.parse.urlsplit(self.url)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = None
        try:
            with self._errors(deadline):
                conn = kind(parts.hostname, parts.port, timeout=deadline.left())
                conn.connect()
                deadline.watch(conn.sock)
                conn.request("POST", parts.path + (f"?{parts.query}" if parts.query else ""),
                             body=self._body(messages, stream), headers=self._headers())
                response = conn.getresponse()
                if response.status >= 300:
                    raise _HTTPStatus(response.status, response.reason, _error_text(response))
                yield response
        finally:
            deadline.cancel()
            if conn is not None:
                conn.close()

    def _body(self, messages: list[dict], stream: bool) -> bytes:
        body = {"messages": messages, "temperature": 0, "max_tokens": self.max_tokens,
                "stream": stream}
        if self.model:
            body["model"] = self.model
        return json.dumps(body).encode("utf-8")

    def _headers(self) -> dict:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    @contextmanager
    def _errors(self, deadline: Deadline):
        """Turns every way the exchange can fail, and a passed deadline, into one LLMError."""
        try:
            yield
        except GeneratorExit:
            raise  # the reader stopped early: not a failure
        except (OSError, http.client.HTTPException, _HTTPStatus, LLMError) as e:
            if deadline.expired:
                raise LLMError(self._timed_out()) from e
            if isinstance(e, LLMError):
                raise
            raise LLMError(self._message(e)) from e
        if deadline.expired:  # the socket was cut: what was read may be cut short too
            raise LLMError(self._timed_out())

    def _timed_out(self) -> str:
        return f"{self.url} did not answer within {self.timeout:g} s"

    def _message(self, e: BaseException) -> str:
        if isinstance(e, _HTTPStatus):
            hint = {401: "; check RAG_LLM_API_KEY", 403: "; check RAG_LLM_API_KEY",
                    404: "; check --llm-url and --llm-model"}.get(e.status, "")
            if 300 <= e.status < 400:
                hint = "; redirects are not followed: give the final URL with --llm-url"
            return f"{self.url} answered HTTP {e.status} {e.reason}: {e.body}{hint}"
        if isinstance(e, TimeoutError | socket.timeout):
            return self._timed_out()
        if isinstance(e, ConnectionRefusedError):
            return f"could not connect to {self.url} (connection refused); is the server running?"
        return f"could not talk to {self.url}: {e or type(e).__name__}"


def _error_text(response: http.client.HTTPResponse) -> str:
    try:
        raw = response.read(2000).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return "(no body)"
    try:
        err = json.loads(raw).get("error", raw)
        raw = err.get("message", str(err)) if isinstance(err, dict) else str(err)
    except (ValueError, AttributeError):
        pass
    return " ".join(raw.split())[:200] or "(no body)"


def _json(raw: bytes) -> dict:
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise LLMError(f"the LLM endpoint sent malformed JSON: {_snippet(raw)}") from e
    if not isinstance(data, dict):
        raise LLMError(f"the LLM endpoint sent JSON that is not an object: {_snippet(raw)}")
    if "error" in data:
        err = data["error"]
        raise LLMError(f"the LLM endpoint reported an error: "
                       f"{err.get('message', err) if isinstance(err, dict) else err}")
    return data


def _snippet(raw: bytes) -> str:
    text = " ".join(raw.decode("utf-8", "replace").split())
    return repr(text[:80] + ("..." if len(text) > 80 else ""))


def _content(data: dict, *, key: str = "message") -> str:
    """The text of the first choice: `choices[0][key]["content"]` (or legacy `text`)."""
    try:
        choice = data["choices"][0]
        text = (choice.get(key) or {}).get("content") if key in choice else choice.get("text")
    except (KeyError, IndexError, TypeError, AttributeError) as e:
        raise LLMError(f"the LLM endpoint's reply has no choices[0].{key}.content: "
                       f"{_snippet(json.dumps(data).encode())}") from e
    if text is not None and not isinstance(text, str):
        raise LLMError(f"the LLM endpoint's reply content is not text: "
                       f"{_snippet(repr(text).encode())}")
    return text or ""


def _sse_deltas(response) -> Iterator[str]:
    """The content deltas of a server-sent-events chat stream, up to `data: [DONE]`."""
    while raw := response.readline():
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError as e:
            raise LLMError(f"the LLM stream is not UTF-8: {_snippet(raw)}") from e
        if not line.startswith("data:"):
            continue  # blank separators, comments, "event:" and "id:" lines
        data = line[5:].strip()
        if data == "[DONE]":
            return
        chunk = _json(data.encode("utf-8"))
        if chunk.get("choices") == []:
            continue  # a usage-only chunk
        text = _content(chunk, key="delta")
        if text:
            yield text
