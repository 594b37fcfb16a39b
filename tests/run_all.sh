#!/usr/bin/env bash
# The whole test suite: JS unit tests (vitest), then Python, notebooks and real-browser tests (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f package.json ]; then
  npm ci --no-audit --no-fund --silent
  npm test --silent
fi
python3 -m pytest -q -p no:cacheprovider "$@"
