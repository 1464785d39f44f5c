"""Active learning: a pool-based loop by example id, acquisition functions, learning curves.

Modules, imported one way (each uses only those above it):

- :mod:`~workbench.techniques.active.acquisition` (pure scores, and the pool-scoring
  passes through :mod:`workbench.train.inference`): random, least confidence, margin,
  entropy, BALD, variation ratios, k-center greedy; MC dropout scoring.
- :mod:`~workbench.techniques.active.loop`: :class:`ActiveLearner` (rounds of train ->
  measure -> acquire around the Trainer; checkpointed atomically and resumable exactly).
  Active learning changes which examples are labelled between fits, not what happens
  inside one, so the family has no loop technique (``TECHNIQUES`` is empty).
- :mod:`~workbench.techniques.active.curves`: labels-to-target, normalised AULC, summary
  over seeds, and the figures of those records (learning curves, acquired examples).
- :mod:`~workbench.techniques.active.compare`: per-data-set recipes and the strategy
  comparison runner (:class:`ActiveComparison`).
- :mod:`~workbench.techniques.active.display` (notebook helpers): the widget callback.

See ``README.md`` in this folder (the method card).
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
from workbench.techniques.active.display import active_learning_panel_callback
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
