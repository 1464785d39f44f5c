"""What does pretraining on the local corpora buy, with its cost on the clock?

Issue 13's protocol. Pretraining (each cached on disk by corpus + settings; the seconds it
took are kept with the cache and charged to its variants):

- the pretraining corpus (``build_pretraining_corpus``: brown, movie_reviews and the training
  splits' text of SUBJ / MR / pros_cons, every sentence of their validation and test splits
  removed);
- a transformer language model (``pretrain_lm``), its held-out perplexity printed next to an
  interpolated Kneser-Ney trigram fitted on the same pretraining sentences (a capped sample:
  the cap is printed) and scored on the same held-out tokens;
- skip-gram word2vec vectors (``train_word_vectors``);
- a Kim CNN-rand trained on pros_cons (its tuned recipe), for MR only.

Variants, per data set (MR, SUBJ) and label budget (100, 500, 2,000 training sentences,
seeded subsets, and the full training split; validation and test splits whole):

- ``kim-cnn-rand``: the tuned baseline (``baseline_recipe``), Kim (2014) CNN-rand;
- ``kim-non-static-w2v``: Kim CNN-non-static with our word2vec (same recipe);
- ``transformer-ulmfit``: the LM-pretrained transformer fine-tuned ULMFiT-style
  (discriminative rates 2.6, slanted triangular, gradual unfreezing;
  ``workbench.techniques.transfer.pipeline``);
- ``transformer-scratch``: the same network and fine-tuning budget from random weights;
- ``kim-pros-cons`` (MR only): the pros_cons Kim CNN's convolutions and embedding (moved to
  MR's vocabulary, ``remap_embedding``) with a fresh head, fine-tuned with MR's recipe.

Targets: each data set's recipe target (validation accuracy), fixed before the runs.
Ratios are against ``kim-cnn-rand`` at the same label budget (time and examples to the
target; NaN when a seed of either did not reach it): ``finetune_time_ratio`` counts the
fine-tuning run only, ``total_time_ratio`` adds the variant's pretraining seconds (LM,
word2vec, or the pros_cons run; the corpus build is shared and not charged). The smallest
label budget whose mean test accuracy reaches the baseline's full-data mean is printed per
variant. The seed's claim "5x (fewer epochs on target)" is printed beside the measured ratio.

Also measured: generation of 200 tokens with and without the key/value cache (best of 3).

    python benchmarks/transfer.py [--quick] [--seeds N] [--threads N] [--out results.json [--resume | --report-only]]
                                  [--datasets mr subj] [--budgets 100 500 2000 full]
    python benchmarks/transfer.py --kv-cache      # only the KV-cache timing (seconds)

Jobs run budget-major (both data sets' 100 labels, then 500, ...); with ``--out`` each
finished (data set, budget) job is appended to ``OUT.partial.jsonl``, and ``--resume`` reuses
the complete jobs found there, so a long run cut short is finished later without redoing them
(each job holds its own baseline runs: its ratios never mix runs of two invocations);
``--report-only`` summarises the complete jobs without training (the pretraining figures
come from the file's ``_pretraining`` line).

Full mode: 3 seeds, both data sets, every budget (hours: the LM's 3,000 steps take ~1.5 h
with 2 threads, the fine-tuning runs about as long). ``--quick``:
MR only, budgets 100 and 500, seed 0, a capped corpus (20,000 sentences), a small LM
(d_model 64, 150 steps of 16 x 32 tokens, 8,000 words), word2vec for 1 epoch, the
pros_cons model on 2,000 sentences for 1 epoch, validation and test capped at 300, 40 to
8 epochs of transformer fine-tuning; Kneser-Ney on 10,000 sentences; figures indicative only.

The last line of stdout is one JSON object: ``{"benchmark": "transfer", "seeds": N,
"quick": ..., "results": [{"dataset", "variant", "labels", "test_accuracy_mean",
"test_accuracy_std", "finetune_time_ratio", "total_time_ratio", "examples_to_target_ratio"},
...], "smallest_budget_reaching_full_baseline": {...}, "language_model": {...},
"kv_cache": {...}, "claim": "5x"}``.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from benchmarks._common import fmt_mean_std, is_missing, json_clean  # noqa: E402
from workbench.data.datasets import load_dataset  # noqa: E402
from workbench.data.splits import cap_splits  # noqa: E402
from workbench.experiment import Experiment, ExperimentResult, RunRecord, Variant  # noqa: E402
from workbench.models import KimCNN  # noqa: E402
from workbench.recipes import baseline_recipe  # noqa: E402
from workbench.techniques.transfer import (  # noqa: E402
    build_pretraining_corpus,
    kim_cnn_factory,
    train_word_vectors,
)
from workbench.techniques.transfer.lm import (  # noqa: E402
    LMConfig,
    heldout_split,
    kneser_ney_baseline,
    pretrain_lm,
)
from workbench.techniques.transfer.pipeline import (  # noqa: E402
    lm_splits,
    scratch_transformer_variant,
    ulmfit_variant,
)
from workbench.techniques.transfer.vectors import remap_embedding  # noqa: E402

CLAIM = "5x (fewer epochs on target; SPEC seed)"
BASELINE = "kim-cnn-rand"
#: the partial file's line holding the pretraining figures (not a job)
CONTEXT_JOB = "_pretraining"


def kv_cache_ratio(model, prompt_len: int = 8, new_tokens: int = 200, repeats: int = 3) -> dict[str, float]:
    """Best-of-``repeats`` seconds of greedy generation with and without the KV cache."""
    model.eval()
    prompt = torch.randint(3, model.vocab_size, (1, prompt_len), generator=torch.Generator().manual_seed(0))
    times = {}
    for cached in (True, False):
        best = math.inf
        for _ in range(repeats):
            t0 = time.perf_counter()
            model.generate(prompt, new_tokens, use_cache=cached)
            best = min(best, time.perf_counter() - t0)
        times[cached] = best
    same = torch.equal(model.generate(prompt, new_tokens), model.generate(prompt, new_tokens, use_cache=False))
    return {"tokens": new_tokens, "cached_s": times[True], "uncached_s": times[False],
            "speedup": times[False] / times[True], "identical_tokens": same}


def pros_cons_model(quick: bool, seed: int = 0):
    """Train Kim CNN-rand on pros_cons (its recipe); returns (model, vocab, seconds)."""
    from workbench.train import Trainer

    recipe = baseline_recipe("pros_cons")
    splits = load_dataset("pros_cons")
    cfg = recipe.config.replace(progress_bar=False, seed=seed)
    if quick:
        splits = cap_splits(splits, 2000, 300, 300)
        cfg = cfg.replace(epochs=1, eval_every_steps=None)
    torch.manual_seed(seed)
    model = KimCNN(splits.task.vocab_size, splits.task.num_classes, pad_id=splits.task.pad_id)
    t0 = time.perf_counter()
    Trainer(model, cfg, splits.train, splits.val, task=splits.task).fit()
    return model, splits.vocab, time.perf_counter() - t0


def pros_cons_factory(source: KimCNN, source_vocab, target_vocab, seed: int):
    def factory(task):
        weight, _ = remap_embedding(source.embedding.weight.detach(), source_vocab, target_vocab,
                                    init_range=0.25, seed=seed, pad_id=task.pad_id)
        model = KimCNN(task.vocab_size, task.num_classes, pad_id=task.pad_id, pretrained_embeddings=weight)
        state = {k: v for k, v in source.state_dict().items() if k.startswith("convs.")}
        model.load_state_dict(state, strict=False)
        return model
    return factory


def _variant_names(dataset: str) -> list[str]:
    """The variants run on ``dataset``, in the order of the tables."""
    kim = [BASELINE, "kim-non-static-w2v"] + (["kim-pros-cons"] if dataset == "mr" else [])
    return kim + ["transformer-ulmfit", "transformer-scratch"]


def _parse_budgets(ap: argparse.ArgumentParser, values: list[str]) -> list[int | None]:
    out: list[int | None] = []
    for v in values:
        if v == "full":
            out.append(None)
        elif v.isdigit() and int(v) > 0:
            out.append(int(v))
        else:
            ap.error(f"--budgets: {v!r} is neither a positive integer nor 'full'")
    return out


def _record_line(job: str, record: RunRecord) -> str:
    """One finished run as a JSON line (NaN kept as ``NaN``: Python reads it back)."""
    return json.dumps({"job": job, **dataclasses.asdict(record)})


def _context_line(context: dict) -> str:
    """The pretraining figures of a run (costs charged to each variant, LM and KV-cache
    figures) as a partial-file line, so that ``--report-only`` can summarise without them."""
    return json.dumps({"job": CONTEXT_JOB, **context})


def _load_partial(path: Path) -> tuple[dict[str, list[RunRecord]], dict | None]:
    """Runs in ``path`` by job (``"mr@500"``) and the last pretraining context line (None
    without one); a truncated line (a killed run) is skipped."""
    by_job: dict[str, list[RunRecord]] = {}
    context = None
    for line in path.read_text().splitlines():
        try:
            d = json.loads(line)
        except json.JSONDecodeError:
            continue
        job = d.pop("job")
        if job == CONTEXT_JOB:
            context = d
        else:
            by_job.setdefault(job, []).append(RunRecord(**d))
    return by_job, context


def _complete(done: dict[str, list[RunRecord]], key: str, dataset: str, seeds: list[int]) -> list[RunRecord] | None:
    """The runs of job ``key`` when every (variant, seed) of it is there, else None."""
    expected = {(v, sd) for v in _variant_names(dataset) for sd in seeds}
    if key not in done or not {(r.variant, r.seed) for r in done[key]} >= expected:
        return None
    return [r for r in done[key] if (r.variant, r.seed) in expected]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="",
                    help="write the JSON summary here; finished (data set, budget) jobs are appended to "
                         "OUT.partial.jsonl as they end")
    ap.add_argument("--resume", action="store_true",
                    help="with --out: reuse the runs of the jobs already complete in OUT.partial.jsonl "
                         "(same seeds and variants) instead of re-running them")
    ap.add_argument("--report-only", action="store_true",
                    help="with --out: no training; summarise the complete jobs of OUT.partial.jsonl (a run cut "
                         "short) with the pretraining figures it recorded")
    ap.add_argument("--datasets", nargs="+", choices=["mr", "subj"], default=None,
                    help="default: mr and subj (quick: mr)")
    ap.add_argument("--budgets", nargs="+", default=None,
                    help="label budgets: integers and/or 'full' (default: 100 500 2000 full; quick: 100 500)")
    ap.add_argument("--kv-cache", action="store_true",
                    help="only time 200 generated tokens with and without the KV cache (LMConfig() sizes, "
                         "30,000 words, random weights: the speed does not depend on them)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.kv_cache:
        from workbench.models.transformer import TransformerLM

        torch.manual_seed(0)
        kv = kv_cache_ratio(TransformerLM(30_000, **LMConfig().model_kwargs()))
        print(f"KV cache: 200 tokens in {kv['cached_s']:.3f} s cached vs {kv['uncached_s']:.3f} s uncached "
              f"({kv['speedup']:.2f}x; identical tokens: {kv['identical_tokens']})")
        print(json.dumps(json_clean({"benchmark": "transfer_kv_cache", "kv_cache": kv}, digits=4)))
        return
    quick = args.quick
    seeds = list(range(args.seeds if args.seeds else (1 if quick else 3)))
    datasets = args.datasets or (["mr"] if quick else ["mr", "subj"])
    budgets = _parse_budgets(ap, args.budgets) if args.budgets else ([100, 500] if quick else [100, 500, 2000, None])
    if (args.resume or args.report_only) and not args.out:
        ap.error("--resume and --report-only need --out (the partial file is OUT.partial.jsonl)")
    partial = Path(args.out + ".partial.jsonl") if args.out else None
    done, context = _load_partial(partial) if (args.resume or args.report_only) and partial.is_file() else ({}, None)
    if args.report_only:
        if context is None:
            ap.error(f"--report-only: {partial} has no pretraining line (a run of an older version of this "
                     "script, or no run yet)")
        records, targets = [], {}
        for budget, name in itertools.product(budgets, datasets):
            key = f"{name}@{budget or 'full'}"
            runs = _complete(done, key, name, seeds)
            if runs is None:
                print(f"{key}: not complete in {partial}: left out")
                continue
            records += runs
            targets[key] = baseline_recipe(name).target
        if not records:
            ap.error(f"--report-only: no complete job in {partial}")
        _report(records, targets, context, seeds, datasets, budgets, quick, args.out)
        return

    # ---------------------------------------------------------------- pretraining
    corpus = build_pretraining_corpus(max_sentences=20_000 if quick else None, verbose=True)
    lm_cfg = LMConfig(d_model=64, n_heads=2, seq_len=32, batch_size=16, steps=150, eval_every=50, max_heldout=300,
                      max_vocab=8000, warmup_steps=20) if quick else LMConfig()
    print(f"\nLM pretraining: {lm_cfg}")
    lm = pretrain_lm(corpus, lm_cfg, progress=False,
                     on_eval=lambda r: print(f"  step {r['step']:>5}: held-out perplexity {r['val_perplexity']:.1f} "
                                             f"({r['seconds']:.0f} s)"))
    train_s, held = heldout_split(corpus, lm_cfg)
    kn_cap = 10_000 if quick else 100_000
    kn = kneser_ney_baseline(train_s, held, lm.vocab, max_train_sentences=kn_cap)
    print(f"LM {'(cached) ' if lm.from_cache else ''}pretraining: {lm.pretrain_seconds:.0f} s; held-out perplexity "
          f"{lm.heldout['perplexity']:.1f} on {lm.heldout['sentences']} sentences ({lm.heldout['tokens']} tokens); "
          f"Kneser-Ney trigram (d=0.75) fitted on {kn['train_sentences']:,} of {kn['train_sentences_available']:,} "
          f"pretraining sentences: {kn['perplexity']:.1f}")
    kv = kv_cache_ratio(lm.model)
    print(f"KV cache: 200 tokens in {kv['cached_s']:.3f} s cached vs {kv['uncached_s']:.3f} s uncached "
          f"({kv['speedup']:.2f}x; identical tokens: {kv['identical_tokens']})")
    w2v = train_word_vectors(corpus, epochs=1 if quick else 5, verbose=True)
    pc_model = pc_vocab = None
    pc_seconds = 0.0
    if "mr" in datasets:
        pc_model, pc_vocab, pc_seconds = pros_cons_model(quick)
        print(f"pros_cons Kim CNN: {pc_seconds:.0f} s")
    context = {"pretrain_cost": {"kim-non-static-w2v": float(w2v.train_seconds),
                                 "transformer-ulmfit": lm.pretrain_seconds, "kim-pros-cons": pc_seconds},
               "language_model": {"heldout_perplexity": lm.heldout["perplexity"],
                                  "kneser_ney_perplexity": kn["perplexity"],
                                  "kneser_ney_train_sentences": kn["train_sentences"],
                                  "pretrain_seconds": lm.pretrain_seconds, "steps": lm.config.steps,
                                  "corpus_sentences": len(corpus)},
               "kv_cache": kv, "word2vec_seconds": float(w2v.train_seconds), "pros_cons_seconds": pc_seconds}
    if partial is not None:
        with open(partial, "a") as fh:
            fh.write(_context_line(json_clean(context)) + "\n")

    # ---------------------------------------------------------------- fine-tuning
    records, targets = [], {}
    fulls = {}
    # Budget-major order (every data set's 100 labels, then 500, ...): a run cut short keeps
    # whole budgets of both data sets; each job holds its own baseline runs, so its ratios
    # never mix runs of different jobs.
    for budget, name in itertools.product(budgets, datasets):
        if name not in fulls:
            fulls[name] = load_dataset(name)
            if quick:
                fulls[name] = cap_splits(fulls[name], None, 300, 300)
        full = fulls[name]
        recipe = baseline_recipe(name)
        key = f"{name}@{budget or 'full'}"
        targets[key] = recipe.target
        kept = _complete(done, key, name, seeds)
        if kept is not None:
            records += kept
            print(f"\n{key}: {len(kept)} runs reused from {partial}")
            continue
        splits = full if budget is None else cap_splits(full, budget, None, None, seed=0)
        splits.name = key
        print(f"\n{key}: {len(splits.train)} training sentences; target {recipe.target.describe()}")
        kim_vars = [Variant(BASELINE),
                    Variant("kim-non-static-w2v", model_factory=kim_cnn_factory(splits.vocab, w2v, "non-static"))]
        if name == "mr":
            kim_vars.append(Variant("kim-pros-cons",
                                    model_factory=pros_cons_factory(pc_model, pc_vocab, splits.vocab, 0)))
        base_cfg = recipe.config.replace(progress_bar=False)
        exp_a = Experiment({key: splits}, lambda task: KimCNN(task.vocab_size, task.num_classes,
                                                              pad_id=task.pad_id),
                           base_cfg, kim_vars, seeds=seeds, target=recipe.target, progress=False)
        lm_data = lm_splits(splits, lm.vocab, lm.config.max_len)
        lm_data.name = key
        extra = {"max_epochs": 8, "min_steps": 40} if quick else {}
        tr_vars = [ulmfit_variant(lm, name="transformer-ulmfit", config=extra),
                   scratch_transformer_variant(lm, name="transformer-scratch", config=extra)]
        exp_b = Experiment({key: lm_data}, lambda task: None, base_cfg, tr_vars, seeds=seeds,
                           target=recipe.target, progress=False)
        ra, rb = exp_a.run(), exp_b.run()
        records += ra.records + rb.records
        if partial is not None:
            with open(partial, "a") as fh:
                for r in ra.records + rb.records:
                    fh.write(_record_line(key, r) + "\n")
        cov = lm_data.info["lm_vocabulary"]["token_coverage"]
        print(f"  LM vocabulary covers {cov:.1%} of the training tokens")
        for r in ra.records + rb.records:
            print(f"  {r.variant:<22} seed {r.seed}: test {r.test_metrics.get('test_accuracy', math.nan):.3f}, "
                  f"{r.wall_time:.0f} s, time to target {r.time_to_target_s:.1f} s")

    _report(records, targets, context, seeds, datasets, budgets, quick, args.out)


def _against_full_baseline(rows: list[dict], summary, pretrain_cost: dict) -> None:
    """Add ratios against the baseline on the full training split to every row whose runs
    all reached the target (NaN otherwise, or without a full-data baseline that reached it
    on every seed): at a small budget the baseline itself never reaches the target, and
    the question is what the labels a user would otherwise need cost. ``labels`` is the
    budget over the full split's size (examples seen by the full-data baseline's runs per
    epoch: the split size)."""
    for r in rows:
        for k in ("labels", "finetune_time", "total_time", "examples_to_target"):
            r[f"{k}_ratio_vs_full_baseline"] = math.nan
    for r in rows:
        s = summary[(summary["dataset"] == f"{r['dataset']}@{r['labels']}") & (summary["variant"] == r["variant"])]
        base = summary[(summary["dataset"] == f"{r['dataset']}@full") & (summary["variant"] == BASELINE)]
        if s.empty or base.empty:
            continue
        s, base = s.iloc[0], base.iloc[0]
        if int(s["reached"]) != int(s["seeds"]) or int(base["reached"]) != int(base["seeds"]) \
                or is_missing(s["time_to_target_s_mean"]) or is_missing(base["time_to_target_s_mean"]):
            continue
        full_size = _full_train_size(r["dataset"])
        t_base = float(base["time_to_target_s_mean"])
        r["labels_ratio_vs_full_baseline"] = 1.0 if r["labels"] == "full" else r["labels"] / full_size
        r["finetune_time_ratio_vs_full_baseline"] = float(s["time_to_target_s_mean"]) / t_base
        r["total_time_ratio_vs_full_baseline"] = (r["pretrain_seconds"] + float(s["time_to_target_s_mean"])) / t_base
        r["examples_to_target_ratio_vs_full_baseline"] = (float(s["examples_to_target_mean"])
                                                          / float(base["examples_to_target_mean"]))


def _full_train_size(dataset: str) -> int:
    return len(load_dataset(dataset).train)


def _report(records: list[RunRecord], targets: dict, context: dict, seeds: list[int], datasets: list[str],
            budgets: list[int | None], quick: bool, out_path: str) -> None:
    """Print the table, the smallest budgets and the JSON line; write ``out_path`` if given."""
    pretrain_cost = context["pretrain_cost"]
    result = ExperimentResult(records, targets, BASELINE)
    summary = result.summary
    rows = []
    for _, s in summary.iterrows():
        name, budget = s["dataset"].split("@")
        base = summary[(summary["dataset"] == s["dataset"]) & (summary["variant"] == BASELINE)].iloc[0]
        pre = pretrain_cost.get(s["variant"], 0.0)
        total = math.nan
        if not is_missing(s["time_to_target_s_mean"]) and not is_missing(base["time_to_target_s_mean"]) \
                and int(s["reached"]) == int(s["seeds"]) and int(base["reached"]) == int(base["seeds"]):
            total = (pre + float(s["time_to_target_s_mean"])) / float(base["time_to_target_s_mean"])
        rows.append({"dataset": name, "variant": s["variant"], "labels": budget if budget == "full" else int(budget),
                     "test_accuracy_mean": float(s["test_accuracy_mean"]),
                     "test_accuracy_std": float(s["test_accuracy_std"]),
                     "finetune_time_ratio": float(s["time_to_target_ratio"]), "total_time_ratio": total,
                     "examples_to_target_ratio": float(s["examples_to_target_ratio"]),
                     "pretrain_seconds": pre, "reached": f"{int(s['reached'])}/{int(s['seeds'])}"})
    _against_full_baseline(rows, summary, pretrain_cost)

    print(f"\nTest accuracy (%), ratios against {BASELINE} at the same budget (< 1: cheaper); "
          f"claim: {CLAIM}. Seconds are this machine's: run nothing else beside it.")
    print(f"{'data@labels':<12} {'variant':<22} {'test acc':>14} {'ft time':>8} {'total':>8} {'examples':>9} "
          f"{'reached':>8}")
    for r in rows:
        def f(x):
            return "  n/a" if is_missing(x) else f"{x:.2f}"
        print(f"{r['dataset'] + '@' + str(r['labels']):<12} {r['variant']:<22} "
              f"{fmt_mean_std(r['test_accuracy_mean'], r['test_accuracy_std'], scale=100, seeds=len(seeds)):>14} "
              f"{f(r['finetune_time_ratio']):>8} {f(r['total_time_ratio']):>8} "
              f"{f(r['examples_to_target_ratio']):>9} {r['reached']:>8}")

    vs_full = [r for r in rows if not is_missing(r["total_time_ratio_vs_full_baseline"])]
    if vs_full:
        print(f"\nAgainst {BASELINE} trained on all its labels (the budget a user would otherwise label), for the "
              "runs that reached the target on every seed:")
        print(f"{'data@labels':<12} {'variant':<22} {'labels':>7} {'ft time':>8} {'total':>8} {'examples':>9}")
        for r in vs_full:
            print(f"{r['dataset'] + '@' + str(r['labels']):<12} {r['variant']:<22} "
                  f"{r['labels_ratio_vs_full_baseline']:>7.2f} {r['finetune_time_ratio_vs_full_baseline']:>8.2f} "
                  f"{r['total_time_ratio_vs_full_baseline']:>8.2f} {r['examples_to_target_ratio_vs_full_baseline']:>9.2f}")

    smallest = {}
    for name in datasets:
        ref = [r for r in rows if r["dataset"] == name and r["variant"] == BASELINE and r["labels"] == "full"]
        ref_acc = ref[0]["test_accuracy_mean"] if ref else None
        for v in sorted({r["variant"] for r in rows if r["dataset"] == name}):
            ok = [r["labels"] for r in rows if r["dataset"] == name and r["variant"] == v and ref_acc is not None
                  and r["test_accuracy_mean"] >= ref_acc]
            nums = [b for b in ok if b != "full"]
            smallest[f"{name}/{v}"] = min(nums) if nums else ("full" if ok else None)
    if any(b is None for b in budgets):
        print("\nSmallest label budget reaching the baseline's full-data test accuracy:")
        for k, v in smallest.items():
            print(f"  {k}: {v if v is not None else 'none'}")
    else:
        print("\n(no full-data runs in this mode: the smallest budget reaching the baseline's full-data accuracy "
              "is not measured)")

    out = {"benchmark": "transfer", "seeds": len(seeds), "quick": quick, "claim": "5x", "results": rows,
           "smallest_budget_reaching_full_baseline": smallest,
           **{k: v for k, v in context.items() if k != "pretrain_cost"}}
    if out_path:
        Path(out_path).write_text(json.dumps(json_clean(out), indent=2))
    print(json.dumps(json_clean(out, digits=4)))


if __name__ == "__main__":
    main()
