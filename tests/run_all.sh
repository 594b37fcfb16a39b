#!/usr/bin/env bash
# The whole test suite: JS unit tests (vitest), lint, format and type checks, then Python,
# notebooks and real-browser tests (pytest).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -f package.json ]; then
  npm ci --no-audit --no-fund --silent
  npm test --silent
fi
# the checks good projects run: lint, format, types (configured in pyproject.toml)
python3 -m ruff check .
python3 -m ruff format --check .
python3 -m mypy
python3 -m pytest -q -p no:cacheprovider "$@"
