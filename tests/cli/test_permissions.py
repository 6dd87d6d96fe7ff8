"""Permission errors are one note or one error line saying what to do (issue 12, point 8).

Root reads and writes through any permission bits, so when the tests run as root `rag` runs
in a child process as the user `nobody` (uid 65534), in a folder under /tmp that it may enter
(with the system's Python of the same version when this one is in a folder nobody may enter);
otherwise the child runs as the current user. Every test first checks that the child is
really refused (a test that passed only because root may do anything would prove nothing),
and is skipped, saying why, where privileges cannot be dropped.
"""

from __future__ import annotations

import functools
import os
import shutil
import site
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest
import test_cli
from conftest import ARTICLES, ROOT, write_corpus

fake_model = test_cli.fake_model  # the fake embedder for what runs in this process (autouse)
NOBODY = 65534
CHILD = textwrap.dedent(f"""
    import sys
    sys.path.insert(0, {str(ROOT / "tests")!r})
    from conftest import FakeEmbedder
    import rag.indexing.build, rag.search.retrieve
    from rag.cli import main
    fake = FakeEmbedder()
    rag.indexing.build.get_embedder = rag.search.retrieve.get_embedder = lambda m=None: fake
    sys.exit(main(sys.argv[1:]))
""")


@pytest.fixture
def shared() -> Path:
    """A folder under /tmp that the child's user may enter (pytest's tmp_path is 0700)."""
    folder = Path(tempfile.mkdtemp(prefix="rag-perm-", dir="/tmp"))
    folder.chmod(0o777)
    yield folder
    for root, dirs, _ in os.walk(folder):  # give back what a test took away, then remove it
        for name in dirs:
            os.chmod(os.path.join(root, name), 0o777)
    shutil.rmtree(folder, ignore_errors=True)


def _drop() -> dict:
    """subprocess options that run the child as `nobody` when this process is root."""
    return {"user": NOBODY, "group": NOBODY, "extra_groups": []} if os.geteuid() == 0 else {}


@functools.lru_cache(maxsize=1)
def _python() -> tuple[str, dict]:
    """(interpreter, environment) the unprivileged user can run with this checkout's packages:
    this Python, or the system's Python of the same version where this one lives in a folder
    that user may not enter (a pyenv under /root)."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *site.getsitepackages()])}
    for exe in (sys.executable, f"/usr/bin/python{version}"):
        try:
            probe = subprocess.run([exe, "-c", "import numpy, faiss, rag.cli"], check=False,
                                   env=env, capture_output=True, **_drop())
        except OSError:
            continue
        if probe.returncode == 0:
            return exe, env
    pytest.skip("no Python with this checkout's packages can run as an unprivileged user here")


def rag_as_user(cwd: Path, *argv) -> tuple[int, str, str]:
    """Run `rag ARGV` (with the fake embedder) as an unprivileged user."""
    exe, env = _python()
    done = subprocess.run([exe, "-c", CHILD, *map(str, argv)], check=False, cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env={**env, "HOME": str(cwd)}, **_drop())
    return done.returncode, done.stdout, done.stderr


def assert_refused(cwd: Path, path: Path) -> None:
    """The child's user really cannot read `path` (else these tests would prove nothing)."""
    exe, env = _python()
    code = (f"import os; p = {str(path)!r}\n"
            "os.listdir(p) if os.path.isdir(p) else open(p).read()")
    probe = subprocess.run([exe, "-c", code], check=False, cwd=cwd, env=env,
                           capture_output=True, text=True, **_drop())
    assert "PermissionError" in probe.stderr, "the child's user can read it: nothing is tested"


def one_error_line(code: int, out: str, err: str) -> str:
    assert code == 1, (out, err)
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


@pytest.fixture
def corpus(shared) -> Path:
    corpus = write_corpus(shared / "corpus", {"volcano.txt": ARTICLES["volcano.txt"]})
    write_corpus(corpus / "locked", {"chess.txt": ARTICLES["chess.txt"]}).chmod(0o000)
    listed = write_corpus(corpus / "listed", {"orchid.txt": "Rare orchid\n\nBotanists saw it."})
    listed.chmod(0o444)  # its names may be listed, its files not opened
    write_corpus(corpus, {"bakery.txt": ARTICLES["bakery.txt"]})
    (corpus / "bakery.txt").chmod(0o000)
    return corpus


def test_an_unreadable_subfolder_and_file_are_skipped_with_a_note_each(shared, corpus):
    assert_refused(shared, corpus / "locked")
    code, out, err = rag_as_user(shared, "index", corpus, "--index", shared / "idx")
    assert code == 0, err
    assert "Traceback" not in err
    notes = err.strip().splitlines()
    assert len(notes) == 3 and all(n.startswith("note: skipped ") for n in notes), err
    assert any(f"{corpus / 'locked'}: folder cannot be read" in n for n in notes), err
    assert any(f"{corpus / 'bakery.txt'}: cannot be read" in n for n in notes), err
    assert any(f"{corpus / 'listed' / 'orchid.txt'}: cannot be read" in n for n in notes), err
    assert all("chmod" in n for n in notes)
    assert "1 documents" in out


def test_a_file_inside_an_unreadable_folder_is_one_error_line(shared, corpus):
    assert_refused(shared, corpus / "locked")
    line = one_error_line(*rag_as_user(shared, "index", corpus / "locked" / "chess.txt",
                                       "--index", shared / "idx"))
    assert "permission denied" in line and "chmod" in line


@pytest.mark.parametrize("where", ["idx", "new/idx"])
def test_an_index_in_a_folder_that_is_not_writable_is_one_error_line(shared, corpus, where):
    readonly = shared / "readonly"
    readonly.mkdir()
    readonly.chmod(0o555)
    assert_refused(shared, corpus / "bakery.txt")
    line = one_error_line(*rag_as_user(shared, "index", corpus / "volcano.txt",
                                       "--index", readonly / where))
    assert f"cannot write the index at {readonly / where}: permission denied" in line
    assert "--index" in line


def test_an_index_built_by_one_user_is_searchable_by_another(shared, corpus, capsys):
    from rag.cli import main

    index = shared / "idx"
    assert main(["index", str(corpus / "volcano.txt"), "--index", str(index)]) == 0
    capsys.readouterr()
    assert_refused(shared, corpus / "bakery.txt")
    code, out, err = rag_as_user(shared, "search", "lava Grindavik", "--index", index)
    assert code == 0, err
    assert "volcano" in out


def test_an_index_this_user_may_not_read_is_one_error_line(shared, corpus, capsys):
    from rag.cli import main

    index = shared / "idx"
    assert main(["index", str(corpus / "volcano.txt"), "--index", str(index)]) == 0
    capsys.readouterr()
    index.resolve().chmod(0o000)
    assert_refused(shared, index.resolve())
    line = one_error_line(*rag_as_user(shared, "search", "lava", "--index", index))
    assert "cannot read the index" in line and "permission denied" in line
