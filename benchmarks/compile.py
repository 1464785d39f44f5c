"""Compile and precision: eager vs ``torch.compile`` (modes ``default``, ``reduce-overhead``,
``max-autotune``) and bf16 autocast, for training and for inference (issue 17, item 7).

Models and data (real batches, one fixed batch size each):

- ``mlp`` and ``cnn`` on digits (``[32, 1, 8, 8]`` normalised images);
- ``kim_cnn`` on SUBJ: batches of 50 sentences of similar length, each padded to a fixed
  length bucket (the smallest of ``--buckets`` that holds its longest sentence), so a compiled
  model meets only as many input shapes as there are buckets; the batches cycle through the
  buckets in a fixed shuffled order;
- a small transformer classifier (``workbench.models``, when the package has one), on the
  same SUBJ batches.

Variants: ``eager`` fp32 (the reference), ``eager-bf16`` (``torch.autocast`` with bfloat16),
``compile-<mode>`` fp32 for each mode, and ``compile-default-bf16``. Each is built from the
same initial weights. A training step is ``zero_grad``, forward (the compiled module, under
autocast for bf16), mean cross-entropy, ``backward``, ``torch.optim.Adam.step`` (eager, as
workbench's Trainer does); an inference step is a forward pass in eval mode under
``torch.inference_mode``. ``dynamic=False``: one static graph per bucket.

Figures per model, variant and phase (train / infer):

- ``compile_s``: the seconds of the first step on each distinct shape (when dynamo traces
  and inductor compiles) less as many steady steps: the compile cost a user pays. Inductor's
  on-disk caches are pointed at a fresh folder per run and the FX graph / AOT autograd caches
  are off, so the first variant of a run compiles cold; later variants of the same run may
  reuse kernels already built (the same C++ source), as a user's second compile would.
- ``step_ratio``: steady-state seconds per step over eager fp32's (medians over
  ``--rounds`` rotating rounds of ``--steps`` steps; below 1 is faster);
- ``payoff_steps``: ``compile_s / (eager step - variant step)``, the number of steps after
  which compiling has paid for itself, or ``"never"`` when the variant is not faster;
- ``first_loss_diff``: |loss - eager fp32 loss| on the first batch (inference: the loss of
  the logits), a sanity check that the variant computes the same function: 0 for compiled
  inference, ~1e-4 for bf16; in training the compiled variants draw their own dropout masks
  (inductor's random numbers), so their first losses differ by the dropout noise (~1e-2).

A variant that fails (no C++ compiler, an inductor error) is reported with its error and the
rest go on. The seed's claim, "torch.compile: 10-20% training speedup" (a GPU figure; on CPU,
published Inductor inference gains are 1.15-1.4x and training is often slower), is printed
beside the measured speedups.

    python benchmarks/compile.py [--quick] [--threads N] [--models mlp cnn kim_cnn transformer]
                                 [--modes default reduce-overhead max-autotune] [--out FILE.json]

``--quick``: the MLP and the Kim CNN only, no compiled bf16 variant, two length buckets,
fewer steps and rounds (about 10 minutes on a loaded 2-core machine: each cold compile of a
training step takes a minute or two there). Last line of stdout: one JSON object
with the key figures; ``--out`` also writes it to a file.
"""

from __future__ import annotations

import os
import tempfile

# fresh inductor caches for this run (set before torch is imported): compile seconds are
# charged cold, not read back from an earlier run's cache
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="wb_compile_bench_"))
os.environ.setdefault("TORCHINDUCTOR_FX_GRAPH_CACHE", "0")
os.environ.setdefault("TORCHINDUCTOR_AUTOGRAD_CACHE", "0")

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._common import json_clean  # noqa: E402
from workbench.data.datasets import load_dataset  # noqa: E402
from workbench.models import MODELS, build_model  # noqa: E402

MODES = ("default", "reduce-overhead", "max-autotune")
#: the seed's claim: "torch.compile: 10-20% training speedup", as step-time speedups
CLAIM = "torch.compile: 10-20% training speedup (seed; a GPU figure)"
CLAIM_SPEEDUP = (1.10, 1.20)
#: model -> (data set, batch size)
CASES = {"mlp": ("digits", 32), "cnn": ("digits", 32), "kim_cnn": ("subj", 50), "transformer": ("subj", 50)}


