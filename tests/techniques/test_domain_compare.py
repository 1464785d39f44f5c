"""The domain-adaptation comparison runs every variant and summarises it (tiny data)."""

import math

import pytest

from tests.techniques.settings import domain_splits
from workbench.config import TrainingConfig
from workbench.techniques.domain import (
    VARIANTS,
    beats_beyond_spread,
    gap_closed,
    run_variant,
    summarize,
)


def test_every_variant_runs_and_the_summary_reads_it():
    ds = domain_splits()
    cfg = TrainingConfig(epochs=1, batch_size=32, optimizer="adam", lr=1e-2, restore_best=True)
    runs = [run_variant(ds, v, 0, cfg, model="boe") for v in VARIANTS]
    assert [r["variant"] for r in runs] == list(VARIANTS)
    for r in runs:
        assert 0.0 <= r["target_test_accuracy"] <= 1.0 and r["steps"] > 0
    dann = next(r for r in runs if r["variant"] == "dann")
    assert "domain_accuracy" in dann["history"][-1]
    joint = next(r for r in runs if r["variant"] == "joint_adaptive_ln")
    assert "val_accuracy/mr" in joint["history"][-1]  # validated on both domains
    s = summarize(runs)
    assert all(math.isnan(r["target_test_accuracy_std"]) for r in s)  # one seed: no spread
    assert beats_beyond_spread(s) is None


def test_gap_closed_and_spread_rule():
    s = [{"variant": "source_only", "target_test_accuracy_mean": 0.6, "target_test_accuracy_std": 0.01, "seeds": 3},
         {"variant": "dann", "target_test_accuracy_mean": 0.65, "target_test_accuracy_std": 0.01, "seeds": 3},
         {"variant": "target_supervised", "target_test_accuracy_mean": 0.8, "target_test_accuracy_std": 0.0,
          "seeds": 3}]
    assert gap_closed(s) == pytest.approx(0.25)
    assert beats_beyond_spread(s) is True
    s[1]["target_test_accuracy_std"] = 0.05
    assert beats_beyond_spread(s) is False


def test_unknown_variant():
    with pytest.raises(ValueError, match="variant"):
        run_variant(domain_splits(), "mmd", 0, TrainingConfig())
