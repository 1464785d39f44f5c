"""workbench's Trainer against the loops people would use instead: an idiomatic plain
PyTorch loop, PyTorch Lightning and fastai (issue 19, item 1).

Every framework trains the same model (the same initial weights in a round), on the same
training examples, with the same batch size, loss (mean cross-entropy) and optimizer
(``torch.optim.Adam``, lr 1e-3), on the CPU, with no validation and no checkpoints:

- ``plain``: the loop from the PyTorch tutorials: ``DataLoader(shuffle=True)`` over a
  ``TensorDataset`` of the pre-processed digits (normalised once), or over the pre-tokenised
  SUBJ sentences with a ``pad_sequence`` collate function; ``zero_grad``, forward, loss,
  ``backward``, ``step``. No metrics.
- ``trainer``: ``workbench.train.Trainer`` with its defaults (metrics on: a training row of
  loss and accuracy every ``log_every_steps`` = 50 optimizer steps, written to CSV and JSONL;
  the non-finite loss/gradient guard on), the progress bar off, on the workbench data set and
  its collator (what a workbench user runs).
- ``lightning``: a ``LightningModule`` whose ``training_step`` logs the loss (Lightning's
  default cadence, every 50 steps, to a ``CSVLogger``); progress bar, model summary and
  checkpointing off; the plain loop's ``DataLoader``.
- ``fastai``: a ``Learner`` over the plain loop's ``DataLoader`` (``DataLoaders(train,
  valid)``) with ``OptimWrapper(torch.optim.Adam)``; its default callbacks (``Recorder``
  keeps the smoothed loss every batch) less the progress bar; validation cancelled.

In each round every framework runs one short fit (``--epochs``) from the round's initial
weights, in an order that rotates (round r starts with framework r mod 4), so the fits of a
round ran within seconds of each other and a drift in machine speed spreads over all of
them. An epoch's seconds run from the end of the previous epoch (the start of the first
epoch for epoch 1) to the end of this one, as each framework's own epoch hooks see it: every
recurring per-epoch cost is charged. What a fit spends outside its epochs (building the
loop, loggers) is reported as ``fit_overhead_s``. Figures: the median and quartiles of
seconds per epoch over all rounds, and ``ratio_to_plain``: the median over rounds of the
round's ratio (the framework's median epoch over the plain loop's in the same round), which
cancels most of a shared machine's drift (``ratio_q1`` / ``ratio_q3`` its quartiles).

Lightning and fastai are optional (``pip install -e .[bench]``); without them the script
says so and measures the rest.

    python benchmarks/peers.py [--quick] [--threads N] [--datasets digits subj]
                               [--frameworks plain trainer lightning fastai]

``--quick`` trains on a seeded random 1,000 of the SUBJ training sentences (a full SUBJ epoch
is ~16 s per framework) and runs fewer rounds. Each data set starts with one untimed warm-up
fit per framework (one-off imports). Last line of stdout: one JSON object with the key figures.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.utils.rnn import pad_sequence
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import json_clean  # noqa: E402
from benchmarks.trainer_overhead import CASES  # noqa: E402
from workbench.config import TrainingConfig  # noqa: E402
from workbench.data.datasets import load_dataset  # noqa: E402
from workbench.data.splits import cap_splits  # noqa: E402
from workbench.models import build_model  # noqa: E402
from workbench.train import Technique, Trainer  # noqa: E402

FRAMEWORKS = ("plain", "trainer", "lightning", "fastai")
#: the optional packages each framework needs (the ``bench`` extra)
NEEDS = {"lightning": "pytorch_lightning", "fastai": "fastai"}
#: issue 19's target: the Trainer at most this many times the plain loop's seconds per epoch
TARGET = 1.03


def available(framework: str) -> bool:
    """Whether ``framework``'s optional package is importable (plain and trainer: always)."""
    mod = NEEDS.get(framework)
    return mod is None or importlib.util.find_spec(mod) is not None


