"""Which sentence to quote first: soft coverage of the question from the embedder's token states.

The cheap score reads the question's exact words in a sentence. `soft_coverage` reads how
well each of the question's content word pieces is matched by some token of the sentence in
MiniLM's contextual token states (the best cosine per piece, averaged: BERTScore's recall),
so "succeed" can meet "hand over the reins" part of the way. Once the cheap score has
decided to answer (its threshold and rules read the cheap order), `first_by_soft` puts the
candidate with the highest soft coverage plus the type bonus first; the further quotes are
chosen as before.

Measured as a prototype before it was wired in (docs/reader.md): the first candidate holds
gold for 0.864 of the 295 answerable held-out SQuAD questions against 0.844, and for 0.674 of
89 single-turn seed questions against 0.618.

Does not: run the model (the states come from `Embedder.embed_with_states`, one run with the
sentence vectors), or apply when the embedder gives no states (torch, the test fakes): then
the cheap score's order stands.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np

from .scoring import STOP


def question_pieces(states) -> np.ndarray:
    """The rows of the question's token states that are content words: whole-word pieces of
    letters or digits that are not stop words (all of them when none is)."""
    keep = [i for i, piece in enumerate(states.pieces)
            if piece.isalnum() and piece.lower() not in STOP]
    return states.vectors[keep] if keep else states.vectors


def soft_coverage(question: np.ndarray, sentences: Sequence) -> np.ndarray:
    """For each sentence's token states, the mean over the question's pieces of the best
    cosine against any of the sentence's tokens."""
    out = np.zeros(len(sentences), dtype=np.float32)
    for i, s in enumerate(sentences):
        if len(question) and len(s.vectors):
            out[i] = float((question @ s.vectors.T).max(axis=1).mean())
    return out


def first_by_soft(candidates: list, type_weight: float) -> list:
    """`candidates` (best first by the cheap score, each with its `soft` coverage or None) with
    the one of highest soft coverage plus type bonus moved first, carrying the best cheap
    score, so that refusing and adding quotes read the same numbers as before."""
    if len(candidates) < 2 or any(c.soft is None for c in candidates):
        return candidates
    best = int(np.argmax([c.soft + (type_weight if c.focus else 0.0) for c in candidates]))
    if best == 0:
        return candidates
    top = replace(candidates[best], score=candidates[0].score)
    return [top] + candidates[:best] + candidates[best + 1:]
