#!/usr/bin/env bash
# Set up .venv and run the main job: the integration notebook on the built-in real data,
# headless. Results land in runs/<timestamp>/. Pass --smoke for a quick run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
source scripts/env.sh
exec .venv/bin/python -m workbench main "$@"
