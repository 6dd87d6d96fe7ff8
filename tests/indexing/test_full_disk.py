"""A full disk while indexing: one error line, no partial files, the last published index
whole, and the same command works once there is space (issue 12, point 10).

The index lives on a small tmpfs mounted for the test, so the disk really fills: writing
through a memory map there is what used to end in "Bus error". Mounting needs root (or
CAP_SYS_ADMIN); elsewhere the child gets a file size limit instead (RLIMIT_FSIZE), which
fails the same writes with an errno, the same code path minus the memory map's SIGBUS.
`rag` runs in a child process so that a crash is a failed test, not a dead test run.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import ROOT, write_corpus
from test_job import _article

from rag.indexing.store import open_index

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


def rag(*argv, file_limit: int | None = None) -> tuple[int, str, str]:
    def limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    done = subprocess.run([sys.executable, "-c", CHILD, *map(str, argv)], check=False,
                          capture_output=True, text=True, timeout=600,
                          preexec_fn=limit if file_limit else None)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def disk(tmp_path):
    """(folder, mounted): a 2 MB tmpfs where this process may mount one, else a plain folder."""
    folder = tmp_path / "disk"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)],
                             check=False, capture_output=True).returncode == 0
    yield folder, mounted
    if mounted:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_full_disk_is_one_error_line_and_the_rerun_works_once_there_is_space(
        tmp_path, seeds_dir, disk):
    folder, mounted = disk
    big = write_corpus(tmp_path / "big", {f"r{i:04d}.txt": _article(i) for i in range(1500)})
    index = folder / "idx"
    code, _, err = rag("index", seeds_dir, "--index", index)
    assert code == 0, err
    store = open_index(index)
    seeds_chunks = store.manifest.chunks
    store.close()

    code, out, err = rag("index", big, "--index", index,
                         file_limit=None if mounted else 256 * 1024)
    assert code == 1, f"exit {code} (135 or -7: Bus error)\n{err[-2000:]}"
    assert "Traceback" not in err
    errors = [line for line in err.replace("\r", "\n").splitlines() if line.startswith("error:")]
    assert len(errors) == 1, err
    assert ("no space left on the disk" if mounted else "size limit") in errors[0]
    assert "run the same command again" in errors[0]
    _assert_no_partial_files(index)
    store = open_index(index)  # the last published version: the seeds, or a whole snapshot
    assert store.manifest.chunks in (seeds_chunks, 1500) and store.chunks()
    store.close()

    if mounted:
        subprocess.run(["mount", "-o", "remount,size=64m", str(folder)], check=True)
    code, out, err = rag("index", big, "--index", index)
    assert code == 0, err
    assert "updated, 1500 documents" in out
    store = open_index(index)
    assert store.manifest.pending == 0
    store.close()
    _assert_no_partial_files(index)


def _assert_no_partial_files(index: Path) -> None:
    """Nothing but published versions (each with its manifest), the lock and the cache."""
    for entry in index.parent.iterdir():
        if entry.name.startswith(f".{index.name}.v-"):
            assert (entry / "manifest.json").is_file(), f"partial version {entry.name}"
        else:
            assert entry.name in (index.name, f".{index.name}.lock") or \
                entry.name.startswith(f".{index.name}.embeddings.sqlite"), entry.name
