"""Compute skipping: selective backprop and difficulty prediction (skip examples predicted
easy before their forward pass).

See ``README.md`` in this folder (the method card). Modules, imported one way:

- :mod:`~workbench.techniques.skipping.selection` (pure): Selective Backprop's percentile
  keep probability, Composer's keep-fraction sampling and interval, the loss history.
- :mod:`~workbench.techniques.skipping.difficulty` (pure): features known before the
  forward pass, the online ridge predictor, the held-out ids, Spearman's rho.
- :mod:`~workbench.techniques.skipping.technique` (loop techniques):
  :class:`SelectiveBackprop`, :class:`DifficultyPrediction`.

References: Jiang et al. 2019, "Accelerating Deep Learning by Focusing on the Biggest
Losers" (arXiv:1910.00762); MosaicML Composer, ``composer.algorithms.SelectiveBackprop``;
Mindermann et al. 2022, "Prioritized Training on Points that are Learnable, Worth
Learning, and Not Yet Learnt" (RHO-LOSS, ICML); Kaddour et al. 2023, "No Train No Gain"
(NeurIPS); Mirzasoleiman et al. 2020, "Coresets for Data-efficient Training of Machine
Learning Models" (CRAIG, ICML).
"""

from workbench.techniques.skipping.difficulty import (
    FEATURE_NAMES,
    OnlineRidge,
    example_features,
    is_held_out,
    spearman,
    token_rarity_table,
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
    SelectiveBackprop,
    subset_batch,
)

__all__ = [
    "FEATURE_NAMES",
    "TECHNIQUES",
    "DifficultyPrediction",
    "LossHistory",
    "OnlineRidge",
    "SelectiveBackprop",
    "example_features",
    "is_held_out",
    "keep_fraction_indices",
    "loss_percentile",
    "percentile_keep_probability",
    "should_select",
    "spearman",
    "subset_batch",
    "token_rarity_table",
]

#: loop techniques of this family (Technique subclasses), each with ``default(splits)``;
#: see tests/techniques/test_contract.py
TECHNIQUES: list = [SelectiveBackprop, DifficultyPrediction]
