"""Every way the Milvus store can fail is one line on stderr that names the fix, with none of
pymilvus's, milvus-lite's or gRPC's own log lines around it."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from concurrent import futures
from pathlib import Path

import pytest
from conftest import FakeEmbedder

from rag.errors import IndexBusyError, IndexMismatchError, IndexNotFoundError, InputError
from rag.indexing import milvus_connect
from rag.indexing.backend import StoreUnavailableError, open_store
from rag.indexing.build import build_index
from rag.indexing.location import parse_location
from rag.search.retrieve import Retriever

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "seeds"
INSTALL = "pip install -e '.[milvus]'"


@pytest.fixture(autouse=True)
def _disconnect():
    yield
    milvus_connect.disconnect()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rag_cli(*argv: str, prelude: str = "", **env) -> list[str]:
    """`rag ARGV` in a new process (after `prelude`): its stderr lines, asserting exit 1."""
    code = f"import sys\n{prelude}\nfrom rag.cli import main\nsys.exit(main({list(argv)!r}))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, **env}, timeout=120, check=False)
    assert out.returncode == 1, out.stderr
    return out.stderr.splitlines()


def test_an_unreachable_server_is_one_line():
    uri = f"milvus://127.0.0.1:{free_port()}"
    assert rag_cli("search", "NATO", "--store", uri) == [(
        f"error: cannot reach a Milvus server at {uri}; start it, check the host and port, or "
        "use --store milvus:///path/file.db for the embedded milvus-lite")]


@pytest.fixture
def guarded_server(tmp_path):
    """milvus-lite's gRPC service behind the check a Milvus proxy makes of the token."""
    import grpc
    from milvus_lite.adapter.grpc.servicer import MilvusServicer
    from milvus_lite.db import MilvusLite
    from pymilvus.grpc_gen import milvus_pb2_grpc

    class TokenCheck(grpc.ServerInterceptor):
        def intercept_service(self, continuation, details):
            sent = dict(details.invocation_metadata).get("authorization", "")
            if base64.b64decode(sent).decode() == "root:Milvus":
                return continuation(details)

            def deny(request, context):
                context.abort(grpc.StatusCode.UNAUTHENTICATED,
                              "auth check failure, please check username and password are correct")
            return grpc.unary_unary_rpc_method_handler(deny)

    db = MilvusLite(str(tmp_path / "guarded.db"))
    server = grpc.server(futures.ThreadPoolExecutor(4), interceptors=[TokenCheck()])
    milvus_pb2_grpc.add_MilvusServiceServicer_to_server(MilvusServicer(db), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    yield f"milvus://127.0.0.1:{port}"
    server.stop(0)
    db.close()


@pytest.mark.parametrize("token", ["root:wrong", ""])
def test_a_refused_token_is_one_line(guarded_server, token):
    assert rag_cli("info", "--store", guarded_server, RAG_MILVUS_TOKEN=token) == [(
        f"error: the Milvus server at {guarded_server} refused the token; set RAG_MILVUS_TOKEN "
        "to a valid 'user:password' or API key")]


def test_the_right_token_gets_in(guarded_server, monkeypatch):
    monkeypatch.setenv("RAG_MILVUS_TOKEN", "root:Milvus")
    with pytest.raises(IndexNotFoundError, match="no index at .*; build it with `rag index"):
        open_store(guarded_server)


@pytest.mark.parametrize("package, says", [
    ("milvus_lite", f"milvus:///tmp/v.db needs milvus-lite: {INSTALL}"),
    ("pymilvus", f"the Milvus store needs pymilvus: {INSTALL}")])
def test_a_missing_package_names_the_extra(package, says):
    prelude = f"sys.modules[{package!r}] = None  # as if it were not installed"
    assert rag_cli("ask", "NATO", "--store", "milvus:///tmp/v.db", prelude=prelude) == [
        f"error: {says}"]


HOLD = """
import sys, time
from rag.indexing import milvus_connect
from rag.indexing.location import parse_location
milvus_connect.connect(parse_location(sys.argv[1]))
print("open", flush=True)
time.sleep(120)
"""


def test_a_db_open_in_another_process_says_to_serve_it(tmp_path):
    uri = f"milvus://{tmp_path}/v.db"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, uri], stdout=subprocess.PIPE,
                              text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(IndexBusyError) as caught:
            open_store(uri)
        assert str(caught.value) == (
            f"{uri} is open in another process (milvus-lite allows one at a time); stop it, or "
            f"serve the file with `milvus-lite server --data-dir {tmp_path}/v.db --port 19530` "
            "and use --store milvus://127.0.0.1:19530 in every process")
    finally:
        holder.kill()
        holder.wait()
    with pytest.raises(IndexNotFoundError):  # it opens: the kernel let go of the lock
        open_store(uri)


