"""Notebook helpers for the curriculum family: plotly figures and the widget callback.

:func:`plot_pacing` (the pacing sliders' callback), :func:`plot_difficulty_histograms`,
:func:`hardest_and_easiest` and :func:`curriculum_panel_callback` (the notebook's Train
button). Plotly, pandas and the UI helpers are imported when a function needs them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.techniques.curriculum.compare import compare_curriculum
from workbench.techniques.curriculum.difficulty import COMPONENTS, DifficultyScores
from workbench.techniques.curriculum.pacing import make_pacing, pacing_curve

__all__ = ["curriculum_panel_callback", "hardest_and_easiest", "plot_difficulty_histograms", "plot_pacing"]


def plot_pacing(name: str = "fixed_exponential", start: float = 0.04, increase_amount: float = 1.9,
                step_length: int = 100, total_steps: int = 1000, compare: Sequence[str] = ()):
    """A plotly figure of the pacing ``name`` (fraction of the easiest data available against
    mini-batch steps), with the functions in ``compare`` drawn thin for reference. The
    curriculum notebook's slider callback.

    Raises:
        ValueError: as :func:`make_pacing`.
    """
    import plotly.graph_objects as go

    fig = go.Figure()
    for other in compare:
        if other == name:
            continue
        xs, ys = pacing_curve(make_pacing(other, total_steps, start, increase_amount, step_length), total_steps)
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=other, line={"width": 1, "dash": "dot"}))
    xs, ys = pacing_curve(make_pacing(name, total_steps, start, increase_amount, step_length), total_steps)
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name=name, line={"width": 3}, line_shape="hv"))
    from workbench.techniques.curriculum.pacing import pacing_knobs_used

    used = pacing_knobs_used(name)  # the title names only the settings this function uses
    parts = [f"start {start:g}"] + [f"growth x{increase_amount:g}"] * ("increase_amount" in used) \
        + [f"step length {step_length}"] * ("step_length" in used)
    fig.update_layout(title=f"pacing: {name} ({', '.join(parts)})", xaxis_title="training steps (mini-batches)",
                      yaxis_title="fraction of the easiest data available", yaxis_range=[0, 1.05],
                      template="plotly_white", height=380)
    return fig


def plot_difficulty_histograms(scores: DifficultyScores, bins: int = 40):
    """Histograms of the raw difficulty components and of the combined score (one panel each)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = list(COMPONENTS) + ["total"]
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=[
        f"{n} (w={scores.weights[n]:g})" if n in scores.weights else "combined (z-scores)" for n in names])
    for k, n in enumerate(names, start=1):
        v = scores.total if n == "total" else scores.components[n]
        fig.add_trace(go.Histogram(x=v.tolist(), nbinsx=bins, name=n, showlegend=False), row=1, col=k)
    fig.update_layout(title="difficulty components (training split)", template="plotly_white", height=320)
    return fig


def hardest_and_easiest(splits: Any, scores: DifficultyScores, k: int = 5):
    """The ``k`` easiest and ``k`` hardest training examples: for text a
    ``pandas.DataFrame`` (rank, id, label, score, sentence); for images a plotly figure
    (two rows of images, titled with id, label and score)."""
    data = splits.train
    ids = scores.easiest(k) + scores.hardest(k)
    index = {int(i): j for j, i in enumerate(scores.ids.tolist())}
    names = getattr(splits.task, "class_names", None)

    def label(t: int) -> str:
        return str(names[t]) if names else str(t)

    if data.texts is not None:
        import pandas as pd

        rows = []
        for r, i in enumerate(ids):
            p = data.position_of(i)
            rows.append({"which": "easiest" if r < k else "hardest", "id": i, "label": label(int(data.targets[p])),
                         "difficulty": round(float(scores.total[index[i]]), 3), "sentence": data.texts[p]})
        return pd.DataFrame(rows)
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    titles = [f"id {i}, y={label(int(data.targets[data.position_of(i)]))}, d={float(scores.total[index[i]]):.2f}"
              for i in ids]
    fig = make_subplots(rows=2, cols=k, subplot_titles=titles)
    for r, i in enumerate(ids):
        img = data.inputs[data.position_of(i)].reshape(-1, data.inputs.shape[-1])
        fig.add_trace(go.Heatmap(z=img.flip(0).tolist(), colorscale="gray_r", showscale=False), row=1 + r // k,
                      col=1 + r % k)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(title="easiest (top) and hardest (bottom) training images", height=380,
                      template="plotly_white", font={"size": 9})
    return fig



def curriculum_panel_callback(dataset: str = "digits", pacing: str = "fixed_exponential", ramp_fraction: float = 0.5,
                              start: float = 0.04, smoke: bool = False, output: Any = None, seed: int = 0,
                              epochs: int | None = None):
    """The notebook's button: baseline vs curriculum with live validation-accuracy curves
    (into ``output``); returns the results table (``pandas.DataFrame``)."""
    from workbench import plots, ui
    from workbench.recipes import baseline_recipe

    target = baseline_recipe(dataset, smoke=smoke).target.value
    live = ui.LivePlot.for_history(x="examples_seen", y="val_accuracy", target=target, output=output, every_s=1.0)
    with live:
        result = compare_curriculum(dataset, pacing, ramp_fraction, start, seeds=[seed], smoke=smoke,
                                    on_eval=live.callback(), epochs=epochs)
    return plots.results_table(result.summary)