class Clock:
    """Epoch seconds from epoch hooks: :meth:`start` at the first epoch's start, :meth:`end`
    at every epoch's end; an epoch runs from the previous mark to its end."""

    def __init__(self) -> None:
        self.mark: float | None = None
        self.epochs: list[float] = []

    def start(self) -> None:
        if self.mark is None:
            self.mark = time.perf_counter()

    def end(self) -> None:
        now = time.perf_counter()
        self.epochs.append(now - self.mark)
        self.mark = now


# ---------------------------------------------------------------- data, in each framework's idiom

def plain_loader(name: str, splits, batch_size: int) -> DataLoader:
    """The plain loop's ``DataLoader`` (also given to Lightning and fastai): digits as a
    ``TensorDataset`` of normalised images ``[N, 1, 8, 8]`` float32 and targets ``[N]``
    long; SUBJ as a list of (token ids ``[L_i]`` long, target) pairs padded per batch by
    ``pad_sequence`` to at least the model's minimum length (as workbench's collator does)."""
    data, task = splits.train, splits.task
    if name == "digits":
        full = task.collator()([data[i] for i in range(len(data))])  # normalise once
        return DataLoader(TensorDataset(full["inputs"], full["targets"]), batch_size=batch_size, shuffle=True)
    pairs = [(data[i]["input"], int(data[i]["target"])) for i in range(len(data))]
    pad, min_len = task.pad_id, task.min_length

    def collate(items):
        x = pad_sequence([ids for ids, _ in items], batch_first=True, padding_value=pad)
        if x.shape[1] < min_len:
            x = F.pad(x, (0, min_len - x.shape[1]), value=pad)
        return x, torch.tensor([t for _, t in items])

    return DataLoader(pairs, batch_size=batch_size, shuffle=True, collate_fn=collate)


# ---------------------------------------------------------------- one fit per framework

def fit_plain(model, loader, lr: float, epochs: int) -> Clock:
    clock = Clock()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        clock.start()
        for x, y in loader:
            opt.zero_grad()
            loss = F.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
        clock.end()
    return clock


class _TrainerClock(Technique):
    name = "peers_clock"

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def on_epoch_start(self, state) -> None:
        self.clock.start()

    def on_epoch_end(self, state) -> None:
        self.clock.end()


def fit_trainer(model, splits, case: dict, epochs: int, seed: int, tmp: str) -> Clock:
    clock = Clock()
    cfg = TrainingConfig(optimizer="adam", lr=case["lr"], batch_size=case["batch_size"], epochs=epochs, seed=seed,
                         progress_bar=False, metrics_dir=tmp)
    Trainer(model, cfg, splits.train, task=splits.task, techniques=[_TrainerClock(clock)]).fit()
    return clock


