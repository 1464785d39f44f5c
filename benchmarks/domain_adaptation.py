"""Does domain-adversarial training (DANN) carry a sentiment classifier from product reviews
to movie reviews (and back) better than training on the source alone?

Both directions, pros_cons -> MR and MR -> pros_cons (the same label meaning: 0 negative /
con, 1 positive / pro), on one vocabulary over both corpora's training splits. Every
variant uses the same encoder (Kim 2014 CNN-rand, embed 128, filters 3/4/5 x 100, dropout
0.5) and the same configuration, the target's tuned recipe
(``workbench.recipes.baseline_recipe(target)``: MR Adam 1e-3, batch 50, 4 epochs;
pros_cons Adam 2e-3, batch 64, 3 epochs; ``restore_best`` on each variant's validation
split):

- ``source_only``: labelled source only, validated on the source;
- ``dann``: the same plus DomainAdversarial (unlabelled target training batches, Ganin's
  lambda_p = 2/(1+exp(-10p)) - 1, a 3-layer discriminator 256 wide, dropout 0.5),
  validated on the source (no target label is read);
- ``target_supervised``: the tuned baseline on the target (upper bound);
- ``joint_shared_ln`` / ``joint_adaptive_ln``: both labelled domains, the features through a
  shared LayerNorm or an AdaptiveLayerNorm (per-domain scale and shift).

Reported: target test accuracy (mean +- std over seeds), source test accuracy, the gap
closed ``(dann - source_only) / (target_supervised - source_only)``, and whether DANN beats
source-only by more than the two spreads.

    python benchmarks/domain_adaptation.py [--quick] [--seeds N] [--threads N] [--device cpu|cuda]
                                           [--workers N] [--out results.json]

``--workers N`` runs the (direction, seed) jobs in N processes side by side (each with
``--threads`` threads): the accuracies are those of a single process (every run is seeded
on its own); the per-run seconds are then measured with N runs sharing the machine and are
not a speed figure.

Full mode: 3 seeds x 2 directions x 5 variants = 30 runs on the full data (pros_cons 36.7k
training sentences, MR 8.5k): hours on a CPU, well under an hour on one GPU. ``--quick``:
1,000 training / 300 validation / 500 test sentences per corpus, seed 0: a few minutes on
one CPU core; its figures are indicative only (one seed, no spread).

The last line of stdout is one JSON object: ``{"benchmark": "domain_adaptation", "seeds": N,
"quick": ..., "results": [{"source", "target", "variant", "target_test_accuracy_mean",
"target_test_accuracy_std", "source_test_accuracy_mean", "gap_closed"}, ...]}``
(``gap_closed`` on the ``dann`` rows, null elsewhere).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import multiprocessing
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
from benchmarks._common import json_clean as _json_clean  # noqa: E402
from workbench.recipes import baseline_recipe, load_splits  # noqa: E402
from workbench.techniques.domain import (  # noqa: E402
    VARIANTS,
    beats_beyond_spread,
    cap_splits,
    domain_splits,
    gap_closed,
    run_variant,
    summarize,
)

DIRECTIONS = (("pros_cons", "mr"), ("mr", "pros_cons"))
QUICK = {"train": 1000, "val": 300, "test": 500}
ENCODER = "kim_cnn"


def table(source: str, target: str, summary: list[dict[str, Any]], seeds: int) -> str:
    head = f"{source} -> {target}\n{'variant':<18} {'target test acc (%)':>20} {'source test acc (%)':>20} {'steps':>6} {'s/run':>7}"
    lines = [head, "-" * 76]
    for r in summary:
        lines.append(f"{r['variant']:<18} "
                     f"{_fmt(r['target_test_accuracy_mean'], r['target_test_accuracy_std'], '{:.2f}', 100, seeds):>20} "
                     f"{_fmt(r['source_test_accuracy_mean'], r['source_test_accuracy_std'], '{:.2f}', 100, seeds):>20} "
                     f"{r['steps']:>6} {r['wall_time_s_mean']:>7.1f}")
    return "\n".join(lines)


def _corpora(quick: bool) -> dict[str, Any]:
    corpora = {n: load_splits(n, seed=0) for n in ("pros_cons", "mr")}
    if quick:
        corpora = {n: cap_splits(s, QUICK["train"], QUICK["val"], QUICK["test"], seed=0) for n, s in corpora.items()}
    return corpora


def _job(source: str, target: str, seed: int, variants: list[str], threads: int, device: str, quick: bool,
         corpora: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Every variant of one (direction, seed); in a worker process when ``threads`` is set."""
    if threads:
        torch.set_num_threads(threads)
    corpora = corpora or _corpora(quick)
    ds = domain_splits(corpora[source], corpora[target], source, target)
    recipe = baseline_recipe(target, device=device)
    config = recipe.config
    if quick:  # validate once per epoch on the subsampled data
        config = dataclasses.replace(config, eval_every_steps=None)
    if seed == 0 or quick:
        print(f"# {source} -> {target}: vocabulary {ds.info['vocab_size']}, overlap {ds.info['overlap']}, "
              f"config {config.optimizer} lr {config.lr} batch {config.batch_size} epochs {config.epochs}",
              flush=True)
    runs = []
    for v in variants:
        r = run_variant(ds, v, seed, config, model=ENCODER, target_model=recipe.model)
        print(f"  {source} -> {target} seed {seed} {v:<18} target {r['target_test_accuracy']:.4f} source "
              f"{r['source_test_accuracy']:.4f} ({r['wall_time_s']:.0f} s)", flush=True)
        runs.append(r)
    return runs


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1,000 training sentences per corpus, seed 0")
    p.add_argument("--seeds", type=int, default=3, help="full mode: seeds 0..N-1 (default 3)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    p.add_argument("--device", default="cpu", help="torch device for every run (cpu, cuda)")
    p.add_argument("--variants", default=",".join(VARIANTS), help="comma-separated subset of the variants")
    p.add_argument("--workers", type=int, default=1,
                   help="run the (direction, seed) jobs in this many processes side by side")
    p.add_argument("--out", type=str, default=None, help="also write every run's figures as JSON here")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    variants = [v for v in args.variants.split(",") if v]
    unknown = sorted(set(variants) - set(VARIANTS))
    if unknown:
        p.error(f"--variants: unknown {unknown}; known {list(VARIANTS)}")
    seeds = [0] if args.quick else list(range(args.seeds))
    t0 = time.perf_counter()
    corpora = _corpora(args.quick) if args.workers <= 1 else None
    jobs = [(source, target, seed) for source, target in DIRECTIONS for seed in seeds]
    if args.workers > 1:
        print(f"# {args.workers} worker processes, {args.threads or 'default'} thread(s) each: per-run "
              "seconds are measured with runs side by side", flush=True)
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(args.workers, mp_context=ctx) as pool:
            futures = {pool.submit(_job, *job, variants, args.threads, args.device, args.quick): job for job in jobs}
            by_job = {}
            for f in concurrent.futures.as_completed(futures):
                by_job[futures[f]] = f.result()
                if args.out:  # finished jobs survive a later crash
                    with open(args.out + ".partial.jsonl", "a") as fh:
                        for r in by_job[futures[f]]:
                            fh.write(json.dumps(_json_clean({k: v for k, v in r.items() if k != "history"})) + "\n")
    else:
        by_job = {job: _job(*job, variants, 0, args.device, args.quick, corpora) for job in jobs}
    results, dump = [], []
    for source, target in DIRECTIONS:
        runs = [r for seed in seeds for r in by_job[(source, target, seed)]]
        dump.extend({"source": source, "target": target, **{k: v2 for k, v2 in r.items() if k != "history"}}
                    for r in runs)
        summary = summarize(runs)
        gap = gap_closed(summary)
        beats = beats_beyond_spread(summary)
        print(table(source, target, summary, len(seeds)))
        print(f"gap closed by DANN: {gap:.2f}; DANN beats source-only beyond the seed spread: "
              f"{'n/a (one seed)' if beats is None else beats}\n", flush=True)
        for r in summary:
            results.append({"source": source, "target": target, "variant": r["variant"],
                            "target_test_accuracy_mean": r["target_test_accuracy_mean"],
                            "target_test_accuracy_std": r["target_test_accuracy_std"],
                            "source_test_accuracy_mean": r["source_test_accuracy_mean"],
                            "gap_closed": gap if r["variant"] == "dann" else None,
                            "dann_beats_source_only_beyond_spread": beats if r["variant"] == "dann" else None})
    print(f"# total {time.perf_counter() - t0:.0f} s")
    if args.out:
        Path(args.out).write_text(json.dumps(_json_clean(dump), indent=1))
    print(json.dumps(_json_clean({"benchmark": "domain_adaptation", "seeds": len(seeds), "quick": args.quick,
                                  "results": results}, digits=4)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
