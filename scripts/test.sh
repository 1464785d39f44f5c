#!/usr/bin/env bash
# Set up .venv and run everything CI runs: ruff, unit and integration tests, and every
# notebook through nbmake in smoke mode (WORKBENCH_SMOKE=1).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
export WORKBENCH_SMOKE=1
echo "[test] ruff"
.venv/bin/python -m ruff check .
echo "[test] pytest (unit, integration, notebooks)"
.venv/bin/python -m pytest tests --nbmake notebooks --timeout=1200 -q -p no:cacheprovider "$@"
