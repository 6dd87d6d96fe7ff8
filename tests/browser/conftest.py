"""Browser tests: `rag serve` in a subprocess on a free loopback port, driven by Playwright.

The server indexes seeds/ into a temporary index with the real model (the same path as the
README's main command), so these tests check what a reader sees. Debian's Chromium at
/usr/bin/chromium is required; without it (or without playwright) every test here is skipped
with the reason. Each test leaves a screenshot in test-output/ (the `page` fixture is 1280 px wide,
`phone` 400 px) and fails if the page shows a dialog, throws, or logs a console error. The
server runs with `--allow-remove`, so the documents panel offers removing.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
OUTPUT = ROOT / "test-output"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
READY_TIMEOUT = 600  # seconds: indexing seeds/ and loading the model on 2 busy cores


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    reason = None
    if not CHROMIUM.exists():
        reason = f"browser tests need Debian's Chromium at {CHROMIUM}: apt-get install chromium"
    elif importlib.util.find_spec("playwright") is None:
        reason = "browser tests need playwright: pip install -e '.[dev]'"
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A running `rag serve --allow-remove`: its URL, its log, and its feedback file."""

    def __init__(self, root: Path):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / "serve.log"
        self.feedback = root / "feedback.jsonl"
        env = {**os.environ, "RAG_INDEX": str(root / "index"), "RAG_FEEDBACK": str(self.feedback),
               "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "GRADIO_ANALYTICS_ENABLED": "False", "GRADIO_TEMP_DIR": str(root / "gradio")}
        env.pop("RAG_CORPUS", None)
        env.pop("RAG_AUTH", None)
        started = time.perf_counter()
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "rag", "serve", "--port", str(self.port),
                 "--allow-remove"], cwd=root,
                env=env, stdout=log, stderr=subprocess.STDOUT)
        self._wait()
        self.ready_seconds = time.perf_counter() - started

    def _wait(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rag serve exited with {self.process.returncode}:\n"
                                   + self.log.read_text())
            if "ready:" in self.log.read_text():
                try:
                    urllib.request.urlopen(self.url, timeout=5).read()
                    return
                except OSError:
                    pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"rag serve not ready in {READY_TIMEOUT} s:\n" + self.log.read_text())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    s = Server(tmp_path_factory.mktemp("serve"))
    print(f"\nrag serve ready in {s.ready_seconds:.1f} s at {s.url}")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A Playwright page on the app that records dialogs, page errors and console errors."""

    def __init__(self, page, url: str):
        self.page = page
        self.url = url
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.turns = 0
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        page.on("console", lambda m: m.type == "error" and self.errors.append(f"console: {m.text}"))
        page.goto(url)
        page.wait_for_selector("#vb-question textarea")

    def _dialog(self, dialog):
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def ask(self, question: str, timeout: float = 120) -> None:
        """Type `question`, send it, and wait until its answer or refusal is shown."""
        self.turns += 1
        self.page.fill("#vb-question textarea", question)
        self.page.click("#vb-ask")
        self.page.wait_for_selector(
            f'#vb-sources .vb-sources[data-turn="{self.turns}"]:not([data-state="working"])',
            timeout=timeout * 1000)

    def last_answer(self) -> str:
        return self.page.locator('#vb-chat [data-testid="bot"]').last.inner_text()

    def sources(self) -> str:
        return self.page.inner_text("#vb-sources")

    def upload(self, *paths: Path) -> str:
        """Add files through the 'Add articles' panel; the message shown afterwards."""
        if not self.page.is_visible("#vb-files"):
            self.page.click("text=Add articles")
        self.page.set_input_files("#vb-files input[type=file]", [str(p) for p in paths])
        # wait until the files are uploaded (their names are listed) before indexing them
        for p in paths:
            self.page.wait_for_selector(f'#vb-files [aria-label="{p.name}"]', timeout=60_000)
        self.page.click("#vb-add")
        self.page.wait_for_function(
            "() => /Indexed|Refused|Replaced|Unchanged|Skipped/.test("
            "document.querySelector('#vb-added').innerText)",
            timeout=180_000)
        return self.page.inner_text("#vb-added")


WIDE, NARROW = 1280, 400  # px: a laptop, and a phone held upright


@pytest.fixture
def page(browser, server, request):
    """The page at 1280 px wide; its screenshot is test-output/<test name>.png."""
    yield from _page(browser, server, request, WIDE, 1000)


@pytest.fixture
def phone(browser, server, request):
    """The page at 400 px wide; its screenshot is test-output/<test name>.png."""
    yield from _page(browser, server, request, NARROW, 860)


def _page(browser, server, request, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    p = Page(context.new_page(), server.url)
    yield p
    OUTPUT.mkdir(exist_ok=True)
    p.page.screenshot(path=str(OUTPUT / f"{request.node.name}.png"), full_page=True)
    dialogs, errors = list(p.dialogs), list(p.errors)  # before closing: closing the page
    context.close()  # aborts Gradio's open event streams, which Chromium logs as AbortError
    assert not dialogs, f"the page opened dialogs: {dialogs}"
    assert not errors, f"the page reported errors: {errors}"
