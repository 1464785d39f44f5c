"""Active learning: a pool-based loop by example id, acquisition functions, learning curves.

- :mod:`~workbench.techniques.active.acquisition`: pure acquisition scores (random, least
  confidence, margin, entropy, BALD, variation ratios, k-center greedy) and batched pool
  scoring (MC dropout under ``torch.inference_mode``).
- :mod:`~workbench.techniques.active.loop`: :class:`ActiveLearner` (rounds of train ->
  measure -> acquire; checkpointed atomically and resumable exactly).
- :mod:`~workbench.techniques.active.curves`: labels-to-target, normalised AULC, summary
  over seeds, plotly figures.
- :mod:`~workbench.techniques.active.compare`: per-data-set recipes, the strategy
  comparison runner, the notebook's widget callback.

See ``README.md`` in this folder.
"""

from workbench.techniques.active.acquisition import (
    MC_STRATEGIES,
    STRATEGIES,
    Acquisition,
    acquire,
    bald,
    entropy,
    has_dropout,
    k_center_greedy,
    least_confidence,
    margin,
    mc_dropout_probs,
    pool_features,
    predict_probs,
    random_scores,
    select_top_k,
    variation_ratios,
)
from workbench.techniques.active.compare import (
    ACTIVE_RECIPES,
    ActiveComparison,
    ActiveRecipe,
    active_learning_panel_callback,
    active_recipe,
    comparison_table,
    run_comparison,
)
from workbench.techniques.active.curves import (
    aulc,
    curves_frame,
    labels_to_target,
    plot_acquired,
    plot_active_curves,
    summarize_runs,
)
from workbench.techniques.active.loop import (
    ActiveLearner,
    ActiveLearningConfig,
    ActiveRun,
    initial_selection,
    round_seed,
)

__all__ = [
    "ACTIVE_RECIPES",
    "MC_STRATEGIES",
    "STRATEGIES",
    "Acquisition",
    "ActiveComparison",
    "ActiveLearner",
    "ActiveLearningConfig",
    "ActiveRecipe",
    "ActiveRun",
    "acquire",
    "active_learning_panel_callback",
    "active_recipe",
    "aulc",
    "bald",
    "comparison_table",
    "curves_frame",
    "entropy",
    "has_dropout",
    "initial_selection",
    "k_center_greedy",
    "labels_to_target",
    "least_confidence",
    "margin",
    "mc_dropout_probs",
    "plot_acquired",
    "plot_active_curves",
    "pool_features",
    "predict_probs",
    "random_scores",
    "round_seed",
    "run_comparison",
    "select_top_k",
    "summarize_runs",
    "variation_ratios",
]

#: loop techniques of this family (Technique subclasses); see tests/techniques/test_contract.py
TECHNIQUES: list = []
