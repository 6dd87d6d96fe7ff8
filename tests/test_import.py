"""`import rag` and `rag --help` stay light: no torch, sentence-transformers, faiss or gradio,
and nothing of the Milvus store (pymilvus, milvus-lite, grpc, pyarrow)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("torch", "sentence_transformers", "transformers", "faiss", "gradio",
         "pymilvus", "milvus_lite", "grpc", "pyarrow")
RAG = Path(sys.executable).with_name("rag")


def _run(argv: list[str], **env) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=False,
                          env={**os.environ, **env}, timeout=120)


def _python(code: str, **env) -> subprocess.CompletedProcess:
    return _run([sys.executable, "-c", code], **env)


def _assert_light(code: str) -> None:
    check = code + f"\nheavy = [m for m in {HEAVY!r} if m in sys.modules]\nprint(heavy)\n"
    result = _python(check)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_import_rag_loads_no_heavy_library():
    _assert_light("import sys, rag")


def test_the_public_api_is_small_and_importable():
    import rag

    assert len(rag.__all__) <= 12
    for name in rag.__all__:
        assert hasattr(rag, name)
    assert {"build_index", "Retriever", "Passage", "Document", "Chunk", "RagError"} <= set(
        rag.__all__)


def test_cli_help_loads_no_heavy_library():
    _assert_light("import sys\nfrom rag.cli import main\n"
                  "try:\n    main(['--help'])\nexcept SystemExit:\n    pass")


def test_naming_a_milvus_store_loads_no_heavy_library():
    _assert_light("import sys\nfrom rag.indexing.location import parse_location\n"
                  "from rag.cli.common import index_dir\nfrom rag.cli import parser\n"
                  "args = parser().parse_args(['info', '--store', 'milvus:///tmp/v.db'])\n"
                  "assert index_dir(args).uri == '/tmp/v.db'")


def test_counting_word_pieces_loads_no_heavy_library():
    _assert_light("import sys\nfrom rag.indexing.embed import SentenceTransformerEmbedder\n"
                  "e = SentenceTransformerEmbedder()\nassert e.count_tokens('NATO chief') > 2")


def test_rag_help_console_script_exits_zero():
    assert RAG.exists(), f"console script missing at {RAG}; run `pip install -e .`"
    result = _run([str(RAG), "--help"])
    assert result.returncode == 0, result.stderr
    assert "search" in result.stdout and "index" in result.stdout


def test_python_dash_m_rag_works():
    result = _run([sys.executable, "-m", "rag", "--version"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("rag ")


@pytest.mark.parametrize("argv", [["search"], ["frobnicate"], []])
def test_usage_errors_exit_two_without_traceback(argv):
    result = _run([str(RAG), *argv])
    assert result.returncode == 2
    assert "usage:" in result.stderr and "Traceback" not in result.stderr
