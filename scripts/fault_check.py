"""Fault check: SIGKILLs during training with frequent checkpoints, and a config fuzz.

Kill test (``--kills N``, the number of SIGKILLs delivered): a reference run trains an MLP on a digits subset in a child
process, with a checkpoint every optimizer step (``checkpoint_every_steps=1``, so many kills
land inside a save). Then, N times: a fresh run in a child process is sent ``SIGKILL`` at a
random moment of its training (a run that ends first is counted and retried); every ``step-*.pt`` left in its folder must load
(``weights_only``) with finite weights; a new child resumes from the folder and trains to
the end; afterwards no temporary file may remain and the final weights and metric rows
(effective step, training loss, validation loss and accuracy) must equal the reference
run's exactly. Children are forked from this process (``multiprocessing`` "fork"), so a
trial costs its training time, not an interpreter start.

Config fuzz (``--configs N``): N random ``TrainingConfig`` dicts (1-8 fields each, a value
from the field's valid pool with probability 0.85, else from its invalid pool; ``epochs=1``
and ``progress_bar=False`` unless drawn). Each must either be rejected at construction with
a ``ValueError`` naming one of its fields, or build a ``Trainer`` and train one epoch of an
MLP on a small digits subset without error. A ``ValueError`` naming a field at ``Trainer``
construction counts as a rejection too (checks that need the data, such as a warmup longer
than the run), and so does a ``ValueError`` naming ``monitor`` from ``fit`` (an
early-stopping monitor the evaluation does not report is checked at the first evaluation).
Any other error during ``fit`` counts as a failure, whatever its message, except a
``NonFiniteLossError`` (a valid but diverging configuration, ``on_nonfinite="raise"``),
counted apart. ``compile=True`` and ``num_workers > 0`` are never drawn (minutes per run);
``device`` draws CUDA and MPS names, valid only where torch can use them.

    python scripts/fault_check.py [--kills 30] [--configs 1000] [--seed 0] [--examples 400]

Prints the counts, then, as the last line of stdout, one JSON object:
``{"kill_test": {...}, "config_fuzz": {...}, "ok": bool}``. Exit status 0 when every
check held, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import math
import multiprocessing as mp
import os
import random
import re
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.config import (  # noqa: E402
    COMPILE_MODES,
    LOSSES,
    NONFINITE_ACTIONS,
    OPTIMIZERS,
    TrainingConfig,
)
from workbench.data.datasets import load_digits  # noqa: E402
from workbench.models import build_model  # noqa: E402
from workbench.train import NonFiniteLossError, Trainer  # noqa: E402
from workbench.train import checkpoint as ckpt  # noqa: E402
from workbench.train.schedules import SCHEDULES  # noqa: E402

TMP = "<tmp>"  # replaced by a fresh folder in each fuzzed config


# ------------------------------------------------------------------------------ kill test
def _kill_config(folder: Path, epochs: int) -> TrainingConfig:
    return TrainingConfig(optimizer="adam", lr=2e-3, batch_size=32, epochs=epochs, seed=5, progress_bar=False,
                          checkpoint_dir=str(folder), checkpoint_every_steps=1, keep_checkpoints=2,
                          log_every_steps=3, eval_every_epochs=1)


def _worker(folder: str, splits: Any, epochs: int) -> None:
    """Child process: train (resuming from ``folder`` when it holds a checkpoint) and save
    the final weights and metric rows to ``folder/result.pt``."""
    torch.set_num_threads(1)
    logging.getLogger("workbench").setLevel(logging.ERROR)
    folder_p = Path(folder)
    torch.manual_seed(11)
    model = build_model("mlp", splits.task)
    trainer = Trainer(model, _kill_config(folder_p, epochs), splits.train, splits.val, task=splits.task)
    if ckpt.list_checkpoints(folder_p):
        trainer.load_checkpoint(folder_p)
    state = trainer.fit()
    rows = [[float(r["effective_step"]), float(r["train_loss"]), float(r["val_loss"]), float(r["val_accuracy"])]
            for r in state.history]
    result = {"params": [p.detach().clone() for p in model.parameters()], "rows": torch.tensor(rows,
                                                                                                dtype=torch.float64)}
    ckpt.atomic_save(result, folder_p / "result.pt")


def _run_child(folder: Path, splits: Any, epochs: int, kill_after: float | None) -> tuple[int, bool]:
    """Start a training child; SIGKILL it after ``kill_after`` seconds if still running.
    Returns (exit code, whether it was killed)."""
    ctx = mp.get_context("fork")
    p = ctx.Process(target=_worker, args=(str(folder), splits, epochs))
    p.start()
    killed = False
    if kill_after is not None:
        p.join(kill_after)
        if p.is_alive():
            os.kill(p.pid, signal.SIGKILL)
            killed = True
    p.join()
    return p.exitcode, killed


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num())


def kill_test(kills: int, rng: random.Random, splits: Any, epochs: int, log) -> dict[str, Any]:
    # one-time imports (the first optimizer imports torch._dynamo: seconds) happen here,
    # before forking, so the children start training at once
    with tempfile.TemporaryDirectory() as warm:
        Trainer(build_model("mlp", splits.task), _kill_config(Path(warm), epochs), splits.train, splits.val,
                task=splits.task)
    counts = {"kills": 0, "finished_before_kill": 0, "killed_during_save": 0, "checkpoints_checked": 0,
              "corrupt_or_nonfinite_checkpoints": 0, "stray_tmp_after_resume": 0, "resume_failed": 0,
              "resumes_exact": 0, "resumes_inexact": 0}
    with tempfile.TemporaryDirectory(prefix="fault_check_") as root:
        ref_dir = Path(root) / "reference"
        t0 = time.perf_counter()
        code, _ = _run_child(ref_dir, splits, epochs, None)
        duration = time.perf_counter() - t0
        if code != 0:
            raise RuntimeError(f"the reference run failed (exit code {code})")
        ref = torch.load(ref_dir / "result.pt", weights_only=True)
        log(f"kill test: reference run {duration:.2f} s; {kills} SIGKILLs")
        trial = 0
        while counts["kills"] < kills and trial < 3 * kills:  # a run that ends first is retried
            trial += 1
            folder = Path(root) / f"trial-{trial:03d}"
            when = rng.uniform(0.0, duration)
            code, killed = _run_child(folder, splits, epochs, when)
            if killed:
                counts["kills"] += 1
            else:
                counts["finished_before_kill"] += 1
            names = os.listdir(folder) if folder.is_dir() else []
            if any(ckpt._TMP_FILE.match(n) for n in names):
                counts["killed_during_save"] += 1
            for p in ckpt.list_checkpoints(folder):
                counts["checkpoints_checked"] += 1
                try:
                    bad = ckpt.nonfinite_tensors(ckpt.load_checkpoint_file(p)["model"])
                except ckpt.CheckpointError as exc:
                    bad = [str(exc)]
                if bad:
                    counts["corrupt_or_nonfinite_checkpoints"] += 1
                    log(f"  trial {trial}: bad checkpoint {p.name}: {bad[:3]}")
            (folder / "result.pt").unlink(missing_ok=True)
            code, _ = _run_child(folder, splits, epochs, None)
            if code != 0 or not (folder / "result.pt").is_file():
                counts["resume_failed"] += 1
                log(f"  trial {trial}: the resumed run failed (exit code {code})")
                continue
            stray = [n for n in os.listdir(folder) if n.endswith(".tmp")]
            if stray:
                counts["stray_tmp_after_resume"] += 1
                log(f"  trial {trial}: temporary files left after the resume: {stray}")
            res = torch.load(folder / "result.pt", weights_only=True)
            exact = all(torch.equal(a, b) for a, b in zip(ref["params"], res["params"])) and _same(
                ref["rows"], res["rows"])
            counts["resumes_exact" if exact else "resumes_inexact"] += 1
            if not exact:
                log(f"  trial {trial}: the resumed run differs from the reference (killed after {when:.2f} s)")
    counts["ok"] = (counts["kills"] == kills and counts["corrupt_or_nonfinite_checkpoints"] == 0
                    and counts["stray_tmp_after_resume"] == 0 and counts["resume_failed"] == 0
                    and counts["resumes_inexact"] == 0)
    return counts


# ------------------------------------------------------------------------------ config fuzz
GENERIC_INVALID = [None, -1, 0, 1.5, math.nan, math.inf, "bogus", True, [1], {}]

#: field -> (valid values, invalid values); TMP stands for a fresh folder
POOLS: dict[str, tuple[list[Any], list[Any]]] = {
    "optimizer": (list(OPTIMIZERS), ["adamax", 3]),
    "lr": ([1e-4, 1e-3, 1e-2, 0.1, 1.0], [0, -0.1, 11.0, math.nan, "0.01", True]),
    "weight_decay": ([0.0, 1e-4, 0.1], [-1e-3, 2.0, math.nan]),
    "momentum": ([0.0, 0.5, 0.9], [-0.1, 1.5]),
    "betas": ([(0.9, 0.999), (0.5, 0.9), [0.8, 0.99]], [(0.9,), (1.0, 0.9), "x", (0.9, -0.1)]),
    "eps": ([1e-8, 1e-6], [0, -1.0, 2.0]),
    "loss": (list(LOSSES), ["nll", 1]),
    "huber_delta": ([0.5, 1.0, 2.0], [0, -1.0]),
    "label_smoothing": ([0.0, 0.1, 0.5], [-0.1, 1.0]),
    "schedule": (list(SCHEDULES), ["linear", 1]),
    "warmup_steps": ([0, 0, 1, 5, 100, 10_000], [-1, 1.5]),
    "schedule_kwargs": ([{}, {}, {"min_lr": 1e-5}, {"gamma": 0.5}, {"step_size": 2}, {"pct_start": 0.3},
                         {"patience": 1}, {"bogus": 1}], ["x", [1]]),
    "epochs": ([1], [0, -1, 1.5, 100_001, "2"]),
    "max_steps": ([None, 1, 3, 1000], [0, -5, 2.5]),
    "batch_size": ([1, 8, 32, 64, 1000], [0, -8, 8.0]),
    "eval_batch_size": ([None, 1, 64], [0]),
    "grad_accum_steps": ([1, 2, 3, 7, 500], [0, -1, 10_001]),
    "max_grad_norm": ([None, 0.1, 1.0, 100.0], [0, -1.0, math.nan]),
    "drop_last": ([False, True], [1, "no"]),
    "num_workers": ([0], [-1, 1.5]),
    "precision": (["fp32", "bf16"], ["fp16", "fp64"]),
    "compile": ([False], [1, "yes"]),
    "compile_mode": (list(COMPILE_MODES), ["fast"]),
    "compile_fullgraph": ([False, True], [0]),
    "compile_dynamic": ([None, False, True], ["auto"]),
    "device": (["cpu"], ["cuda", "cuda:0", "cuda:banana", "mps", "tpu", "", 0]),
    "seed": ([0, 1, 2**32 - 1], [-1, 2**32, 1.0]),
    "deterministic": ([False, True], ["true"]),
    "on_nonfinite": (list(NONFINITE_ACTIONS), ["ignore"]),
    "eval_every_epochs": ([None, 1, 2], [0, -1]),
    "eval_every_steps": ([None, 1, 5], [0]),
    "monitor": (["val_accuracy", "val_loss", "train_loss", "val_f1"], ["accuracy", 3, ""]),
    "monitor_mode": (["max", "min"], ["up"]),
    "early_stopping_patience": ([None, 1, 3], [0]),
    "early_stopping_min_delta": ([0.0, 0.01], [-0.1, math.nan]),
    "restore_best": ([False, True], [1]),
    "checkpoint_dir": ([None, TMP], [3, ""]),
    "checkpoint_every_steps": ([None, 2, 50], [0]),
    "checkpoint_every_epochs": ([None, 1], [0]),
    "keep_checkpoints": ([1, 2, 5], [0, 1001]),
    "metrics_dir": ([None, TMP], [3]),
    "log_every_steps": ([1, 10, 50], [0]),
    "progress_bar": ([False, True], ["no"]),
}


def random_config(rng: random.Random) -> dict[str, Any]:
    """One fuzzed config dict (1-8 fields; see the module docstring)."""
    d: dict[str, Any] = {}
    for name in rng.sample(sorted(POOLS), rng.randint(1, 8)):
        valid, invalid = POOLS[name]
        pool = valid if rng.random() < 0.85 else invalid + GENERIC_INVALID
        d[name] = rng.choice(pool)
    return d


def _names_a_field(msg: str, fields: list[str]) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(f)}(?![A-Za-z0-9_])", msg) for f in fields)


def config_fuzz(n: int, rng: random.Random, splits: Any, log) -> dict[str, Any]:
    counts = {"configs": n, "rejected_naming_field": 0, "rejected_by_trainer_naming_field": 0,
              "rejected_at_first_evaluation": 0, "rejected_without_field": 0, "trained": 0,
              "stopped_nonfinite_loss": 0,
              "failed_after_accept": 0}
    failures: list[dict[str, Any]] = []
    logging.getLogger("workbench").setLevel(logging.CRITICAL)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="fault_fuzz_") as root:
        os.chdir(root)  # an empty checkpoint_dir / metrics_dir would write here
        try:
            for i in range(n):
                d = random_config(rng)
                fields = sorted(d)
                d = {k: (str(Path(root) / f"{k}-{i}") if v == TMP else v) for k, v in d.items()}
                full = {"epochs": 1, "progress_bar": False} | d
                try:
                    config = TrainingConfig(**full)
                except ValueError as exc:
                    if _names_a_field(str(exc), fields):
                        counts["rejected_naming_field"] += 1
                    else:
                        counts["rejected_without_field"] += 1
                        failures.append({"config": d, "stage": "TrainingConfig", "error": _line(exc)})
                    continue
                except Exception as exc:  # noqa: BLE001 - any other type is a failure
                    counts["rejected_without_field"] += 1
                    failures.append({"config": d, "stage": "TrainingConfig", "error": _line(exc)})
                    continue
                torch.manual_seed(0)
                stage = "Trainer"
                try:
                    with contextlib.redirect_stderr(io.StringIO()):
                        trainer = Trainer(build_model("mlp", splits.task), config, splits.train, splits.val,
                                          task=splits.task)
                        stage = "fit"
                        trainer.fit()
                    counts["trained"] += 1
                except NonFiniteLossError:
                    counts["stopped_nonfinite_loss"] += 1
                except Exception as exc:  # noqa: BLE001 - recorded and reported
                    if stage == "Trainer" and isinstance(exc, ValueError) and _names_a_field(str(exc), fields):
                        counts["rejected_by_trainer_naming_field"] += 1
                        continue
                    if (stage == "fit" and isinstance(exc, ValueError) and "monitor" in fields
                            and _names_a_field(str(exc), ["monitor"])):
                        # the one check the issue allows at the first evaluation: a monitor
                        # that the evaluation does not report
                        counts["rejected_at_first_evaluation"] += 1
                        continue
                    counts["failed_after_accept"] += 1
                    failures.append({"config": d, "stage": stage, "error": _line(exc),
                                     "where": _where(exc)})
                finally:
                    torch.use_deterministic_algorithms(False)
        finally:
            os.chdir(cwd)
    counts["ok"] = counts["rejected_without_field"] == 0 and counts["failed_after_accept"] == 0
    counts["failures"] = failures
    return counts


def _line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}"[:300]


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if "workbench" in f.filename] or frames
    f = mine[-1]
    return f"{Path(f.filename).name}:{f.lineno} ({f.name})"


def _json_safe(x: Any) -> Any:
    if isinstance(x, float) and not math.isfinite(x):
        return repr(x)
    if isinstance(x, dict):
        return {str(k): _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kills", type=int, default=30, help="kill trials (default 30)")
    ap.add_argument("--configs", type=int, default=1000, help="fuzzed configs (default 1000)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill times and the fuzz (default 0)")
    ap.add_argument("--examples", type=int, default=400,
                    help="digits examples for the kill test (the fuzz uses 200; default 400)")
    ap.add_argument("--epochs", type=int, default=3, help="epochs of the kill-test runs (default 3)")
    ap.add_argument("--quiet", action="store_true", help="print only the JSON line")
    args = ap.parse_args(argv)
    for name in ("kills", "configs", "examples", "epochs"):
        if getattr(args, name) < (0 if name in ("kills", "configs") else 1):
            ap.error(f"--{name} must be >= {0 if name in ('kills', 'configs') else 1}")

    def log(msg: str) -> None:
        if not args.quiet:
            print(msg, flush=True)

    torch.set_num_threads(1)
    rng = random.Random(args.seed)
    t0 = time.perf_counter()
    kills = kill_test(args.kills, rng, load_digits(seed=0, max_examples=args.examples), args.epochs, log) \
        if args.kills else {"ok": True}
    t1 = time.perf_counter()
    fuzz = config_fuzz(args.configs, rng, load_digits(seed=0, max_examples=200), log) \
        if args.configs else {"ok": True, "failures": []}
    t2 = time.perf_counter()
    log(f"kill test ({t1 - t0:.0f} s): " + ", ".join(f"{k} {v}" for k, v in kills.items()))
    log(f"config fuzz ({t2 - t1:.0f} s): " + ", ".join(f"{k} {v}" for k, v in fuzz.items() if k != "failures"))
    for f in fuzz["failures"][:20]:
        log(f"  {f['stage']}: {f['error']} {f.get('where', '')} <- {f['config']}")
    out = {"kill_test": kills, "config_fuzz": fuzz | {"failures": fuzz["failures"][:20]},
           "ok": bool(kills["ok"] and fuzz["ok"]), "seed": args.seed,
           "seconds": {"kill_test": round(t1 - t0, 1), "config_fuzz": round(t2 - t1, 1)}}
    print(json.dumps(_json_safe(out)), flush=True)
    return 0 if out["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
