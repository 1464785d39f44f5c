"""Every applicable technique on your own labelled file, within a time budget:
``python -m workbench compare --data FILE``.

:func:`compare_file` is the whole protocol, in this order, every step on one clock that
starts when the call does (loading the file included):

1. **Load** the file through :func:`workbench.data.user_data.load_file` (``.csv`` /
   ``.tsv`` / ``.jsonl`` / ``.json`` labelled text, ``.npz`` arrays ``X``, ``y``); a bad
   file raises the loader's :class:`~workbench.data.splits.DataValidationError` (or
   ``FileNotFoundError`` / ``ValueError``) before anything is trained. The comparison also
   needs at least :data:`MIN_VAL_EXAMPLES` validation examples (:func:`check_comparable`).
2. **Recipe**: :func:`workbench.recipes.default_recipe` of the data's modality (text: Kim
   CNN-rand; images: the small CNN; tabular: an MLP), validated :data:`EVALS_PER_EPOCH`
   times per epoch so that time-to-target resolves within an epoch.
3. **Learning-rate search** (:data:`LR_RULE`): one LR range test (Smith 2017, fastai's
   ``valley`` suggestion; :func:`~workbench.techniques.optimization.lr_finder.lr_find`)
   with the recipe's model and optimizer; the rate used is the suggestion kept within
   ``[0.1x, 10x]`` the recipe's rate. Its seconds are charged to the clock and reported.
4. **Baseline and target** (:data:`TARGET_RULE`): the recipe at that rate, seed 0; the
   target is 98% of its best validation accuracy, rounded down to 0.001, fixed before any
   technique runs; the baseline's other seeds run next.
5. **Techniques**, one representative variant per applicable family
   (:func:`applicable_families`), cheapest estimate first. Before each, its cost is
   estimated from the baseline's measured seconds per run (:func:`estimate_seconds`) and
   it is skipped, with the reason, when the estimate exceeds what is left of the budget
   (:func:`fits_budget`).

The result (:class:`CompareReport`) holds the table (one row per family: the measured
ratio, its spread over seeds, the unit, the verdict, the claim it is set beside, or why
it was skipped / not applicable) and writes ``results.csv``, ``results.json`` and
``history.csv`` (:meth:`CompareReport.save`). ``notebooks/compare.ipynb`` calls it and
draws the figures; ``python -m workbench compare`` runs that notebook into
``runs/<timestamp>/`` with its HTML export.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.data.splits import DataValidationError
from workbench.data.user_data import load_file
from workbench.experiment import (
    Experiment,
    ExperimentResult,
    RunRecord,
    Target,
    Variant,
    _json_clean,
    time_to_target,
    time_verdict,
)
from workbench.recipes import (
    SCHEDULE_VARIANTS,
    SMOKE,
    default_recipe,
    default_target,
    model_factory,
)
from workbench.report import format_number, format_percent, format_ratio, format_seconds
from workbench.validation import check_int, check_number

__all__ = [
    "COST_FACTORS",
    "FAMILIES",
    "LR_RULE",
    "MIN_VAL_EXAMPLES",
    "TARGET_RULE",
    "CompareReport",
    "applicable_families",
    "check_comparable",
    "choose_lr",
    "command",
    "compare_file",
    "estimate_seconds",
    "fits_budget",
    "reduce_seeds",
    "target_from_baseline",
    "write_example_csv",
]

#: Fewest validation examples :func:`compare_file` accepts: with fewer, one example moves
#: validation accuracy by more than 10 points and a time-to-target is noise.
MIN_VAL_EXAMPLES = 10

#: Validation passes per epoch (time-to-target is read off these evaluations).
EVALS_PER_EPOCH = 4

LR_RULE = ("one LR range test (Smith 2017; fastai's conventions: exponential ramp from 1e-6 to 1, "
           "smoothed loss, stop at 4x the minimum) with the recipe's model, optimizer and batch size, "
           "as many mini-batches as the baseline's run takes (20 to 100); "
           "the rate used is its 'valley' suggestion kept within [0.1x, 10x] the default recipe's rate")

TARGET_RULE = ("98% of the baseline's best validation accuracy on seed 0, rounded down to 0.001, fixed "
               "before any technique runs")

#: One representative variant per family: (family, variant name, unit, claim of the seed
#: documents, modalities it applies to, why it does not apply to the others).
FAMILIES: dict[str, dict[str, Any]] = {
    "lr_schedule": {
        "variant": "one-cycle schedule", "unit": "time-to-target ratio", "claim": "",
        "modalities": ("text", "vision", "tabular"),
        "why": "a schedule changes only the optimizer's rate: every model and data type",
    },
    "curriculum": {
        "variant": "curriculum (easy first)", "unit": "time-to-target ratio", "claim": "1.4x",
        "modalities": ("text", "vision", "tabular"),
        "why": ("difficulty = length / rarity / a cross-fitted reference model's loss for text, "
                "ink / atypicality / the same reference loss for images and feature vectors"),
    },
    "compute_skipping": {
        "variant": "gradient caching", "unit": "time-to-target ratio", "claim": "1.25x",
        "modalities": ("text", "vision", "tabular"),
        "why": "needs a model with encode() and a final linear classifier: every default recipe's model",
    },
    "augmentation": {
        "variant": "EDA", "unit": "time-to-target ratio", "claim": "2x",
        "modalities": ("text",),
        "why": "EDA (Wei & Zou 2019) edits sentences; the augmentation family has no image or "
               "tabular transforms",
    },
    "transfer": {
        "variant": "word2vec init (Brown corpus)", "unit": "time-to-target ratio", "claim": "5x",
        "modalities": ("text",),
        "why": "pretrained word vectors initialise a text model's embedding; there is no pretrained "
               "model here for images or feature vectors",
    },
    "active_learning": {
        "variant": "margin sampling vs random", "unit": "labels-to-target ratio", "claim": "2x",
        "modalities": ("text", "vision", "tabular"),
        "why": "acquisition by the model's margin works for any classifier; it runs between fits "
               "(one fit per round), so its unit is labels, not seconds",
    },
}

#: A family's estimated cost of one run, as a multiple of the baseline's measured seconds
#: per run (overheads the runs themselves add: difficulty scoring, the gradient cache's
#: feature pass, EDA's copies), and one-off seconds (full, smoke) paid once (word vectors).
#: Active learning's estimate is computed from the baseline's seconds per optimizer step
#: instead (:func:`estimate_seconds`).
#: Upper-side figures from smoke runs on a 400-sentence CSV on a loaded 2-core machine.
COST_FACTORS: dict[str, tuple[float, tuple[float, float]]] = {
    "lr_schedule": (1.0, (0.0, 0.0)),
    "curriculum": (1.3, (0.0, 0.0)),
    "compute_skipping": (1.5, (0.0, 0.0)),
    "augmentation": (1.2, (5.0, 5.0)),  # + EDA copies / EDA_PER_SECOND; one-off: WordNet
    "transfer": (1.2, (210.0, 30.0)),  # one-off: the Brown corpus (28 s) and word2vec (181 s), measured
    "active_learning": (0.6, (0.0, 0.0)),  # its steps: smaller batches, one test pass per round
}

#: EDA copies made per second (WordNet synonym look-ups dominate), for the estimate.
EDA_PER_SECOND = 250.0


def applicable_families(modality: str) -> tuple[list[str], dict[str, str]]:
    """``(families that apply, {family: why not})`` for a data modality (``"text"``,
    ``"vision"``, ``"tabular"``), in :data:`FAMILIES` order.

    Raises:
        ValueError: an unknown modality.
    """
    if modality not in ("text", "vision", "tabular"):
        raise ValueError(f"modality must be 'text', 'vision' or 'tabular'; got {modality!r}")
    yes = [f for f, spec in FAMILIES.items() if modality in spec["modalities"]]
    no = {f: spec["why"] for f, spec in FAMILIES.items() if modality not in spec["modalities"]}
    return yes, no


def estimate_seconds(family: str, baseline_run_s: float, seeds: int, smoke: bool = False,
                     step_s: float | None = None, active_steps: int | None = None,
                     augmented: int = 0) -> float:
    """Estimated wall seconds of ``family``'s runs over ``seeds`` seeds.

    ``COST_FACTORS[family][0] * baseline_run_s * seeds + one-off`` (the one-off of
    :data:`COST_FACTORS`, its smoke value with ``smoke``). Active learning: two strategies
    (random and margin) x ``active_steps`` optimizer steps per run (all rounds) x
    ``step_s`` (the baseline's measured seconds per optimizer step, evaluation included)
    x ``seeds``. Augmentation adds ``augmented`` (EDA copies made per seed) /
    :data:`EDA_PER_SECOND` seconds per seed.

    Args:
        baseline_run_s: the baseline's measured wall seconds for one run (seed 0), > 0.
        seeds: runs per family, >= 1.
        step_s, active_steps: active learning only (required there).

    Raises:
        ValueError: an unknown family or an argument out of range.
    """
    if family not in COST_FACTORS:
        raise ValueError(f"family must be one of {sorted(COST_FACTORS)}; got {family!r}")
    baseline_run_s = check_number("baseline_run_s", baseline_run_s, 0.0, lo_open=True)
    seeds = check_int("seeds", seeds, 1)
    factor, (one_off_full, one_off_smoke) = COST_FACTORS[family]
    if family == "active_learning":
        step_s = check_number("step_s", step_s, 0.0, lo_open=True)
        active_steps = check_int("active_steps", active_steps, 1)
        return factor * 2 * active_steps * step_s * seeds
    extra = check_int("augmented", augmented, 0) / EDA_PER_SECOND * seeds if family == "augmentation" else 0.0
    return factor * baseline_run_s * seeds + (one_off_smoke if smoke else one_off_full) + extra


def fits_budget(estimate_s: float, elapsed_s: float, budget_s: float) -> tuple[bool, str]:
    """Whether a run estimated at ``estimate_s`` fits in what is left of ``budget_s`` after
    ``elapsed_s``; ``(True, "")`` or ``(False, reason)``, the reason stating the numbers."""
    left = budget_s - elapsed_s
    if estimate_s <= left:
        return True, ""
    return False, (f"estimated {format_seconds(estimate_s)}, {format_seconds(max(0.0, left))} left of the "
                   f"{format_seconds(budget_s)} budget")


def reduce_seeds(asked: int, baseline_run_s: float, left_s: float,
                 cheapest_s: Callable[[int], float]) -> int:
    """Seeds to run: the most ``k <= asked`` (at least 1) for which the baseline's other
    ``k - 1`` seeds (``baseline_run_s`` each) and the cheapest technique over ``k`` seeds
    (``cheapest_s(k)``) fit in ``left_s`` seconds. Fewer seeds than asked still give every
    technique the same seeds as the baseline; below 3 no verdict is given."""
    k = check_int("asked", asked, 1)
    while k > 1 and (k - 1) * baseline_run_s + cheapest_s(k) > left_s:
        k -= 1
    return k


def check_comparable(splits: Any, min_val: int = MIN_VAL_EXAMPLES) -> None:
    """Raise :class:`DataValidationError` unless ``splits`` can be compared on: a
    classification task (at least two classes) with at least ``min_val`` validation
    examples (enough rows: ``min_val`` at the 10% validation fraction is 100 rows)."""
    source = str(splits.info.get("path", splits.name))
    if splits.task.num_classes < 2:
        raise DataValidationError(f"{source}: compare needs class labels (classification); got "
                                  f"{splits.task.num_classes} output(s)", source=source)
    n = sum(len(d) for d in (splits.train, splits.val, splits.test))
    if len(splits.val) < min_val:
        raise DataValidationError(
            f"{source}: too few rows to compare techniques: {n} rows give {len(splits.val)} validation "
            f"examples; compare needs at least {min_val} (about {10 * min_val} rows at the default "
            "80/10/10 split)", source=source)


def choose_lr(suggestion: float, recipe_lr: float) -> float:
    """:data:`LR_RULE`: ``suggestion`` clipped to ``[recipe_lr / 10, recipe_lr * 10]``; the
    recipe's rate when the suggestion is not a positive finite number."""
    if not (isinstance(suggestion, (int, float)) and math.isfinite(suggestion) and suggestion > 0):
        return float(recipe_lr)
    return float(min(max(suggestion, recipe_lr / 10), recipe_lr * 10))


def target_from_baseline(best_val_accuracy: float) -> Target:
    """:data:`TARGET_RULE`: ``val_accuracy >= floor(0.98 * best, 0.001)``.

    Raises:
        ValueError: ``best_val_accuracy`` outside (0, 1].
    """
    best = check_number("best_val_accuracy", best_val_accuracy, 0.0, 1.0, lo_open=True)
    return Target("val_accuracy", math.floor(0.98 * best * 1000 + 1e-9) / 1000, "max")


def _retarget(rec: RunRecord, target: Target) -> RunRecord:
    ttt, ett, stt = time_to_target(rec.rows, target)
    rec.time_to_target_s, rec.examples_to_target, rec.steps_to_target = ttt, ett, stt
    rec.per_target = {target.metric: {"time_to_target_s": ttt, "examples_to_target": ett, "steps_to_target": stt}}
    return rec


def _verdict_text(kind: str, why: str) -> str:
    """``time_verdict``'s ``(kind, reason)`` as the report's verdict: helps / no measurable
    effect / hurts with the reason, or the reason alone (no verdict, no ratio)."""
    word = {"cheaper": "helps", "dearer": "hurts", "same": "no measurable effect"}.get(kind)
    return f"{word} ({why})" if word else why


@dataclass
class CompareReport:
    """What :func:`compare_file` measured.

    Attributes:
        data: the file, data-set name, modality, split sizes, classes, loader notes.
        recipe: model, optimizer, rate, batch size, epochs, notes.
        lr_search: the rule, the range test's suggestions, the rate used, its seconds.
        target: metric, value, rule, the baseline's best validation accuracy.
        budget: minutes, seconds spent, seeds.
        rows: one dict per family (and the baseline first): ``family, variant, status``
            (``"baseline"``, ``"ran"``, ``"skipped"``, ``"not applicable"``, ``"not requested"``,
            ``"failed"``),
            ``unit, ratio, ratio_std, seeds, verdict, claim, test_accuracy, estimate_s,
            spent_s, reason``.
        result: the :class:`~workbench.experiment.ExperimentResult` of the time-to-target
            runs (baseline and techniques; ``summary``, ``history``).
        active: the active-learning summary rows (labels to target), if it ran.
        lr_result: the :class:`~workbench.techniques.optimization.lr_finder.LRFinderResult`.
    """

    data: dict[str, Any]
    recipe: dict[str, Any]
    lr_search: dict[str, Any]
    target: dict[str, Any]
    budget: dict[str, Any]
    rows: list[dict[str, Any]]
    result: ExperimentResult | None = None
    active: list[dict[str, Any]] = field(default_factory=list)
    lr_result: Any = None

    def table(self):
        """The results table (``pandas.DataFrame``), one row per family, readable strings."""
        import pandas as pd

        out = []
        for r in self.rows:
            ratio = "—" if r["ratio"] is None or _nan(r["ratio"]) else (
                format_ratio(r["ratio"]) + ("" if r["seeds"] < 2 or _nan(r["ratio_std"])
                                            else f" ± {format_number(r['ratio_std'], 2)}"))
            out.append({"family": r["family"], "variant": r["variant"], "status": r["status"],
                        "measured (variant / baseline)": ratio if r["status"] == "ran" else "—",
                        "unit": r["unit"], "seeds": r["seeds"], "verdict": r["verdict"],
                        "claimed": r["claim"] or "—", "test accuracy": format_percent(r["test_accuracy"]),
                        "note": r["reason"]})
        return pd.DataFrame(out)

    def describe(self) -> list[str]:
        """Short prose generated from the numbers: the data, the rate search, the target, and
        one sentence per family."""
        d, lr, t, b = self.data, self.lr_search, self.target, self.budget
        lines = [
            f"{d['path']}: {d['rows']:,} rows of {d['modality']} data, {d['classes']} classes; split "
            f"{d['sizes']['train']:,} / {d['sizes']['val']:,} / {d['sizes']['test']:,} (train / validation / test).",
            f"Default {d['modality']} recipe: {self.recipe['model']}, {self.recipe['optimizer']}, batch "
            f"{self.recipe['batch_size']}, {self.recipe['epochs']} epochs.",
            f"Learning-rate search: the range test ran {lr['iterations']} mini-batches in "
            f"{format_seconds(lr['seconds'])}; valley suggestion {format_number(lr['suggestion'])}, rate used "
            f"{format_number(lr['lr'])} (the recipe's: {format_number(lr['recipe_lr'])}).",
            f"Target: {t['metric']} >= {t['value']:g} ({TARGET_RULE}; the baseline's best was "
            f"{format_percent(t['baseline_best'])}, the majority class is {format_percent(t['majority'])}).",
        ]
        if t["value"] <= t["majority"]:
            lines.append("The baseline barely beats always predicting the majority class: the ratios below "
                         "compare runs that learnt little.")
        for r in self.rows:
            if r["status"] == "baseline":
                seeds = "one seed" if r["seeds"] == 1 else f"{r['seeds']} seeds"
                lines.append(f"Baseline: {format_seconds(r['spent_s'] / max(1, r['seeds']))} per run, "
                             f"test accuracy {format_percent(r['test_accuracy'])} (mean over {seeds}).")
            elif r["status"] == "ran" and _nan(r["ratio"]):
                lines.append(f"{r['family']} ({r['variant']}): no ratio: {r['verdict']}; {r['reason']}.")
            elif r["status"] == "ran":
                claim = f"; claimed elsewhere: {r['claim']}" if r["claim"] else ""
                better = "fewer" if r["unit"].startswith("labels") else "less time"
                lines.append(f"{r['family']} ({r['variant']}): {format_ratio(r['ratio'])} the baseline's "
                             f"{r['unit'].replace(' ratio', '')} (below 1x = {better}); {r['verdict']}{claim}.")
            else:
                lines.append(f"{r['family']} ({r['variant']}): {r['status']}: {r['reason']}")
        if b.get("seeds_note"):
            lines.append(b["seeds_note"][0].upper() + b["seeds_note"][1:] + ".")
        lines.append(f"Spent {format_seconds(b['spent_s'])} of the {format_seconds(b['budget_s'])} budget.")
        return lines

    def to_json(self) -> dict[str, Any]:
        out = {"data": self.data, "recipe": self.recipe, "lr_search": self.lr_search, "target": self.target,
               "budget": self.budget, "techniques": self.rows, "active_learning": self.active,
               "summary": [], "runs": []}
        if self.result is not None:
            res = self.result.to_json()
            out["summary"], out["runs"] = res["summary"], res["runs"]
        return _json_clean(out)

    def save(self, folder: str | Path) -> dict[str, Path]:
        """Write ``results.csv`` (the table, one row per family), ``results.json`` (everything:
        the table under ``techniques``, the time-to-target summary under ``summary``, per-run
        figures, the rate search, the target, the budget) and ``history.csv`` (validation
        curves) into ``folder``; returns the paths."""
        import pandas as pd

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {"csv": folder / "results.csv", "json": folder / "results.json", "history": folder / "history.csv"}
        pd.DataFrame(_json_clean(self.rows)).to_csv(paths["csv"], index=False)
        paths["json"].write_text(json.dumps(self.to_json(), indent=2, allow_nan=False))
        history = self.result.history if self.result is not None else pd.DataFrame()
        history.to_csv(paths["history"], index=False)
        return paths


def _nan(x: Any) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def _row(family: str, status: str, reason: str = "", **kw: Any) -> dict[str, Any]:
    spec = FAMILIES.get(family, {})
    row = {"family": family, "variant": spec.get("variant", "default recipe"), "status": status,
           "unit": spec.get("unit", "time-to-target ratio"), "ratio": math.nan, "ratio_std": math.nan,
           "seeds": 0, "verdict": "", "claim": spec.get("claim", ""), "test_accuracy": math.nan,
           "estimate_s": math.nan, "spent_s": 0.0, "reason": reason}
    row.update(kw)
    return row


def compare_file(path: str | Path, text_column: str = "text", label_column: str = "label",
                 budget_minutes: float = 10.0, seeds: Sequence[int] | int | None = None,
                 out_dir: str | Path | None = None, smoke: bool = False, x_key: str | None = None,
                 y_key: str | None = None, max_examples: int | None = None,
                 families: Sequence[str] | None = None, progress: bool = True,
                 log: Callable[[str], Any] | None = print) -> CompareReport:
    """Run the default recipe and every applicable technique on your labelled file, within
    a budget; see the module docstring for the protocol.

    Args:
        path: ``.csv`` / ``.tsv`` / ``.jsonl`` / ``.json`` labelled text or ``.npz``
            arrays (:func:`~workbench.data.user_data.load_file`).
        text_column, label_column: text files' columns (fields).
        budget_minutes: wall-clock budget in minutes for everything (loading, the rate
            search, the baseline and the techniques), > 0. The baseline's first seed
            always runs; a technique whose estimate exceeds what is left is skipped.
        seeds: seeds per variant (an int n: ``0..n-1``); default 1 in smoke mode, else 3
            (a verdict needs 3).
        out_dir: write ``results.csv`` / ``results.json`` / ``history.csv`` there (None:
            nothing written).
        smoke: tests and CI: at most 600 examples, 2 epochs, tiny active-learning and
            pretraining budgets (numbers are not measurements).
        x_key, y_key: ``.npz`` array names (default: ``X`` / ``y`` and common aliases).
        max_examples: cap on the examples loaded (a stratified subsample).
        families: restrict to these families (default: every applicable one).
        progress: progress bars; log: where progress lines go (None: nowhere).

    Returns:
        :class:`CompareReport`.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: an unknown suffix, an invalid argument, or (as
            :class:`~workbench.data.splits.DataValidationError`) the loaders' checks and
            :func:`check_comparable` (a single class, too few rows, ...).
    """
    t0 = time.perf_counter()
    say = log or (lambda _msg: None)
    budget_s = 60.0 * check_number("budget_minutes", budget_minutes, 0.0, lo_open=True)
    if seeds is None:
        seeds = 1 if smoke else 3
    seed_list = list(range(check_int("seeds", seeds, 1))) if isinstance(seeds, int) else [int(s) for s in seeds]
    if not seed_list:
        raise ValueError("seeds must name at least one seed")
    if families is not None:
        unknown = sorted(set(families) - set(FAMILIES))
        if unknown:
            raise ValueError(f"families must be among {sorted(FAMILIES)}; got {unknown}")
    cap = max_examples if max_examples is not None else (SMOKE["max_examples"] if smoke else None)
    splits = load_file(path, text_column=text_column, label_column=label_column, x_key=x_key, y_key=y_key,
                       **({"max_examples": cap} if cap else {}))
    check_comparable(splits)
    modality = splits.task.modality
    name = splits.name

    # ---- recipe: the modality's default, validated EVALS_PER_EPOCH times per epoch
    from workbench.data.steps import (
        batches_per_epoch,
        optimizer_steps_per_epoch,
        optimizer_steps_per_run,
    )

    base_recipe = default_recipe(splits, smoke=smoke)
    cfg0 = base_recipe.config
    per_epoch = optimizer_steps_per_epoch(batches_per_epoch(len(splits.train), cfg0.batch_size, cfg0.drop_last),
                                          cfg0.grad_accum_steps)
    cfg0 = cfg0.replace(eval_every_steps=max(1, per_epoch // EVALS_PER_EPOCH), progress_bar=progress)
    factory = model_factory(base_recipe.model)

    # ---- learning-rate search (charged to the clock)
    import torch

    from workbench.techniques.optimization.lr_finder import lr_find
    from workbench.train import checkpoint as ckpt

    say(f"[compare] {name}: {len(splits.train):,} / {len(splits.val):,} / {len(splits.test):,} examples "
        f"({modality}); LR range test ...")
    t_lr = time.perf_counter()
    rng = ckpt.capture_rng_state()
    try:
        torch.manual_seed(0)
        probe = factory(splits.task)
    finally:
        ckpt.restore_rng_state(rng)
    # short: at most as many mini-batches as the baseline's run takes (fastai's 100 at most)
    num_iter = 20 if smoke else min(100, max(20, optimizer_steps_per_run(cfg0, len(splits.train))))
    lr_res = lr_find(probe, splits.train, splits.task, config=cfg0, start_lr=1e-6, end_lr=1.0,
                     num_iter=num_iter, seed=0, name=name)
    lr_s = time.perf_counter() - t_lr
    lr = choose_lr(lr_res.suggestions["valley"], cfg0.lr)
    lr_res.extras["recipe_lr"] = cfg0.lr
    config = cfg0.replace(lr=lr)
    lr_search = {"rule": LR_RULE, "recipe_lr": cfg0.lr, "suggestion": lr_res.suggestions["valley"],
                 "suggestions": dict(lr_res.suggestions), "lr": lr, "iterations": lr_res.iterations,
                 "stop_reason": lr_res.stop_reason, "seconds": lr_s}
    say(f"[compare] LR range test: valley {lr_res.suggestions['valley']:.2e}, rate used {lr:.2e} "
        f"({format_seconds(lr_s)})")

    # ---- baseline, seed 0 (provisional target: default_target; the records are re-read
    # against the baseline-derived target below)
    provisional = default_target(splits)

    def experiment(variants: list[Variant], data: Any = splits, run_seeds: Sequence[int] | None = None,
                   target: Target = provisional, model: Any = factory) -> ExperimentResult:
        run_seeds = seed_list if run_seeds is None else run_seeds  # the seeds in force at the call
        exp = Experiment({name: data}, model, config, variants, seeds=list(run_seeds), target=target,
                         progress=progress, name=f"compare on {name}")
        return exp.run()

    t_b = time.perf_counter()
    first = experiment([Variant("baseline")], run_seeds=seed_list[:1]).records
    base_run_s = time.perf_counter() - t_b
    base_rec = first[0]
    evals = [r["val_accuracy"] for r in base_rec.rows if not _nan(r.get("val_accuracy", math.nan))]
    best = max(evals) if evals else math.nan
    if not evals or not best > 0:
        raise RuntimeError(f"{name}: the baseline produced no validation accuracy; cannot fix a target")
    target = target_from_baseline(best)
    counts = np.bincount(splits.val.targets.numpy(), minlength=splits.task.num_classes)
    majority = float(counts.max() / counts.sum())
    say(f"[compare] baseline seed {seed_list[0]}: best val accuracy {best:.3f} in "
        f"{format_seconds(base_run_s)}; target {target.describe()} (fixed now)")
    records = [_retarget(base_rec, target)]
    step_s = base_run_s / max(1, base_rec.effective_steps)

    # ---- what runs, and its estimated cost
    yes, no = applicable_families(modality)
    unrequested = [f for f in yes if families is not None and f not in families]
    yes = [f for f in yes if f not in unrequested]
    from workbench.techniques.active.compare import active_recipe

    act = active_recipe(name, smoke=smoke, splits=splits) if "active_learning" in yes else None
    act_steps = 0
    if act is not None:
        rounds = math.ceil(max(0, act.loop.label_budget - act.loop.initial_size) / act.loop.acquisition_size) + 1
        act_steps = rounds * int(act.train_config.max_steps or 1)
    augmented = 0
    if "augmentation" in yes:
        from workbench.techniques.augment.eda import recommended_config

        augmented = len(splits.train) * recommended_config(len(splits.train)).n_aug

    def estimate(fam: str, k: int) -> float:
        return estimate_seconds(fam, base_run_s, k, smoke, step_s=step_s, active_steps=act_steps or 1,
                                augmented=augmented)

    # fewer seeds when the baseline's other seeds and the cheapest technique would not fit
    asked = len(seed_list)
    left = budget_s - (time.perf_counter() - t0)
    k = reduce_seeds(asked, base_run_s, left, lambda k: min((estimate(f, k) for f in yes), default=0.0))
    seeds_note = "" if k == asked else (
        f"seeds reduced from {asked} to {k}: with {asked}, the baseline's other seeds and the cheapest "
        f"technique would not fit the {format_seconds(left)} left of the budget")
    if seeds_note:
        say(f"[compare] {seeds_note}")
        seed_list = seed_list[:k]
    spent_base = base_run_s
    if len(seed_list) > 1:
        t_b = time.perf_counter()
        records += experiment([Variant("baseline")], run_seeds=seed_list[1:], target=target).records
        spent_base += time.perf_counter() - t_b
    rows = [_row("baseline", "baseline", "the reference; its seed-0 run fixed the target", seeds=len(seed_list),
                 spent_s=spent_base, unit="reference", claim="",
                 variant=f"default {modality} recipe ({base_recipe.model}, lr {format_number(lr)})")]
    active_rows: list[dict[str, Any]] = []
    estimates = {f: estimate(f, len(seed_list)) for f in yes}
    ordered = sorted(yes, key=lambda f: estimates[f])
    for fam in ordered:
        est = estimates[fam]
        elapsed = time.perf_counter() - t0
        ok, reason = fits_budget(est, elapsed, budget_s)
        if not ok:
            say(f"[compare] {fam}: skipped: {reason}")
            rows.append(_row(fam, "skipped", reason, estimate_s=est))
            continue
        say(f"[compare] {fam} ({FAMILIES[fam]['variant']}): estimated {format_seconds(est)}, "
            f"{format_seconds(budget_s - elapsed)} left")
        t_f = time.perf_counter()
        try:
            if fam == "active_learning":
                row, active_rows = _run_active(splits, act, seed_list, name)
            else:
                recs, note = _run_family(fam, splits, experiment, target, smoke, base_recipe.model, config,
                                         seed_list)
                records += recs
                row = _row(fam, "ran", note)
        except Exception as exc:  # one family failing must not lose the others' results
            say(f"[compare] {fam} failed: {type(exc).__name__}: {exc}")
            row = _row(fam, "failed", f"{type(exc).__name__}: {exc}")
        row["estimate_s"], row["spent_s"] = est, time.perf_counter() - t_f
        rows.append(row)
    rows += [_row(fam, "not requested", "not in families=") for fam in unrequested]
    for fam, why in no.items():
        rows.append(_row(fam, "not applicable", why))

    claims = {FAMILIES[f]["variant"]: FAMILIES[f]["claim"] for f in yes if FAMILIES[f]["claim"]}
    result = ExperimentResult(records, {name: target}, "baseline", claims=claims)
    by_variant = {r["variant"]: r for r in result.summary.to_dict("records")}
    for row in rows:
        s = by_variant.get("baseline" if row["status"] == "baseline" else row["variant"])
        if s is None:
            continue
        row["test_accuracy"] = s["test_accuracy_mean"]
        if row["status"] == "ran" and row["unit"] == "time-to-target ratio":
            row["ratio"], row["ratio_std"], row["seeds"] = (s["time_to_target_ratio"], s["time_to_target_ratio_std"],
                                                            int(s["seeds"]))
            kind, why = time_verdict(int(s["seeds"]), s["time_to_target_ratio"], s["time_to_target_ratio_std"],
                                     s["examples_to_target_ratio"], s["examples_to_target_ratio_std"],
                                     bool(s["curves_differ"]), s["time_diff_s"], s["run_spread_s"])
            row["verdict"] = _verdict_text(kind, why)
            if _nan(s["time_to_target_ratio"]):
                row["reason"] = (f"reached the target on {int(s['reached'])} of {int(s['seeds'])} seed(s) "
                                 f"(the baseline on {int(by_variant['baseline']['reached'])}); " + row["reason"])
    spent = time.perf_counter() - t0
    report = CompareReport(
        data={"path": str(path), "name": name, "modality": modality, "classes": splits.task.num_classes,
              "class_names": list(splits.task.class_names or []), "sizes": dict(splits.info["sizes"]),
              "rows": int(sum(splits.info["sizes"].values())), "smoke": bool(smoke),
              "label_mapping": splits.info.get("label_mapping")},
        recipe={"model": base_recipe.model, "optimizer": config.optimizer, "lr": lr, "batch_size": config.batch_size,
                "epochs": config.epochs, "eval_every_steps": config.eval_every_steps, "schedule": config.schedule,
                "notes": base_recipe.notes},
        lr_search=lr_search,
        target={"metric": target.metric, "value": target.value, "mode": target.mode, "rule": TARGET_RULE,
                "baseline_best": best, "majority": majority},
        budget={"minutes": budget_s / 60, "budget_s": budget_s, "spent_s": spent, "seeds": seed_list,
                "seeds_asked": asked, "seeds_note": seeds_note,
                "estimate_rule": "COST_FACTORS x the baseline's measured seconds per run x seeds + one-off"},
        rows=rows, result=result, active=active_rows, lr_result=lr_res)
    if out_dir is not None:
        report.save(out_dir)
    return report


def _run_family(fam: str, splits: Any, experiment: Callable[..., ExperimentResult], target: Target,
                smoke: bool, model_name: str, config: Any, seeds: list[int]) -> tuple[list[RunRecord], str]:
    """Records of ``fam``'s representative variant (all seeds) and a note on how it was set up."""
    variant = FAMILIES[fam]["variant"]
    if fam == "lr_schedule":
        return experiment([Variant(variant, config=SCHEDULE_VARIANTS["one_cycle"])], target=target).records, \
            "OneCycleLR with its defaults (30% warm-up from lr/25), peak = the searched rate"
    if fam == "curriculum":
        from workbench.techniques.curriculum.compare import paced_sampler_factory

        v = Variant(variant, sampler=paced_sampler_factory("curriculum", "fixed_exponential", 0.5, 0.04))
        return experiment([v], target=target).records, \
            "easiest 4% first, the pool doubling until all data at half the run (fixed exponential pacing)"
    if fam == "compute_skipping":
        from workbench.techniques.skipping.compare import make_technique

        v = Variant(variant, techniques=lambda s, seed: [make_technique("gradient-caching", s, seed=seed)])
        return experiment([v], target=target).records, \
            "classifier gradient reused for near-duplicate features, 20% target hit rate"
    if fam == "augmentation":
        from workbench.data.steps import optimizer_steps_per_run
        from workbench.techniques.augment.dataset import augment_splits
        from workbench.techniques.augment.eda import recommended_config

        eda = recommended_config(len(splits.train))
        recs = []
        # the baseline's number of optimizer steps (and validation interval): the copies
        # change what a step sees, not how many steps the run takes
        steps = optimizer_steps_per_run(config, len(splits.train))
        for seed in seeds:
            aug = augment_splits(splits, eda, seed=seed)
            v = Variant(variant, config={"max_steps": steps})
            recs += experiment([v], data=aug, run_seeds=[seed], target=target).records
        return recs, (f"{eda.n_aug} EDA copies per sentence (alpha {eda.alpha_sr:g}, Wei & Zou's setting for "
                      f"{len(splits.train):,} sentences), the baseline's number of optimizer steps")
    if fam == "transfer":
        from workbench.techniques.transfer.corpus import build_pretraining_corpus
        from workbench.techniques.transfer.kim import kim_cnn_factory
        from workbench.techniques.transfer.vectors import train_word_vectors

        if model_name != "kim_cnn":
            raise ValueError(f"word-vector init needs the Kim CNN; the recipe's model is {model_name!r}")
        t = time.perf_counter()
        corpus = build_pretraining_corpus(sources=["brown"], heldout=[splits], max_sentences=1500 if smoke else None,
                                          verbose=False)
        vectors = train_word_vectors(corpus, verbose=False)
        pre_s = time.perf_counter() - t
        fac = kim_cnn_factory(splits.vocab, vectors, mode="non-static")
        recs = experiment([Variant(variant, model_factory=fac)], target=target).records
        cov = getattr(fac, "coverage", None)
        cov_text = f", vectors for {format_percent(cov.type_coverage)} of the vocabulary" if cov is not None and \
            hasattr(cov, "type_coverage") else ""
        return recs, (f"Kim CNN non-static, embedding from skip-gram vectors trained on "
                      f"{len(corpus.sentences):,} Brown sentences (held-out sentences removed) in "
                      f"{format_seconds(pre_s)}, a one-off cost not in the time-to-target{cov_text}")
    raise ValueError(f"unknown family {fam!r}")


def _run_active(splits: Any, recipe: Any, seeds: list[int], name: str) -> tuple[dict[str, Any], list[dict]]:
    from workbench.techniques.active.compare import run_comparison

    comp = run_comparison([name], strategies=["random", "margin"], seeds=seeds, recipes={name: recipe},
                          splits={name: splits})
    summary = comp.summary
    rows = summary.to_dict("records")
    m = next(r for r in rows if r["strategy"] == "margin")
    ratio, std, n = m["labels_to_target_ratio_vs_random"], m["labels_to_target_ratio_std"], int(m["seeds"])
    if _nan(ratio):
        verdict = "target not reached (by margin or random on some seed)"
    elif n < 3:
        verdict = f"{'one seed' if n == 1 else f'{n} seeds'}: no verdict"
    else:
        spread = 0.0 if _nan(std) else float(std)
        verdict = ("helps" if ratio < 1 - spread else "hurts" if ratio > 1 + spread else "no measurable effect") + \
            f" (ratio {format_ratio(ratio)}, per-seed spread ± {format_number(spread)})"
    t = recipe.target
    note = (f"{recipe.loop.initial_size} initial labels, {recipe.loop.acquisition_size} per round, up to "
            f"{recipe.loop.label_budget}; {recipe.train_config.max_steps} steps per round from scratch; "
            f"target {t.describe()} (" + ("smoke mode's" if recipe.smoke else
                                           "halfway between the majority class and perfect") + ")")
    row = _row("active_learning", "ran", note, ratio=ratio, ratio_std=std, seeds=n, verdict=verdict,
               test_accuracy=m["final_metric_mean"] if t.metric == "test_accuracy" else math.nan)
    return row, _json_clean(rows)


def write_example_csv(path: str | Path, per_class: int = 200) -> Path:
    """Write a small real labelled CSV to ``path``: the first ``per_class`` sentences of each
    class of the NLTK subjectivity corpus (Pang & Lee 2004), columns ``text`` and ``label``
    (``subjective`` / ``objective``). The compare notebook's example file.

    Raises:
        ValueError: ``per_class`` < 1. CorpusNotFoundError: the corpus is not installed.
    """
    import csv

    import nltk

    from workbench.data.nltk_data import ensure_corpus

    per_class = check_int("per_class", per_class, 1)
    ensure_corpus("subjectivity")
    reader = nltk.corpus.subjectivity
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["text", "label"])
        for cat, label in (("subj", "subjective"), ("obj", "objective")):
            w.writerows((" ".join(s), label) for s in reader.sents(categories=cat)[:per_class])
    return path


def command(args: Any, run: Callable[[str, bool, str, dict[str, object]], Path]) -> int:
    """The ``compare`` subcommand: check the file with the loaders (a bad file: the loader's
    message on stderr, exit status 2, nothing written), then execute
    ``notebooks/compare.ipynb`` with ``run`` (``workbench.__main__.run``) into a hidden
    staging folder under ``args.runs_dir`` and move the finished run to
    ``<runs_dir>/<timestamp>/``. A run that fails is moved to ``<runs_dir>/<timestamp>-failed/`` with ``FAILED.txt`` (the error) beside
    the executed notebook; no half-written folder is left under its normal name.
    Returns the exit status (0 done, 1 failed, 2 bad input, 130 interrupted)."""
    import shutil
    import sys
    import tempfile

    try:
        check_number("--budget-minutes", args.budget_minutes, 0.0, lo_open=True)
        if args.seeds is not None:
            check_int("--seeds", args.seeds, 1)
        splits = load_file(args.data, text_column=args.text_column, label_column=args.label_column,
                           x_key=args.x_key, y_key=args.y_key)
        check_comparable(splits)
    except (FileNotFoundError, ValueError) as exc:
        print(f"workbench compare: {exc}", file=sys.stderr)
        return 2
    root = Path(args.runs_dir)
    root.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".compare-incomplete-", dir=root))
    params: dict[str, object] = {"DATA": str(Path(args.data).resolve()), "TEXT_COLUMN": args.text_column,
                                 "LABEL_COLUMN": args.label_column, "X_KEY": args.x_key or "",
                                 "Y_KEY": args.y_key or "", "BUDGET_MINUTES": float(args.budget_minutes),
                                 "SEEDS": int(args.seeds or 0)}
    status, error = 0, None
    try:
        run("compare", bool(args.smoke), str(staging), params)
    except KeyboardInterrupt:
        status, error = 130, "interrupted (KeyboardInterrupt)"
    except Exception as exc:  # the executed notebook holds the traceback
        status, error = 1, f"{type(exc).__name__}: {exc}"
    made = [p for p in staging.iterdir() if p.is_dir()]
    final = None
    if made:
        src = made[0]
        name = src.name if status == 0 else f"{src.name}-failed"
        final = root / name
        k = 1
        while final.exists():
            final, k = root / f"{name}-{k}", k + 1
        if status != 0:
            (src / "FAILED.txt").write_text(f"workbench compare --data {args.data} failed:\n{error}\n")
        src.rename(final)
    shutil.rmtree(staging, ignore_errors=True)
    if status == 0:
        results = final / "results.json" if final is not None else None
        if results is not None and results.is_file():
            print("\nfamily | variant | status | measured (variant / baseline) | verdict or reason")
            for r in json.loads(results.read_text())["techniques"]:
                ratio = "—" if r["ratio"] is None else format_ratio(r["ratio"])
                print(f"{r['family']} | {r['variant']} | {r['status']} | {ratio} {r['unit']} | "
                      f"{r['verdict'] or r['reason']}")
        print(f"[workbench] compare run folder: {final}")
    else:
        print(f"workbench compare: {error}" + (f"; the failed run is in {final}" if final else ""), file=sys.stderr)
    return status
