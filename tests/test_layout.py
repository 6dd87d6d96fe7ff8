"""The code shows the pipeline: stage packages whose imports point one way, down the pipeline.

Every module of `rag/` and `ui/` is parsed with `ast` (nothing is imported) and each of its
imports of another module of the project is checked against the stage order:

    foundation <- reading <- indexing <- search <- answering <- evaluation | app <- ui <- cli
                                                          evaluation <- training

The reader's training (`rag.training`) builds on evaluation's metrics; nothing at run time
imports it.

A module may import from its own stage and from stages below it; evaluation and app sit side
by side and do not import each other. The failure names each edge that points up.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Stage of each unit: a subpackage of rag, a top-level module of rag, or the ui package.
LEVEL = {
    "rag.errors": 0, "rag.parallel": 0, "rag.offline": 0,
    "rag.reading": 1,
    "rag.indexing": 2,
    "rag.search": 3,
    "rag.answering": 4,
    "rag.evaluation": 5, "rag.app": 5,
    "rag.training": 6,
    "ui.app": 7, "ui": 7,
    "rag.cli": 8, "rag.__main__": 8, "ui.__main__": 8,
}
SIDE_BY_SIDE = {frozenset({"rag.evaluation", "rag.app"}), frozenset({"rag.training", "rag.app"})}


def unit(module: str) -> str | None:
    """The stage unit a dotted module name belongs to (None for `rag` itself: the public API)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        name = ".".join(parts[:n])
        if name in LEVEL:
            return name
    return None


def module_name(path: Path, root: Path = ROOT) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path, root: Path = ROOT) -> list[tuple[str, int]]:
    """The project modules `path` imports, absolute, with the line of each import."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    here = module_name(path, root)
    package = here if path.name == "__init__.py" else here.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            if node.module is None or node.level and not node.module:
                out += [(f"{stem}.{a.name}", node.lineno) for a in node.names]
            else:
                out += [(stem, node.lineno)]
    return [(m, line) for m, line in out if m.split(".")[0] in ("rag", "ui")]


def upward_edges(root: Path = ROOT) -> list[str]:
    """Every import in rag/ and ui/ that points to a stage above its own, as readable lines."""
    bad = []
    for path in sorted([*root.glob("rag/**/*.py"), *root.glob("ui/**/*.py")]):
        src = unit(module_name(path, root))
        if src is None:
            continue  # rag/__init__.py: the public API re-exports every stage
        for target, line in imports(path, root):
            dst = unit(target)
            if dst is None or dst == src:
                continue
            if LEVEL[dst] > LEVEL[src] or frozenset({src, dst}) in SIDE_BY_SIDE:
                bad.append(f"{path.relative_to(root)}:{line} imports {target} "
                           f"({dst}, above {src})")
    return bad


def test_imports_point_down_the_pipeline():
    assert upward_edges() == []


def test_an_upward_import_is_caught_and_named(tmp_path):
    for rel in ("rag/reading/ingest.py", "rag/answering/answer.py", "rag/__init__.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "rag/__init__.py").write_text("from .answering.answer import Answer\n")
    (tmp_path / "rag/answering/answer.py").write_text("from ..reading.ingest import Document\n")
    (tmp_path / "rag/reading/ingest.py").write_text(
        "def f():\n    from ..answering.answer import Answer  # late, still counted\n")
    edges = upward_edges(tmp_path)
    assert edges == [("rag/reading/ingest.py:2 imports rag.answering.answer "
                      "(rag.answering, above rag.reading)")]


@pytest.mark.parametrize("package", ["reading", "indexing", "search", "answering",
                                     "evaluation", "app", "training", "cli"])
def test_every_stage_package_says_what_it_does_and_does_not(package):
    doc = ast.get_docstring(ast.parse((ROOT / "rag" / package / "__init__.py").read_text()))
    assert doc and "Does not" in doc


def test_every_module_of_the_project_is_in_a_stage():
    for path in [*ROOT.glob("rag/**/*.py"), *ROOT.glob("ui/**/*.py")]:
        name = module_name(path)
        assert name == "rag" or unit(name) is not None, f"{name} is in no stage"
