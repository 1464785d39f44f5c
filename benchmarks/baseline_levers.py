"""Speed levers of the text baselines (issue 19): each lever on its own and together.

Two parts, on the tuned SUBJ (and MR) Kim-CNN recipes of ``workbench/recipes.py``:

1. **Step** (a plain PyTorch loop over the same SUBJ training batches, batch 50; median
   wall and CPU milliseconds of forward + backward + optimizer step over ``--steps``
   steps in 3 rotating rounds; padding share of the batches' tokens). Levers: torch's default Adam
   (``foreach``; today's recipe), ``for_loop`` Adam, fused Adam
   (``torch.optim.Adam(fused=True)``), length-grouped batches
   (:class:`~workbench.data.samplers.LengthGroupedBatchSampler`), bf16 autocast, a sparse
   embedding gradient (``nn.Embedding(sparse=True)``; ``torch.optim.SparseAdam`` for the
   embedding + fused Adam for the rest), two intra-op threads, and fused Adam with length
   grouping, also with the sparse embedding. Also the numerical
   check: the largest absolute parameter difference between default and fused (and
   for-loop) Adam after ``--check-steps`` identical steps.
2. **Run** (the recipe through :class:`~workbench.experiment.Experiment`, the code path
   of every comparison): today's recipe (``optimizer_impl="default"``,
   ``group_by_length=False``), each lever alone, both together, and the adopted recipe
   (what ``baseline_recipe`` returns now: fused Adam only; see docs/baselines.md for why
   length grouping is not a default). Seconds per epoch (training only, evaluation
   excluded: ``State.wall_time``), time-to-target (the recipe's target), test accuracy,
   and the process CPU seconds of the whole run (training and evaluation; one thread, so
   less sensitive than wall time to other processes on a shared machine).
   bf16 and the sparse embedding are measured in part 1 only (bf16 is ~10x slower per
   step on a CPU without bf16 arithmetic; the sparse embedding needs two optimizers,
   which the Trainer does not take). ``threads2`` and ``adopted_threads2`` (not in the
   default set) run today's and the adopted recipe with two intra-op threads
   (``grouped_threads2`` / ``grouped_noise03_threads2``: the adopted recipe with length
   grouping, padding noise 0.1 / 0.3, on two threads): the machine's
   second core, which torch uses by default on a quiet machine (every other figure here
   is at one thread, as the other benchmarks; two threads on a shared machine
   oversubscribe the cores and run slower).

    python benchmarks/baseline_levers.py [--quick] [--datasets subj mr] [--seeds N]
                  [--levers before fused length_grouping fused_grouped adopted
                            threads2 adopted_threads2 grouped_threads2
                            grouped_noise03_threads2]

``--quick``: SUBJ, seed 0, 2 epochs (the target is reached at epoch 2), 30 timed steps
(about 7 minutes on one thread on a quiet machine). Full: SUBJ and MR, seeds 0-2, the recipes' epochs, 60
timed steps. One torch thread (as ``benchmarks/baselines.py``) unless a lever says otherwise. Last stdout line: one JSON
object ``{"benchmark": "baseline_levers", "step": [...], "runs": [...], "summary": [...],
"numerics": {...}}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

_SHARED_NLTK = Path(__file__).resolve().parents[2] / "shared" / "nltk_data"
if _SHARED_NLTK.is_dir() and not os.environ.get("NLTK_DATA"):
    os.environ["NLTK_DATA"] = str(_SHARED_NLTK)

from _common import json_clean  # noqa: E402
from baselines import train  # noqa: E402

from workbench.data.samplers import LengthGroupedBatchSampler, ResumableRandomSampler  # noqa: E402
from workbench.models import build_model  # noqa: E402
from workbench.recipes import baseline_recipe, load_splits  # noqa: E402

#: today's recipe (before issue 19) and the levers as config changes of the recipe
RUN_LEVERS: dict[str, dict[str, Any]] = {
    "before": {"optimizer_impl": "default", "group_by_length": False},
    "fused": {"optimizer_impl": "fused", "group_by_length": False},
    "length_grouping": {"optimizer_impl": "default", "group_by_length": True},
    "fused_grouped": {"optimizer_impl": "fused", "group_by_length": True},
    "adopted": {},
    # torch intra-op threads (not a config field: process-wide, set around the run)
    "threads2": {"optimizer_impl": "default", "group_by_length": False, "_threads": 2},
    "adopted_threads2": {"_threads": 2},
    # the adopted recipe + length grouping on 2 threads, with the sampler's default padding
    # noise (0.1) and with AllenNLP-style larger noise (0.3: lengths mix more across batches)
    "grouped_threads2": {"group_by_length": True, "_threads": 2},
    "grouped_noise03_threads2": {"group_by_length": True, "padding_noise": 0.3, "_threads": 2},
}

#: step levers: (optimizer implementation, length grouping, bf16, sparse embedding, threads)
STEP_LEVERS: dict[str, dict[str, Any]] = {
    "before (foreach Adam)": {},
    "for_loop Adam": {"impl": "for_loop"},
    "fused Adam": {"impl": "fused"},
    "length grouping": {"grouped": True},
    "bf16 autocast": {"bf16": True},
    "sparse embedding (SparseAdam)": {"sparse": True},
    "2 threads": {"threads": 2},
    "fused + grouping": {"impl": "fused", "grouped": True},
    "fused + grouping + sparse embedding": {"impl": "fused", "grouped": True, "sparse": True},
    "fused + 2 threads": {"impl": "fused", "threads": 2},
    "fused + grouping + 2 threads": {"impl": "fused", "grouped": True, "threads": 2},
}


def _batches(splits: Any, grouped: bool, n: int, batch_size: int = 50, seed: int = 0) -> list[dict[str, Any]]:
    train_data, collate = splits.train, splits.task.collator()
    if grouped:
        order = LengthGroupedBatchSampler(train_data.lengths, batch_size, seed=seed).batches()
    else:
        pos = ResumableRandomSampler(train_data, seed=seed).order().tolist()
        order = [pos[i:i + batch_size] for i in range(0, len(pos), batch_size)]
    return [collate([train_data[i] for i in b]) for b in order[:n]]


def _padding(batches: list[dict[str, Any]]) -> float:
    real = sum(int(b["lengths"].sum()) for b in batches)
    padded = sum(b["inputs"].numel() for b in batches)
    return 1.0 - real / padded


def _optimizers(model: torch.nn.Module, impl: str, sparse: bool, lr: float) -> list[torch.optim.Optimizer]:
    if sparse:
        model.embedding.sparse = True
        rest = [p for n, p in model.named_parameters() if n != "embedding.weight"]
        return [torch.optim.SparseAdam([model.embedding.weight], lr=lr), torch.optim.Adam(rest, lr=lr, fused=True)]
    kw = {"fused": True} if impl == "fused" else {"foreach": impl == "foreach"}
    return [torch.optim.Adam(model.parameters(), lr=lr, **kw)]


def _steps(splits: Any, batches: list[dict[str, Any]], impl: str = "foreach", sparse: bool = False,
           bf16: bool = False, lr: float = 2e-3) -> tuple[list[tuple[float, float]], torch.nn.Module]:
    """Train a fresh Kim CNN (seed 0) on ``batches``; per step (wall s, process CPU s)."""
    torch.manual_seed(0)
    model = build_model("kim_cnn", splits.task)
    opts = _optimizers(model, impl, sparse, lr)
    times = []
    for b in batches:
        t0, c0 = time.perf_counter(), time.process_time()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = model(b["inputs"])
        loss = F.cross_entropy(out.float(), b["targets"])
        for o in opts:
            o.zero_grad(set_to_none=True)
        loss.backward()
        for o in opts:
            o.step()
        times.append((time.perf_counter() - t0, time.process_time() - c0))
    return times, model


def step_part(splits: Any, steps: int, rounds: int, check_steps: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Rotating rounds: every lever trains ``steps // rounds`` timed steps (after 3 warm-up
    steps) per round, so load from other processes spreads over all levers; medians over
    all rounds. CPU time (``time.process_time``, one thread) is less sensitive to other
    processes than wall time. bf16 runs 3 timed steps in the first round only."""
    per = max(1, steps // rounds)
    warm = 3
    print(f"\n== step: SUBJ Kim CNN, batch 50, {rounds} rotating rounds x {per} timed steps "
          f"(+{warm} warm-up) per lever; medians", flush=True)
    grouped = {g: _batches(splits, g, per * rounds + warm) for g in (False, True)}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in STEP_LEVERS}
    padding: dict[str, float] = {}
    for r in range(rounds):
        for name, lv in STEP_LEVERS.items():
            if lv.get("bf16") and r > 0:
                continue
            n = 3 if lv.get("bf16") else per  # bf16 is ~10x slower per step here
            pool = grouped[bool(lv.get("grouped"))]
            batches = pool[:warm] + pool[warm + r * per: warm + r * per + n]
            padding[name] = _padding(batches[warm:])
            torch.set_num_threads(lv.get("threads", 1))
            times, _ = _steps(splits, batches, lv.get("impl", "foreach"), lv.get("sparse", False),
                              lv.get("bf16", False))
            torch.set_num_threads(1)
            samples[name] += times[warm:]
    out = []
    base = None
    for name, ts in samples.items():
        wall = 1000 * statistics.median(t[0] for t in ts)
        cpu = 1000 * statistics.median(t[1] for t in ts)
        base = base or (wall, cpu)
        row = {"lever": name, "ms_per_step": wall, "cpu_ms_per_step": cpu, "speedup": base[0] / wall,
               "cpu_speedup": base[1] / cpu, "padding": padding[name], "steps": len(ts)}
        out.append(row)
        print(f"  {name:<32} {wall:7.1f} ms/step (x{row['speedup']:.2f}), CPU {cpu:7.1f} ms "
              f"(x{row['cpu_speedup']:.2f}), padding {row['padding']:.0%}", flush=True)
    batches = _batches(splits, False, check_steps)
    ref = _steps(splits, batches, "foreach")[1]
    numerics: dict[str, Any] = {"steps": check_steps}
    for impl in ("fused", "for_loop"):
        other = _steps(splits, batches, impl)[1]
        diff = max(float((a - b).detach().abs().max()) for a, b in zip(ref.parameters(), other.parameters()))
        numerics[f"max_abs_param_diff_{impl}_vs_default"] = diff
        print(f"  {impl} vs default Adam after {check_steps} steps: max |param difference| {diff:.2e}", flush=True)
    return out, numerics


