"""Tests for workbench.report: run a notebook, export HTML with plotly.js, render check."""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import nbformat
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from plotly.offline import get_plotlyjs

from workbench import report

REPO = Path(__file__).resolve().parents[1]
PLOTLYJS_HEAD = get_plotlyjs()[:200]  # the bundle's license banner + first code


def split_page(page: str) -> tuple[str, str]:
    end = page.index("</head>")
    return page[:end], page[end:]


# ----------------------------------------------------------------- no kernel needed


def test_new_run_dir_unique(tmp_path):
    a = report.new_run_dir(tmp_path / "runs")
    b = report.new_run_dir(tmp_path / "runs")
    c = report.new_run_dir(tmp_path / "runs")
    assert len({a, b, c}) == 3
    assert all(p.is_dir() and p.parent == tmp_path / "runs" for p in (a, b, c))
    assert re.fullmatch(r"\d{8}-\d{6}", a.name)
    assert re.fullmatch(r"\d{8}-\d{6}(-\d+)?", c.name)


def _figure_output(fig: go.Figure) -> nbformat.NotebookNode:
    bundle = pio.renderers["notebook"].to_mimebundle(fig.to_dict())
    bundle.update(pio.renderers["plotly_mimetype"].to_mimebundle(fig.to_dict()))
    return nbformat.v4.new_output("display_data", data=bundle)


def test_export_html_inserts_plotlyjs_once_and_strips_copies(tmp_path):
    # What the notebook renderer leaves in a notebook: its plotly.js loader output
    # (as on first display) and one text/html + plotly-json output per figure.
    loader = (f"<script>window.PlotlyConfig = {{MathJaxConfig: 'local'}};</script>"
              f"<script>{get_plotlyjs()}</script>")
    nb = nbformat.v4.new_notebook()
    cell1 = nbformat.v4.new_code_cell("fig1")
    cell1.outputs = [nbformat.v4.new_output("display_data", data={"text/html": loader}),
                     _figure_output(go.Figure(go.Bar(y=[1, 2])))]
    cell2 = nbformat.v4.new_code_cell("fig2")
    cell2.outputs = [_figure_output(go.Figure(go.Scatter(y=[3, 1, 2])))]
    nb.cells = [nbformat.v4.new_markdown_cell("# title"), cell1, cell2]
    ipynb = tmp_path / "nb.ipynb"
    nbformat.write(nb, ipynb)
    assert report.count_notebook_figures(ipynb) == 2

    html = report.export_html(ipynb, tmp_path / "out" / "nb.html")
    page = html.read_text(encoding="utf-8")
    head, body = split_page(page)
    assert head.count(PLOTLYJS_HEAD) == 1
    assert body.count(PLOTLYJS_HEAD) == 0  # the notebook's copy was dropped from the page
    assert page.count(report.PLOTLYJS_MARKER) == 1
    assert body.count("Plotly.newPlot(") == 2
    # before any other script of the template (require.js must not grab plotly.js)
    assert head.index(report.PLOTLYJS_MARKER) < head.index("<script src=")
    assert report.count_notebook_figures(ipynb) == 2  # the .ipynb is unchanged

    kept = report.export_html(ipynb, tmp_path / "kept.html", strip_embedded_plotlyjs=False)
    assert split_page(kept.read_text(encoding="utf-8"))[1].count(PLOTLYJS_HEAD) == 1


def test_missing_files_and_chromium(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError):
        report.export_html(tmp_path / "nope.ipynb", tmp_path / "x.html")
    with pytest.raises(FileNotFoundError):
        report.run_notebook(tmp_path / "nope.ipynb", tmp_path / "out.ipynb")
    page = tmp_path / "p.html"
    page.write_text("<html><head></head><body></body></html>")
    monkeypatch.setattr(report.shutil, "which", lambda name: None)
    with pytest.raises(report.ChromiumNotFoundError, match="apt-get install"):
        report.count_rendered_plots(page)


# ------------------------------------------------------------- executes a notebook

