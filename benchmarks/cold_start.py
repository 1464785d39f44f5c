"""Cold start (issue 19 item 4): the package import and the first ``load_dataset("subj")``
in a new process, with an empty and with a filled cache of built splits
(:mod:`workbench.data.cache`).

Every figure comes from a fresh Python process (what a notebook kernel pays in its first
cells), timed inside it with ``time.perf_counter``:

- ``import workbench`` (the configuration layer only);
- ``from workbench.data.datasets import load_dataset`` (torch, the data layer);
- ``load_dataset("subj")`` with an empty cache folder (it reads the NLTK corpus, tokenises,
  splits, builds the vocabulary and writes the cache file), then again in a new process
  (a cache hit), and with ``cache=False`` (today's path without a cache);
- whether NLTK had been imported by the end of each step.

Wall seconds and the process's CPU seconds (``time.process_time``; less sensitive to
other processes on a shared machine) are both reported.

``--before REF`` also measures the package as it was at git revision ``REF`` (``git
archive REF workbench`` into a temporary folder), for a before/after table.

    python benchmarks/cold_start.py [--quick] [--repeats N] [--before REF]

``--quick``: one process per figure. Default: 3 (medians). The cache goes to a temporary
folder (``WORKBENCH_CACHE_DIR``), so the repository's cache is not touched. Last stdout
line: ``{"benchmark": "cold_start", "results": [{"code", "step", "seconds", ...}, ...]}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_SHARED_NLTK = ROOT.parent / "shared" / "nltk_data"

CHILD = r"""
import json, sys, time
t0, c0 = time.perf_counter(), time.process_time()
import workbench
t1, c1 = time.perf_counter(), time.process_time()
nltk_at_workbench = "nltk" in sys.modules
from workbench.data.datasets import load_dataset
t2, c2 = time.perf_counter(), time.process_time()
nltk_at_import = "nltk" in sys.modules
kwargs = json.loads(sys.argv[1])
splits = load_dataset("subj", **kwargs)
t3, c3 = time.perf_counter(), time.process_time()
assert len(splits.train) == 8000, splits
print(json.dumps({"import_workbench": [t1 - t0, c1 - c0], "import_data": [t2 - t1, c2 - c1],
                  "load_subj": [t3 - t2, c3 - c2],
                  "nltk_imported": {"import_workbench": nltk_at_workbench, "import_data": nltk_at_import,
                                    "load_subj": "nltk" in sys.modules}}))
"""


def child(code_root: Path, cache: str, kwargs: dict) -> dict:
    env = os.environ | {"PYTHONPATH": str(code_root), "WORKBENCH_CACHE_DIR": cache}
    if _SHARED_NLTK.is_dir() and not env.get("NLTK_DATA"):
        env["NLTK_DATA"] = str(_SHARED_NLTK)
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(kwargs)], capture_output=True, text=True,
                         env=env, cwd=code_root, timeout=600)
    if out.returncode != 0:
        raise RuntimeError(f"child process failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def measure(label: str, code_root: Path, repeats: int, has_cache: bool) -> list[dict]:
    runs: dict[str, list[dict]] = {"empty cache": [], "cache hit": [], "cache=False": []}
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="wb-cold-") as tmp:
            runs["empty cache"].append(child(code_root, tmp, {}))
            if has_cache:
                runs["cache hit"].append(child(code_root, tmp, {}))
                runs["cache=False"].append(child(code_root, tmp, {"cache": False}))
    rows = []
    for case, rs in runs.items():
        if not rs:
            continue
        for step in ("import_workbench", "import_data", "load_subj"):
            if step != "load_subj" and case != "empty cache":
                continue  # the imports do not depend on the cache
            sec = statistics.median(r[step][0] for r in rs)
            cpu = statistics.median(r[step][1] for r in rs)
            rows.append({"code": label, "step": step if step != "load_subj" else f"load_subj ({case})",
                         "seconds": sec, "cpu_seconds": cpu,
                         "nltk_imported": any(r["nltk_imported"][step] for r in rs), "processes": len(rs)})
            print(f"  {label:<8} {rows[-1]['step']:<28} {sec:7.3f} s wall, {cpu:7.3f} s CPU  (NLTK imported "
                  f"by then: {rows[-1]['nltk_imported']}; median of {len(rs)} processes)", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="one process per figure")
    p.add_argument("--repeats", type=int, default=None, help="processes per figure (default 3; --quick 1)")
    p.add_argument("--before", default=None, help="also measure the package at this git revision")
    args = p.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    print(f"cold_start: fresh processes, {repeats} per figure, python {sys.version.split()[0]}", flush=True)
    results = measure("now", ROOT, repeats, has_cache=True)
    if args.before:
        with tempfile.TemporaryDirectory(prefix="wb-before-") as tmp:
            archive = subprocess.run(["git", "archive", args.before, "workbench"], cwd=ROOT, capture_output=True,
                                     check=True).stdout
            subprocess.run(["tar", "-x", "-C", tmp], input=archive, check=True)
            results += measure(args.before[:10], Path(tmp), repeats, has_cache=False)
    print(json.dumps({"benchmark": "cold_start", "repeats": repeats, "results": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
