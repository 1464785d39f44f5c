"""The helpers the benchmark scripts share (benchmarks/_common.py)."""

import json
import math

import numpy as np
import torch

from benchmarks._common import fmt_mean_std, is_missing, json_clean


def test_is_missing():
    assert is_missing(None) and is_missing(float("nan"))
    assert not is_missing(0.0) and not is_missing(0) and not is_missing("nan")


def test_fmt_mean_std_scales_and_drops_missing_or_single_seed_spread():
    assert fmt_mean_std(0.91234, 0.0123, "{:.2f}", 100) == "91.23 +- 1.23"
    assert fmt_mean_std(3.0, float("nan")) == "3.0"
    assert fmt_mean_std(3.0, 1.0, seeds=1) == "3.0"
    assert fmt_mean_std(float("nan"), 1.0) == "not reached"
    assert fmt_mean_std(None, None, missing="-") == "-"


def test_json_clean_gives_strict_json():
    x = {"a": [1.0, float("nan"), (2, float("inf"))], "t": torch.tensor(2.5), "n": np.float64(1.23456),
         "s": "ok"}
    out = json_clean(x, digits=2)
    assert out == {"a": [1.0, None, [2, None]], "t": 2.5, "n": 1.23, "s": "ok"}
    json.loads(json.dumps(out, allow_nan=False))  # raises if a NaN / inf survived
    assert json_clean(0.123456) == 0.123456 and not math.isnan(json_clean(0.5))
