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

Drawing into an ``ipywidgets.Output``: use :func:`set_output` (replace what it shows)
and :func:`capture_into` (send ``print`` / ``display`` / ``clear_output`` made inside a
block to it), never ``with output:`` or ``output.clear_output()`` in code that can run
while a cell executes. Both set the widget's ``outputs`` state from the kernel (what
``Output.append_display_data`` does) instead of asking the frontend to route the cell's
messages into the widget. The reason is a hang in headless runs: nbclient (the executor
of papermill and nbmake) mimics an Output widget by sending the widget's whole output
list back to the kernel as a ``comm_msg`` for every message it captures, and it sends
that synchronously (``jupyter_client.Session.send`` on a blocking shadow of the
asyncio shell socket) while another task awaits the cell's ``execute_reply`` on the
same socket. When the reply arrives during such a send, the send consumes ZeroMQ's
edge-triggered wake-up, pyzmq's asyncio poller is never woken, and with papermill's
default (no cell timeout) the run waits forever with an idle kernel. Large captured
outputs (the 3.5 MB plotly.js bundle plotly's ``notebook`` renderer displays with its
first figure, a figure per redraw) make the window wide enough to hit every time.

This module only provides plumbing; the callbacks themselves are package functions
defined elsewhere.
"""

from __future__ import annotations

import contextlib
import io
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from html import escape as html_escape
from typing import Any

__all__ = [
    "LivePlot",
    "StatusLine",
    "append_output",
    "batch_size_slider",
    "capture_into",
    "control_panel",
    "dropdown",
    "epochs_slider",
    "in_colab",
    "in_kernel",
    "lr_slider",
    "set_enabled",
    "set_output",
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
    page head). In a kernel this is done with plotly's
    ``plotly.offline.init_notebook_mode(connected=False)``, which displays plotly.js
    (3.5 MB) once, in the calling cell, at once -- otherwise plotly displays it with the
    first figure, wherever that lands (an ``ipywidgets.Output``, or a live-plot cell
    whose ``clear_output`` then removes it). In Colab the renderer plotly picks itself
    (``colab``) is kept.

    Returns the name of the default renderer now in effect.
    """
    import plotly.io as pio

    if not in_colab():
        if in_kernel():
            from plotly.offline import init_notebook_mode

            init_notebook_mode(connected=False)
        else:
            pio.renderers.default = NOTEBOOK_RENDERER
    return pio.renderers.default


def _display(obj: Any) -> None:
    from IPython.display import display

    display(obj)


def _clear_output(wait: bool = True) -> None:
    from IPython.display import clear_output

    clear_output(wait=wait)


# ------------------------------------------------------- drawing into ipywidgets.Output

# IPython's clear_output() prints this to stdout and stderr (erase line, carriage return)
_ERASE_LINE = "\x1b[2K\r"


class _OutputCapture:
    """Collects outputs (nbformat output dicts) and, when ``live``, writes them into
    ``output.outputs`` as they come (one widget state update per output)."""

    def __init__(self, output: Any, live: bool) -> None:
        self.output = output
        self.live = live
        self.outputs: list[dict[str, Any]] = list(output.outputs) if live else []  # type: ignore[union-attr]
        self._clear_pending = False
        self._display_ids: dict[str, int] = {}

    def _sync(self) -> None:
        if self.live:
            self.output.outputs = tuple(self.outputs)

    def _take_pending_clear(self) -> None:
        if self._clear_pending:
            self.outputs, self._clear_pending = [], False
            self._display_ids.clear()

    def stream(self, name: str, text: str) -> None:
        text = text.replace(_ERASE_LINE, "")
        if not text:
            return
        self._take_pending_clear()
        last = self.outputs[-1] if self.outputs else None
        if last is not None and last.get("output_type") == "stream" and last.get("name") == name:
            self.outputs[-1] = {**last, "text": last["text"] + text}
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})
        self._sync()

    def display(self, data: dict[str, Any], metadata: dict[str, Any] | None,
                transient: dict[str, Any] | None, update: bool) -> None:
        item = {"output_type": "display_data", "data": dict(data), "metadata": dict(metadata or {})}
        display_id = (transient or {}).get("display_id")
        if update:  # update_display(): replace the output with that display_id, if shown here
            index = self._display_ids.get(display_id) if display_id else None
            if index is not None and index < len(self.outputs):
                self.outputs[index] = item
                self._sync()
            return
        self._take_pending_clear()
        self.outputs.append(item)
        if display_id:
            self._display_ids[display_id] = len(self.outputs) - 1
        self._sync()

    def clear(self, wait: bool) -> None:
        if wait:  # clear_output(wait=True): clear when the next output arrives
            self._clear_pending = True
            return
        self.outputs, self._clear_pending = [], False
        self._display_ids.clear()
        self._sync()


