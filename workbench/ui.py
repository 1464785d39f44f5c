"""Live display and ipywidgets panels for the notebooks.

Works with ipywidgets 7.7 and 8.1: only API common to both is used (``IntSlider``,
``FloatSlider``, ``FloatLogSlider``, ``Dropdown``, ``Button``, ``Output``, ``VBox``,
``HBox``, ``HTML``, ``Label``, ``Layout``, ``observe(..., names="value")``,
``on_click``).

How plots are redrawn (see ``NOTEBOOK-PLOTS.md`` in the shared folder):

- call :func:`setup_notebook` once, at the top of the notebook;
- a training run inside a cell redraws with ``clear_output(wait=True); display(fig)``
  (:class:`LivePlot` with ``output=None``), so that cell shows only the figure and the
  executed notebook keeps the last one;
- a run started by a widget draws into an ``ipywidgets.Output`` (:class:`LivePlot`
  with ``output=...``, :func:`control_panel`). Widget output is not saved in the
  cell's outputs, so notebooks also call the same package function in a plain cell
  for headless runs and HTML export.

This module only provides plumbing; the callbacks themselves are package functions
defined elsewhere.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "LivePlot",
    "batch_size_slider",
    "control_panel",
    "dropdown",
    "epochs_slider",
    "in_colab",
    "in_kernel",
    "lr_slider",
    "setup_notebook",
]

NOTEBOOK_RENDERER = "plotly_mimetype+notebook"


def in_colab() -> bool:
    """True when running inside Google Colab (``google.colab`` is imported there)."""
    return "google.colab" in sys.modules


def in_kernel() -> bool:
    """True when running in a Jupyter kernel (JupyterLab, Colab, papermill, nbmake)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return False
    ip = get_ipython()
    return ip is not None and getattr(ip, "kernel", None) is not None


def setup_notebook() -> str:
    """Choose the plotly renderer that works live and in executed/exported notebooks.

    Sets ``plotly.io.renderers.default = "plotly_mimetype+notebook"``: JupyterLab draws
    the plotly mime part, and the ``text/html`` part (with ``Plotly.newPlot``) is what
    the HTML export renders (:func:`workbench.report.export_html` puts plotly.js in the
    page head). In Colab the renderer plotly picks itself (``colab``) is kept.

    Returns the name of the default renderer now in effect.
    """
    import plotly.io as pio

    if not in_colab():
        pio.renderers.default = NOTEBOOK_RENDERER
    return pio.renderers.default


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


def _clear_output(wait: bool = True) -> None:
    from IPython.display import clear_output

    clear_output(wait=wait)


