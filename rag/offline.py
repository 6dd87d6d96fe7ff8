"""Nothing calls home: the switches that keep every library verbatim loads offline.

`import rag` sets them in this process's environment, so they hold for the libraries loaded
after it and for every child process. Each one is forced, not defaulted: verbatim promises
zero DNS lookups and zero outbound connections, whatever the environment says.

- onnxruntime (1.2x and later) starts a 1DS telemetry client when it is imported, which
  resolves `mobile.events.data.microsoft.com` again and again; `ORT_DISABLE_TELEMETRY` is
  read at import, and `onnxruntime.disable_telemetry_events()` afterwards does not stop it;
- Hugging Face libraries would look for newer model files on the hub;
- Gradio would send usage analytics.

Does not: block the network (tests/test_network.py watches every process under strace), or
change anything for libraries imported before `rag`.
"""

from __future__ import annotations

import os

SWITCHES = {
    "ORT_DISABLE_TELEMETRY": "1",
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "DO_NOT_TRACK": "1",
}


def apply() -> None:
    """Set every switch in `os.environ`."""
    os.environ.update(SWITCHES)


apply()
