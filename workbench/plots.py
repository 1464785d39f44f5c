"""Plotly figures built from experiment records.

Every function here *returns* a :class:`plotly.graph_objects.Figure` (or a
:class:`pandas.DataFrame` for :func:`results_table`) and never shows it: the notebook
decides how to display it (see :mod:`workbench.ui` for live redraws).

Inputs follow the measurement contract in ``docs/architecture.md``:

- ``history``: one row per evaluation, columns ``dataset, variant, seed, step,
  effective_step, epoch, examples_seen, wall_time, lr, train_loss, train_accuracy,
  val_loss, val_accuracy`` (NaN where not measured);
- ``summary``: one row per (dataset, variant) with ``*_mean``/``*_std`` columns and the
  ratios to the baseline variant.

Missing required columns raise ``ValueError`` naming them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from workbench.report import format_count, format_number

__all__ = [
    "AXIS_TITLES",
    "axis_title",
    "mean_std_band",
    "plot_curves",
    "plot_learning_curve",
    "plot_lr_finder",
    "plot_lr_schedule",
    "plot_lr_schedules",
    "plot_ratios",
    "results_table",
    "variant_colors",
]

#: Axis titles, in words with units, for the contract's columns.
AXIS_TITLES: dict[str, str] = {
    "wall_time": "wall time (s)",
    "examples_seen": "examples seen",
    "effective_step": "optimizer steps",
    "step": "training steps (micro-batches)",
    "epoch": "epoch",
    "lr": "learning rate",
    "train_loss": "training loss",
    "train_accuracy": "training accuracy",
    "val_loss": "validation loss",
    "val_accuracy": "validation accuracy",
    "time_to_target_ratio": "time to target / baseline",
    "examples_to_target_ratio": "examples to target / baseline",
    "time_to_target_s_mean": "time to target (s)",
    "examples_to_target_mean": "examples to target",
    "final_metric_mean": "final metric",
    "test_accuracy_mean": "test accuracy",
}

_PALETTE: tuple[str, ...] = tuple(qualitative.Plotly)
# A light look (like the "plotly_white" template) set directly: assigning a template
# validates the whole template each time, which made live redraws slow (~50 ms).
_AXIS_STYLE: dict[str, Any] = {
    "showgrid": True, "gridcolor": "#EBF0F8", "zeroline": False, "linecolor": "#A0A8B8",
    "showline": True, "ticks": "outside", "tickcolor": "#A0A8B8",
}
_BASE_LAYOUT: dict[str, Any] = {"plot_bgcolor": "white", "paper_bgcolor": "white"}
_MAX_GRID_POINTS = 400


def axis_title(column: str) -> str:
    """Return the axis title (words and units) for a contract column name."""
    return AXIS_TITLES.get(column, column.replace("_", " "))


def _require(df: pd.DataFrame, columns: Iterable[str | None], what: str) -> None:
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{what} must be a pandas.DataFrame; got {type(df).__name__}")
    missing = [c for c in columns if c is not None and c not in df.columns]
    if missing:
        raise ValueError(
            f"{what} is missing column(s) {missing}; it has {list(df.columns)}"
        )


def _unique_in_order(values: Iterable[Any]) -> list[Any]:
    seen: dict[Any, None] = {}
    for v in values:
        if v not in seen:
            seen[v] = None
    return list(seen)


def variant_colors(variants: Iterable[Any]) -> dict[Any, str]:
    """Map each variant (in order of first appearance) to a color of plotly's palette.

    :func:`plot_curves` and :func:`plot_ratios` both use this, so a variant gets the
    same color in every figure built from frames that list variants in the same order.
    """
    return {v: _PALETTE[i % len(_PALETTE)] for i, v in enumerate(_unique_in_order(variants))}


def _rgba(color: str, alpha: float) -> str:
    color = color.lstrip("#")
    r, g, b = (int(color[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},{alpha})"


def _seed_curve(df: pd.DataFrame, x: str, y: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted (x, y) of one run, NaNs dropped, duplicate x averaged."""
    xs = pd.to_numeric(df[x], errors="coerce").to_numpy(dtype=float)
    ys = pd.to_numeric(df[y], errors="coerce").to_numpy(dtype=float)
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    if xs.size == 0:
        return xs, ys
    ux, inverse = np.unique(xs, return_inverse=True)
    if ux.size == xs.size:
        return ux, ys[np.argsort(xs, kind="stable")]
    sums = np.bincount(inverse, weights=ys, minlength=ux.size)
    counts = np.bincount(inverse, minlength=ux.size)
    return ux, sums / counts


