"""Load test of the export bundle's server, and single-example latency of eager vs
torch.export vs onnxruntime (issue 18).

    python benchmarks/export_server.py [--quick] [--dataset digits|subj]

1. Exports a bundle of the data set's recipe model (random init, seed 0: latency does not
   depend on the weights) into a temporary folder.
2. Starts ``server.py`` with uvicorn on 127.0.0.1 (a free port; one worker, one
   onnxruntime thread) and sends a fixed number of ``POST /predict`` requests, one real
   test-split example each, from a fixed number of concurrent clients, stopping at the time
   limit whatever is left; reports requests/s, p50/p95/p99 latency and the error count
   (any answer other than 200, or a failed connection).
3. Times one example through the eager model, the reloaded ``model.pt2`` and onnxruntime
   on ``model.onnx`` in this process (one thread each; warm-up first; median and p95).

Traffic goes to 127.0.0.1 only; every loop is bounded in count and time. The last line
printed is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import json_clean  # noqa: E402

SETTINGS = {
    "quick": {"requests": 300, "concurrency": 4, "time_limit_s": 30.0, "latency_reps": 200},
    "full": {"requests": 3000, "concurrency": 8, "time_limit_s": 120.0, "latency_reps": 2000},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    a = np.asarray(values) * 1000.0
    return {f"p{q}_ms": float(np.percentile(a, q)) for q in (50, 95, 99)}


async def _load(url: str, bodies: list[dict], requests: int, concurrency: int,
                time_limit: float) -> dict:
    import httpx

    latencies: list[float] = []
    errors = 0
    sent = 0
    deadline = time.monotonic() + time_limit
    lock = asyncio.Lock()

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors, sent
        while True:
            async with lock:
                if sent >= requests or time.monotonic() > deadline:
                    return
                i = sent
                sent += 1
            t0 = time.perf_counter()
            try:
                r = await client.post("/predict", json=bodies[i % len(bodies)])
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append(time.perf_counter() - t0)
            errors += not ok

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:
        t0 = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    return {"requests_planned": requests, "requests_sent": sent, "concurrency": concurrency,
            "time_limit_s": time_limit, "wall_s": wall, "requests_per_s": sent / wall if wall else None,
            "errors": errors, **_percentiles(latencies)}


def _single_latency(fn, x, reps: int) -> dict[str, float]:
    with torch.no_grad():
        for _ in range(min(20, reps)):
            fn(x)
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn(x)
            times.append(time.perf_counter() - t0)
    a = np.asarray(times) * 1000.0
    return {"median_ms": float(statistics.median(a)), "p95_ms": float(np.percentile(a, 95)),
            "reps": reps}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer requests and repetitions")
    parser.add_argument("--dataset", default="digits", choices=["digits", "subj"])
    args = parser.parse_args(argv)
    cfg = SETTINGS["quick" if args.quick else "full"]
    torch.set_num_threads(1)

    import onnxruntime as ort

    from workbench.export import export_bundle
    from workbench.models import build_model
    from workbench.recipes import baseline_recipe, load_splits

    splits = load_splits(args.dataset)
    name = baseline_recipe(args.dataset, splits=splits).model
    torch.manual_seed(0)
    model = build_model(name, splits.task).eval()
    text = splits.task.modality == "text"
    n = min(200, len(splits.test))
    bodies = [{"inputs": [splits.test.texts[i] if text else splits.test[i]["input"].tolist()]}
              for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bundle"
        t0 = time.perf_counter()
        manifest = export_bundle(model, splits.task, out, formats=("torch_export", "onnx"),
                                 vocab=splits.vocab, model_name=name)
        export_s = time.perf_counter() - t0
        if manifest["formats_failed"]:
            raise SystemExit(f"export failed: {manifest['formats_failed']}")
        port = _free_port()
        env = dict(os.environ, WORKBENCH_THREADS="1")
        server = subprocess.Popen([sys.executable, "-m", "uvicorn", "server:app", "--app-dir", str(out),
                                   "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        url = f"http://127.0.0.1:{port}"
        try:
            import httpx

            deadline = time.monotonic() + 60
            while True:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start: {server.stdout.read() if server.poll() is not None else 'timeout'}")
                try:
                    if httpx.get(url + "/health", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.2)
            load = asyncio.run(_load(url, bodies, cfg["requests"], cfg["concurrency"], cfg["time_limit_s"]))
        finally:
            server.terminate()
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.kill()

        x = splits.task.collator()([splits.test[0]])["inputs"]
        prog = torch.export.load(str(out / "model.pt2")).module()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 1
        sess = ort.InferenceSession(str(out / "model.onnx"), opts, providers=["CPUExecutionProvider"])
        xn = x.numpy()
        reps = cfg["latency_reps"]
        latency = {
            "eager": _single_latency(model, x, reps),
            "torch_export": _single_latency(prog, x, reps),
            "onnxruntime": _single_latency(lambda _: sess.run(None, {"input": xn}), x, reps),
        }
    result = {"benchmark": "export_server", "mode": "quick" if args.quick else "full",
              "dataset": args.dataset, "model": name, "export_s": export_s,
              "server": load, "single_example_latency": latency,
              "threads": {"torch": 1, "onnxruntime": 1, "server_workers": 1}}
    print(f"server: {load['requests_sent']} requests at concurrency {load['concurrency']} in "
          f"{load['wall_s']:.1f} s: {load['requests_per_s']:.1f} req/s, p50 {load['p50_ms']:.1f} ms, "
          f"p95 {load['p95_ms']:.1f} ms, p99 {load['p99_ms']:.1f} ms, errors {load['errors']}")
    for k, v in latency.items():
        print(f"single example, {k}: median {v['median_ms']:.3f} ms, p95 {v['p95_ms']:.3f} ms")
    print(json.dumps(json_clean(result, digits=4)))
    return result


if __name__ == "__main__":
    main()