class _CaptureStream(io.TextIOBase):
    """A text stream (``sys.stdout`` / ``sys.stderr`` stand-in) feeding an _OutputCapture;
    text is passed on at each newline or carriage return, and on flush."""

    def __init__(self, capture: _OutputCapture, name: str) -> None:
        super().__init__()
        self._capture = capture
        self._name = name
        self._buffer = ""

    @property
    def name(self) -> str:  # type: ignore[override]
        return self._name

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._buffer += text
        if "\n" in self._buffer or "\r" in self._buffer:
            self.flush()
        return len(text)

    def flush(self) -> None:
        if self._buffer:
            text, self._buffer = self._buffer, ""
            self._capture.stream(self._name, text)


def _capture_publisher(capture: _OutputCapture) -> Any:
    from IPython.core.displaypub import DisplayPublisher

    class _CapturePublisher(DisplayPublisher):
        """IPython display publisher that hands display()/clear_output() to a capture."""

        def publish(self, data: Any, metadata: Any = None, source: Any = None, *,
                    transient: Any = None, update: bool = False, **kwargs: Any) -> None:
            capture.display(data, metadata, transient, update)

        def clear_output(self, wait: bool = False) -> None:
            capture.clear(wait)

    return _CapturePublisher()  # no shell: registers no execution hooks


def _ipython_shell() -> Any:
    try:
        from IPython.core.interactiveshell import InteractiveShell
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return InteractiveShell.instance() if InteractiveShell.initialized() else None


@contextlib.contextmanager
def _capturing(capture: _OutputCapture) -> Iterator[_OutputCapture]:
    shell = _ipython_shell()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    streams = _CaptureStream(capture, "stdout"), _CaptureStream(capture, "stderr")
    saved_streams = sys.stdout, sys.stderr
    saved_pub = shell.display_pub if shell is not None else None
    sys.stdout, sys.stderr = streams
    if shell is not None:
        shell.display_pub = _capture_publisher(capture)
    try:
        yield capture
    finally:
        for stream in streams:
            stream.flush()
        sys.stdout, sys.stderr = saved_streams
        if shell is not None:
            shell.display_pub = saved_pub


def _check_output_widget(output: Any) -> None:
    if not hasattr(output, "outputs"):
        raise ValueError(f"output must be an ipywidgets.Output; got {type(output).__name__}")


def set_output(output: Any, *objs: Any) -> None:
    """Replace what an ``ipywidgets.Output`` shows with ``objs``, in one state update.

    Each object is rendered as ``IPython.display.display(obj)`` would render it (a
    plotly figure, ``HTML``, a DataFrame, ...); a ``str`` is shown as printed text. The
    result is written to the widget's ``outputs`` trait (the approach of ipywidgets'
    ``Output.append_display_data``), so it works from a cell, a widget callback or a
    thread, in JupyterLab, Colab and headless runs, with ipywidgets 7.7 and 8.1, and it
    does not use the frontend round trip of ``with output:`` that makes nbclient (papermill,
    nbmake) hang (see the module docstring). ``set_output(output)`` clears it.

    Outside an IPython kernel ``display`` falls back to printing, so objects are shown as
    their ``str``.

    Raises ``ValueError`` if ``output`` has no ``outputs`` trait (not an ``Output``).
    """
    _check_output_widget(output)
    output.outputs = _rendered(objs)


def append_output(output: Any, *objs: Any) -> None:
    """Add ``objs`` below what an ``ipywidgets.Output`` shows, in one state update.

    Like :func:`set_output` (same rendering, same reasons), without clearing. Unlike
    ipywidgets' ``Output.append_display_data`` it also renders objects that display
    themselves (``_ipython_display_``, e.g. plotly figures), which that method would
    send to the cell instead. Raises ``ValueError`` if ``output`` is not an ``Output``.
    """
    _check_output_widget(output)
    output.outputs = tuple(output.outputs) + _rendered(objs)


def _rendered(objs: Sequence[Any]) -> tuple[dict[str, Any], ...]:
    """The nbformat outputs that ``display(obj)`` (``print`` for a str) produces."""
    from IPython.display import display

    capture = _OutputCapture(None, live=False)
    with _capturing(capture):
        for obj in objs:
            if isinstance(obj, str):
                print(obj)
            else:
                display(obj)
    return tuple(capture.outputs)


