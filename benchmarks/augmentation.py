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

    python benchmarks/augmentation.py [--quick] [--datasets subj mr] [--sizes 500 2000 5000 full]
                                      [--seeds 0 1 2] [--threads 1]

``--quick``: SUBJ only, sizes 500 and 2,000, seed 0 (about 6 minutes on the shared 2-core
CPU; add ``--datasets subj mr`` for MR too, about 13 minutes; single-seed figures have no
spread). The full mode is about 3 hours of CPU time here (48 runs, EDA epochs up to 17 times
longer); ``--device cuda`` runs the training on a GPU. One torch thread by default (see
``benchmarks/baselines.py``). The last line of stdout is one JSON object:
``{"benchmark": "augmentation", "seeds": N, "results": [{"dataset", "train_size",
"accuracy_without_mean", "accuracy_with_mean", "gain_mean", "gain_std", ...}, ...], ...}``
with accuracies and gains as fractions (0.01 = one point); ``null`` where undefined.
"""

from __future__ import annotations

import argparse
import json
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

from benchmarks._common import json_clean  # noqa: E402
from workbench.techniques.augment import PAPER_GAINS, eda_comparison  # noqa: E402

FULL = {"datasets": ["subj", "mr"], "sizes": ["500", "2000", "5000", "full"], "seeds": [0, 1, 2]}
QUICK = {"datasets": ["subj"], "sizes": ["500", "2000"], "seeds": [0]}


_clean = json_clean


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
    args = ap.parse_args(argv)
    plan = QUICK if args.quick else FULL
    datasets = args.datasets or plan["datasets"]
    sizes = [s if s == "full" else int(s) for s in (args.sizes or plan["sizes"])]
    seeds = args.seeds if args.seeds is not None else plan["seeds"]
    if args.threads:
        torch.set_num_threads(args.threads)
    mode = "quick" if args.quick else "full"
    print(f"EDA benchmark ({mode}): data sets {datasets}, training sizes {sizes}, seeds {seeds}, "
          f"device {args.device}, torch threads {torch.get_num_threads()}; early stopping: val accuracy every pass, patience "
          f"{args.patience}, at most {args.max_passes} passes, best weights restored", flush=True)
    t0 = time.perf_counter()
    comp = eda_comparison(datasets, sizes, seeds, patience=args.patience, max_passes=args.max_passes,
                          config_changes={"device": args.device}, log=lambda s: print(s, flush=True))
    elapsed = time.perf_counter() - t0
    rows = comp.rows()

    print("\nTest accuracy, without and with EDA (mean ± std over seeds; gain paired by seed):")
    print(comp.table().to_string(index=False))
    print("\nReading:")
    for v in comp.verdicts():
        print("  " + v)
    fractions = comp.fraction_matching_full()
    for d, f in fractions.items():
        if any(r["dataset"] == d and r["size_label"] == "full" for r in rows):
            print(f"  {d}: smallest training fraction that with EDA matches the full data without it: "
                  + (f"{f:.0%}" if f is not None else "none of the sizes run") + " (paper: about 50%)")
        else:
            print(f"  {d}: the full training set was not run, so no fraction matching it is measured")
    aps = [a["augmentations_per_s"] for a in comp.augmentation]
    print(f"\nAugmentation: {sum(a['copies'] for a in comp.augmentation):,} copies made, "
          f"{min(aps):,.0f}-{max(aps):,.0f} augmentations/s (precomputed once per run, single process; "
          f"WordNet loading excluded); share of augmented words unknown to the subset's vocabulary: "
          + ", ".join(f"{r['dataset']}/{r['size_label']} {r['new_token_oov_rate']:.0%}" for r in rows))
    print("Paper's average gains (5 data sets, CNN and RNN): "
          + ", ".join(f"{k}: {v * 100:+.1f} pts" for k, v in PAPER_GAINS.items())
          + f". Total benchmark time {elapsed / 60:.1f} min.")
    keys = ["dataset", "train_size", "size_label", "seeds", "accuracy_without_mean", "accuracy_without_std",
            "accuracy_with_mean", "accuracy_with_std", "gain_mean", "gain_std", "paper_gain", "alpha", "n_aug",
            "augmentations_per_s", "copy_oov_rate", "new_token_oov_rate", "passes_without", "passes_with"]
    out = {"benchmark": "augmentation", "mode": mode, "seeds": len(seeds), "threads": torch.get_num_threads(),
           "device": args.device,
           "units": "accuracy as a fraction; gains in the same units (0.01 = 1 point)",
           "results": [{k: r[k] for k in keys} for r in rows],
           "data_fraction_matching_full": fractions,
           "augmentations_per_s_mean": sum(aps) / len(aps),
           "paper_gains": PAPER_GAINS, "elapsed_s": elapsed}
    print(json.dumps(_clean(out), allow_nan=False))
    return out


if __name__ == "__main__":
    main()
