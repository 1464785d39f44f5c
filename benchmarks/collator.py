"""The vision collator claim, measured thoroughly: how much of a training epoch does
normalising images once per batch save, against normalising each image in the item path?

The seed documents claim "vision collator: 2-5%". Three arms train the digits recipe's
model (``baseline_recipe("digits")``: DigitsCNN, Adam 3e-3, batch 64, fused Adam) through
the Trainer, from the same initial weights and over the same batches, with no evaluation:

- ``per_image`` (the control): each image converted and normalised on its own, then stacked
  (torchvision's ``Normalize`` in a data set's ``__getitem__``; ``claims._PerImageVisionCollator``);
- ``collator``: workbench's :class:`~workbench.data.collate.VisionCollator` (one stack, one
  conversion and one normalisation per batch), items fetched one at a time (the data set
  seen through a wrapper without ``__getitems__``);
- ``collator_batched_fetch``: the default path: the ``VisionCollator`` over the batched fetch
  (``ExampleDataset.__getitems__`` -> ``ItemBatch``: the images indexed once per batch).

Each seed runs ``--rounds`` rounds; in a round every arm trains ``--epochs`` epochs, in an
order that rotates from round to round. Seconds per epoch are the Trainer's training
seconds (``State.wall_time``) / epochs. ``ratio_to_per_image`` is the median over all
rounds of the round's ratio (cancels most of a shared machine's drift); ``saving_pct`` =
100 x (1 - ratio).

    python benchmarks/collator.py [--quick] [--seeds N] [--rounds R] [--epochs E] [--threads T]

Full: 3 seeds x 5 rounds x 5 epochs per arm (about 3 minutes on one thread). ``--quick``:
1 seed, 2 rounds, 1 epoch. Last stdout line: ``{"benchmark": "collator", "seeds": N,
"claim": "2-5%", "results": [{"arm", "s_per_epoch_median", "ratio_to_per_image",
"ratio_q1", "ratio_q3", "saving_pct"}, ...]}``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import json_clean  # noqa: E402
from workbench.claims import _PerImageVisionCollator  # noqa: E402
from workbench.recipes import baseline_recipe, load_splits, model_factory  # noqa: E402
from workbench.train.trainer import Trainer, seed_everything  # noqa: E402

ARMS = ("per_image", "collator", "collator_batched_fetch")
CLAIM = "2-5%"


class PerItemFetch(Dataset):
    """``data`` without ``__getitems__``: a ``DataLoader`` fetches its items one by one."""

    def __init__(self, data: Dataset) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> Any:
        return self.data[i]


def fit_seconds_per_epoch(arm: str, splits: Any, recipe: Any, init: dict, seed: int, epochs: int) -> float:
    """Train ``epochs`` epochs with ``arm``'s data path; training seconds per epoch."""
    config = recipe.config.replace(seed=seed, epochs=epochs, eval_every_epochs=None, eval_every_steps=None,
                                   restore_best=False, progress_bar=False, metrics_dir=None)
    seed_everything(seed)
    model = model_factory(recipe.model)(splits.task)
    model.load_state_dict(init)
    data = splits.train if arm == "collator_batched_fetch" else PerItemFetch(splits.train)
    collate = _PerImageVisionCollator(splits.task) if arm == "per_image" else splits.task.collator()
    state = Trainer(model, config, data, None, task=splits.task, collate_fn=collate).fit()
    return float(state.wall_time) / epochs


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    if len(xs) < 4:
        return min(xs), statistics.median(xs), max(xs)
    q = statistics.quantiles(xs, n=4)
    return q[0], statistics.median(xs), q[2]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="1 seed, 2 rounds, 1 epoch per arm")
    p.add_argument("--seeds", type=int, default=None, help="seeds 0..N-1 (default 3; --quick 1)")
    p.add_argument("--rounds", type=int, default=None, help="rounds per seed (default 5; --quick 2)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per arm and round (default 5; --quick 1)")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    args = p.parse_args(argv)
    for name in ("seeds", "rounds", "epochs"):
        v = getattr(args, name)
        if v is not None and v < 1:
            p.error(f"--{name} must be >= 1; got {v}")
    seeds = list(range(args.seeds or (1 if args.quick else 3)))
    rounds = args.rounds or (2 if args.quick else 5)
    epochs = args.epochs or (1 if args.quick else 5)
    torch.set_num_threads(args.threads)
    splits = load_splits("digits", seed=0)
    recipe = baseline_recipe("digits")
    print(f"collator benchmark: digits ({len(splits.train)} training images), {recipe.model}, batch "
          f"{recipe.config.batch_size}, seeds {seeds}, {rounds} rounds x {epochs} epochs per arm, "
          f"{torch.get_num_threads()} thread(s), torch {torch.__version__}", flush=True)
    t0 = time.perf_counter()
    per: dict[str, list[float]] = {a: [] for a in ARMS}
    ratios: dict[str, list[float]] = {a: [] for a in ARMS}
    # warm-up, not timed (first-call imports and allocator growth)
    torch.manual_seed(0)
    warm = model_factory(recipe.model)(splits.task).state_dict()
    for a in ARMS:
        fit_seconds_per_epoch(a, splits, recipe, warm, 0, 1)
    k = 0
    for s in seeds:
        torch.manual_seed(s)
        init = model_factory(recipe.model)(splits.task).state_dict()
        for r in range(rounds):
            order = ARMS[k % 3:] + ARMS[:k % 3]
            k += 1
            this = {a: fit_seconds_per_epoch(a, splits, recipe, init, s, epochs) for a in order}
            for a in ARMS:
                per[a].append(this[a])
                ratios[a].append(this[a] / this["per_image"])
            print(f"  seed {s} round {r}: " + ", ".join(f"{a} {this[a]:.4f} s/epoch" for a in ARMS), flush=True)
    results = []
    print(f"\n{'arm':<24} {'s/epoch median':>15} {'x per_image':>12} {'(quartiles)':>14} {'saving %':>9}")
    for a in ARMS:
        q1, med, q3 = quartiles(ratios[a])
        row = {"arm": a, "s_per_epoch_median": statistics.median(per[a]), "ratio_to_per_image": med,
               "ratio_q1": q1, "ratio_q3": q3, "saving_pct": 100.0 * (1.0 - med), "n_rounds": len(ratios[a])}
        results.append(row)
        print(f"{a:<24} {row['s_per_epoch_median']:>15.4f} {med:>12.3f} {q1:>6.3f}-{q3:<7.3f} "
              f"{row['saving_pct']:>9.1f}")
    col = {r["arm"]: r for r in results}
    print(f"\nclaim: vision collator {CLAIM} of an epoch. Measured: the collator alone saves "
          f"{col['collator']['saving_pct']:.1f}% (quartiles of the ratio {col['collator']['ratio_q1']:.3f}-"
          f"{col['collator']['ratio_q3']:.3f}); with the batched fetch {col['collator_batched_fetch']['saving_pct']:.1f}%"
          f" ({len(seeds) * rounds} rounds; total {time.perf_counter() - t0:.0f} s)")
    print(json.dumps(json_clean({"benchmark": "collator", "quick": args.quick, "seeds": len(seeds), "rounds": rounds,
                                 "epochs_per_arm": epochs, "torch_threads": torch.get_num_threads(),
                                 "claim": CLAIM, "results": results}, digits=4)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
