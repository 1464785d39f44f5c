"""Command line: run the main job or any notebook headless.

    python -m workbench main [--smoke] [--runs-dir runs]
    python -m workbench notebook NAME_OR_PATH [--smoke] [-p key value ...]

``main`` runs ``notebooks/integration.ipynb`` through papermill into
``runs/<timestamp>/``, together with an HTML export in which every plot renders offline
and the results table (``results.csv``, ``results.json``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def _notebook_path(name: str) -> Path:
    p = Path(name)
    if p.suffix != ".ipynb":
        p = NOTEBOOKS / f"{name}.ipynb"
    if not p.is_file():
        known = sorted(x.stem for x in NOTEBOOKS.glob("*.ipynb"))
        raise SystemExit(f"no notebook {name!r}; notebooks: {known}")
    return p


def run(name: str, smoke: bool, runs_dir: str, params: dict[str, object]) -> Path:
    """Execute a notebook into a new run folder; returns the folder."""
    from workbench.report import export_html, new_run_dir, run_notebook

    nb = _notebook_path(name)
    out = new_run_dir(runs_dir)
    parameters = {"SMOKE": smoke, "OUTPUT_DIR": str(out.resolve())} | params
    print(f"[workbench] running {nb.relative_to(ROOT) if nb.is_relative_to(ROOT) else nb} "
          f"({'smoke' if smoke else 'full'} mode) -> {out}", flush=True)
    executed = run_notebook(nb, out / nb.name, parameters=parameters, cwd=str(nb.parent), progress=True)
    html = export_html(executed, out / (nb.stem + ".html"))
    print(f"[workbench] executed notebook: {executed}")
    print(f"[workbench] HTML report (plots render offline): {html}")
    for f in ("results.csv", "results.json"):
        if (out / f).exists():
            print(f"[workbench] results table: {out / f}")
    if (out / "results.json").exists():
        summary = json.loads((out / "results.json").read_text()).get("summary", [])
        _print_table(summary)
    return out


def _print_table(summary: list[dict]) -> None:
    if not summary:
        return
    cols = ["dataset", "variant", "reached", "time_to_target_s_mean", "time_to_target_ratio",
            "examples_to_target_ratio", "test_accuracy_mean"]
    print("\n" + " | ".join(cols))
    for row in summary:
        print(" | ".join(_fmt(row.get(c)) for c in cols))


def _fmt(v: object) -> str:
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.3f}"
    return str(v)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m workbench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("main", help="run the integration notebook headless into runs/<timestamp>/")
    n = sub.add_parser("notebook", help="run one notebook headless into runs/<timestamp>/")
    n.add_argument("name", help="notebook name (e.g. quickstart) or path")
    for p in (m, n):
        p.add_argument("--smoke", action="store_true",
                       default=os.environ.get("WORKBENCH_SMOKE", "") not in ("", "0"),
                       help="small, fast run (default from WORKBENCH_SMOKE)")
        p.add_argument("--runs-dir", default=str(ROOT / "runs"))
        p.add_argument("-p", "--param", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                       help="notebook parameter (value parsed as JSON when possible)")
    args = parser.parse_args(argv)
    params = {}
    for k, v in args.param:
        try:
            params[k] = json.loads(v)
        except json.JSONDecodeError:
            params[k] = v
    name = "integration" if args.cmd == "main" else args.name
    run(name, args.smoke, args.runs_dir, params)
    return 0


if __name__ == "__main__":
    sys.exit(main())
