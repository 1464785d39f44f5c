"""Curriculum learning and data scheduling: difficulty scores, pacing, samplers, schedulers.

Modules import one way (each only from those above it):

- :mod:`~workbench.techniques.curriculum.pacing`: pacing functions ``step -> fraction``
  (linear, root, exponential, Hacohen & Weinshall's single step / fixed / varied
  exponential, Platanios et al.'s competence), :func:`make_pacing`;
- :mod:`~workbench.techniques.curriculum.difficulty`: :func:`difficulty_scores` (length,
  rarity, cross-fitted reference model; 0.3 / 0.3 / 0.4), :func:`curriculum_order`;
- :mod:`~workbench.techniques.curriculum.samplers`: :class:`PacingSampler`,
  :class:`DifficultySampler`, :class:`ImportanceSampler`,
  :class:`ClassBalancedBatchSampler`, :class:`DynamicBatchComposer`,
  :class:`StagedLoader` / :class:`LoaderStage`, :func:`curriculum_dataloader`;
- :mod:`~workbench.techniques.curriculum.scheduling`: the schedulers
  (:class:`ProgressiveDifficulty`, :class:`CompetencePacing`,
  :class:`MultiStageCurriculum` / :class:`CurriculumStage`, :class:`DynamicDifficulty`)
  and the loop adapter :class:`CurriculumScheduling`;
- :mod:`~workbench.techniques.curriculum.compare`: :func:`paced_sampler_factory`,
  :func:`curriculum_variants`, :func:`compare_curriculum`, :func:`flip_labels`;
- :mod:`~workbench.techniques.curriculum.display`: figures and the notebook's callbacks.

See ``README.md`` in this folder (the method card, with our measured result).
"""

from workbench.techniques.curriculum.compare import (
    VARIANT_NAMES,
    compare_curriculum,
    curriculum_variants,
    flip_labels,
    paced_sampler_factory,
)
from workbench.techniques.curriculum.difficulty import (
    COMPONENTS,
    DEFAULT_WEIGHTS,
    ORDERS,
    DifficultyScores,
    curriculum_order,
    difficulty_scores,
)
from workbench.techniques.curriculum.display import (
    curriculum_panel_callback,
    hardest_and_easiest,
    plot_difficulty_histograms,
    plot_pacing,
)
from workbench.techniques.curriculum.pacing import (
    PACING_FUNCTIONS,
    check_pacing_name,
    competence_linear,
    competence_sqrt,
    exponential,
    fixed_exponential,
    linear,
    make_pacing,
    pacing_curve,
    pacing_knobs_used,
    root,
    single_step,
    varied_exponential,
)
from workbench.techniques.curriculum.samplers import (
    ClassBalancedBatchSampler,
    DifficultySampler,
    DynamicBatchComposer,
    ImportanceSampler,
    LoaderStage,
    PacingSampler,
    StagedLoader,
    curriculum_dataloader,
    padding_stats,
)
from workbench.techniques.curriculum.scheduling import (
    CompetencePacing,
    CurriculumScheduling,
    CurriculumStage,
    DynamicDifficulty,
    MultiStageCurriculum,
    ProgressiveDifficulty,
)

__all__ = [
    "COMPONENTS",
    "DEFAULT_WEIGHTS",
    "ORDERS",
    "PACING_FUNCTIONS",
    "TECHNIQUES",
    "VARIANT_NAMES",
    "ClassBalancedBatchSampler",
    "CompetencePacing",
    "CurriculumScheduling",
    "CurriculumStage",
    "DifficultySampler",
    "DifficultyScores",
    "DynamicBatchComposer",
    "DynamicDifficulty",
    "ImportanceSampler",
    "LoaderStage",
    "MultiStageCurriculum",
    "PacingSampler",
    "ProgressiveDifficulty",
    "StagedLoader",
    "check_pacing_name",
    "compare_curriculum",
    "competence_linear",
    "competence_sqrt",
    "curriculum_dataloader",
    "curriculum_order",
    "curriculum_panel_callback",
    "curriculum_variants",
    "difficulty_scores",
    "exponential",
    "fixed_exponential",
    "flip_labels",
    "hardest_and_easiest",
    "linear",
    "make_pacing",
    "paced_sampler_factory",
    "pacing_curve",
    "pacing_knobs_used",
    "padding_stats",
    "plot_difficulty_histograms",
    "plot_pacing",
    "root",
    "single_step",
    "varied_exponential",
]

#: loop techniques of this family (Technique subclasses); see tests/techniques/test_contract.py
TECHNIQUES: list = [CurriculumScheduling]
