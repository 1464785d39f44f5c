"""The experiment runner: variants x seeds on real data, against a baseline.

An experiment is a data set (or several), a model factory, a baseline recipe, variants
(technique lists and config changes), seeds and a target metric fixed before the runs.
Running it yields one :class:`RunRecord` per (data set, variant, seed); from the records
come time-to-target (wall seconds and examples seen), final metrics, their mean and
spread over seeds, and ratios to the baseline (:func:`summarize`).

Time-to-target is read off the validation curve: the first evaluation at which the target
metric reaches the target value; its ``wall_time`` (training seconds, evaluation
excluded, technique overhead included) and ``examples_seen`` are the costs. A run that
never reaches the target has NaN costs, and a variant whose seeds did not all reach it
gets no ratio (``reached`` says how many did).

Honest timing: before any timed run, :meth:`Experiment.run` trains every variant's model
for one optimizer step on each data set, untimed (``warmup=True``), so the one-off costs
of a process (allocator, kernels, data-loader and lazy imports) are paid by no variant.
A time ratio becomes a claim only with at least 3 seeds, when it is beyond the seeds'
spread and is explained by something the run did differently (fewer examples to the
target, different curves) or exceeds the run-to-run spread of the baseline's time; see
:func:`time_verdict`.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.config import TaskSpec, TrainingConfig
from workbench.report import (
    format_count,
    format_number,
    format_percent,
    format_ratio,
    format_seconds,
)
from workbench.train.events import Technique
from workbench.train.trainer import Trainer, seed_everything

ModelFactory = Callable[[TaskSpec], torch.nn.Module]
TechniqueFactory = Callable[[Any, int], Sequence[Technique]]

HISTORY_COLUMNS = ["dataset", "variant", "seed", "step", "effective_step", "epoch", "examples_seen",
                   "wall_time", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]


@dataclass(frozen=True)
class Target:
    """The target a run must reach, fixed before the runs.

    Args:
        metric: a validation metric name from the history (``"val_accuracy"``, ``"val_loss"``).
        value: the value to reach.
        mode: ``"max"`` (reach means ``>= value``) or ``"min"`` (``<= value``).

    Raises:
        ValueError: unknown mode or non-finite value.
    """

    metric: str = "val_accuracy"
    value: float = 0.9
    mode: str = "max"

    def __post_init__(self) -> None:
        if self.mode not in ("max", "min"):
            raise ValueError(f"Target.mode must be 'max' or 'min'; got {self.mode!r}")
        if not isinstance(self.value, (int, float)) or not math.isfinite(self.value):
            raise ValueError(f"Target.value must be a finite number; got {self.value!r}")

    def reached(self, x: float) -> bool:
        if x is None or (isinstance(x, float) and math.isnan(x)):
            return False
        return x >= self.value if self.mode == "max" else x <= self.value

    def describe(self) -> str:
        op = ">=" if self.mode == "max" else "<="
        return f"{self.metric} {op} {self.value:g}"


class AllTargets:
    """Several targets a run must all reach (e.g. one per task of a multi-task model), fixed
    before the runs; usable wherever a :class:`Target` is.

    Time-to-target is the first evaluation by which every target has been reached (each
    at its own first evaluation reaching it); each target's own time is in
    ``RunRecord.per_target``. ``metric`` / ``value`` are for display (``value`` NaN).

    Args:
        targets: one or more :class:`Target` s with distinct metrics.

    Raises:
        ValueError: no target, or a metric named twice.
    """

    def __init__(self, targets: Sequence[Target]) -> None:
        self.targets = list(targets)
        if not self.targets:
            raise ValueError("AllTargets.targets must hold at least one Target; got none")
        metrics = [t.metric for t in self.targets]
        if len(set(metrics)) != len(metrics):
            raise ValueError(f"AllTargets.targets name a metric twice: {metrics}")
        self.metric = " & ".join(metrics)
        self.value = math.nan
        self.mode = "all"

    def describe(self) -> str:
        """A readable line naming every target (all must be reached)."""
        return " and ".join(t.describe() for t in self.targets)

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON: ``{"all": [{"metric", "value", "mode"}, ...]}``, one entry per target."""
        return {"all": [{"metric": t.metric, "value": t.value, "mode": t.mode} for t in self.targets]}

    def __repr__(self) -> str:
        return f"AllTargets({self.targets!r})"


def _target_list(target: Target | AllTargets) -> list[Target]:
    return list(target.targets) if isinstance(target, AllTargets) else [target]


