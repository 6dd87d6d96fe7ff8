#!/usr/bin/env bash
# Install everything the tests need (dev extras, Debian's chromium for browser tests)
# and run ruff and the whole test suite. CI runs exactly this through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
if [ -f tests/browser/conftest.py ] && ! command -v chromium >/dev/null 2>&1; then
    echo "test: installing Debian's chromium for the browser tests"
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
    $sudo_ apt-get update -qq && $sudo_ apt-get install -y -qq chromium >/dev/null
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
echo "test: ruff check"
.venv/bin/ruff check --quiet .
exec .venv/bin/python -m pytest "$@"
