"""Notebook helpers of active learning: the widget callback that runs a strategy against
random with live learning curves. (The curve and acquired-examples figures are in
:mod:`~workbench.techniques.active.curves`, beside the records they draw, because
:class:`~workbench.techniques.active.compare.ActiveComparison` draws them too.)
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from workbench import ui
from workbench.techniques.active.acquisition import STRATEGIES
from workbench.techniques.active.compare import ActiveComparison, active_recipe, run_comparison
from workbench.techniques.active.curves import plot_active_curves

__all__ = ["active_learning_panel_callback"]


def active_learning_panel_callback(dataset: str = "digits", strategy: str = "bald", initial_size: int = 20,
                                   acquisition_size: int = 10, rounds: int | None = None, seed: int = 0,
                                   smoke: bool = False, output: Any = None, splits: Any = None,
                                   show_picked: bool = True) -> pd.DataFrame:
    """The notebook's widget callback: run ``strategy`` and random side by side (same
    model, schedule and seed) with the chosen initial size and acquisition size, drawing
    the learning curves live, one point per round (into ``output``, an
    ``ipywidgets.Output``, or the current cell); then show the examples ``strategy``
    picked in its last acquisition with their scores. Returns the comparison table
    (:func:`~workbench.techniques.active.compare.comparison_table`).

    Args:
        dataset: ``"digits"`` or ``"subj"``.
        strategy: one of :data:`~workbench.techniques.active.acquisition.STRATEGIES`.
        initial_size: initial labelled examples. acquisition_size: labelled per round.
        rounds: acquisition rounds (default: until the recipe's label budget).
        seed: loop seed. smoke: small budgets (tests).
        output: where to draw. splits: preloaded splits. show_picked: display the picked
            examples (in a Jupyter kernel).

    Raises:
        ValueError: unknown data set or strategy, or sizes outside their valid ranges
            (before any training).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; valid: {list(STRATEGIES)}")
    changes: dict[str, Any] = {"initial_size": int(initial_size), "acquisition_size": int(acquisition_size)}
    if rounds is not None:
        changes["rounds"] = int(rounds)
    recipe = active_recipe(dataset, smoke=smoke, **changes)
    holder: dict[str, ActiveComparison] = {}

    def make_figure():
        comp = holder.get("comp")
        return plot_active_curves(comp.frame() if comp else pd.DataFrame(), y=recipe.target.metric,
                                  target=recipe.target.value,
                                  title=f"{dataset}: {strategy} against random (seed {seed})")

    live = ui.LivePlot(make_figure, every_s=0.5, output=output)

    def on_round(comp: ActiveComparison) -> None:
        holder["comp"] = comp
        live.update()

    with live:
        comp = run_comparison([dataset], [strategy], seeds=[seed], smoke=smoke, on_round=on_round,
                              recipes={dataset: recipe}, splits={dataset: splits} if splits is not None else None)
        holder["comp"] = comp
    if show_picked and ui.in_kernel():
        fig = comp.picked_figure(dataset, strategy)
        if output is None:
            ui._display(fig)
        else:
            ui.append_output(output, fig)
    return comp.table()
