#!/usr/bin/env bash
# Set up verbatim on this machine and open the chat page on the default corpus (seeds/)
# at http://127.0.0.1:7860. Extra arguments go to `rag serve` (e.g. --port 8000).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh ui
.venv/bin/rag index    # builds index/default from seeds/; instant when nothing changed
exec .venv/bin/rag serve "$@"
