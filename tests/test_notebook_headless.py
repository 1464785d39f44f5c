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


# ------------------------------------------------- every control, as a user would move it


def _other_value(widget):
    """A valid value different from the widget's current one (what a user's move sets)."""
    import ipywidgets as w

    if isinstance(widget, w.Checkbox):
        return not widget.value
    if isinstance(widget, w.Dropdown):
        values = [o[1] if isinstance(o, tuple) else o for o in widget.options]
        return next(v for v in values if v != widget.value)
    if isinstance(widget, w.FloatLogSlider):
        up = widget.value * widget.base ** widget.step
        return up if up <= widget.base ** widget.max else widget.value / widget.base ** widget.step
    if isinstance(widget, (w.IntSlider, w.FloatSlider)):
        up = widget.value + widget.step
        return up if up <= widget.max else widget.value - widget.step
    raise AssertionError(f"no move for {type(widget).__name__}")


@pytest.fixture
def drawing(monkeypatch):
    """Redraws run as in a kernel (outside one, display() prints: the output holds text)."""
    from workbench import ui

    monkeypatch.setattr(ui, "in_kernel", lambda: True)


def test_schedule_explorer_redraws_on_every_control(drawing):
    from workbench.techniques import optimization

    box = optimization.schedule_explorer("warmup_cosine", lr=1e-3, total_steps=200)
    assert box.figure is not None and box.output.outputs
    # the knobs warmup + cosine ignores are disabled, the ones it uses are live
    disabled = {n for n, c in box.controls.items() if c.disabled}
    assert disabled == {"gamma", "cycles", "t_mult", "pct_start", "power"}
    for name, control in box.controls.items():
        before = box.figure
        control.value = _other_value(control)  # runs the observers, as a user's drag does
        # redrawn: a new figure (or the error message) is in the Output, replacing the old
        assert box.figure is not before or box.error, f"moving {name} did not redraw"
        assert len(box.output.outputs) == 1, name
        shown = "".join(o.get("text", "") for o in box.output.outputs)
        assert (box.error and box.error in shown) or ("Figure" in shown and not box.error), name


def test_schedule_explorer_enabled_knobs_change_the_curve_and_disabled_ones_do_not(drawing):
    from workbench.techniques import optimization

    box = optimization.schedule_explorer("constant", lr=1e-3, total_steps=300)
    knobs = ("warmup_fraction", "min_lr_fraction", "gamma", "cycles", "t_mult", "pct_start", "power")
    for schedule in ("step", "cosine", "warmup_cosine", "polynomial", "sgdr", "one_cycle", "plateau", "constant"):
        box.controls["schedule"].value = schedule
        for name in knobs:
            control = box.controls[name]
            before = list(box.figure.data[0].y)
            control.value = _other_value(control)
            changed = list(box.figure.data[0].y) != before
            if control.disabled:
                assert not changed, f"{schedule}: {name} is disabled but changed the curve"
            else:
                assert name in optimization.knobs_used(schedule)
                assert changed or box.error, f"{schedule}: {name} is enabled but changed nothing"


def test_eda_preview_redraws_on_every_slider(drawing):
    from workbench.techniques.augment import eda_preview_panel

    box, out = eda_preview_panel(["the film is a quiet and moving portrait of a family"], seed=0)
    for name, slider in box.sliders.items():
        before = box.last_html
        slider.value = _other_value(slider)
        assert box.last_html and box.last_html != before, f"moving {name} changed nothing"
        assert len(out.outputs) == 1  # replaced, not appended


def test_run_button_trains_through_the_package_callback():
    """The quickstart panel's button, clicked as a user would, runs the package callback
    with the moved values and shows its output and result in the panel (ipywidgets 7.7 and 8.1)."""
    from functools import partial

    from workbench import recipes, ui

    out = __import__("ipywidgets").Output()
    controls = {"dataset": ui.dropdown(["digits", "subj"], "digits", "data set"), "lr": ui.lr_slider(3e-3),
                "batch_size": ui.batch_size_slider(64), "epochs": ui.epochs_slider(2)}
    panel, _ = ui.control_panel(controls, partial(recipes.baseline_panel_callback, smoke=True, output=out),
                                output=out)
    controls["epochs"].value = _other_value(controls["epochs"])  # 3
    controls["batch_size"].value = _other_value(controls["batch_size"])  # 72
    panel.button.click()
    assert panel.last_error is None, panel.last_error
    assert "done in" in panel.status.value and not panel.button.disabled
    table = panel.last_result
    assert len(table) == 1
    assert out.outputs  # the returned table is displayed in the panel


def test_pacing_knobs_used_are_the_ones_that_move_the_curve():
    """The curriculum notebook's pacing sliders: the ones a function ignores are disabled
    (cl.pacing_knobs_used), so each enabled slider must change the plotted curve."""
    from workbench.techniques import curriculum as cl

    base = {"start": 0.04, "increase_amount": 1.9, "step_length": 100, "total_steps": 1000}
    moved = {"start": 0.1, "increase_amount": 2.5, "step_length": 150}
    for name in sorted(cl.PACING_FUNCTIONS):
        ys = list(cl.plot_pacing(name, **base).data[-1].y)
        for knob, value in moved.items():
            changed = list(cl.plot_pacing(name, **(base | {knob: value})).data[-1].y) != ys
            assert changed == (knob in cl.pacing_knobs_used(name)), (name, knob)
