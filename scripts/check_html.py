#!/usr/bin/env python
"""Check that every plotly figure of an exported notebook renders in headless Chromium.

Usage::

    python scripts/check_html.py runs/<stamp>/quickstart.html [--notebook runs/<stamp>/quickstart.ipynb]
    python scripts/check_html.py out.html --expected 3

The expected number of figures is, in order of preference: ``--expected``, the figures
in ``--notebook`` (outputs calling ``Plotly.newPlot``), or the notebook next to the HTML
file (same name, ``.ipynb``), or else the ``Plotly.newPlot`` calls in the HTML itself.
Exits 0 when every figure rendered, 1 when some did not, 2 when it cannot check
(no Chromium, missing file).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.report import (  # noqa: E402
    ChromiumNotFoundError,
    count_notebook_figures,
    count_rendered_plots,
)


def expected_figures(html: Path, notebook: Path | None, expected: int | None) -> tuple[int, str]:
    """The number of figures the page should show, and where that number came from."""
    if expected is not None:
        return expected, "--expected"
    if notebook is None and html.with_suffix(".ipynb").is_file():
        notebook = html.with_suffix(".ipynb")
    if notebook is not None:
        return count_notebook_figures(notebook), str(notebook)
    text = html.read_text(encoding="utf-8", errors="replace")
    return text.count("Plotly.newPlot("), "Plotly.newPlot calls in the HTML"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", nargs="+", type=Path, help="exported HTML file(s)")
    parser.add_argument("--notebook", type=Path, default=None,
                        help="executed notebook the HTML came from (one HTML file only)")
    parser.add_argument("--expected", type=int, default=None, help="expected figure count")
    parser.add_argument("--chromium", default="chromium", help="Chromium executable")
    args = parser.parse_args(argv)
    if args.notebook is not None and len(args.html) > 1:
        parser.error("--notebook goes with a single HTML file")

    status = 0
    for html in args.html:
        if not html.is_file():
            print(f"MISSING {html}", file=sys.stderr)
            return 2
        want, source = expected_figures(html, args.notebook, args.expected)
        try:
            got = count_rendered_plots(html, chromium=args.chromium)
        except ChromiumNotFoundError as exc:
            print(f"CANNOT CHECK: {exc}", file=sys.stderr)
            return 2
        ok = got >= want
        print(f"{'OK  ' if ok else 'FAIL'} {html}: {got} of {want} figures rendered "
              f"(expected from {source})")
        if not ok:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
