"""Run notebooks headless and export them to self-contained HTML.

- :func:`run_notebook` executes a notebook with papermill (parameters injected after the
  cell tagged ``parameters``).
- :func:`export_html` converts the executed notebook with nbconvert's ``lab`` template
  and puts plotly.js once, inline, in the page's ``<head>``, so every plotly figure
  (drawn with the ``plotly_mimetype+notebook`` renderer, see
  :func:`workbench.ui.setup_notebook`) renders offline -- even when the notebook's own
  copy of plotly.js was removed by ``clear_output`` in a live-plot cell.
- :func:`count_rendered_plots` opens an HTML file in headless Chromium and counts the
  plots that actually rendered; :func:`count_notebook_figures` counts the figures an
  executed notebook holds. ``scripts/check_html.py`` compares the two.
- :func:`new_run_dir` makes ``runs/<YYYYmmdd-HHMMSS>/`` for a run's artifacts.
- :func:`format_number` and its relatives (:func:`format_seconds`, :func:`format_ratio`,
  :func:`format_percent`, :func:`format_count`, :func:`format_mean_std`) write numbers
  for people -- three significant figures, thousands separators, units -- and are what
  tables, titles and generated prose use everywhere in workbench.
- :func:`wrapped_table` renders a table whose long text columns (notes, sources) wrap
  inside a fixed width instead of widening the table past the page (in JupyterLab, Colab
  and the exported HTML alike).
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "PLOTLYJS_MARKER",
    "ChromiumNotFoundError",
    "count_notebook_figures",
    "count_rendered_plots",
    "export_html",
    "find_chromium",
    "format_count",
    "format_mean_std",
    "format_number",
    "format_percent",
    "format_ratio",
    "format_seconds",
    "new_run_dir",
    "run_notebook",
    "wrapped_table",
]

#: Attribute put on the ``<script>`` that :func:`export_html` inserts, to find it again.
PLOTLYJS_MARKER = 'data-workbench="plotly.js"'

_PLOTLY_MIME = "application/vnd.plotly.v1+json"
_NEWPLOT = "Plotly.newPlot("
_CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def _bad(x: Any) -> bool:
    try:
        return x is None or not math.isfinite(float(x))
    except (TypeError, ValueError):
        return True


def format_number(x: Any, sig: int = 3, unit: str = "", nan: str = "—") -> str:
    """A number for people: ``sig`` significant figures, thousands separators, a unit.

    Integers (``int``, integral numpy values) are written exactly (``10673`` ->
    ``"10,673"``); other values are rounded to ``sig`` significant figures, written
    without an exponent from 1e-3 to 1e15 (``1234.5`` -> ``"1,230"``, ``0.00158489`` ->
    ``"0.00158"``) and with one outside (``3.16979e-05`` -> ``"3.17e-5"``). ``unit`` is
    appended after a space (``"s"`` -> ``"26.7 s"``), except ``"%"`` and ``"x"``, which
    follow the number directly. NaN, infinity and None give ``nan``.

    Raises ``ValueError`` if ``sig`` is below 1.
    """
    if sig < 1:
        raise ValueError(f"format_number: sig must be >= 1; got {sig}")
    if _bad(x):
        return nan
    sep = "" if unit in ("", "%", "x") else " "
    if isinstance(x, (bool, np.bool_)):
        x = int(x)
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}{sep}{unit}"
    v = float(x)
    if v == 0:
        return f"0{sep}{unit}"
    a = abs(v)
    if 1e-3 <= a < 1e15:
        digits = sig - 1 - math.floor(math.log10(a))
        r = round(v, digits)
        if r != 0 and math.floor(math.log10(abs(r))) > math.floor(math.log10(a)):
            digits -= 1  # 9.996 -> 10.0 gains a digit
            r = round(v, digits)
        text = f"{r:,.{max(digits, 0)}f}"
    else:
        mantissa, exp = f"{v:.{sig - 1}e}".split("e")
        text = f"{mantissa}e{int(exp)}"
    return f"{text}{sep}{unit}"


def format_seconds(s: Any, sig: int = 3, nan: str = "—") -> str:
    """Seconds for people: ``"26.7 s"``, ``"0.123 s"``, ``"1,230 s"`` (NaN -> ``nan``)."""
    return format_number(s, sig, "s", nan)


def format_ratio(r: Any, nan: str = "—") -> str:
    """A ratio with two decimals and an ``x``: ``1.3813`` -> ``"1.38x"`` (NaN -> ``nan``)."""
    return nan if _bad(r) else f"{float(r):,.2f}x"


def format_percent(p: Any, sig: int = 3, nan: str = "—") -> str:
    """A fraction as a percentage with ``sig`` significant figures: ``0.9433`` -> ``"94.3%"``."""
    return nan if _bad(p) else format_number(float(p) * 100.0, sig, "%", nan)


def format_count(n: Any, unit: str = "", nan: str = "—") -> str:
    """A count, exact, with thousands separators: ``1437.0`` -> ``"1,437"``."""
    return nan if _bad(n) else format_number(int(round(float(n))), unit=unit, nan=nan)


def format_mean_std(mean: Any, std: Any, n: int | None = None, unit: str = "", sig: int = 3,
                    nan: str = "—") -> str:
    """``"26.7 ± 1.2 s (3 seeds)"``; with one value (``n`` < 2, or a NaN ``std``) no spread is
    printed (``"26.7 s (one seed)"``): a spread of one value would read as a measurement."""
    if _bad(mean):
        return nan
    seeds = "" if n is None else " (one seed)" if n == 1 else f" ({n} seeds)"
    if (n is not None and n < 2) or _bad(std):
        return format_number(mean, sig, unit, nan) + seeds
    return f"{format_number(mean, sig, nan=nan)} ± {format_number(std, 2, unit, nan)}{seeds}"


def wrapped_table(df: Any, wrap: tuple[str, ...] | list[str] = ("notes", "source"), width_em: float = 22,
                  hide_index: bool = True) -> Any:
    """A ``pandas`` Styler of ``df`` whose columns named in ``wrap`` wrap their text within
    ``width_em`` em (other columns keep one line where they fit), cells aligned to the top,
    text columns to the left.

    Use it to display tables with long free-text columns: pandas' plain HTML makes such a
    table wider than the notebook or the exported page, and the last columns are cut off
    or need a horizontal scroll. The values are shown unchanged (no rounding or escaping
    beyond pandas' own).

    Args:
        df: a ``pandas.DataFrame`` of any shape ``[rows, columns]``.
        wrap: names of the columns to wrap; names ``df`` lacks are ignored.
        width_em: the wrapped columns' maximum width, in em (their minimum is half of it).
        hide_index: leave out the row index.

    Raises:
        ValueError: ``width_em`` not positive.
    """
    from pandas.api.types import is_numeric_dtype

    if not width_em > 0:
        raise ValueError(f"width_em must be > 0 (em), got {width_em!r}")
    cols = [c for c in wrap if c in df.columns]
    text = [c for c in df.columns if not is_numeric_dtype(df[c])]
    styler = df.style
    if hide_index:
        styler = styler.hide(axis="index")
    styler = styler.set_table_styles([{"selector": "td", "props": [("vertical-align", "top")]}])
    if text:  # words read from the left (JupyterLab right-aligns every cell)
        styler = styler.set_properties(subset=text, **{"text-align": "left"})
    if cols:
        props = {"white-space": "normal", "min-width": f"{width_em / 2:g}em", "max-width": f"{width_em:g}em",
                 "text-align": "left"}
        styler = styler.set_properties(subset=cols, **props)
    return styler


class ChromiumNotFoundError(FileNotFoundError):
    """No Chromium/Chrome executable was found to render an HTML file."""


def run_notebook(
    input_path: str | os.PathLike[str],
    output_path: str | os.PathLike[str],
    parameters: Mapping[str, Any] | None = None,
    kernel_name: str = "python3",
    cwd: str | os.PathLike[str] | None = None,
    progress: bool = True,
    timeout_s: float | None = None,
) -> Path:
    """Execute a notebook with papermill and write the executed copy.

    Args:
        input_path: the notebook to run.
        output_path: where the executed notebook goes (parent folders are created).
        parameters: values injected after the cell tagged ``parameters``.
        kernel_name: Jupyter kernel to start.
        cwd: working folder of the kernel (default: the input notebook's folder).
        progress: show papermill's progress bar.
        timeout_s: per-cell timeout in seconds (None: no limit).

    Returns the output path. Raises ``FileNotFoundError`` if ``input_path`` does not
    exist and papermill's ``PapermillExecutionError`` when a cell fails (the executed
    notebook, with the error, is still written).
    """
    import papermill

    input_path = Path(input_path)
    output_path = Path(output_path)
    if not input_path.is_file():
        raise FileNotFoundError(f"notebook not found: {input_path}")
    output_path.parent.mkdir(parents=True, exist_ok=True)
    papermill.execute_notebook(
        str(input_path),
        str(output_path),
        parameters=dict(parameters or {}),
        kernel_name=kernel_name,
        cwd=str(cwd if cwd is not None else input_path.parent),
        progress_bar=progress,
        log_output=False,
        execution_timeout=timeout_s,
    )
    return output_path


def _is_plotlyjs_bundle(html: str) -> bool:
    """True for the output plotly's notebook renderer emits to load plotly.js."""
    return len(html) > 500_000 and "window.PlotlyConfig" in html and _NEWPLOT not in html


def _output_html(output: Mapping[str, Any]) -> str:
    data = output.get("data") or {}
    html = data.get("text/html", "")
    return "".join(html) if isinstance(html, list) else str(html)


def count_notebook_figures(notebook: Any) -> int:
    """Number of plotly figures an executed notebook will show in its HTML export.

    ``notebook`` is a path or an ``nbformat`` node. Counts outputs whose ``text/html``
    part calls ``Plotly.newPlot`` (what the ``plotly_mimetype+notebook`` renderer
    writes); outputs with only the plotly mime part (no HTML) are not counted because
    nbconvert cannot render them.
    """
    import nbformat

    nb = notebook if not isinstance(notebook, (str, os.PathLike)) else nbformat.read(
        str(notebook), as_version=4)
    n = 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            n += _output_html(output).count(_NEWPLOT)
    return n


def _plotlyjs_script() -> str:
    from plotly.offline import get_plotlyjs

    # Hide an AMD loader (require.js) while plotly.js runs so it sets window.Plotly.
    return (
        f"<script {PLOTLYJS_MARKER} type=\"text/javascript\">"
        "window.PlotlyConfig = {MathJaxConfig: 'local'};"
        "var __wbDefine = window.define; window.define = undefined;\n"
        f"{get_plotlyjs()}\n"
        ";window.define = __wbDefine;</script>\n"
    )


def _insert_in_head(page: str, script: str) -> str:
    """Insert ``script`` early in ``<head>``: after ``<meta charset>`` if any."""
    head = re.search(r"<head[^>]*>", page, flags=re.IGNORECASE)
    if head is None:
        raise ValueError("exported HTML has no <head> element")
    meta = re.compile(r"<meta\s+charset=[^>]*>", flags=re.IGNORECASE).search(page, head.end())
    close = page.lower().find("</head>", head.end())
    pos = meta.end() if meta is not None and (close < 0 or meta.start() < close) else head.end()
    return page[:pos] + "\n" + script + page[pos:]


def export_html(
    executed_ipynb: str | os.PathLike[str],
    html_path: str | os.PathLike[str],
    strip_embedded_plotlyjs: bool = True,
) -> Path:
    """Convert an executed notebook to one self-contained HTML file.

    Uses nbconvert's ``HTMLExporter`` with the ``lab`` template, then inserts plotly.js
    once as an inline ``<script>`` in ``<head>`` so every figure's ``Plotly.newPlot``
    works offline. With ``strip_embedded_plotlyjs`` the copies of plotly.js that
    plotly's notebook renderer put into cell outputs are dropped from the page (they are
    redundant, ~4 MB each); the ``.ipynb`` itself is not changed.

    Returns ``html_path`` (parent folders are created). Raises ``FileNotFoundError`` if
    the notebook does not exist.
    """
    import nbformat
    from nbconvert import HTMLExporter

    executed_ipynb = Path(executed_ipynb)
    html_path = Path(html_path)
    if not executed_ipynb.is_file():
        raise FileNotFoundError(f"notebook not found: {executed_ipynb}")
    nb = nbformat.read(str(executed_ipynb), as_version=4)
    if strip_embedded_plotlyjs:
        for cell in nb.cells:
            if "outputs" in cell:
                cell.outputs = [o for o in cell.outputs
                                if not _is_plotlyjs_bundle(_output_html(o))]
    exporter = HTMLExporter(template_name="lab")
    body, _resources = exporter.from_notebook_node(nb)
    if PLOTLYJS_MARKER not in body:
        body = _insert_in_head(body, _plotlyjs_script())
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(body, encoding="utf-8")
    return html_path


def find_chromium(chromium: str = "chromium") -> str | None:
    """Path of a Chromium/Chrome executable: ``chromium`` if found, else common names."""
    for name in (chromium, *_CHROMIUM_NAMES):
        path = shutil.which(name)
        if path:
            return path
    return None


_RENDERED = re.compile(r"<div\b[^>]*\bclass=\"[^\"]*\bplot-container\b[^\"]*\"")


def count_rendered_plots(
    html_path: str | os.PathLike[str],
    chromium: str = "chromium",
    virtual_time_ms: int = 10_000,
    timeout_s: float = 120.0,
) -> int:
    """Open an HTML file in headless Chromium and count the plotly plots that rendered.

    Chromium runs the page's scripts (``--dump-dom`` after ``virtual_time_ms`` of
    virtual time, network off) and the resulting DOM is searched for plotly's
    ``plot-container`` elements, one per drawn figure. Compare with
    :func:`count_notebook_figures` of the executed notebook.

    Raises :class:`ChromiumNotFoundError` if no Chromium is installed (install it with
    ``apt-get install chromium``), ``FileNotFoundError`` if the HTML file does not exist
    and ``RuntimeError`` if Chromium fails.
    """
    html_path = Path(html_path).resolve()
    if not html_path.is_file():
        raise FileNotFoundError(f"HTML file not found: {html_path}")
    exe = find_chromium(chromium)
    if exe is None:
        raise ChromiumNotFoundError(
            f"Chromium not found (tried {chromium!r} and {', '.join(_CHROMIUM_NAMES)}); "
            "install it, e.g. `apt-get install -y chromium`"
        )
    with tempfile.TemporaryDirectory(prefix="wb-chromium-") as profile:
        cmd = [
            exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
            "--run-all-compositor-stages-before-draw",
            f"--virtual-time-budget={int(virtual_time_ms)}",
            "--dump-dom", html_path.as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s,
                                  check=False)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"Chromium timed out after {timeout_s} s on {html_path}") from exc
    if proc.returncode != 0 or "<html" not in proc.stdout.lower():
        raise RuntimeError(
            f"Chromium failed on {html_path} (exit {proc.returncode}): {proc.stderr[-2000:]}"
        )
    return len(_RENDERED.findall(proc.stdout))


def new_run_dir(root: str | os.PathLike[str] = "runs") -> Path:
    """Create and return a fresh ``<root>/<YYYYmmdd-HHMMSS>/`` folder.

    Unique even when called several times in one second: later calls get ``-1``,
    ``-2``, ... appended.
    """
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    for i in range(10_000):
        path = root / (stamp if i == 0 else f"{stamp}-{i}")
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return path
    raise RuntimeError(f"could not create a unique run folder under {root}")
