"""Figures for the skipping notebook (plotly): which examples were skipped, by class and
by difficulty, the most-skipped examples themselves, and gradient caching's reuse error."""

from __future__ import annotations

import html
import math
from typing import Any

import plotly.graph_objects as go
import torch

__all__ = ["most_skipped_html", "reuse_error_figure", "skipped_by_class_figure", "skipped_by_difficulty_figure"]


def _train_view(out: dict[str, Any]):
    train, rec = out["splits"].train, out["recorder"]
    ids = train.ids.long()
    return train, rec.drawn[ids].float(), rec.skipped[ids].float(), rec.last_loss[ids]


def skipped_by_class_figure(out: dict[str, Any]) -> go.Figure:
    """Bar chart: the fraction of draws skipped, per class (``out`` from
    :func:`~workbench.techniques.skipping.compare.compare_skipping`)."""
    train, drawn, skipped, _ = _train_view(out)
    task = out["splits"].task
    names = list(getattr(task, "class_names", None) or range(task.num_classes))
    fr = []
    for c in range(task.num_classes):
        m = train.targets == c
        fr.append(float(skipped[m].sum() / drawn[m].sum().clamp(min=1)))
    fig = go.Figure(go.Bar(x=[str(n) for n in names], y=fr))
    fig.update_layout(title="Skipped draws by class", xaxis_title="class", yaxis_title="fraction of draws skipped",
                      height=320)
    return fig


def skipped_by_difficulty_figure(out: dict[str, Any], bins: int = 30) -> go.Figure:
    """Histograms of the examples' last training loss (a difficulty proxy): all examples,
    and weighted by how often each was skipped."""
    _, drawn, skipped, loss = _train_view(out)
    ok = ~torch.isnan(loss)
    x = loss[ok].tolist()
    fig = go.Figure()
    fig.add_trace(go.Histogram(x=x, nbinsx=bins, name="all examples", histnorm="probability", opacity=0.6))
    fig.add_trace(go.Histogram(x=x, y=skipped[ok].tolist(), histfunc="sum", nbinsx=bins, histnorm="probability",
                               name="skips (weighted)", opacity=0.6))
    fig.update_layout(barmode="overlay", title="Skips by difficulty (last training loss)",
                      xaxis_title="last training loss", yaxis_title="share", height=320)
    return fig


def most_skipped_html(out: dict[str, Any], n: int = 12) -> str:
    """HTML: the ``n`` most-skipped training examples with their label and skip count
    (digit images as 8x8 grey tables; sentences as text)."""
    train, drawn, skipped, _ = _train_view(out)
    order = torch.argsort(skipped, descending=True, stable=True)[:n].tolist()
    cells = []
    for i in order:
        label = int(train.targets[i])
        head = f"label {label}, skipped {int(skipped[i])}/{int(drawn[i])}"
        if train.texts is not None:
            body = html.escape(str(train.texts[i])[:200])
        else:
            img = train.inputs[i].float()
            img = img[0] if img.dim() == 3 else img.reshape(int(math.sqrt(img.numel())), -1)
            img = (img - img.min()) / (img.max() - img.min()).clamp(min=1e-8)
            rows = "".join("<tr>" + "".join(
                f'<td style="width:6px;height:6px;padding:0;background:rgb({255 - int(255 * v)},'
                f'{255 - int(255 * v)},{255 - int(255 * v)})"></td>' for v in r.tolist()) + "</tr>" for r in img)
            body = f'<table style="border-collapse:collapse">{rows}</table>'
        cells.append(f'<div style="display:inline-block;margin:4px;vertical-align:top;max-width:220px">'
                     f"<small>{head}</small><br>{body}</div>")
    return "<div>" + "".join(cells) + "</div>"


def reuse_error_figure(rows: list[dict[str, Any]]) -> go.Figure:
    """Gradient caching's reuse error per evaluation row: the cosine similarity and the
    pooled relative norm error (``sum ||g_reused - g|| / sum ||g||`` over the sampled
    hits) between reused and true classifier gradients, and the hit rate."""
    rs = [r for r in rows if "grad_cache_cosine" in r]
    x = [r["effective_step"] for r in rs]
    fig = go.Figure()
    for key, name in (("grad_cache_cosine", "cosine similarity"),
                      ("grad_cache_pooled_rel_error", "relative norm error (pooled over hits)"),
                      ("grad_cache_hit_rate", "hit rate")):
        fig.add_trace(go.Scatter(x=x, y=[r.get(key) for r in rs], mode="lines+markers", name=name))
    if not rs:
        fig.add_annotation(text="no gradient-caching rows (pick the gradient-caching variant)", showarrow=False)
    fig.update_layout(title="Gradient reuse: error on sampled hits", xaxis_title="optimizer step", height=320)
    return fig
