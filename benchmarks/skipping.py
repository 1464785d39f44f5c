"""Does skipping compute pay once every scoring pass and auxiliary model is on the clock?

Selective backprop and difficulty prediction (``workbench.techniques.skipping``) against
each data set's tuned baseline (``workbench.recipes.baseline_recipe``: model, optimizer,
rate, batch size, epochs), in two regimes:

- ``clean``: the data as given;
- ``noisy``: 20% of the training labels flipped to another class, uniformly (symmetric
  noise; fixed by seed 0, the same noisy data for every variant and seed; validation and
  test clean). Loss-based selection favours high-loss examples, and mislabelled examples
  keep a high loss: the regime where it is expected to hurt (Mindermann et al. 2022).

Variants:

- ``baseline``: the recipe;
- ``sb-jiang``: Selective Backprop as in Jiang et al. 2019 (keep probability
  ``F(loss)^3``, ``F`` the percentile among the last 1,024 losses; selecting from the first
  batch to the last, every batch);
- ``sb-composer``: Composer's ``SelectiveBackprop`` defaults (keep 0.5 of a batch by loss
  rank, from 50% to 90% of the run, every other batch);
- ``difficulty-prediction``: skip the 20% of each batch predicted easiest before the
  forward pass, from epoch 2 (the seed's claim: 1.2x with 20% skipped).

- ``gradient-caching``: an example whose ``model.encode`` features are within cosine
  ``tau`` of a cached example of its class reuses that example's cached classifier
  gradient instead of being backpropagated; ``tau`` adapts to a 20% hit rate (the seed's
  claim: 1.25x at a 20% hit rate). Its reuse error (cosine similarity and relative norm
  error of the classifier gradient, on up to 8 hits per batch) is reported.
- ``rho-loss``: RHO-LOSS (Mindermann et al. 2022): candidate batches 4x the recipe's, the
  25% with the largest reducible loss (training loss minus the irreducible loss of a
  small model cross-fitted on the training split's halves) trained on; the
  irreducible-loss model's training time is charged to the run (``il s``).

Costs. ``time`` is the Trainer's training seconds (evaluation excluded) and includes every
technique's work: the scoring forward passes without gradients, the selection draws, the
predictor's features, predictions and fits. Those are also shown on their own
(``overhead s``: the techniques' handler time). ``examples to target`` counts examples
forwarded *with* gradients and backpropagated (``state.examples_seen``); the scoring
passes are in ``scored``. ``backward fraction`` = examples backpropagated / examples drawn
over the whole run.

Targets (validation accuracy, fixed before the runs, printed): clean: the recipe's target;
noisy: 0.03 lower. Evaluation about 12 times per run.

    python benchmarks/skipping.py [--quick] [--seeds N] [--threads N] [--out results.json]

Full mode: seeds 0, 1, 2 on digits, SUBJ and pros_cons (hours on one core). ``--quick``:
digits only, seed 0, 6 epochs, targets 0.01 lower; figures indicative only.

The last line of stdout is one JSON object: ``{"benchmark": "skipping", "seeds": N,
"quick": ..., "results": [{"dataset", "regime", "variant", "time_to_target_ratio",
"examples_to_target_ratio", "backward_fraction", "test_accuracy_mean",
"test_accuracy_std", ...}, ...]}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import statistics
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
from workbench.techniques.skipping import (  # noqa: E402
    DifficultyPrediction,
    GradientCaching,
    RhoLoss,
    SelectiveBackprop,
)

REGIMES = ("clean", "noisy")
DATASETS = ("digits", "subj", "pros_cons")
CLAIMS = {"difficulty-prediction": "1.2x (difficulty prediction, 20% skipped; seed claim)",
          "sb-jiang": "up to 3.5x (Jiang et al. 2019, CIFAR/SVHN)",
          "sb-composer": "~10% less time (Composer method card)",
          "gradient-caching": "1.25x (gradient caching, 20% hit rate; seed claim)",
          "rho-loss": "18x fewer steps (Mindermann et al. 2022, Clothing-1M)"}
RHO_KEEP = 0.25  # n_b / n_B; the loader's (candidate) batch is 1 / RHO_KEEP times the recipe's


def flip_labels(data, fraction: float, num_classes: int, seed: int = 0):
    """A copy of ``data`` (an ExampleDataset) with ``round(fraction * N)`` labels replaced
    by another class drawn uniformly (symmetric label noise); returns it and the flipped
    positions."""
    g = torch.Generator().manual_seed(seed)
    n = len(data)
    pos = torch.randperm(n, generator=g)[:round(fraction * n)]
    targets = data.targets.clone()
    shift = torch.randint(1, num_classes, (pos.numel(),), generator=g)
    targets[pos] = (targets[pos] + shift) % num_classes
    out = type(data)(data.inputs, targets, data.ids, texts=data.texts, name=data.name)
    return out, pos


def variants() -> list[Variant]:
    def sb_jiang(splits, seed):
        return [SelectiveBackprop.default(splits, rule="jiang", start=0.0, end=1.0, interrupt=0, seed=seed)]

    def sb_composer(splits, seed):
        return [SelectiveBackprop.default(splits, rule="composer", seed=seed)]

    def dp(splits, seed):
        return [DifficultyPrediction.default(splits)]

    def gc(splits, seed):
        return [GradientCaching.default(splits)]

    def rho(splits, seed):
        return [RhoLoss.default(splits, keep=RHO_KEEP, seed=seed)]

    def rho_config(base, splits):
        return {"batch_size": round(base.batch_size / RHO_KEEP)}

    return [Variant("baseline"),
            Variant("sb-jiang", techniques=sb_jiang, claim=CLAIMS["sb-jiang"]),
            Variant("sb-composer", techniques=sb_composer, claim=CLAIMS["sb-composer"]),
            Variant("difficulty-prediction", techniques=dp, claim=CLAIMS["difficulty-prediction"]),
            Variant("gradient-caching", techniques=gc, claim=CLAIMS["gradient-caching"]),
            Variant("rho-loss", config=rho_config, techniques=rho, claim=CLAIMS["rho-loss"])]


def regime_config(config, n_train: int):
    total = optimizer_steps_per_run(config, n_train)
    return config.replace(progress_bar=False, eval_every_epochs=None, eval_every_steps=max(1, total // 12))


def _row_at_target(rec, target: Target) -> dict[str, Any] | None:
    for r in rec.rows:
        v = r.get(target.metric, math.nan)
        if not _nan(v) and target.reached(v):
            return r
    return None


def _mean_all(xs: list[float]) -> float:
    """The mean, NaN when any value is missing (a seed that did not reach the target)."""
    return statistics.fmean(xs) if xs and not any(_nan(x) for x in xs) else math.nan


def rows_from(result, regime: str, target: Target) -> list[dict[str, Any]]:
    out = []
    for _, r in result.summary.iterrows():
        recs = [x for x in result.records if x.variant == r["variant"] and x.dataset == r["dataset"]]
        skipped = [x.counters.get("examples_skipped", 0) for x in recs]
        seen = [x.examples_seen for x in recs]
        at = [_row_at_target(x, target) for x in recs]
        bwd_to_target = [a["examples_seen"] if a is not None else math.nan for a in at]
        scored_to_target = [a.get("scoring_examples", 0) if a is not None else math.nan for a in at]
        # the predictor's last held-out Spearman correlation per run (difficulty prediction)
        spear = [[row["predictor_spearman"] for row in x.rows if not _nan(row.get("predictor_spearman"))]
                 for x in recs]
        spear = [s[-1] for s in spear if s]
        # gradient caching: hit rate over the run, reuse error averaged over the evaluation rows
        gc_rows = [[row for row in x.rows if not _nan(row.get("grad_cache_cosine"))] for x in recs]
        gc_cos = [statistics.fmean(row["grad_cache_cosine"] for row in rs) for rs in gc_rows if rs]
        gc_rel = [statistics.fmean(row["grad_cache_rel_error"] for row in rs) for rs in gc_rows if rs]
        gc_pooled = [statistics.fmean(row["grad_cache_pooled_rel_error"] for row in rs
                                      if "grad_cache_pooled_rel_error" in row) for rs in gc_rows
                     if any("grad_cache_pooled_rel_error" in row for row in rs)]
        hits = [x.counters.get("cache_hits", 0) for x in recs]
        looked = [x.counters.get("cache_hits", 0) + x.counters.get("cache_misses", 0) for x in recs]

        out.append({
            "dataset": r["dataset"], "regime": regime, "variant": r["variant"], "seeds": int(r["seeds"]),
            "reached": int(r["reached"]), "target": float(r["target_value"]),
            "time_to_target_s_mean": float(r["time_to_target_s_mean"]),
            "time_to_target_s_std": float(r["time_to_target_s_std"]),
            "time_to_target_ratio": float(r["time_to_target_ratio"]),
            "time_to_target_ratio_std": float(r["time_to_target_ratio_std"]),
            "examples_to_target_ratio": float(r["examples_to_target_ratio"]),
            "backward_examples_to_target": _mean_all(bwd_to_target),
            "scoring_examples_to_target": _mean_all(scored_to_target),
            "backward_fraction": statistics.fmean(s / (s + k) for s, k in zip(seen, skipped)),
            "scoring_examples": statistics.fmean(x.counters.get("scoring_examples", 0) for x in recs),
            "overhead_s": statistics.fmean(x.counters.get("skipping_overhead_us", 0) / 1e6 for x in recs),
            "il_training_s": statistics.fmean(x.counters.get("il_training_us", 0) / 1e6 for x in recs),
            "wall_time_s_mean": float(r["wall_time_s_mean"]),
            "final_accuracy_mean": float(r["final_metric_mean"]),
            "final_accuracy_std": float(r["final_metric_std"]),
            "test_accuracy_mean": float(r["test_accuracy_mean"]),
            "test_accuracy_std": float(r["test_accuracy_std"]),
            "predictor_spearman_last": statistics.fmean(spear) if spear else math.nan,
            "cache_hit_rate": statistics.fmean(h / n for h, n in zip(hits, looked)) if any(looked) else math.nan,
            "grad_reuse_cosine": statistics.fmean(gc_cos) if gc_cos else math.nan,
            "grad_reuse_rel_error": statistics.fmean(gc_rel) if gc_rel else math.nan,
            "grad_reuse_pooled_rel_error": statistics.fmean(gc_pooled) if gc_pooled else math.nan,
            "cache_memory_bytes": max((row.get("grad_cache_memory_bytes", 0) for x in recs for row in x.rows),
                                      default=0),
            "claim": r["claim"] if isinstance(r["claim"], str) else "",
        })
    return out


def table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'dataset':<9} {'regime':<6} {'variant':<22} {'time to target s':>17} {'ratio':>12} {'ex ratio':>8} "
            f"{'bwd to tgt':>10} {'bwd frac':>8} {'scored':>8} {'overhead s':>10} {'il s':>5} {'wall s':>7} "
            f"{'final val %':>11} {'test %':>12} {'rho':>5}  claim")
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = _fmt(r["time_to_target_ratio"], r["time_to_target_ratio_std"], "{:.2f}", seeds=r["seeds"],
                     missing="n/a")
        ex = "n/a" if _nan(r["examples_to_target_ratio"]) else f"{r['examples_to_target_ratio']:.2f}"
        bwd = "n/a" if _nan(r["backward_examples_to_target"]) else f"{r['backward_examples_to_target']:.0f}"
        rho = "" if _nan(r["predictor_spearman_last"]) else f"{r['predictor_spearman_last']:.2f}"
        lines.append(
            f"{r['dataset']:<9} {r['regime']:<6} {r['variant']:<22} "
            f"{_fmt(r['time_to_target_s_mean'], r['time_to_target_s_std'], seeds=r['seeds']):>17} {ratio:>12} "
            f"{ex:>8} {bwd:>10} {r['backward_fraction']:>8.2f} {r['scoring_examples']:>8.0f} "
            f"{r['overhead_s']:>10.2f} {r['il_training_s']:>5.1f} {r['wall_time_s_mean']:>7.1f} "
            f"{_fmt(r['final_accuracy_mean'], r['final_accuracy_std'], '{:.2f}', 100, seeds=r['seeds']):>11} "
            f"{_fmt(r['test_accuracy_mean'], r['test_accuracy_std'], '{:.2f}', 100, seeds=r['seeds']):>12} "
            f"{rho:>5}  {r['claim']}")
    return "\n".join(lines)


def verdicts(rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        if r["variant"] == "baseline":
            continue
        where = f"{r['dataset']} {r['regime']} {r['variant']}"
        t = r["time_to_target_ratio"]
        if _nan(t):
            out.append(f"{where}: target not reached by every seed of it and the baseline: no ratio; "
                       f"skipping does not pay here")
        elif abs(t - 1.0) < 0.01:
            out.append(f"{where}: the baseline's time to target ({t:.2f}x): no saving "
                       f"(backward fraction {r['backward_fraction']:.2f}, overhead {r['overhead_s']:.1f} s)")
        elif t > 1.0:
            out.append(f"{where}: {t:.2f}x the baseline's time to target: skipping does NOT pay "
                       f"(backward fraction {r['backward_fraction']:.2f}, overhead {r['overhead_s']:.1f} s)")
        else:
            out.append(f"{where}: {1 / t:.2f}x faster to target than the baseline "
                       f"(backward fraction {r['backward_fraction']:.2f}, overhead {r['overhead_s']:.1f} s)")
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="digits, one seed, 6 epochs (indicative only)")
    p.add_argument("--datasets", nargs="+", default=None, choices=list(DATASETS))
    p.add_argument("--regimes", nargs="+", default=list(REGIMES), choices=list(REGIMES))
    p.add_argument("--seeds", type=int, default=3, help="full mode: seeds 0..N-1 (default 3)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    p.add_argument("--out", type=str, default=None, help="also write the results as JSON here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    datasets = args.datasets or (["digits"] if args.quick else list(DATASETS))
    seeds = [0] if args.quick else list(range(args.seeds))
    print(f"skipping benchmark: data sets {datasets}, regimes {args.regimes}, seeds {seeds}; "
          f"{'QUICK (indicative only)' if args.quick else 'full'}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s)", flush=True)
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    for d in datasets:
        splits = load_dataset(d, seed=0)
        recipe = baseline_recipe(d, **({"epochs": 6} if args.quick else {}))
        drop = 0.01 if args.quick else 0.0
        targets = {"clean": Target("val_accuracy", round(recipe.target.value - drop, 3)),
                   "noisy": Target("val_accuracy", round(recipe.target.value - drop - 0.03, 3))}
        print(f"\n{d}: {len(splits.train)} training examples; recipe {recipe.model}, {recipe.config.optimizer} "
              f"lr {recipe.config.lr:g}, batch {recipe.config.batch_size}, {recipe.config.epochs} epochs; targets "
              f"{ {k: v.describe() for k, v in targets.items()} } (fixed before the runs)", flush=True)
        for regime in args.regimes:
            s = splits
            if regime == "noisy":
                noisy, _ = flip_labels(splits.train, 0.2, splits.task.num_classes, seed=0)
                s = dataclasses.replace(splits, train=noisy)
            t1 = time.perf_counter()
            exp = Experiment({d: s}, model_factory(recipe.model), regime_config(recipe.config, len(s.train)),
                             variants(), seeds=seeds, target=targets[regime], progress=False,
                             name=f"skipping {d} {regime}")
            result = exp.run()
            print(f"  {regime}: {len(result.records)} runs in {time.perf_counter() - t1:.0f} s", flush=True)
            rows += rows_from(result, regime, targets[regime])
    print(f"\nskipping vs the tuned baseline ({'QUICK: ' if args.quick else ''}seeds {seeds}; time = training "
          f"seconds including every scoring pass and predictor fit, evaluation excluded; ratio < 1 is cheaper "
          f"than the baseline; 'bwd to tgt' = examples backpropagated until the target; 'scored' = examples "
          f"forwarded without gradients to be scored; rho = predictor's Spearman on held-out examples):")
    print(table(rows))
    print("\nverdicts:")
    for line in verdicts(rows):
        print("  -", line)
    for r in rows:
        if not _nan(r["cache_hit_rate"]):
            print(f"  - {r['dataset']} {r['regime']} gradient caching: hit rate {r['cache_hit_rate']:.2f}, "
                  f"reused classifier gradient vs the true one: cosine {r['grad_reuse_cosine']:.3f}, relative "
                  f"norm error {r['grad_reuse_rel_error']:.3f} per hit, {r['grad_reuse_pooled_rel_error']:.3f} pooled "
                  f"(sum of error norms / sum of true norms) (hits get no encoder gradient at all); cache "
                  f"{r['cache_memory_bytes'] / 2**20:.2f} MiB (classifier layer only)")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s")
    keys = ("dataset", "regime", "variant", "time_to_target_ratio", "examples_to_target_ratio",
            "backward_fraction", "test_accuracy_mean", "test_accuracy_std", "time_to_target_ratio_std",
            "backward_examples_to_target", "scoring_examples", "overhead_s", "il_training_s", "final_accuracy_mean",
            "final_accuracy_std", "reached", "predictor_spearman_last", "cache_hit_rate", "grad_reuse_cosine",
            "grad_reuse_rel_error", "grad_reuse_pooled_rel_error", "cache_memory_bytes", "claim")
    summary = {"benchmark": "skipping", "seeds": len(seeds), "quick": args.quick,
               "results": [{k: r[k] for k in keys} for r in rows]}
    summary = _json_clean(summary, 4)
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
