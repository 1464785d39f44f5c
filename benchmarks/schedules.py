"""Which learning-rate schedule gets the tuned baseline to its target soonest?

Compares, on digits and SUBJ, each data set's tuned recipe (``baseline_recipe``: model,
optimizer, learning rate, batch size, epochs) under six schedules
(:func:`workbench.techniques.optimization.schedule_variants`):

- ``constant`` (the recipe at a constant rate: the baseline variant, the reference),
- ``step`` (rate x0.1 at 1/3 and 2/3 of the run, ``StepLR``),
- ``cosine`` (``CosineAnnealingLR`` to 0),
- ``warmup_cosine`` (linear warmup over 5% of the steps, then cosine to 0),
- ``one_cycle`` (``OneCycleLR``, the recipe's rate as the peak),
- ``dynamic`` (the ``"dynamic"`` schedule, the rule of ``DynamicLR`` stepped with the
  validation loss after every epoch: x1.25 after 2 consecutive improvements, x0.5 after
  2 evaluations without a new best, within [lr/100, 10 lr]).

Everything runs through :class:`workbench.experiment.Experiment` (one run per data set x
schedule x seed, seed-major so the schedules are interleaved in time), evaluating once
per epoch. Targets are the recipes' (validation accuracy: digits 0.98, SUBJ 0.91), fixed
before the runs and printed. Reported per (data set, schedule): how many seeds reached
the target, time-to-target (training seconds, evaluation excluded) and examples-to-target
with mean and standard deviation over seeds, their ratio to the constant-rate baseline,
final validation accuracy (the last evaluation) and test accuracy, mean +- std.

**Choosing the tuned baseline** (rule fixed before the runs; selection by validation data
only, the test split is never used to choose): among the schedules whose every seed
reached the target, the one with the fewest examples-to-target on average (a
deterministic count; seconds on a shared machine are noisy), ties within 1% broken by
higher final validation accuracy; if no schedule reached the target on every seed, the
highest final validation accuracy
(:func:`workbench.techniques.optimization.choose_schedule`). The script prints the choice
per data set; the recipe in ``workbench/recipes.py`` is updated by hand from it (the
run of 2026-11-22 chose constant for digits and dynamic for SUBJ; docs/baselines.md).

    python benchmarks/schedules.py [--quick] [--datasets digits subj] [--seeds N]
                                   [--threads N] [--out results.json]

Full mode: seeds 0, 1, 2 and the recipes' epoch budgets (digits 20, SUBJ 6): over an
hour on one free core, mostly SUBJ (about 30 s per epoch). ``--quick`` (about 15 minutes
on one free core): digits on seeds 0, 1 with 8 epochs, SUBJ on seed 0 with 3 epochs; its
figures are indicative only (fewer seeds, shortened runs, so every schedule spans the
shorter run; a spread is printed only with two seeds or more). One torch thread by
default, as in ``benchmarks/baselines.py``.

The last line of stdout is one JSON object: ``{"benchmark": "schedules", "seeds": N,
"quick": ..., "results": [{"dataset", "schedule", "seeds", "reached",
"time_to_target_s_mean", "time_to_target_s_std", "examples_to_target_mean",
"time_to_target_ratio", "final_accuracy_mean", "final_accuracy_std",
"test_accuracy_mean", "test_accuracy_std"}, ...], "best": {dataset: schedule}}``.
"""

from __future__ import annotations

import argparse
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
from workbench.recipes import baseline_recipe, load_splits  # noqa: E402
from workbench.techniques.optimization import (  # noqa: E402
    BENCHMARK_SCHEDULES,
    choose_schedule,
    schedule_experiment,
)

#: quick mode: seeds and epoch budget per data set
QUICK = {"digits": {"seeds": [0, 1], "epochs": 8}, "subj": {"seeds": [0], "epochs": 3}}


