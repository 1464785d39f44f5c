"""Honest timing in the experiment runner (issue 20, item 2): the untimed warm-up before any
timed run, and the verdict rules of :func:`workbench.experiment.time_verdict` / ``verdicts``
(no verdict below 3 seeds; a time ratio is a difference only when explained by examples,
curves, or a time difference beyond the run-to-run spread). Plus the number formatting
every table, title and sentence uses (:mod:`workbench.report`)."""

from __future__ import annotations

import math
import time

import pytest
import torch

from tests.tiny import TinyNet, tiny_data
from workbench.config import TrainingConfig
from workbench.data.datasets import DataSplits
from workbench.experiment import (
    Experiment,
    RunRecord,
    Target,
    Variant,
    summarize,
    time_verdict,
    verdicts,
)
from workbench.report import (
    format_count,
    format_mean_std,
    format_number,
    format_percent,
    format_ratio,
    format_seconds,
)

NAN = math.nan

# --------------------------------------------------------------------------- time_verdict


@pytest.mark.parametrize("n, text", [(1, "one seed: no verdict"), (2, "2 seeds: no verdict")])
def test_fewer_than_three_seeds_give_no_verdict_even_for_a_large_ratio(n, text):
    kind, reason = time_verdict(n, 0.2, 0.0, 0.2, 0.0, curves_differ=True)
    assert (kind, reason) == ("no verdict", text)


def test_nan_ratio_gives_no_ratio():
    assert time_verdict(3, NAN)[0] == "no ratio"


def test_ratio_within_seed_spread_is_no_difference():
    kind, reason = time_verdict(3, 0.9, 0.15, 0.8, 0.01, curves_differ=True)
    assert kind == "same" and "seed-to-seed spread" in reason


def test_ratio_explained_by_fewer_examples_is_cheaper():
    kind, reason = time_verdict(3, 0.5, 0.05, 0.5, 0.05, curves_differ=True)
    assert kind == "cheaper" and "2.00x faster" in reason and "0.50x the examples" in reason


def test_ratio_explained_by_different_curves_is_a_difference():
    kind, reason = time_verdict(5, 1.5, 0.1, 1.0, 0.0, curves_differ=True)
    assert kind == "dearer" and "curves differ" in reason


def test_same_work_within_run_to_run_spread_is_timing_noise():
    # the case: a "dynamic" schedule whose lr curve equals the baseline's
    kind, reason = time_verdict(3, 0.72, 0.05, 1.0, 0.0, curves_differ=False, time_diff_s=-2.0,
                                run_spread_s=3.0)
    assert kind == "same" and "timing noise" in reason


def test_same_work_without_a_measured_spread_is_not_a_difference():
    assert time_verdict(3, 0.72, 0.05, 1.0, 0.0, curves_differ=False)[0] == "same"


def test_same_work_beyond_run_to_run_spread_is_a_difference():
    # e.g. mixed precision: same examples and curves, each step cheaper by more than the noise
    kind, reason = time_verdict(3, 0.6, 0.05, 1.0, 0.0, curves_differ=False, time_diff_s=-4.0,
                                run_spread_s=1.0)
    assert kind == "cheaper" and "exceeds the run-to-run spread" in reason


# --------------------------------------------------------------------------- summarize + verdicts


def _rows(accs, lr=1e-3, wall_per_eval=1.0):
    return [{"step": 10 * (i + 1), "effective_step": 10 * (i + 1), "epoch": i, "examples_seen": 100 * (i + 1),
             "wall_time": wall_per_eval * (i + 1), "lr": lr, "val_loss": 1.0 - a, "val_accuracy": a}
            for i, a in enumerate(accs)]


def _record(variant, seed, rows, target):
    from workbench.experiment import time_to_target

    ttt, ett, stt = time_to_target(rows, target)
    return RunRecord("d", variant, seed, rows, {"test_accuracy": 0.9}, rows[-1]["wall_time"],
                     rows[-1]["examples_seen"], rows[-1]["effective_step"], "done", {},
                     time_to_target_s=ttt, examples_to_target=ett, steps_to_target=stt,
                     final_metric=rows[-1]["val_accuracy"])


def test_summary_flags_identical_curves_and_verdict_calls_it_noise():
    target = Target("val_accuracy", 0.8)
    accs = [0.5, 0.7, 0.85, 0.9]
    records = []
    for seed, base_wall, var_wall in ((0, 1.0, 0.7), (1, 1.6, 1.1), (2, 0.6, 0.45)):
        records.append(_record("base", seed, _rows(accs, wall_per_eval=base_wall), target))
        records.append(_record("same_work", seed, _rows(accs, wall_per_eval=var_wall), target))
        records.append(_record("fewer", seed, _rows([0.5, 0.85, 0.9, 0.9], wall_per_eval=base_wall), target))
    summary = summarize(records, {"d": target}, "base")
    row = summary.set_index("variant")
    assert not row.loc["same_work", "curves_differ"] and row.loc["fewer", "curves_differ"]
    assert row.loc["base", "run_spread_s"] == pytest.approx(math.sqrt(((3 - 3.2) ** 2 + (4.8 - 3.2) ** 2
                                                                       + (1.8 - 3.2) ** 2) / 2))
    lines = {line.split(" on ")[0]: line for line in verdicts(summary, "base")}
    assert "timing noise" in lines["same_work"] and "faster" not in lines["same_work"]
    assert "cheaper: 1.50x faster" in lines["fewer"]
    assert "0.67x the examples" in lines["fewer"] and "its examples (200 against 300)" in lines["fewer"]