def transformer_name() -> str | None:
    """The name under which ``workbench.models`` builds a transformer classifier, if any."""
    names = [n for n in MODELS if "transformer" in n or n in ("tlm", "gpt")]
    return names[0] if names else None


def bucketed_batches(data, pad_id: int, batch_size: int, buckets: list[int], seed: int) -> list[dict]:
    """Length-bucketed, padded SUBJ batches: each sentence goes to the smallest bucket length
    that holds it (longer ones are truncated to the largest), batches of ``batch_size`` are
    formed within a bucket (the last partial batch of each bucket is dropped, so every batch
    has the same size) and padded to the bucket length. Returns dicts with ``inputs``
    ``long [B, bucket]`` and ``targets`` ``long [B]``, in a seeded shuffled order."""
    g = torch.Generator().manual_seed(seed)
    by_bucket: dict[int, list[int]] = {b: [] for b in buckets}
    for i in range(len(data)):
        n = len(data[i]["input"])
        by_bucket[next((b for b in buckets if n <= b), buckets[-1])].append(i)
    batches = []
    for b, idx in by_bucket.items():
        order = torch.tensor(idx)[torch.randperm(len(idx), generator=g)].tolist()
        for k in range(0, len(order) - batch_size + 1, batch_size):
            rows = [data[i] for i in order[k:k + batch_size]]
            x = torch.full((batch_size, b), pad_id, dtype=torch.long)
            for r, it in enumerate(rows):
                ids = torch.as_tensor(it["input"])[:b]
                x[r, :len(ids)] = ids
            batches.append({"inputs": x, "targets": torch.tensor([int(it["target"]) for it in rows])})
    perm = torch.randperm(len(batches), generator=g).tolist()
    return [batches[i] for i in perm]


def vision_batches(splits, batch_size: int, seed: int) -> list[dict]:
    """Full digits batches (``inputs`` float32 ``[B, 1, 8, 8]`` normalised, ``targets``
    long ``[B]``) in a seeded shuffled order, through the task's collator."""
    data = splits.train
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data), generator=g).tolist()
    collate = splits.task.collator()
    return [collate([data[i] for i in order[k:k + batch_size]])
            for k in range(0, len(order) - batch_size + 1, batch_size)]


def representatives(batches: list[dict]) -> list[dict]:
    """One batch per distinct input shape, in order of first appearance."""
    seen, out = set(), []
    for b in batches:
        s = tuple(b["inputs"].shape)
        if s not in seen:
            seen.add(s)
            out.append(b)
    return out


class Runner:
    """One variant of one model for one phase: its own model copy (and optimizer when
    training), the compiled module if any; :meth:`step` runs one step on a batch."""

    def __init__(self, variant: str, model_name: str, task, init: dict, phase: str, device: torch.device) -> None:
        self.variant, self.phase, self.device = variant, phase, device
        self.model = build_model(model_name, task).to(device)
        self.model.load_state_dict(init)
        self.bf16 = variant.endswith("bf16")
        mode = variant.removeprefix("compile-").removesuffix("-bf16") if variant.startswith("compile-") else None
        if phase == "infer":
            self.model.eval()
        self.fwd = torch.compile(self.model, mode=mode, dynamic=False) if mode else self.model
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3) if phase == "train" else None

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()

    def step(self, batch: dict) -> torch.Tensor:
        """One step on ``batch``: returns the loss (training; scalar float32) or the logits
        (inference; ``[B, num_classes]``)."""
        x, y = batch["inputs"], batch["targets"]
        if self.phase == "train":
            self.opt.zero_grad(set_to_none=True)
            with self._autocast():
                loss = F.cross_entropy(self.fwd(x).float(), y)
            loss.backward()
            self.opt.step()
            return loss
        with torch.inference_mode(), self._autocast():
            return self.fwd(x)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_steps(runner: Runner, batches: list[dict], n: int, start: int) -> list[float]:
    """Seconds of each of ``n`` steps over ``batches`` (cycled from index ``start``)."""
    out = []
    for k in range(n):
        b = batches[(start + k) % len(batches)]
        t0 = time.perf_counter()
        runner.step(b)
        _sync(runner.device)
        out.append(time.perf_counter() - t0)
    return out


def first_line(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0][:300] if msg else ''}"


