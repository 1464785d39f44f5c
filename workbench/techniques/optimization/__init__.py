"""Optimization: learning-rate schedules, a dynamic learning rate, parameter groups, the
LR range test (LR finder) and an optimizer + scheduler factory.

See ``README.md`` in this folder (the method card). Modules, imported one way (each uses
only those above it):

- :mod:`~workbench.techniques.optimization.schedules` (pure): :func:`schedule_settings`
  (the notebook's relative knobs -> a schedule's arguments) and :func:`schedule_curve`.
  The schedules themselves are built on ``torch.optim.lr_scheduler`` by
  :mod:`workbench.train.schedules`, loop-level code the Trainer uses.
- :mod:`~workbench.techniques.optimization.param_groups` (pure): :func:`param_groups`
  (per-domain rates by name pattern, ULMFiT's discriminative layer-wise decay, no weight
  decay on biases and normalization weights), :func:`param_group_table` /
  :func:`param_group_summary`, and the factory :func:`create_optimizer_with_schedule`.
- :mod:`~workbench.techniques.optimization.lr_finder`: the LR range test's math
  (:func:`exponential_lrs`, :func:`smooth_losses`, :func:`suggest_valley`,
  :func:`suggest_minimum`, :func:`suggest_steepest`, :func:`suggestions`) and the test
  itself, :func:`lr_find` -> :class:`LRFinderResult`.
- :mod:`~workbench.techniques.optimization.technique` (the loop technique):
  :class:`DynamicLR`, the dynamic rule (:class:`DynamicLRPolicy`, :func:`dynamic_lr_trace`
  and the ``"dynamic"`` schedule :class:`DynamicLRScheduler` live in
  :mod:`workbench.train.dynamic_lr`) applied from the Trainer's events.
- :mod:`~workbench.techniques.optimization.compare` (comparison): :func:`schedule_variants`,
  :func:`schedule_experiment` (the schedules against the tuned constant-rate baseline),
  :func:`choose_schedule`, :func:`lr_find_recipe`.
- :mod:`~workbench.techniques.optimization.display` (notebook helpers):
  :func:`schedule_figure`, :func:`schedules_overview_figure`, :func:`schedule_explorer`,
  :func:`lr_finder_figure`.

References: Smith 2017, "Cyclical Learning Rates for Training Neural Networks" (WACV;
section 3.3, the LR range test); Howard & Ruder 2018, "Universal Language Model
Fine-tuning for Text Classification" (ULMFiT; section 3.2, discriminative fine-tuning,
``eta^{l-1} = eta^l / 2.6``); Loshchilov & Hutter 2019, "Decoupled Weight Decay
Regularization" (AdamW); fastai's ``Learner.lr_find`` (``fastai.callback.schedule``).
"""

from workbench.techniques.optimization.compare import (
    BENCHMARK_SCHEDULES,
    choose_schedule,
    lr_find_recipe,
    schedule_experiment,
    schedule_variants,
)
from workbench.techniques.optimization.display import (
    lr_finder_figure,
    schedule_explorer,
    schedule_figure,
    schedules_overview_figure,
)
from workbench.techniques.optimization.lr_finder import (
    LRFinderResult,
    exponential_lrs,
    lr_find,
    smooth_losses,
    suggest_minimum,
    suggest_steepest,
    suggest_valley,
    suggestions,
)
from workbench.techniques.optimization.param_groups import (
    FACTORY_SCHEDULES,
    OPTIMIZER_NAMES,
    ULMFIT_LAYER_DECAY,
    create_optimizer_with_schedule,
    is_no_decay,
    model_layers,
    param_group_summary,
    param_group_table,
    param_groups,
)
from workbench.techniques.optimization.schedules import (
    knobs_used,
    schedule_curve,
    schedule_settings,
)
from workbench.techniques.optimization.technique import DynamicLR
from workbench.train.dynamic_lr import DynamicLRPolicy, DynamicLRScheduler, dynamic_lr_trace

__all__ = [
    "BENCHMARK_SCHEDULES",
    "FACTORY_SCHEDULES",
    "OPTIMIZER_NAMES",
    "TECHNIQUES",
    "ULMFIT_LAYER_DECAY",
    "DynamicLR",
    "DynamicLRPolicy",
    "DynamicLRScheduler",
    "LRFinderResult",
    "choose_schedule",
    "create_optimizer_with_schedule",
    "dynamic_lr_trace",
    "exponential_lrs",
    "is_no_decay",
    "knobs_used",
    "lr_find",
    "lr_find_recipe",
    "lr_finder_figure",
    "model_layers",
    "param_group_summary",
    "param_group_table",
    "param_groups",
    "schedule_curve",
    "schedule_experiment",
    "schedule_explorer",
    "schedule_figure",
    "schedule_settings",
    "schedule_variants",
    "schedules_overview_figure",
    "smooth_losses",
    "suggest_minimum",
    "suggest_steepest",
    "suggest_valley",
    "suggestions",
]

#: loop techniques of this family (Technique subclasses), each with ``default(splits)``;
#: see tests/techniques/test_contract.py
TECHNIQUES: list = [DynamicLR]