def run_part(datasets: list[str], seeds: list[int], levers: list[str], epochs: int | None) -> list[dict[str, Any]]:
    runs = []
    for d in datasets:
        splits = load_splits(d, seed=0)
        recipe = baseline_recipe(d)
        print(f"\n== runs: {d}, target {recipe.target.describe()}, seeds {seeds}, "
              f"{epochs or recipe.config.epochs} epochs", flush=True)
        for lever in levers:
            changes = dict(RUN_LEVERS[lever]) | ({"epochs": epochs} if epochs else {})
            threads = changes.pop("_threads", 1)
            for s in seeds:
                torch.set_num_threads(threads)
                c0 = time.process_time()
                try:
                    r = train(d, splits, s, changes)
                finally:
                    torch.set_num_threads(1)
                r |= {"threads": threads, "cpu_s": time.process_time() - c0,"dataset": d, "lever": lever, "s_per_epoch": r["wall_time_s"] / max(r["epochs"], 1e-9)}
                runs.append(r)
                print(f"  {lever:<16} seed {s}: {r['s_per_epoch']:6.2f} s/epoch, time to target "
                      f"{r['time_to_target_s'] if r['time_to_target_s'] is not None else float('nan'):6.2f} s "
                      f"(epoch {r['target_epoch']}), test {r['test_accuracy']:.4f}, best val "
                      f"{r['best_val_accuracy']:.4f}", flush=True)
    return runs


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for d in dict.fromkeys(r["dataset"] for r in runs):
        base = None
        for lever in dict.fromkeys(r["lever"] for r in runs if r["dataset"] == d):
            rs = [r for r in runs if r["dataset"] == d and r["lever"] == lever]
            ttt = [r["time_to_target_s"] for r in rs]
            acc = [r["test_accuracy"] for r in rs]
            row = {"dataset": d, "lever": lever, "seeds": len(rs),
                   "s_per_epoch": statistics.fmean(r["s_per_epoch"] for r in rs),
                   "cpu_s_per_run": statistics.fmean(r["cpu_s"] for r in rs),
                   "time_to_target_s": statistics.fmean(ttt) if None not in ttt else None,
                   "target_epochs": [r["target_epoch"] for r in rs],
                   "test_accuracy_mean": statistics.fmean(acc),
                   "test_accuracy_std": statistics.stdev(acc) if len(acc) > 1 else 0.0}
            if lever == "before":
                base = row
            if base is not None and base["time_to_target_s"] and row["time_to_target_s"]:
                row["time_to_target_ratio"] = row["time_to_target_s"] / base["time_to_target_s"]
                row["s_per_epoch_ratio"] = row["s_per_epoch"] / base["s_per_epoch"]
                row["cpu_ratio"] = row["cpu_s_per_run"] / base["cpu_s_per_run"]
            out.append(row)
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="SUBJ, seed 0, 2 epochs, 30 timed steps")
    p.add_argument("--datasets", nargs="+", default=None, choices=["subj", "mr", "pros_cons"])
    p.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 3; --quick 1)")
    p.add_argument("--levers", nargs="+", default=[k for k in RUN_LEVERS if "threads" not in k],
                   choices=list(RUN_LEVERS), help="part 2's runs (default: every lever at one thread; "
                   "threads2 / adopted_threads2: before / the adopted recipe with 2 intra-op threads)")
    p.add_argument("--steps", type=int, default=None, help="timed steps in part 1 (default 60; --quick 30)")
    p.add_argument("--no-step", action="store_true", help="skip part 1")
    p.add_argument("--no-runs", action="store_true", help="skip part 2")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    datasets = args.datasets or (["subj"] if args.quick else ["subj", "mr"])
    seeds = list(range(args.seeds if args.seeds is not None else (1 if args.quick else 3)))
    steps = args.steps or (30 if args.quick else 60)
    print(f"baseline_levers: data sets {datasets}, seeds {seeds}, torch {torch.__version__}, "
          f"1 intra-op thread unless a lever sets more, {os.cpu_count()} CPUs, capability {torch.backends.cpu.get_cpu_capability()}",
          flush=True)
    t0 = time.perf_counter()
    step_rows, numerics = ([], {}) if args.no_step else step_part(load_splits("subj"), steps, 3, 50)
    runs = [] if args.no_runs else run_part(datasets, seeds, args.levers, 2 if args.quick else None)
    summary = summarize(runs) if runs else []
    if summary:
        print("\nsummary (s/epoch = training seconds per epoch, evaluation excluded):")
        for r in summary:
            ttt = "not reached" if r["time_to_target_s"] is None else f"{r['time_to_target_s']:.1f} s"
            ratio = f" (x{r['time_to_target_ratio']:.2f} of before)" if "time_to_target_ratio" in r else ""
            print(f"  {r['dataset']:<5} {r['lever']:<16} {r['s_per_epoch']:6.2f} s/epoch, time to target {ttt}"
                  f"{ratio}, CPU {r['cpu_s_per_run']:.0f} s per run (training + evaluation), test {100 * r['test_accuracy_mean']:.2f} +- {100 * r['test_accuracy_std']:.2f}")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    keep = ("dataset", "lever", "threads", "seed", "s_per_epoch", "cpu_s", "time_to_target_s", "target_epoch", "test_accuracy",
            "best_val_accuracy", "epochs")
    print(json.dumps(json_clean({"benchmark": "baseline_levers", "quick": args.quick,
                                 "threads": sorted({1} | {r["threads"] for r in runs}),
                                 "step": step_rows, "numerics": numerics,
                                 "runs": [{k: r[k] for k in keep} for r in runs], "summary": summary}, 6)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
