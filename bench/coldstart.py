"""Cold start: what a user waits for in a new process, on an index of `seeds/`.

- `rag --help`;
- a first `rag search` and `rag ask`, with the question embedded through the ONNX export
  (the default) and through PyTorch (`RAG_ONNX=0`, as before the export existed), and the
  very first search on a machine where no export exists yet (it falls back to PyTorch and
  makes the export for the next one);
- `rag serve` until its page answers HTTP 200 on 127.0.0.1 (skipped without Gradio).

Each command runs `repeat` times; the JSON keeps every run, the table the median.

Does not: measure a warm process (see `bench.search` and `bench.llamaindex` for that).
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from . import common, corpus

QUESTION = "Who will succeed Stoltenberg as NATO Secretary General?"
RAG = str(Path(sys.executable).with_name("rag"))
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback only


def run(*, repeat: int = 5, serve: bool = True, say=print) -> dict:
    from rag.indexing.build import build_index
    from rag.indexing.embed import SentenceTransformerEmbedder

    out: dict = {"machine_before": common.machine(), "question": QUESTION}
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as tmp:
        index = Path(tmp) / "index"
        say("cold start: indexing seeds/ with the real model ...")
        build_index([corpus.SEEDS], index_dir=index, embedder=SentenceTransformerEmbedder())
        search = [RAG, "search", QUESTION, "--index", str(index)]
        ask = [RAG, "ask", QUESTION, "--index", str(index)]
        cases = {
            "rag --help": ([RAG, "--help"], {}, repeat),
            "rag search (onnx)": (search, {}, repeat),
            "rag search (torch, RAG_ONNX=0)": (search, {"RAG_ONNX": "0"}, max(2, repeat // 2)),
            "rag ask (onnx)": (ask, {}, repeat),
        }
        runs = {}
        for name, (argv, env, times) in cases.items():
            say(f"cold start: {name} x{times} ...")
            runs[name] = [round(common.run_command(argv, env=env), 3) for _ in range(times)]
        with tempfile.TemporaryDirectory(prefix="bench-cold-cache-") as cache:
            say("cold start: first search with no ONNX export yet ...")
            runs["rag search (no export yet: torch, then exports)"] = [
                round(common.run_command(search, env={"RAG_CACHE": cache}), 3)]
        if serve:
            runs["rag serve until the page answers"] = _serve(index, repeat=max(1, repeat // 2),
                                                              say=say)
    out["runs"] = runs
    out["median_s"] = {k: (round(statistics.median(v), 3) if v else None) for k, v in runs.items()}
    out["machine_after"] = common.machine()
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(index: Path, *, repeat: int, say) -> list[float]:
    try:
        import gradio  # noqa: F401
    except ImportError:
        say("cold start: Gradio is not installed; skipping `rag serve`")
        return []
    times = []
    for _ in range(repeat):
        port = _free_port()
        say(f"cold start: rag serve on 127.0.0.1:{port} ...")
        start = time.perf_counter()
        proc = subprocess.Popen([RAG, "serve", "--port", str(port), "--index", str(index)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})
        try:
            times.append(round(_until_ready(f"http://127.0.0.1:{port}/", start, proc), 3))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return times


def _until_ready(url: str, start: float, proc: subprocess.Popen, limit: float = 180) -> float:
    """Seconds from `start` until `url` answers 200 (polled every 50 ms, at most `limit`)."""
    while time.perf_counter() - start < limit:
        if proc.poll() is not None:
            raise RuntimeError(f"rag serve exited with {proc.returncode} before it was ready")
        try:
            with _NO_PROXY.open(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - start
        except OSError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"rag serve did not answer within {limit:.0f}s")
