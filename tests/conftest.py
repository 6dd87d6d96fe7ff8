"""Shared fixtures: a deterministic fake embedder and a private index location per test.

The fake embedder hashes lowercase words into 64 dimensions, so unit tests never load
torch, scores are exact and repeatable, and a query sharing a document's unique words
ranks that document first. It counts what it embeds, so incremental builds can be checked
to have embedded nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from rag.indexing.embed import Embedder

# No timing assertions, including hypothesis's per-example deadline.
settings.register_profile(
    "verbatim", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("verbatim")

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
_WORD = re.compile(r"\w+")


class FakeEmbedder(Embedder):
    """Hashed bag of lowercase words in 64 dimensions; records every text it embeds."""

    dimension = 64
    max_tokens = 256

    def __init__(self, name: str = "fake-hash"):
        self.name = name
        self.texts: list[str] = []

    @property
    def embedded(self) -> int:
        """How many texts this embedder has turned into vectors so far."""
        return len(self.texts)

    def count_tokens(self, text: str) -> int:
        return len(text.split()) + 2

    def _embed(self, texts: list[str]) -> np.ndarray:
        self.texts.extend(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in _WORD.findall(text.lower()):
                digest = hashlib.sha256(word.encode("utf-8")).digest()
                out[row, digest[0] % self.dimension] += 1.0
        return out


@pytest.fixture
def fake_embedder() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture(autouse=True)
def private_index(tmp_path_factory, monkeypatch) -> Path:
    """Point the default index at a fresh temp dir, so no test touches the real index/."""
    index = tmp_path_factory.mktemp("rag-index-home") / "index"
    monkeypatch.setenv("RAG_INDEX", str(index))
    monkeypatch.delenv("RAG_CORPUS", raising=False)
    return index


def write_corpus(folder: Path, files: dict[str, str]) -> Path:
    """Write {name: text} as UTF-8 files under `folder` and return it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


# Three small articles on distinct subjects, each with words no other one uses.
ARTICLES = {
    "volcano.txt": (
        "Volcano erupts near the village of Grindavik\n\n"
        "The volcano on the Reykjanes peninsula erupted again on Monday night, sending lava "
        "fountains into the sky above the evacuated fishing village of Grindavik.\n\n"
        "Geologists said the magma corridor beneath the peninsula had been refilling for "
        "weeks, and that lava was flowing towards the protective barriers built last winter.\n\n"
        "Residents of Grindavik were evacuated in November after hundreds of small earthquakes "
        "opened deep cracks in the streets and the harbour wall.\n\n"
        "The geothermal power plant at Svartsengi and the Blue Lagoon spa were closed as a "
        "precaution while engineers raised the earth walls around them.\n\n"
        "Scientists at the meteorological office expect the eruption to last several days, "
        "although the fissure has already shortened and the lava fountains are lower.\n"
    ),
    "bakery.txt": (
        "A bakery revives sourdough traditions\n\n"
        "The small bakery on Baker Street bakes sourdough loaves with a starter culture that "
        "its founder brought from San Francisco thirty years ago.\n\n"
        "Every morning the bakers knead rye flour, spelt and water by hand, and the queue of "
        "customers reaches the corner before the croissants are out of the oven.\n\n"
        "The founder learned to bake from her grandmother, who ran a wood-fired oven in a "
        "village in Normandy and never weighed her flour.\n\n"
        "Prices have risen twice this year because butter and wheat cost more, but the "
        "bakery still sells a small loaf for under three pounds.\n\n"
        "On Saturdays the bakers teach a class on keeping a starter alive, and the waiting "
        "list for places now runs to the end of the summer.\n"
    ),
    "chess.txt": (
        "Teenager wins the national chess championship\n\n"
        "A fifteen-year-old grandmaster won the national chess championship on Sunday after a "
        "tense endgame with rook and bishop against a lone knight.\n\n"
        "Her coach said the Sicilian defence she played in the final round had been prepared "
        "for months, and the audience applauded when her opponent resigned.\n\n"
        "She learned the moves at the age of six from her grandfather, who played blitz "
        "games against her every evening after school.\n\n"
        "The federation said the prize fund of the tournament had doubled since last year "
        "thanks to a sponsor from the software industry.\n\n"
        "Next month she will travel to the olympiad, where she is expected to play on the "
        "first board of the national team against much older opponents.\n"
    ),
}


@pytest.fixture
def corpus(tmp_path) -> Path:
    """A folder of three small, unrelated articles."""
    return write_corpus(tmp_path / "corpus", ARTICLES)


@contextlib.contextmanager
def lock_held_elsewhere(index: Path) -> Iterator[None]:
    """Another process holds the writer lock of the index at `index` (as a running `rag index`
    would) until the block ends."""
    script = ("import pathlib, sys, time\nfrom rag.indexing import swap\n"
              f"with swap.locked(pathlib.Path({str(index)!r})):\n"
              "    print('locked', flush=True)\n    time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.wait()