LIVE_CELL = """\
import plotly.graph_objects as go
from workbench.ui import LivePlot

points = []
live = LivePlot(lambda: go.Figure(go.Scatter(y=list(points), mode="lines+markers")),
                every_s=0.0)
for k in range(n_updates):
    points.append(k * k)
    live.update()
live.close()
"""

STATIC_CELL = """\
go.Figure(go.Bar(x=["a", "b", "c"], y=[3, 1, 2]))
"""


def build_notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("n_updates = 2")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [
        params,
        nbformat.v4.new_code_cell("import workbench.ui\nrenderer = workbench.ui.setup_notebook()"),
        # the live cell displays the first figure: its clear_output also removes the
        # plotly.js loader the renderer emitted -- the case export_html must handle
        nbformat.v4.new_code_cell(LIVE_CELL),
        nbformat.v4.new_markdown_cell("A static figure:"),
        nbformat.v4.new_code_cell(STATIC_CELL),
        nbformat.v4.new_code_cell("print(renderer, live.draws)"),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def load_check_html():
    spec = importlib.util.spec_from_file_location("check_html", REPO / "scripts" / "check_html.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.notebook
def test_run_export_and_render(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
    src = build_notebook(tmp_path / "live.ipynb")
    executed = report.run_notebook(src, tmp_path / "run" / "live.ipynb",
                                   parameters={"n_updates": 5}, progress=False)
    nb = nbformat.read(executed, as_version=4)
    live_outputs = nb.cells[3].outputs  # [params, injected, setup, live, md, static, print]
    assert len(live_outputs) == 1  # clear_output(wait=True) left only the last draw
    assert '"y":[0,1,4,9,16]' in live_outputs[0]["data"]["text/html"].replace(" ", "")
    assert "plotly_mimetype+notebook 6" in nb.cells[6].outputs[0]["text"]
    assert report.count_notebook_figures(executed) == 2

    html = report.export_html(executed, tmp_path / "run" / "live.html")
    head, body = split_page(html.read_text(encoding="utf-8"))
    assert head.count(PLOTLYJS_HEAD) == 1
    assert body.count(PLOTLYJS_HEAD) == 0
    assert body.count("Plotly.newPlot(") == 2

    if report.find_chromium() is None:
        pytest.skip("Chromium not installed (apt-get install -y chromium): "
                    "render check skipped")
    assert report.count_rendered_plots(html) == 2
    # negative control: the same page without the inserted plotly.js renders nothing,
    # and scripts/check_html.py says so with a non-zero exit code
    bare = tmp_path / "bare.html"
    bare.write_text(re.sub(r"<script data-workbench=\"plotly.js\".*?</script>", "",
                           html.read_text(encoding="utf-8"), count=1, flags=re.S))
    check_html = load_check_html()
    assert check_html.main([str(bare), "--notebook", str(executed)]) == 1


def test_wrapped_table_wraps_only_the_named_text_columns():
    import pandas as pd

    from workbench.report import wrapped_table

    df = pd.DataFrame({"claim": ["transfer 5x"], "notes": ["a long note " * 20], "source": ["docs/results/x.txt"]})
    html = wrapped_table(df, wrap=("notes", "missing column"), width_em=20).to_html()
    # the notes cell gets the wrapping properties, the claim cell does not
    css = html.split("</style>")[0]
    notes_rules = [r for r in css.split("}") if "white-space: normal" in r]
    assert notes_rules and all("max-width: 20em" in r for r in notes_rules)
    assert html.count("white-space: normal") == 1  # one rule, for the one notes cell
    assert "a long note" in html and "transfer 5x" in html
    assert "row_heading" not in html.split("</style>")[1]  # index hidden
    # text columns read from the left; numbers keep the notebook's right alignment
    df2 = pd.DataFrame({"claim": ["a"], "seeds": [3]})
    css2 = wrapped_table(df2).to_html().split("</style>")[0]
    left = [r for r in css2.split("}") if "text-align: left" in r]
    assert left and all("col0" in r and "col1" not in r for r in left)
    with pytest.raises(ValueError, match="width_em"):
        wrapped_table(df, width_em=0)
