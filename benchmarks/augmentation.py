"""EDA with and without, on SUBJ and MR: the EDA paper's experiment (Wei & Zou 2019, section 4).

Protocol (:func:`workbench.techniques.augment.eda_comparison`, one code path with the
notebook's button):

- data: SUBJ and MR, the project's fixed split (``load_dataset(name, seed=0)``: 80/10/10;
  SUBJ 8,000 / 1,000 / 1,000, MR 8,530 / 1,066 / 1,066; the paper used 9,000 / 1,000 on
  SUBJ); training subsets of 500, 2,000, 5,000 and all sentences, stratified and drawn
  per seed; validation and test whole; the vocabulary rebuilt on each subset;
- model and config: the tuned baseline recipe of each data set (``baseline_recipe``: Kim
  (2014) CNN-rand, Adam 1e-3, batch 50), the same for both arms;
- with EDA: the subset plus ``n_aug`` copies per sentence at the paper's recommended
  setting (500: alpha 0.05, 16 copies; 2,000: 0.05, 8; 5,000 and full: 0.1, 4; all four
  rates equal alpha), made with the run's seed;
- the same early stopping for both: validation accuracy after every pass over as many
  examples as the subset holds, patience 3 evaluations, at most 30 passes, best
  validation weights restored and scored once on the test split;
- seeds 0, 1, 2 (full mode); the gain is paired by seed (same subset for both arms).

Reported: test accuracy without and with EDA (mean ± sample std over seeds), the gain
(mean ± std of the per-seed gains), the paper's average gain over its five data sets
beside it, augmentations per second and the share of augmented words the training
vocabulary does not know; and the smallest fraction of the training data that, with
EDA, matches the full data without it (the paper: about half).

Pretrained embeddings (issue 13, item 7; ``--embeddings rand word2vec``): issue 5 found
EDA's gain largely absent here with 29-60% of EDA's new words unknown to a vocabulary
learnt from each subset; the paper's CNN starts from word2vec for every word. With
``word2vec`` the model is Kim CNN-non-static initialised from skip-gram vectors trained on
the local pretraining corpus (``workbench.techniques.transfer``: ``build_pretraining_corpus``
with every validation / test sentence removed, ``train_word_vectors`` defaults: 128-d,
window 5, 5 epochs; cached, its training seconds charged to every word2vec run as
``pretrain_s``), and each subset's vocabulary is extended with every word that has a vector
before EDA runs (``extend_vocabulary``), so EDA's synonyms have rows; the same protocol
otherwise, both arms with the same vocabulary and initial embedding. Reported per
(data set, size, embeddings): accuracy without / with EDA, the gain, the share of EDA's
new words unknown to the run's vocabulary and to the subset's own; and the EDA gain with
rand next to the gain with word2vec.

    python benchmarks/augmentation.py [--quick] [--datasets subj mr] [--sizes 500 2000 5000 full]
                                      [--seeds 0 1 2] [--threads 1] [--embeddings rand word2vec]

``--quick``: SUBJ only, sizes 500 and 2,000, seed 0 (about 6 minutes on the shared 2-core
CPU; add ``--datasets subj mr`` for MR too, about 13 minutes; single-seed figures have no
spread). The full mode is about 3 hours of CPU time here (48 runs, EDA epochs up to 17 times
longer); ``--device cuda`` runs the training on a GPU. One torch thread by default (see
``benchmarks/baselines.py``). The last line of stdout is one JSON object:
``{"benchmark": "augmentation", "seeds": N, "results": [{"dataset", "train_size",
"embeddings", "accuracy_without_mean", "accuracy_with_mean", "gain_mean", "gain_std",
"new_token_oov_rate", "new_token_oov_rate_subset_vocab", "pretrain_s", ...}, ...],
"gain_by_embeddings": [...], "word2vec": {...} or null, ...}`` with accuracies, gains and
rates as fractions (0.01 = one point); ``null`` where undefined. ``--quick`` with
``word2vec`` trains the vectors on 20,000 corpus sentences for 1 epoch (indicative only).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_SHARED_NLTK = Path(__file__).resolve().parents[2] / "shared" / "nltk_data"
if _SHARED_NLTK.is_dir() and not os.environ.get("NLTK_DATA"):
    os.environ["NLTK_DATA"] = str(_SHARED_NLTK)

from benchmarks._common import json_clean  # noqa: E402
from workbench.techniques.augment import PAPER_GAINS, eda_comparison  # noqa: E402

EMBEDDINGS = ("rand", "word2vec")

FULL = {"datasets": ["subj", "mr"], "sizes": ["500", "2000", "5000", "full"], "seeds": [0, 1, 2]}
QUICK = {"datasets": ["subj"], "sizes": ["500", "2000"], "seeds": [0]}


_clean = json_clean


def word2vec_factory_for(vectors, coverage: list):
    """``(splits, seed) -> factory``: Kim CNN-non-static from ``vectors`` for the run's
    vocabulary; each run's :class:`CoverageReport` is appended to ``coverage``."""
    from workbench.techniques.transfer import kim_cnn_factory

    def factory_for(splits, seed):
        inner = kim_cnn_factory(splits.vocab, vectors, mode="non-static", seed=seed)

        def factory(task):
            model = inner(task)
            coverage.append(inner.coverage)
            return model
        return factory
    return factory_for