class LivePlot:
    """Redraw a figure in place while something runs, at most every ``every_s`` seconds.

    ``make_figure()`` builds the current figure (for example
    ``lambda: plot_curves(pd.DataFrame(rows))``). :meth:`update` draws it:

    - ``output=None``: ``clear_output(wait=True); display(fig)`` in the running cell, so
      that cell shows only this figure (keep other output out of that cell);
    - ``output`` an ``ipywidgets.Output``: the same inside that widget (use this for runs
      started from a widget callback).

    Outside a Jupyter kernel (scripts, tests) nothing is drawn; calls are only counted
    (:attr:`draws`, :attr:`skipped`), and ``make_figure`` is not called.

    Hook to a training run with :meth:`callback` (the experiment runner calls
    ``on_eval(experiment)`` after each evaluation; history rows or a DataFrame work too),
    and call :meth:`close` at the end for a final draw -- or use the object as a
    context manager::

        live = LivePlot.for_history(x="wall_time", y="val_accuracy", target=0.9)
        with live:
            result = Experiment(..., on_eval=live.callback()).run()

    Args:
        make_figure: zero-argument callable returning a plotly figure.
        every_s: minimum seconds between two draws (``update(force=True)`` ignores it).
        output: an ``ipywidgets.Output`` to draw into, or None for the current cell.
        clock: time source (default :func:`time.monotonic`), for tests.
    """

    def __init__(
        self,
        make_figure: Callable[[], Any],
        every_s: float = 1.0,
        output: Any = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        if every_s < 0:
            raise ValueError(f"every_s must be >= 0; got {every_s}")
        self.make_figure = make_figure
        self.every_s = float(every_s)
        self.output = output
        self._clock = clock
        self._last: float | None = None
        self.draws = 0  #: number of updates that drew (or would draw, outside a kernel)
        self.skipped = 0  #: number of updates skipped by the throttle
        self.rows: Any = None  #: last history source received by :meth:`callback`
        self.figure: Any = None  #: last figure drawn (None outside a kernel)

    @classmethod
    def for_history(
        cls,
        plot: Callable[..., Any] | None = None,
        every_s: float = 1.0,
        output: Any = None,
        **plot_kwargs: Any,
    ) -> LivePlot:
        """A LivePlot that draws ``plot(self.history(), **plot_kwargs)``.

        The history is whatever the :meth:`callback` function received last (see
        :meth:`history`). ``plot`` defaults to :func:`workbench.plots.plot_curves`, so
        ``plot_kwargs`` are its arguments (``x``, ``y``, ``target``, ...).
        """
        if plot is None:
            from workbench.plots import plot_curves as plot

        live: LivePlot

        def make_figure() -> Any:
            return plot(live.history(), **plot_kwargs)

        live = cls(make_figure, every_s=every_s, output=output)
        return live

    def history(self) -> Any:
        """The latest history handed to the callback, as a ``pandas.DataFrame``.

        Accepts what runners pass: an object with ``history_frame()`` (the
        :class:`~workbench.experiment.Experiment` itself), a DataFrame, or a list of
        row dicts; converted only when a figure is drawn. Empty DataFrame before any.
        """
        import pandas as pd

        src = self.rows
        if src is None:
            return pd.DataFrame()
        if hasattr(src, "history_frame"):
            return src.history_frame()
        if isinstance(src, pd.DataFrame):
            return src
        return pd.DataFrame(list(src))

    def _now(self) -> float:
        return (self._clock or time.monotonic)()

    def update(self, force: bool = False) -> bool:
        """Redraw unless the last draw was less than ``every_s`` seconds ago.

        Returns True if this call drew (or, outside a kernel, would have drawn).
        """
        now = self._now()
        if not force and self._last is not None and now - self._last < self.every_s:
            self.skipped += 1
            return False
        self._last = now
        self.draws += 1
        if in_kernel():
            self._draw()
        return True

    def _draw(self) -> None:
        fig = self.make_figure()
        self.figure = fig
        if self.output is None:
            _clear_output(wait=True)
            _display(fig)
        else:
            self.output.clear_output(wait=True)
            with self.output:
                _display(fig)

    def close(self) -> None:
        """Draw a final time (ignoring the throttle)."""
        self.update(force=True)

    def callback(self) -> Callable[..., None]:
        """Return ``on_eval(history_rows=None, *args, **kwargs)`` for a training runner.

        It stores its first argument (when given) in :attr:`rows` -- the
        :class:`~workbench.experiment.Experiment` (``Experiment(on_eval=...)`` passes
        itself), a history DataFrame or a list of row dicts, see :meth:`history` -- and
        calls :meth:`update`. Converting it to a DataFrame happens only when drawing.
        """

        def on_eval(history_rows: Any = None, *args: Any, **kwargs: Any) -> None:
            if history_rows is not None:
                self.rows = history_rows
            self.update()

        return on_eval

    def __enter__(self) -> LivePlot:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# ------------------------------------------------------------------- widget helpers

_STYLE = {"description_width": "initial"}


def _layout(width: str = "420px") -> Any:
    import ipywidgets as w

    return w.Layout(width=width)


def lr_slider(value: float = 1e-3, description: str = "learning rate") -> Any:
    """A ``FloatLogSlider`` for the learning rate, 1e-5 to 1 (log scale)."""
    import ipywidgets as w

    return w.FloatLogSlider(
        value=value, base=10, min=-5, max=0, step=0.1, description=description,
        readout_format=".1e", continuous_update=False, style=_STYLE, layout=_layout(),
    )


def batch_size_slider(
    value: int = 64, min: int = 8, max: int = 512, step: int = 8,
    description: str = "batch size",
) -> Any:
    """An ``IntSlider`` for the batch size."""
    import ipywidgets as w

    return w.IntSlider(
        value=value, min=min, max=max, step=step, description=description,
        continuous_update=False, style=_STYLE, layout=_layout(),
    )


def epochs_slider(
    value: int = 5, min: int = 1, max: int = 50, description: str = "epochs"
) -> Any:
    """An ``IntSlider`` for the number of epochs."""
    import ipywidgets as w

    return w.IntSlider(
        value=value, min=min, max=max, step=1, description=description,
        continuous_update=False, style=_STYLE, layout=_layout(),
    )


def dropdown(
    options: Sequence[Any] | Mapping[str, Any], value: Any = None, description: str = ""
) -> Any:
    """A ``Dropdown``; ``value`` defaults to the first option."""
    import ipywidgets as w

    opts = list(options.items()) if isinstance(options, Mapping) else list(options)
    if not opts:
        raise ValueError("dropdown needs at least one option")
    if value is None:
        first = opts[0]
        value = first[1] if isinstance(first, tuple) and len(first) == 2 else first
    return w.Dropdown(options=opts, value=value, description=description, style=_STYLE,
                      layout=_layout())


def control_panel(
    controls: Mapping[str, Any],
    on_run: Callable[..., Any],
    run_label: str = "Train",
    output: Any = None,
) -> tuple[Any, Any]:
    """Widgets plus a run button that calls ``on_run(**{name: widget.value})``.

    Clicking the button disables it, clears ``output`` and calls ``on_run`` with the
    current widget values as keyword arguments, inside ``output`` (so anything it prints
    or displays lands there; pass that ``output`` to a :class:`LivePlot` for live
    plots). A non-None return value is displayed below. An exception is not swallowed:
    its traceback is printed in ``output`` and its message is shown in the status line
    under the button.

    Args:
        controls: name -> widget with a ``value`` (sliders, dropdowns, ...).
        on_run: a plain package function taking those names as keyword arguments.
        run_label: the button's text.
        output: an ``ipywidgets.Output`` to use, or None to create one.

    Returns ``(box, output)``: a ``VBox`` (controls, button and status line) and the
    ``Output``. The box also carries ``box.button``, ``box.status`` (an ``HTML``) and
    ``box.last_result`` / ``box.last_error`` after a run, for scripting and tests.
    """
    import html

    import ipywidgets as w

    for name, widget in controls.items():
        if not hasattr(widget, "value"):
            raise ValueError(f"control {name!r} has no .value (got {type(widget).__name__})")
    out = output if output is not None else w.Output()
    button = w.Button(description=run_label, button_style="primary", icon="play")
    status = w.HTML(value="")
    box = w.VBox([*controls.values(), w.HBox([button, status]), out])
    box.button = button
    box.status = status
    box.last_result = None
    box.last_error = None

    def on_click(_b: Any) -> None:
        kwargs = {name: widget.value for name, widget in controls.items()}
        button.disabled = True
        status.value = "<i>running…</i>"
        box.last_error = None
        out.clear_output()
        t0 = time.monotonic()
        with out:
            try:
                result = on_run(**kwargs)
            except Exception as exc:  # shown to the user, not swallowed
                box.last_error = exc
                traceback.print_exc(file=sys.stdout)
                msg = html.escape(f"{type(exc).__name__}: {exc}")
                status.value = f"<span style='color:#b00020'><b>error</b> — {msg}</span>"
            else:
                box.last_result = result
                status.value = f"done in {time.monotonic() - t0:.1f} s"
                if result is not None:
                    _display(result)
            finally:
                button.disabled = False

    button.on_click(on_click)
    return box, out
