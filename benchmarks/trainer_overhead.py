"""Trainer overhead against a plain PyTorch loop.

The same model (same initial weights), data, batch order (the same seeded sampler and
collator), optimizer and number of epochs are trained by a plain loop and by
``workbench.train.Trainer`` (metrics tracked and written to CSV/JSONL, progress bar off,
no validation).

Interleaving: the two runs alternate epoch by epoch. The plain loop's epoch ``k`` runs
inside the Trainer's ``epoch_end`` event of epoch ``k`` (timed on its own and excluded
from the Trainer's time), so a Trainer epoch and its two neighbouring plain epochs ran
within a second of each other. The Trainer's epoch time is measured from the end of the
previous epoch's ``epoch_end`` (or from the start of ``fit``) to the start of this
epoch's ``epoch_end``: it includes everything the Trainer does per epoch (the DataLoader,
events, metrics rows and their files). The ratio of a Trainer epoch is its time over the
mean of the plain epochs just before and just after it, which cancels a slow drift in
machine speed (on a shared VM, the same plain epoch varies by +-15% over seconds);
the median over all epochs and repeats is the figure (target: <= 1.05).

Metrics on means the Trainer's defaults: a training row every ``log_every_steps`` (50)
optimizer steps, written to CSV and JSONL; ``--log-every-steps N`` measures another cadence.

    python benchmarks/trainer_overhead.py [--quick] [--threads N] [--datasets digits subj]
                                          [--log-every-steps N]

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
from workbench.train import Technique, Trainer  # noqa: E402

CASES = {
    "digits": {"model": "mlp", "batch_size": 32, "lr": 1e-3},
    "subj": {"model": "kim_cnn", "batch_size": 50, "lr": 1e-3},
}


class PlainLoop:
    """The reference: a plain PyTorch training loop, one epoch per call."""

    def __init__(self, model, data, collate, batch_size: int, lr: float, seed: int) -> None:
        self.model, self.data, self.collate, self.batch_size = model, data, collate, batch_size
        self.opt = torch.optim.Adam(model.parameters(), lr=lr)
        self.sampler = ResumableRandomSampler(data, seed=seed)
        self.epoch = 0

    def run_epoch(self) -> float:
        """Train one epoch; returns its wall seconds."""
        t0 = time.perf_counter()
        self.sampler.set_epoch(self.epoch)
        loader = DataLoader(self.data, batch_size=self.batch_size, sampler=self.sampler, collate_fn=self.collate)
        self.model.train()
        for batch in loader:
            self.opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(self.model(batch["inputs"]), batch["targets"])
            loss.backward()
            self.opt.step()
        self.epoch += 1
        return time.perf_counter() - t0


class Interleave(Technique):
    """Runs one plain epoch at each of the Trainer's ``epoch_end`` events and records the
    wall seconds of both (the plain epoch's time is excluded from the Trainer's)."""

    name = "interleave"

    def __init__(self, plain: PlainLoop) -> None:
        self.plain = plain
        self.trainer_s: list[float] = []
        self.plain_s: list[float] = []
        self.mark = time.perf_counter()

    def on_epoch_end(self, state) -> None:
        self.trainer_s.append(time.perf_counter() - self.mark)
        torch.manual_seed(10_000 + state.epoch)  # the same dropout stream for the plain epoch
        self.plain_s.append(self.plain.run_epoch())
        self.mark = time.perf_counter()


def run_pair(case: dict, splits, epochs: int, seed: int, log_every_steps: int | None = None
             ) -> tuple[list[float], list[float]]:
    """One repeat: ``epochs`` Trainer epochs interleaved with ``epochs + 1`` plain epochs
    (one plain epoch before the first Trainer epoch, so every Trainer epoch has a plain
    neighbour on both sides). Returns (trainer seconds per epoch, plain seconds per epoch)."""
    torch.manual_seed(seed)
    model_t = build_model(case["model"], splits.task)
    model_p = build_model(case["model"], splits.task)
    model_p.load_state_dict(model_t.state_dict())
    plain = PlainLoop(model_p, splits.train, splits.task.collator(), case["batch_size"], case["lr"], seed)
    first_plain = plain.run_epoch()
    with tempfile.TemporaryDirectory() as tmp:
        logging = {} if log_every_steps is None else {"log_every_steps": log_every_steps}
        cfg = TrainingConfig(optimizer="adam", lr=case["lr"], batch_size=case["batch_size"], epochs=epochs,
                             seed=seed, progress_bar=False, eval_every_epochs=None, metrics_dir=tmp, **logging)
        inter = Interleave(plain)
        trainer = Trainer(model_t, cfg, splits.train, task=splits.task, techniques=[inter])
        inter.mark = time.perf_counter()
        trainer.fit()
    return inter.trainer_s, [first_plain] + inter.plain_s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer repeats and epochs (about a minute)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (default 1: the steadiest timings on a shared 2-core machine)")
    ap.add_argument("--datasets", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--log-every-steps", type=int, default=None,
                    help=f"the Trainer's training-row cadence (default: the config default, "
                         f"{TrainingConfig.log_every_steps})")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    log_every = args.log_every_steps or TrainingConfig.log_every_steps
    # per data set: (repeats, epochs per repeat); a digits epoch is ~0.1 s, a SUBJ epoch ~16 s
    plan = {"digits": (2, 8) if args.quick else (5, 20), "subj": (2, 2) if args.quick else (3, 5)}
    results = []
    print(f"{'dataset':8} {'model':8} {'repeat':>6} {'epochs':>6} {'plain s/epoch':>14} {'trainer s/epoch':>16} "
          f"{'ratio (median)':>15}")
    for name in args.datasets:
        case = CASES[name]
        splits = load_dataset(name)
        ratios, plain_all, trainer_all = [], [], []
        repeats, epochs = plan[name]
        for r in range(repeats):
            tr, pl = run_pair(case, splits, epochs, seed=r, log_every_steps=log_every)
            rr = [t / ((pl[k] + pl[k + 1]) / 2) for k, t in enumerate(tr)]
            ratios += rr
            plain_all += pl
            trainer_all += tr
            print(f"{name:8} {case['model']:8} {r:>6} {len(tr):>6} {statistics.median(pl):>14.4f} "
                  f"{statistics.median(tr):>16.4f} {statistics.median(rr):>15.3f}", flush=True)
        q = statistics.quantiles(ratios, n=4) if len(ratios) >= 4 else [min(ratios), statistics.median(ratios),
                                                                           max(ratios)]
        results.append({"dataset": name, "model": case["model"], "repeats": repeats, "epochs": epochs,
                        "log_every_steps": log_every,
                        "n_epoch_ratios": len(ratios),
                        "plain_s_per_epoch_median": statistics.median(plain_all),
                        "trainer_s_per_epoch_median": statistics.median(trainer_all),
                        "ratio_median": statistics.median(ratios), "ratio_q1": q[0], "ratio_q3": q[-1],
                        "ratio_min": min(ratios), "ratio_max": max(ratios), "target": 1.05,
                        "meets_target": statistics.median(ratios) <= 1.05})
    for res in results:
        print(f"{res['dataset']}: median ratio {res['ratio_median']:.3f} over {res['n_epoch_ratios']} epochs "
              f"(quartiles {res['ratio_q1']:.3f}-{res['ratio_q3']:.3f}; "
              f"{'meets' if res['meets_target'] else 'MISSES'} the 1.05 target)")
    print(json.dumps({"benchmark": "trainer_overhead", "quick": args.quick, "torch_threads": torch.get_num_threads(),
                      "results": results}))


if __name__ == "__main__":
    main()