@dataclass
class Variant:
    """One recipe to compare: config changes and techniques on top of the base config.

    Args:
        name: label in tables and plots (unique within an experiment).
        config: field changes applied to the data set's base :class:`TrainingConfig`, or
            a function ``(base_config, splits) -> changes`` for changes that depend on the
            data (for example a warmup of 5% of the run's optimizer steps).
        techniques: ``factory(data, seed) -> list of Technique``, called fresh for every
            run (techniques hold state).
        model_factory: overrides the experiment's model factory for this variant.
        claim: the speedup claimed for this technique elsewhere, printed beside the
            measured figure (for example ``"1.4x (curriculum, claimed)"``).
        sampler: ``factory(splits, seed, config) -> (sampler, batch_sampler, techniques)``
            for variants that change the data order (curricula, importance sampling):
            either sampler may be None (the Trainer's seeded random sampler is used), and
            ``techniques`` are added to the run (for example the one that moves a
            sampler's difficulty range). Called fresh for every run.
        param_groups: ``factory(model, config) -> list of optimizer parameter-group dicts``
            passed to the Trainer as ``param_groups=`` (for example discriminative learning
            rates per layer group); called fresh for every run, after the model is built.
            None: every parameter in one group at ``config.lr``.
    """

    name: str
    config: Mapping[str, Any] | Callable[[TrainingConfig, Any], Mapping[str, Any]] = field(default_factory=dict)
    techniques: TechniqueFactory | None = None
    model_factory: ModelFactory | None = None
    claim: str = ""
    sampler: Callable[[Any, int, TrainingConfig], tuple[Any, Any, Sequence[Technique]]] | None = None
    param_groups: Callable[[Any, TrainingConfig], Sequence[Mapping[str, Any]]] | None = None


@dataclass
class RunRecord:
    """One training run: its metric rows (one per logged step) and summary figures."""

    dataset: str
    variant: str
    seed: int
    rows: list[dict[str, Any]]
    test_metrics: dict[str, float]
    wall_time: float
    examples_seen: int
    effective_steps: int
    stop_reason: str
    counters: dict[str, int]
    time_to_target_s: float = math.nan
    examples_to_target: float = math.nan
    steps_to_target: float = math.nan
    final_metric: float = math.nan
    #: per target metric: ``{"time_to_target_s", "examples_to_target", "steps_to_target"}``
    #: (one entry for a single :class:`Target`; one per target for :class:`AllTargets`)
    per_target: dict[str, dict[str, float]] = field(default_factory=dict)

    def eval_rows(self, metric: str) -> list[dict[str, Any]]:
        return [r for r in self.rows if not _isnan(r.get(metric, math.nan))]


def time_to_target(rows: Sequence[Mapping[str, Any]], target: Target) -> tuple[float, float, float]:
    """``(wall seconds, examples seen, effective steps)`` at the first row reaching the target.

    ``rows`` are metric rows ordered by step (as :class:`~workbench.train.MetricsTracker`
    writes them). Returns NaNs when no row reaches the target. For :class:`AllTargets`: the
    first row by which every target has been reached (NaNs unless all were).
    """
    if isinstance(target, AllTargets):
        per = [time_to_target(rows, t) for t in target.targets]
        if any(math.isnan(p[2]) for p in per):
            return math.nan, math.nan, math.nan
        return max(per, key=lambda p: p[2])
    for r in rows:
        if target.reached(r.get(target.metric, math.nan)):
            return float(r["wall_time"]), float(r["examples_seen"]), float(r["effective_step"])
    return math.nan, math.nan, math.nan


