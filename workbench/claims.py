"""The seed's claims beside measured figures: the main job's claims table (issue 21).

The documents this project grew out of claim speedups (curriculum 1.4x, active learning 2x,
augmentation 2x, transfer 5x, gradient caching 1.25x, difficulty prediction 1.2x,
torch.compile 10-20%, vision collator 2-5%, W&B log reduction 75%) and multiply four of
them into "1.4 x 2.0 x 1.25 x 5.0 = 17.5x". :data:`CLAIMS` lists them, each with its family,
the unit it is measured in and the representative variant that tests it;
:func:`run_claims` measures them against the tuned baseline and returns a
:class:`ClaimsResult` whose :meth:`~ClaimsResult.table` has one row per claim and data set:
the measured figure (mean ± sample standard deviation over seeds), the unit, the number of
seeds and a verdict computed from the numbers by
:func:`workbench.experiment.effect_verdict` (helps / no measurable effect / hurts, the
difference compared with the seed-to-seed spread; "no verdict" under 3 seeds).

Quick protocol (:data:`QUICK`; the main job must finish in 15 minutes on a 2-core CPU):

- digits: the tuned recipe (DigitsCNN, Adam 3e-3, batch 64), at most 6 epochs, validation
  every epoch, target validation accuracy >= 0.98 (the recipe's);
- SUBJ: the tuned recipe (Kim CNN-rand, Adam 2e-3, batch 50, the dynamic schedule) on a
  stratified subset of 2,000 of the 8,000 training sentences (split seed 0; the loader's
  vocabulary; validation and test splits whole), at most 240 optimizer steps (6 epochs of
  the subset), validation every 20 steps, target validation accuracy >= 0.85 (fixed before
  the runs from a seed-0 pilot of the quick baseline: 0.84 at step 60, 0.86 at step 80, 0.87
  at step 120, so the baseline reaches it part-way, not at its first evaluation);
- every run, baseline and variant alike, stops at its first evaluation reaching the target
  (:class:`~workbench.experiment.StopAtTarget`: time-to-target is unchanged);
- one baseline run per data set and seed, shared by every variant; seeds 0, 1, 2; variants
  interleaved seed by seed; one untimed warm-up step per variant before the timed runs;
- active learning: its own loop (:mod:`workbench.techniques.active`), random acquisition
  as the baseline at the same schedule, label budgets capped (digits 400, the active recipe's own; SUBJ 500);
- domain adaptation (DANN against source-only, pros_cons -> MR, the MR recipe's
  configuration, validated once per epoch) and multi-task learning (one shared Kim CNN for
  SUBJ + MR, equal weights, round-robin, against the two single-task recipes, targets the
  recipes' less 0.2, validated every 10 steps, stopping once every target is reached) on
  stratified subsets of 1,000 training / 300 validation / 500 test sentences per corpus
  (``text_cap``): DANN's figure is the ratio of MR test errors, source-only / DANN;
  multi-task's the sum of the single-task times to target over the shared model's;
- torch.compile (default mode) against eager: the digits training run of the measured rows
  (``measure_epochs``, no evaluation), compiled in a fresh Dynamo state per seed with
  compiling charged, after one untimed compile that fills Inductor's on-disk kernel cache
  (a one-off per machine, listed beside the figure); the steady-state step times,
  compiling's seconds and the steps it needs to pay off are in the row's note;
- per-seed preparation that a user pays every time (EDA's copies, the stack's active
  selection) is charged to the variant's time; one-off reusable costs (word vectors,
  difficulty scores) are listed beside the figure, not charged.

The figures of the thorough benchmarks (``python benchmarks/NAME.py``, more data, more
epochs) live in ``docs/results/``; :func:`full_benchmark_figures` reads them for the
table's last columns. Smoke mode (``smoke=True``): digits only, one seed, a 2-epoch budget
and the smoke target: the table is filled, its numbers are not measurements.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from workbench.experiment import (
    EFFECT_WORDS,
    Experiment,
    ExperimentResult,
    RunRecord,
    Target,
    Variant,
    effect_verdict,
)
from workbench.report import format_mean_std, format_number, format_seconds
from workbench.train.events import Event, Technique

__all__ = [
    "CLAIMS", "FAMILY_ROWS", "QUICK", "SMOKE_PROTOCOL", "STACK_PARTS", "Claim", "ClaimsResult", "Progress",
    "eta_seconds", "full_benchmark_figures", "run_claims",
]

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "docs" / "results"

#: units of the measured figures (factors: baseline cost / variant cost, above 1 is cheaper;
#: percents: share of the baseline's training time saved, above 0 is cheaper)
TIME_UNIT = "speedup to the target (time; baseline / variant)"
LABELS_UNIT = "label saving to the target (random / strategy)"
LOG_UNIT = "% of training time saved (log every 4th step)"
COLLATE_UNIT = "% of training time saved (batched collator)"
COMPILE_UNIT = "speedup of the same training run (time; eager / compiled, compiling charged)"
DOMAIN_UNIT = "target-domain test error reduction (source-only error / DANN error)"
MULTITASK_UNIT = "speedup to every task's target (time; sum of single-task times / shared model)"


@dataclass(frozen=True)
class Claim:
    """One claim of the seed documents and how the main job tests it.

    Attributes:
        key: short identifier (``"curriculum"``).
        family: the technique family (``workbench.techniques.<family>``, or ``scale_out`` /
            ``data`` / ``train``).
        stated: the claim as the seed documents state it (``"1.4x"``, ``"10-20%"``).
        claimed: the claimed figure in the table's unit (speedup factor, or percent).
        unit: what is measured (:data:`TIME_UNIT`, :data:`LABELS_UNIT`, ...).
        variant: the representative variant that tests it, in words.
        kind: ``"train"`` (a variant in the shared time-to-target runs), ``"active"``
            (the active-learning loop), ``"measure"`` (a small direct measurement) or
            ``"reference"`` (not measured in the quick protocol; the thorough figure).
        datasets: data sets it is measured on.
        skipped: data set -> why the claim is not measured there.
    """

    key: str
    family: str
    stated: str
    claimed: float | tuple[float, float]
    unit: str
    variant: str
    kind: str = "train"
    datasets: tuple[str, ...] = ("digits", "subj")
    skipped: Mapping[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        name = self.key.replace("_", " ")
        return f"{name} ({self.stated})" if self.stated == "no seed figure" else f"{name} {self.stated}"


_TEXT_ONLY = "a text technique: digits are images"

#: The seed's claims, exactly as issue 21 lists them.
CLAIMS: tuple[Claim, ...] = (
    Claim("curriculum", "curriculum", "1.4x", 1.4, TIME_UNIT,
          "curriculum: easiest first by difficulty_scores, fixed-exponential pacing reaching all data at half "
          "the run (Hacohen & Weinshall 2019)"),
    Claim("active_learning", "active", "2x", 2.0, LABELS_UNIT,
          "entropy acquisition against random at the same schedule (Settles 2009)", kind="active"),
    Claim("augmentation", "augment", "2x", 2.0, TIME_UNIT,
          "EDA with the paper's recommended setting for the training size (Wei & Zou 2019), copies "
          "generated per seed and charged", datasets=("subj",), skipped={"digits": _TEXT_ONLY + " (EDA edits words)"}),
    Claim("transfer", "transfer", "5x", 5.0, TIME_UNIT,
          "Kim CNN non-static: embeddings from skip-gram word vectors pretrained on local text (Kim 2014)",
          datasets=("subj",), skipped={"digits": _TEXT_ONLY + " (no pretrained image source is built)"}),
    Claim("gradient_caching", "skipping", "1.25x", 1.25, TIME_UNIT,
          "GradientCaching at the seed's 20% target hit rate"),
    Claim("difficulty_prediction", "skipping", "1.2x", 1.2, TIME_UNIT,
          "DifficultyPrediction skipping the predicted-easiest 20% of each batch after one epoch"),
    Claim("torch_compile", "scale_out", "10-20%", (1.10, 1.20), COMPILE_UNIT,
          "the Trainer with torch.compile (default mode, Inductor) against eager, the same digits training run, "
          "compiling charged", kind="measure", datasets=("digits",),
          skipped={"subj": "measured on digits only, to keep the main job within 15 minutes; the thorough "
                           "benchmark gives the Kim CNN's compiled training step 1.08-1.09x eager's time, so it "
                           "cannot pay off on SUBJ"}),
    Claim("vision_collator", "data", "2-5%", (2.0, 5.0), COLLATE_UNIT,
          "VisionCollator (normalise the stacked batch once) against normalising image by image then "
          "stacking, same training run", kind="measure", datasets=("digits",),
          skipped={"subj": "a vision claim: SUBJ is text"}),
    Claim("wandb_log_reduction", "train", "75%", 75.0, LOG_UNIT,
          "the Trainer's metrics logger every 4th step (75% fewer log records) against every step",
          kind="measure", datasets=("digits",),
          skipped={"subj": "measured once, on digits (logging cost does not depend on the data)"}),
)

#: Families with no seed figure, measured so that every family has a row.
FAMILY_ROWS: tuple[Claim, ...] = (
    Claim("one_cycle_schedule", "optimization", "no seed figure", math.nan, TIME_UNIT,
          "one-cycle learning-rate schedule (Smith & Topin 2019) against the tuned schedule",
          datasets=("digits",), skipped={"subj": "left out of the quick protocol's SUBJ budget; the SUBJ schedule "
                                                 "comparison: docs/results/schedules-subj-full-2026-11-22.txt"}),
    Claim("domain_adaptation", "domain", "no seed figure", math.nan, DOMAIN_UNIT,
          "DANN (Ganin et al. 2016: gradient reversal, lambda schedule) against source-only, pros_cons -> MR",
          kind="domain", datasets=("subj",), skipped={"digits": "a text technique: the two domains are the "
                                                                   "pros_cons and MR sentiment corpora"}),
    Claim("multitask", "multitask", "no seed figure", math.nan, MULTITASK_UNIT,
          "one shared Kim CNN on SUBJ + MR (equal weighting, round-robin) against two single-task models",
          kind="multitask", datasets=("subj",), skipped={"digits": "a text technique: the tasks are the SUBJ and "
                                                                      "MR corpora"}),
)

#: The seed's "conservative" combination and its multiplied expectation.
STACK_PARTS = ("curriculum", "active_learning", "gradient_caching", "transfer")
STACK_CLAIM = 1.4 * 2.0 * 1.25 * 5.0

#: The quick protocol (see the module docstring).
QUICK: dict[str, Any] = {
    "datasets": ("digits", "subj"), "seeds": (0, 1, 2),
    "digits_epochs": 6, "subj_train": 2000, "subj_max_steps": 240, "subj_eval_every_steps": 20,
    "subj_target": 0.85, "active_budget": {"digits": 400, "subj": 500}, "stack_labels": 1000,
    "measure_epochs": 3, "measure_max_steps": None, "log_every": 4,
    # domain adaptation and multi-task: stratified subsets per corpus (train / validation /
    # test sentences); multi-task targets are the recipes' less text_relax (the subsets
    # cannot reach the full-data targets), validated every text_eval_every_steps
    "text_cap": (1000, 300, 500), "text_relax": 0.2, "text_eval_every_steps": 10, "multitask_epochs": 4,
}

#: Smoke mode: digits only, one seed, tiny budgets (headless tests; not measurements).
SMOKE_PROTOCOL: dict[str, Any] = QUICK | {
    "datasets": ("digits",), "seeds": (0,), "digits_epochs": 2, "active_budget": {"digits": 30, "subj": 80},
    "measure_epochs": 1, "measure_max_steps": 10, "subj_train": 400, "subj_max_steps": 16, "subj_eval_every_steps": 4,
    "stack_labels": 200, "text_cap": (200, 100, 100), "multitask_epochs": 1,
}


# --------------------------------------------------------------------------- progress

def eta_seconds(estimates: Sequence[float], finished: Sequence[float], current_elapsed: float = 0.0) -> float:
    """Seconds left in a plan of runs.

    ``estimates``: the prior estimate of every run of the plan, in order; ``finished``: the
    measured seconds of the first ``len(finished)`` runs; ``current_elapsed``: seconds spent
    so far in the run in progress (the next one). The estimates of the runs not yet finished
    are scaled by ``sum(finished) / sum(their estimates)`` (how much slower or faster this
    machine is than the prior), and the current run's elapsed time is subtracted from its
    own (never below zero).

    Raises:
        ValueError: more finished runs than the plan holds.
    """
    k = len(finished)
    if k > len(estimates):
        raise ValueError(f"{k} finished runs but the plan holds {len(estimates)}")
    done_est = float(sum(estimates[:k]))
    scale = float(sum(finished)) / done_est if k and done_est > 0 else 1.0
    rest = [scale * float(e) for e in estimates[k:]]
    if not rest:
        return 0.0
    return max(0.0, rest[0] - float(current_elapsed)) + float(sum(rest[1:]))


def _clock(s: float) -> str:
    s = max(0, int(round(s)))
    return f"{s // 60}m {s % 60:02d}s" if s >= 60 else f"{s}s"


class Progress:
    """The run in progress and the time left, as one line: on the terminal (stderr), in a
    file the main job tails (``WORKBENCH_PROGRESS_FILE``), and in the notebook
    (a :class:`workbench.ui.StatusLine`), e.g.
    ``"[claims] run 7 of 40: subj / seed 1 / curriculum | 1m 02s elapsed, about 4m 10s left"``.

    Args:
        estimates: prior seconds of every planned run, in order (:func:`eta_seconds`).
        path: a file to append every line to (default ``$WORKBENCH_PROGRESS_FILE``; None: none).
        status: an object with ``update(text)`` (a notebook status line) or None.
        stream: where lines are printed (default ``sys.stderr``; None: nowhere).
    """

    def __init__(self, estimates: Sequence[float], path: str | os.PathLike | None = None,
                 status: Any = None, stream: Any = "stderr") -> None:
        self.estimates = [float(e) for e in estimates]
        env = os.environ.get("WORKBENCH_PROGRESS_FILE", "")
        self.path = Path(path) if path is not None else (Path(env) if env else None)
        self.status = status
        self.stream = sys.stderr if stream == "stderr" else stream
        self.finished: list[float] = []
        self.lines: list[str] = []
        self._t0 = time.perf_counter()
        self._run_t0 = self._t0

    def text(self, label: str, now: float | None = None) -> str:
        """The line for run ``len(finished) + 1`` labelled ``label``."""
        now = time.perf_counter() if now is None else now
        k, n = len(self.finished) + 1, len(self.estimates)
        left = eta_seconds(self.estimates, self.finished, now - self._run_t0)
        return (f"[claims] run {min(k, n)} of {n}: {label} | {_clock(now - self._t0)} elapsed, "
                f"about {_clock(left)} left")

    def start(self, label: str) -> str:
        """Announce the next run; returns the line."""
        self._run_t0 = time.perf_counter()
        return self._emit(self.text(label, self._run_t0))

    def done(self) -> None:
        """The run announced last has finished."""
        self.finished.append(time.perf_counter() - self._run_t0)

    def note(self, text: str) -> str:
        """A line about work outside the planned runs (e.g. one-off preparation), with the
        time elapsed; it does not count as a run."""
        return self._emit(f"[claims] {text} | {_clock(time.perf_counter() - self._t0)} elapsed")

    def finish(self) -> str:
        return self._emit(f"[claims] done: {len(self.finished)} runs in {_clock(time.perf_counter() - self._t0)}")

    def _emit(self, line: str) -> str:
        self.lines.append(line)
        if self.stream is not None:
            print(line, file=self.stream, flush=True)
        if self.path is not None:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        if self.status is not None:
            self.status.update(line)
        return line


# --------------------------------------------------------------------------- data and variants

@dataclass
class _DataSet:
    name: str
    splits: Any
    config: Any
    target: Target
    model: str


def _datasets(protocol: Mapping[str, Any], smoke: bool) -> dict[str, _DataSet]:
    from workbench import recipes
    from workbench.techniques.augment.dataset import subsample_train

    out = {}
    for d in protocol["datasets"]:
        if d == "digits":
            r = recipes.baseline_recipe("digits", smoke=smoke, progress_bar=False, epochs=protocol["digits_epochs"])
            out[d] = _DataSet(d, recipes.load_splits("digits"), r.config, r.target, r.model)
        elif d == "subj":
            full = recipes.load_splits("subj")
            splits = subsample_train(full, protocol["subj_train"], seed=0, rebuild_vocab=False)
            r = recipes.baseline_recipe("subj", progress_bar=False, max_steps=protocol["subj_max_steps"],
                                        eval_every_steps=protocol["subj_eval_every_steps"])
            value = recipes.SMOKE_TARGETS["subj"] if smoke else protocol["subj_target"]
            out[d] = _DataSet(d, splits, r.config, Target("val_accuracy", value), r.model)
        else:
            raise ValueError(f"the claims table runs on 'digits' and 'subj'; got {d!r}")
    return out


class _Prep:
    """Per-seed preparation seconds charged to a variant (EDA copies, active selection),
    and the active selections (one per data set and seed, shared by the stack variants that
    use active learning: a user selects once; each of them is charged its seconds)."""

    def __init__(self) -> None:
        self.seconds: dict[tuple[str, str, int], float] = {}
        self.notes: dict[str, str] = {}
        self.selections: dict[tuple[str, int], tuple[list[int], float]] = {}


def _word_vectors(notes: dict[str, str]) -> Any:
    from workbench.techniques.transfer import build_pretraining_corpus, train_word_vectors

    t0 = time.perf_counter()
    corpus = build_pretraining_corpus(verbose=False)
    vectors = train_word_vectors(corpus, verbose=False)
    notes["transfer"] = (f"one-off: word vectors {format_seconds(vectors.train_seconds)} to train (cached; "
                         f"{format_seconds(time.perf_counter() - t0)} here), not charged")
    return vectors


def _subset_splits(splits: Any, ids: Sequence[int]) -> Any:
    from dataclasses import replace as dc_replace

    train = splits.train.subset_by_ids(list(ids))
    return dc_replace(splits, train=train, info=dict(splits.info) | {"train_subset": {"size": len(ids)}})


def _active_selection(ds: _DataSet, seed: int, labels: int, smoke: bool) -> tuple[list[int], float]:
    """The labelled ids an entropy learner picks on ``ds``'s training split (its active
    recipe's model and schedule, budget ``labels``), and the seconds it took."""
    from workbench.techniques.active.compare import active_recipe
    from workbench.techniques.active.loop import ActiveLearner

    recipe = active_recipe(ds.name, smoke=smoke)
    n = len(ds.splits.train)
    step = max(recipe.loop.acquisition_size, (labels - recipe.loop.initial_size) // 8)
    loop = recipe.loop.replace(strategy="entropy", seed=int(seed), label_budget=min(labels, n),
                               acquisition_size=step)
    t0 = time.perf_counter()
    learner = ActiveLearner(ds.splits, recipe.model_factory(), recipe.train_config, loop, dataset=ds.name)
    learner.run()
    return list(learner.labeled_ids), time.perf_counter() - t0


def _stack_variant(parts: Sequence[str], ds: _DataSet, prep: _Prep, vectors: Any, protocol: Mapping[str, Any],
                   smoke: bool, name: str) -> tuple[Variant, Callable[[Any, int], Any] | None]:
    """The combined stack of ``parts`` (a subset of :data:`STACK_PARTS`) as a Variant plus
    its data override (active selection of the labelled subset, charged per seed)."""
    from workbench.techniques.curriculum.compare import paced_sampler_factory
    from workbench.techniques.skipping.compare import make_technique
    from workbench.techniques.transfer.kim import kim_cnn_factory

    kwargs: dict[str, Any] = {}
    if "curriculum" in parts:
        kwargs["sampler"] = paced_sampler_factory("curriculum", "fixed_exponential")
    if "gradient_caching" in parts:
        kwargs["techniques"] = lambda splits, seed: [make_technique("gradient-caching", splits, seed)]
    if "transfer" in parts and vectors is not None:
        kwargs["model_factory"] = kim_cnn_factory(ds.splits.vocab, vectors, mode="non-static")
    data = None
    if "active_learning" in parts:
        def data(splits: Any, seed: int) -> Any:
            if (ds.name, seed) not in prep.selections:
                prep.selections[(ds.name, seed)] = _active_selection(ds, seed, protocol["stack_labels"], smoke)
            ids, seconds = prep.selections[(ds.name, seed)]
            prep.seconds[(ds.name, name, seed)] = seconds
            return _subset_splits(splits, ids)
    return Variant(name, **kwargs), data


def _variants(ds: _DataSet, prep: _Prep, protocol: Mapping[str, Any], smoke: bool,
              stack: bool, keys: set[str] | None = None
              ) -> tuple[list[tuple[Claim, Variant]], dict[str, Callable[[Any, int], Any]], Any]:
    """The representative variant of every training claim applicable to ``ds`` (of those
    in ``keys``, when given)."""
    from workbench.recipes import schedule_changes
    from workbench.techniques.augment.dataset import augment_splits
    from workbench.techniques.augment.eda import recommended_config
    from workbench.techniques.curriculum.compare import paced_sampler_factory
    from workbench.techniques.skipping.compare import make_technique
    from workbench.techniques.transfer.kim import kim_cnn_factory

    by_key = {c.key: c for c in CLAIMS + FAMILY_ROWS}
    out: list[tuple[Claim, Variant]] = []
    data: dict[str, Callable[[Any, int], Any]] = {}
    vectors = None
    applicable = {c.key for c in CLAIMS + FAMILY_ROWS if c.kind == "train" and ds.name in c.datasets
                  and (keys is None or c.key in keys)}
    if "curriculum" in applicable:
        out.append((by_key["curriculum"], Variant("curriculum", sampler=paced_sampler_factory("curriculum",
                                                                                             "fixed_exponential"))))
    if "augmentation" in applicable:
        def eda(splits: Any, seed: int) -> Any:
            t0 = time.perf_counter()
            aug = augment_splits(splits, recommended_config(len(splits.train)), seed=seed)
            prep.seconds[(ds.name, "eda", seed)] = time.perf_counter() - t0
            return aug
        out.append((by_key["augmentation"], Variant("eda")))
        data["eda"] = eda
    if "transfer" in applicable or (stack and ds.name == "subj"):
        vectors = _word_vectors(prep.notes)
    if "transfer" in applicable:
        out.append((by_key["transfer"], Variant("kim non-static (word2vec)", model_factory=kim_cnn_factory(
            ds.splits.vocab, vectors, mode="non-static"))))
    for key, tech in (("gradient_caching", "gradient-caching"), ("difficulty_prediction", "difficulty-prediction")):
        if key in applicable:
            out.append((by_key[key], Variant(tech, techniques=lambda splits, seed, _t=tech: [
                make_technique(_t, splits, seed)])))
    if "one_cycle_schedule" in applicable:
        out.append((by_key["one_cycle_schedule"], Variant("one_cycle", config=schedule_changes("one_cycle"))))
    if stack and ds.name == "subj":
        for drop in (None, *STACK_PARTS):
            parts = [p for p in STACK_PARTS if p != drop]
            name = "stack" if drop is None else f"stack - {drop.replace('_', ' ')}"
            v, d = _stack_variant(parts, ds, prep, vectors, protocol, smoke, name)
            out.append((None, v))  # type: ignore[arg-type]
            if d is not None:
                data[name] = d
    return out, data, vectors


# --------------------------------------------------------------------------- measurements

class _PerImageVisionCollator:
    """Normalise image by image (a per-item transform, as torchvision's ``Normalize`` in a
    dataset's ``__getitem__``), then stack: the control of the vision-collator claim."""

    def __init__(self, task: Any) -> None:
        self.mean = torch.tensor(task.mean, dtype=torch.float64).view(-1, 1, 1)
        self.std = torch.tensor(task.std, dtype=torch.float64).view(-1, 1, 1)

    def __call__(self, items: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        images = []
        for it in items:
            x = torch.as_tensor(it["input"]).to(torch.float64)
            if x.dim() == 2:
                x = x.unsqueeze(0)
            images.append(((x - self.mean) / self.std).to(torch.float32))
        return {"ids": torch.tensor([int(it["id"]) for it in items], dtype=torch.long),
                "inputs": torch.stack(images),
                "targets": torch.as_tensor([int(it["target"]) for it in items], dtype=torch.long)}


class _StepClock(Technique):
    """``time.perf_counter()`` at the end of every optimizer step (for steady-state step
    times: the intervals after the first steps, which hold compiling)."""

    events = frozenset({Event.STEP_END})

    def __init__(self) -> None:
        self.times: list[float] = []

    def on_step_end(self, state: Any) -> None:
        self.times.append(time.perf_counter())

    def steady_step_s(self) -> float:
        """Median interval between step ends over the second half of the run, seconds
        (NaN under 4 steps)."""
        gaps = np.diff(self.times[len(self.times) // 2 - 1:]) if len(self.times) >= 4 else []
        return float(np.median(gaps)) if len(gaps) else math.nan


def _timed_fit(ds: _DataSet, seed: int, epochs: int, collate_fn: Any = None, max_steps: int | None = None,
               clock: _StepClock | None = None, **changes: Any) -> float:
    from workbench.recipes import model_factory
    from workbench.train.trainer import Trainer, seed_everything

    config = ds.config.replace(seed=seed, epochs=epochs, max_steps=max_steps, eval_every_epochs=None,
                               eval_every_steps=None,
                               restore_best=False, progress_bar=False, **changes)
    seed_everything(seed)
    model = model_factory(ds.model)(ds.splits.task)
    trainer = Trainer(model, config, ds.splits.train, None, task=ds.splits.task, collate_fn=collate_fn,
                      techniques=[clock] if clock is not None else ())
    result = trainer.fit()
    if config.compile and trainer.state.counters.get("compile_fallback"):
        raise RuntimeError(f"torch.compile fell back to eager: {trainer.state.extras.get('compile_error')}")
    return float(result.wall_time)


def _compile_arms(ds: _DataSet, epochs: int, max_steps: int | None
                  ) -> tuple[Callable[[int], float], Callable[[int], float], Callable[[int], float],
                             dict[str, list[float]]]:
    """The arms of the torch.compile row: ``(prime, eager, compiled, steps)``.

    ``prime(seed)`` compiles once before the timed runs and returns its seconds: Inductor
    keeps compiled kernels in an on-disk cache, so the first compile on a machine (cold:
    code generation and C++ compilation) is a one-off, listed beside the figure like the
    word vectors, and the timed compiled runs all see the same warm cache instead of the
    first seed paying it alone. Each compiled run starts from a fresh Dynamo state
    (``torch._dynamo.reset()``), so tracing, graph lowering and the cache lookups are
    charged to every seed, as a new process pays them. ``steps["eager"]`` /
    ``steps["compiled"]``: steady-state seconds per step; ``steps["n"]``: optimizer steps
    per run."""
    steps: dict[str, list[float]] = {"eager": [], "compiled": [], "n": []}

    def run(seed: int, compiled: bool, record: bool = True) -> float:
        clock = _StepClock()
        if compiled:
            torch._dynamo.reset()
        wall = _timed_fit(ds, seed, epochs, max_steps=max_steps, clock=clock, compile=compiled)
        if record:
            steps["compiled" if compiled else "eager"].append(clock.steady_step_s())
            if not compiled:
                steps["n"].append(float(len(clock.times)))
        return wall

    return (lambda s: run(s, True, record=False)), (lambda s: run(s, False)), (lambda s: run(s, True)), steps


def _compile_note(control: Sequence[float], treated: Sequence[float], steps: Mapping[str, Sequence[float]],
                  length: str, first_s: float) -> str:
    """The steady-state side of the torch.compile row: per-step saving, compiling's
    one-off seconds per seed and the steps after which it would pay off."""
    eager, comp, n = (np.asarray(steps[k], dtype=float) for k in ("eager", "compiled", "n"))
    step_saving = 100.0 * (1.0 - comp / eager)
    # one-off cost: the compiled run's time beyond its steps at the steady-state rate
    overhead = [t - k * c - (e_wall - k * e) for t, e_wall, k, c, e in zip(treated, control, n, comp, eager)]
    gain = float(np.mean(eager - comp))
    payoff = f"after {np.mean(overhead) / gain:,.0f} steps" if gain > 0 else "never (no per-step gain)"
    mean, sd = _mean_sd(step_saving)
    return (f"{length} of digits training per arm, no evaluation; steady state {mean:+.1f} ± {sd:.1f}% per step "
            f"({np.mean(comp) * 1e3:.1f} vs {np.mean(eager) * 1e3:.1f} ms, the claim's measure); compiling costs "
            f"{', '.join(format_seconds(o) for o in overhead)} per seed (charged: tracing and lowering again with "
            f"Inductor's kernels cached on disk), and once per machine "
            f"{format_seconds(max(0.0, first_s - float(np.mean(control))))} more for the first compile (not charged; "
            f"cold unless the cache already held these kernels); pays off {payoff}")


def _measure_pairs(control: Callable[[int], float], treated: Callable[[int], float], seeds: Sequence[int],
                   progress: Progress, label: str) -> tuple[list[float], list[float]]:
    a, b = [], []
    for i, s in enumerate(seeds):  # alternate which arm runs first
        arms = [(a, control, "control"), (b, treated, "treated")]
        for out, fn, arm in (arms if i % 2 == 0 else arms[::-1]):
            progress.start(f"digits / seed {s} / {label} ({arm})")
            out.append(fn(s))
            progress.done()
    return a, b


def _saving_row(claim: Claim, dataset: str, control: Sequence[float], treated: Sequence[float],
                note: str) -> dict[str, Any]:
    ratios = [t / c for c, t in zip(control, treated)]
    savings = [100.0 * (1.0 - r) for r in ratios]
    mean, sd = _mean_sd(savings)
    ratio = float(np.mean(treated) / np.mean(control))
    return _row(claim, dataset, "measured", mean, sd, len(savings),
                effect_verdict(len(savings), ratio, _mean_sd(ratios)[1]), note,
                per_seed=savings)


def _factor_row(claim: Claim, dataset: str, control: Sequence[float], treated: Sequence[float],
                note: str) -> dict[str, Any]:
    """A speedup row from paired timings: control / treated per seed (above 1: faster)."""
    speedups = [c / t for c, t in zip(control, treated)]
    mean, sd = _mean_sd(speedups)
    ratios = [t / c for c, t in zip(control, treated)]
    return _row(claim, dataset, "measured", mean, sd, len(speedups),
                effect_verdict(len(speedups), float(np.mean(treated) / np.mean(control)), _mean_sd(ratios)[1]),
                note, per_seed=speedups)


#: the thorough compile figure (``benchmarks/compile.py``'s JSON)
COMPILE_RESULTS = "compile-full-2026-12-03.json"


def _compile_reference() -> tuple[float, str]:
    """The thorough torch.compile figure: the digits CNN's compiled (default mode) training
    step against eager, as a percent of step time saved (the main job's model), with the
    range over every model and mode of the run."""
    path = RESULTS_DIR / COMPILE_RESULTS
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return math.nan, f"{path.name} not found"
    train = [r for r in data.get("results", []) if r.get("phase") == "train" and
             str(r.get("variant", "")).startswith("compile") and not str(r["variant"]).endswith("bf16")
             and r.get("speedup")]
    if not train:
        return math.nan, "no compiled training step in the file"
    pick = next((r for r in train if (r["model"], r["variant"]) == ("cnn", "compile-default")), None)
    pick = pick or max(train, key=lambda r: r["speedup"])
    lo, hi = min(r["speedup"] for r in train), max(r["speedup"] for r in train)
    payoff = pick.get("payoff_steps")
    pays = f"pays off after {payoff:,} steps" if isinstance(payoff, (int, float)) else "never pays off"
    kind = "quick run, loaded machine" if data.get("quick") else "full run, quiet machine"
    return (100.0 * (float(pick["speedup"]) - 1.0),
            f"{pick['model']} training step, {pick['variant']}: {pick['speedup']:.2f}x eager after "
            f"{pick['compile_s']:.0f} s of compiling ({pays}); every model and mode "
            f"{lo:.2f}-{hi:.2f}x ({path.name}, {kind})")


# --------------------------------------------------------------------------- table rows

def _mean_sd(xs: Sequence[float]) -> tuple[float, float]:
    xs = [float(x) for x in xs if not (x is None or math.isnan(float(x)))]
    if not xs:
        return math.nan, math.nan
    return float(np.mean(xs)), float(np.std(xs, ddof=1)) if len(xs) > 1 else 0.0


def _claimed_text(claim: Claim | None) -> str:
    return "" if claim is None else claim.stated


def _row(claim: Claim | None, dataset: str, status: str, mean: float = math.nan, sd: float = math.nan,
         seeds: int = 0, verdict: str = "", note: str = "", variant: str = "", unit: str = "",
         per_seed: Sequence[float] = (), family: str = "", label: str = "") -> dict[str, Any]:
    return {"claim": label or (claim.label if claim else ""), "family": family or (claim.family if claim else ""),
            "dataset": dataset, "variant": variant or (claim.variant if claim else ""),
            "unit": unit or (claim.unit if claim else TIME_UNIT), "claimed": _claimed_text(claim),
            "measured": mean, "spread": sd, "seeds": seeds, "status": status, "verdict": verdict,
            "note": note, "per_seed": [float(x) for x in per_seed]}


def _speedup_row(claim: Claim | None, ds: str, variant: str, result: ExperimentResult, prep: _Prep,
                 note: str = "", label: str = "", family: str = "") -> dict[str, Any]:
    """Speedup = baseline's time-to-target / the variant's, per seed (prep seconds charged)."""
    mine = {r.seed: r for r in result.records if (r.dataset, r.variant) == (ds, variant)}
    base = {r.seed: r for r in result.records if (r.dataset, r.variant) == (ds, result.baseline)}
    seeds = sorted(s for s in mine if s in base)
    cost = {s: mine[s].time_to_target_s + prep.seconds.get((ds, variant, s), 0.0) for s in seeds}
    missed = [s for s in seeds if math.isnan(cost[s]) or math.isnan(base[s].time_to_target_s)]
    charged = sum(prep.seconds.get((ds, variant, s), 0.0) for s in seeds)
    if charged:
        note = (note + "; " if note else "") + f"{format_seconds(charged / len(seeds))} of preparation per seed charged"
    if missed or not seeds:
        reached = sum(not math.isnan(mine[s].time_to_target_s) for s in seeds)
        return _row(claim, ds, "target missed", seeds=len(seeds), variant=variant, label=label, family=family,
                    verdict=EFFECT_WORDS["no ratio"],
                    note=(note + "; " if note else "") + f"reached the target on {reached} of {len(seeds)} seeds"
                    + ("" if all(not math.isnan(base[s].time_to_target_s) for s in seeds) else
                       " (the baseline missed it on some seed)"))
    ratios = [cost[s] / base[s].time_to_target_s for s in seeds]
    speed = [1.0 / r for r in ratios]
    mean, sd = _mean_sd(speed)
    ratio = float(np.mean([cost[s] for s in seeds]) / np.mean([base[s].time_to_target_s for s in seeds]))
    ex = [mine[s].examples_to_target / base[s].examples_to_target for s in seeds]
    b_t = [base[s].time_to_target_s for s in seeds]
    verdict = effect_verdict(len(seeds), ratio, _mean_sd(ratios)[1], examples_ratio=float(np.mean(ex)),
                             examples_ratio_std=_mean_sd(ex)[1],
                             curves_differ=_curves_differ(mine, base, seeds),
                             time_diff_s=float(np.mean(list(cost.values())) - np.mean(b_t)),
                             run_spread_s=_mean_sd(b_t)[1] if len(b_t) > 1 else math.nan)
    return _row(claim, ds, "measured", mean, sd, len(seeds), verdict, note, variant=variant, per_seed=speed,
                label=label, family=family)


def _curves_differ(mine: Mapping[int, RunRecord], base: Mapping[int, RunRecord], seeds: Sequence[int]) -> bool:
    from workbench.experiment import _curves_differ as differ

    return any(differ(mine[s], base[s], Target()) for s in seeds)


def _active_rows(claim: Claim, datasets: Sequence[str], seeds: Sequence[int], protocol: Mapping[str, Any],
                 smoke: bool, progress: Progress, loaded: Mapping[str, _DataSet]) -> list[dict[str, Any]]:
    from workbench.techniques.active.compare import active_recipe
    from workbench.techniques.active.curves import summarize_runs
    from workbench.techniques.active.loop import ActiveLearner

    rows = []
    for d in datasets:
        recipe = active_recipe(d, smoke=smoke)
        budget = protocol["active_budget"][d]
        splits = recipe.load_splits()
        runs = []
        for seed in seeds:
            for strategy in ("random", "entropy"):
                progress.start(f"{d} / seed {seed} / active learning ({strategy}, up to {budget} labels)")
                loop = recipe.loop.replace(strategy=strategy, seed=int(seed), label_budget=budget)
                runs.append(ActiveLearner(splits, recipe.model_factory(), recipe.train_config, loop,
                                          dataset=d).run())
                progress.done()
        target = recipe.target
        s = summarize_runs(runs, {d: target})
        row = s[s["strategy"] == "entropy"].iloc[0]
        ratio, ratio_sd = float(row["labels_to_target_ratio_vs_random"]), float(row["labels_to_target_ratio_std"])
        note = (f"{target.describe()} (the active recipe's {recipe.model}, trained afresh every round); labels to "
                f"target: entropy {format_number(row['labels_to_target_mean'])}, random "
                f"{format_number(s[s['strategy'] == 'random'].iloc[0]['labels_to_target_mean'])}")
        if math.isnan(ratio):
            rows.append(_row(claim, d, "target missed", seeds=len(seeds), verdict=EFFECT_WORDS["no ratio"],
                             note=note + f"; a run missed the target within {budget} labels"))
            continue
        per = []
        for seed in seeds:
            from workbench.techniques.active.curves import labels_to_target

            lt = {r.strategy: labels_to_target([c["labels"] for c in r.curve],
                                               [c.get(target.metric, math.nan) for c in r.curve], target)
                  for r in runs if r.seed == seed}
            per.append(lt["random"] / lt["entropy"])
        mean, sd = _mean_sd(per)
        rows.append(_row(claim, d, "measured", mean, sd, len(seeds), effect_verdict(len(seeds), ratio, ratio_sd),
                         note, per_seed=per))
    return rows


def _pct(mean: float, sd: float, n: int) -> str:
    """An accuracy in [0, 1] as ``"55.8 ± 1.2%"`` (no spread from one seed)."""
    return format_mean_std(100 * mean, 100 * sd if n > 1 else math.nan, None, unit="%")


def _domain_row(claim: Claim, seeds: Sequence[int], protocol: Mapping[str, Any],
                progress: Progress) -> dict[str, Any]:
    """DANN against source-only from pros_cons (product reviews) to MR (movie reviews), on
    stratified subsets (``protocol["text_cap"]``), the MR recipe's configuration validated
    once per epoch: per seed, the MR test error of source-only over DANN's (> 1: DANN
    helps). Target labels are never read in training (:mod:`workbench.techniques.domain`)."""
    import dataclasses

    from workbench.recipes import baseline_recipe, load_splits
    from workbench.techniques.domain import cap_splits, domain_splits, run_variant

    n_train, n_val, n_test = protocol["text_cap"]
    corpora = {n: cap_splits(load_splits(n, seed=0), n_train, n_val, n_test, seed=0) for n in ("pros_cons", "mr")}
    ds = domain_splits(corpora["pros_cons"], corpora["mr"], "pros_cons", "mr")
    recipe = baseline_recipe("mr")
    config = dataclasses.replace(recipe.config, eval_every_steps=None, progress_bar=False)
    acc: dict[str, list[float]] = {"source_only": [], "dann": []}
    for seed in seeds:
        for v in ("source_only", "dann"):
            progress.start(f"pros_cons -> mr / seed {seed} / {v.replace('_', '-')}")
            r = run_variant(ds, v, int(seed), config, model="kim_cnn", target_model=recipe.model)
            acc[v].append(float(r["target_test_accuracy"]))
            progress.done()
    err = {v: [1.0 - a for a in xs] for v, xs in acc.items()}
    ratios = [d / s if s > 0 else math.nan for s, d in zip(err["source_only"], err["dann"])]
    per = [1.0 / r if r > 0 else math.nan for r in ratios]
    mean, sd = _mean_sd(per)
    (so_m, so_s), (da_m, da_s) = _mean_sd(acc["source_only"]), _mean_sd(acc["dann"])
    gain = [100.0 * (d - s) for s, d in zip(acc["source_only"], acc["dann"])]
    g_m, g_s = _mean_sd(gain)
    n = len(seeds)
    gain_text = f"{g_m:+.1f}" + (f" ± {g_s:.1f}" if n > 1 else "")
    note = (f"{n_train:,} training sentences per domain, MR test {n_test:,}; MR test accuracy source-only "
            f"{_pct(so_m, so_s, n)}, DANN {_pct(da_m, da_s, n)} ({gain_text} points); MR labels never read in "
            f"training")
    return _row(claim, "pros_cons → mr", "measured", mean, sd, n,
                effect_verdict(n, float(np.mean(ratios)), _mean_sd(ratios)[1]), note, per_seed=per)


def _multitask_row(claim: Claim, seeds: Sequence[int], protocol: Mapping[str, Any],
                   progress: Progress) -> dict[str, Any]:
    """One shared Kim CNN for SUBJ + MR (equal loss weights, round-robin task schedule)
    against the two single-task tuned recipes, on stratified subsets
    (``protocol["text_cap"]``), targets the recipes' less ``protocol["text_relax"]``: per
    seed, the sum of the single-task times to target over the shared model's time until
    both tasks reached theirs (training seconds; > 1: the shared model is cheaper)."""
    from workbench.recipes import load_splits
    from workbench.techniques.multitask import (
        cap_splits,
        multitask_experiment,
        multitask_splits,
        single_task_experiment,
        task_targets,
    )

    tasks = ("subj", "mr")
    n_train, n_val, n_test = protocol["text_cap"]
    single = {t: cap_splits(load_splits(t, seed=0), n_train, n_val, n_test, seed=0) for t in tasks}
    targets = task_targets(tasks, protocol["text_relax"])
    every = protocol["text_eval_every_steps"]
    sexp = single_task_experiment(single, seeds, targets, eval_every_steps=every)
    mexp = multitask_experiment(multitask_splits(single), ["equal"], ["round_robin"], seeds, targets,
                                pairs=[("equal", "round_robin")], eval_every_steps=every,
                                epochs=protocol["multitask_epochs"])
    for exp in (sexp, mexp):
        exp.stop_at_target = True
        exp.warm_up()
    s_rec, m_rec = [], []
    for seed in seeds:
        for t in tasks:
            progress.start(f"{t} / seed {seed} / single-task (multi-task baseline)")
            s_rec.append(sexp.run_one(t, sexp.variants[0], seed))
            progress.done()
        progress.start(f"subj + mr / seed {seed} / shared model")
        m_rec.append(mexp.run_one(next(iter(mexp.data)), mexp.variants[0], seed))
        progress.done()
    per, ratios = [], []
    for seed in seeds:
        single_t = sum(r.time_to_target_s for r in s_rec if r.seed == seed)
        multi_t = next(r.time_to_target_s for r in m_rec if r.seed == seed)
        ratios.append(multi_t / single_t)
        per.append(single_t / multi_t)
    acc = {t: (_mean_sd([r.test_metrics.get("test_accuracy", math.nan) for r in s_rec if r.dataset == t]),
               _mean_sd([r.test_metrics.get(f"test_accuracy/{t}", math.nan) for r in m_rec])) for t in tasks}
    n = len(seeds)
    accs = "; ".join(f"{t} test accuracy single {_pct(*a, n)}, shared {_pct(*b, n)}" for t, (a, b) in acc.items())
    note = (f"{n_train:,} training sentences per task; targets {', '.join(f'{t} {v:g}' for t, v in targets.items())} "
            f"(the recipes' less {protocol['text_relax']:g}); {accs}")
    if any(math.isnan(x) for x in ratios):
        reached = sum(not math.isnan(x) for x in ratios)
        return _row(claim, "subj + mr", "target missed", seeds=n, verdict=EFFECT_WORDS["no ratio"],
                    note=note + f"; every target reached on {reached} of {n} seeds")
    mean, sd = _mean_sd(per)
    return _row(claim, "subj + mr", "measured", mean, sd, n,
                effect_verdict(n, float(np.mean(ratios)), _mean_sd(ratios)[1]), note, per_seed=per)


# --------------------------------------------------------------------------- the result

class ClaimsResult:
    """Rows of the claims table, the shared training runs and the protocol.

    Attributes:
        rows: one dict per (claim, data set): ``claim, family, dataset, variant, unit,
            claimed, measured, spread, seeds, status, verdict, note, per_seed``
            (``measured`` and ``spread`` in the unit: a factor, or percent).
        stack_rows: the combined stack and its leave-one-out ablation (SUBJ).
        experiments: data set -> the :class:`ExperimentResult` of its shared runs.
        baseline_runs: data set -> number of baseline runs trained (one per seed).
        protocol, smoke, seconds: the protocol used, smoke mode, and the wall seconds.
    """

    def __init__(self, rows: list[dict[str, Any]], stack_rows: list[dict[str, Any]],
                 experiments: dict[str, ExperimentResult], protocol: Mapping[str, Any], smoke: bool,
                 seconds: float) -> None:
        self.rows, self.stack_rows, self.experiments = rows, stack_rows, experiments
        self.protocol, self.smoke, self.seconds = dict(protocol), smoke, seconds
        self.baseline_runs = {d: sum(r.variant == e.baseline for r in e.records) for d, e in experiments.items()}

    def caption(self) -> str:
        p = self.protocol
        mode = "SMOKE MODE (not measurements): " if self.smoke else ""
        return (f"{mode}quick protocol: {', '.join(p['datasets'])}; seeds {list(p['seeds'])}; digits <= "
                f"{p['digits_epochs']} epochs; SUBJ on {p['subj_train']:,} training sentences, <= "
                f"{p['subj_max_steps']} steps, validated every {p['subj_eval_every_steps']} steps; every run stops "
                f"at its target; one shared baseline run per data set and seed. Figures: mean ± sample standard "
                f"deviation over seeds. Thorough figures: docs/results/.")

    def table(self):
        """The claims table (``pandas.DataFrame``): claim, data set, claimed, measured
        ``mean ± spread`` in the unit, seeds, verdict, the thorough benchmark's figure and
        source, and notes (skip reasons included)."""
        import pandas as pd

        full = full_benchmark_figures()
        out = []
        for r in self.rows:
            f = full.get(_key_of(r["claim"]), {})
            out.append({"claim": r["claim"], "family": r["family"], "data set": r["dataset"],
                        "measured": _figure(r), "unit": r["unit"], "seeds": r["seeds"], "verdict": r["verdict"],
                        "full benchmark": f.get("figure", "not run yet"), "source": f.get("source", ""),
                        "notes": r["note"]})
        return pd.DataFrame(out)

    def _repr_html_(self) -> str:
        """The caption, the claims table and (when run) the stack table, long text wrapped."""
        import html

        from workbench.report import wrapped_table

        parts = [f"<p>{html.escape(self.caption())}</p>",
                 wrapped_table(self.table(), wrap=("notes", "source", "full benchmark")).to_html()]
        if self.stack_rows:
            parts.append(wrapped_table(self.stack_table()).to_html())
        return "\n".join(parts)

    def stack_table(self):
        import pandas as pd

        return pd.DataFrame([{"variant": r["variant"], "measured": _figure(r), "unit": r["unit"],
                              "seeds": r["seeds"], "verdict": r["verdict"], "notes": r["note"]}
                             for r in self.stack_rows])

    def verdicts(self) -> list[str]:
        """One plain sentence per measured row, generated from the numbers, e.g. ``"curriculum
        1.4x on subj: speedup to the target (time; baseline / variant) 0.80x ± 0.12 over 3
        seeds: hurts."``."""
        out = []
        for r in self.rows + self.stack_rows:
            if r["status"] != "measured":
                continue
            out.append(f"{r['claim'] or r['variant']} on {r['dataset']}: {r['unit']} {_figure(r)} over "
                       f"{r['seeds']} seed{'s' if r['seeds'] != 1 else ''}: {r['verdict']}.")
        return out

    def to_json(self) -> dict[str, Any]:
        from workbench.experiment import _json_clean

        return _json_clean({"caption": self.caption(), "smoke": self.smoke, "seconds": self.seconds,
                            "protocol": {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.protocol.items()},
                            "rows": self.rows, "stack": self.stack_rows, "stack_claim": STACK_CLAIM,
                            "baseline_runs": self.baseline_runs,
                            "summary": [row for e in self.experiments.values()
                                        for row in e.summary.to_dict(orient="records")]})

    def save(self, folder: str | os.PathLike) -> dict[str, Path]:
        """Write ``claims.csv``, ``claims.json`` (rows, stack, protocol) and, per data set,
        the shared runs' ``results.csv`` / ``history.csv`` (``results.json`` holds every
        data set's summary, as the main job reads it); returns the paths."""
        import pandas as pd

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {"claims_csv": folder / "claims.csv", "claims_json": folder / "claims.json"}
        self.table().to_csv(paths["claims_csv"], index=False)
        paths["claims_json"].write_text(json.dumps(self.to_json(), indent=2, allow_nan=False))
        if self.experiments:
            summary = pd.concat([e.summary for e in self.experiments.values()], ignore_index=True)
            history = pd.concat([e.history for e in self.experiments.values()], ignore_index=True)
            paths["csv"], paths["history"] = folder / "results.csv", folder / "history.csv"
            summary.to_csv(paths["csv"], index=False)
            history.to_csv(paths["history"], index=False)
            paths["json"] = folder / "results.json"
            paths["json"].write_text(json.dumps(self.to_json(), indent=2, allow_nan=False))
        return paths


def _key_of(label: str) -> str:
    for c in CLAIMS + FAMILY_ROWS:
        if c.label == label:
            return c.key
    return label


def _figure(r: Mapping[str, Any]) -> str:
    if r["status"] != "measured":
        return r["status"]
    pct = "%" in r["unit"]
    m, s = r["measured"], r["spread"]
    if pct:
        return f"{m:.1f}% ± {s:.1f}" if r["seeds"] > 1 else f"{m:.1f}%"
    return f"{m:.2f}x ± {s:.2f}" if r["seeds"] > 1 else f"{m:.2f}x"


# --------------------------------------------------------------------------- thorough figures

def _last_json_line(text: str) -> dict[str, Any] | None:
    for line in reversed(text.strip().splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return None


def _speedup_text(ratio: Any, std: Any = None) -> str:
    if ratio is None or (isinstance(ratio, float) and math.isnan(ratio)) or ratio <= 0:
        return "no ratio"
    sd = "" if std is None else f" (ratio {ratio:.2f} ± {std:.2f})"
    return f"{1.0 / ratio:.2f}x{sd}"


def _full_curriculum(d: Mapping[str, Any]) -> str:
    rows = [r for r in d["results"] if r.get("variant") == "curriculum" and r.get("regime") == "full"]
    return "; ".join(f"{r['dataset']}: {_speedup_text(r['time_to_target_ratio'], r.get('time_to_target_ratio_std'))}"
                     for r in rows) + f" ({d.get('seeds')} seeds, full data)"


def _full_augmentation(d: Mapping[str, Any]) -> str:
    return "EDA's test accuracy gain in points (paper's): " + "; ".join(
        f"{r['dataset']} {r['size_label']}: {100 * r['gain_mean']:+.1f} ± {100 * r['gain_std']:.1f} "
        f"({100 * r['paper_gain']:+.1f})" for r in d["results"]) + f" ({d.get('seeds')} seeds)"


def _full_transfer(d: Mapping[str, Any]) -> str:
    """word2vec Kim CNN non-static and the ULMFiT-style transformer against Kim CNN-rand at
    the same label budget: time to target as a speedup for fine-tuning alone and with the
    pretraining charged; the full-data budget when the run has it, else every budget."""
    names = {"kim-non-static-w2v": "word2vec non-static", "transformer-ulmfit": "ULMFiT transformer"}
    rows = [r for r in d["results"] if r.get("variant") in names]
    if not rows:
        raise KeyError("no kim-non-static-w2v / transformer-ulmfit rows")
    if any(r["labels"] == "full" for r in rows):
        rows = [r for r in rows if r["labels"] == "full"]

    def speedups(r: Mapping[str, Any]) -> str:
        if r.get("finetune_time_ratio") is None:
            return f"target missed ({r.get('reached', '?')} seeds reached it)"
        return (f"{_speedup_text(r['finetune_time_ratio'])} fine-tuning, "
                f"{_speedup_text(r.get('total_time_ratio'))} with pretraining")

    parts = [f"{r['dataset']} {r['labels']} labels {names[r['variant']]}: {speedups(r)}" for r in rows]
    n = d.get("seeds")
    mode = ", quick" if d.get("quick") else ""
    return ("time to target against Kim CNN-rand: " + "; ".join(parts)
            + f" ({n} seed{'' if n == 1 else 's'}{mode})")


def _full_schedule(d: Mapping[str, Any]) -> str:
    rows = [r for r in d["results"] if r.get("schedule") == "one_cycle"]
    return "; ".join(f"{r['dataset']}: {_speedup_text(r['time_to_target_ratio'])} against a constant rate"
                     for r in rows) + f" ({d.get('seeds')} seeds)"


def _full_multitask(d: Mapping[str, Any]) -> str:
    """Each (weighting, schedule) pair's time to all targets against the single-task
    models, as a speedup; "a target missed" when a seed's run never reached every target."""
    seen, parts = set(), []
    for r in d["results"]:
        k = (r["weighting"], r["scheduler"])
        if r["weighting"] == "single_task" or k in seen:
            continue
        seen.add(k)
        ratio = r.get("time_to_all_targets_ratio")
        parts.append(f"{k[0]}/{k[1]} " + ("a target missed" if ratio is None else _speedup_text(ratio)))
    if not parts:
        raise KeyError("no multi-task rows")
    n = d.get("seeds")
    return ("time to all targets against single-task models: " + ", ".join(parts[:6])
            + f" ({n} seed{'' if n == 1 else 's'})")


def _full_active(d: Mapping[str, Any]) -> str:
    """Entropy (the claims table's variant) and the best strategy per data set, as label
    savings (random's labels to target / the strategy's)."""
    parts = []
    for ds in dict.fromkeys(r["dataset"] for r in d["results"]):
        rows = [r for r in d["results"] if r["dataset"] == ds and r["strategy"] != "random"]
        ent = next((r for r in rows if r["strategy"] == "entropy"), None)
        ok = [r for r in rows if r.get("labels_to_target_ratio_vs_random")]
        best = min(ok, key=lambda r: r["labels_to_target_ratio_vs_random"]) if ok else None
        text = f"{ds}: entropy {_speedup_text((ent or {}).get('labels_to_target_ratio_vs_random'))}"
        if best is not None and best is not ent:
            text += f", best {best['strategy']} {_speedup_text(best['labels_to_target_ratio_vs_random'])}"
        parts.append(text)
    if not parts:
        raise KeyError("no strategy rows")
    return "label saving vs random: " + "; ".join(parts) + f" ({d.get('seeds')} seeds)"


def _full_domain(d: Mapping[str, Any]) -> str:
    """Both directions: DANN's and source-only's target test accuracy, the gap closed."""
    parts = []
    for src, tgt in (("pros_cons", "mr"), ("mr", "pros_cons")):
        rows = {r["variant"]: r for r in d["results"] if (r["source"], r["target"]) == (src, tgt)}
        if "dann" not in rows or "source_only" not in rows:
            continue
        dn, so = rows["dann"], rows["source_only"]

        def acc(r: Mapping[str, Any]) -> str:
            sd = r.get("target_test_accuracy_std")
            return f"{100 * r['target_test_accuracy_mean']:.1f}" + ("" if sd is None else f" ± {100 * sd:.1f}")

        gap = dn.get("gap_closed")
        parts.append(f"{src} -> {tgt}: DANN {acc(dn)}% vs source-only {acc(so)}% target test accuracy"
                     + ("" if gap is None else f", gap closed {gap:.2f}"))
    if not parts:
        raise KeyError("no dann / source_only rows")
    return "; ".join(parts) + f" ({d.get('seeds')} seeds)"


def _full_skipping(variant: str) -> Callable[[Mapping[str, Any]], str]:
    """A reader for one compute-skipping variant: its time to target against the baseline
    on each data set and regime, as a speedup ("target missed" without a ratio)."""

    def read(d: Mapping[str, Any]) -> str:
        rows = [r for r in d["results"] if r.get("variant") == variant]
        if not rows:
            raise KeyError(f"no {variant} rows")
        parts = [f"{r['dataset']} {r['regime']}: "
                 + ("target missed" if r.get("time_to_target_ratio") is None
                    else _speedup_text(r["time_to_target_ratio"], r.get("time_to_target_ratio_std")))
                 for r in rows]
        n = d.get("seeds")
        return "time to target against the baseline: " + "; ".join(parts) + f" ({n} seed{'' if n == 1 else 's'})"

    return read


def _full_collator(d: Mapping[str, Any]) -> str:
    """The saving of an epoch against per-image normalisation: the collator alone and with
    the batched fetch (the default path)."""
    rows = {r["arm"]: r for r in d["results"]}

    def saving(r: Mapping[str, Any]) -> str:
        return f"{r['saving_pct']:+.1f}% (ratio quartiles {r['ratio_q1']:.3f}-{r['ratio_q3']:.3f})"

    return (f"saving of a digits epoch against per-image normalisation: collator {saving(rows['collator'])}; "
            f"with the batched fetch {saving(rows['collator_batched_fetch'])} "
            f"({d.get('seeds')} seeds x {d.get('rounds')} rounds)")


def _full_overhead(d: Mapping[str, Any]) -> str:
    r = d["results"][0]
    return (f"the Trainer logging every {r['log_every_steps']} steps against a plain loop: {r['ratio_median']:.3f}x "
            f"the time per epoch (median of {r['n_epoch_ratios']}; quartiles {r['ratio_q1']:.2f}-{r['ratio_q3']:.2f})")


def _full_compile(d: Mapping[str, Any]) -> str:
    pct, text = _compile_reference()
    return "—" if math.isnan(pct) else text


#: claim key -> (results file, the command that produced it, how to read its figure)
_FULL_SOURCES: dict[str, tuple[str, str, Callable[[Mapping[str, Any]], str]]] = {
    "curriculum": ("curriculum-full-2026-11-22.txt", "python benchmarks/curriculum.py", _full_curriculum),
    "augmentation": ("augmentation-full-2026-11-22.txt", "python benchmarks/augmentation.py", _full_augmentation),
    "transfer": ("transfer-full-2026-12-03.txt", "python benchmarks/transfer.py --threads 2", _full_transfer),
    "torch_compile": (COMPILE_RESULTS, "python benchmarks/compile.py --out docs/results/" + COMPILE_RESULTS,
                      _full_compile),
    "one_cycle_schedule": ("schedules-subj-full-2026-11-22.txt", "python benchmarks/schedules.py", _full_schedule),
    "active_learning": ("active-learning-full-2026-12-03.txt",
                        "python benchmarks/active_learning.py --datasets digits / subj", _full_active),
    "domain_adaptation": ("domain-adaptation-full-2026-12-03.txt", "python benchmarks/domain_adaptation.py --workers 2",
                          _full_domain),
    "multitask": ("multitask-full-2026-12-03.txt", "python benchmarks/multitask.py --pairs subset --threads 2",
                  _full_multitask),
    "wandb_log_reduction": ("trainer-overhead-digits-log10-2026-11-22.txt", "python benchmarks/trainer_overhead.py",
                            _full_overhead),
    "gradient_caching": ("skipping-digits-subj-2026-12-03.txt",
                         "python benchmarks/skipping.py --datasets digits subj --threads 2",
                         _full_skipping("gradient-caching")),
    "difficulty_prediction": ("skipping-digits-subj-2026-12-03.txt",
                              "python benchmarks/skipping.py --datasets digits subj --threads 2",
                              _full_skipping("difficulty-prediction")),
    "vision_collator": ("collator-full-2026-12-03.txt", "python benchmarks/collator.py", _full_collator),
}


def full_benchmark_figures(folder: str | os.PathLike = RESULTS_DIR) -> dict[str, dict[str, str]]:
    """Claim key -> ``{"figure", "source"}`` from the thorough runs kept in ``docs/results``:
    the figure is read from the file's last JSON line (speedups as baseline / variant), the
    source names the file, the command and the commit that last changed it (``git log -1
    --format=%h -- FILE``; ``"?"`` outside a git checkout). Claims without a file are absent
    (the table says "not run yet")."""
    folder = Path(folder)
    out = {}
    for key, (name, command, read) in _FULL_SOURCES.items():
        path = folder / name
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        data = json.loads(text) if name.endswith(".json") else _last_json_line(text)
        try:
            figure = read(data or {})
        except (KeyError, TypeError, IndexError, ValueError):
            figure = "see the file"
        out[key] = {"figure": figure, "source": f"docs/results/{name} ({command}; commit {_commit(path)})"}
    return out


def _commit(path: Path) -> str:
    try:
        res = subprocess.run(["git", "log", "-1", "--format=%h", "--", str(path)], cwd=ROOT, capture_output=True,
                             text=True, timeout=10)
        return res.stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


# --------------------------------------------------------------------------- the runner

#: prior seconds per run on a quiet 2-core CPU, from the full run of 2026-12-03 (87 runs in
#: 8 min 43 s; the time-left estimate rescales them by the runs finished so far)
PRIOR_S = {"digits": 1.3, "subj": 9.0, "active/digits": 16.0, "active/subj": 4.0, "measure": 1.5, "compile": 20.0,
           "stack": 8.0,
           "domain": 7.5, "multitask": 3.0}


def run_claims(datasets: Sequence[str] | None = None, seeds: Sequence[int] | None = None, smoke: bool = False,
               stack: bool = True, status: Any = None, progress_path: str | os.PathLike | None = None,
               stream: Any = "stderr", protocol: Mapping[str, Any] | None = None,
               only: Sequence[str] | None = None) -> ClaimsResult:
    """Measure every claim of :data:`CLAIMS` (and the families of :data:`FAMILY_ROWS`)
    against the tuned baseline under the quick protocol (module docstring).

    Training claims are variants of one :class:`~workbench.experiment.Experiment` per
    data set: the baseline is trained once per data set and seed and every variant's
    speedup is read against it. The combined stack and its leave-one-out ablation run on
    SUBJ in the same experiment (``stack=True``; its parts need text). A claim not
    applicable to a data set gets a row with the reason.

    Args:
        datasets: subset of ``("digits", "subj")`` (default: the protocol's).
        seeds: seeds (default 0, 1, 2; smoke mode 0).
        smoke: tiny budgets for tests (:data:`SMOKE_PROTOCOL`); not measurements.
        stack: run the combined stack and its ablation (SUBJ only).
        status: an object with ``update(text)`` showing the progress line (a notebook's
            :class:`workbench.ui.StatusLine`).
        progress_path: a file the progress lines are appended to (default
            ``$WORKBENCH_PROGRESS_FILE``).
        stream: where progress lines are printed (default stderr; None: nowhere).
        protocol: overrides of the protocol's entries.
        only: the claim keys to measure (:data:`CLAIMS` and :data:`FAMILY_ROWS`, e.g.
            ``["curriculum", "transfer"]``); the table then holds only their rows. Default:
            every claim.

    Raises:
        ValueError: an unknown data set or claim key, no claims, or no seeds (before any run).
    """
    from workbench.recipes import model_factory

    t_start = time.perf_counter()
    proto = dict(SMOKE_PROTOCOL if smoke else QUICK) | dict(protocol or {})
    if datasets is not None:
        proto["datasets"] = tuple(datasets)
    if seeds is not None:
        proto["seeds"] = tuple(int(s) for s in seeds)
    bad = [d for d in proto["datasets"] if d not in ("digits", "subj")]
    if bad or not proto["datasets"]:
        raise ValueError(f"datasets must be a non-empty subset of ('digits', 'subj'); got {list(proto['datasets'])}")
    if not proto["seeds"]:
        raise ValueError("run_claims needs at least one seed")
    all_keys = [c.key for c in CLAIMS + FAMILY_ROWS]
    keys = set(all_keys) if only is None else set(only)
    if not keys or keys - set(all_keys):
        raise ValueError(f"only must name at least one claim of {all_keys}; got {list(only or [])}")
    seeds_ = list(proto["seeds"])
    loaded = _datasets(proto, smoke)
    prep = _Prep()
    plans = {}
    # the line and the time-left estimate of the runs come once the plan is known; its
    # preparation (word vectors, the first time: minutes) is announced meanwhile
    progress = Progress([], path=progress_path, status=status, stream=stream)
    if "subj" in loaded and ("transfer" in keys or stack):
        progress.note("preparing: the pretraining corpus and word vectors for the transfer rows (one-off and "
                      "cached; a few minutes the first time, seconds after)")
    for d, ds in loaded.items():
        variants, data, _ = _variants(ds, prep, proto, smoke, stack, keys)
        plans[d] = (variants, data)
    # the plan, for the time-left estimate
    estimates: list[float] = []
    for d, (variants, _) in plans.items():
        for _ in seeds_:
            estimates += [PRIOR_S["stack"] if v.name.startswith("stack") else PRIOR_S[d]
                          for v in [Variant("baseline")] + [v for _, v in variants]]
    active_claim = next(c for c in CLAIMS if c.key == "active_learning")
    active_sets = [d for d in proto["datasets"] if d in active_claim.datasets and "active_learning" in keys]
    estimates += [PRIOR_S[f"active/{d}"] for d in active_sets for _ in seeds_ for _ in range(2)]
    measures = [c for c in CLAIMS if c.kind == "measure" and c.key in keys]
    if "digits" in loaded:
        for c in measures:  # eager / control, then the treated arm
            treated = PRIOR_S["compile"] if c.key == "torch_compile" else PRIOR_S["measure"]
            estimates += [PRIOR_S["measure"], treated] * len(seeds_)
    text_rows = "subj" in loaded
    if text_rows and "domain_adaptation" in keys:  # 2 runs per seed
        estimates += [PRIOR_S["domain"]] * (2 * len(seeds_))
    if text_rows and "multitask" in keys:  # 2 single-task + 1 shared per seed
        estimates += [PRIOR_S["multitask"]] * (3 * len(seeds_))
    progress.estimates = [float(e) for e in estimates]

    experiments: dict[str, ExperimentResult] = {}
    rows: list[dict[str, Any]] = []
    stack_rows: list[dict[str, Any]] = []
    for d, ds in loaded.items():
        variants, data = plans[d]
        all_v = [Variant("baseline")] + [v for _, v in variants]
        exp = Experiment({d: ds.splits}, model_factory(ds.model), ds.config, all_v, seeds=seeds_, target=ds.target,
                         progress=False, name=f"claims on {d}", stop_at_target=True)
        exp.warm_up()
        for i, seed in enumerate(seeds_):
            order = all_v[i % len(all_v):] + all_v[:i % len(all_v)]
            for v in order:
                progress.start(f"{d} / seed {seed} / {v.name}")
                if v.name in data:
                    exp.data[d] = data[v.name](ds.splits, seed)
                try:
                    exp.records.append(exp.run_one(d, v, seed))
                finally:
                    exp.data[d] = ds.splits
                progress.done()
        result = ExperimentResult(exp.records, exp.targets, "baseline")
        experiments[d] = result
        for claim, v in variants:
            if claim is None:
                continue
            rows.append(_speedup_row(claim, d, v.name, result, prep, prep.notes.get(claim.key, "")))
        stack_names = [v.name for c, v in variants if c is None]
        for name in stack_names:
            label = "stack: curriculum + active learning + gradient caching + transfer" if name == "stack" else name
            stack_rows.append(_speedup_row(None, d, name, result, prep, label=label, family="stack",
                                           note="" if name != "stack" else f"multiplied claim {STACK_CLAIM:g}x"))
    if active_sets:
        rows += _active_rows(active_claim, active_sets, seeds_, proto, smoke, progress, loaded)
    if "digits" in loaded:
        ds = loaded["digits"]
        ep, cap = proto["measure_epochs"], proto["measure_max_steps"]
        for claim in measures:
            length = f"{ep} epochs" if cap is None else f"{cap} steps"
            if claim.key == "torch_compile":
                prime, eager_arm, compiled_arm, steps = _compile_arms(ds, ep, cap)
                try:
                    progress.note("torch.compile: compiling once before the timed runs (Inductor caches its "
                                  "kernels on disk; the first compile is a one-off)")
                    first_s = prime(seeds_[0])
                    a, b = _measure_pairs(eager_arm, compiled_arm, seeds_, progress, "torch.compile")
                except RuntimeError as exc:  # no C++ compiler, an unsupported platform: say so
                    rows.append(_row(claim, "digits", "not measured", verdict="—",
                                     note=f"torch.compile does not run here ({exc})"))
                    continue
                rows.append(_factor_row(claim, "digits", a, b, _compile_note(a, b, steps, length, first_s)))
                continue
            if claim.key == "vision_collator":
                per_image = _PerImageVisionCollator(ds.splits.task)
                a, b = _measure_pairs(lambda s, _c=per_image: _timed_fit(ds, s, ep, collate_fn=_c, max_steps=cap),
                                      lambda s: _timed_fit(ds, s, ep, max_steps=cap), seeds_, progress,
                                      "vision collator")
                note = f"{length} of digits training per arm, no evaluation; the same model and batches"
            else:
                k = proto["log_every"]
                a, b = _measure_pairs(lambda s: _timed_fit(ds, s, ep, max_steps=cap, log_every_steps=1),
                                      lambda s, _k=k: _timed_fit(ds, s, ep, max_steps=cap, log_every_steps=_k), seeds_, progress,
                                      f"log every {k} steps")
                note = (f"{length} of digits training per arm; the Trainer's own metrics logger (no W&B here: "
                        f"its cost is the record it writes)")
            rows.append(_saving_row(claim, "digits", a, b, note))
    if text_rows and "domain_adaptation" in keys:
        rows.append(_domain_row(next(c for c in FAMILY_ROWS if c.key == "domain_adaptation"), seeds_, proto,
                                progress))
    if text_rows and "multitask" in keys:
        rows.append(_multitask_row(next(c for c in FAMILY_ROWS if c.key == "multitask"), seeds_, proto, progress))
    # skipped rows: not applicable, not in the quick protocol, or data sets not run
    for claim in CLAIMS + FAMILY_ROWS:
        if claim.key not in keys:
            continue
        for d, why in claim.skipped.items():
            if d == "all" or d in proto["datasets"]:
                note = why
                if claim.key == "torch_compile":
                    pct, text = _compile_reference()
                    note = f"{why}; {text}"
                rows.append(_row(claim, "—" if d == "all" else d, "not measured", verdict="—", note=note))
        for d in ("digits", "subj"):
            if d not in proto["datasets"] and d in claim.datasets and d not in claim.skipped:
                rows.append(_row(claim, d, "not measured", verdict="—",
                                 note=f"{d} not in this run (smoke mode runs digits only)" if smoke else
                                 f"{d} not in this run"))
    order = {c.key: i for i, c in enumerate(CLAIMS + FAMILY_ROWS)}
    rows.sort(key=lambda r: (order.get(_key_of(r["claim"]), 99), r["dataset"]))
    progress.finish()
    return ClaimsResult(rows, stack_rows, experiments, proto, smoke, time.perf_counter() - t_start)


# --------------------------------------------------------------------------- notebook panel

def panel_controls(smoke: bool = False) -> dict[str, Any]:
    """The integration notebook's controls (``ipywidgets``), for
    :func:`workbench.ui.control_panel` with :func:`rerun_panel_callback`: the data sets,
    the claims to measure (the representative variant of each), the number of seeds, the
    budget (digits epochs, SUBJ optimizer steps) and whether to run the combined stack.
    Defaults: a small run (digits, curriculum, one seed), the protocol's budgets."""
    import ipywidgets as w

    proto = SMOKE_PROTOCOL if smoke else QUICK
    layout = w.Layout(width="460px")
    style = {"description_width": "120px"}
    return {
        "datasets": w.SelectMultiple(options=["digits", "subj"], value=("digits",), description="data sets",
                                     rows=2, layout=layout, style=style),
        "claims": w.SelectMultiple(options=[(c.label, c.key) for c in CLAIMS + FAMILY_ROWS], value=("curriculum",),
                                   description="claims", rows=8, layout=layout, style=style),
        "seeds": w.IntSlider(value=1, min=1, max=5, description="seeds", layout=layout, style=style),
        "digits_epochs": w.IntSlider(value=int(proto["digits_epochs"]), min=1, max=12, description="digits epochs",
                                     layout=layout, style=style),
        "subj_max_steps": w.IntSlider(value=int(proto["subj_max_steps"]), min=8, max=480, step=8,
                                      description="SUBJ steps", layout=layout, style=style),
        "stack": w.Checkbox(value=False, description="combined stack and ablation (SUBJ)", indent=False),
    }


def panel_enabled(datasets: Sequence[str], **_: Any) -> list[str]:
    """The controls the current choice uses: a budget only for a chosen data set, the stack
    only with SUBJ (for :func:`workbench.ui.control_panel`'s ``enabled``)."""
    used = ["datasets", "claims", "seeds"]
    if "digits" in datasets:
        used.append("digits_epochs")
    if "subj" in datasets:
        used += ["subj_max_steps", "stack"]
    return used


def describe_rerun(datasets: Sequence[str], claims: Sequence[str], seeds: int, digits_epochs: int,
                   subj_max_steps: int, stack: bool) -> str:
    """The run the panel's settings ask for, in one line (its preview)."""
    if not datasets:
        return "choose at least one data set"
    if not claims:
        return "choose at least one claim"
    budget = []
    if "digits" in datasets:
        budget.append(f"digits <= {digits_epochs} epochs")
    if "subj" in datasets:
        budget.append(f"SUBJ <= {subj_max_steps} steps")
    extra = " + the stack and its ablation" if stack and "subj" in datasets else ""
    return (f"{len(claims)} claim{'s' if len(claims) != 1 else ''}{extra} on {' and '.join(datasets)}; "
            f"{seeds} seed{'s' if seeds != 1 else ''} (3 or more for a verdict); {'; '.join(budget)}")


def rerun_panel_callback(datasets: Sequence[str], claims: Sequence[str], seeds: int, digits_epochs: int,
                         subj_max_steps: int, stack: bool, smoke: bool = False, status: Any = None) -> ClaimsResult:
    """Measure the chosen claims again (:func:`run_claims` with ``only=claims``, seeds
    ``0 .. seeds-1`` and the budgets in place of the protocol's), display the verdicts and
    the claims plot, and return the :class:`ClaimsResult` (shown as its table).

    Raises:
        ValueError: no data set or no claim chosen, fewer than one seed or epoch, or fewer
            than 8 SUBJ steps (before any run).
    """
    from IPython.display import display

    if not datasets:
        raise ValueError("choose at least one data set (digits, subj)")
    if not claims:
        raise ValueError("choose at least one claim")
    if int(seeds) < 1 or int(digits_epochs) < 1 or int(subj_max_steps) < 8:
        raise ValueError(f"seeds and digits epochs must be >= 1 and SUBJ steps >= 8; got {seeds}, "
                         f"{digits_epochs}, {subj_max_steps}")
    result = run_claims(datasets=list(datasets), seeds=range(int(seeds)), smoke=smoke,
                        stack=bool(stack) and "subj" in datasets, status=status, stream=None,
                        protocol={"digits_epochs": int(digits_epochs), "subj_max_steps": int(subj_max_steps)},
                        only=list(claims))
    for line in result.verdicts():
        print("-", line)
    if any(r["status"] == "measured" for r in result.rows + result.stack_rows):
        display(plot_claims(result))
    return result


# --------------------------------------------------------------------------- plots

def plot_claims(result: ClaimsResult, title: str | None = None):
    """Measured against claimed, one panel per unit family: speedup claims (factor, log
    axis; 1 = no change) and percent claims (percent of training time saved; 0 = no
    change). Points are seed means with ± one sample standard deviation; hollow diamonds
    the claimed figure (a range as its two ends). Returns a ``plotly`` figure."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    rows = [r for r in result.rows + result.stack_rows if r["status"] == "measured"]
    factor = [r for r in rows if "%" not in r["unit"]]
    pct = [r for r in rows if "%" in r["unit"]]
    fig = make_subplots(rows=1, cols=2, column_widths=[0.68, 0.32], horizontal_spacing=0.28,
                        subplot_titles=("speedup claims (baseline cost / variant cost)",
                                        "percent claims (training time saved)"))
    for col, part, unit in ((1, factor, "x"), (2, pct, "%")):
        names = [f"{r['claim'] or r['variant']} ({r['dataset']})" for r in part]
        fig.add_trace(go.Scatter(x=[r["measured"] for r in part], y=names, mode="markers", name="measured",
                                 showlegend=col == 1, marker={"color": "#1f77b4", "size": 9},
                                 error_x={"type": "data", "array": [r["spread"] for r in part]},
                                 hovertemplate="%{y}: %{x:.2f}" + unit + "<extra>measured</extra>"),
                      row=1, col=col)
        cx, cy = [], []
        for r, n in zip(part, names):
            claim = next((c for c in CLAIMS if c.label == r["claim"]), None)
            values = [] if claim is None else (list(claim.claimed) if isinstance(claim.claimed, tuple)
                                               else [claim.claimed])
            if r["variant"] == "stack" or r["claim"].startswith("stack:"):
                values = [STACK_CLAIM]
            cx += [v for v in values if not math.isnan(v)]
            cy += [n for v in values if not math.isnan(v)]
        fig.add_trace(go.Scatter(x=cx, y=cy, mode="markers", name="claimed", showlegend=col == 1,
                                 marker={"symbol": "diamond-open", "color": "#d62728", "size": 10},
                                 hovertemplate="%{y}: claimed %{x}" + unit + "<extra></extra>"), row=1, col=col)
        fig.add_vline(x=1.0 if col == 1 else 0.0, line_dash="dash", line_color="grey", row=1, col=col)
    fig.update_xaxes(type="log", title_text="speedup (x, log scale; 1 = no change)", row=1, col=1)
    fig.update_xaxes(title_text="training time saved (%; 0 = no change)", row=1, col=2)
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(title=title or "the seed's claims against this run's measurements",
                      height=max(320, 40 * max(len(factor), len(pct), 1) + 160), legend={"orientation": "h", "y": -0.2})
    return fig