def measure_model(model_name: str, variants: list[str], batches: list[dict], task, args, device) -> list[dict]:
    """Every variant of ``model_name`` for training and inference; one result row each."""
    rows = []
    reps = representatives(batches)
    batches = [{k: v.to(device) for k, v in b.items()} for b in batches]
    reps = [{k: v.to(device) for k, v in b.items()} for b in reps]
    torch.manual_seed(0)
    init = build_model(model_name, task).state_dict()
    for phase in ("train", "infer"):
        runners: dict[str, Runner] = {}
        first: dict[str, dict] = {}
        for v in variants:  # build, then the first step on every shape: the compile cost
            try:
                torch.manual_seed(1)
                r = Runner(v, model_name, task, init, phase, device)
                t0 = time.perf_counter()
                losses = []
                for b in reps:
                    out = r.step(b)
                    _sync(device)
                    losses.append(float(out.detach()) if phase == "train" else float(F.cross_entropy(out.float(), b["targets"])))
                first_s = time.perf_counter() - t0
                runners[v] = r
                first[v] = {"first_s": first_s, "first_loss": losses[0]}
            except Exception as exc:  # noqa: BLE001  (reported per variant, the others go on)
                first[v] = {"error": first_line(exc)}
                print(f"  {model_name:12} {phase:5} {v:28} FAILED: {first[v]['error']}", flush=True)
        # a few untimed steps per variant (allocator, caches), then rotating timed rounds
        for r in runners.values():
            timed_steps(r, batches, max(2, len(reps)), 0)
        times: dict[str, list[float]] = {v: [] for v in runners}
        names = list(runners)
        for rnd in range(args.rounds):
            for v in names[rnd % len(names):] + names[:rnd % len(names)]:
                times[v] += timed_steps(runners[v], batches, args.steps, rnd * args.steps)
        base = statistics.median(times["eager"]) if "eager" in times else None
        for v in variants:
            row = {"model": model_name, "phase": phase, "variant": v, "shapes": len(reps),
                   "batch_size": int(reps[0]["targets"].shape[0])}
            if "error" in first[v]:
                row.update({"error": first[v]["error"], "step_ratio": None, "compile_s": None, "payoff_steps": None})
                rows.append(row)
                continue
            step = statistics.median(times[v])
            q = statistics.quantiles(times[v], n=4) if len(times[v]) >= 4 else [min(times[v]), step, max(times[v])]
            compile_s = max(0.0, first[v]["first_s"] - len(reps) * step) if v.startswith("compile-") else 0.0
            ratio = step / base if base else None
            if not v.startswith("compile-"):
                payoff = 0 if ratio is not None and ratio < 1 else "never"
            elif base is not None and step < base:
                payoff = int(round(compile_s / (base - step)))
            else:
                payoff = "never"
            row.update({"step_s": step, "step_s_q1": q[0], "step_s_q3": q[-1], "step_ratio": ratio,
                        "speedup": 1 / ratio if ratio else None, "compile_s": compile_s, "payoff_steps": payoff,
                        "first_loss_diff": abs(first[v]["first_loss"] - first["eager"]["first_loss"])
                        if "first_loss" in first.get("eager", {}) else None})
            rows.append(row)
            print(f"  {model_name:12} {phase:5} {v:28} step {step * 1e3:8.2f} ms  x eager "
                  f"{ratio if ratio is not None else float('nan'):6.3f}  compile {compile_s:7.1f} s  "
                  f"pays off after {payoff} steps", flush=True)
    return rows


