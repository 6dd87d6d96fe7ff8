"""The reader: which sentence answers, and how likely it is that one does.

Two small logistic models, trained by `python -m rag.training.fit` on the committed
SQuAD 2.0 half (split by article) and shipped as one JSON file with its manifest,
`rag/answering/models/reader.json`:
- the sentence model turns each candidate's `SENTENCE_FEATURES` into a logit: the chance that
  this sentence holds the answer. The answerer quotes the sentences in that order;
- the answer model turns the best candidate's `QUESTION_FEATURES` (beside the runner-up) into
  the answer's confidence, a probability calibrated on articles the model did not train on,
  and the file carries the threshold under which the answerer refuses, chosen on those
  articles for a stated false-refusal rate;
- the cheap answer model reads the same question features made with the cheap score in place
  of the logits: the default (cheap) reader's confidence. It does not decide refusals.

`load_reader` checks the manifest before anything is used: the format and its version, the
feature names against the ones this code computes, and the SHA-256 of the weights. Any
mismatch is a `ReaderError` that says how to rebuild the file. Applying a model is a dot
product in numpy: no onnxruntime or torch, so `import rag` and `rag ask` stay light.

Does not: compute features (`rag.answering.features`) or train (`rag.training.fit`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ReaderError
from .features import QUESTION_FEATURES, SENTENCE_FEATURES

FORMAT = "verbatim-reader"
FORMAT_VERSION = 2  # 2: the cheap answer model
DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "reader.json"
REBUILD = "rebuild it with `python -m rag.training.fit`, or restore it with git"


@dataclass(frozen=True)
class Linear:
    """A standardized logistic model: logit = ((x - mean) / scale) @ coef + intercept."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float

    def logits(self, x: np.ndarray) -> np.ndarray:
        if len(x) == 0:
            return np.zeros(0)
        return ((np.asarray(x, dtype=np.float64) - self.mean) / self.scale) @ self.coef + self.intercept

    def to_dict(self) -> dict:
        return {"mean": _floats(self.mean), "scale": _floats(self.scale),
                "coef": _floats(self.coef), "intercept": round(float(self.intercept), 8)}

    @classmethod
    def from_dict(cls, d: dict, width: int) -> Linear:
        arrays = [np.asarray(d[k], dtype=np.float64) for k in ("mean", "scale", "coef")]
        if any(a.shape != (width,) for a in arrays) or not np.all(arrays[1] > 0):
            raise ValueError(f"expected {width} weights with positive scales")
        return cls(*arrays, float(d["intercept"]))


@dataclass(frozen=True)
class Reader:
    """The models and the refusal threshold of one model file."""

    sentence: Linear
    answer: Linear
    threshold: float
    manifest: dict
    cheap: Linear

    def sentence_logits(self, x: np.ndarray) -> np.ndarray:
        return self.sentence.logits(x)

    def confidence(self, q: np.ndarray) -> float:
        """P(the best candidate answers the question), from one row of question features."""
        return _probability(self.answer, q)

    def cheap_confidence(self, q: np.ndarray) -> float:
        """The same for the cheap reader's best candidate (`q` made with its scores)."""
        return _probability(self.cheap, q)


def _probability(model: Linear, q: np.ndarray) -> float:
    z = float(model.logits(np.asarray(q)[None, :])[0])
    return float(1 / (1 + np.exp(-np.clip(z, -30, 30))))


def weights_hash(body: dict) -> str:
    """SHA-256 of the file's content without its `sha256` key (canonical JSON)."""
    data = {k: v for k, v in body.items() if k != "sha256"}
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def save_reader(path: str | Path, *, sentence: Linear, answer: Linear, threshold: float,
                cheap: Linear, about: dict) -> Path:
    """Write a model file with its manifest (`about`: data, seed, metrics) and hash."""
    body = {"format": FORMAT, "version": FORMAT_VERSION,
            "features": {"sentence": list(SENTENCE_FEATURES), "question": list(QUESTION_FEATURES)},
            "sentence_model": sentence.to_dict(), "answer_model": answer.to_dict(),
            "cheap_answer_model": cheap.to_dict(),
            "threshold": round(float(threshold), 6), **about}
    body["sha256"] = weights_hash(body)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load_reader(path: str | Path = DEFAULT_MODEL) -> Reader:
    """The reader in `path`, its manifest checked (see the module docstring); read once per
    version of the file."""
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ReaderError(f"no reader model at {path}; {REBUILD}") from None
    except OSError as e:
        raise ReaderError(f"the reader model {path} is unreadable ({e}); {REBUILD}") from e
    return _load(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _load(name: str, _mtime: int, _size: int) -> Reader:
    path = Path(name)
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ReaderError(f"the reader model {path} is unreadable ({e}); {REBUILD}") from e
    _check(path, body)
    try:
        return Reader(Linear.from_dict(body["sentence_model"], len(SENTENCE_FEATURES)),
                      Linear.from_dict(body["answer_model"], len(QUESTION_FEATURES)),
                      float(body["threshold"]), body,
                      Linear.from_dict(body["cheap_answer_model"], len(QUESTION_FEATURES)))
    except (KeyError, TypeError, ValueError) as e:
        raise ReaderError(f"the reader model {path} has malformed weights ({e}); {REBUILD}") from e


def _check(path: Path, body) -> None:
    if not isinstance(body, dict) or body.get("format") != FORMAT:
        raise ReaderError(f"{path} is not a verbatim reader model; {REBUILD}")
    if body.get("version") != FORMAT_VERSION:
        raise ReaderError(f"the reader model {path} has format version {body.get('version')}, "
                          f"this verbatim reads version {FORMAT_VERSION}; {REBUILD}")
    wanted = {"sentence": list(SENTENCE_FEATURES), "question": list(QUESTION_FEATURES)}
    if body.get("features") != wanted:
        raise ReaderError(f"the reader model {path} was trained on other features than this "
                          f"code computes; {REBUILD}")
    if body.get("sha256") != weights_hash(body):
        raise ReaderError(f"{path} does not match the SHA-256 in its manifest (edited or "
                          f"damaged); {REBUILD}")


def _floats(a) -> list[float]:
    return [round(float(v), 8) for v in np.asarray(a).ravel()]