class Experiment:
    """Runs every (data set, variant, seed), baseline first, and summarizes.

    Args:
        data: a :class:`~workbench.data.datasets.DataSplits` or a dict name -> splits.
        model_factory: ``factory(task) -> nn.Module``, or a dict data-set name -> factory.
        base_config: the tuned baseline's :class:`TrainingConfig`, or a dict per data set.
        variants: the recipes; the first is the baseline unless ``baseline`` names one.
        seeds: seeds for every variant. Runs are ordered seed-major, so variants are
            interleaved in time and drift affects them alike, and the order of the variants
            rotates from one seed to the next (baseline first for the first seed), so no
            variant always pays the warm-up cost of running first.
        target: :class:`Target` or :class:`AllTargets` (several, all to be reached; e.g. one
            per task), or a dict per data set; fixed before the runs.
        evaluate_test: also measure the final model on the test split.
        on_eval: ``callback(experiment)`` after every validation pass (live plots); the
            history so far is :meth:`history_frame`.
        progress: show progress bars (runs, and the Trainer's epochs).
        warmup: before the timed runs, train each variant's model one optimizer step on each
            data set (no techniques, no evaluation, not recorded), so that no variant pays
            the process's one-off costs; the seconds spent are in :attr:`warmup_s`.
        stop_at_target: end every run at its first evaluation reaching the target
            (:class:`StopAtTarget`): time-to-target is unchanged, final and test metrics are
            those of the model at the target (quick protocols).

    Raises:
        ValueError: no variants, duplicate names, unknown baseline, no seeds, a data set
            without a target / base config / model factory (when those are dicts), or a
            variant whose config changes are invalid (checked here, before any run) or
            set ``seed`` (the experiment's seeds are used).
    """

    def __init__(self, data: Any, model_factory: ModelFactory | Mapping[str, ModelFactory],
                 base_config: TrainingConfig | Mapping[str, TrainingConfig],
                 variants: Sequence[Variant], seeds: Sequence[int] = (0, 1, 2),
                 target: Target | AllTargets | Mapping[str, Target | AllTargets] = Target(), baseline: str | None = None,
                 evaluate_test: bool = True, on_eval: Callable[[Experiment], Any] | None = None,
                 progress: bool = True, name: str = "experiment", warmup: bool = True,
                 stop_at_target: bool = False) -> None:
        self.data = dict(data) if isinstance(data, Mapping) else {data.name: data}
        if not variants:
            raise ValueError("Experiment needs at least one variant (the baseline)")
        names = [v.name for v in variants]
        if len(set(names)) != len(names):
            raise ValueError(f"Experiment variant names must be unique; got {names}")
        if not seeds:
            raise ValueError("Experiment needs at least one seed")
        self.variants = list(variants)
        self.baseline = baseline or names[0]
        if self.baseline not in names:
            raise ValueError(f"baseline {self.baseline!r} is not a variant; variants: {names}")
        self.seeds = [int(s) for s in seeds]
        self.model_factory = model_factory
        self.base_config = base_config
        for what, given in (("target", target), ("base_config", base_config), ("model_factory", model_factory)):
            missing = [d for d in self.data if isinstance(given, Mapping) and d not in given]
            if missing:
                raise ValueError(f"Experiment {what} has no entry for data set(s) {missing}; "
                                 f"data sets: {list(self.data)}")
        self.targets = {d: (target[d] if isinstance(target, Mapping) else target) for d in self.data}
        # check every variant's config changes now, not after the baseline runs have finished
        for v in self.variants:
            if not callable(v.config) and "seed" in v.config:
                raise ValueError(f"variant {v.name!r}: config may not set 'seed' (the experiment's "
                                 f"seeds {self.seeds} are used for every variant)")
            for d in self.data:
                try:
                    self._config(d, v, self.seeds[0])
                except (TypeError, ValueError) as exc:
                    given = getattr(v.config, "__name__", v.config) if callable(v.config) else dict(v.config)
                    raise ValueError(f"variant {v.name!r} on data set {d!r}: invalid config change "
                                     f"{given!r}: {exc}") from exc
        self.evaluate_test = evaluate_test
        self.on_eval = on_eval
        self.progress = progress
        self.name = name
        self.records: list[RunRecord] = []
        self._live_rows: list[dict[str, Any]] = []
        self.warmup = bool(warmup)
        self.stop_at_target = bool(stop_at_target)
        #: ``(index from 1, total runs, data set, variant, seed)`` of the run in progress
        self.current: tuple[int, int, str, str, int] | None = None
        self._run_started: float | None = None
        #: seconds the untimed warm-up took in the last :meth:`run` (0 without warm-up)
        self.warmup_s = 0.0

    def _factory(self, dataset: str, variant: Variant) -> ModelFactory:
        if variant.model_factory is not None:
            return variant.model_factory
        f = self.model_factory
        return f[dataset] if isinstance(f, Mapping) else f

    def _config(self, dataset: str, variant: Variant, seed: int) -> TrainingConfig:
        base = self.base_config[dataset] if isinstance(self.base_config, Mapping) else self.base_config
        changes = dict(variant.config(base, self.data[dataset]) if callable(variant.config) else variant.config)
        if "seed" in changes:
            raise ValueError(f"variant {variant.name!r}: config may not set 'seed' (the experiment's seeds "
                             f"are used for every variant)")
        return base.replace(seed=seed, **changes)

    def describe(self) -> str:
        """The plan, target included, as printed before the runs: per data set the target
        and the baseline's optimizer, rate, batch size, epochs and schedule."""
        lines = [f"Experiment {self.name!r}: {len(self.data)} data set(s) x {len(self.variants)} variants "
                 f"x {len(self.seeds)} seeds; baseline {self.baseline!r}"]
        base = next(v for v in self.variants if v.name == self.baseline)
        for d, t in self.targets.items():
            lines.append(f"  target on {d}: {t.describe()} (fixed before the runs)")
            c = self._config(d, base, self.seeds[0])
            kwargs = f" {c.schedule_kwargs}" if c.schedule_kwargs else ""
            lines.append(f"  baseline on {d}: {c.optimizer} lr={c.lr:g}, batch {c.batch_size}, "
                         f"{c.epochs} epochs, schedule {c.schedule}{kwargs}")
        return "\n".join(lines)

    def run(self) -> ExperimentResult:
        """Run everything; returns an :class:`ExperimentResult`."""
        from tqdm.auto import tqdm

        order = sorted(self.variants, key=lambda v: v.name != self.baseline)
        # seed-major, and the variant order rotates with the seed: no variant always runs
        # first (first runs in a process pay warm-up costs that would bias time-to-target)
        plan = [(d, s, v) for d in self.data for i, s in enumerate(self.seeds)
                for v in order[i % len(order):] + order[:i % len(order)]]
        self.records = []  # a second run() starts afresh instead of doubling the records
        self.warmup_s = self.warm_up() if self.warmup else 0.0
        bar = tqdm(plan, desc="runs", disable=not self.progress)
        self._run_started = time.perf_counter()
        for k, (dataset, seed, variant) in enumerate(bar, start=1):
            bar.set_postfix_str(f"{dataset} / {variant.name} / seed {seed}")
            self.current = (k, len(plan), dataset, variant.name, seed)
            self.records.append(self.run_one(dataset, variant, seed))
        self.current = None
        bar.close()
        return ExperimentResult(self.records, self.targets, self.baseline,
                                claims={v.name: v.claim for v in self.variants if v.claim})

    def progress_text(self) -> str:
        """One line on where :meth:`run` is: ``"run 3 of 6: subj / one_cycle / seed 0 (41.2 s so
        far)"``, or ``"done: 6 runs"`` / ``"not started"`` (a live plot's caption)."""
        elapsed = "" if self._run_started is None else \
            f" ({format_seconds(time.perf_counter() - self._run_started)} so far)"
        if self.current is None:
            return f"done: {len(self.records)} runs{elapsed}" if self.records else "not started"
        k, n, dataset, variant, seed = self.current
        return f"run {k} of {n}: {dataset} / {variant} / seed {seed}{elapsed}"

    def warm_up(self) -> float:
        """Train each variant's model for one optimizer step on each data set, untimed.

        Uses the variant's config (batch size, precision, optimizer) without its
        techniques, sampler, evaluation, checkpoints or early stopping; nothing is
        recorded and the random state is reseeded by every timed run. Called by
        :meth:`run` before the first timed run (``warmup=True``), so the first run in a
        process pays no more than the others. Returns the seconds it took.
        """
        t0 = time.perf_counter()
        seed = self.seeds[0]
        for dataset, splits in self.data.items():
            for variant in self.variants:
                # the run's own budget (schedules are sized from it); _StopAfterFirstStep ends it
                config = self._config(dataset, variant, seed).replace(
                    eval_every_epochs=None, eval_every_steps=None, progress_bar=False,
                    checkpoint_dir=None, checkpoint_every_steps=None, checkpoint_every_epochs=None,
                    metrics_dir=None, restore_best=False, early_stopping_patience=None)
                seed_everything(seed)
                model = self._factory(dataset, variant)(splits.task)
                Trainer(model, config, splits.train, None, task=splits.task,
                        techniques=[_StopAfterFirstStep()]).fit()
        return time.perf_counter() - t0

    def run_one(self, dataset: str, variant: Variant, seed: int) -> RunRecord:
        """Train one (data set, variant, seed) and return its record."""
        splits = self.data[dataset]
        config = self._config(dataset, variant, seed)
        if not self.progress:
            config = config.replace(progress_bar=False)
        seed_everything(seed)
        model = self._factory(dataset, variant)(splits.task)
        techniques = list(variant.techniques(splits, seed)) if variant.techniques else []
        sampler = batch_sampler = None
        if variant.sampler is not None:
            sampler, batch_sampler, extra = variant.sampler(splits, seed, config)
            techniques += list(extra)
        if self.stop_at_target:
            techniques.append(StopAtTarget(self.targets[dataset]))
        self._live_rows = []
        hook = None
        if self.on_eval is not None:
            hook = _LiveHook(self, dataset, variant.name, seed)
            techniques.append(hook)
        groups = list(variant.param_groups(model, config)) if variant.param_groups is not None else None
        trainer = Trainer(model, config, splits.train, splits.val, task=splits.task, techniques=techniques,
                          sampler=sampler, batch_sampler=batch_sampler, param_groups=groups)
        if hook is not None:
            hook.tracker = trainer.tracker
        state = trainer.fit()
        test = trainer.evaluate(splits.test, prefix="test_") if self.evaluate_test else {}
        rows = [dict(r) for r in state.history]
        target = self.targets[dataset]
        ttt, ett, stt = time_to_target(rows, target)
        per_target, finals = {}, []
        for t in _target_list(target):
            a, b, c = time_to_target(rows, t)
            per_target[t.metric] = {"time_to_target_s": a, "examples_to_target": b, "steps_to_target": c}
            evals = [r for r in rows if not _isnan(r.get(t.metric, math.nan))]
            finals.append(float(evals[-1][t.metric]) if evals else math.nan)
        rec = RunRecord(dataset=dataset, variant=variant.name, seed=seed, rows=rows, test_metrics=test,
                        wall_time=state.wall_time, examples_seen=state.examples_seen,
                        effective_steps=state.effective_step, stop_reason=state.stop_reason,
                        counters=dict(state.counters), time_to_target_s=ttt, examples_to_target=ett,
                        steps_to_target=stt, per_target=per_target,
                        # AllTargets: the mean of the targets' final values
                        final_metric=float(np.mean(finals)))
        self._live_rows = []
        return rec

    def history_frame(self):
        """Evaluation rows of the finished runs plus the one in progress (long DataFrame,
        the columns of ``ExperimentResult.history``; rows of finished runs equal theirs)."""
        rows = [_history_row(r.dataset, r.variant, r.seed, row) for r in self.records for row in r.rows
                if _is_eval_row(row)]
        rows += self._live_rows
        return _frame(rows)


