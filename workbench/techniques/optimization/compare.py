"""Comparison: learning-rate schedules against the tuned constant-rate baseline, and the LR
finder on a built-in data set's recipe.

- :func:`schedule_variants` / :func:`schedule_experiment`: the schedules of
  :data:`BENCHMARK_SCHEDULES` as :class:`~workbench.experiment.Variant` objects on each data
  set's tuned recipe, run through :class:`~workbench.experiment.Experiment` (used by the
  notebook and by ``benchmarks/schedules.py``);
- :func:`choose_schedule`: the rule that picks a data set's schedule from the summary;
- :func:`lr_find_recipe`: :func:`~workbench.techniques.optimization.lr_finder.lr_find` with a
  data set's baseline recipe.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from workbench.experiment import Experiment, Variant
from workbench.recipes import (
    SCHEDULE_VARIANTS,
    baseline_recipe,
    load_splits,
    model_factory,
    schedule_changes,
)
from workbench.techniques.optimization.lr_finder import LRFinderResult, lr_find
from workbench.train import checkpoint as ckpt
from workbench.train.schedules import SCHEDULES, WARMUP_SCHEDULES

__all__ = [
    "BENCHMARK_SCHEDULES",
    "choose_schedule",
    "lr_find_recipe",
    "schedule_experiment",
    "schedule_variants",
]

#: The schedules ``benchmarks/schedules.py`` and the notebook compare (the first is the
#: baseline: the tuned recipe with a constant rate).
BENCHMARK_SCHEDULES: tuple[str, ...] = ("constant", "step", "cosine", "warmup_cosine",
                                        "one_cycle", "dynamic")


def schedule_variants(schedules: Sequence[str] = BENCHMARK_SCHEDULES,
                      dynamic: Mapping[str, Any] | None = None) -> list:
    """:class:`~workbench.experiment.Variant` objects for learning-rate schedules, applied to
    each data set's tuned recipe (its learning rate is the base, or for one-cycle the
    peak, rate):

    - ``constant``: the recipe with a constant rate (the reference the others are
      compared with: the baseline variant when it comes first);
    - ``step``: ``StepLR``, rate x0.1 at 1/3 and 2/3 of the run;
    - ``cosine``: cosine annealing to 0 over the run;
    - ``warmup_cosine``: linear warmup over 5% of the steps, then cosine to 0
      (:func:`workbench.recipes.warmup_cosine_changes`);
    - ``one_cycle``: ``OneCycleLR`` with defaults (30% rising from lr/25);
    - ``dynamic``: the ``"dynamic"`` schedule
      (:class:`~workbench.train.dynamic_lr.DynamicLRScheduler` on ``val_loss`` after every
      evaluation; the rule of :class:`~workbench.techniques.optimization.technique.DynamicLR`),
      with its defaults unless ``dynamic`` (its arguments) says otherwise;
    - any other name of :data:`~workbench.train.schedules.SCHEDULES`: that schedule with
      its default arguments.

    Raises:
        ValueError: an unknown name (lists the valid ones).
    """
    valid = list(SCHEDULES)
    unknown = [s for s in schedules if s not in valid]
    if unknown:
        raise ValueError(f"unknown schedules {unknown}; valid: {valid}")
    out = []
    for s in schedules:
        if s == "dynamic":
            out.append(Variant("dynamic", config=schedule_changes("dynamic") | {
                "schedule_kwargs": dict(dynamic or {})}))
        elif s in WARMUP_SCHEDULES and s not in SCHEDULE_VARIANTS:
            raise ValueError(f"schedule {s!r} needs warmup steps; use 'warmup_cosine'")
        else:
            out.append(Variant(s, config=SCHEDULE_VARIANTS.get(s, schedule_changes(s))))
    return out


def schedule_experiment(datasets: Sequence[str] = ("digits", "subj"), seeds: Sequence[int] = (0, 1, 2),
                        schedules: Sequence[str] = BENCHMARK_SCHEDULES, smoke: bool = False,
                        epochs: int | Mapping[str, int] | None = None,
                        dynamic: Mapping[str, Any] | None = None, on_eval: Callable[..., Any] | None = None,
                        progress: bool = True, splits: Mapping[str, Any] | None = None):
    """The schedules of :func:`schedule_variants` against the tuned constant-rate baseline
    (the first schedule is the baseline variant) on each data set's recipe, over
    ``seeds``, with the recipe's target. Returns the
    :class:`~workbench.experiment.Experiment` (call ``.run()``).

    Args:
        epochs: override the recipes' epoch budgets (one number, or per data set); every
            schedule then spans the shortened run.
        splits: preloaded data (name -> DataSplits), else :func:`workbench.recipes.load_splits`.

    Raises:
        ValueError: unknown data set or schedule.
    """
    variants = schedule_variants(schedules, dynamic)
    recipes = {}
    for d in datasets:
        ep = epochs.get(d) if isinstance(epochs, Mapping) else epochs
        recipes[d] = baseline_recipe(d, smoke=smoke, splits=(splits or {}).get(d),
                                     **({"epochs": ep} if ep else {}))
    data = {d: (splits[d] if splits and d in splits else load_splits(d, smoke=smoke)) for d in datasets}
    return Experiment(data, {d: model_factory(r.model) for d, r in recipes.items()},
                      {d: r.config for d, r in recipes.items()}, variants, seeds=seeds,
                      target={d: r.target for d, r in recipes.items()}, on_eval=on_eval,
                      progress=progress, name="learning-rate schedules")


def choose_schedule(summary) -> dict[str, dict[str, Any]]:
    """The tuned-baseline schedule per data set from an experiment summary (the rule is
    fixed before the runs and uses validation data only).

    Among the variants whose every seed reached the target, the one with the fewest
    examples-to-target on average (a deterministic count, where seconds on a shared
    machine are noisy), ties within 1% going to the higher final validation metric; if no
    variant reached the target on every seed, the highest final validation metric.

    Args:
        summary: ``ExperimentResult.summary`` (columns ``dataset, variant, seeds, reached,
            examples_to_target_mean, final_metric_mean``).

    Returns:
        ``{dataset: {"schedule": name, "why": reason}}``.
    """
    out: dict[str, dict[str, Any]] = {}
    for dataset, rows in summary.groupby("dataset", sort=False):
        rows = rows.to_dict("records")
        complete = [r for r in rows if int(r["reached"]) == int(r["seeds"])
                    and math.isfinite(float(r["examples_to_target_mean"]))]
        if complete:
            fewest = min(float(r["examples_to_target_mean"]) for r in complete)
            near = [r for r in complete if float(r["examples_to_target_mean"]) <= fewest * 1.01]
            best = max(near, key=lambda r: float(r["final_metric_mean"]))
            why = "fewest examples to the target, every seed reached it"
        else:
            best = max(rows, key=lambda r: (float(r["final_metric_mean"])
                                            if math.isfinite(float(r["final_metric_mean"])) else -math.inf))
            why = "no schedule reached the target on every seed: highest final validation metric"
        out[str(dataset)] = {"schedule": str(best["variant"]), "why": why}
    return out


def lr_find_recipe(dataset: str = "digits", smoke: bool = False, num_iter: int | None = None,
                   start_lr: float = 1e-6, end_lr: float = 1.0, seed: int = 0, splits: Any = None,
                   **kwargs: Any) -> LRFinderResult:
    """:func:`~workbench.techniques.optimization.lr_finder.lr_find` with ``dataset``'s
    baseline recipe: its model (freshly built with torch seeded by ``seed``; the caller's
    RNG state is put back) and its optimizer, batch size and loss, on the training split.

    ``num_iter`` defaults to 100 (40 with ``smoke``); the recipe's rate is stored in
    ``result.extras["recipe_lr"]`` (pass it to
    :func:`~workbench.techniques.optimization.display.lr_finder_figure` as ``reference_lr``).

    Raises:
        ValueError: unknown data set (lists the known ones), or as
            :func:`~workbench.techniques.optimization.lr_finder.lr_find`.
    """
    recipe = baseline_recipe(dataset, smoke=smoke, splits=splits)
    dataset = recipe.dataset  # your own data (splits=): its name, its modality's default recipe
    splits = splits if splits is not None else load_splits(dataset, smoke=smoke)
    rng = ckpt.capture_rng_state()
    try:
        torch.manual_seed(seed)
        model = model_factory(recipe.model)(splits.task)
    finally:
        ckpt.restore_rng_state(rng)
    result = lr_find(model, splits.train, splits.task, config=recipe.config,
                     num_iter=num_iter or (40 if smoke else 100), start_lr=start_lr, end_lr=end_lr,
                     seed=seed, name=dataset, **kwargs)
    result.extras["recipe_lr"] = recipe.config.lr
    return result
