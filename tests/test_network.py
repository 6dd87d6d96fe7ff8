"""Nothing calls home: `rag index`, `rag ask` and `rag serve` make no DNS lookup and open no
connection beyond this machine, watched with strace.

Each command runs under `strace -f -e trace=connect,sendto,sendmsg` (strace is installed by
scripts/test.sh) and its log is read for connections to any address other than loopback and
for any packet to port 53. `rag serve` is also asked a question through gradio_client and left
running for a while, because telemetry clients send on a timer.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import SEEDS

pytestmark = pytest.mark.integration

STRACE = shutil.which("strace")
SERVE_SECONDS = 40  # onnxruntime's telemetry used to look up its host within about 10 s
_INET = re.compile(r"sa_family=AF_INET6?, sin6?_port=htons\((\d+)\), "
                   r"(?:sin_addr=inet_addr\(\"([^\"]+)\"\)|sin6_flowinfo=[^,]+, "
                   r"inet_pton\(AF_INET6, \"([^\"]+)\")")
LOOPBACK = ("127.", "::1", "0.0.0.0", "::ffff:127.")


def outbound(log: str) -> list[str]:
    """The syscalls in an strace log that reach beyond loopback or send to port 53 (DNS)."""
    bad = []
    for line in log.splitlines():
        if not re.search(r"\b(connect|sendto|sendmsg)\(", line):
            continue
        for port, v4, v6 in _INET.findall(line):
            address = v4 or v6
            if port == "53" or not address.startswith(LOOPBACK):
                bad.append(line.strip())
    return bad


def traced(args: list[str], log: Path) -> list[str]:
    return [STRACE, "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(log), *args]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    if STRACE is None:
        pytest.fail("the network test needs strace: apt-get install strace (scripts/test.sh "
                    "installs it)")
    root = tmp_path_factory.mktemp("offline")
    corpus = root / "corpus"
    shutil.copytree(SEEDS, corpus)
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("RAG_", "HF_", "ORT_",
                                                                      "GRADIO_", "TRANSFORMERS"))}
    return root, corpus, {**keep, "RAG_INDEX": str(root / "index"),
                          "GRADIO_TEMP_DIR": str(root / "gradio")}


def test_the_parser_sees_an_outbound_connection_and_a_dns_query():
    log = ('12 connect(8, {sa_family=AF_INET, sin_port=htons(53), sin_addr=inet_addr("10.0.0.53")}'
           ', 16) = 0\n12 connect(9, {sa_family=AF_INET, sin_port=htons(443), '
           'sin_addr=inet_addr("20.42.65.92")}, 16) = -1 ENETUNREACH\n'
           '12 connect(5, {sa_family=AF_INET, sin_port=htons(7860), '
           'sin_addr=inet_addr("127.0.0.1")}, 16) = 0\n')
    assert len(outbound(log)) == 2


def test_index_and_ask_make_no_outbound_connection(env, tmp_path):
    root, corpus, environ = env
    for name, args in (("index", ["index", str(corpus)]),
                       ("ask", ["ask", "How many countries does NATO have?", "--json"])):
        log = tmp_path / f"{name}.strace"
        done = subprocess.run(traced([sys.executable, "-m", "rag", *args], log), cwd=root,
                              env=environ, capture_output=True, text=True, timeout=900, check=False)
        assert done.returncode == 0, done.stderr
        assert outbound(log.read_text()) == [], f"rag {name} reached the network"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_makes_no_outbound_connection(env, tmp_path):
    from gradio_client import Client

    root, corpus, environ = env
    subprocess.run([sys.executable, "-m", "rag", "index", str(corpus)], cwd=root, env=environ,
                   check=True, capture_output=True, timeout=900)
    port, log, out = _free_port(), tmp_path / "serve.strace", tmp_path / "serve.log"
    with open(out, "w") as sink:
        server = subprocess.Popen(traced([sys.executable, "-m", "rag", "serve", "--port",
                                          str(port)], log), cwd=root, env=environ,
                                  stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        started = time.monotonic()
        while "ready:" not in out.read_text():
            assert server.poll() is None and time.monotonic() - started < 600, out.read_text()
            time.sleep(0.5)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        answer = client.predict("How many countries does NATO have?", 5, api_name="/ask")
        assert answer["citations"]
        time.sleep(max(0.0, SERVE_SECONDS - (time.monotonic() - started)))
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # strace and the server it runs
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    assert outbound(log.read_text()) == [], "rag serve reached the network"
