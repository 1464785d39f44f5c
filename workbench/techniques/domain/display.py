"""Notebook helpers for domain adaptation (plotly figures): Ganin's lambda schedule, the
live target / discriminator accuracy curves, and a 2-D projection of source and target
features (scikit-learn PCA)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from workbench.techniques.domain.reversal import ganin_lambda, ganin_lr

_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")


def lambda_schedule_figure(gamma: float = 10.0, mu0: float = 0.01, points: int = 101) -> Any:
    """``lambda_p = 2/(1+exp(-gamma p)) - 1`` and the annealed rate ``mu0/(1+10p)^0.75``
    (right axis, as a fraction of ``mu0``) over the progress ``p`` in ``[0, 1]``.

    Raises:
        ValueError: ``gamma`` or ``mu0`` not > 0, ``points`` < 2.
    """
    import plotly.graph_objects as go

    if isinstance(points, bool) or not isinstance(points, int) or points < 2:
        raise ValueError(f"points must be an integer >= 2; got {points!r}")
    ps = [i / (points - 1) for i in range(points)]
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=ps, y=[ganin_lambda(p, gamma) for p in ps], name=f"lambda (gamma={gamma:g})"))
    fig.add_trace(go.Scatter(x=ps, y=[ganin_lr(p, mu0) / mu0 for p in ps], name="learning rate / mu0",
                             line={"dash": "dot"}))
    fig.update_layout(title="Ganin et al.'s schedules", xaxis_title="training progress p", yaxis_range=[0, 1.05],
                      height=320, margin={"l": 50, "r": 20, "t": 50, "b": 40})
    return fig


def domain_curves_figure(rows: Sequence[Mapping[str, Any]], domains: Sequence[str], x: str = "effective_step") -> Any:
    """Validation accuracy per domain (``val_accuracy/<domain>``, evaluation rows) and the
    discriminator's accuracy (``domain_accuracy``, every row that has it; 0.5 = chance)."""
    import plotly.graph_objects as go

    def pts(key: str) -> list[tuple[Any, float]]:
        return [(r[x], r[key]) for r in rows
                if r.get(key) is not None and not (isinstance(r[key], float) and math.isnan(r[key]))]

    fig = go.Figure()
    for i, d in enumerate(domains):
        p = pts(f"val_accuracy/{d}")
        fig.add_trace(go.Scatter(x=[a for a, _ in p], y=[b for _, b in p], mode="lines+markers",
                                 name=f"{d} val accuracy", line={"color": _COLORS[i % 4]}))
    p = pts("domain_accuracy")
    if p:
        fig.add_trace(go.Scatter(x=[a for a, _ in p], y=[b for _, b in p], mode="lines", name="discriminator accuracy",
                                 line={"color": "#7f7f7f", "dash": "dash"}))
        fig.add_hline(y=0.5, line={"dash": "dot", "color": "#7f7f7f"}, annotation_text="chance")
    fig.update_layout(title="accuracy per domain and the discriminator's", xaxis_title=x.replace("_", " "),
                      yaxis_title="accuracy", height=360, margin={"l": 50, "r": 20, "t": 50, "b": 40})
    return fig


def projection_figure(feats: Mapping[str, Any], names: Sequence[str], title: str = "features (PCA)") -> Any:
    """Source and target features projected on their first two principal components
    (scikit-learn ``PCA``), one colour per domain.

    Args:
        feats: ``{"features": float [M, D], "domain": long [M]}`` (see
            :func:`~workbench.techniques.domain.compare.features`).
        names: the domains' names, by domain index.
    """
    import plotly.graph_objects as go
    from sklearn.decomposition import PCA

    x = feats["features"].numpy()
    d = feats["domain"].numpy()
    xy = PCA(n_components=2, random_state=0).fit_transform(x)
    fig = go.Figure()
    for i, n in enumerate(names):
        m = d == i
        fig.add_trace(go.Scatter(x=xy[m, 0], y=xy[m, 1], mode="markers", name=n,
                                 marker={"size": 4, "opacity": 0.6, "color": _COLORS[i % 4]}))
    fig.update_layout(title=title, xaxis_title="PC 1", yaxis_title="PC 2", height=360,
                      margin={"l": 50, "r": 20, "t": 50, "b": 40})
    return fig
