"""Comparing acquisition strategies against random: recipes and the runner.

:func:`active_recipe` gives, per built-in data set, the model, the per-round training
budget, the loop's schedule (initial set, acquisition size, label budget) and the target,
all fixed before any run. :func:`run_comparison` runs every strategy on every seed with
that same model and schedule, the strategies of one seed interleaved round by round (so
their curves grow together in a live plot, and machine drift affects them alike), and
returns an :class:`ActiveComparison` (records, curves, summary). The notebook's widget
callback is :func:`workbench.techniques.active.display.active_learning_panel_callback`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from workbench.config import TrainingConfig
from workbench.experiment import Target
from workbench.techniques.active.acquisition import STRATEGIES
from workbench.techniques.active.curves import (
    curves_frame,
    plot_acquired,
    plot_active_curves,
    summarize_runs,
)
from workbench.techniques.active.loop import ActiveLearner, ActiveLearningConfig, ActiveRun

__all__ = [
    "ACTIVE_RECIPES",
    "ActiveComparison",
    "ActiveRecipe",
    "active_recipe",
    "comparison_table",
    "run_comparison",
]


@dataclass(frozen=True)
class ActiveRecipe:
    """Model, per-round training and loop schedule for one data set (fixed before the runs).

    Attributes:
        dataset: :func:`workbench.data.datasets.load_dataset` name; ``data_kwargs`` the
            loader's arguments (split fractions, vocabulary ``min_freq``).
        model: :func:`workbench.models.build_model` name; ``model_kwargs`` its arguments.
        train_config: per-round :class:`TrainingConfig` (a fixed ``max_steps`` budget).
        loop: :class:`ActiveLearningConfig` (its ``strategy`` and ``seed`` are replaced
            per run).
        target: the learning-curve target (metric, value).
        notes: why these choices.
        smoke: a smoke-mode recipe (small budgets; not a measurement).
    """

    dataset: str
    model: str
    model_kwargs: dict[str, Any]
    train_config: TrainingConfig
    loop: ActiveLearningConfig
    target: Target
    notes: str = ""
    data_kwargs: dict[str, Any] = field(default_factory=dict)
    smoke: bool = False

    def load_splits(self):
        """The data set with this recipe's split and loader arguments (``data_kwargs``;
        split seed 0; text data capped at 600 examples in smoke mode)."""
        from workbench.data.datasets import load_dataset
        from workbench.recipes import SMOKE

        kwargs = {"seed": 0, **self.data_kwargs}
        if self.smoke and self.dataset != "digits":
            kwargs["max_examples"] = SMOKE["max_examples"]
        return load_dataset(self.dataset, **kwargs)

    def model_factory(self) -> Callable[[Any], Any]:
        from workbench.recipes import model_factory

        return model_factory(self.model, **self.model_kwargs)


#: Per data set: (model, model kwargs, training config fields, loop fields, target, notes);
#: the ``smoke`` entry shrinks the budget for headless tests (not measurements).
ACTIVE_RECIPES: dict[str, dict[str, Any]] = {
    "digits": {
        "data": {"fractions": (0.6, 0.1, 0.3)},
        "model": "mlp", "model_kwargs": {"hidden": (256, 128), "dropout": 0.25},
        "train": {"optimizer": "adam", "lr": 3e-3, "batch_size": 32, "max_steps": 150},
        "loop": {"initial_size": 20, "acquisition_size": 10, "label_budget": 400, "rounds": None},
        "target": Target("test_accuracy", 0.95),
        "smoke": {"train": {"max_steps": 25}, "loop": {"label_budget": 50, "mc_samples": 10}},
        "notes": ("split 60/10/30 (pool 1,078, test 539: the default 10% test split, 180 images, "
                  "moves in 0.56-point steps); MLP 64-256-128-10 with dropout 0.25 (MC dropout for "
                  "BALD), trained from scratch every round for 150 Adam steps (lr 3e-3, batch 32); "
                  "Gal et al. (2017) schedule: 20 initial labels (2 per class), 10 per round, here "
                  "up to 400 labels; target 95% test accuracy"),
    },
    "subj": {
        "data": {"min_freq": 2},
        "model": "boe", "model_kwargs": {"embed_dim": 32, "dropout": 0.5},
        "train": {"optimizer": "adam", "lr": 1e-2, "batch_size": 32, "max_steps": 100},
        "loop": {"initial_size": 100, "acquisition_size": 50, "label_budget": 1000, "rounds": None},
        "target": Target("test_accuracy", 0.80),
        "smoke": {"train": {"max_steps": 25}, "loop": {"initial_size": 40, "acquisition_size": 20,
                                                       "label_budget": 80, "mc_samples": 10}},
        "notes": ("default split (test 1,000), vocabulary of words seen twice in training; bag of "
                  "embeddings (32-d, dropout 0.5), trained from scratch every round for 100 Adam "
                  "steps (lr 1e-2, batch 32); 100 initial labels, 50 per round, up to 1,000 labels; "
                  "target 80% test accuracy (what random first reached at about a third of the "
                  "budget in a pilot on seed 100)"),
    },
}


def active_recipe(dataset: str, smoke: bool = False, splits: Any = None, **loop_changes: Any) -> ActiveRecipe:
    """The :class:`ActiveRecipe` for ``dataset``; ``loop_changes`` override
    :class:`ActiveLearningConfig` fields (``initial_size``, ``acquisition_size``, ...).

    Your own data (``splits`` given, not a built-in data set with a recipe here) gets a
    default: the model and optimizer of :func:`workbench.recipes.default_recipe` (by
    modality), 100 steps per round (batch at most 32); initial set ``max(2 * classes,
    5%)`` of the pool, ``5%`` more per round, up to 10 rounds; target
    :func:`workbench.recipes.default_target` on the test split.

    Raises:
        ValueError: unknown data set without ``splits`` (lists the known ones) or invalid
            loop changes.
    """
    from workbench.recipes import baseline_recipe, default_target

    if splits is not None and (dataset not in ACTIVE_RECIPES or getattr(splits, "name", None) != dataset):
        base = baseline_recipe(dataset, splits=splits)
        n, classes = len(splits.train), splits.task.num_classes
        initial = min(n - 1, max(2 * classes, round(0.05 * n)))
        step = max(1, round(0.05 * n))
        spec = {"model": base.model, "model_kwargs": {},
                "train": {"optimizer": base.config.optimizer, "lr": base.config.lr, "loss": base.config.loss,
                          "batch_size": min(base.config.batch_size, 32), "max_steps": 100},
                "loop": {"initial_size": initial, "acquisition_size": step,
                         "label_budget": min(n, initial + 10 * step), "rounds": None},
                "target": default_target(splits, "test"),
                "smoke": {"train": {"max_steps": 25},
                          "loop": {"label_budget": min(n, initial + 2 * step), "mc_samples": 10}},
                "notes": f"default recipe for your own data ({splits.task.modality}: {base.model})"}
        dataset = base.dataset
    elif dataset not in ACTIVE_RECIPES:
        raise ValueError(f"no active-learning recipe for {dataset!r}; known: {sorted(ACTIVE_RECIPES)}; "
                         "for your own data pass its splits (a default recipe by modality is used)")
    else:
        spec = ACTIVE_RECIPES[dataset]
    train = {"progress_bar": False, "eval_every_epochs": None, "epochs": 1} | spec["train"]
    loop = dict(spec["loop"])
    if smoke:
        train |= spec["smoke"].get("train", {})
        loop |= spec["smoke"].get("loop", {})
    valid = {f.name for f in dataclasses.fields(ActiveLearningConfig)}
    unknown = sorted(set(loop_changes) - valid)
    if unknown:
        raise ValueError(f"active_recipe: {unknown} are not ActiveLearningConfig fields; valid: {sorted(valid)}")
    loop |= loop_changes
    target = spec["target"] if not smoke else Target(spec["target"].metric, 0.5)
    return ActiveRecipe(dataset, spec["model"], dict(spec["model_kwargs"]), TrainingConfig(**train),
                        ActiveLearningConfig(**loop), target, spec["notes"], dict(spec.get("data", {})), smoke)


@dataclass
class ActiveComparison:
    """Records of a strategy comparison, with curves and a summary built from them.

    Attributes:
        runs: finished :class:`ActiveRun` records.
        live: learners of the seed in progress (their curves so far appear in :meth:`frame`).
        targets: data set -> :class:`Target`.
        recipes: data set -> :class:`ActiveRecipe`.
        learners: the last learner of every (data set, strategy) (for the examples it
            picked, and its model).
    """

    runs: list[ActiveRun] = field(default_factory=list)
    live: list[ActiveLearner] = field(default_factory=list)
    targets: dict[str, Target] = field(default_factory=dict)
    recipes: dict[str, ActiveRecipe] = field(default_factory=dict)
    learners: dict[tuple[str, str], ActiveLearner] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """Curve rows of finished runs and the runs in progress (:func:`curves_frame`)."""
        return curves_frame(self.runs + [lr.record() for lr in self.live])

    @property
    def summary(self) -> pd.DataFrame:
        """:func:`summarize_runs` of the finished runs."""
        return summarize_runs(self.runs, self.targets)

    def table(self) -> pd.DataFrame:
        """The summary as a readable table (:func:`comparison_table`)."""
        return comparison_table(self.summary)

    def figure(self, y: str | None = None, title: str | None = None):
        """Learning curves so far (:func:`plot_active_curves`), target lines included."""
        metric = y or (next(iter(self.targets.values())).metric if self.targets else "test_accuracy")
        return plot_active_curves(self.frame(), y=metric,
                                  target={d: t.value for d, t in self.targets.items() if t.metric == metric},
                                  title=title)

    def picked_figure(self, dataset: str, strategy: str, max_examples: int = 10):
        """The examples the last learner of (``dataset``, ``strategy``) picked in its last
        acquisition, with their scores (:func:`plot_acquired`)."""
        learner = self.learners[(dataset, strategy)]
        if not learner.acquired:
            return plot_acquired(learner.splits.train, [], [], title=f"{dataset}: {strategy} acquired nothing")
        last = learner.acquired[-1]
        trained_on = learner.curve[last["round"]]["labels"]
        return plot_acquired(learner.splits.train, last["ids"], last["scores"],
                             class_names=learner.task.class_names, max_examples=max_examples,
                             # two short lines, so the title fits the figure's width
                             title=f"{dataset}: what {strategy} picked in round {last['round']}<br>"
                                   f"<sup>model trained on {trained_on:,} labels; score = acquisition "
                                   f"score</sup>")

    def describe(self) -> str:
        lines = []
        for d, r in self.recipes.items():
            lines.append(f"{d}: {r.notes}")
            lines.append(f"  target {self.targets[d].describe()} (fixed before the runs); label budget "
                         f"{r.loop.label_budget}, rounds {r.loop.rounds}")
        return "\n".join(lines)


def comparison_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Readable table of :func:`summarize_runs` output: per data set and strategy, labels to
    target (mean ± std, seeds reaching it), ratio to random, normalised AULC, final
    accuracy and seconds spent acquiring / training per run."""
    def pm(m: float, s: float, fmt: str) -> str:
        if pd.isna(m):
            return "not reached"
        return (fmt.format(m) + (f" ± {fmt.format(s)}" if not pd.isna(s) else ""))

    rows = []
    for _, r in summary.iterrows():
        rows.append({
            "data set": r["dataset"], "strategy": r["strategy"], "seeds": int(r["seeds"]),
            f"labels to {r['target_metric']} ≥ {r['target_value']:g}":
                pm(r["labels_to_target_mean"], r["labels_to_target_std"], "{:.0f}")
                + (f" ({int(r['reached'])}/{int(r['seeds'])})" if r["reached"] < r["seeds"] else ""),
            "ratio vs random": "—" if pd.isna(r["labels_to_target_ratio_vs_random"]) else
                f"{r['labels_to_target_ratio_vs_random']:.2f} ± {r['labels_to_target_ratio_std']:.2f}",
            "AULC": pm(r["aulc_mean"], r["aulc_std"], "{:.3f}"),
            "final accuracy": pm(r["final_metric_mean"], r["final_metric_std"], "{:.3f}")
                + f" @ {r['final_labels']:.0f}",
            "acquire s / run": f"{r['acquire_seconds_mean']:.1f}",
            "train s / run": f"{r['train_seconds_mean']:.1f}",
        })
    return pd.DataFrame(rows)


