"""The chat application's logic, as plain Python that the Gradio page (`ui/app.py`) wires up.

- `chat`: `ChatService` serves one index to every reader of the page: conversations with
  follow-ups, the operator's LLM, feedback, the index status;
- `uploads`: files added through the page (only those it received; never replacing a
  document unless the operator allowed it);
- `login`: the password check that pauses after failed logins;
- `documents`: the documents panel (what is indexed) and removing documents when the
  operator allows it;
- `render`: answers and their sources as safe Markdown and HTML.

Does not: import Gradio, or decide how anything is retrieved or answered.
"""

from ..errors import InputError as InputError
from ..errors import RagError as RagError
from ..reading.ingest import SUFFIXES as SUFFIXES
from .chat import EXTRACTIVE_TURNS as EXTRACTIVE_TURNS
from .chat import ChatService as ChatService
from .chat import ChatSettings as ChatSettings
from .chat import Conversation as Conversation
from .documents import DOCUMENTS_CSS as DOCUMENTS_CSS
from .login import LoginThrottle as LoginThrottle
from .render import ARTICLE_JS as ARTICLE_JS
from .render import EMPTY_SOURCES as EMPTY_SOURCES
from .render import SOURCES_CSS as SOURCES_CSS

__all__ = ["ARTICLE_JS", "DOCUMENTS_CSS", "EMPTY_SOURCES", "EXTRACTIVE_TURNS", "SOURCES_CSS", "SUFFIXES",
           "ChatService", "ChatSettings", "Conversation", "InputError", "LoginThrottle",
           "RagError"]
