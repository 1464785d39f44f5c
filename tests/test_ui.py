"""Tests for workbench.ui: renderer setup, LivePlot throttling/drawing, control panels."""

from __future__ import annotations

import sys
import time
import types

import ipywidgets as widgets
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest

from workbench import ui


@pytest.fixture
def renderer():
    saved = pio.renderers.default
    yield
    pio.renderers.default = saved


def test_setup_notebook_sets_renderer_outside_colab(renderer, monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    pio.renderers.default = "json"
    assert not ui.in_colab()
    assert ui.setup_notebook() == "plotly_mimetype+notebook"
    assert pio.renderers.default == "plotly_mimetype+notebook"


def test_setup_notebook_keeps_colab_renderer(renderer, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    pio.renderers.default = "colab"
    assert ui.in_colab()
    assert ui.setup_notebook() == "colab"


class FakeClock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_liveplot_throttles_with_monotonic(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(time, "monotonic", clock)
    calls = []
    live = ui.LivePlot(lambda: calls.append(1), every_s=1.0)
    assert not ui.in_kernel()
    assert live.update() is True  # first call always draws
    clock.t += 0.4
    assert live.update() is False
    clock.t += 0.4
    assert live.update() is False
    clock.t += 0.3  # 1.1 s since the last draw
    assert live.update() is True
    assert live.update(force=True) is True
    live.close()
    assert (live.draws, live.skipped) == (4, 2)
    assert calls == []  # outside a kernel make_figure is not called


@pytest.fixture
def fake_kernel(monkeypatch):
    """Pretend to run in a kernel; record clear_output/display calls."""
    log: list = []
    monkeypatch.setattr(ui, "in_kernel", lambda: True)
    monkeypatch.setattr(ui, "_clear_output", lambda wait=True: log.append(("clear", wait)))
    monkeypatch.setattr(ui, "_display", lambda obj: log.append(("display", obj)))
    return log


def test_liveplot_draws_clear_then_display(fake_kernel):
    clock = FakeClock()
    figs = iter(range(100))
    live = ui.LivePlot(lambda: next(figs), every_s=2.0, clock=clock)
    for _ in range(5):
        live.update()
        clock.t += 1.0
    live.close()
    # draws at t=0, 2, 4, then close
    assert fake_kernel == [("clear", True), ("display", 0), ("clear", True), ("display", 1),
                           ("clear", True), ("display", 2), ("clear", True), ("display", 3)]
    assert live.figure == 3


def test_liveplot_into_output_widget(fake_kernel):
    """Into an Output, each draw replaces the widget's outputs state (ui.set_output):
    no clear_output / `with output:` messages, and nothing drawn in the cell."""
    out = widgets.Output()
    figs = iter(["fig 0", "fig 1"])
    live = ui.LivePlot(lambda: next(figs), every_s=0.0, output=out)
    live.update()
    assert [o["text"] for o in out.outputs] == ["fig 0\n"]
    live.update()
    assert [o["text"] for o in out.outputs] == ["fig 1\n"]  # replaced, not appended
    assert fake_kernel == []  # no cell-level clear or display


def test_set_output_and_append_output_replace_and_add():
    out = widgets.Output()
    ui.set_output(out, "first", "second")
    assert out.outputs == ({"output_type": "stream", "name": "stdout", "text": "first\nsecond\n"},)
    ui.append_output(out, "third")
    assert [o["text"] for o in out.outputs] == ["first\nsecond\n", "third\n"]  # added below
    ui.set_output(out)
    assert out.outputs == ()
    with pytest.raises(ValueError, match="ipywidgets.Output"):
        ui.set_output(object(), "x")


def test_capture_into_collects_print_live(capsys):
    out = widgets.Output()
    ui.set_output(out, "old")
    with ui.capture_into(out) as target:
        assert target is out
        print("step 1")
        assert out.outputs[-1]["text"] == "old\nstep 1\n"  # live: shown before the block ends
        print("step 2", file=sys.stderr)
        print("partial", end="")
        print("\x1b[2K\r", end="")  # what IPython's clear_output prints: dropped
    assert out.outputs == ({"output_type": "stream", "name": "stdout", "text": "old\nstep 1\n"},
                           {"output_type": "stream", "name": "stderr", "text": "step 2\n"},
                           {"output_type": "stream", "name": "stdout", "text": "partial"})
    assert capsys.readouterr().out == ""  # nothing leaked to the real stdout
    assert sys.stdout is not None and not isinstance(sys.stdout, ui._CaptureStream)
    with pytest.raises(RuntimeError), ui.capture_into(out, clear=True):  # not swallowed
        print("before")
        raise RuntimeError("boom")
    assert out.outputs == ({"output_type": "stream", "name": "stdout", "text": "before\n"},)
    assert not isinstance(sys.stdout, ui._CaptureStream)  # restored after the exception


def test_capture_publisher_handles_display_update_and_clear():
    out = widgets.Output()
    capture = ui._OutputCapture(out, live=True)
    pub = ui._capture_publisher(capture)
    pub.publish({"text/plain": "a"}, {}, transient={"display_id": "d1"})
    pub.publish({"text/plain": "b"}, {})
    pub.publish({"text/plain": "a2"}, {}, transient={"display_id": "d1"}, update=True)
    assert [o["data"]["text/plain"] for o in out.outputs] == ["a2", "b"]
    pub.clear_output(wait=True)  # clear_output(wait=True): cleared when the next output comes
    assert len(out.outputs) == 2
    pub.publish({"text/plain": "c"}, {})
    assert [o["data"]["text/plain"] for o in out.outputs] == ["c"]
    pub.clear_output(wait=False)
    assert out.outputs == ()


def test_liveplot_callback_and_for_history(fake_kernel):
    live = ui.LivePlot.for_history(every_s=0.0, x="examples_seen", y="val_accuracy")
    on_eval = live.callback()
    rows = []
    with live:
        for k in range(3):
            rows.append({"dataset": "d", "variant": "baseline", "seed": 0,
                         "examples_seen": 100 * k, "val_accuracy": 0.5 + 0.1 * k})
            on_eval(list(rows))
    assert live.draws == 4  # three evaluations + final draw on exit
    fig = live.figure
    assert isinstance(fig, go.Figure)
    assert list(fig.data[0].y) == pytest.approx([0.5, 0.6, 0.7])
    assert fig.layout.xaxis.title.text == "examples seen"
    # a DataFrame works too, and no rows yet gives a placeholder figure
    live.rows = pd.DataFrame(rows)
    live.update(force=True)
    assert len(live.figure.data) == 1
    empty = ui.LivePlot.for_history(every_s=0.0)
    empty.update()
    assert empty.figure.layout.annotations[0].text == "no data yet"


class FakeExperiment:
    """Like workbench.experiment.Experiment: on_eval(self); history via history_frame()."""

    def __init__(self, live_callback):
        self.on_eval = live_callback
        self.rows: list = []
        self.frames_built = 0

    def history_frame(self) -> pd.DataFrame:
        self.frames_built += 1
        return pd.DataFrame(self.rows)

    def run(self, n: int) -> None:
        for k in range(n):
            self.rows.append({"dataset": "d", "variant": "v", "seed": 0, "wall_time": k,
                              "val_accuracy": 0.1 * k})
            self.on_eval(self)


def test_liveplot_callback_with_experiment_object(fake_kernel):
    clock = FakeClock()
    live = ui.LivePlot.for_history(every_s=10.0)
    live._clock = clock
    exp = FakeExperiment(live.callback())
    exp.run(5)  # only the first evaluation draws (throttled)
    assert live.rows is exp and live.draws == 1 and live.skipped == 4
    assert exp.frames_built == 1  # the frame is built only when drawing
    live.close()
    assert exp.frames_built == 2
    assert list(live.figure.data[0].y) == pytest.approx([0, 0.1, 0.2, 0.3, 0.4])


def test_liveplot_rejects_negative_interval():
    with pytest.raises(ValueError):
        ui.LivePlot(lambda: None, every_s=-1)


def test_widget_helpers():
    lr = ui.lr_slider(3e-4)
    assert isinstance(lr, widgets.FloatLogSlider)
    assert (lr.min, lr.max, lr.base) == (-5, 0, 10)
    assert lr.value == pytest.approx(3e-4)
    bs = ui.batch_size_slider(32)
    assert isinstance(bs, widgets.IntSlider) and bs.value == 32
    assert ui.epochs_slider(3).value == 3
    dd = ui.dropdown(["adam", "sgd"], description="optimizer")
    assert dd.value == "adam" and dd.description == "optimizer"
    assert ui.dropdown({"Adam": "adam", "SGD": "sgd"}, value="sgd").value == "sgd"
    with pytest.raises(ValueError):
        ui.dropdown([])


def test_control_panel_calls_on_run_with_values(monkeypatch):
    shown = []
    monkeypatch.setattr(ui, "_display", shown.append)
    calls = []

    def on_run(lr, epochs, optimizer):
        calls.append((lr, epochs, optimizer))
        return f"trained {epochs}"

    controls = {"lr": ui.lr_slider(1e-2), "epochs": ui.epochs_slider(4),
                "optimizer": ui.dropdown(["adam", "sgd"])}
    box, out = ui.control_panel(controls, on_run, run_label="Go")
    assert isinstance(box, widgets.VBox) and isinstance(out, widgets.Output)
    assert box.button.description == "Go"
    assert out in box.children
    controls["epochs"].value = 7
    controls["optimizer"].value = "sgd"
    box.button.click()
    assert calls == [(pytest.approx(1e-2), 7, "sgd")]
    assert box.last_result == "trained 7" and shown == ["trained 7"]
    assert "done" in box.status.value
    assert not box.button.disabled


def test_control_panel_shows_exceptions(capsys):
    def on_run(epochs):
        print(f"training {epochs} epochs")
        raise RuntimeError("diverged at step 3")

    own = widgets.Output()
    ui.set_output(own, "from an earlier run")
    box, out = ui.control_panel({"epochs": ui.epochs_slider(2)}, on_run, output=own)
    assert out is own
    box.button.click()  # must not raise
    assert isinstance(box.last_error, RuntimeError)
    assert "RuntimeError: diverged at step 3" in box.status.value
    assert "error" in box.status.value
    text = "".join(o.get("text", "") for o in out.outputs)
    assert text.startswith("training 2 epochs\n")  # the earlier run's output was cleared
    assert "Traceback" in text and "diverged at step 3" in text  # printed inside the Output
    assert capsys.readouterr().out == ""
    assert not box.button.disabled
    with pytest.raises(ValueError, match="has no .value"):
        ui.control_panel({"bad": object()}, on_run)


def test_control_panel_feedback_on_every_control_and_button_states():
    seen_states = []
    box = None

    def on_run(lr, epochs, optimizer):
        seen_states.append((box.state, box.button.description, box.button.button_style, box.button.disabled))
        if epochs == 9:
            raise ValueError("epochs 9 is unlucky")
        return None

    controls = {"lr": ui.lr_slider(1e-2), "epochs": ui.epochs_slider(4), "optimizer": ui.dropdown(["adam", "sgd"])}
    box, _ = ui.control_panel(controls, on_run, run_label="Go")
    assert box.state == "ready" and "epochs 4" in box.preview.value and "learning rate 0.0100" in box.preview.value
    for name, value in (("lr", 1e-3), ("epochs", 5), ("optimizer", "sgd")):
        before = box.preview.value
        controls[name].value = value  # a user's move: feedback at once, before any run
        assert box.preview.value != before, name
        assert box.state == "changed" and "press Go" in box.status.value
    box.button.click()
    assert seen_states == [("running", "Running…", "warning", True)]
    assert box.state == "done" and box.button.button_style == "success" and box.button.description == "Go"
    controls["epochs"].value = 9
    assert box.state == "changed" and box.button.button_style == "primary"
    box.button.click()
    assert box.state == "error" and box.button.button_style == "danger" and "unlucky" in box.status.value
    assert not box.button.disabled


def test_control_panel_preview_and_enabled_follow_the_choice():
    controls = {"kind": ui.dropdown(["step", "cosine"]), "gamma": widgets.FloatSlider(value=0.1, min=0.05, max=0.9),
                "steps": widgets.IntSlider(value=10, min=1, max=100)}
    box, _ = ui.control_panel(
        controls, lambda **kw: None,
        preview=lambda kind, gamma, steps: f"{kind}: {steps} steps" if steps < 50 else 1 / 0,
        enabled=lambda kind, **_: {"kind", "steps"} | ({"gamma"} if kind == "step" else set()))
    assert box.preview.value == "step: 10 steps" and not controls["gamma"].disabled
    controls["kind"].value = "cosine"
    assert controls["gamma"].disabled and not controls["steps"].disabled
    assert box.preview.value == "cosine: 10 steps"
    controls["steps"].value = 60  # the preview's error is shown, not raised
    assert "ZeroDivisionError" in box.preview.value
    ui.set_enabled(controls, ["gamma"])
    assert not controls["gamma"].disabled and controls["kind"].disabled


def test_liveplot_caption_shows_the_runners_progress(fake_kernel):
    class Runner:  # what Experiment hands its on_eval callback: history and progress
        def history_frame(self):
            return pd.DataFrame()

        def progress_text(self):
            return "run 2 of 6: digits / one_cycle / seed 0"

    live = ui.LivePlot(lambda: "fig", every_s=0.0)
    live.callback()(Runner())
    assert fake_kernel[:2] == [("clear", True), ("display", "fig")]
    assert "run 2 of 6: digits / one_cycle / seed 0" in fake_kernel[2][1].data
    assert ui.LivePlot(lambda: "f", caption=lambda: "custom").caption_text() == "custom"


def test_status_line_rewrites_in_place(monkeypatch, capsys):
    line = ui.StatusLine("LR range test on digits (1 of 2)…")
    line.update("LR range test done: 2 data sets in 3.1 s")
    assert line.history == ["LR range test on digits (1 of 2)…", "LR range test done: 2 data sets in 3.1 s"]
    assert capsys.readouterr().out.splitlines() == line.history  # outside a kernel: printed
    shown = []

    class Handle:
        def update(self, obj):
            shown.append(("update", obj.data))

    import IPython.display

    monkeypatch.setattr(ui, "in_kernel", lambda: True)
    monkeypatch.setattr(IPython.display, "display", lambda obj, display_id=None: shown.append(("display", obj.data))
                        or Handle())
    line = ui.StatusLine("a < b")
    line.update("done")
    assert shown == [("display", "<code>a &lt; b</code>"), ("update", "<code>done</code>")]


def test_experiment_progress_text_names_the_run():
    from tests.tiny import TinyNet, tiny_data
    from workbench.config import TrainingConfig
    from workbench.data.datasets import DataSplits
    from workbench.experiment import Experiment, Target, Variant

    data, task = tiny_data(n=64, seed=0)
    splits = DataSplits("tiny", data.subset(list(range(32))), data.subset(list(range(32, 48))),
                        data.subset(list(range(48, 64))), task)
    seen = []
    exp = Experiment(splits, lambda t: TinyNet(), TrainingConfig(epochs=1, batch_size=16, progress_bar=False),
                     [Variant("base"), Variant("b", config={"lr": 0.01})], seeds=[0], target=Target(value=0.99),
                     on_eval=lambda e: seen.append(e.progress_text()), progress=False, evaluate_test=False)
    assert exp.progress_text() == "not started"
    exp.run()
    assert seen[0].startswith("run 1 of 2: tiny / base / seed 0 (") and "s so far)" in seen[0]
    assert seen[-1].startswith("run 2 of 2: tiny / b / seed 0")
    assert exp.progress_text().startswith("done: 2 runs")