def train_vectors(quick: bool):
    """The pretraining corpus and skip-gram vectors of ``benchmarks/transfer.py`` (cached)."""
    from workbench.techniques.transfer import build_pretraining_corpus, train_word_vectors

    corpus = build_pretraining_corpus(max_sentences=20_000 if quick else None, verbose=True)
    vectors = train_word_vectors(corpus, epochs=1 if quick else 5, verbose=True)
    return corpus, vectors


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="SUBJ, sizes 500 and 2000, seed 0")
    ap.add_argument("--datasets", nargs="+", choices=["subj", "mr"])
    ap.add_argument("--sizes", nargs="+", help="training sizes (integers or 'full')")
    ap.add_argument("--seeds", nargs="+", type=int)
    ap.add_argument("--patience", type=int, default=3)
    ap.add_argument("--max-passes", type=int, default=30)
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    ap.add_argument("--device", default="cpu", help="training device (cpu, cuda, cuda:N)")
    ap.add_argument("--embeddings", nargs="+", choices=EMBEDDINGS, default=["rand"],
                    help="rand: Kim CNN-rand, vocabulary of each subset (issue 5); word2vec: Kim CNN-non-static "
                         "from our skip-gram vectors, vocabulary extended with their words (issue 13, item 7)")
    args = ap.parse_args(argv)
    plan = QUICK if args.quick else FULL
    datasets = args.datasets or plan["datasets"]
    sizes = [s if s == "full" else int(s) for s in (args.sizes or plan["sizes"])]
    seeds = args.seeds if args.seeds is not None else plan["seeds"]
    embeddings = list(dict.fromkeys(args.embeddings))
    if args.threads:
        torch.set_num_threads(args.threads)
    mode = "quick" if args.quick else "full"
    print(f"EDA benchmark ({mode}): data sets {datasets}, training sizes {sizes}, seeds {seeds}, "
          f"embeddings {embeddings}, device {args.device}, torch threads {torch.get_num_threads()}; early stopping: "
          f"val accuracy every pass, patience {args.patience}, at most {args.max_passes} passes, best weights "
          "restored", flush=True)
    t0 = time.perf_counter()
    w2v_info = None
    comps, pretrain_s = {}, {}
    for emb in embeddings:
        kwargs: dict[str, Any] = {}
        pretrain_s[emb] = 0.0
        if emb == "word2vec":
            corpus, vectors = train_vectors(args.quick)
            coverage: list = []
            kwargs = {"extra_vocabulary": vectors.words, "model_factory_for": word2vec_factory_for(vectors, coverage)}
            pretrain_s[emb] = float(vectors.train_seconds)
            w2v_info = {"words": len(vectors), "vector_size": vectors.vector_size,
                        "corpus_sentences": len(corpus), "corpus_tokens": corpus.report.tokens,
                        "train_s": float(vectors.train_seconds), "train_cpu_s": float(vectors.train_cpu_seconds),
                        "from_cache": bool(vectors.from_cache), "cache_key": vectors.key,
                        "settings": asdict(vectors.settings)}
            print(f"word2vec: {len(vectors):,} words x {vectors.vector_size} from {corpus.report.tokens:,} tokens; "
                  f"trained in {vectors.train_seconds:.0f} s ({'cached' if vectors.from_cache else 'this run'}), "
                  "charged to every word2vec run as pretrain_s", flush=True)
        print(f"\n=== embeddings: {emb} ===", flush=True)
        comps[emb] = eda_comparison(datasets, sizes, seeds, patience=args.patience, max_passes=args.max_passes,
                                    config_changes={"device": args.device}, log=lambda s: print(s, flush=True),
                                    **kwargs)
        if emb == "word2vec" and coverage:
            w2v_info["vocab_type_coverage_mean"] = sum(c.type_coverage for c in coverage) / len(coverage)
            w2v_info["train_token_coverage_mean"] = sum(c.token_coverage for c in coverage) / len(coverage)
            print(f"word2vec coverage over {len(coverage)} runs: {w2v_info['vocab_type_coverage_mean']:.1%} of "
                  f"vocabulary words, {w2v_info['train_token_coverage_mean']:.1%} of training tokens have a vector")
    elapsed = time.perf_counter() - t0
    rows = []
    for emb, comp in comps.items():
        for r in comp.rows():
            rows.append(r | {"embeddings": emb, "pretrain_s": pretrain_s[emb]})

    for emb, comp in comps.items():
        print(f"\nTest accuracy, without and with EDA, embeddings {emb} (vocabulary {comp.vocabulary}; "
              "mean ± std over seeds; gain paired by seed):")
        print(comp.table().to_string(index=False))
        print("Reading:")
        for v in comp.verdicts():
            print("  " + v)
        fractions = comp.fraction_matching_full()
        for d, f in fractions.items():
            if any(r["dataset"] == d and r["size_label"] == "full" for r in comp.rows()):
                print(f"  {d}: smallest training fraction that with EDA matches the full data without it: "
                      + (f"{f:.0%}" if f is not None else "none of the sizes run") + " (paper: about 50%)")
    gains = []
    for r in rows:
        gains.append({k: r[k] for k in ("dataset", "train_size", "embeddings", "gain_mean", "gain_std",
                                        "accuracy_without_mean", "accuracy_with_mean", "new_token_oov_rate",
                                        "new_token_oov_rate_subset_vocab", "paper_gain")})
    print("\nEDA gain by embeddings (points, mean ± std of the per-seed gains) and the share of EDA's new words "
          "unknown to the run's vocabulary (to the subset's own vocabulary in brackets):")
    print(f"{'data set':<9}{'size':>7}  {'embeddings':<10}{'without (%)':>14}{'with (%)':>14}{'gain':>14}"
          f"{'paper':>7}{'new words unknown':>20}")
    for g in sorted(gains, key=lambda g: (g["dataset"], g["train_size"], EMBEDDINGS.index(g["embeddings"]))):
        r = next(x for x in rows if x["dataset"] == g["dataset"] and x["train_size"] == g["train_size"]
                 and x["embeddings"] == g["embeddings"])

        def pm(m, s, signed=False):
            if m != m:
                return "-"
            txt = f"{m * 100:+.1f}" if signed else f"{m * 100:.1f}"
            return txt + (f" ± {s * 100:.1f}" if s == s else "")
        print(f"{g['dataset']:<9}{g['train_size']:>7,}  {g['embeddings']:<10}"
              f"{pm(r['accuracy_without_mean'], r['accuracy_without_std']):>14}"
              f"{pm(r['accuracy_with_mean'], r['accuracy_with_std']):>14}{pm(g['gain_mean'], g['gain_std'], True):>14}"
              f"{pm(g['paper_gain'], math.nan, True):>7}"
              f"{g['new_token_oov_rate']:>12.0%} ({g['new_token_oov_rate_subset_vocab']:.0%})")
    if {"rand", "word2vec"} <= set(comps):
        print("\nReading (word2vec against rand, same subsets and seeds):")
        for w in (r for r in rows if r["embeddings"] == "word2vec"):
            rr = next((x for x in rows if x["embeddings"] == "rand" and x["dataset"] == w["dataset"]
                       and x["train_size"] == w["train_size"]), None)
            if rr is None:
                continue
            s = w["gain_std"]
            judged = ("one seed, no spread" if s != s else
                      "within the seed-to-seed spread" if abs(w["gain_mean"]) <= s else
                      ("a gain" if w["gain_mean"] > 0 else "a loss") + " beyond the seed-to-seed spread")
            print(f"  {w['dataset']} at {w['train_size']:,}: EDA {rr['gain_mean'] * 100:+.1f} points with rand "
                  f"({rr['new_token_oov_rate']:.0%} of new words unknown), {w['gain_mean'] * 100:+.1f} with word2vec "
                  f"({w['new_token_oov_rate']:.0%} unknown; {judged}); "
                  + (f"paper {w['paper_gain'] * 100:+.1f}; " if w["paper_gain"] == w["paper_gain"] else "")
                  + f"word2vec itself {(w['accuracy_without_mean'] - rr['accuracy_without_mean']) * 100:+.1f} points "
                  "without EDA")
    first = comps.get("rand") or next(iter(comps.values()))
    fractions = first.fraction_matching_full()
    aps = [a["augmentations_per_s"] for c in comps.values() for a in c.augmentation]
    print(f"\nAugmentation: {sum(a['copies'] for c in comps.values() for a in c.augmentation):,} copies made, "
          f"{min(aps):,.0f}-{max(aps):,.0f} augmentations/s (precomputed once per run, single process; "
          "WordNet loading excluded).")
    print("Paper's average gains (5 data sets, CNN and RNN): "
          + ", ".join(f"{k}: {v * 100:+.1f} pts" for k, v in PAPER_GAINS.items())
          + f". Total benchmark time {elapsed / 60:.1f} min"
          + (f" (word2vec training, {pretrain_s['word2vec']:.0f} s, "
             + ("cached: not in this total" if w2v_info and w2v_info["from_cache"] else "included")
             + ")" if "word2vec" in comps else "") + ".")
    keys = ["dataset", "train_size", "size_label", "embeddings", "seeds", "accuracy_without_mean",
            "accuracy_without_std", "accuracy_with_mean", "accuracy_with_std", "gain_mean", "gain_std", "paper_gain",
            "alpha", "n_aug", "augmentations_per_s", "copy_oov_rate", "new_token_oov_rate",
            "new_token_oov_rate_subset_vocab", "vocab_size", "passes_without", "passes_with", "train_s_without",
            "train_s_with", "pretrain_s"]
    out = {"benchmark": "augmentation", "mode": mode, "seeds": len(seeds), "threads": torch.get_num_threads(),
           "device": args.device, "embeddings": embeddings,
           "units": "accuracy as a fraction; gains in the same units (0.01 = 1 point); seconds",
           "results": [{k: r[k] for k in keys} for r in rows],
           "gain_by_embeddings": gains,
           "data_fraction_matching_full": fractions,
           "augmentations_per_s_mean": sum(aps) / len(aps),
           "word2vec": w2v_info,
           "paper_gains": PAPER_GAINS, "elapsed_s": elapsed}
    print(json.dumps(_clean(out), allow_nan=False))
    return out


if __name__ == "__main__":
    main()
