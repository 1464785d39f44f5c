"""Notebook helpers of the optimization family: plotly figures of learning-rate schedules
and of the LR range test, and the schedule explorer widget (callbacks on ipywidgets
controls that redraw the figure; see ``NOTEBOOK-PLOTS.md``). plotly and ipywidgets are
imported when a helper is called, so importing the family stays light.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.techniques.optimization.lr_finder import LRFinderResult
from workbench.techniques.optimization.schedules import (
    knobs_used,
    schedule_curve,
    schedule_settings,
)
from workbench.train.schedules import SCHEDULES

__all__ = ["lr_finder_figure", "schedule_explorer", "schedule_figure", "schedules_overview_figure"]


def schedule_figure(schedule: str = "warmup_cosine", lr: float = 1e-3, total_steps: int = 1000,
                    log_y: bool = False, **knobs: Any):
    """The learning rate of ``schedule`` at every optimizer step ``0..T`` (a plotly figure).

    The notebook's slider callback: ``knobs`` are those of
    :func:`~workbench.techniques.optimization.schedules.schedule_settings`. The curve is
    :func:`~workbench.techniques.optimization.schedules.schedule_curve`'s: from the real
    ``torch.optim.lr_scheduler`` object; ``plateau`` is shown with a metric that never
    improves (its fastest decay), ``dynamic`` with a loss that falls over the first 30% of
    the checks and then stays flat (one check per step: raises, then cuts).

    Raises:
        ValueError: as :func:`~workbench.techniques.optimization.schedules.schedule_settings` and
            :func:`~workbench.train.schedules.build_scheduler` (invalid combinations, for
            example one-cycle with ``pct_start * total_steps <= 1``).
    """
    from workbench import plots

    steps, lrs = schedule_curve(schedule, lr, total_steps, **knobs)
    warmup, kwargs = schedule_settings(schedule, lr, total_steps, **knobs)
    from workbench.report import format_number

    args = ", ".join([f"warmup {format_number(warmup)} steps"] * bool(warmup)
                     + [f"{k} {format_number(v)}" for k, v in kwargs.items()])
    # two short lines (the settings in smaller type) so the title fits the plot's width
    title = (f"{schedule}: lr {format_number(lr)}, T = {format_number(total_steps)} steps"
             + (f"<br><sup>{args}</sup>" if args else ""))
    return plots.plot_lr_schedule(steps, lrs, title=title, log_y=log_y)


def schedules_overview_figure(lr: float = 1e-3, total_steps: int = 1000,
                              schedules: Sequence[str] = ("constant", "step", "cosine", "warmup_cosine",
                                                          "polynomial", "sgdr", "one_cycle"),
                              **knobs: Any):
    """Every schedule in ``schedules`` on one plot, same base rate and run length.

    Raises:
        ValueError: as :func:`~workbench.techniques.optimization.schedules.schedule_settings`.
    """
    from workbench import plots

    curves = {s: schedule_curve(s, lr, total_steps, **knobs) for s in schedules}
    return plots.plot_lr_schedules(curves, title=f"learning-rate schedules (lr {lr:g}, T = {total_steps:,} steps)")


def schedule_explorer(schedule: str = "warmup_cosine", lr: float = 1e-3, total_steps: int = 1000,
                      output: Any = None):
    """Widgets that pick a schedule and its knobs, redrawing the LR curve at once.

    Every control is observed (``observe(..., names="value")``); the knobs the chosen
    schedule ignores (:func:`~workbench.techniques.optimization.schedules.knobs_used`) are
    disabled, so every enabled control changes the curve. A change calls
    :func:`schedule_figure` with the current values and draws the figure into an
    ``ipywidgets.Output`` (:func:`workbench.ui.set_output`). An invalid
    combination shows its ``ValueError`` message instead of a figure.

    Returns a ``VBox`` with ``.controls`` (name -> widget), ``.output``, ``.figure`` (the
    last figure built; outside a kernel it is built but not displayed), ``.error`` (the
    last message, or "") and ``.redraw()``.
    """
    import ipywidgets as w

    from workbench import ui

    style = {"description_width": "initial"}

    def slider(cls: Any, value: Any, lo: Any, hi: Any, step: Any, description: str, **kw: Any) -> Any:
        return cls(value=value, min=lo, max=hi, step=step, description=description,
                   continuous_update=False, style=style, layout=w.Layout(width="420px"), **kw)

    controls = {
        "schedule": ui.dropdown(list(SCHEDULES), schedule, "schedule"),
        "lr": ui.lr_slider(lr),
        "total_steps": slider(w.IntSlider, total_steps, 10, 5000, 10, "total steps"),
        "warmup_fraction": slider(w.FloatSlider, 0.05, 0.0, 0.5, 0.01, "warmup fraction"),
        "min_lr_fraction": slider(w.FloatSlider, 0.0, 0.0, 0.5, 0.01, "min lr / lr"),
        "gamma": slider(w.FloatSlider, 0.1, 0.05, 0.95, 0.05, "gamma (step, plateau)"),
        "cycles": slider(w.IntSlider, 4, 1, 10, 1, "cycles (sgdr)"),
        "t_mult": slider(w.IntSlider, 1, 1, 3, 1, "T_mult (sgdr)"),
        "pct_start": slider(w.FloatSlider, 0.3, 0.05, 0.9, 0.05, "pct_start (one-cycle)"),
        "power": slider(w.FloatSlider, 1.0, 0.25, 5.0, 0.25, "power (polynomial)"),
        "log_y": w.Checkbox(value=False, description="log scale"),
    }
    out = output if output is not None else w.Output()
    box = w.VBox([*controls.values(), out])
    box.controls, box.output, box.figure, box.error = controls, out, None, ""
    always = ("schedule", "lr", "total_steps", "log_y")

    def redraw(_change: Any = None) -> None:
        values = {k: c.value for k, c in controls.items()}
        # knobs the chosen schedule ignores are disabled (greyed out), not left looking live
        ui.set_enabled(controls, (*always, *knobs_used(values["schedule"])))
        try:
            fig = schedule_figure(**values)
            box.figure, box.error = fig, ""
        except ValueError as exc:
            fig, box.error = None, str(exc)
        if not ui.in_kernel():
            return
        ui.set_output(out, fig if fig is not None else f"invalid settings: {box.error}")

    for c in controls.values():
        c.observe(redraw, names="value")
    box.redraw = redraw
    redraw()
    return box



def lr_finder_figure(result: LRFinderResult, reference_lr: float | None = None, title: str | None = None):
    """The LR range test's loss against the rate (log x), raw and smoothed, with the
    suggestions of :func:`~workbench.techniques.optimization.lr_finder.suggestions` marked
    (a plotly figure, drawn by :func:`workbench.plots.plot_lr_finder`).

    Args:
        result: what :func:`~workbench.techniques.optimization.lr_finder.lr_find` returned.
        reference_lr: a rate to mark with a vertical line (for example the recipe's,
            ``result.extras["recipe_lr"]``).
        title: default ``"LR range test — <name>: <iterations> iterations, <stop reason>"``.
    """
    from workbench import plots

    title = title or (f"LR range test{' — ' + result.name if result.name else ''}: "
                      f"{result.iterations} iterations, {result.stop_reason}")
    return plots.plot_lr_finder(result.lrs, result.losses, result.smoothed, result.suggestions,
                                result.points, reference_lr=reference_lr, title=title)
