#!/usr/bin/env python
"""Screenshot every notebook in JupyterLab after Run All, in smoke mode, in headless Chromium.

What a user sees, checked the way a user would: a JupyterLab server (the project's own,
from ``.venv``) serves a scratch copy of ``notebooks/``; headless Chromium, driven by
Playwright, opens each notebook, picks **Run > Run All Cells**, waits until no cell is
queued or running and the kernel is idle, checks that no cell printed an error and that
every plotly figure drew, and saves the whole notebook as PNG (one file, or numbered parts
when it is taller than one capture) under ``docs/screenshots/``. A table of the checks
ends the run, and one JSON line.

    python scripts/screenshots.py [--out docs/screenshots] [--timeout 600] [NAME ...]

Needs Debian's Chromium (``apt-get install -y chromium``) and Playwright's Python package
(``pip install -e '.[screenshots]'``; Playwright drives the installed Chromium through
``executable_path``, no browser download). Exit status: 0 every notebook ran clean,
1 some did not (error output, a figure that did not draw, a timeout), 2 cannot check.

The server runs with ``WORKBENCH_SMOKE=1`` (the notebooks' smoke mode), autosave off and a
scratch copy, so the repository's notebooks stay without outputs; JupyterLab's windowed
rendering is switched off (``windowingMode: none``) so every cell is in the page.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
WIDTH = 1280
#: Chromium's largest capture is about 16,384 px a side; stay below it
MAX_CAPTURE = 12_000
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                        "checkForUpdates": False},
}

# JavaScript run in the page: state of the open notebook
_STATE_JS = """() => {
  const nb = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
  if (!nb) return null;
  const prompts = [...nb.querySelectorAll('.jp-InputArea-prompt')].map(p => p.textContent.trim());
  const status = document.querySelector('.jp-Notebook-ExecutionIndicator');
  return {
    cells: nb.querySelectorAll('.jp-Cell').length,
    code: nb.querySelectorAll('.jp-CodeCell').length,
    busy: prompts.filter(t => t.includes('*')).length,
    executed: prompts.filter(t => /\\[\\d+\\]/.test(t)).length,
    errors: nb.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"] .ansi-red-fg, .jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]').length,
    figures: nb.querySelectorAll('.js-plotly-plot').length,
    drawn: [...nb.querySelectorAll('.js-plotly-plot')].filter(p => p.querySelector('.main-svg')).length,
    kernel_idle: status ? (status.getAttribute('data-status') || status.textContent || '') : '',
  };
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout_s: float) -> None:
    import urllib.request

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer at {url} within {timeout_s:.0f} s")


def start_lab(workdir: Path, python: str) -> tuple[subprocess.Popen, str, str]:
    """A JupyterLab server on a free local port over ``workdir``; returns (process, base URL, token)."""
    settings = workdir / "lab-settings"
    for rel, value in SETTINGS.items():
        p = settings / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(value))
    port, token = _free_port(), secrets.token_hex(16)
    env = os.environ | {"WORKBENCH_SMOKE": "1", "JUPYTERLAB_SETTINGS_DIR": str(settings),
                        "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    with open(workdir / "lab.log", "w") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [python, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1",
             f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={workdir / 'notebooks'}",
             "--ServerApp.open_browser=False", "--LabApp.news_url=", "--allow-root"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=workdir / "notebooks")
    base = f"http://127.0.0.1:{port}"
    _wait_http(f"{base}/api/status?token={token}", 60)
    return proc, base, token


def _run_all(page, attempts: int = 6) -> None:
    """Run > Run All Cells, again until a cell is queued: the command does nothing while the
    kernel is still connecting (seen here: the first notebook's click was lost)."""
    for _ in range(attempts):
        time.sleep(2.0)
        page.keyboard.press("Escape")
        page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
        page.locator('li[data-command="runmenu:run-all"]').first.click()
        for _ in range(10):
            state = page.evaluate(_STATE_JS) or {}
            if state.get("busy", 0) or state.get("executed", 0):
                return
            time.sleep(1.0)
    raise TimeoutError(f"Run All did not start a cell after {attempts} attempts")


def _settle(page, timeout_s: float) -> dict:
    """Wait until every cell ran (none queued or running) and the kernel is idle."""
    end = time.monotonic() + timeout_s
    state: dict = {}
    quiet_since = None
    while time.monotonic() < end:
        state = page.evaluate(_STATE_JS) or {}
        done = state and state["busy"] == 0 and state["executed"] >= 1
        if done:
            quiet_since = quiet_since or time.monotonic()
            if time.monotonic() - quiet_since > 3.0:  # plots draw after the last cell ends
                return state | {"timed_out": False}
        else:
            quiet_since = None
        time.sleep(1.0)
    return state | {"timed_out": True}