def fit_lightning(model, loader, lr: float, epochs: int, tmp: str) -> Clock:
    import pytorch_lightning as pl
    from pytorch_lightning.loggers import CSVLogger

    for name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):  # its banner and tips
        logging.getLogger(name).setLevel(logging.ERROR)
    clock = Clock()

    class Module(pl.LightningModule):
        def __init__(self, net):
            super().__init__()
            self.net = net

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = F.cross_entropy(self.net(x), y)
            self.log("train_loss", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.Adam(self.parameters(), lr=lr)

    class EpochClock(pl.Callback):
        def on_train_epoch_start(self, trainer, module):
            clock.start()

        def on_train_epoch_end(self, trainer, module):
            clock.end()

    trainer = pl.Trainer(max_epochs=epochs, accelerator="cpu", devices=1, logger=CSVLogger(tmp),
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         num_sanity_val_steps=0, callbacks=[EpochClock()], deterministic=False)
    trainer.fit(Module(model), train_dataloaders=loader)
    return clock


def fit_fastai(model, loader, lr: float, epochs: int) -> Clock:
    from functools import partial

    import fastai.callback.progress  # noqa: F401  (the default progress callback, and Learner.no_bar)
    from fastai.callback.core import Callback, CancelValidException
    from fastai.data.core import DataLoaders
    from fastai.learner import Learner
    from fastai.optimizer import OptimWrapper

    clock = Clock()

    class EpochClock(Callback):
        order = -100  # before the others: the epoch's own work is timed

        def before_epoch(self):
            clock.start()

        def after_epoch(self):
            clock.end()

    class NoValidation(Callback):
        def before_validate(self):
            raise CancelValidException()

    learn = Learner(DataLoaders(loader, loader, device=torch.device("cpu")), model, loss_func=F.cross_entropy,
                    opt_func=partial(OptimWrapper, opt=torch.optim.Adam), cbs=[EpochClock(), NoValidation()])
    with learn.no_bar(), learn.no_logging():
        learn.fit(epochs, lr=lr)
    return clock


def run_one(framework: str, name: str, case: dict, splits, loader: DataLoader, init: dict, epochs: int,
            seed: int) -> tuple[list[float], float]:
    """Train ``epochs`` epochs with ``framework`` from the weights ``init``; returns (seconds
    of each epoch, fit seconds outside the epochs)."""
    torch.manual_seed(seed)  # the same shuffling / dropout streams for every framework of a round
    model = build_model(case["model"], splits.task)
    model.load_state_dict(init)
    fits: dict[str, Callable[[str], Clock]] = {
        "plain": lambda tmp: fit_plain(model, loader, case["lr"], epochs),
        "trainer": lambda tmp: fit_trainer(model, splits, case, epochs, seed, tmp),
        "lightning": lambda tmp: fit_lightning(model, loader, case["lr"], epochs, tmp),
        "fastai": lambda tmp: fit_fastai(model, loader, case["lr"], epochs),
    }
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        clock = fits[framework](tmp)
        total = time.perf_counter() - t0
    if len(clock.epochs) != epochs:
        raise RuntimeError(f"{framework} on {name}: {len(clock.epochs)} epoch(s) timed, {epochs} expected")
    return clock.epochs, total - sum(clock.epochs)


def quartiles(xs: list[float]) -> tuple[float, float, float]:
    """(q1, median, q3); with fewer than 4 values, (min, median, max)."""
    if len(xs) < 4:
        return min(xs), statistics.median(xs), max(xs)
    q = statistics.quantiles(xs, n=4)
    return q[0], statistics.median(xs), q[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="fewer rounds and epochs, SUBJ capped at 1,000 sentences (a few minutes)")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch intra-op threads (default 1: the steadiest timings on a shared machine)")
    ap.add_argument("--datasets", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--frameworks", nargs="+", default=list(FRAMEWORKS), choices=list(FRAMEWORKS))
    ap.add_argument("--rounds", type=int, default=None,
                    help="rounds per data set (default: digits 10 / subj 4; quick: digits 6 / subj 3)")
    ap.add_argument("--epochs", type=int, default=None,
                    help="epochs per fit (default: digits 3 / subj 2; quick: digits 2 / subj 1)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    # the peers' chatter (the tips about DataLoader workers) is not a result
    warnings.filterwarnings("ignore", module="pytorch_lightning")
    warnings.filterwarnings("ignore", module="lightning_fabric")
    warnings.filterwarnings("ignore", module="fastai")

    frameworks = [f for f in args.frameworks if available(f)]
    missing = [f for f in args.frameworks if f not in frameworks]
    for f in missing:
        print(f"{f}: not installed ({NEEDS[f]}); skipped. Install the optional benchmark dependencies with "
              f"pip install -e .[bench] -c constraints.txt", flush=True)
    if "plain" not in frameworks:
        frameworks.insert(0, "plain")  # every ratio is to the plain loop
    cap = {"digits": None, "subj": 1000 if args.quick else None}
    results = []
    print(f"{'dataset':8} {'round':>5} {'framework':10} {'s/epoch (median)':>17} {'fit overhead s':>15}", flush=True)
    for name in args.datasets:
        case = CASES[name]
        epochs = args.epochs or ({"digits": 2, "subj": 1} if args.quick else {"digits": 3, "subj": 2})[name]
        rounds = args.rounds or ({"digits": 6, "subj": 3} if args.quick else {"digits": 10, "subj": 4})[name]
        splits = cap_splits(load_dataset(name), train=cap[name])
        loader = plain_loader(name, splits, case["batch_size"])
        per = {f: {"epochs": [], "overhead": [], "ratios": []} for f in frameworks}
        # warm-up, not timed: the first fit in a process pays one-off imports (torch.optim's
        # first Adam imports torch._dynamo, ~5 s here; Lightning and fastai load their modules)
        torch.manual_seed(0)
        init = build_model(case["model"], splits.task).state_dict()
        for f in frameworks:
            run_one(f, name, case, splits, loader, init, 1, seed=0)
        for r in range(rounds):
            torch.manual_seed(r)
            init = build_model(case["model"], splits.task).state_dict()
            order = frameworks[r % len(frameworks):] + frameworks[: r % len(frameworks)]
            this_round = {}
            for f in order:
                ep, over = run_one(f, name, case, splits, loader, init, epochs, seed=r)
                this_round[f] = statistics.median(ep)
                per[f]["epochs"] += ep
                per[f]["overhead"].append(over)
                print(f"{name:8} {r:>5} {f:10} {statistics.median(ep):>17.4f} {over:>15.3f}", flush=True)
            for f in frameworks:
                per[f]["ratios"].append(this_round[f] / this_round["plain"])
        for f in frameworks:
            q1, med, q3 = quartiles(per[f]["epochs"])
            rq1, rmed, rq3 = quartiles(per[f]["ratios"])
            results.append({"dataset": name, "model": case["model"], "framework": f,
                            "train_examples": len(splits.train), "batch_size": case["batch_size"],
                            "rounds": rounds, "epochs_per_fit": epochs, "s_per_epoch_median": med,
                            "s_per_epoch_q1": q1, "s_per_epoch_q3": q3, "ratio_to_plain": rmed,
                            "ratio_q1": rq1, "ratio_q3": rq3,
                            "fit_overhead_s_median": statistics.median(per[f]["overhead"])})
    print()
    print(f"{'dataset':8} {'framework':10} {'s/epoch median':>15} {'quartiles':>17} {'x plain':>8} "
          f"{'(quartiles)':>13} {'fit overhead s':>15}")
    for res in results:
        print(f"{res['dataset']:8} {res['framework']:10} {res['s_per_epoch_median']:>15.4f} "
              f"{res['s_per_epoch_q1']:>8.4f}-{res['s_per_epoch_q3']:<8.4f} {res['ratio_to_plain']:>8.3f} "
              f"{res['ratio_q1']:>6.3f}-{res['ratio_q3']:<6.3f} {res['fit_overhead_s_median']:>15.3f}")
    verdicts = {}
    for name in args.datasets:
        by = {r["framework"]: r for r in results if r["dataset"] == name}
        t = by["trainer"]["ratio_to_plain"] if "trainer" in by else None
        if t is None:
            continue
        peers = {f: by[f]["ratio_to_plain"] for f in ("lightning", "fastai") if f in by}
        ok = t <= TARGET and all(t < v for v in peers.values())
        verdicts[name] = ok
        print(f"{name}: Trainer {t:.3f}x the plain loop (target <= {TARGET})"
              + "".join(f", {f} {v:.3f}x" for f, v in peers.items())
              + f" -> {'meets' if ok else 'MISSES'} the target"
              + ("" if len(peers) == 2 else " (peers not all measured)"))
    print(json.dumps(json_clean({"benchmark": "peers", "quick": args.quick, "torch_threads": torch.get_num_threads(),
                                 "skipped": missing, "target_trainer_ratio": TARGET, "meets_target": verdicts,
                                 "results": results}, digits=4)))


if __name__ == "__main__":
    main()