class _StopAfterFirstStep(Technique):
    """Ends a warm-up run after its first optimizer step."""

    def __init__(self) -> None:
        super().__init__()
        self.name = "_warmup_stop"

    def on_step_end(self, state) -> None:
        state.request_stop("warm-up step done")


class _LiveHook(Technique):
    """Calls the experiment's ``on_eval`` after each validation pass (live plots)."""

    def __init__(self, experiment: Experiment, dataset: str, variant: str, seed: int) -> None:
        super().__init__()
        self.name = "_live"
        self.exp, self.dataset, self.variant, self.seed = experiment, dataset, variant, seed
        self.tracker = None  # the Trainer's MetricsTracker, set by Experiment.run_one

    def on_eval_end(self, state) -> None:
        # the tracker's pending row is the row this evaluation writes (training loss and
        # accuracy merged in), so live rows equal the finished run's history rows
        pending = getattr(self.tracker, "_pending", None)
        if pending is not None and pending.get("effective_step") == state.effective_step:
            row = dict(pending)
        else:
            row = {"step": state.step, "effective_step": state.effective_step, "epoch": state.epoch,
                   "examples_seen": state.examples_seen, "lr": state.lr,
                   "wall_time": state.wall_time} | dict(state.metrics)
        new = _history_row(self.dataset, self.variant, self.seed, row)
        live = self.exp._live_rows
        if live and live[-1]["effective_step"] == new["effective_step"]:
            live[-1] = new  # two evaluations at one optimizer step share one history row
        else:
            live.append(new)
        self.exp.on_eval(self.exp)


