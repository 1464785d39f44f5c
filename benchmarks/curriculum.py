"""When does ordering training data by difficulty pay? Curriculum vs controls vs the tuned baseline.

On SUBJ and digits, against each data set's tuned baseline (``baseline_recipe``: model,
optimizer, learning rate, batch size, epochs; its schedule is the best found so far, the
optimization issue makes it final), in three regimes:

- ``full``: the recipe's whole budget;
- ``limited``: 25% of the baseline's optimizer steps (``max_steps``);
- ``noisy``: 20% of the training labels flipped to another class (symmetric noise, fixed
  by seed 0, the same noisy data for every variant and seed; validation and test clean).

Variants (all see exactly as many examples per step as the baseline; only the order
changes; :class:`workbench.techniques.curriculum.PacingSampler`):

- ``baseline``: random batches (the recipe);
- ``curriculum``: easiest first, paced (Hacohen & Weinshall 2019; each batch drawn from the
  easiest ``g(step)`` fraction); the pacing is the best of a small search (below);
- ``anti-curriculum``: the same pacing, hardest first;
- ``random-curriculum``: the same pacing over a random order (Wu et al. 2021's control:
  a growing data set without difficulty).

Difficulty: :func:`workbench.techniques.curriculum.difficulty_scores` on the training
split (length / ink 0.3, rarity / atypicality 0.3, cross-fitted 3-fold logistic-regression
loss 0.4; z-normalised); on the noisy regime the scores are computed on the noisy labels
(which is what a practitioner would have).

**Pacing search** (stated before the runs; validation data only): candidates
``fixed_exponential`` (start 0.04, x1.9 per step, Hacohen's defaults, step length set so
that all data is available at the ramp's end), ``competence_sqrt`` (c0 = 0.01, Platanios)
and ``linear`` (start 0.04), each with the ramp ending at 25% or 50% of the run; one seed
(0) in the full regime per data set; the pacing with the highest final validation accuracy
wins (ties within 0.2 points: fewer examples to target). ``--quick`` searches only the
two 50% ramps of fixed_exponential and competence_sqrt.

Targets (validation accuracy, fixed before the runs, printed): full: the recipe's target
(digits 0.98, SUBJ 0.91); limited and noisy: 0.03 lower. Evaluation about 12 times per run
(every ``total_steps // 12`` optimizer steps), so time-to-target resolves within an epoch.

Length grouping (issue item 7): on SUBJ and MR, one epoch of the Kim CNN recipe with
length-grouped batches (:class:`~workbench.techniques.curriculum.DynamicBatchComposer`,
tolerance 0.1) against random batches, same model, same examples: padding tokens counted
from the collated batches, and training seconds.

    python benchmarks/curriculum.py [--quick] [--seeds N] [--threads N] [--out results.json]

Full mode: seeds 0, 1, 2, full data sets and epoch budgets (several hours on one core).
``--quick``: seed 0 only; SUBJ subsampled to 3,000 examples and 3 epochs, digits 8 epochs;
quick targets 0.05 lower than the full ones; figures indicative only.

The last line of stdout is one JSON object: ``{"benchmark": "curriculum", "seeds": N,
"quick": ..., "pacing": {dataset: name}, "results": [{"dataset", "regime", "variant",
"final_accuracy_mean", "final_accuracy_std", "time_to_target_ratio", ...}, ...],
"length_grouping": [...]}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_SHARED_NLTK = Path(__file__).resolve().parents[2] / "shared" / "nltk_data"
if _SHARED_NLTK.is_dir() and not os.environ.get("NLTK_DATA"):
    os.environ["NLTK_DATA"] = str(_SHARED_NLTK)

from benchmarks._common import fmt_mean_std as _fmt  # noqa: E402
from benchmarks._common import is_missing as _nan  # noqa: E402
from benchmarks._common import json_clean as _json_clean  # noqa: E402
from workbench.data.datasets import load_dataset  # noqa: E402
from workbench.data.steps import optimizer_steps_per_run  # noqa: E402
from workbench.experiment import Experiment, Target, Variant  # noqa: E402
from workbench.recipes import baseline_recipe, model_factory  # noqa: E402
from workbench.techniques.curriculum import DynamicBatchComposer, flip_labels, paced_sampler_factory  # noqa: E402
from workbench.train import Technique, Trainer  # noqa: E402
from workbench.train.events import Event  # noqa: E402
from workbench.train.trainer import seed_everything  # noqa: E402

REGIMES = ("full", "limited", "noisy")
SEARCH_FULL = [(p, r) for p in ("fixed_exponential", "competence_sqrt", "linear") for r in (0.25, 0.5)]
SEARCH_QUICK = [("fixed_exponential", 0.5), ("competence_sqrt", 0.5)]
QUICK = {"digits": {"epochs": 8, "max_examples": None}, "subj": {"epochs": 3, "max_examples": 3000}}
CACHE = Path(__file__).resolve().parents[1] / ".workbench_cache" / "difficulty"  # git-ignored


def _start(pacing: str) -> float:
    return 0.01 if pacing.startswith("competence") else 0.04


def variants_for(pacing: str, ramp: float) -> list[Variant]:
    names = {"curriculum": "curriculum", "anti": "anti-curriculum", "random": "random-curriculum"}
    out: list[Variant] = [Variant("baseline")]
    for o in ("curriculum", "anti", "random"):
        out.append(Variant(names[o], sampler=paced_sampler_factory(o, pacing, ramp, start=_start(pacing),
                                                                    cache_dir=str(CACHE)),
                           claim="1.4x (curriculum, claimed)" if o == "curriculum" else ""))
    return out


def regime_config(config, n_train: int, regime: str):
    total = optimizer_steps_per_run(config, n_train)
    changes: dict[str, Any] = {"progress_bar": False}
    if regime == "limited":
        total = max(1, round(0.25 * total))
        changes["max_steps"] = total
    changes |= {"eval_every_epochs": None, "eval_every_steps": max(1, total // 12)}
    return config.replace(**changes)


def run_regime(d: str, splits, recipe, regime: str, variants, seeds, target: Target):
    if regime == "noisy":
        noisy, _ = flip_labels(splits.train, 0.2, splits.task.num_classes, seed=0)
        splits = dataclasses.replace(splits, train=noisy)
    config = regime_config(recipe.config, len(splits.train), regime)
    exp = Experiment({d: splits}, model_factory(recipe.model), config, variants, seeds=seeds,
                     target=target, progress=False, name=f"curriculum {d} {regime}")
    return exp, exp.run()


def search_pacing(d: str, splits, recipe, candidates, target: Target) -> tuple[str, float, list[str]]:
    lines, best, best_key = [], None, None
    for pacing, ramp in candidates:
        v = [Variant("baseline"), Variant("curriculum", sampler=paced_sampler_factory(
            "curriculum", pacing, ramp, start=_start(pacing), cache_dir=str(CACHE)))]
        config = regime_config(recipe.config, len(splits.train), "full")
        exp = Experiment({d: splits}, model_factory(recipe.model), config, v[1:], seeds=[0],
                         target=target, progress=False, evaluate_test=False, baseline="curriculum")
        rec = exp.run().records[0]
        ett = rec.examples_to_target if not _nan(rec.examples_to_target) else math.inf
        key = (round(rec.final_metric, 3), -ett)
        lines.append(f"    {pacing:<18} ramp {ramp:.2f}: final val {rec.final_metric:.4f}, examples to target "
                     f"{rec.examples_to_target:.0f}")
        if best_key is None or key[0] > best_key[0] + 0.002 or (abs(key[0] - best_key[0]) <= 0.002 and key[1] > best_key[1]):
            best, best_key = (pacing, ramp), key
    return best[0], best[1], lines


# ----------------------------------------------------------------------------- length grouping
class PaddingCounter(Technique):
    """Counts padded positions and real tokens of every training batch."""

    name = "padding_counter"
    events = frozenset({Event.BATCH_START})

    def __init__(self) -> None:
        super().__init__()
        self.tokens = self.cells = 0

    def on_batch_start(self, state) -> None:
        b = state.batch
        self.cells += int(b["inputs"].numel())
        self.tokens += int(b["attention_mask"].sum())


def length_grouping(d: str, seed: int = 0, max_examples: int | None = None) -> dict[str, Any]:
    splits = load_dataset(d, seed=0, max_examples=max_examples)
    recipe = baseline_recipe(d, epochs=1, progress_bar=False, eval_every_epochs=None)
    out: dict[str, Any] = {"dataset": d, "examples": len(splits.train)}
    for mode in ("random", "length_grouped"):
        seed_everything(seed)
        model = model_factory(recipe.model)(splits.task)
        counter = PaddingCounter()
        bs = None
        if mode == "length_grouped":
            bs = DynamicBatchComposer(len(splits.train), recipe.config.batch_size, seed=seed,
                                      lengths=splits.train.lengths, tolerance=0.1)
        trainer = Trainer(model, recipe.config.replace(seed=seed), splits.train, None, task=splits.task,
                          techniques=[counter], batch_sampler=bs)
        state = trainer.fit()
        acc = trainer.evaluate(splits.val)["accuracy"]
        out[mode] = {"padding_tokens": counter.cells - counter.tokens, "tokens": counter.tokens,
                     "padding_fraction": (counter.cells - counter.tokens) / counter.cells,
                     "epoch_s": state.wall_time, "examples": state.examples_seen, "val_accuracy": acc}
    out["padding_ratio"] = out["length_grouped"]["padding_tokens"] / max(1, out["random"]["padding_tokens"])
    out["epoch_time_ratio"] = out["length_grouped"]["epoch_s"] / out["random"]["epoch_s"]
    return out


# ----------------------------------------------------------------------------- output
def rows_from(summary, regime: str) -> list[dict[str, Any]]:
    out = []
    for _, r in summary.iterrows():
        out.append({
            "dataset": r["dataset"], "regime": regime, "variant": r["variant"], "seeds": int(r["seeds"]),
            "reached": int(r["reached"]), "target": float(r["target_value"]),
            "time_to_target_s_mean": float(r["time_to_target_s_mean"]),
            "time_to_target_s_std": float(r["time_to_target_s_std"]),
            "examples_to_target_mean": float(r["examples_to_target_mean"]),
            "time_to_target_ratio": float(r["time_to_target_ratio"]),
            "time_to_target_ratio_std": float(r["time_to_target_ratio_std"]),
            "examples_to_target_ratio": float(r["examples_to_target_ratio"]),
            "final_accuracy_mean": float(r["final_metric_mean"]),
            "final_accuracy_std": float(r["final_metric_std"]),
            "test_accuracy_mean": float(r["test_accuracy_mean"]),
            "test_accuracy_std": float(r["test_accuracy_std"]),
            "claim": r["claim"],
        })
    return out


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'data set':<7} {'regime':<8} {'variant':<18} {'target':>6} {'reached':>7} {'time to target (s)':>18} "
            f"{'ratio':>12} {'ex. ratio':>9} {'final val acc (%)':>17} {'test acc (%)':>14}  claim")
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = "-" if _nan(r["time_to_target_ratio"]) else _fmt(r["time_to_target_ratio"], r["time_to_target_ratio_std"], "{:.2f}")
        ex = "-" if _nan(r["examples_to_target_ratio"]) else f"{r['examples_to_target_ratio']:.2f}"
        lines.append(
            f"{r['dataset']:<7} {r['regime']:<8} {r['variant']:<18} {r['target']:>6.2f} {r['reached']:>3}/{r['seeds']:<3} "
            f"{_fmt(r['time_to_target_s_mean'], r['time_to_target_s_std']):>18} {ratio:>12} {ex:>9} "
            f"{_fmt(r['final_accuracy_mean'], r['final_accuracy_std'], '{:.2f}', 100):>17} "
            f"{_fmt(r['test_accuracy_mean'], r['test_accuracy_std'], '{:.2f}', 100):>14}  {r['claim']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one seed, shortened runs (indicative only)")
    p.add_argument("--datasets", nargs="+", default=["subj", "digits"], choices=["subj", "digits"])
    p.add_argument("--regimes", nargs="+", default=list(REGIMES), choices=list(REGIMES))
    p.add_argument("--seeds", type=int, default=3, help="full mode: seeds 0..N-1 (default 3)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    p.add_argument("--skip-length-grouping", action="store_true")
    p.add_argument("--out", type=str, default=None, help="also write the results as JSON here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    seeds = [0] if args.quick else list(range(args.seeds))
    candidates = SEARCH_QUICK if args.quick else SEARCH_FULL
    print(f"curriculum benchmark: data sets {args.datasets}, regimes {args.regimes}, seeds {seeds}; "
          f"{'QUICK (indicative only)' if args.quick else 'full'}; pacing search {candidates}; torch "
          f"{torch.__version__}, {torch.get_num_threads()} thread(s)", flush=True)
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    chosen: dict[str, str] = {}
    for d in args.datasets:
        q = QUICK[d] if args.quick else {"epochs": None, "max_examples": None}
        splits = load_dataset(d, seed=0, max_examples=q["max_examples"])
        recipe = baseline_recipe(d, **({"epochs": q["epochs"]} if q["epochs"] else {}))
        drop = 0.05 if args.quick else 0.0
        targets = {"full": Target("val_accuracy", round(recipe.target.value - drop, 3))}
        for r in ("limited", "noisy"):
            targets[r] = Target("val_accuracy", round(recipe.target.value - drop - 0.03, 3))
        print(f"\n{d}: {len(splits.train)} training examples; recipe {recipe.model}, {recipe.config.optimizer} "
              f"lr {recipe.config.lr:g}, batch {recipe.config.batch_size}, {recipe.config.epochs} epochs; targets "
              f"{ {k: v.describe() for k, v in targets.items()} } (fixed before the runs)", flush=True)
        t1 = time.perf_counter()
        pacing, ramp, lines = search_pacing(d, splits, recipe, candidates, targets["full"])
        print("  pacing search (seed 0, full regime, validation):", flush=True)
        print("\n".join(lines))
        chosen[d] = f"{pacing} (ramp {ramp:.2f} of the run)"
        print(f"  chosen: {chosen[d]} [{time.perf_counter() - t1:.0f} s]", flush=True)
        for regime in args.regimes:
            t1 = time.perf_counter()
            _, result = run_regime(d, splits, recipe, regime, variants_for(pacing, ramp), seeds, targets[regime])
            print(f"  {regime}: {len(result.records)} runs in {time.perf_counter() - t1:.0f} s", flush=True)
            for line in result.verdicts():
                print("   -", line)
            rows += rows_from(result.summary, regime)
    print(f"\ncurriculum vs controls vs the tuned baseline ({'QUICK: ' if args.quick else ''}seeds {seeds}; "
          f"time = training seconds, evaluation excluded; ratio < 1 is cheaper than the baseline, +- the "
          f"spread of per-seed ratios):")
    print(table(rows))
    lg = []
    if not args.skip_length_grouping:
        print("\nlength grouping (one epoch of the Kim CNN recipe, same examples; tolerance 0.1):")
        for d in ("subj", "mr"):
            r = length_grouping(d, max_examples=None)
            lg.append(r)
            a, b = r["random"], r["length_grouped"]
            print(f"  {d:<5} {r['examples']} examples: padding tokens random {a['padding_tokens']:,} "
                  f"({100 * a['padding_fraction']:.1f}%) vs grouped {b['padding_tokens']:,} "
                  f"({100 * b['padding_fraction']:.1f}%) = x{r['padding_ratio']:.3f}; epoch time "
                  f"{a['epoch_s']:.1f} s vs {b['epoch_s']:.1f} s = x{r['epoch_time_ratio']:.2f}; val acc after "
                  f"1 epoch {a['val_accuracy']:.3f} vs {b['val_accuracy']:.3f}", flush=True)
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    keys = ("dataset", "regime", "variant", "final_accuracy_mean", "final_accuracy_std", "time_to_target_ratio",
            "time_to_target_ratio_std", "reached", "seeds", "test_accuracy_mean")
    summary = {"benchmark": "curriculum", "seeds": len(seeds), "quick": args.quick, "pacing": chosen,
               "results": [{k: r[k] for k in keys} for r in rows],
               "length_grouping": [{"dataset": r["dataset"], "padding_ratio": r["padding_ratio"],
                                    "epoch_time_ratio": r["epoch_time_ratio"],
                                    "padding_fraction_random": r["random"]["padding_fraction"],
                                    "padding_fraction_grouped": r["length_grouped"]["padding_fraction"]}
                                   for r in lg]}
    summary = _json_clean(summary)
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
