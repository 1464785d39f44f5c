"""Scale-out: where the time of an optimizer step goes in one process and in two
(DistributedDataParallel, and DDP with ZeRO-1), with gradient accumulation off and on.

Models: the digits CNN (``cnn``, 66k parameters, global batch 64) and the SUBJ Kim CNN
(``kim_cnn``, CNN-rand, 2.8M parameters, 95% of them in the embedding, global batch 50), each with its recipe's
optimizer (Adam). The global batch per micro-step is the same in every run: one process
takes micro-batches of ``B``, each of two processes ``B / 2`` (strong scaling);
accumulation ``A`` (1 or 4) makes an optimizer step of ``A x B`` examples in every case.

Each run is the :class:`~workbench.train.Trainer` (``strategy`` ``"single"``, ``"ddp"``,
``"zero1"``), two processes started by the fork launcher
(:func:`workbench.train.launch.launch`, gloo on 127.0.0.1). Per optimizer step, after a
few warm-up steps, a timing technique records:

- ``compute_s``: forward + backward of all the step's micro-batches, as seen by the
  loop. Under DDP the backward pass returns only once the gradient all-reduce is done, so
  this includes the part of the communication that the backward pass did not hide;
- ``allreduce_s``: the all-reduce itself, timed by a DDP communication hook from the
  hand-off of each gradient bucket to its result (summed over buckets; it overlaps the
  backward pass, Li et al. 2020, Sec. 3.2.3);
- ``exposed_comm_s``: communication the backward pass did not hide, measured in the run:
  from the hand-off of the window's last gradient bucket (by then every gradient is
  computed) until ``backward()`` returned; ``exposed_comm_ablation_s`` estimates the same
  from another run, as ``compute_s`` minus that of a run whose hook does not communicate
  (each rank keeps its gradients) -- on a loaded machine the two runs see different
  loads, so it is the noisier figure;
- ``optimizer_s``: from the end of the window's last backward to the end of the step
  (gradient finiteness check and ``optimizer.step()``; for ZeRO-1 this includes the
  broadcast of each rank's updated parameters);
- ``other_s``: the rest of the step (data loading, events, the per-micro-batch stop flag
  all-reduce under DDP); ``step_s``: wall seconds per optimizer step.

One process runs with 1 and with 2 intra-op threads (``single-1t``, ``single-2t``); each
of two processes with 1 thread (the machine's 2 cores between them). ``slowdown`` is a
run's ``step_s`` over the faster single-process run's. ``optimizer_state_bytes``: the
optimizer state each rank holds (ZeRO-1: its shard; ``ZeroRedundancyOptimizer`` assigns
whole parameter tensors to ranks, so one large tensor stays on one rank).

    python benchmarks/scale_out.py [--quick] [--datasets digits subj] [--accum 1 4]

Last line of stdout: one JSON object with the key figures.
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
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import json_clean  # noqa: E402
from workbench.config import TrainingConfig  # noqa: E402
from workbench.data.datasets import load_dataset  # noqa: E402
from workbench.models import build_model, count_parameters  # noqa: E402
from workbench.train import Event, Technique, Trainer  # noqa: E402
from workbench.train.distributed import (  # noqa: E402
    AllReduceStats,
    counting_allreduce_hook,
    optimizer_state_bytes,
)
from workbench.train.launch import launch  # noqa: E402

CASES = {
    "digits": {"model": "cnn", "batch": 64, "lr": 3e-3},
    "subj": {"model": "kim_cnn", "batch": 50, "lr": 2e-3},
}


class StepTimer(Technique):
    """Seconds per optimizer step: forward + backward, optimizer, whole step."""

    name = "step_timer"
    events = frozenset({Event.FIT_START, Event.BATCH_START, Event.AFTER_BACKWARD, Event.STEP_END})

    def __init__(self, warmup: int, stats: AllReduceStats | None = None) -> None:
        super().__init__()
        self.warmup, self.stats = warmup, stats
        self.rows: list[dict[str, float]] = []
        self._fb = self._exposed = 0.0
        self._t_batch = self._t_backward = self._t_step = 0.0

    def on_fit_start(self, state) -> None:
        self._t_step = time.perf_counter()

    def on_batch_start(self, state) -> None:
        self._t_batch = time.perf_counter()

    def on_after_backward(self, state) -> None:
        self._t_backward = time.perf_counter()
        self._fb += self._t_backward - self._t_batch
        if self.stats is not None and self.stats.last_start > self._t_batch:  # this backward all-reduced
            self._exposed += self._t_backward - self.stats.last_start

    def on_step_end(self, state) -> None:
        now = time.perf_counter()
        comm = self.stats.seconds if self.stats is not None else 0.0
        calls = self.stats.calls if self.stats is not None else 0
        if state.effective_step > self.warmup:
            self.rows.append({"step_s": now - self._t_step, "compute_s": self._fb, "exposed_comm_s": self._exposed,
                              "optimizer_s": now - self._t_backward, "allreduce_s": comm, "allreduce_calls": calls})
        if self.stats is not None:
            self.stats.reset()
        self._fb = self._exposed = 0.0
        self._t_step = now


def _noop_hook(state: Any, bucket: dist.GradBucket) -> torch.futures.Future[torch.Tensor]:
    """A DDP communication hook that does not communicate (each rank keeps its gradients)."""
    fut: torch.futures.Future[torch.Tensor] = torch.futures.Future()
    fut.set_result(bucket.buffer())
    return fut


_noop_hook.__annotations__ = {"state": object, "bucket": dist.GradBucket,
                              "return": torch.futures.Future[torch.Tensor]}


def run_case(splits: Any, case: dict[str, Any], strategy: str, world: int, accum: int, steps: int, warmup: int,
             hook: str = "allreduce") -> dict[str, Any]:
    """One run in this process (one rank of it); returns the per-step medians."""
    torch.manual_seed(0)
    model = build_model(case["model"], splits.task)
    cfg = TrainingConfig(optimizer="adam", lr=case["lr"], batch_size=case["batch"] // world, grad_accum_steps=accum,
                         epochs=1000, max_steps=warmup + steps, strategy=strategy, progress_bar=False,
                         eval_every_epochs=None, log_every_steps=10 ** 6)
    stats = AllReduceStats() if strategy != "single" else None
    timer = StepTimer(warmup, stats)
    trainer = Trainer(model, cfg, splits.train, task=splits.task, techniques=[timer])
    if trainer.ddp is not None:
        if hook == "noop":
            trainer.ddp.register_comm_hook(None, _noop_hook)
        else:
            trainer.ddp.register_comm_hook(stats, counting_allreduce_hook)
    trainer.fit()
    rows = timer.rows
    out = {k: statistics.median(r[k] for r in rows)
           for k in ("step_s", "compute_s", "optimizer_s", "allreduce_s", "exposed_comm_s")}
    out["other_s"] = max(0.0, out["step_s"] - out["compute_s"] - out["optimizer_s"])
    out["allreduce_calls_per_step"] = statistics.median(r["allreduce_calls"] for r in rows)
    out["steps_measured"] = len(rows)
    out["optimizer_state_bytes"] = optimizer_state_bytes(trainer.optimizer)  # this rank's (ZeRO: its shard)
    return out


def _worker(splits: Any, case: dict[str, Any], strategy: str, accum: int, steps: int, warmup: int,
            hook: str) -> dict[str, Any]:
    return run_case(splits, case, strategy, dist.get_world_size(), accum, steps, warmup, hook)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="few steps per run (about two minutes)")
    ap.add_argument("--datasets", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--accum", nargs="+", type=int, default=[1, 4], help="gradient accumulation steps")
    args = ap.parse_args()
    steps, warmup = (8, 2) if args.quick else (40, 5)
    results = []
    print(f"{'data':7} {'run':10} {'accum':>5} {'step ms':>8} {'compute':>8} {'allred.':>8} {'exposed':>8} "
          f"{'optim.':>8} {'other':>8} {'AR/step':>7} {'slowdown':>8}")
    for name in args.datasets:
        case = CASES[name]
        splits = load_dataset(name)  # loaded once; the forked workers share it
        params = count_parameters(build_model(case["model"], splits.task))
        for accum in args.accum:
            runs: dict[str, dict[str, Any]] = {}
            for threads in (1, 2):
                torch.set_num_threads(threads)
                runs[f"single-{threads}t"] = run_case(splits, case, "single", 1, accum, steps, warmup)
            torch.set_num_threads(1)
            for strategy in ("ddp", "zero1"):
                r0, r1 = launch(_worker, 2, args=(splits, case, strategy, accum, steps, warmup, "allreduce"),
                                threads=1, timeout_s=1800, pg_timeout_s=300)
                runs[strategy] = {k: (r0[k] + r1[k]) / 2 for k in r0}  # the mean of the two ranks
                runs[strategy]["optimizer_state_bytes_per_rank"] = [r0["optimizer_state_bytes"],
                                                                    r1["optimizer_state_bytes"]]
            n0, n1 = launch(_worker, 2, args=(splits, case, "ddp", accum, steps, warmup, "noop"),
                            threads=1, timeout_s=1800, pg_timeout_s=300)
            noop_compute = (n0["compute_s"] + n1["compute_s"]) / 2
            best_single = min(runs["single-1t"]["step_s"], runs["single-2t"]["step_s"])
            for run, r in runs.items():
                procs = 1 if run.startswith("single") else 2
                exposed = r["exposed_comm_s"] if procs == 2 else 0.0
                ablation = max(0.0, r["compute_s"] - noop_compute) if procs == 2 else None
                row = {"dataset": name, "model": case["model"], "parameters": params, "run": run, "processes": procs,
                       "threads_per_process": int(run[-2]) if procs == 1 else 1, "accum": accum,
                       "micro_batch": case["batch"] // procs, "examples_per_step": case["batch"] * accum,
                       **r, "exposed_comm_ablation_s": ablation,
                       "compute_without_comm_s": noop_compute if procs == 2 else None,
                       "examples_per_s": case["batch"] * accum / r["step_s"], "slowdown": r["step_s"] / best_single,
                       "comm_share_of_step": (exposed / r["step_s"]) if procs == 2 else 0.0}
                results.append(row)
                print(f"{name:7} {run:10} {accum:>5} {1e3 * r['step_s']:>8.1f} {1e3 * r['compute_s']:>8.1f} "
                      f"{1e3 * r['allreduce_s']:>8.1f} {1e3 * exposed:>8.1f} {1e3 * r['optimizer_s']:>8.1f} "
                      f"{1e3 * r['other_s']:>8.1f} {r['allreduce_calls_per_step']:>7.0f} {row['slowdown']:>8.2f}",
                      flush=True)
    summary = {}
    for row in results:
        if row["processes"] == 2:
            key = f"{row['dataset']}/{row['run']}/accum{row['accum']}"
            single = next(r for r in results if r["dataset"] == row["dataset"] and r["accum"] == row["accum"]
                          and r["run"] == "single-1t")
            summary[key] = {"slowdown": row["slowdown"], "comm_share_of_step": row["comm_share_of_step"],
                            "allreduce_calls_per_step": row["allreduce_calls_per_step"],
                            "optimizer_state_fraction_per_rank": [b / single["optimizer_state_bytes"]
                                                                  for b in row["optimizer_state_bytes_per_rank"]]}
    for key, s in summary.items():
        print(f"{key}: {s['slowdown']:.2f}x the faster single-process step; exposed communication "
              f"{100 * s['comm_share_of_step']:.0f}% of the step; {s['allreduce_calls_per_step']:.0f} "
              f"all-reduce(s) per optimizer step; optimizer state per rank "
              f"{', '.join(f'{f:.2f}' for f in s['optimizer_state_fraction_per_rank'])} of one process's")
    print(json.dumps(json_clean({"benchmark": "scale_out", "quick": args.quick, "backend": "gloo",
                                 "cpu_count": os.cpu_count(),
                                 "steps_measured": steps, "summary": summary, "results": results}, digits=6)))


if __name__ == "__main__":
    main()
