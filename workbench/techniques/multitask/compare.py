"""Multi-task against single-task: one shared encoder for several tasks, under each loss
weighting and task schedule, against one tuned model per task (``benchmarks/multitask.py``).

- :func:`single_task_experiment`: each task's tuned recipe
  (:func:`workbench.recipes.baseline_recipe`) on its own data, target from the recipe.
- :func:`multitask_experiment`: an :class:`~workbench.experiment.Experiment` over
  :class:`~workbench.techniques.multitask.data.MultiTaskSplits` with one variant per
  (weighting, schedule), the target :class:`~workbench.experiment.AllTargets` (every
  task's recipe target on ``val_accuracy/<task>``).
- :func:`compare_to_single_task`: per (weighting, schedule, task) test accuracy (mean and
  spread over seeds), the time until every task reached its target against the sum of
  the single-task times, and negative transfer (a task whose multi-task test accuracy is
  below its single-task one by more than the two spreads).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from workbench.config import TrainingConfig
from workbench.experiment import AllTargets, Experiment, Target, Variant
from workbench.recipes import baseline_recipe, model_factory
from workbench.techniques.multitask.models import multitask_model
from workbench.techniques.multitask.technique import (
    DWAWeighting,
    EqualWeighting,
    GradNormWeighting,
    TaskScheduling,
    UncertaintyWeighting,
)
from workbench.train.events import Event, Technique

#: weighting name -> technique class
WEIGHTING_CLASSES = {"equal": EqualWeighting, "uncertainty": UncertaintyWeighting, "gradnorm": GradNormWeighting,
                     "dwa": DWAWeighting}

#: the multi-task run's configuration (shared by every variant): Adam 2e-3 (the SUBJ and
#: pros_cons recipes' rate), batch 50, validated every 100 steps and every epoch
MULTITASK_CONFIG = {"optimizer": "adam", "lr": 2e-3, "batch_size": 50, "epochs": 3, "eval_every_steps": 100,
                    "eval_every_epochs": 1, "restore_best": False, "progress_bar": False}


def task_targets(tasks: Sequence[str], relax: float = 0.0) -> dict[str, float]:
    """Each task's target: its single-task recipe's validation accuracy target, less ``relax``."""
    return {t: round(baseline_recipe(t).target.value - relax, 6) for t in tasks}


def single_task_experiment(splits: Mapping[str, Any], seeds: Sequence[int], targets: Mapping[str, float],
                           **config_changes: Any) -> Experiment:
    """One tuned single-task model per task (its recipe's model and config, with
    ``config_changes``), as one :class:`Experiment` over the tasks."""
    recipes = {t: baseline_recipe(t, progress_bar=False, **config_changes) for t in splits}
    return Experiment(dict(splits), {t: model_factory(r.model) for t, r in recipes.items()},
                      {t: r.config for t, r in recipes.items()}, [Variant("single_task")], seeds=seeds,
                      target={t: Target("val_accuracy", targets[t]) for t in splits}, progress=False,
                      name="single-task baselines")


def multitask_experiment(msplits: Any, weightings: Sequence[str], schedules: Sequence[str], seeds: Sequence[int],
                         targets: Mapping[str, float], encoder: str = "kim_cnn", head_dropout: float = 0.5,
                         pairs: Sequence[tuple[str, str]] | None = None, **config_changes: Any) -> Experiment:
    """Variants ``"<weighting>/<schedule>"`` (every pair, or ``pairs``) of one shared
    ``encoder`` with a head per task on ``msplits``; target: every task's ``targets[task]``
    on ``val_accuracy/<task>``.

    Raises:
        ValueError: an unknown weighting or schedule.
    """
    from workbench.techniques.multitask.samplers import SCHEDULES

    pairs = list(pairs) if pairs is not None else [(w, s) for w in weightings for s in schedules]
    for w, s in pairs:
        if w not in WEIGHTING_CLASSES:
            raise ValueError(f"weighting must be one of {list(WEIGHTING_CLASSES)}; got {w!r}")
        if s not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}; got {s!r}")
    config = TrainingConfig(**(MULTITASK_CONFIG | config_changes))
    names = list(msplits.task_names)

    def variant(w: str, s: str) -> Variant:
        def techniques(sp, seed):
            return [WEIGHTING_CLASSES[w].default(sp)]

        def sampler(sp, seed, cfg):
            sch = TaskScheduling(sp.train, cfg.batch_size, s, targets=[targets[n] for n in names]
                                 if s == "performance" else None, seed=seed)
            return sch.sampler, None, [sch]

        return Variant(f"{w}/{s}", techniques=techniques, sampler=sampler)

    return Experiment(msplits, lambda task: multitask_model(encoder, msplits, dropout=head_dropout), config,
                      [variant(w, s) for w, s in pairs], seeds=seeds,
                      target=AllTargets([Target(f"val_accuracy/{n}", targets[n]) for n in names]),
                      progress=False, name="multi-task")


def _ms(xs: Sequence[float]) -> tuple[float, float]:
    a = np.asarray([x for x in xs if not math.isnan(x)], dtype=float)
    if not len(a):
        return math.nan, math.nan
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


def compare_to_single_task(multi: Any, single: Any) -> list[dict[str, Any]]:
    """Rows ``{"weighting", "scheduler", "task", "test_accuracy_mean", "test_accuracy_std",
    "time_to_all_targets_s_mean", "time_to_all_targets_ratio", "reached", "negative_transfer"}``
    from the two :class:`~workbench.experiment.ExperimentResult` s, single-task rows first
    (weighting ``"single_task"``, scheduler ``"-"``, ratio NaN). ``negative_transfer``: the
    multi-task test accuracy is below the single-task one by more than the sum of the two
    standard deviations; None (not assessed) with fewer than two seeds. ``time_to_all_targets_ratio``: per seed, the multi-task time until every task
    reached its target over the sum of the single-task times to their targets, averaged
    over seeds (NaN unless every run reached every target).
    """
    tasks = list(dict.fromkeys(r.dataset for r in single.records))
    single_sum = {}
    for seed in sorted({r.seed for r in single.records}):
        ts = [r.time_to_target_s for r in single.records if r.seed == seed]
        single_sum[seed] = float(sum(ts)) if len(ts) == len(tasks) else math.nan
    out = []
    base_acc = {}
    base_runs = {t: [r for r in single.records if r.dataset == t] for t in tasks}
    for t in tasks:
        runs = base_runs[t]
        m, s = _ms([r.test_metrics.get("test_accuracy", math.nan) for r in runs])
        base_acc[t] = (m, s)
        tt = _ms([r.time_to_target_s for r in runs])[0]
        out.append({"weighting": "single_task", "scheduler": "-", "task": t, "test_accuracy_mean": m,
                    "test_accuracy_std": s, "time_to_all_targets_s_mean": tt,
                    "time_to_all_targets_ratio": math.nan,
                    "reached": sum(not math.isnan(r.time_to_target_s) for r in runs), "negative_transfer": None})
    for variant in dict.fromkeys(r.variant for r in multi.records):
        runs = [r for r in multi.records if r.variant == variant]
        w, s = variant.split("/")
        ratios = [r.time_to_target_s / single_sum.get(r.seed, math.nan) for r in runs]
        ratio = float(np.mean(ratios)) if all(not math.isnan(x) for x in ratios) else math.nan
        tmean = _ms([r.time_to_target_s for r in runs])[0]
        for t in tasks:
            m, sd = _ms([r.test_metrics.get(f"test_accuracy/{t}", math.nan) for r in runs])
            bm, bs = base_acc[t]
            # assessed only with a spread on both sides (two seeds or more): None otherwise
            neg = None if len(runs) < 2 or len(base_runs[t]) < 2 else bool(
                not math.isnan(m) and not math.isnan(bm) and m < bm - (sd + bs))
            out.append({"weighting": w, "scheduler": s, "task": t, "test_accuracy_mean": m, "test_accuracy_std": sd,
                        "time_to_all_targets_s_mean": tmean, "time_to_all_targets_ratio": ratio,
                        "reached": sum(not math.isnan(r.per_target.get(f"val_accuracy/{t}", {}).get(
                            "time_to_target_s", math.nan)) for r in runs),
                        "negative_transfer": neg})
    return out


class _OnEval(Technique):
    """Calls ``callback(rows, weighting)`` after every evaluation (live plots)."""

    name = "_multitask_on_eval"
    events = frozenset({Event.EVAL_END})

    def __init__(self, callback: Callable[[list[dict[str, Any]], Any], Any], weighting: Any) -> None:
        super().__init__()
        self.callback, self.weighting = callback, weighting

    def on_eval_end(self, state: Any) -> None:
        self.callback([dict(r) for r in state.history], self.weighting)


def train_multitask(tasks: Sequence[str] = ("subj", "mr"), weighting: str = "equal", schedule: str = "round_robin",
                    seed: int = 0, smoke: bool = False, encoder: str = "kim_cnn",
                    on_eval: Callable[[list[dict[str, Any]], Any], Any] | None = None,
                    **config_changes: Any) -> dict[str, Any]:
    """Train one shared ``encoder`` on ``tasks`` with one weighting and schedule (the
    notebook's run).

    Args:
        tasks: built-in text data sets (``"subj"``, ``"mr"``, ``"pros_cons"``), two or more.
        weighting: ``"equal"``, ``"uncertainty"``, ``"gradnorm"`` or ``"dwa"``.
        schedule: ``"round_robin"``, ``"proportional"`` or ``"performance"`` (targets: the
            tasks' recipe targets).
        smoke: 150 training / 60 validation / 60 test sentences per task, 2 epochs, a
            bag-of-embeddings encoder (for tests; not a measurement).
        on_eval: ``callback(history_rows, weighting_technique)`` after every evaluation.
        config_changes: changes to :data:`MULTITASK_CONFIG`.

    Returns:
        ``{"splits", "model", "weighting", "scheduling", "state", "test", "targets"}``.

    Raises:
        ValueError: fewer than two tasks, an unknown weighting or schedule.
    """
    from workbench.recipes import load_splits
    from workbench.techniques.multitask.data import cap_splits, multitask_splits
    from workbench.train import Trainer, seed_everything

    tasks = list(tasks)
    if len(tasks) < 2:
        raise ValueError(f"tasks must name two or more data sets; got {tasks}")
    if weighting not in WEIGHTING_CLASSES:
        raise ValueError(f"weighting must be one of {list(WEIGHTING_CLASSES)}; got {weighting!r}")
    single = {t: load_splits(t, smoke=smoke, seed=0) for t in tasks}
    if smoke:
        single = {t: cap_splits(s, 150, 60, 60) for t, s in single.items()}
        encoder = "boe"
        config_changes = {"epochs": 2, "eval_every_steps": 3} | config_changes
    ms = multitask_splits(single)
    targets = task_targets(tasks)
    config = TrainingConfig(**(MULTITASK_CONFIG | {"seed": seed} | config_changes))
    seed_everything(seed)
    model = multitask_model(encoder, ms, dropout=0.5)
    w = WEIGHTING_CLASSES[weighting].default(ms)
    sch = TaskScheduling(ms.train, config.batch_size, schedule,
                         targets=targets if schedule == "performance" else None, seed=seed)
    techs: list[Technique] = [w, sch] + ([_OnEval(on_eval, w)] if on_eval is not None else [])
    trainer = Trainer(model, config, ms.train, ms.val, task=ms.task, techniques=techs, sampler=sch.sampler)
    state = trainer.fit()
    return {"splits": ms, "model": model, "weighting": w, "scheduling": sch, "state": state,
            "test": trainer.evaluate(ms.test, prefix="test_"), "targets": targets}