def compiler_info() -> str:
    cxx = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
    if cxx is None:
        return "no C++ compiler on PATH (inductor on CPU needs one)"
    try:
        return subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30).stdout.splitlines()[0]
    except Exception as exc:  # noqa: BLE001
        return f"{cxx}: {first_line(exc)}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true",
                    help="mlp and kim_cnn only, no compiled bf16 variant, two length buckets, fewer steps")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    ap.add_argument("--models", nargs="+", default=None, choices=list(CASES),
                    help="default: all (quick: mlp kim_cnn)")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    ap.add_argument("--no-bf16", action="store_true", help="leave out the bf16 autocast variants")
    ap.add_argument("--buckets", type=int, nargs="+", default=None,
                    help="padded lengths of the SUBJ batches (default 16 32 64 128; quick: 32 128)")
    ap.add_argument("--steps", type=int, default=None, help="timed steps per round (default 30; quick 10)")
    ap.add_argument("--rounds", type=int, default=None, help="rotating rounds (default 5; quick 3)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--out", default=None, help="also write the JSON line to this file")
    ap.add_argument("--note", default=None, help="a note stored in the JSON (e.g. what else ran on the machine)")
    args = ap.parse_args()
    args.models = args.models or (["mlp", "kim_cnn"] if args.quick else list(CASES))
    args.steps = args.steps or (10 if args.quick else 30)
    args.rounds = args.rounds or (3 if args.quick else 5)
    buckets = sorted(args.buckets or ([32, 128] if args.quick else [16, 32, 64, 128]))
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    # a compiled module gets one cache entry per shape, mode and phase: room for all of them
    for knob in ("cache_size_limit", "recompile_limit", "accumulated_cache_size_limit", "accumulated_recompile_limit"):
        if hasattr(torch._dynamo.config, knob):
            setattr(torch._dynamo.config, knob, max(256, getattr(torch._dynamo.config, knob)))
    warnings.filterwarnings("ignore", message=".*TensorFloat32.*")
    cxx = compiler_info()
    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} thread(s); C++ compiler: {cxx}")
    variants = ["eager"] + ([] if args.no_bf16 else ["eager-bf16"]) + [f"compile-{m}" for m in args.modes]
    if not args.no_bf16 and not args.quick and "default" in args.modes:
        variants.append("compile-default-bf16")
    results, skipped = [], {}
    cache: dict[str, object] = {}
    for model_name in args.models:
        name = model_name
        if model_name == "transformer":
            name = transformer_name()
            if name is None:
                skipped["transformer"] = "workbench.models has no transformer model yet"
                print("transformer: skipped (workbench.models has no transformer model yet)", flush=True)
                continue
        ds, bs = CASES[model_name]
        splits = cache.setdefault(ds, load_dataset(ds))
        batches = (vision_batches(splits, bs, seed=0) if ds == "digits"
                   else bucketed_batches(splits.train, splits.task.pad_id, bs, buckets, seed=0))
        try:
            build_model(name, splits.task)
        except Exception as exc:  # noqa: BLE001  (a model that cannot take this task)
            skipped[model_name] = first_line(exc)
            print(f"{model_name}: skipped ({skipped[model_name]})", flush=True)
            continue
        print(f"{model_name} ({name}) on {ds}: {len(batches)} batches of {bs}, "
              f"{len(representatives(batches))} input shape(s)", flush=True)
        results += measure_model(name, variants, batches, splits.task, args, device)
    print()
    print(f"{'model':12} {'phase':5} {'variant':26} {'x eager':>8} {'speedup':>8} {'compile s':>10} {'pays off after':>15}")
    for r in results:
        if r.get("error"):
            print(f"{r['model']:12} {r['phase']:5} {r['variant']:26} FAILED: {r['error']}")
            continue
        print(f"{r['model']:12} {r['phase']:5} {r['variant']:26} {r['step_ratio']:8.3f} {r['speedup']:8.3f} "
              f"{r['compile_s']:10.1f} {str(r['payoff_steps']) + ' steps':>15}")
    train_compile = [r["speedup"] for r in results if r["phase"] == "train" and r["variant"].startswith("compile-")
                     and r.get("speedup")]
    print(f"\nClaim: {CLAIM}, i.e. speedup {CLAIM_SPEEDUP[0]:.2f}-{CLAIM_SPEEDUP[1]:.2f}x. Measured training "
          f"speedups of the compiled variants here ({device}): "
          + (f"{min(train_compile):.2f}-{max(train_compile):.2f}x" if train_compile else "none measured"))
    out = json_clean({
        "benchmark": "compile", "quick": args.quick, "device": str(device), "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(), "cxx": cxx, "buckets": buckets, "steps": args.steps,
        "rounds": args.rounds, "claim": CLAIM, "claim_speedup": list(CLAIM_SPEEDUP), "skipped": skipped,
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores", "note": args.note,
        "load_average_1min": [load_start, os.getloadavg()[0] if hasattr(os, "getloadavg") else None],
        "results": [{k: r.get(k) for k in ("model", "phase", "variant", "shapes", "step_s", "step_ratio", "speedup",
                                           "compile_s", "payoff_steps", "first_loss_diff", "error")}
                    for r in results]}, digits=5)
    line = json.dumps(out)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