def _history_row(dataset: str, variant: str, seed: int, row: Mapping[str, Any]) -> dict[str, Any]:
    out = {"dataset": dataset, "variant": variant, "seed": seed}
    for c in HISTORY_COLUMNS[3:]:
        out[c] = row.get(c, math.nan)
    # per-group evaluation metrics (a multi-task run's val_accuracy/<task>, ...)
    out.update({k: v for k, v in row.items() if "/" in k and k.startswith("val_")})
    return out


def _frame(rows: list[dict[str, Any]]):
    import pandas as pd

    extra = sorted({k for r in rows for k in r if k not in HISTORY_COLUMNS})
    df = pd.DataFrame(rows, columns=HISTORY_COLUMNS + extra)
    for c in HISTORY_COLUMNS[3:] + extra:
        df[c] = pd.to_numeric(df[c], errors="coerce")
    return df


def _isnan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _is_eval_row(row: Mapping[str, Any]) -> bool:
    """A metric row written by a validation pass (not a training-only log row)."""
    return not (_isnan(row.get("val_loss", math.nan)) and _isnan(row.get("val_accuracy", math.nan)))


def _mean_std(xs: Sequence[float]) -> tuple[float, float]:
    xs = [x for x in xs if not _isnan(x)]
    if not xs:
        return math.nan, math.nan
    a = np.asarray(xs, dtype=float)
    return float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else 0.0


