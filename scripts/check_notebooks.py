"""Execute every notebook headless under papermill, N times, and report the times.

Run through ``scripts/check_notebooks.sh`` (it sources ``scripts/env.sh``, sets
``WORKBENCH_SMOKE=1`` and picks the environment). Each notebook runs as the main job runs
it -- ``python -m papermill -k python3 notebooks/X.ipynb out.ipynb`` from the repository
root -- under a per-notebook wall-clock timeout, so a hang shows as ``timeout`` (with the
cell papermill was running) instead of blocking the check.

With ``--press-widgets`` a last cell is added to each notebook's copy: it moves every
enabled slider, dropdown and checkbox to another value and back (each move runs its
observers, as a user's drag would) and presses every button (``Button.click()``, which
calls the ``on_click`` handlers as a user's click does), then fails the run if a control
panel reports an error (``box.last_error``) or a click raised.

Prints a table (seconds per notebook and run) and one JSON line starting with
``CHECK_NOTEBOOKS_JSON``. Exit status 1 if any run failed or timed out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]

PRESS_WIDGETS_CELL = r'''
# check_notebooks.py --press-widgets: move every control and press every button
import json as _json
import time as _time

import ipywidgets as _w

_reg = getattr(_w.widgets.widget, "_instances", None)
_all = list((_reg if _reg is not None else _w.Widget.widgets).values())
_moved, _pressed, _errors = 0, 0, []
_t0 = _time.monotonic()


def _other_value(wd):
    if isinstance(wd, (_w.Checkbox, _w.ToggleButton)):
        return not wd.value
    if isinstance(wd, (_w.Dropdown, _w.RadioButtons, _w.ToggleButtons, _w.Select)):
        values = [o[1] if isinstance(o, tuple) else o for o in wd.options]
        others = [v for v in values if v != wd.value]
        return others[0] if others else wd.value
    if isinstance(wd, _w.SelectMultiple):  # add an option, or drop one when all are chosen
        values = [o[1] if isinstance(o, tuple) else o for o in wd.options]
        rest = [v for v in values if v not in wd.value]
        return (*wd.value, rest[0]) if rest else tuple(wd.value[:-1])
    if isinstance(wd, (_w.IntSlider, _w.FloatSlider)):
        up = wd.value + wd.step
        return up if up <= wd.max else wd.value - wd.step
    if isinstance(wd, _w.FloatLogSlider):
        up = wd.value * wd.base ** wd.step
        return up if up <= wd.base ** wd.max else wd.value / wd.base ** wd.step
    return None


for _wd in _all:
    if getattr(_wd, "disabled", False):
        continue
    _new = _other_value(_wd)
    if _new is None or _new == _wd.value:
        continue
    _old = _wd.value
    try:
        _wd.value = _new   # runs the observers, like a user's move
        _wd.value = _old   # back, so buttons run with the notebook's settings
        _moved += 1
    except Exception as _exc:  # noqa: BLE001 - reported below
        _errors.append(f"{type(_wd).__name__} {getattr(_wd, 'description', '')!r}: {_exc!r}")
for _wd in _all:
    if isinstance(_wd, _w.Button) and not _wd.disabled:
        try:
            _wd.click()
            _pressed += 1
        except Exception as _exc:  # noqa: BLE001
            _errors.append(f"Button {_wd.description!r}: {_exc!r}")
for _wd in _all:
    if getattr(_wd, "last_error", None) is not None:
        _errors.append(f"panel {_wd.button.description!r}: {_wd.last_error!r}")
print("PRESS_WIDGETS_JSON", _json.dumps({"ipywidgets": _w.__version__, "moved": _moved, "pressed": _pressed,
                                         "seconds": round(_time.monotonic() - _t0, 1), "errors": _errors}))
assert not _errors, _errors
'''


def running_cell(path: Path) -> str:
    """The cell papermill was running (a hang) or that raised (an error), from its output copy."""
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - partial or missing file
        return "?"
    code = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    for i, c in code:
        failed = any(o.get("output_type") == "error" for o in c.get("outputs", []))
        if c.metadata.get("papermill", {}).get("status") == "running" or failed:
            error = next((f" ({o['ename']}: {o['evalue'][:80]})" for o in c.get("outputs", [])
                          if o.get("output_type") == "error"), "")
            return f"cell {i}: {c.source.splitlines()[0][:70] if c.source else ''}{error}"
    return "?"


def widget_report(path: Path) -> dict | None:
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001
        return None
    for out in nb.cells[-1].get("outputs", []):
        for line in out.get("text", "").splitlines():
            if line.startswith("PRESS_WIDGETS_JSON "):
                return json.loads(line.split(" ", 1)[1])
    return None


def run_one(python: str, src: Path, dst: Path, timeout_s: float, press: bool) -> dict:
    if press:
        nb = nbformat.read(src, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(PRESS_WIDGETS_CELL.strip()))
        src = dst.with_name(dst.stem + ".input.ipynb")
        nbformat.write(nb, src)
    cmd = [python, "-m", "papermill", "-k", "python3", str(src), str(dst)]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return {"status": "timeout", "seconds": round(time.monotonic() - t0, 1), "at": running_cell(dst)}
    seconds = round(time.monotonic() - t0, 1)
    result: dict = {"status": "ok" if proc.returncode == 0 else "error", "seconds": seconds}
    if proc.returncode != 0:
        result["at"] = running_cell(dst)
        result["stderr"] = proc.stderr.strip().splitlines()[-3:]
    if press:
        result["widgets"] = widget_report(dst)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", help="notebooks (default: notebooks/*.ipynb)")
    parser.add_argument("--runs", type=int, default=3, help="runs of each notebook (default 3)")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per notebook run (default 600)")
    parser.add_argument("--python", default=str(REPO / ".venv" / "bin" / "python"),
                        help="interpreter of the environment to run papermill and the kernel in")
    parser.add_argument("--press-widgets", action="store_true",
                        help="add a last cell that moves every control and presses every button")
    parser.add_argument("--out", default=None, help="folder for the executed copies (default runs/check-notebooks-<time>)")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error(f"--runs must be >= 1; got {args.runs}")
    if args.timeout <= 0:
        parser.error(f"--timeout must be > 0; got {args.timeout}")
    notebooks = [Path(p) for p in args.notebooks] or sorted((REPO / "notebooks").glob("*.ipynb"))
    out_dir = Path(args.out or REPO / "runs" / time.strftime("check-notebooks-%Y%m%d-%H%M%S"))
    out_dir.mkdir(parents=True, exist_ok=True)
    version = subprocess.run([args.python, "-c", "import ipywidgets, papermill, nbclient; "
                              "print(ipywidgets.__version__, papermill.__version__, nbclient.__version__)"],
                             capture_output=True, text=True, check=True).stdout.split()
    env_info = {"python": args.python, "ipywidgets": version[0], "papermill": version[1], "nbclient": version[2],
                "smoke": os.environ.get("WORKBENCH_SMOKE", ""), "host": platform.node(),
                "press_widgets": args.press_widgets}
    print(f"[check_notebooks] {len(notebooks)} notebooks x {args.runs} runs, timeout {args.timeout:g} s, "
          f"ipywidgets {env_info['ipywidgets']}, papermill {env_info['papermill']}, nbclient {env_info['nbclient']}",
          flush=True)
    results: dict[str, list[dict]] = {nb.stem: [] for nb in notebooks}
    for run in range(1, args.runs + 1):
        for nb in notebooks:
            res = run_one(args.python, nb, out_dir / f"{nb.stem}.run{run}.ipynb", args.timeout, args.press_widgets)
            results[nb.stem].append(res)
            extra = f" at {res['at']}" if "at" in res else ""
            if res.get("widgets"):
                w = res["widgets"]
                extra += f" (moved {w['moved']}, pressed {w['pressed']} in {w['seconds']} s)"
            print(f"  run {run} {nb.stem:<16} {res['status']:<7} {res['seconds']:7.1f} s{extra}", flush=True)
    name_w = max(len(n) for n in results) + 2
    header = "notebook".ljust(name_w) + "".join(f"run {r:<6}" for r in range(1, args.runs + 1))
    print("\n" + header)
    for name, rs in results.items():
        cells = "".join((f"{r['seconds']:.1f}" if r["status"] == "ok" else f"{r['status']}").ljust(10) for r in rs)
        print(name.ljust(name_w) + cells)
    failed = [(n, i + 1, r["status"]) for n, rs in results.items() for i, r in enumerate(rs) if r["status"] != "ok"]
    print("CHECK_NOTEBOOKS_JSON " + json.dumps({"env": env_info, "runs": args.runs, "timeout_s": args.timeout,
                                                "results": results, "failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