def _shrink_png(path: Path) -> None:
    """Re-save a capture with a 256-colour palette (text and plot lines stay sharp; ~4x smaller)."""
    try:
        from PIL import Image
    except ImportError:  # pillow is optional: keep the full-colour capture
        return
    with Image.open(path) as im:
        small = im.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def shoot(page, base: str, token: str, name: str, out: Path, timeout_s: float) -> dict:
    """Open, Run All, wait, check and capture one notebook; returns its row of checks."""
    t0 = time.monotonic()
    page.set_viewport_size({"width": WIDTH, "height": 900})
    page.goto(f"{base}/lab/tree/{name}.ipynb?token={token}&reset", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=120_000)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator", timeout=120_000)
    # hide the file browser so the notebook gets the width
    if page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").count():
        page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").first.click()
    _run_all(page)
    state = _settle(page, timeout_s)
    seconds = time.monotonic() - t0
    # size the viewport to the notebook's full height, then capture it in parts if needed
    height = page.evaluate("""() => {
      const el = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer')
                 || document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook');
      return el ? el.scrollHeight : 2000; }""")
    chrome = 140  # menu bar, toolbar and status bar around the notebook
    files = []
    parts = max(1, -(-(height + chrome) // MAX_CAPTURE))
    for i in range(parts):
        h = min(MAX_CAPTURE, height + chrome - i * MAX_CAPTURE + (chrome if i else 0))
        page.set_viewport_size({"width": WIDTH, "height": max(600, h)})
        page.evaluate("""(y) => { const el = document.querySelector(
            '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer'); if (el) el.scrollTop = y; }""",
                      i * (MAX_CAPTURE - chrome))
        time.sleep(1.5)
        path = out / (f"{name}.png" if parts == 1 else f"{name}-{i + 1}.png")
        page.screenshot(path=str(path))
        _shrink_png(path)
        files.append(path)
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").first.click()
    page.locator('li[data-command="kernelmenu:shutdown"]').first.click()
    time.sleep(1.0)
    ok = (not state.get("timed_out")) and state.get("errors", 1) == 0 and state.get("drawn", 0) >= state.get(
        "figures", 0) and state.get("executed", 0) >= 1
    return {"notebook": name, "ok": bool(ok), "seconds": round(seconds, 1), "cells": state.get("cells"),
            "code_cells": state.get("code"), "executed": state.get("executed"), "errors": state.get("errors"),
            "figures": state.get("figures"), "figures_drawn": state.get("drawn"),
            "timed_out": state.get("timed_out"), "files": [str(f.relative_to(ROOT)) if f.is_relative_to(ROOT)
                                                            else str(f) for f in files]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", help="notebook names (default: every notebook in notebooks/)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per notebook for Run All")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "/usr/bin/chromium")
    parser.add_argument("--python", default=str(ROOT / ".venv" / "bin" / "python"))
    args = parser.parse_args(argv)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("Playwright is not installed: pip install -e '.[screenshots]'", file=sys.stderr)
        return 2
    if not Path(args.chromium).is_file():
        print(f"no Chromium at {args.chromium}: apt-get install -y chromium", file=sys.stderr)
        return 2
    names = args.names or sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
    unknown = [n for n in names if not (NOTEBOOKS / f"{n}.ipynb").is_file()]
    if unknown:
        print(f"unknown notebooks {unknown}; known {sorted(p.stem for p in NOTEBOOKS.glob('*.ipynb'))}",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="wb-shots-") as tmp:
        work = Path(tmp)
        shutil.copytree(NOTEBOOKS, work / "notebooks")
        # notebooks read ../docs/results (e.g. the compile chart): the same layout in the copy
        (work / "docs").symlink_to(ROOT / "docs")
        proc, base, token = start_lab(work, args.python)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=args.chromium, headless=True, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": WIDTH, "height": 900})
                for name in names:
                    try:
                        row = shoot(page, base, token, name, out, args.timeout)
                    except Exception as exc:  # one notebook's failure is reported, the rest still run
                        row = {"notebook": name, "ok": False, "error": f"{type(exc).__name__}: {exc}"}
                    rows.append(row)
                    print(f"{name:20s} {'ok' if row['ok'] else 'FAILED':7s} {row.get('seconds', '-')!s:>7} s  "
                          f"figures {row.get('figures_drawn', '-')}/{row.get('figures', '-')}  "
                          f"errors {row.get('errors', row.get('error', '-'))}", flush=True)
                browser.close()
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
    print(json.dumps({"check": "screenshots", "ok": all(r["ok"] for r in rows), "results": rows}))
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