def run_comparison(datasets: Sequence[str] = ("digits",), strategies: Sequence[str] = STRATEGIES,
                   seeds: Sequence[int] = (0, 1, 2), smoke: bool = False,
                   on_round: Callable[[ActiveComparison], Any] | None = None,
                   recipes: Mapping[str, ActiveRecipe] | None = None, splits: Mapping[str, Any] | None = None,
                   progress: bool = False) -> ActiveComparison:
    """Run every strategy on every (data set, seed) with the same model and schedule.

    For each data set and seed, one :class:`ActiveLearner` per strategy (same seed, so the
    same initial labelled set and round-0 model) is stepped round by round in turn until
    all are finished. ``random`` is added when missing (it is the reference of the ratio).

    Args:
        datasets: built-in data-set names with a recipe (:data:`ACTIVE_RECIPES`).
        strategies: acquisition strategies.
        seeds: loop seeds.
        smoke: small data and budgets (tests; not measurements).
        on_round: ``callback(comparison)`` after every round of every learner.
        recipes: per data set, an :class:`ActiveRecipe` replacing :func:`active_recipe`.
        splits: per data set, preloaded splits (default :meth:`ActiveRecipe.load_splits`).
        progress: print one line per finished run.

    Returns:
        :class:`ActiveComparison`.

    Raises:
        ValueError: unknown strategy or data set, or no seeds — before any run.
    """
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategies {unknown}; valid: {list(STRATEGIES)}")
    if not seeds:
        raise ValueError("run_comparison needs at least one seed")
    strategies = list(dict.fromkeys(["random", *strategies]))
    chosen = {d: (recipes or {}).get(d) or active_recipe(d, smoke=smoke, splits=(splits or {}).get(d))
              for d in datasets}
    comp = ActiveComparison(targets={d: r.target for d, r in chosen.items()}, recipes=chosen)
    for d, recipe in chosen.items():
        data = (splits or {}).get(d) or recipe.load_splits()
        factory = recipe.model_factory()
        for seed in seeds:
            learners = [ActiveLearner(data, factory, recipe.train_config,
                                      recipe.loop.replace(strategy=s, seed=int(seed)), dataset=d)
                        for s in strategies]
            comp.live = learners
            while any(not lr.done for lr in learners):
                for lr in learners:
                    if not lr.done:
                        lr.step()
                        if on_round is not None:
                            on_round(comp)
            for lr in learners:
                comp.runs.append(lr.record())
                comp.learners[(d, lr.config.strategy)] = lr
                if progress:
                    last = lr.curve[-1]
                    print(f"{d} / {lr.config.strategy} / seed {seed}: {last['labels']} labels, "
                          f"{recipe.target.metric} {last.get(recipe.target.metric, float('nan')):.3f}, "
                          f"acquiring {lr.record().acquire_seconds:.1f} s", flush=True)
            comp.live = []
    return comp