class ExperimentResult:
    """Records of an experiment, with the history and summary tables built from them.

    Attributes:
        records: list of :class:`RunRecord`.
        history: long DataFrame of evaluation rows (see ``docs/architecture.md``).
        summary: one row per (data set, variant) (see :func:`summarize`).
        targets: data-set name -> :class:`Target`.
    """

    def __init__(self, records: Sequence[RunRecord], targets: Mapping[str, Target], baseline: str,
                 claims: Mapping[str, str] | None = None) -> None:
        self.records = list(records)
        self.targets = dict(targets)
        self.baseline = baseline
        self.claims = dict(claims or {})
        rows = [_history_row(r.dataset, r.variant, r.seed, row) for r in self.records for row in r.rows
                if _is_eval_row(row)]
        self.history = _frame(rows)
        self.summary = summarize(self.records, self.targets, baseline, self.claims)

    def verdicts(self) -> list[str]:
        """One plain sentence per non-baseline variant: see :func:`verdicts`."""
        return verdicts(self.summary, self.baseline)

    def describe_targets(self) -> str:
        return "; ".join(f"{d}: {t.describe()}" for d, t in self.targets.items())

    def save(self, folder: str | Path) -> dict[str, Path]:
        """Write ``results.csv``, ``results.json`` (summary, targets, per-run figures) and
        ``history.csv`` into ``folder``; returns the paths."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {"csv": folder / "results.csv", "json": folder / "results.json",
                 "history": folder / "history.csv"}
        self.summary.to_csv(paths["csv"], index=False)
        self.history.to_csv(paths["history"], index=False)
        paths["json"].write_text(json.dumps(self.to_json(), indent=2, allow_nan=False))
        return paths

    def to_json(self) -> dict[str, Any]:
        """Summary, targets and per-run figures as plain JSON values (NaN -> null)."""
        return _json_clean({
            "baseline": self.baseline,
            "targets": {d: t.to_dict() if isinstance(t, AllTargets) else {"metric": t.metric, "value": t.value,
                                                                             "mode": t.mode}
                        for d, t in self.targets.items()},
            "summary": self.summary.to_dict(orient="records"),
            "runs": [{"dataset": r.dataset, "variant": r.variant, "seed": r.seed,
                      "time_to_target_s": r.time_to_target_s, "examples_to_target": r.examples_to_target,
                      "steps_to_target": r.steps_to_target, "final_metric": r.final_metric,
                      "wall_time": r.wall_time, "examples_seen": r.examples_seen,
                      "effective_steps": r.effective_steps, "stop_reason": r.stop_reason,
                      "test_metrics": r.test_metrics, "counters": r.counters} for r in self.records],
        })


def summarize(records: Sequence[RunRecord], targets: Mapping[str, Target], baseline: str,
              claims: Mapping[str, str] | None = None):
    """One row per (data set, variant): costs to target and final metrics with mean and
    sample standard deviation over seeds, and ratios to the baseline of the same data set.

    Ratios: ``time_to_target_ratio = mean(variant) / mean(baseline)`` over seeds (< 1 is
    cheaper); ``*_ratio_std`` is the standard deviation of the per-seed ratios (seeds
    paired). A ratio is NaN unless every seed of both variants reached the target.

    For :func:`time_verdict` also: ``curves_differ`` (True when, for some seed, the
    validation curve of a target metric or the learning rate at the evaluations differs
    from the baseline's; False when they are the same to 1e-6, so the run did the same work),
    ``time_diff_s`` (mean time-to-target minus the baseline's, seconds) and
    ``run_spread_s`` (the sample standard deviation of the baseline's time-to-target over
    its seeds: the run-to-run spread; NaN with one seed), and ``verdict``: the reason
    :func:`time_verdict` gives (``"baseline"`` for the baseline's row).
    """
    import pandas as pd

    claims = dict(claims or {})
    out = []
    keys = list(dict.fromkeys((r.dataset, r.variant) for r in records))
    by = {k: [r for r in records if (r.dataset, r.variant) == k] for k in keys}
    for dataset, variant in keys:
        runs = sorted(by[(dataset, variant)], key=lambda r: r.seed)
        base = {r.seed: r for r in by.get((dataset, baseline), [])}
        t = targets[dataset]
        reached = sum(not _isnan(r.time_to_target_s) for r in runs)
        row: dict[str, Any] = {"dataset": dataset, "variant": variant, "seeds": len(runs),
                               "target_metric": t.metric, "target_value": t.value,
                               "reached": reached}
        for key, attr in (("time_to_target_s", "time_to_target_s"), ("examples_to_target", "examples_to_target"),
                          ("final_metric", "final_metric"), ("wall_time_s", "wall_time")):
            row[f"{key}_mean"], row[f"{key}_std"] = _mean_std([getattr(r, attr) for r in runs])
        acc = [r.test_metrics.get("test_accuracy", math.nan) for r in runs]
        row["test_accuracy_mean"], row["test_accuracy_std"] = _mean_std(acc)
        for key in ("time_to_target_s", "examples_to_target"):
            name = "time_to_target" if key == "time_to_target_s" else key
            pairs = [(getattr(r, key), getattr(base[r.seed], key)) for r in runs if r.seed in base]
            complete = bool(pairs) and reached == len(runs) and all(not _isnan(b) for _, b in pairs) \
                and len(pairs) == len(runs)
            if complete:
                row[f"{name}_ratio"] = float(np.mean([a for a, _ in pairs]) / np.mean([b for _, b in pairs]))
                per_seed = [a / b for a, b in pairs if b > 0]
                row[f"{name}_ratio_std"] = float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else 0.0
            else:
                row[f"{name}_ratio"], row[f"{name}_ratio_std"] = math.nan, math.nan
        mine = {r.seed: r for r in runs}
        row["curves_differ"] = any(_curves_differ(mine[k], base[k], t) for k in mine if k in base)
        base_t = [r.time_to_target_s for r in base.values()]
        row["time_diff_s"] = (row["time_to_target_s_mean"] - _mean_std(base_t)[0]
                              if base_t else math.nan)
        row["run_spread_s"] = _mean_std(base_t)[1] if len(base_t) > 1 else math.nan
        row["claim"] = claims.get(variant, "")
        row["verdict"] = "baseline" if variant == baseline else time_verdict(
            len(runs), row["time_to_target_ratio"], row["time_to_target_ratio_std"],
            row["examples_to_target_ratio"], row["examples_to_target_ratio_std"], row["curves_differ"],
            row["time_diff_s"], row["run_spread_s"])[1]
        out.append(row)
    return pd.DataFrame(out)


def _curves_differ(a: RunRecord, b: RunRecord, target: Target | AllTargets, tol: float = 1e-6) -> bool:
    """True when two runs' evaluation curves (each target metric, and the learning rate)
    differ at some evaluation, or they were evaluated at different steps."""
    def curve(r: RunRecord, metric: str) -> list[tuple[float, float]]:
        return [(float(x["effective_step"]), float(x.get(metric, math.nan))) for x in r.rows if _is_eval_row(x)]

    for metric in [t.metric for t in _target_list(target)] + ["lr"]:
        ca, cb = curve(a, metric), curve(b, metric)
        if len(ca) != len(cb):
            return True
        for (sa, va), (sb, vb) in zip(ca, cb):
            if sa != sb or _isnan(va) != _isnan(vb):
                return True
            if not _isnan(va) and abs(va - vb) > tol * max(1.0, abs(vb)):
                return True
    return False


def _seeds_text(n: int) -> str:
    return "one seed" if n == 1 else f"{n} seeds"


#: fewest seeds for which :func:`time_verdict` calls a difference
MIN_SEEDS_FOR_VERDICT = 3


def time_verdict(seeds: int, time_ratio: float, time_ratio_std: float = math.nan,
                 examples_ratio: float = math.nan, examples_ratio_std: float = math.nan,
                 curves_differ: bool = True, time_diff_s: float = math.nan,
                 run_spread_s: float = math.nan) -> tuple[str, str]:
    """Whether a time-to-target ratio is a difference, and why: ``(kind, reason)``.

    ``kind`` is one of:

    - ``"no verdict"``: fewer than :data:`MIN_SEEDS_FOR_VERDICT` (3) seeds; the reason reads
      ``"one seed: no verdict"`` or ``"2 seeds: no verdict"``;
    - ``"no ratio"``: the ratio is NaN (not every seed of both reached the target);
    - ``"cheaper"`` / ``"dearer"``: the ratio is below / above 1 by more than the spread of
      the per-seed ratios (``time_ratio_std``) **and** the difference is explained: the
      examples-to-target ratio differs from 1 by more than its own spread, or the curves
      differ (``curves_differ``), or the time difference ``|time_diff_s|`` exceeds the
      run-to-run spread of the baseline's time (``run_spread_s``);
    - ``"same"``: otherwise -- within the seed-to-seed spread, or the same examples and
      curves as the baseline with a time difference inside the run-to-run spread (timing
      noise: the variant did the same work).

    Pure function of its arguments (the columns of :func:`summarize`); ratios are
    variant / baseline, so below 1 is cheaper.
    """
    n = int(seeds)
    if n < MIN_SEEDS_FOR_VERDICT:
        return "no verdict", f"{_seeds_text(n)}: no verdict"
    if _isnan(time_ratio):
        return "no ratio", "no ratio (a seed of it or of the baseline missed the target)"
    ratio = float(time_ratio)
    spread = 0.0 if _isnan(time_ratio_std) else float(time_ratio_std)
    if abs(ratio - 1.0) <= spread:
        return "same", f"no clear difference: within the seed-to-seed spread (± {format_number(spread)})"
    ex_spread = 0.0 if _isnan(examples_ratio_std) else float(examples_ratio_std)
    examples_differ = not _isnan(examples_ratio) and abs(float(examples_ratio) - 1.0) > ex_spread
    beyond_noise = (not _isnan(time_diff_s) and not _isnan(run_spread_s)
                    and abs(float(time_diff_s)) > float(run_spread_s))
    kind = "cheaper" if ratio < 1 else "dearer"
    if examples_differ:
        why = f"{format_ratio(examples_ratio)} the examples"
    elif curves_differ:
        why = "its curves differ from the baseline's"
    elif beyond_noise:
        why = (f"same curves, and the time difference ({format_seconds(abs(time_diff_s))}) exceeds the "
               f"run-to-run spread ({format_seconds(run_spread_s)})")
    else:
        spread_text = "unmeasured" if _isnan(run_spread_s) else format_seconds(run_spread_s)
        return "same", (f"no clear difference: the same examples and curves as the baseline, and the time "
                        f"difference is within the run-to-run spread ({spread_text}): timing noise")
    if kind == "cheaper":
        return kind, f"cheaper: {format_ratio(1 / ratio)} faster to the target ({why})"
    return kind, f"dearer: {format_ratio(ratio)} the baseline's time to the target ({why})"


#: :func:`time_verdict` kinds in a claim's words (a cost ratio below 1 helps)
EFFECT_WORDS = {"cheaper": "helps", "dearer": "hurts", "same": "no measurable effect",
                "no verdict": "no verdict (fewer than 3 seeds)", "no ratio": "no ratio (target missed)"}


def effect_verdict(seeds: int, cost_ratio: float, cost_ratio_std: float = math.nan, **evidence: Any) -> str:
    """:func:`time_verdict` on any cost ratio (variant / baseline: seconds, labels, log
    overhead), in a claim's words: ``"helps"`` (cheaper beyond the spread), ``"hurts"``,
    ``"no measurable effect"``, ``"no verdict (fewer than 3 seeds)"`` or ``"no ratio
    (target missed)"`` (:data:`EFFECT_WORDS`). ``evidence``: the other keyword arguments
    of :func:`time_verdict` (``examples_ratio``, ``curves_differ``, ``time_diff_s``,
    ``run_spread_s``, ...); without them a ratio beyond the spread counts as explained."""
    kind, _ = time_verdict(seeds, cost_ratio, cost_ratio_std, **evidence)
    return EFFECT_WORDS[kind]


class StopAtTarget(Technique):
    """Ends a run at its first validation pass reaching ``target`` (all of them for
    :class:`AllTargets`): time-to-target is unchanged, the evaluations after it are not
    paid. Used by :class:`Experiment` (``stop_at_target=True``) in quick protocols."""

    def __init__(self, target: Target | AllTargets) -> None:
        super().__init__()
        self.name = "stop_at_target"
        self.targets = _target_list(target)

    def on_eval_end(self, state) -> None:
        if all(t.reached(state.metrics.get(t.metric, math.nan)) for t in self.targets):
            state.request_stop("target reached")


def verdicts(summary, baseline: str) -> list[str]:
    """Plain-language reading of a summary table, one sentence per non-baseline variant.

    The measured ratios are stated, and whether they are a difference is decided by
    :func:`time_verdict`: with fewer than 3 seeds the sentence ends "one seed: no verdict"
    (or "2 seeds: no verdict") instead of a claim; with 3 or more a variant is called
    cheaper (or dearer) only when its ratio is beyond the seed-to-seed spread and explained
    by fewer (more) examples, different curves, or a time difference beyond the run-to-run
    spread. A variant whose seeds did not all reach the target gets no ratio, and the
    sentence says so.
    """
    out = []
    base_rows = {r["dataset"]: r for _, r in summary.iterrows() if r["variant"] == baseline}
    for _, r in summary.iterrows():
        if r["variant"] == baseline:
            continue
        head = f"{r['variant']} on {r['dataset']}"
        b = base_rows.get(r["dataset"])
        claim = f" Claimed elsewhere: {r['claim']}." if r.get("claim") else ""
        n = int(r["seeds"])
        if _isnan(r["time_to_target_ratio"]):
            out.append(f"{head}: reached {r['target_metric']} >= {r['target_value']:g} on "
                       f"{int(r['reached'])} of {n} seeds (or the baseline did not), so no speedup is "
                       f"measured.{claim}")
            continue
        kind, reason = time_verdict(
            n, r["time_to_target_ratio"], r.get("time_to_target_ratio_std", math.nan),
            r.get("examples_to_target_ratio", math.nan), r.get("examples_to_target_ratio_std", math.nan),
            bool(r.get("curves_differ", True)), r.get("time_diff_s", math.nan), r.get("run_spread_s", math.nan))
        spread = "" if n < 2 else f", per-seed spread ± {format_number(r['time_to_target_ratio_std'])}"
        same_work = "" if bool(r.get("curves_differ", True)) else " Its curves equal the baseline's."
        mean = "" if n < 2 else "mean "
        vs_t = "" if b is None else f" ({mean}{format_seconds(r['time_to_target_s_mean'])} against " \
            f"{format_seconds(b['time_to_target_s_mean'])}{spread})"
        vs_e = "" if b is None else f" ({format_count(r['examples_to_target_mean'])} against " \
            f"{format_count(b['examples_to_target_mean'])})"
        out.append(f"{head}: {format_ratio(r['time_to_target_ratio'])} the baseline's training time to reach "
                   f"the target{vs_t} and {format_ratio(r['examples_to_target_ratio'])} its examples{vs_e}; "
                   f"{reason}.{same_work} Test accuracy {format_percent(r['test_accuracy_mean'])}.{claim}")
    return out


def _json_clean(x: Any) -> Any:
    if isinstance(x, dict):
        return {str(k): _json_clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_clean(v) for v in x]
    if isinstance(x, (np.floating, float)):
        return None if math.isnan(float(x)) or math.isinf(float(x)) else float(x)
    if isinstance(x, np.integer):
        return int(x)
    return x
