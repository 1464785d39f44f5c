"""Compute skipping: selective backprop, difficulty prediction (skip examples predicted
easy before their forward pass) and gradient caching (reuse a similar example's
classifier gradient instead of backpropagating) and RHO-LOSS selection.

See ``README.md`` in this folder (the method card). Modules, imported one way:

- :mod:`~workbench.techniques.skipping.selection` (pure): Selective Backprop's percentile
  keep probability, Composer's keep-fraction sampling and interval, the loss history.
- :mod:`~workbench.techniques.skipping.difficulty` (pure): features known before the
  forward pass, the online ridge predictor, the held-out ids, Spearman's rho.
- :mod:`~workbench.techniques.skipping.gradcache` (pure): closed-form per-example
  classifier gradients, the per-class gradient cache, the adaptive threshold, the reuse
  error.
- :mod:`~workbench.techniques.skipping.technique` (loop techniques):
  :class:`SelectiveBackprop`, :class:`DifficultyPrediction`, :class:`GradientCaching`,
  :class:`RhoLoss` (RHO-LOSS: reducible-loss selection with a cross-fitted
  irreducible-loss model).
- :mod:`~workbench.techniques.skipping.compare` (comparison): :func:`make_technique`,
  :class:`SkipRecorder`, :func:`compare_skipping` (one technique vs the tuned baseline).
- :mod:`~workbench.techniques.skipping.display` (notebook helpers): skipped examples by
  class and by difficulty, the most-skipped examples, the gradient-reuse error.

References: Jiang et al. 2019, "Accelerating Deep Learning by Focusing on the Biggest
Losers" (arXiv:1910.00762); MosaicML Composer, ``composer.algorithms.SelectiveBackprop``;
Mindermann et al. 2022, "Prioritized Training on Points that are Learnable, Worth
Learning, and Not Yet Learnt" (RHO-LOSS, ICML); Kaddour et al. 2023, "No Train No Gain"
(NeurIPS); Mirzasoleiman et al. 2020, "Coresets for Data-efficient Training of Machine
Learning Models" (CRAIG, ICML).
"""

from workbench.techniques.skipping.compare import (
    VARIANTS,
    SkipRecorder,
    compare_skipping,
    make_technique,
)
from workbench.techniques.skipping.difficulty import (
    FEATURE_NAMES,
    OnlineRidge,
    example_features,
    is_held_out,
    spearman,
    token_rarity_table,
)
from workbench.techniques.skipping.display import (
    most_skipped_html,
    reuse_error_figure,
    skipped_by_class_figure,
    skipped_by_difficulty_figure,
)
from workbench.techniques.skipping.gradcache import (
    GradientCache,
    adapt_threshold,
    classifier_example_grads,
    reuse_error,
)
from workbench.techniques.skipping.selection import (
    LossHistory,
    keep_fraction_indices,
    loss_percentile,
    percentile_keep_probability,
    should_select,
)
from workbench.techniques.skipping.technique import (
    DifficultyPrediction,
    GradientCaching,
    RhoLoss,
    SelectiveBackprop,
    subset_batch,
)

__all__ = [
    "FEATURE_NAMES",
    "TECHNIQUES",
    "VARIANTS",
    "DifficultyPrediction",
    "GradientCache",
    "GradientCaching",
    "LossHistory",
    "OnlineRidge",
    "RhoLoss",
    "SelectiveBackprop",
    "SkipRecorder",
    "adapt_threshold",
    "classifier_example_grads",
    "compare_skipping",
    "example_features",
    "is_held_out",
    "keep_fraction_indices",
    "loss_percentile",
    "make_technique",
    "most_skipped_html",
    "percentile_keep_probability",
    "reuse_error",
    "reuse_error_figure",
    "should_select",
    "skipped_by_class_figure",
    "skipped_by_difficulty_figure",
    "spearman",
    "subset_batch",
    "token_rarity_table",
]

#: loop techniques of this family (Technique subclasses), each with ``default(splits)``;
#: see tests/techniques/test_contract.py
TECHNIQUES: list = [SelectiveBackprop, DifficultyPrediction, GradientCaching, RhoLoss]
