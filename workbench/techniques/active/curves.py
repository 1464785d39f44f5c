"""Learning curves of active learning: accuracy against the number of labels.

From the same records (:class:`~workbench.techniques.active.loop.ActiveRun`):

- :func:`labels_to_target`: labels at the first round whose metric reaches the target
  (the yardstick of Gal et al. 2017: labels needed to reach 95% test accuracy);
- :func:`aulc`: area under the learning curve, normalised by the label range (the mean
  accuracy over that range, in ``[0, 1]``; trapezoidal rule);
- :func:`summarize_runs`: per (data set, strategy) mean and spread over seeds, and the
  ratio of labels-to-target to random's;
- :func:`curves_frame` and :func:`plot_active_curves`: mean ± std curves over seeds
  (through :func:`workbench.plots.plot_curves` with ``x="labels"``), and
  :func:`plot_acquired`: the examples one round picked (digits as images, sentences as a
  table), with their scores.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from workbench import plots
from workbench.experiment import Target
from workbench.techniques.active.loop import ActiveRun

__all__ = [
    "CURVE_COLUMNS",
    "aulc",
    "curves_frame",
    "labels_to_target",
    "plot_acquired",
    "plot_active_curves",
    "summarize_runs",
]

CURVE_COLUMNS = ["dataset", "variant", "seed", "round", "labels", "val_accuracy", "val_loss",
                 "test_accuracy", "test_loss", "train_accuracy", "train_loss", "train_seconds",
                 "acquire_seconds"]


def _isnan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def labels_to_target(labels: Sequence[float], metric: Sequence[float], target: Target) -> float:
    """Labels at the first curve point whose metric reaches ``target`` (NaN if none does).

    Args:
        labels: label counts of the curve points, in round order.
        metric: the target metric at those points (NaN for not measured).
        target: :class:`~workbench.experiment.Target` (value and mode).

    Raises:
        ValueError: ``labels`` and ``metric`` of different lengths.
    """
    if len(labels) != len(metric):
        raise ValueError(f"labels ({len(labels)}) and metric ({len(metric)}) must have the same length")
    for n, m in zip(labels, metric):
        if target.reached(float(m) if m is not None else math.nan):
            return float(n)
    return math.nan


def aulc(labels: Sequence[float], metric: Sequence[float], lo: float | None = None,
         hi: float | None = None) -> float:
    """Area under the learning curve, normalised: ``(1 / (hi - lo)) * integral_lo^hi acc(n) dn``.

    The curve is linear between its points (trapezoidal rule); the result is the mean
    metric over the label range, so a curve at 1.0 everywhere scores 1.0 and curves of
    strategies on the same label schedule compare directly. ``lo`` / ``hi`` default to
    the first and last label counts; a range beyond the curve holds its end values.

    Args:
        labels: increasing label counts. metric: values at those counts (no NaN).
        lo, hi: the label range, ``lo < hi``.

    Returns:
        float; with a single point (or ``lo == hi``), that point's value.

    Raises:
        ValueError: empty or unequal inputs, NaN, labels not increasing, or ``lo > hi``.
    """
    x = np.asarray(labels, dtype=float)
    y = np.asarray(metric, dtype=float)
    if x.size == 0 or x.size != y.size:
        raise ValueError(f"labels and metric must be non-empty and of equal length; got {x.size} and {y.size}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("labels and metric must be finite (a curve point was not measured)")
    if x.size > 1 and not (np.diff(x) > 0).all():
        raise ValueError("labels must be strictly increasing")
    lo = float(x[0]) if lo is None else float(lo)
    hi = float(x[-1]) if hi is None else float(hi)
    if lo > hi:
        raise ValueError(f"lo ({lo}) must not exceed hi ({hi})")
    if lo == hi:
        return float(np.interp(lo, x, y))
    inner = x[(x > lo) & (x < hi)]
    grid = np.concatenate([[lo], inner, [hi]])
    vals = np.interp(grid, x, y)
    return float(np.sum((vals[1:] + vals[:-1]) / 2 * np.diff(grid)) / (hi - lo))


def curves_frame(runs: Sequence[ActiveRun]) -> pd.DataFrame:
    """Long DataFrame, one row per (run, round), columns :data:`CURVE_COLUMNS` (the
    strategy is in ``variant`` so :func:`workbench.plots.plot_curves` colours by it)."""
    rows = []
    for r in runs:
        for row in r.curve:
            out = {"dataset": r.dataset, "variant": r.strategy, "seed": r.seed}
            for c in CURVE_COLUMNS[3:]:
                out[c] = row.get(c, math.nan)
            rows.append(out)
    df = pd.DataFrame(rows, columns=CURVE_COLUMNS)
    for c in CURVE_COLUMNS[3:]:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


def _mean_std(xs: Sequence[float]) -> tuple[float, float]:
    xs = [float(x) for x in xs if not _isnan(x)]
    if not xs:
        return math.nan, math.nan
    a = np.asarray(xs)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def summarize_runs(runs: Sequence[ActiveRun], targets: Target | Mapping[str, Target],
                   baseline: str = "random", metric_for_aulc: str | None = None) -> pd.DataFrame:
    """One row per (data set, strategy), from the runs' curves.

    Columns: ``dataset, strategy, seeds, target_metric, target_value, reached`` (seeds
    that reached the target), ``labels_to_target_mean, labels_to_target_std``,
    ``labels_to_target_ratio_vs_random`` (mean over seeds / the baseline's mean; NaN
    unless every seed of both reached the target) and ``..._ratio_std`` (spread of the
    per-seed ratios, seeds paired), ``aulc_mean, aulc_std`` (normalised AULC of the
    target metric, or ``metric_for_aulc``), ``final_metric_mean, final_metric_std``,
    ``final_labels``, ``acquire_seconds_mean`` and ``train_seconds_mean`` (per run,
    summed over rounds). Standard deviations are sample ones (ddof 1; 0 for one seed).

    Raises:
        ValueError: a data set without a target.
    """
    keys = list(dict.fromkeys((r.dataset, r.strategy) for r in runs))
    out = []
    for dataset, strategy in keys:
        if isinstance(targets, Mapping):
            if dataset not in targets:
                raise ValueError(f"no target for data set {dataset!r}; targets: {sorted(targets)}")
            t = targets[dataset]
        else:
            t = targets
        metric = metric_for_aulc or t.metric
        mine = sorted((r for r in runs if (r.dataset, r.strategy) == (dataset, strategy)), key=lambda r: r.seed)
        base = {r.seed: r for r in runs if (r.dataset, r.strategy) == (dataset, baseline)}

        def ltt(run: ActiveRun, _t: Target = t) -> float:
            return labels_to_target([c["labels"] for c in run.curve],
                                    [c.get(_t.metric, math.nan) for c in run.curve], _t)

        mine_ltt = [ltt(r) for r in mine]
        row: dict[str, Any] = {"dataset": dataset, "strategy": strategy, "seeds": len(mine),
                               "target_metric": t.metric, "target_value": t.value,
                               "reached": sum(not _isnan(x) for x in mine_ltt)}
        row["labels_to_target_mean"], row["labels_to_target_std"] = _mean_std(mine_ltt)
        pairs = [(a, ltt(base[r.seed])) for a, r in zip(mine_ltt, mine) if r.seed in base]
        if pairs and len(pairs) == len(mine) and all(not _isnan(a) and not _isnan(b) for a, b in pairs):
            row["labels_to_target_ratio_vs_random"] = float(np.mean([a for a, _ in pairs]) /
                                                            np.mean([b for _, b in pairs]))
            per_seed = [a / b for a, b in pairs]
            row["labels_to_target_ratio_std"] = float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0
        else:
            row["labels_to_target_ratio_vs_random"] = math.nan
            row["labels_to_target_ratio_std"] = math.nan
        areas = [aulc([c["labels"] for c in r.curve], [c[metric] for c in r.curve]) for r in mine if r.curve]
        row["aulc_mean"], row["aulc_std"] = _mean_std(areas)
        finals = [r.curve[-1].get(t.metric, math.nan) for r in mine if r.curve]
        row["final_metric_mean"], row["final_metric_std"] = _mean_std(finals)
        row["final_labels"] = float(np.mean([r.curve[-1]["labels"] for r in mine if r.curve])) if mine else math.nan
        row["acquire_seconds_mean"] = _mean_std([r.acquire_seconds for r in mine])[0]
        row["train_seconds_mean"] = _mean_std([r.train_seconds for r in mine])[0]
        out.append(row)
    return pd.DataFrame(out)


def plot_active_curves(frame: pd.DataFrame, y: str = "test_accuracy",
                       target: float | Mapping[str, float] | None = None,
                       title: str | None = None) -> go.Figure:
    """Accuracy against labels, one line per strategy (mean over seeds, ± std band), one
    subplot per data set; the dashed line is the target. ``frame`` is
    :func:`curves_frame` output (an empty frame gives a "no data yet" figure)."""
    fig = plots.plot_curves(frame, x="labels", y=y, color="variant", facet="dataset", target=target,
                            title=title)
    fig.update_xaxes(title_text="labelled examples")
    fig.update_layout(legend_title_text="strategy")
    return fig


def plot_acquired(data: Any, ids: Sequence[int], scores: Sequence[float] | None = None,
                  class_names: Sequence[str] | None = None, title: str | None = None,
                  max_examples: int = 20, columns: int = 5) -> go.Figure:
    """The examples one acquisition picked, with their labels and scores.

    Images (vision data: ``inputs`` ``[N, C, H, W]``) are drawn as a grid of grey-scale
    heatmaps titled ``id · label · score``; text (``texts`` present) as a table of id,
    label, score and sentence.

    Args:
        data: an :class:`~workbench.data.datasets.ExampleDataset` that holds the ids
            (the training pool).
        ids: example ids, in the order picked. scores: their acquisition scores.
        class_names: names for the labels (default: the label numbers).
        title: figure title. max_examples: show at most this many (the first ones).
        columns: images per row.

    Raises:
        ValueError: ``scores`` of a different length than ``ids``.
        KeyError: an id not in ``data``.
    """
    ids = [int(i) for i in ids][:max_examples]
    scores = list(scores)[:max_examples] if scores is not None else None
    if scores is not None and len(scores) != len(ids):
        raise ValueError(f"scores ({len(scores)}) and ids ({len(ids)}) must have the same length")
    if not ids:
        return plots._empty_figure("nothing acquired", title)
    sub = data.subset_by_ids(ids)
    labels = [class_names[int(t)] if class_names else str(int(t)) for t in sub.targets]
    score_txt = [f"{s:.3g}" for s in scores] if scores is not None else ["" for _ in ids]
    texts = getattr(sub, "texts", None)
    if texts is not None or getattr(sub, "modality", "") == "text":
        sentences = texts if texts is not None else [" ".join(map(str, x.tolist())) for x in sub.inputs]
        fig = go.Figure(go.Table(
            columnwidth=[60, 70, 60, 600],
            header={"values": ["id", "label", "score", "sentence"], "align": "left",
                    "fill_color": "#EBF0F8"},
            cells={"values": [ids, labels, score_txt, sentences], "align": "left", "height": 26}))
        fig.update_layout(title=title, height=min(120 + 34 * len(ids), 900),
                          margin={"t": 50 if title else 10, "l": 10, "r": 10, "b": 10})
        return fig
    x = sub.inputs
    if x.dim() == 4:
        x = x.float().mean(dim=1)  # channels -> grey
    elif x.dim() != 3:
        raise ValueError(f"plot_acquired draws images [N, C, H, W] or text; got inputs of shape {tuple(x.shape)}")
    cols = max(1, min(columns, len(ids)))
    rows = math.ceil(len(ids) / cols)
    titles = [f"id {i} · {lab}" + (f"<br>score {s}" if s else "") for i, lab, s in zip(ids, labels, score_txt)]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.02,
                        vertical_spacing=0.12 if rows > 1 else 0.05)
    for k, img in enumerate(x):
        fig.add_trace(go.Heatmap(z=img.numpy()[::-1], colorscale="Greys", showscale=False,
                                 hovertemplate="x=%{x} y=%{y} value=%{z:.2f}<extra></extra>"),
                      row=k // cols + 1, col=k % cols + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor=None)
    fig.update_annotations(font_size=11)
    # at least 520 px: a two-line title (a <br> and a <sup> line) fits without being cut
    fig.update_layout(title=title, height=170 * rows + 60, width=max(130 * cols, 520),
                      margin={"t": 80 if title else 40, "l": 10, "r": 10, "b": 10},
                      plot_bgcolor="white", paper_bgcolor="white")
    return fig