def test_another_format_version_says_how_to_rebuild_and_the_rebuild_embeds_nothing(tmp_path):
    uri = f"milvus://{tmp_path}/v.db"
    embedder = FakeEmbedder()
    build_index([SEEDS], index_dir=uri, embedder=embedder)
    store = open_store(uri)
    record = json.loads(store.blob("manifest")) | {"format_version": 99}
    store.client.upsert(store.names["meta"], [{"key": "manifest#0", "name": "manifest",
                                               "part": 0, "value": json.dumps(record),
                                               "_v": [0.0, 0.0]}])
    with pytest.raises(IndexMismatchError) as caught:
        open_store(uri)
    assert str(caught.value) == (
        f"index at {uri} has format verbatim-milvus version 99; this verbatim reads "
        f"verbatim-milvus version 1; rebuild it with `rag index PATH ... --store {uri}`")
    again = FakeEmbedder()
    report = build_index([SEEDS], index_dir=uri, embedder=again)
    assert report.written and again.embedded == 0  # same model: every vector copied by hash
    assert open_store(uri).version == 2


def test_another_model_says_how_to_rebuild(tmp_path):
    uri = f"milvus://{tmp_path}/v.db"
    build_index([SEEDS], index_dir=uri, embedder=FakeEmbedder())
    with pytest.raises(IndexMismatchError, match=f"rebuild it with `rag index PATH ... --store {uri}`"):
        Retriever.load(uri, embedder=FakeEmbedder("another-model"))


def test_a_missing_folder_and_no_index(tmp_path):
    with pytest.raises(InputError, match="does not exist; create it or choose another --store"):
        open_store(f"milvus://{tmp_path}/no/such/v.db")
    with pytest.raises(IndexNotFoundError, match="no index at"):
        open_store(f"milvus://{tmp_path}/v.db")


def test_the_milvus_errors_are_rag_errors():
    from rag.errors import RagError

    assert issubclass(StoreUnavailableError, RagError)
    assert isinstance(milvus_connect.failure(RuntimeError("Fail connecting to server"),
                                             parse_location("milvus://h:1")), StoreUnavailableError)


@pytest.mark.parametrize("name", ["frequencies", "prefixes", "files"])
def test_a_damaged_record_says_how_to_rebuild_and_the_rebuild_mends_it(tmp_path, name):
    uri = f"milvus://{tmp_path}/v.db"
    build_index([SEEDS], index_dir=uri, embedder=FakeEmbedder())
    store = open_store(uri)
    store.client.upsert(store.names["meta"], [{"key": f"{name}#0", "name": name, "part": 0,
                                               "value": "{not json", "_v": [0.0, 0.0]}])
    read = {"frequencies": lambda s: s.document_frequencies(["nato"]),
            "prefixes": lambda s: s.word_prefixes(), "files": lambda s: s.files()}[name]
    with pytest.raises(IndexMismatchError) as caught:
        read(open_store(uri))
    assert str(caught.value) == (f"the '{name}' record of the index at {uri} is damaged; "
                                 f"rebuild it with `rag index PATH ... --store {uri}`")
    build_index([SEEDS], index_dir=uri, embedder=FakeEmbedder())
    assert read(open_store(uri))


def test_the_published_manifest_is_read_without_opening_the_index_and_a_damaged_one_rebuilt(
        tmp_path):
    from rag.indexing.milvus_store import published_manifest

    uri = f"milvus://{tmp_path}/v.db"
    where = parse_location(uri)
    assert published_manifest(where) is None  # nothing built yet
    build_index([SEEDS], index_dir=uri, embedder=FakeEmbedder())
    assert published_manifest(where)["model"] == FakeEmbedder().name
    store = open_store(uri)
    store.client.upsert(store.names["meta"], [{"key": "manifest#0", "name": "manifest", "part": 0,
                                               "value": "{damaged", "_v": [0.0, 0.0]}])
    assert published_manifest(where) is None  # rag index then rebuilds with its own settings
    with pytest.raises(IndexMismatchError) as caught:
        open_store(uri)
    assert str(caught.value) == (f"the manifest of the index at {uri} is damaged; rebuild it "
                                 f"with `rag index PATH ... --store {uri}`")
    build_index([SEEDS], index_dir=uri, embedder=FakeEmbedder())
    assert open_store(uri).manifest.chunks > 0
