"""workbench.scale_out: reading saved benchmark results for the notebook, and argument checks
(the data-parallel runs themselves are exercised by tests/test_distributed.py and the
scale_out notebook)."""

from __future__ import annotations

import json
import os
import time

import pytest

from workbench import scale_out as so


def test_load_benchmark_result_reads_the_newest_saved_run(tmp_path):
    assert so.load_benchmark_result("compile", tmp_path) is None
    assert so.load_benchmark_result("compile", tmp_path / "missing") is None
    old = tmp_path / "compile-quick-2026-01-01.txt"
    old.write_text("table\n" + json.dumps({"benchmark": "compile", "run": "old"}) + "\n")
    new = tmp_path / "compile-full-2026-02-01.txt"
    new.write_text("eager 1.0\n" + json.dumps({"benchmark": "compile", "run": "new"}) + "\ntrailing words\n")
    t = time.time()
    os.utime(old, (t - 100, t - 100))
    got = so.load_benchmark_result("compile", tmp_path)
    assert got["run"] == "new" and got["_source"] == str(new)
    # the date in the name decides, not the modification time (a fresh clone gives every
    # file the same one); a full run wins over a quick run of the same date
    os.utime(old, (t + 100, t + 100))
    assert so.load_benchmark_result("compile", tmp_path)["run"] == "new"
    same_day = tmp_path / "compile-quick-2026-02-01.json"
    same_day.write_text(json.dumps({"benchmark": "compile", "run": "quick"}))
    os.utime(same_day, (t + 200, t + 200))
    assert so.load_benchmark_result("compile", tmp_path)["run"] == "new"
    (tmp_path / "scale-out-quick.txt").write_text("no json at all\n")
    assert so.load_benchmark_result("scale-out", tmp_path) is None


def test_ratio_rows_flattens_every_ratio_with_its_labels():
    result = {"benchmark": "compile", "results": [
        {"model": "cnn", "mode": "default", "phase": "train", "step_time_ratio": 1.3, "compile_s": 20.0},
        {"model": "kim_cnn", "mode": "max-autotune", "phase": "inference", "step_time_ratio": 0.8}],
        "summary": {"best": {"speedup_ratio": 0.8}}}
    rows = so.ratio_rows(result)
    assert {"case": "cnn / default / train", "figure": "step_time_ratio", "value": 1.3} in rows
    assert {"case": "kim_cnn / max-autotune / inference", "figure": "step_time_ratio", "value": 0.8} in rows
    assert any(r["figure"] == "speedup_ratio" and r["value"] == 0.8 for r in rows)
    assert len(rows) == 3  # compile_s is not a ratio


def test_train_data_parallel_checks_its_arguments():
    with pytest.raises(ValueError, match="nprocs"):
        so.train_data_parallel("digits", nprocs=0)
    with pytest.raises(ValueError, match="strategy"):
        so.train_data_parallel("digits", nprocs=2, strategy="single")
