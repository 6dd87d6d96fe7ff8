#!/usr/bin/env bash
# Install everything the tests need (dev extras, Debian's chromium and strace)
# and run ruff and the whole test suite. CI runs exactly this through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
# Debian packages the tests need: chromium (browser tests), strace (the network test).
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v strace >/dev/null 2>&1 || missing="$missing strace"
if [ -n "$missing" ]; then
    echo "test: installing Debian's$missing"
    sudo_=""; [ "$(id -u)" = 0 ] || sudo_="sudo"
    $sudo_ apt-get update -qq && $sudo_ apt-get install -y -qq $missing >/dev/null
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
echo "test: ruff check"
.venv/bin/ruff check --quiet .
exec .venv/bin/python -m pytest "$@"