@contextlib.contextmanager
def capture_into(output: Any, clear: bool = False) -> Iterator[Any]:
    """Send what the block prints, displays or clears to an ``ipywidgets.Output``.

    Within the block ``sys.stdout`` / ``sys.stderr`` and IPython's display publisher are
    replaced, so ``print``, ``display(obj)``, ``update_display`` and
    ``clear_output(wait=...)`` (plotly figures, tqdm bars, tracebacks printed to stdout)
    land in ``output.outputs`` as they happen (text at each newline). This is the
    kernel-side equivalent of ``with output:``, without the frontend round trip that
    makes nbclient (papermill, nbmake) hang (see the module docstring). Exceptions are
    not swallowed. Not thread-local: output from other threads during the block lands
    there too.

    Args:
        output: an ``ipywidgets.Output``.
        clear: clear ``output`` first.

    Yields the ``output``. Raises ``ValueError`` if ``output`` has no ``outputs`` trait.
    """
    _check_output_widget(output)
    if clear:
        output.outputs = ()
    with _capturing(_OutputCapture(output, live=True)):
        yield output


class LivePlot:
    """Redraw a figure in place while something runs, at most every ``every_s`` seconds.

    ``make_figure()`` builds the current figure (for example
    ``lambda: plot_curves(pd.DataFrame(rows))``). :meth:`update` draws it:

    - ``output=None``: ``clear_output(wait=True); display(fig)`` in the running cell, so
      that cell shows only this figure (keep other output out of that cell);
    - ``output`` an ``ipywidgets.Output``: the widget shows only this figure
      (:func:`set_output`; use this for runs started from a widget callback).

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
        caption: zero-argument callable returning a line shown under the figure (a
            progress line); by default the runner's ``progress_text()`` when the callback
            was handed an :class:`~workbench.experiment.Experiment` ("run 3 of 6: ...").
    """

    def __init__(
        self,
        make_figure: Callable[[], Any],
        every_s: float = 1.0,
        output: Any = None,
        clock: Callable[[], float] | None = None,
        caption: Callable[[], str] | None = None,
    ) -> None:
        if every_s < 0:
            raise ValueError(f"every_s must be >= 0; got {every_s}")
        self.make_figure = make_figure
        self.caption = caption
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

    def caption_text(self) -> str:
        """The line shown under the figure: ``caption()`` when given, else the runner's
        ``progress_text()`` (an :class:`~workbench.experiment.Experiment` handed to the
        callback says which run of how many is going), else ``""``."""
        if self.caption is not None:
            return str(self.caption())
        src = self.rows
        return str(src.progress_text()) if hasattr(src, "progress_text") else ""

    def _draw(self) -> None:
        from IPython.display import HTML

        fig = self.make_figure()
        self.figure = fig
        text = self.caption_text()
        objs = [fig] + ([HTML(f"<small>{html_escape(text)}</small>")] if text else [])
        if self.output is None:
            _clear_output(wait=True)
            for obj in objs:
                _display(obj)
        else:
            set_output(self.output, *objs)

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


class StatusLine:
    """A line of text in the running cell that is rewritten in place (progress of a long
    cell that draws no live plot), e.g. ``"LR range test on subj (2 of 2)…"``.

    Displayed once with a ``display_id`` and rewritten with ``update_display``, so it works
    in JupyterLab, Colab and headless runs (papermill, nbmake; no ``ipywidgets.Output``)
    and the executed notebook keeps the last text. Outside a kernel each update is printed.
    :attr:`history` holds every text shown, for tests.
    """

    def __init__(self, text: str = "") -> None:
        self.history: list[str] = []
        self._handle: Any = None
        self.update(text)

    def update(self, text: str) -> None:
        """Replace the line with ``text`` (plain text; HTML special characters are escaped)."""
        self.history.append(text)
        if not in_kernel():
            print(text)
            return
        from IPython.display import HTML, display

        obj = HTML(f"<code>{html_escape(text)}</code>")
        if self._handle is None:
            self._handle = display(obj, display_id=True)
        else:
            self._handle.update(obj)


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


def _value_text(value: Any) -> str:
    from workbench.report import format_number

    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    return format_number(value)


def set_enabled(controls: Mapping[str, Any], used: Any) -> None:
    """Enable the controls named in ``used`` and disable the others (greyed out, still
    showing their value), so a control the current choice ignores cannot look live.

    ``controls`` maps names to widgets; ``used`` is a collection of names."""
    used = set(used)
    for name, widget in controls.items():
        widget.disabled = name not in used


