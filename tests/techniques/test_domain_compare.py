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


def test_notebook_run_features_and_figures():
    from workbench.techniques.domain import (
        domain_curves_figure,
        features,
        lambda_schedule_figure,
        projection_figure,
        train_dann,
    )

    ds = domain_splits()
    rows_seen = []
    res = train_dann(ds, smoke=True, on_eval=rows_seen.append)
    assert rows_seen and "val_accuracy/mr" in rows_seen[-1][-1] and "domain_accuracy" in rows_seen[-1][-1]
    assert set(res["test"]) == {"source", "target"}
    f = features(res["model"], ds, n=30)
    assert f["features"].shape == (60, res["model"].feature_dim) and f["domain"].tolist() == [0] * 30 + [1] * 30
    assert len(projection_figure(f, ["pros_cons", "mr"]).data) == 2
    assert len(domain_curves_figure(rows_seen[-1], ["pros_cons", "mr"]).data) == 3
    lam = lambda_schedule_figure(gamma=10).data[0].y
    assert lam[0] == 0.0 and lam[-1] == pytest.approx(math.tanh(5))
