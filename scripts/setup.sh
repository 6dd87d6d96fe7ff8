#!/usr/bin/env bash
# Set up verbatim on a fresh machine: a virtual environment in .venv with the CPU build of
# torch installed first (a bare `torch` requirement would pull a multi-GB CUDA build),
# then the project with the extras named in $1 (default: ui). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-ui}"
py="${PYTHON:-python3}"
[ -x .venv/bin/python ] || "$py" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@" 2>&1 | grep -v "^WARNING: Location" || true; }
if ! .venv/bin/python -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null; then
    echo "setup: installing torch 2.13.0 (CPU)"
    pip install "torch==2.13.0"
fi
echo "setup: installing verbatim[$extras]"
pip install -e ".[$extras]"
.venv/bin/python -c "import torch, rag; assert torch.__version__.startswith('2.13.0'), torch.__version__"