def control_panel(
    controls: Mapping[str, Any],
    on_run: Callable[..., Any],
    run_label: str = "Train",
    output: Any = None,
    preview: Callable[..., Any] | None = None,
    enabled: Callable[..., Any] | None = None,
) -> tuple[Any, Any]:
    """Widgets plus a run button that calls ``on_run(**{name: widget.value})``.

    Clicking the button clears ``output`` and calls ``on_run`` with the current widget
    values as keyword arguments, inside :func:`capture_into` ``(output)`` (so anything it
    prints or displays lands there; pass that ``output`` to a :class:`LivePlot` for live
    plots). A non-None return value is displayed below. The button shows the state: while
    running it is disabled, amber and reads "Running…"; then green with "done in 12.3 s"
    beside it, or red with the error's message (an exception is not swallowed: its
    traceback is printed in ``output``). The button works the same when clicked from code
    (``box.button.click()``, e.g. in a cell of a headless run).

    Every control gives feedback at once: moving one rewrites the line above the button
    -- ``preview(**values)`` when given (for example the optimizer steps the settings
    imply), else the settings the next run will use -- and marks them as not yet run.

    Args:
        controls: name -> widget with a ``value`` (sliders, dropdowns, ...).
        on_run: a plain package function taking those names as keyword arguments.
        run_label: the button's text.
        output: an ``ipywidgets.Output`` to use, or None to create one.
        preview: ``preview(**values) -> str`` (HTML allowed), the line shown for the
            current settings; an exception's message is shown instead.
        enabled: ``enabled(**values) -> names``: the controls the current settings use;
            the others are disabled (see :func:`set_enabled`). Re-evaluated on every change.

    Returns ``(box, output)``: a ``VBox`` (controls, preview line, button and status line)
    and the ``Output``. The box also carries ``box.button``, ``box.status`` and
    ``box.preview`` (``HTML`` widgets), ``box.state`` (``"ready"``, ``"changed"``,
    ``"running"``, ``"done"`` or ``"error"``) and ``box.last_result`` / ``box.last_error``
    after a run, for scripting and tests.
    """
    import html

    import ipywidgets as w

    for name, widget in controls.items():
        if not hasattr(widget, "value"):
            raise ValueError(f"control {name!r} has no .value (got {type(widget).__name__})")
    out = output if output is not None else w.Output()
    button = w.Button(description=run_label, button_style="primary", icon="play")
    status = w.HTML(value="")
    preview_line = w.HTML(value="")
    box = w.VBox([*controls.values(), preview_line, w.HBox([button, status]), out])
    box.button = button
    box.status = status
    box.preview = preview_line
    box.state = "ready"
    box.last_result = None
    box.last_error = None

    def values() -> dict[str, Any]:
        return {name: widget.value for name, widget in controls.items()}

    def describe(kwargs: dict[str, Any]) -> str:
        if preview is not None:
            try:
                return str(preview(**kwargs))
            except Exception as exc:  # an invalid combination: say why, at once
                return f"<span style='color:#b00020'>{html.escape(f'{type(exc).__name__}: {exc}')}</span>"
        shown = ", ".join(f"{getattr(controls[k], 'description', '') or k} {html.escape(_value_text(v))}"
                          for k, v in kwargs.items())
        return f"next run: {shown}"

    def on_change(_change: Any = None) -> None:
        kwargs = values()
        if enabled is not None:
            set_enabled(controls, enabled(**kwargs))
        preview_line.value = describe(kwargs)
        if _change is not None and box.state != "running":
            box.state = "changed"
            button.button_style = "primary"
            status.value = f"<i>settings changed: press {html.escape(run_label)} to run with them</i>"

    for widget in controls.values():
        widget.observe(on_change, names="value")
    on_change()

    def on_click(_b: Any) -> None:
        kwargs = values()
        button.disabled = True
        button.description, button.icon, button.button_style = "Running…", "hourglass-half", "warning"
        status.value = "<i>running…</i>"
        box.state = "running"
        box.last_error = None
        t0 = time.monotonic()
        with capture_into(out, clear=True):
            try:
                result = on_run(**kwargs)
            except Exception as exc:  # shown to the user, not swallowed
                box.last_error = exc
                box.state = "error"
                traceback.print_exc(file=sys.stdout)
                msg = html.escape(f"{type(exc).__name__}: {exc}")
                button.button_style = "danger"
                status.value = f"<span style='color:#b00020'><b>error</b> — {msg}</span>"
            else:
                box.last_result = result
                box.state = "done"
                button.button_style = "success"
                status.value = f"done in {time.monotonic() - t0:.1f} s"
                if result is not None:
                    _display(result)
            finally:
                button.disabled = False
                button.description, button.icon = run_label, "play"

    button.on_click(on_click)
    return box, out
