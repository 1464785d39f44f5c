"""Multi-task learning: one shared encoder for several related tasks (hard parameter
sharing), loss weighting and task scheduling.

See ``README.md`` in this folder (the method card). Modules, imported one way (each uses
only those above it):

- :mod:`~workbench.techniques.multitask.data` (pure data): :func:`multitask_splits` (a
  shared vocabulary over the tasks' training splits, every split re-encoded with it),
  :func:`shared_vocabulary`, :class:`MultiTaskDataset` (items carry ``"task"``),
  :class:`MultiTaskSplits`, :func:`subsample`.
- :mod:`~workbench.techniques.multitask.models`: :class:`TaskHead`, :class:`SharedEncoder`,
  :class:`MultiTaskModel` (``forward(x, task)`` / ``forward(x)``, ``freeze_encoder``),
  :func:`multitask_model`.
- :mod:`~workbench.techniques.multitask.weighting` (pure): :func:`task_losses`,
  :func:`example_weights`, :func:`equal_weights`, :func:`uncertainty_loss`,
  :func:`gradnorm_step`, :func:`dwa_weights`.
- :mod:`~workbench.techniques.multitask.samplers`: :class:`TaskSampler` (round-robin,
  proportional with a temperature, performance-based), :func:`proportional_probabilities`,
  :func:`performance_probabilities`.
- :mod:`~workbench.techniques.multitask.technique` (loop techniques):
  :class:`EqualWeighting`, :class:`UncertaintyWeighting`, :class:`GradNormWeighting`,
  :class:`DWAWeighting`, :class:`TaskScheduling`.
- :mod:`~workbench.techniques.multitask.compare` (comparison): :func:`multitask_experiment`
  and the single-task baselines, for ``benchmarks/multitask.py``; :func:`train_multitask`
  (the notebook's run).
- :mod:`~workbench.techniques.multitask.display` (notebook helpers):
  :func:`task_curves_figure`, :func:`task_weights_figure`.

References: Caruana 1997 ("Multitask Learning"); Kendall, Gal & Cipolla 2018 (uncertainty
weighting); Chen et al. 2018 (GradNorm); Liu, Johns & Davison 2019 (DWA); LibMTL (Lin &
Zhang 2023) for the defaults; Kurin et al. 2022 and Xin et al. 2022 (equal weighting as a
strong baseline).
"""

from workbench.techniques.multitask.compare import (
    MULTITASK_CONFIG,
    WEIGHTING_CLASSES,
    compare_to_single_task,
    multitask_experiment,
    single_task_experiment,
    task_targets,
    train_multitask,
)
from workbench.techniques.multitask.data import (
    MultiTaskDataset,
    MultiTaskSplits,
    cap_splits,
    multitask_splits,
    shared_vocabulary,
    subsample,
)
from workbench.techniques.multitask.display import task_curves_figure, task_weights_figure
from workbench.techniques.multitask.models import (
    MultiTaskModel,
    SharedEncoder,
    TaskHead,
    multitask_model,
)
from workbench.techniques.multitask.samplers import (
    SCHEDULES,
    TaskSampler,
    performance_probabilities,
    proportional_probabilities,
)
from workbench.techniques.multitask.technique import (
    DWAWeighting,
    EqualWeighting,
    GradNormWeighting,
    TaskScheduling,
    TaskWeighting,
    UncertaintyWeighting,
)
from workbench.techniques.multitask.weighting import (
    WEIGHTINGS,
    dwa_weights,
    equal_weights,
    example_weights,
    gradnorm_step,
    task_losses,
    uncertainty_loss,
    uncertainty_weights,
)

__all__ = [
    "SCHEDULES",
    "TECHNIQUES",
    "WEIGHTINGS",
    "MULTITASK_CONFIG",
    "WEIGHTING_CLASSES",
    "DWAWeighting",
    "EqualWeighting",
    "GradNormWeighting",
    "MultiTaskDataset",
    "MultiTaskModel",
    "MultiTaskSplits",
    "SharedEncoder",
    "TaskHead",
    "TaskSampler",
    "TaskScheduling",
    "TaskWeighting",
    "UncertaintyWeighting",
    "cap_splits",
    "compare_to_single_task",
    "dwa_weights",
    "equal_weights",
    "example_weights",
    "gradnorm_step",
    "multitask_experiment",
    "multitask_model",
    "multitask_splits",
    "performance_probabilities",
    "proportional_probabilities",
    "shared_vocabulary",
    "single_task_experiment",
    "subsample",
    "task_losses",
    "task_curves_figure",
    "task_targets",
    "task_weights_figure",
    "train_multitask",
    "uncertainty_loss",
    "uncertainty_weights",
]

#: loop techniques of this family (Technique subclasses), each with ``default(splits)``;
#: see tests/techniques/test_contract.py
TECHNIQUES: list = [EqualWeighting, UncertaintyWeighting, GradNormWeighting, DWAWeighting, TaskScheduling]
