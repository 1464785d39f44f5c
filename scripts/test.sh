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
# two workers (pytest-xdist; this machine kind has 2 cores), whole files per worker so a
# module's fixtures are built once; WORKBENCH_TEST_WORKERS=0 runs in one process
workers="${WORKBENCH_TEST_WORKERS:-2}"
xdist=()
if [ "$workers" != "0" ]; then xdist=(-n "$workers" --dist loadfile); fi
echo "[test] pytest (unit, integration, notebooks) with ${workers} worker(s)"
.venv/bin/python -m pytest tests --nbmake notebooks --timeout=1200 -q -p no:cacheprovider "${xdist[@]}" "$@"
