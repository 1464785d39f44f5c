"""Notebook helpers for multi-task learning: per-task validation curves and the task
weights over time (plotly figures)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any


def task_curves_figure(rows: Sequence[Mapping[str, Any]], task_names: Sequence[str], metric: str = "val_accuracy",
                       x: str = "effective_step", targets: Mapping[str, float] | None = None) -> Any:
    """One line per task: ``<metric>/<task>`` over ``x`` from metric rows (evaluation rows
    only), dotted lines at the tasks' targets.

    Args:
        rows: metric rows (``state.history``) holding ``<metric>/<task>`` columns.
        task_names: the tasks to draw.
        metric: ``"val_accuracy"`` or ``"val_loss"``.
        x: ``"effective_step"``, ``"wall_time"`` or ``"examples_seen"``.
        targets: ``{task: target}`` (optional).

    Returns:
        a ``plotly.graph_objects.Figure``.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]
    for i, t in enumerate(task_names):
        key = f"{metric}/{t}"
        pts = [(r[x], r[key]) for r in rows if key in r and r[key] is not None and not math.isnan(r[key])]
        c = colors[i % len(colors)]
        fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], mode="lines+markers", name=t,
                                 line={"color": c}))
        if targets and t in targets:
            fig.add_hline(y=targets[t], line={"dash": "dot", "color": c}, annotation_text=f"{t} target")
    fig.update_layout(title=f"{metric} per task", xaxis_title=x.replace("_", " "), yaxis_title=metric,
                      height=360, margin={"l": 50, "r": 20, "t": 50, "b": 40})
    return fig


def task_weights_figure(trace: Sequence[Sequence[float]], task_names: Sequence[str], title: str = "") -> Any:
    """The task weights over training from a weighting's ``trace``
    (``[[effective_step, w_1, ..., w_K], ...]``): one line per task.

    Returns:
        a ``plotly.graph_objects.Figure``.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    for i, t in enumerate(task_names):
        fig.add_trace(go.Scatter(x=[r[0] for r in trace], y=[r[i + 1] for r in trace], mode="lines+markers",
                                 name=t))
    fig.update_layout(title=title or "task weights", xaxis_title="effective step", yaxis_title="weight",
                      height=320, margin={"l": 50, "r": 20, "t": 50, "b": 40})
    return fig
