"""The few exception types of the library.

Every message says how to fix the problem; the CLI prints it as one line and exits
non-zero. Nothing here prints or logs.
"""

from __future__ import annotations


class RagError(Exception):
    """Base class: any error a user can fix by changing input, settings or the index."""


class InputError(RagError, ValueError):
    """A question, path or option that cannot be used as given."""


class NoDocumentsError(InputError):
    """Nothing indexable was found in the given paths."""


class IndexNotFoundError(RagError):
    """No index at the given directory."""


class IndexMismatchError(RagError):
    """The index was written by another format version, model or dimension, or is damaged."""


class IndexWriteError(RagError):
    """The index could not be written: the disk is full, or a folder is not writable.

    The previous index is left whole and the partial version is removed."""


class IndexBusyError(RagError):
    """Another process holds the index's writer lock."""


class EmbedderError(RagError):
    """The embedding model could not be loaded."""


class EvalSetError(RagError):
    """An evaluation set or benchmark folder cannot be used."""


class LLMError(RagError):
    """The optional LLM endpoint failed, timed out or answered garbage."""


class ReaderError(RagError):
    """The reader model is missing, damaged, or of another format version."""
