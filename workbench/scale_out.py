"""Scale-out experiments the ``scale_out`` notebook calls: train a recipe data-parallel in
forked workers (:func:`workbench.train.launch.launch`) and report throughput per rank,
gradient all-reduces and whether the ranks agree; read the compile benchmark's results.

Everything runs on ``torch.distributed`` (gloo on CPU) through the
:class:`~workbench.train.Trainer` with ``strategy="ddp"`` or ``"zero1"``. From a script
or on a cluster use ``torchrun ... -m workbench train`` instead (README, "Scale-out").
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench.models import build_model
from workbench.recipes import baseline_recipe, load_splits
from workbench.train import Trainer, seed_everything
from workbench.train.distributed import AllReduceStats, counting_allreduce_hook, parameter_digest
from workbench.train.launch import ThroughputMonitor, launch
from workbench.validation import check_choice, check_int

RESULTS_DIR = Path(__file__).resolve().parents[1] / "docs" / "results"


def train_data_parallel(dataset: str = "digits", nprocs: int = 2, strategy: str = "ddp", *,
                        smoke: bool = False, splits: Any = None, seed: int = 0, batch_size: int | None = None,
                        grad_accum_steps: int = 1, accumulate_no_sync: bool = True, max_steps: int | None = None,
                        epochs: int | None = None, every_steps: int = 5,
                        on_throughput: Callable[[int, dict[str, Any]], Any] | None = None,
                        threads: int | None = None, timeout_s: float = 3600.0) -> dict[str, Any]:
    """Train the baseline recipe of ``dataset`` (or of your ``splits``) in ``nprocs``
    forked processes and report what each rank did.

    Args:
        dataset, splits: a built-in data set, or your own :class:`DataSplits`.
        nprocs: processes (>= 1). strategy: ``"ddp"`` or ``"zero1"`` (``"single"`` with
            ``nprocs=1``).
        batch_size: per process (default: the recipe's batch divided by ``nprocs``, so the
            global batch is the recipe's).
        grad_accum_steps, accumulate_no_sync: accumulation, and whether non-boundary
            micro-batches skip the all-reduce (``no_sync``).
        max_steps, epochs: the budget (default: the recipe's, smoke-sized with ``smoke``).
        every_steps: throughput is published every this many optimizer steps;
            ``on_throughput(rank, row)`` gets each row live (see
            :class:`~workbench.train.launch.ThroughputMonitor`).
        threads: torch threads per process (default: cores / ``nprocs``).

    Returns:
        ``{"dataset", "strategy", "nprocs", "global_batch", "ranks": [per-rank dict], "same_weights"}``;
        each rank: ``rank``, ``effective_step``, ``micro_steps``, ``examples`` (its own),
        ``wall_time_s``, ``allreduce_calls`` and ``allreduce_s`` (gradient all-reduces,
        counted and timed by a DDP communication hook), ``val_accuracy``, ``throughput``
        (the published rows), ``parameter_sha256``.

    Raises:
        ValueError: an invalid ``nprocs``, ``strategy`` or config value (naming it).
    """
    check_int("nprocs", nprocs, 1, 64)
    check_choice("strategy", strategy, ("single", "ddp", "zero1") if nprocs == 1 else ("ddp", "zero1"))
    splits = splits if splits is not None else load_splits(dataset, smoke=smoke)
    base = baseline_recipe(dataset, smoke=smoke, splits=splits)
    per_process = batch_size if batch_size is not None else max(1, base.config.batch_size // nprocs)
    changes: dict[str, Any] = {"strategy": strategy, "batch_size": per_process, "grad_accum_steps": grad_accum_steps,
                               "accumulate_no_sync": accumulate_no_sync, "progress_bar": False, "seed": seed}
    if max_steps is not None:
        changes["max_steps"] = max_steps
    if epochs is not None:
        changes["epochs"] = epochs
    recipe = baseline_recipe(dataset, smoke=smoke, splits=splits, **changes)
    monitor_every = check_int("every_steps", every_steps, 1)

    def worker() -> dict[str, Any]:
        seed_everything(seed)
        model = build_model(recipe.model, splits.task)
        monitor = ThroughputMonitor(monitor_every)
        trainer = Trainer(model, recipe.config, splits.train, splits.val, task=splits.task, techniques=[monitor])
        stats = AllReduceStats()
        if trainer.ddp is not None:
            trainer.ddp.register_comm_hook(stats, counting_allreduce_hook)
        state = trainer.fit()
        return {"rank": state.rank, "effective_step": state.effective_step, "micro_steps": state.step,
                "examples": state.examples_seen, "wall_time_s": state.wall_time, "allreduce_calls": stats.calls,
                "allreduce_s": stats.seconds, "val_accuracy": state.metrics.get("val_accuracy"),
                "throughput": monitor.rows, "parameter_sha256": parameter_digest(trainer.model)}

    ranks = launch(worker, nprocs, on_message=on_throughput, threads=threads, timeout_s=timeout_s)
    return {"dataset": recipe.dataset, "model": recipe.model, "strategy": strategy, "nprocs": nprocs,
            "batch_size_per_process": per_process, "grad_accum_steps": grad_accum_steps,
            "accumulate_no_sync": accumulate_no_sync, "global_batch": per_process * nprocs * grad_accum_steps,
            "ranks": ranks, "same_weights": len({r["parameter_sha256"] for r in ranks}) == 1}


def allreduce_counts(dataset: str = "digits", grad_accum_steps: int = 4, *, smoke: bool = False,
                     splits: Any = None, max_steps: int | None = None, nprocs: int = 2) -> list[dict[str, Any]]:
    """Gradient all-reduces of the same DDP run with accumulation, with ``no_sync`` on the
    non-boundary micro-batches and without it.

    Returns one row per setting: ``accumulate_no_sync``, ``optimizer_steps``,
    ``micro_steps``, ``allreduce_calls`` (rank 0's hook count; DDP all-reduces one call
    per gradient bucket), ``allreduce_s`` and ``calls_per_optimizer_step``.
    """
    splits = splits if splits is not None else load_splits(dataset, smoke=smoke)
    rows = []
    for no_sync in (True, False):
        out = train_data_parallel(dataset, nprocs, "ddp", smoke=smoke, splits=splits, grad_accum_steps=grad_accum_steps,
                                  accumulate_no_sync=no_sync, max_steps=max_steps)
        r0 = out["ranks"][0]
        rows.append({"accumulate_no_sync": no_sync, "optimizer_steps": r0["effective_step"],
                     "micro_steps": r0["micro_steps"], "allreduce_calls": r0["allreduce_calls"],
                     "allreduce_s": r0["allreduce_s"],
                     "calls_per_optimizer_step": r0["allreduce_calls"] / max(1, r0["effective_step"]),
                     "same_weights": out["same_weights"]})
    return rows


def load_benchmark_result(name: str, folder: str | Path = RESULTS_DIR) -> dict[str, Any] | None:
    """The key-figures JSON of the newest saved run of ``benchmarks/<name>.py`` in
    ``folder`` (``<name>-*.txt`` whose last JSON line is the benchmark's, or
    ``<name>*.json``), or None when there is none (the benchmark has not been run yet).
    Newest by the ``YYYY-MM-DD`` date in the file name (a fresh clone gives every file the
    same modification time), a full run before a ``quick`` one of the same date, then the
    modification time."""
    folder = Path(folder)
    if not folder.is_dir():
        return None

    def newest(p: Path) -> tuple[str, int, float]:
        date = re.search(r"\d{4}-\d{2}-\d{2}", p.name)
        return (date.group(0) if date else "", 0 if "quick" in p.name else 1, p.stat().st_mtime)

    files = sorted(list(folder.glob(f"{name}*.json")) + list(folder.glob(f"{name}-*.txt")), key=newest)
    for path in reversed(files):
        text = path.read_text(errors="replace").strip()
        candidates = [text] if path.suffix == ".json" else list(reversed(text.splitlines()))
        for line in candidates:
            try:
                data = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(data, dict):
                data.setdefault("_source", str(path))
                return data
    return None


def ratio_rows(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Flatten a benchmark's key figures into rows ``{"case": label, "figure": name,
    "value": number}`` for every numeric figure whose name contains ``ratio`` (``case``
    joins the row's text fields: model, mode, phase, ...)."""
    rows: list[dict[str, Any]] = []

    def walk(obj: Any, label: list[str]) -> None:
        if isinstance(obj, dict):
            text = [str(v) for k, v in obj.items() if isinstance(v, str) and not k.startswith("_")]
            for k, v in obj.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool) and "ratio" in k:
                    rows.append({"case": " / ".join(label + text) or "all", "figure": k, "value": float(v)})
                elif isinstance(v, (dict, list)):
                    walk(v, label + text + ([k] if isinstance(v, dict) and not text else []))
        elif isinstance(obj, list):
            for v in obj:
                walk(v, label)

    walk({k: v for k, v in result.items() if k not in ("benchmark",)}, [])
    return rows