def rows_from(summary) -> list[dict[str, Any]]:
    out = []
    for _, r in summary.iterrows():
        out.append({
            "dataset": r["dataset"], "schedule": r["variant"], "seeds": int(r["seeds"]),
            "reached": int(r["reached"]), "target": float(r["target_value"]),
            "time_to_target_s_mean": float(r["time_to_target_s_mean"]),
            "time_to_target_s_std": float(r["time_to_target_s_std"]),
            "examples_to_target_mean": float(r["examples_to_target_mean"]),
            "examples_to_target_std": float(r["examples_to_target_std"]),
            "time_to_target_ratio": float(r["time_to_target_ratio"]),
            "examples_to_target_ratio": float(r["examples_to_target_ratio"]),
            "final_accuracy_mean": float(r["final_metric_mean"]),
            "final_accuracy_std": float(r["final_metric_std"]),
            "test_accuracy_mean": float(r["test_accuracy_mean"]),
            "test_accuracy_std": float(r["test_accuracy_std"]),
            "wall_time_s_mean": float(r["wall_time_s_mean"]),
        })
    return out


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'data set':<8} {'schedule':<14} {'reached':>7} {'time to target (s)':>20} "
            f"{'examples to target':>22} {'time ratio':>10} {'final val acc (%)':>18} "
            f"{'test acc (%)':>15} {'train s':>7}")
    lines = [head, "-" * len(head)]
    for r in rows:
        n = r["seeds"]
        ratio = "-" if _nan(r["time_to_target_ratio"]) else f"{r['time_to_target_ratio']:.2f}"
        lines.append(
            f"{r['dataset']:<8} {r['schedule']:<14} {r['reached']:>3}/{r['seeds']:<3} "
            f"{_fmt(r['time_to_target_s_mean'], r['time_to_target_s_std'], seeds=n):>20} "
            f"{_fmt(r['examples_to_target_mean'], r['examples_to_target_std'], '{:,.0f}', seeds=n):>22} "
            f"{ratio:>10} {_fmt(r['final_accuracy_mean'], r['final_accuracy_std'], '{:.2f}', 100, n):>18} "
            f"{_fmt(r['test_accuracy_mean'], r['test_accuracy_std'], '{:.2f}', 100, n):>15} "
            f"{r['wall_time_s_mean']:>7.1f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer seeds and shortened runs (about ten minutes)")
    p.add_argument("--datasets", nargs="+", default=["digits", "subj"], choices=["digits", "subj", "mr"])
    p.add_argument("--seeds", type=int, default=3, help="full mode: seeds 0..N-1 (default 3)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    p.add_argument("--out", type=str, default=None, help="also write every run's figures as JSON here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    plan = {}
    for d in args.datasets:
        if args.quick:
            q = QUICK.get(d, {"seeds": [0], "epochs": 2})
            plan[d] = {"seeds": q["seeds"], "epochs": q["epochs"]}
        else:
            plan[d] = {"seeds": list(range(args.seeds)), "epochs": baseline_recipe(d).config.epochs}
    print(f"schedules: {list(BENCHMARK_SCHEDULES)} (baseline: constant); plan {plan}; "
          f"{'QUICK (indicative only)' if args.quick else 'full'}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} intra-op thread(s), {os.cpu_count()} CPUs", flush=True)
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    runs: list[dict[str, Any]] = []
    choices: dict[str, dict[str, Any]] = {}
    for d, spec in plan.items():
        splits = load_splits(d, seed=0)
        recipe = baseline_recipe(d, epochs=spec["epochs"])
        c = recipe.config
        print(f"\n{d}: {splits}; recipe {recipe.model}, {c.optimizer} lr {c.lr:g}, batch {c.batch_size}, "
              f"{c.epochs} epochs", flush=True)
        exp = schedule_experiment([d], seeds=spec["seeds"], epochs=spec["epochs"], splits={d: splits},
                                  progress=False)
        print(exp.describe(), flush=True)
        t1 = time.perf_counter()
        result = exp.run()
        print(f"  {len(result.records)} runs in {time.perf_counter() - t1:.0f} s", flush=True)
        for rec in result.records:
            print(f"  {rec.variant:<14} seed {rec.seed}: reached at {rec.time_to_target_s:.1f} s / "
                  f"{rec.examples_to_target:.0f} examples; final val {rec.final_metric:.4f}, test "
                  f"{rec.test_metrics.get('test_accuracy', math.nan):.4f}; lr at the end "
                  f"{rec.rows[-1].get('lr', math.nan):.2e}; {rec.counters or ''}", flush=True)
        rows += rows_from(result.summary)
        choices |= choose_schedule(result.summary)
        runs += result.to_json()["runs"]
        for line in result.verdicts():
            print("  -", line)
    best = {}
    print(f"\nlearning-rate schedules against the constant-rate recipe ({'QUICK: ' if args.quick else ''}"
          f"seeds {[(d, s['seeds']) for d, s in plan.items()]}, epochs "
          f"{ {d: s['epochs'] for d, s in plan.items()} }; time = training seconds, evaluation excluded; "
          f"ratio < 1 is cheaper than constant):")
    print(table(rows))
    for d in plan:
        choice = choices[d]
        best[d] = choice["schedule"]
        print(f"  tuned baseline schedule for {d}: {choice['schedule']} ({choice['why']})")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    keys = ("dataset", "schedule", "seeds", "reached", "time_to_target_s_mean", "time_to_target_s_std",
            "examples_to_target_mean", "time_to_target_ratio", "final_accuracy_mean",
            "final_accuracy_std", "test_accuracy_mean", "test_accuracy_std")
    summary = {"benchmark": "schedules", "seeds": max(len(s["seeds"]) for s in plan.values()),
               "quick": args.quick, "epochs": {d: s["epochs"] for d, s in plan.items()},
               "results": [{k: r[k] for k in keys} for r in rows], "best": best}
    if args.out:
        Path(args.out).write_text(json.dumps(_json_clean({"summary": summary, "rows": rows, "runs": runs}),
                                             indent=1))
    print(json.dumps(_json_clean(summary)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