def test_one_seed_verdict_has_no_spread_and_no_claim():
    target = Target("val_accuracy", 0.8)
    records = [_record("base", 0, _rows([0.5, 0.7, 0.85]), target),
               _record("fast", 0, _rows([0.85, 0.9, 0.9]), target)]
    (line,) = verdicts(summarize(records, {"d": target}, "base"), "base")
    assert line.endswith("Test accuracy 90.0%.") and "one seed: no verdict" in line
    assert "±" not in line and "faster" not in line and "cheaper" not in line


# --------------------------------------------------------------------------- warm-up


class _OnceSlow(torch.nn.Module):
    """The first training-mode forward pass in the process sleeps (a stand-in for one-off
    costs: kernel selection, allocator growth, lazy imports); later ones do not.
    (Evaluation passes are not timed, so they do not count.)"""

    paid = False
    delay_s = 0.4
    train_forwards = 0

    def __init__(self):
        super().__init__()
        self.net = TinyNet(features=6, classes=3)

    def forward(self, x):
        _OnceSlow.train_forwards += self.training
        if self.training and not _OnceSlow.paid:
            _OnceSlow.paid = True
            time.sleep(self.delay_s)
        return self.net(x)


@pytest.fixture(scope="module")
def tiny_splits():
    data, task = tiny_data(n=96, seed=0)
    return DataSplits("tiny", data.subset(list(range(48))), data.subset(list(range(48, 72))),
                      data.subset(list(range(72, 96))), task)


def _experiment(splits, warmup, calls):
    def factory(task):
        calls.append("model")
        return _OnceSlow()

    config = TrainingConfig(optimizer="adam", lr=0.05, batch_size=16, epochs=2, progress_bar=False)
    return Experiment(splits, factory, config, [Variant("base"), Variant("other", config={"lr": 0.02})],
                      seeds=[0], target=Target("val_accuracy", 0.99), progress=False, evaluate_test=False,
                      warmup=warmup)


@pytest.mark.parametrize("warmup", [True, False])
def test_warm_up_cost_is_paid_by_no_timed_run(tiny_splits, warmup):
    _OnceSlow.paid = False
    calls = []
    exp = _experiment(tiny_splits, warmup, calls)
    result = exp.run()
    first = result.records[0]
    assert [r.variant for r in result.records] == ["base", "other"]
    if warmup:
        assert len(calls) == 4  # one warm-up model per variant, then one per run
        _OnceSlow.paid, _OnceSlow.train_forwards = False, 0
        exp.warm_up()
        assert _OnceSlow.train_forwards == 2  # one optimizer step per variant, no more
        assert exp.warmup_s >= _OnceSlow.delay_s
        assert all(r.wall_time < _OnceSlow.delay_s for r in result.records)
        # the warm-up leaves nothing behind: rows start at the first step of the timed run
        assert first.rows[0]["effective_step"] >= 1 and first.examples_seen == 2 * 48
    else:
        assert len(calls) == 2 and exp.warmup_s == 0.0
        assert first.wall_time >= _OnceSlow.delay_s  # without it the first run pays


def test_warm_up_does_not_change_results(tiny_splits):
    a = _experiment(tiny_splits, True, []).run()
    b = _experiment(tiny_splits, False, []).run()
    for ra, rb in zip(a.records, b.records):
        assert [r["val_accuracy"] for r in ra.rows if "val_accuracy" in r] == \
            [r["val_accuracy"] for r in rb.rows if "val_accuracy" in r]


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize("x, unit, text", [
    (10673, "", "10,673"), (10673.4, "", "10,700"), (1234.5, "", "1,230"), (26.71, "s", "26.7 s"),
    (0.00158489, "", "0.00158"), (3.16979e-05, "", "3.17e-5"), (9.996, "", "10.0"), (0.5, "", "0.500"),
    (NAN, "s", "—"), (None, "", "—"), (0, "s", "0 s"), (94.33, "%", "94.3%"),
])
def test_format_number(x, unit, text):
    assert format_number(x, unit=unit) == text


def test_format_helpers():
    assert format_seconds(3.912) == "3.91 s"
    assert format_ratio(1.3813) == "1.38x" and format_ratio(NAN) == "—"
    assert format_percent(0.9433) == "94.3%"
    assert format_count(1437.0) == "1,437"
    assert format_mean_std(26.7, 1.234, 3, "s") == "26.7 ± 1.2 s (3 seeds)"
    assert format_mean_std(26.7, 0.0, 1, "s") == "26.7 s (one seed)"
    with pytest.raises(ValueError, match="sig must be >= 1"):
        format_number(1.0, sig=0)
