"""Does one shared model for SUBJ, MR and pros_cons reach every task's target for less
training than three single-task models, and at what cost in accuracy?

One Kim (2014) CNN encoder (CNN-rand, embed 128, filters 3/4/5 x 100) on a vocabulary
shared over the three tasks' training splits, one linear head per task (dropout 0.5, as
Kim's classifier), trained with each loss weighting (equal, uncertainty, GradNorm, DWA)
under each task schedule (round-robin, proportional to data size at temperature 1,
performance-based), against the three single-task tuned baselines
(``workbench.recipes.baseline_recipe("subj" / "mr" / "pros_cons")``: model, optimizer,
rate, batch size, epochs, target). Targets (validation accuracy) come from the single-task
recipes: SUBJ 0.91, MR 0.755, pros_cons 0.935, fixed before the runs and printed.

Reported per (weighting, schedule, task): test accuracy, mean and standard deviation over
seeds, against the single-task model's; negative transfer (multi-task below single-task by
more than the two spreads) is flagged; and the wall time (training seconds, evaluation
excluded) until every task had reached its target, against the sum of the three
single-task times to their targets (ratio < 1: the shared model is cheaper).

The multi-task runs share one configuration (``MULTITASK_CONFIG``: Adam 2e-3, batch 50,
3 epochs of ``sum_i ceil(n_i / 50)`` batches, validated every 100 steps and every epoch).

    python benchmarks/multitask.py [--quick] [--seeds N] [--threads N] [--device cpu|cuda]
                                   [--out results.json]

Full mode: 3 seeds, 4 weightings x 3 schedules = 12 multi-task runs and 3 single-task runs
per seed, on the full data (pros_cons: 36.7k training sentences): several hours on one
CPU core. ``--quick`` (about five minutes on one core): 1,000 training / 300 validation /
300 test sentences per task, seed 0, 4 multi-task epochs (the single-task recipes keep
their 6 / 4 / 3), validation every 10 steps, targets relaxed by 0.2 (the subsampled data
cannot reach the full-data targets), and a stated subset of 6 pairs: every weighting under
round-robin (the schedule that keeps the three tasks balanced), plus equal weighting under
the proportional and the performance-based schedules. Its figures are indicative only.
``--pairs subset`` runs that subset on the full data (about half the full run's time): each
weighting compared under the one schedule that keeps the tasks balanced, each schedule
under the default weighting.

The last line of stdout is one JSON object: ``{"benchmark": "multitask", "seeds": N,
"quick": ..., "results": [{"weighting", "scheduler", "task", "test_accuracy_mean",
"test_accuracy_std", "time_to_all_targets_ratio"}, ...]}`` (single-task rows have
weighting ``"single_task"``, scheduler ``"-"`` and ratio null).
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
from workbench.recipes import load_splits  # noqa: E402
from workbench.techniques.multitask import (  # noqa: E402
    SCHEDULES,
    WEIGHTINGS,
    cap_splits,
    compare_to_single_task,
    multitask_experiment,
    multitask_splits,
    single_task_experiment,
    task_targets,
)

TASKS = ("subj", "mr", "pros_cons")
#: quick mode: examples per task and split, epochs, target relaxation, the (weighting, schedule) pairs
QUICK = {"train": 1000, "val": 300, "test": 300, "epochs": 4, "relax": 0.2, "eval_every_steps": 10,
         "pairs": [("equal", "round_robin"), ("uncertainty", "round_robin"), ("gradnorm", "round_robin"),
                   ("dwa", "round_robin"), ("equal", "proportional"), ("equal", "performance")]}


def table(rows: list[dict[str, Any]], seeds: int) -> str:
    head = (f"{'weighting':<12} {'schedule':<13} {'task':<10} {'test acc (%)':>15} {'reached':>7} "
            f"{'all targets (s)':>15} {'ratio':>6}  note")
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = "-" if _nan(r["time_to_all_targets_ratio"]) else f"{r['time_to_all_targets_ratio']:.2f}"
        tt = "-" if _nan(r["time_to_all_targets_s_mean"]) else f"{r['time_to_all_targets_s_mean']:.1f}"
        lines.append(f"{r['weighting']:<12} {r['scheduler']:<13} {r['task']:<10} "
                     f"{_fmt(r['test_accuracy_mean'], r['test_accuracy_std'], '{:.2f}', 100, seeds):>15} "
                     f"{r['reached']:>7} {tt:>15} {ratio:>6}  "
                     f"{'NEGATIVE TRANSFER' if r['negative_transfer'] else ''}")
    return "\n".join(lines)


def _lower(row: dict[str, Any], rows: list[dict[str, Any]]) -> bool:
    base = next(r for r in rows if r["weighting"] == "single_task" and r["task"] == row["task"])
    return row["test_accuracy_mean"] < base["test_accuracy_mean"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="subsampled data, seed 0, 6 pairs (a few minutes)")
    p.add_argument("--seeds", type=int, default=3, help="full mode: seeds 0..N-1 (default 3)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    p.add_argument("--device", default="cpu", help="torch device for every run (cpu, cuda)")
    p.add_argument("--pairs", choices=("all", "subset"), default=None,
                   help="full mode: all 12 weighting x schedule pairs (default) or the stated subset of 6 "
                        "(every weighting under round-robin, equal weighting under the other two schedules; "
                        "--quick always uses the subset)")
    p.add_argument("--out", type=str, default=None, help="also write every run's figures as JSON here")
    args = p.parse_args(argv)
    if args.quick and args.pairs == "all":
        p.error("--quick runs the subset of 6 pairs; drop --pairs all")
    if args.threads:
        torch.set_num_threads(args.threads)
    seeds = [0] if args.quick else list(range(args.seeds))
    relax = QUICK["relax"] if args.quick else 0.0
    targets = task_targets(TASKS, relax)
    t0 = time.perf_counter()
    single = {t: load_splits(t, seed=0) for t in TASKS}
    if args.quick:
        single = {t: cap_splits(s, QUICK["train"], QUICK["val"], QUICK["test"], seed=0) for t, s in single.items()}
    ms = multitask_splits(single)
    changes: dict[str, Any] = {"device": args.device}
    if args.quick:
        changes |= {"epochs": QUICK["epochs"], "eval_every_steps": QUICK["eval_every_steps"]}
        pairs = QUICK["pairs"]
    elif args.pairs == "subset":
        pairs = QUICK["pairs"]
    else:
        pairs = [(w, s) for w in WEIGHTINGS for s in SCHEDULES]
    print(f"multitask: tasks {list(TASKS)}, train sizes {ms.train.sizes}, shared vocabulary {len(ms.vocab):,}; "
          f"targets {targets}{' (QUICK: recipe targets - 0.2)' if args.quick else ''}; seeds {seeds}; "
          f"pairs {pairs}; {'QUICK (indicative only)' if args.quick else 'full'}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s), device {args.device}; loaded in {time.perf_counter() - t0:.0f} s",
          flush=True)
    # quick: the single-task recipes keep their epoch budgets (6 / 4 / 3), validated as often
    single_changes = {"device": args.device} | ({"eval_every_steps": QUICK["eval_every_steps"]} if args.quick else {})
    sexp = single_task_experiment(single, seeds, targets, **single_changes)
    print(sexp.describe(), flush=True)
    t1 = time.perf_counter()
    sres = sexp.run()
    print(f"  single-task: {len(sres.records)} runs in {time.perf_counter() - t1:.0f} s", flush=True)
    for r in sres.records:
        print(f"  single {r.dataset:<10} seed {r.seed}: target at {r.time_to_target_s:.1f} s; test "
              f"{r.test_metrics.get('test_accuracy', math.nan):.4f}; trained {r.wall_time:.1f} s", flush=True)
    mexp = multitask_experiment(ms, WEIGHTINGS, SCHEDULES, seeds, targets, pairs=pairs, **changes)
    print(mexp.describe(), flush=True)
    t1 = time.perf_counter()
    mres = mexp.run()
    print(f"  multi-task: {len(mres.records)} runs in {time.perf_counter() - t1:.0f} s", flush=True)
    for r in mres.records:
        per = ", ".join(f"{k.split('/')[1]} {v['time_to_target_s']:.1f} s" for k, v in r.per_target.items())
        accs = ", ".join(f"{t} {r.test_metrics.get(f'test_accuracy/{t}', math.nan):.4f}" for t in TASKS)
        print(f"  {r.variant:<26} seed {r.seed}: targets at {per}; all at {r.time_to_target_s:.1f} s; test {accs}; "
              f"trained {r.wall_time:.1f} s", flush=True)
    rows = compare_to_single_task(mres, sres)
    print(f"\nshared Kim CNN for {'+'.join(TASKS)} against one tuned model per task ({'QUICK: ' if args.quick else ''}"
          f"seeds {seeds}; time = training seconds, evaluation excluded; ratio = time until every task reached "
          f"its target / sum of the single-task times to target, < 1 is cheaper):")
    print(table(rows, len(seeds)))
    neg = sorted({(r["weighting"], r["scheduler"], r["task"]) for r in rows if r["negative_transfer"]})
    if len(seeds) < 2:
        print("negative transfer: not assessed (one seed, no spread); lower multi-task test accuracy than "
              "single-task on: " + (", ".join(f"{r['task']} under {r['weighting']}/{r['scheduler']}" for r in rows
                                             if r["weighting"] != "single_task" and _lower(r, rows)) or "none"))
    else:
        print("negative transfer (multi-task test accuracy below single-task by more than both spreads): "
              + (", ".join(f"{t} under {w}/{s}" for w, s, t in neg) if neg else "none"))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    keys = ("weighting", "scheduler", "task", "test_accuracy_mean", "test_accuracy_std", "time_to_all_targets_ratio")
    summary = {"benchmark": "multitask", "seeds": len(seeds), "quick": args.quick, "targets": targets,
               "results": [{k: r[k] for k in keys} for r in rows]}
    if args.out:
        Path(args.out).write_text(json.dumps(_json_clean({"summary": summary, "rows": rows,
                                                          "single": sres.to_json()["runs"],
                                                          "multi": mres.to_json()["runs"]}), indent=1))
    print(json.dumps(_json_clean(summary, 4)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
