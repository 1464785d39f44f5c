"""Headless execution (papermill, the main job's path) of cells that draw into an
``ipywidgets.Output``: they must finish, not wait forever for an ``execute_reply``.

Before the fix, ``LivePlot(output=...)`` and ``control_panel`` drew with ``with output:``;
nbclient then sent the widget's whole output list back to the kernel on the shell
socket for every captured message, and a large one (a figure, plotly.js) hid the
``execute_reply``'s wake-up from pyzmq's asyncio poller: papermill (no cell timeout)
hung with an idle kernel (see ``workbench/ui.py``). This notebook hung in 3 of 3 runs
with that code; it uses only the API that existed then, plus ``set_output``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
LIMIT_S = 60  # a normal run takes 5-15 s; the hang was unbounded

CELLS = [
    "import ipywidgets as widgets\nfrom IPython.display import HTML, display\nfrom workbench import ui\n"
    "print(ui.setup_notebook())",
    # a 4 MB output drawn into an Output by a LivePlot, as the last thing the cell does
    "big = HTML('<p>' + 'x' * 4_000_000 + '</p>')\nout = widgets.Output()\ndisplay(out)\n"
    "live = ui.LivePlot(lambda: big, every_s=0.0, output=out)\nlive.update()\nlive.close()",
    # a Run button pressed from a cell: the callback prints and displays into the panel
    "def on_run(n):\n    print('running', n)\n    display(big)\n    return n * 2\n"
    "box, panel_out = ui.control_panel({'n': widgets.IntSlider(value=3)}, on_run)\n"
    "display(box)\nbox.button.click()",
    "import plotly.graph_objects as go\nui.set_output(out, go.Figure(go.Scatter(y=list(range(500)))))",
    "kinds = [o['output_type'] for o in panel_out.outputs]\n"
    "print('RESULT', box.last_result, box.last_error, kinds, sorted(out.outputs[0]['data']))",
]


@pytest.mark.notebook
def test_output_widget_cells_finish_under_papermill(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    src, dst = tmp_path / "output_widget.ipynb", tmp_path / "out.ipynb"
    nbformat.write(nb, src)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    t0 = time.monotonic()
    try:
        proc = subprocess.run([sys.executable, "-m", "papermill", "-k", "python3", str(src), str(dst)],
                              capture_output=True, text=True, timeout=LIMIT_S, env=env, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail(f"papermill did not finish in {LIMIT_S} s: a cell drawing into an Output hung")
    elapsed = time.monotonic() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = nbformat.read(dst, as_version=4).cells[-1].outputs[0]["text"]
    # the panel shows the printed line, the displayed HTML and the returned value
    assert "RESULT 6 None ['stream', 'display_data', 'display_data']" in result
    assert "application/vnd.plotly.v1+json" in result  # the figure replaced the HTML
    assert elapsed < LIMIT_S
