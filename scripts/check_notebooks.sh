#!/usr/bin/env bash
# Execute every notebook headless under papermill (the main job's path), in smoke mode,
# N times (default 3) with a per-notebook timeout, and print the times (a table and one
# JSON line). Exit status 1 if a run failed or hung past the timeout.
#
#   scripts/check_notebooks.sh [--runs N] [--timeout S] [--press-widgets] [notebooks/X.ipynb ...]
#   scripts/check_notebooks.sh --ipywidgets7 [...]   # in .venv-ipyw7: ipywidgets 7.7.5 (Colab's)
#
# --ipywidgets7 creates .venv-ipyw7 when missing: the project's constraints except the three
# ipywidgets packages, plus ipywidgets==7.7.5 (its own kernel, installed with --sys-prefix).
# --press-widgets adds a last cell that moves every control and presses every button.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
export WORKBENCH_SMOKE=1
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"

PY=.venv/bin/python
args=()
for a in "$@"; do
  if [ "$a" = "--ipywidgets7" ]; then PY=.venv-ipyw7/bin/python; else args+=("$a"); fi
done

if [ "$PY" = .venv-ipyw7/bin/python ] && [ ! -x "$PY" ]; then
  echo "[check_notebooks] creating .venv-ipyw7 (ipywidgets 7.7.5)"
  cons="$(mktemp)"
  grep -v -i -E '^(ipywidgets|jupyterlab_widgets|widgetsnbextension)==' constraints.txt > "$cons"
  "${PYTHON:-python3}" -m venv .venv-ipyw7
  .venv-ipyw7/bin/python -m pip install -q --disable-pip-version-check "pip>=23.2"
  .venv-ipyw7/bin/python -m pip install -q --disable-pip-version-check -c "$cons" "torch==2.13.0"
  .venv-ipyw7/bin/python -m pip install -q --disable-pip-version-check -c "$cons" -r requirements-dev.txt -e . \
    "ipywidgets==7.7.5"
  .venv-ipyw7/bin/python -m ipykernel install --sys-prefix --name python3 >/dev/null
  rm -f "$cons"
fi
[ -x "$PY" ] || { echo "[check_notebooks] $PY not found: run scripts/setup.sh first" >&2; exit 2; }

exec nice "$PY" scripts/check_notebooks.py --python "$PY" ${args[@]+"${args[@]}"}