def mean_std_band(
    curves: Sequence[tuple[np.ndarray, np.ndarray]], ddof: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and standard deviation of several runs' curves on a common grid.

    ``curves`` holds one ``(x, y)`` pair per seed, each sorted by ``x`` with no NaN.
    The grid is every distinct ``x`` of any seed inside ``[max of first x, min of last
    x]``: the range where *every* seed has measurements, so nothing is extrapolated
    (capped at 400 evenly spaced points). Each seed is linearly interpolated onto the
    grid (:func:`numpy.interp`); the standard deviation uses ``ddof`` (sample standard
    deviation by default, 0 with a single seed).

    When the seeds' ranges do not overlap, the grid falls back to the union of all x
    values and seeds are held constant beyond their ends.

    Returns ``(grid, mean, std)``. Raises ``ValueError`` when ``curves`` has no points.
    """
    curves = [(np.asarray(cx, float), np.asarray(cy, float)) for cx, cy in curves if len(cx)]
    if not curves:
        raise ValueError("mean_std_band needs at least one curve with points")
    if len(curves) == 1:
        cx, cy = curves[0]
        return cx.copy(), cy.copy(), np.zeros_like(cy)
    lo = max(cx[0] for cx, _ in curves)
    hi = min(cx[-1] for cx, _ in curves)
    all_x = np.unique(np.concatenate([cx for cx, _ in curves]))
    grid = all_x[(all_x >= lo) & (all_x <= hi)] if lo <= hi else all_x
    if grid.size == 0:  # lo <= hi but no sample inside (cannot happen: lo and hi are samples)
        grid = np.array([lo])
    if grid.size > _MAX_GRID_POINTS:
        grid = np.linspace(grid[0], grid[-1], _MAX_GRID_POINTS)
    ys = np.vstack([np.interp(grid, cx, cy) for cx, cy in curves])
    mean = ys.mean(axis=0)
    std = ys.std(axis=0, ddof=ddof) if ys.shape[0] > ddof else np.zeros_like(mean)
    return grid, mean, std


def _empty_figure(message: str, title: str | None = None) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(
        text=message, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False,
        font={"size": 16},
    )
    fig.update_layout(title=title, xaxis={"visible": False}, yaxis={"visible": False},
                      height=350, **_BASE_LAYOUT)
    return fig


def plot_curves(
    history: pd.DataFrame,
    x: str = "wall_time",
    y: str = "val_accuracy",
    color: str | None = "variant",
    facet: str | None = "dataset",
    target: float | Mapping[Any, float] | None = None,
    title: str | None = None,
    ddof: int = 1,
) -> go.Figure:
    """Mean learning curves over seeds with a shaded mean ± std band.

    What it shows: for each ``facet`` value (one subplot per data set, side by side) and
    each ``color`` value (one line per variant), the mean of ``y`` over seeds against
    ``x`` (wall time, examples seen or optimizer steps), with a band of ± one standard
    deviation across seeds. Seeds are aligned by linear interpolation onto a common grid
    (see :func:`mean_std_band`); with a single seed its own curve is drawn, no band.
    A variant keeps one color across subplots and appears once in the legend.

    Args:
        history: long DataFrame with columns ``x``, ``y``, ``seed`` and, when not None,
            ``color`` and ``facet``. Rows where ``x`` or ``y`` is NaN are ignored.
        x, y: column names for the axes.
        color: column whose values become separate lines (default ``"variant"``).
        facet: column whose values become subplots (default ``"dataset"``); a column
            absent from ``history`` is an error, ``None`` means one plot.
        target: horizontal dashed target line: a float for every subplot, or a mapping
            facet value -> float (facets missing from it get no line).
        title: figure title.
        ddof: delta degrees of freedom of the standard deviation (1: sample std).

    Returns a figure; an empty ``history`` (no measured ``y`` yet) gives a figure saying
    "no data yet", so a live plot can be drawn before the first evaluation.

    Raises ``ValueError`` naming missing columns.
    """
    if history is None or (isinstance(history, pd.DataFrame) and history.empty):
        return _empty_figure("no data yet", title)
    _require(history, [x, y, "seed", color, facet], "history")
    data = history
    facets = _unique_in_order(data[facet]) if facet is not None else [None]
    groups = _unique_in_order(data[color]) if color is not None else ["all"]
    colors = variant_colors(groups)

    n = len(facets)
    gap = min(0.08, 0.5 / n) if n > 1 else 0.0
    width = (1.0 - gap * (n - 1)) / n
    layout: dict[str, Any] = {**_BASE_LAYOUT, "hovermode": "closest", "height": 420,
                              "legend": {"title": {"text": color or ""}}}
    traces: list[dict[str, Any]] = []
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    legend_shown: set[Any] = set()

    for i, fval in enumerate(facets):
        xa, ya = ("x", "y") if i == 0 else (f"x{i + 1}", f"y{i + 1}")
        x0 = i * (width + gap)
        layout["xaxis" if i == 0 else f"xaxis{i + 1}"] = {
            **_AXIS_STYLE, "domain": [x0, x0 + width], "anchor": ya,
            "title": {"text": axis_title(x)},
        }
        layout["yaxis" if i == 0 else f"yaxis{i + 1}"] = {
            **_AXIS_STYLE, "anchor": xa, "title": {"text": axis_title(y) if i == 0 else ""},
        }
        if n > 1:
            annotations.append({
                "text": str(fval), "x": x0 + width / 2, "y": 1.0, "xref": "paper",
                "yref": "paper", "xanchor": "center", "yanchor": "bottom",
                "showarrow": False, "font": {"size": 16},
            })
        fdata = data if facet is None else data[data[facet] == fval]
        for gval in groups:
            gdata = fdata if color is None else fdata[fdata[color] == gval]
            if gdata.empty:
                continue
            curves = [_seed_curve(sdf, x, y) for _, sdf in gdata.groupby("seed", sort=True)]
            curves = [c for c in curves if len(c[0])]
            if not curves:
                continue
            grid, mean, std = mean_std_band(curves, ddof=ddof)
            c = colors[gval]
            name = str(gval)
            meta = {"facet": fval, "group": gval, "seeds": len(curves)}
            if len(curves) > 1:
                upper, lower = mean + std, mean - std
                traces.append({
                    "type": "scatter", "xaxis": xa, "yaxis": ya,
                    "x": np.concatenate([grid, grid[::-1]]),
                    "y": np.concatenate([upper, lower[::-1]]),
                    "fill": "toself", "fillcolor": _rgba(c, 0.2), "line": {"width": 0},
                    "mode": "lines", "hoverinfo": "skip", "showlegend": False,
                    "legendgroup": name, "name": f"{name} ± std",
                    "meta": {**meta, "role": "band"},
                })
            hover = (f"{name}<br>{axis_title(x)}=%{{x:.4g}}<br>{axis_title(y)}=%{{y:.4f}}"
                     + ("<br>± %{customdata:.4f}" if len(curves) > 1 else "")
                     + f"<br>{len(curves)} seed(s)<extra></extra>")
            traces.append({
                "type": "scatter", "xaxis": xa, "yaxis": ya, "x": grid, "y": mean,
                "mode": "lines+markers" if grid.size <= 20 else "lines",
                "line": {"color": c, "width": 2}, "marker": {"size": 5},
                "name": name, "legendgroup": name, "showlegend": gval not in legend_shown,
                "customdata": std, "hovertemplate": hover,
                "meta": {**meta, "role": "mean"},
            })
            legend_shown.add(gval)

        tval = target.get(fval) if isinstance(target, Mapping) else target
        if tval is not None and not math.isnan(float(tval)):
            tval = float(tval)
            shapes.append({
                "type": "line", "xref": f"{xa} domain", "x0": 0, "x1": 1, "yref": ya,
                "y0": tval, "y1": tval, "line": {"dash": "dash", "color": "gray", "width": 1.5},
            })
            annotations.append({
                "text": f"target {tval:g}", "xref": f"{xa} domain", "x": 1, "yref": ya,
                "y": tval, "xanchor": "right", "yanchor": "top", "showarrow": False,
                "font": {"size": 11, "color": "gray"},
            })

    if not traces:
        return _empty_figure("no data yet", title)
    if n == 1 and facet is not None and title is None:
        title = f"{axis_title(y)} — {facets[0]}"
    layout.update(title={"text": title} if title else None, shapes=shapes,
                  annotations=annotations, margin={"t": 80 if title else 50})
    return go.Figure(data=traces, layout=layout)


def plot_ratios(
    summary: pd.DataFrame,
    metric: str = "time_to_target_ratio",
    error: str | None = "time_to_target_ratio_std",
    title: str | None = None,
) -> go.Figure:
    """Grouped bars: each variant's cost relative to the baseline, per data set.

    What it shows: for every data set (x axis) one bar per variant with height
    ``summary[metric]`` (by default time-to-target divided by the baseline's), error bars
    from ``summary[error]``, and a dashed line at 1.0 (the baseline); bars below it are
    cheaper than the baseline. A variant whose ratio is NaN (target not reached) gets no
    bar but the text "not reached" in its slot.

    Args:
        summary: DataFrame with columns ``dataset``, ``variant``, ``metric`` and, when not
            None, ``error``.
        metric: ratio column to plot.
        error: column with the ratio's spread over seeds, or None for no error bars.
        title: figure title (default: words for ``metric``).

    Raises ``ValueError`` naming missing columns.
    """
    _require(summary, ["dataset", "variant", metric, error], "summary")
    if summary.empty:
        return _empty_figure("no results yet", title)
    datasets = [str(d) for d in _unique_in_order(summary["dataset"])]
    variants = _unique_in_order(summary["variant"])
    colors = variant_colors(variants)
    fig = go.Figure()
    for v in variants:
        rows = summary[summary["variant"] == v]
        by_ds = {str(r["dataset"]): r for _, r in rows.iterrows()}
        ys, errs, texts, hovers, positions = [], [], [], [], []
        for d in datasets:
            r = by_ds.get(d)
            val = float(r[metric]) if r is not None else math.nan
            err = float(r[error]) if (r is not None and error is not None) else math.nan
            if r is None:
                ys.append(None)
                errs.append(None)
                texts.append("")
                hovers.append("no run")
                positions.append("none")
            elif math.isnan(val):
                ys.append(0.0)  # zero-height slot so the text sits in the variant's place
                errs.append(None)
                texts.append("not reached")
                hovers.append("target not reached")
                positions.append("outside")
            else:
                ys.append(val)
                errs.append(None if math.isnan(err) else err)
                texts.append(f"{val:.2f}×")
                hovers.append(f"{val:.3f}" + ("" if math.isnan(err) else f" ± {err:.3f}"))
                positions.append("inside")
        fig.add_trace(
            go.Bar(
                x=datasets, y=ys, name=str(v), marker_color=colors[v],
                error_y={"type": "data", "array": errs, "visible": error is not None},
                text=texts, textposition=positions, insidetextanchor="middle",
                cliponaxis=False,
                customdata=hovers,
                hovertemplate=f"{v}<br>%{{x}}: %{{customdata}}<extra></extra>",
            )
        )
    fig.add_hline(y=1.0, line_dash="dash", line_color="black")
    fig.add_annotation(
        text="dashed line: baseline (1.0); < 1: cheaper than baseline",
        xref="paper", yref="paper", x=0.0, y=1.0, xanchor="left", yanchor="bottom",
        showarrow=False, font={"size": 12},
    )
    fig.update_layout(
        barmode="group", height=420, **_BASE_LAYOUT,
        title=title or f"{axis_title(metric)} (lower is better)",
        xaxis_title="data set", yaxis_title=axis_title(metric),
        legend={"title": {"text": "variant"}},
    )
    fig.update_yaxes(**_AXIS_STYLE)
    fig.update_xaxes(showline=True, linecolor=_AXIS_STYLE["linecolor"])
    return fig


def plot_lr_schedule(
    steps: Sequence[float], lrs: Sequence[float], title: str | None = None, log_y: bool = False
) -> go.Figure:
    """Learning rate against optimizer step (one line).

    ``steps`` and ``lrs`` must have the same length (``ValueError`` otherwise).
    """
    steps, lrs = list(steps), list(lrs)
    if len(steps) != len(lrs):
        raise ValueError(f"steps and lrs differ in length: {len(steps)} != {len(lrs)}")
    fig = go.Figure(go.Scatter(x=steps, y=lrs, mode="lines", name="learning rate"))
    fig.update_layout(
        title=title or "learning-rate schedule", height=350, **_BASE_LAYOUT,
        xaxis_title=axis_title("effective_step"), yaxis_title=axis_title("lr"),
    )
    fig.update_xaxes(**_AXIS_STYLE)
    fig.update_yaxes(**_AXIS_STYLE, rangemode="tozero")
    if log_y:
        fig.update_yaxes(type="log", rangemode="normal")
    return fig


def plot_lr_schedules(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str | None = None,
    log_y: bool = False,
) -> go.Figure:
    """Several learning-rate schedules on one plot: one line per name.

    ``curves`` maps a schedule name to ``(steps, lrs)`` (equal lengths, ``ValueError``
    otherwise); colors follow :func:`variant_colors` in the mapping's order. An empty
    mapping gives a "no data yet" figure.
    """
    if not curves:
        return _empty_figure("no data yet", title)
    colors = variant_colors(curves)
    fig = go.Figure()
    for name, (steps, lrs) in curves.items():
        steps, lrs = list(steps), list(lrs)
        if len(steps) != len(lrs):
            raise ValueError(f"{name}: steps and lrs differ in length: {len(steps)} != {len(lrs)}")
        fig.add_trace(go.Scatter(x=steps, y=lrs, mode="lines", name=str(name),
                                 line={"color": colors[name], "width": 2}))
    fig.update_layout(
        title=title or "learning-rate schedules", height=380, **_BASE_LAYOUT,
        xaxis_title=axis_title("effective_step"), yaxis_title=axis_title("lr"),
        legend={"title": {"text": "schedule"}},
    )
    fig.update_xaxes(**_AXIS_STYLE)
    fig.update_yaxes(**_AXIS_STYLE, rangemode="tozero")
    if log_y:
        fig.update_yaxes(type="log", rangemode="normal")
    return fig


def plot_lr_finder(
    lrs: Sequence[float],
    losses: Sequence[float],
    smoothed: Sequence[float] | None = None,
    suggestions: Mapping[str, float] | None = None,
    points: Mapping[str, tuple[float, float]] | None = None,
    reference_lr: float | None = None,
    title: str | None = None,
) -> go.Figure:
    """The LR range test (Smith 2017): training loss against learning rate, log x axis.

    What it shows: the loss of each mini-batch (faint) and its smoothed value (line) as
    the rate grows exponentially; the suggested rates as markers on the smoothed curve
    (``points``: name -> ``(lr, loss)``, as :class:`~workbench.techniques.optimization.
    LRFinderResult` holds them) or, without ``points``, as dotted vertical lines at
    ``suggestions`` (name -> lr); ``reference_lr`` (for example the recipe's rate) as a
    dashed gray vertical line. A good rate lies on the steep downward slope, before the
    minimum.

    Raises ``ValueError`` when ``lrs``, ``losses`` and ``smoothed`` differ in length.
    """
    lrs, losses = list(lrs), list(losses)
    smoothed = list(smoothed) if smoothed is not None else None
    if len(lrs) != len(losses) or (smoothed is not None and len(smoothed) != len(lrs)):
        raise ValueError(f"lrs, losses and smoothed must have equal lengths; got {len(lrs)}, "
                         f"{len(losses)}, {None if smoothed is None else len(smoothed)}")
    if not lrs:
        return _empty_figure("no data yet", title)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=lrs, y=losses, mode="lines", name="loss (each batch)",
                             line={"color": _rgba(_PALETTE[0], 0.3), "width": 1}))
    if smoothed is not None:
        fig.add_trace(go.Scatter(x=lrs, y=smoothed, mode="lines", name="smoothed loss",
                                 line={"color": _PALETTE[0], "width": 2.5}))
    shapes: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    marks = list((points or {}).items())
    for i, (name, (lr, loss)) in enumerate(marks):
        fig.add_trace(go.Scatter(
            x=[lr], y=[loss], mode="markers", name=f"{name}: {lr:.2e}",
            marker={"size": 12, "color": _PALETTE[(i + 1) % len(_PALETTE)],
                    "symbol": "circle-open", "line": {"width": 3}},
        ))
    if not marks:
        for i, (name, lr) in enumerate((suggestions or {}).items()):
            c = _PALETTE[(i + 1) % len(_PALETTE)]
            shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": lr, "x1": lr,
                           "y0": 0, "y1": 1, "line": {"dash": "dot", "color": c, "width": 2}})
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name=f"{name}: {lr:.2e}",
                                     line={"dash": "dot", "color": c}))
    if reference_lr is not None:
        shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": reference_lr,
                       "x1": reference_lr, "y0": 0, "y1": 1,
                       "line": {"dash": "dash", "color": "gray", "width": 1.5}})
        annotations.append({"text": f"recipe lr {reference_lr:g}", "x": math.log10(reference_lr),
                            "xref": "x", "y": 1.0, "yref": "paper", "showarrow": False,
                            "xanchor": "left", "yanchor": "bottom",
                            "font": {"size": 11, "color": "gray"}})
    curve = [v for v in (smoothed if smoothed is not None else losses) if math.isfinite(v)]
    raw = [v for v in losses if math.isfinite(v)]
    layout: dict[str, Any] = {}
    if curve:
        # the whole smoothed curve and every batch loss below its top stay on the axis; only
        # single batch losses above the smoothed curve's highest point (the divergence the
        # test stops at) are cut, and the figure says so
        lo, hi = min(curve + raw), max(curve)
        pad = 0.05 * max(hi - lo, 1e-3)
        layout["yaxis_range"] = [lo - pad, hi + pad]
        cut = sum(v > hi + pad for v in raw)
        if cut:
            annotations.append({"text": f"{cut:,} batch losses above {hi + pad:.3g} not shown",
                                "x": 0.0, "xref": "paper", "y": 0.0, "yref": "paper", "showarrow": False,
                                "xanchor": "left", "yanchor": "bottom", "font": {"size": 11, "color": "gray"}})
    fig.update_layout(title=title or "LR range test", height=400, shapes=shapes,
                      annotations=annotations, **_BASE_LAYOUT, **layout,
                      xaxis_title="learning rate (log scale)", yaxis_title=axis_title("train_loss"))
    fig.update_xaxes(**_AXIS_STYLE, type="log")
    fig.update_yaxes(**_AXIS_STYLE)
    return fig


def plot_learning_curve(
    history: pd.DataFrame | Sequence[Mapping[str, Any]],
    x: str = "effective_step",
    title: str | None = None,
) -> go.Figure:
    """Loss and accuracy of a single run (train and validation), side by side.

    ``history`` is a DataFrame or a list of metric rows (dicts, e.g. ``State.history``)
    with column ``x`` and any of ``train_loss, val_loss, train_accuracy,
    val_accuracy``. Missing metrics are left out; NaNs are skipped. An empty history
    gives a "no data yet" figure. Raises ``ValueError`` if ``x`` is missing.
    """
    df = history if isinstance(history, pd.DataFrame) else pd.DataFrame(list(history))
    if df.empty:
        return _empty_figure("no data yet", title)
    _require(df, [x], "history")
    fig = make_subplots(rows=1, cols=2, subplot_titles=["loss", "accuracy"])
    styles = {"train": {"dash": "solid"}, "val": {"dash": "dot"}}
    for col_idx, kind in enumerate(("loss", "accuracy"), start=1):
        for i, split in enumerate(("train", "val")):
            name = f"{split}_{kind}"
            if name not in df.columns:
                continue
            cx, cy = _seed_curve(df, x, name)
            if not len(cx):
                continue
            fig.add_trace(
                go.Scatter(x=cx, y=cy, mode="lines+markers" if len(cx) < 30 else "lines",
                           name=axis_title(name),
                           line={"color": _PALETTE[i], **styles[split]}),
                row=1, col=col_idx,
            )
    fig.update_xaxes(title_text=axis_title(x))
    fig.update_layout(title=title, height=380, **_BASE_LAYOUT)
    fig.update_xaxes(**_AXIS_STYLE)
    fig.update_yaxes(**_AXIS_STYLE)
    return fig


# --------------------------------------------------------------------------- table

def _fmt_sig(v: float) -> str:
    return format_number(v)


def _fmt_std(v: float) -> str:
    return format_number(v, sig=2)


def _fmt_ratio(v: float) -> str:
    return f"{v:.2f}"


# (label, mean column, std column, formats of the mean and the spread, text when the mean is NaN)
_TABLE_COLUMNS: tuple[tuple[str, str, str, Any, Any, str], ...] = (
    ("time to target (s)", "time_to_target_s_mean", "time_to_target_s_std", _fmt_sig, _fmt_std, "not reached"),
    ("examples to target", "examples_to_target_mean", "examples_to_target_std", format_count, format_count,
     "not reached"),
    ("final metric", "final_metric_mean", "final_metric_std", _fmt_sig, _fmt_std, "—"),
    ("training time (s)", "wall_time_s_mean", "wall_time_s_std", _fmt_sig, _fmt_std, "—"),
    ("test accuracy", "test_accuracy_mean", "test_accuracy_std", _fmt_sig, _fmt_std, "—"),
    ("time ratio", "time_to_target_ratio", "time_to_target_ratio_std", _fmt_ratio, _fmt_ratio, "not reached"),
    ("examples ratio", "examples_to_target_ratio", "examples_to_target_ratio_std", _fmt_ratio, _fmt_ratio,
     "not reached"),
)


def _is_nan(v: Any) -> bool:
    try:
        return v is None or bool(pd.isna(v))
    except (TypeError, ValueError):
        return False


def _mean_std(mean: Any, std: Any, fmt: Any, std_fmt: Any, nan_text: str, seeds: Any = None) -> str:
    if _is_nan(mean):
        return nan_text
    s = fmt(float(mean))
    one = isinstance(seeds, (int, np.integer)) and seeds < 2  # no spread of one value
    if not _is_nan(std) and not one:
        s += " ± " + std_fmt(float(std))
    return s


def results_table(
    summary: pd.DataFrame, claims: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Summary formatted for display: one row per (data set, variant), strings.

    Columns: ``dataset``, ``variant``, ``seeds`` and ``reached`` when present, then
    "mean ± std" strings (three significant figures, thousands separators; no "± std" for
    a row of one seed, where it would read as a measured spread) for each of time to target, examples to target, final metric,
    test accuracy, and the ratios to the baseline (time ratio, examples ratio) whose
    columns are in ``summary``; a NaN mean reads "not reached" (to-target columns) or
    "—". ``reached`` is shown as ``k/n`` when it counts seeds. With ``claims`` (variant ->
    claimed speedup text, e.g. ``{"curriculum": "1.5× fewer steps (paper)"}``) a
    "claimed" column is put beside the measured time ratio; variants without a claim
    get "". Without ``claims``, a ``claim`` column of ``summary`` (as
    :func:`workbench.experiment.summarize` writes) is used when any entry is non-empty.
    A ``verdict`` column of ``summary`` (the runner's reading of each ratio, e.g. "one
    seed: no verdict") is shown last.

    Raises ``ValueError`` if ``dataset`` or ``variant`` is missing.
    """
    _require(summary, ["dataset", "variant"], "summary")
    if claims is None and "claim" in summary.columns:
        from_summary = {v: "" if _is_nan(c) else str(c)
                        for v, c in zip(summary["variant"], summary["claim"])}
        if any(from_summary.values()):
            claims = from_summary
    out = pd.DataFrame(index=summary.index)
    out["dataset"] = summary["dataset"].astype(str)
    out["variant"] = summary["variant"].astype(str)
    if "seeds" in summary.columns:
        out["seeds"] = summary["seeds"].map(
            lambda s: len(s) if isinstance(s, (list, tuple, set)) else s)
    if "reached" in summary.columns:
        def _reached(row: pd.Series) -> str:
            r = row["reached"]
            n = out.at[row.name, "seeds"] if "seeds" in out.columns else None
            if isinstance(r, (bool, np.bool_)):
                return "yes" if r else "no"
            if _is_nan(r):
                return "—"
            if isinstance(n, (int, np.integer)):
                return f"{int(r)}/{int(n)}"
            return str(r)
        out["reached"] = summary.apply(_reached, axis=1)
    if "target_metric" in summary.columns and "target_value" in summary.columns:
        out["target"] = [
            "—" if _is_nan(v) else f"{m}: {v:g}" if isinstance(v, (int, float)) else f"{m}: {v}"
            for m, v in zip(summary["target_metric"], summary["target_value"])
        ]
    seeds = list(out["seeds"]) if "seeds" in out.columns else [None] * len(summary)
    for label, mcol, scol, fmt, std_fmt, nan_text in _TABLE_COLUMNS:
        if mcol not in summary.columns:
            continue
        stds = summary[scol] if scol in summary.columns else [math.nan] * len(summary)
        out[label] = [_mean_std(m, s, fmt, std_fmt, nan_text, n) for m, s, n in zip(summary[mcol], stds, seeds)]
        if label == "time ratio" and claims is not None:
            out["claimed"] = [claims.get(v, "") for v in summary["variant"]]
    if claims is not None and "claimed" not in out.columns:
        out["claimed"] = [claims.get(v, "") for v in summary["variant"]]
    if "verdict" in summary.columns:
        out["verdict"] = ["" if _is_nan(v) else str(v) for v in summary["verdict"]]
    return out.reset_index(drop=True)
