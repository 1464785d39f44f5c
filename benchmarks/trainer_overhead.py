"""Trainer overhead against a plain PyTorch loop.

The same model (same initial weights), data, batch order (the same seeded sampler and
collator), optimizer and number of epochs are trained by a plain loop and by
``workbench.train.Trainer`` (metrics tracked and written to CSV/JSONL, progress bar off,
no validation), in interleaved repeats. Prints seconds per epoch of each, their ratio
per repeat, and the median ratio (target: <= 1.05).

    python benchmarks/trainer_overhead.py [--quick]

Last line of stdout: one JSON object with the key figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.config import TrainingConfig  # noqa: E402
from workbench.data.datasets import load_dataset  # noqa: E402
from workbench.data.samplers import ResumableRandomSampler  # noqa: E402
from workbench.models import build_model  # noqa: E402
from workbench.train import Trainer  # noqa: E402

CASES = {
    "digits": {"model": "mlp", "batch_size": 32, "lr": 1e-3},
    "subj": {"model": "kim_cnn", "batch_size": 50, "lr": 1e-3},
}


def plain_loop(model, data, collate, batch_size, lr, epochs, seed) -> float:
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sampler = ResumableRandomSampler(data, seed=seed)
    t0 = time.perf_counter()
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        loader = DataLoader(data, batch_size=batch_size, sampler=sampler, collate_fn=collate)
        model.train()
        for batch in loader:
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(batch["inputs"]), batch["targets"])
            loss.backward()
            opt.step()
    return (time.perf_counter() - t0) / epochs


def trainer_loop(model, data, task, batch_size, lr, epochs, seed, metrics_dir) -> float:
    cfg = TrainingConfig(optimizer="adam", lr=lr, batch_size=batch_size, epochs=epochs, seed=seed,
                         progress_bar=False, eval_every_epochs=None, metrics_dir=metrics_dir)
    t0 = time.perf_counter()
    Trainer(model, cfg, data, task=task).fit()
    return (time.perf_counter() - t0) / epochs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repeats and epochs (about a minute)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (default 1: the steadiest timings on a shared 2-core machine)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    repeats = 3 if args.quick else 7
    epochs = {"digits": 5 if args.quick else 20, "subj": 1 if args.quick else 2}
    results = []
    print(f"{'dataset':8} {'model':8} {'repeat':>6} {'plain s/epoch':>14} {'trainer s/epoch':>16} {'ratio':>7}")
    for name, case in CASES.items():
        splits = load_dataset(name)
        collate = splits.task.collator()
        ratios, plain_t, trainer_t = [], [], []
        for r in range(repeats):
            torch.manual_seed(r)
            model_a = build_model(case["model"], splits.task)
            model_b = build_model(case["model"], splits.task)
            model_b.load_state_dict(model_a.state_dict())
            order = [("plain", model_a), ("trainer", model_b)]
            if r % 2:  # alternate which goes first
                order.reverse()
            times = {}
            for kind, model in order:
                torch.manual_seed(1000 + r)  # same dropout stream for both
                if kind == "plain":
                    times[kind] = plain_loop(model, splits.train, collate, case["batch_size"], case["lr"],
                                             epochs[name], seed=r)
                else:
                    with tempfile.TemporaryDirectory() as tmp:
                        times[kind] = trainer_loop(model, splits.train, splits.task, case["batch_size"],
                                                   case["lr"], epochs[name], seed=r, metrics_dir=tmp)
            ratio = times["trainer"] / times["plain"]
            ratios.append(ratio)
            plain_t.append(times["plain"])
            trainer_t.append(times["trainer"])
            print(f"{name:8} {case['model']:8} {r:>6} {times['plain']:>14.4f} {times['trainer']:>16.4f} {ratio:>7.3f}",
                  flush=True)
        results.append({"dataset": name, "model": case["model"], "repeats": repeats, "epochs": epochs[name],
                        "plain_s_per_epoch_median": statistics.median(plain_t),
                        "trainer_s_per_epoch_median": statistics.median(trainer_t),
                        "ratio_median": statistics.median(ratios), "ratio_min": min(ratios),
                        "ratio_max": max(ratios), "target": 1.05,
                        "meets_target": statistics.median(ratios) <= 1.05})
    for res in results:
        print(f"{res['dataset']}: median ratio {res['ratio_median']:.3f} "
              f"({'meets' if res['meets_target'] else 'MISSES'} the 1.05 target)")
    print(json.dumps({"benchmark": "trainer_overhead", "quick": args.quick, "torch_threads": torch.get_num_threads(),
                      "results": results}))


if __name__ == "__main__":
    main()
