"""Tests for workbench.experiment: time-to-target, summaries, the runner, and a real-data run.

Hand-made rows and records check the arithmetic exactly; tiny synthetic tensors
(tests/tiny.py) check the runner's mechanics quickly; the last tests run a small
experiment on the real digits data set (scikit-learn) and build the plots from it.
"""

from __future__ import annotations

import json
import math
import statistics

import pandas as pd
import plotly.graph_objects as go
import pytest
import torch

from tests.tiny import TinyNet, tiny_data
from workbench import plots
from workbench.config import TrainingConfig
from workbench.data.datasets import DataSplits
from workbench.experiment import (
    HISTORY_COLUMNS,
    Experiment,
    ExperimentResult,
    RunRecord,
    Target,
    Variant,
    summarize,
    time_to_target,
)
from workbench.train import Event, Technique

NAN = math.nan

#: the measurement contract of docs/architecture.md, written out independently of the code
CONTRACT_HISTORY = ["dataset", "variant", "seed", "step", "effective_step", "epoch", "examples_seen",
                    "wall_time", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy"]
CONTRACT_SUMMARY = ["dataset", "variant", "seeds", "target_metric", "target_value", "reached",
                    "time_to_target_s_mean", "time_to_target_s_std", "examples_to_target_mean",
                    "examples_to_target_std", "final_metric_mean", "final_metric_std",
                    "test_accuracy_mean", "test_accuracy_std", "time_to_target_ratio",
                    "time_to_target_ratio_std", "examples_to_target_ratio", "examples_to_target_ratio_std"]


# --------------------------------------------------------------------------- time_to_target

def _row(step, wall, examples, **metrics):
    return {"step": step, "effective_step": step, "epoch": 0, "examples_seen": examples,
            "wall_time": wall, "lr": 1e-3} | metrics


ROWS = [
    _row(5, 0.5, 50, train_loss=1.0, val_loss=NAN, val_accuracy=NAN),   # a training-only row
    _row(10, 1.0, 100, val_loss=0.9, val_accuracy=0.50),
    _row(15, 1.4, 150, train_loss=0.5),                                 # metric key absent
    _row(20, 2.0, 200, val_loss=0.6, val_accuracy=0.80),
    _row(30, 3.0, 300, val_loss=0.4, val_accuracy=0.90),
    _row(40, 4.0, 400, val_loss=0.5, val_accuracy=0.85),
]


def test_time_to_target_first_row_reaching_max_target():
    # 0.80 reaches ">= 0.8" exactly; the later, better rows do not count
    assert time_to_target(ROWS, Target("val_accuracy", 0.8)) == (2.0, 200.0, 20.0)
    assert time_to_target(ROWS, Target("val_accuracy", 0.81)) == (3.0, 300.0, 30.0)
    assert time_to_target(ROWS, Target("val_accuracy", 0.5)) == (1.0, 100.0, 10.0)


def test_time_to_target_mode_min():
    # val_loss <= 0.6 first at step 20; <= 0.45 first at step 30 (the later 0.5 does not matter)
    assert time_to_target(ROWS, Target("val_loss", 0.6, mode="min")) == (2.0, 200.0, 20.0)
    assert time_to_target(ROWS, Target("val_loss", 0.45, mode="min")) == (3.0, 300.0, 30.0)
    # with mode "max" the same threshold is reached at the very first evaluation
    assert time_to_target(ROWS, Target("val_loss", 0.6, mode="max")) == (1.0, 100.0, 10.0)


def test_time_to_target_never_reached_is_nan():
    for target in (Target("val_accuracy", 0.95), Target("val_loss", 0.1, mode="min"),
                   Target("val_f1", 0.1)):  # a metric no row has
        out = time_to_target(ROWS, target)
        assert len(out) == 3 and all(math.isnan(x) for x in out)
    assert all(math.isnan(x) for x in time_to_target([], Target()))


def test_target_reached_and_describe():
    t = Target("val_accuracy", 0.9)
    assert t.reached(0.9) and t.reached(0.95) and not t.reached(0.89)
    assert not t.reached(NAN) and not t.reached(None)
    m = Target("val_loss", 0.3, mode="min")
    assert m.reached(0.3) and m.reached(0.1) and not m.reached(0.31) and not m.reached(NAN)
    assert t.describe() == "val_accuracy >= 0.9"
    assert m.describe() == "val_loss <= 0.3"


# --------------------------------------------------------------------------- summarize

def _rec(variant, seed, ttt, ett, final, test_acc=NAN, dataset="d"):
    return RunRecord(dataset=dataset, variant=variant, seed=seed, rows=[], test_metrics={"test_accuracy": test_acc},
                     wall_time=10.0 + seed, examples_seen=1000, effective_steps=10, stop_reason="budget reached",
                     counters={}, time_to_target_s=ttt, examples_to_target=ett, steps_to_target=NAN,
                     final_metric=final)


BASE = {"t": [10.0, 12.0, 14.0], "e": [100.0, 120.0, 160.0], "f": [0.90, 0.92, 0.91], "a": [0.88, 0.90, 0.86]}
FAST = {"t": [5.0, 9.0, 8.0], "e": [50.0, 60.0, 120.0], "f": [0.93, 0.91, 0.95], "a": [0.91, 0.89, 0.90]}
SLOW = {"t": [20.0, NAN, 26.0], "e": [300.0, NAN, 280.0], "f": [0.85, 0.70, 0.86], "a": [0.8, 0.7, 0.8]}


def _records(dataset="d"):
    recs = []
    for seed in range(3):  # seed-major, as Experiment.run orders them
        for name, v in (("base", BASE), ("fast", FAST), ("slow", SLOW)):
            recs.append(_rec(name, seed, v["t"][seed], v["e"][seed], v["f"][seed], v["a"][seed], dataset))
    return recs


@pytest.fixture(scope="module")
def summary():
    return summarize(_records(), {"d": Target("val_accuracy", 0.9)}, "base",
                     claims={"fast": "2x (claimed)"}).set_index("variant")


def test_summarize_columns_and_rows(summary):
    assert list(summary.index) == ["base", "fast", "slow"]  # record order: baseline first
    assert set(CONTRACT_SUMMARY) - {"variant"} <= set(summary.columns)
    assert (summary["seeds"] == 3).all()
    assert (summary["target_metric"] == "val_accuracy").all() and (summary["target_value"] == 0.9).all()
    assert summary.loc["fast", "claim"] == "2x (claimed)" and summary.loc["base", "claim"] == ""


@pytest.mark.parametrize("name, v", [("base", BASE), ("fast", FAST)])
def test_summarize_mean_and_sample_std(summary, name, v):
    row = summary.loc[name]
    assert row["reached"] == 3
    for col, key in (("time_to_target_s", "t"), ("examples_to_target", "e"), ("final_metric", "f"),
                     ("test_accuracy", "a")):
        assert row[f"{col}_mean"] == pytest.approx(statistics.mean(v[key]))
        assert row[f"{col}_std"] == pytest.approx(statistics.stdev(v[key]))  # sample std (n - 1)
    assert row["wall_time_s_mean"] == pytest.approx(11.0)


def test_summarize_ratios_against_baseline(summary):
    fast = summary.loc["fast"]
    assert fast["time_to_target_ratio"] == pytest.approx(sum(FAST["t"]) / sum(BASE["t"]))  # 22 / 36
    assert fast["examples_to_target_ratio"] == pytest.approx(sum(FAST["e"]) / sum(BASE["e"]))  # 230 / 380
    # spread: sample std of the paired per-seed ratios, computed by hand
    assert fast["time_to_target_ratio_std"] == pytest.approx(statistics.stdev([5 / 10, 9 / 12, 8 / 14]))
    assert fast["examples_to_target_ratio_std"] == pytest.approx(statistics.stdev([50 / 100, 60 / 120, 120 / 160]))
    # the ratio of means is not the mean of the per-seed ratios
    assert fast["time_to_target_ratio"] != pytest.approx(statistics.mean([5 / 10, 9 / 12, 8 / 14]))
    base = summary.loc["base"]
    assert base["time_to_target_ratio"] == 1.0 and base["examples_to_target_ratio"] == 1.0
    assert base["time_to_target_ratio_std"] == 0.0 and base["examples_to_target_ratio_std"] == 0.0


def test_summarize_variant_with_a_seed_not_reaching(summary):
    slow = summary.loc["slow"]
    assert slow["reached"] == 2
    for col in ("time_to_target_ratio", "time_to_target_ratio_std", "examples_to_target_ratio",
                "examples_to_target_ratio_std"):
        assert math.isnan(slow[col])
    # costs are averaged over the seeds that reached; final metrics over all seeds
    assert slow["time_to_target_s_mean"] == pytest.approx(23.0)
    assert slow["time_to_target_s_std"] == pytest.approx(statistics.stdev([20.0, 26.0]))
    assert slow["final_metric_mean"] == pytest.approx(statistics.mean(SLOW["f"]))


def test_summarize_baseline_not_reaching_gives_no_ratios():
    recs = [_rec("base", 0, 10.0, 100.0, 0.9), _rec("fast", 0, 5.0, 50.0, 0.9),
            _rec("base", 1, NAN, NAN, 0.8), _rec("fast", 1, 6.0, 60.0, 0.9)]
    s = summarize(recs, {"d": Target()}, "base").set_index("variant")
    assert s.loc["base", "reached"] == 1 and s.loc["fast", "reached"] == 2
    assert s["time_to_target_ratio"].isna().all() and s["examples_to_target_ratio"].isna().all()


def test_summarize_ratio_is_per_data_set():
    recs = _records("a") + [_rec(v, seed, 2 * t, 2 * e, f, dataset="b")
                            for v, seed, t, e, f in [("base", 0, 1.0, 10.0, 0.9), ("fast", 0, 3.0, 40.0, 0.9),
                                                     ("base", 1, 1.0, 10.0, 0.9), ("fast", 1, 1.0, 20.0, 0.9)]]
    s = summarize(recs, {"a": Target(), "b": Target("val_loss", 0.2, "min")}, "base")
    assert list(zip(s["dataset"], s["variant"])) == [("a", "base"), ("a", "fast"), ("a", "slow"),
                                                     ("b", "base"), ("b", "fast")]
    b = s[s["dataset"] == "b"].set_index("variant")
    assert b.loc["fast", "time_to_target_ratio"] == pytest.approx(8.0 / 4.0)
    assert b.loc["fast", "examples_to_target_ratio"] == pytest.approx(120.0 / 40.0)
    assert b.loc["fast", "target_metric"] == "val_loss" and b.loc["fast", "seeds"] == 2
    a = s[s["dataset"] == "a"].set_index("variant")
    assert a.loc["fast", "time_to_target_ratio"] == pytest.approx(22.0 / 36.0)


def test_result_save_writes_strict_json_with_null_for_nan(tmp_path):
    res = ExperimentResult(_records(), {"d": Target("val_accuracy", 0.9)}, "base", claims={"fast": "2x"})
    paths = res.save(tmp_path / "out")
    assert {p.name for p in paths.values()} == {"results.csv", "results.json", "history.csv"}
    assert all(p.is_file() for p in paths.values())
    text = paths["json"].read_text()

    def no_constants(name):  # NaN / Infinity are not JSON
        raise AssertionError(f"results.json contains {name}")

    data = json.loads(text, parse_constant=no_constants)
    assert data["baseline"] == "base"
    assert data["targets"] == {"d": {"metric": "val_accuracy", "value": 0.9, "mode": "max"}}
    slow = next(r for r in data["summary"] if r["variant"] == "slow")
    assert slow["time_to_target_ratio"] is None and slow["reached"] == 2
    assert len(data["runs"]) == 9
    run = next(r for r in data["runs"] if r["variant"] == "slow" and r["seed"] == 1)
    assert run["time_to_target_s"] is None and run["steps_to_target"] is None
    csv = pd.read_csv(paths["csv"])
    assert list(csv["variant"]) == ["base", "fast", "slow"]
    assert csv.loc[1, "time_to_target_ratio"] == pytest.approx(22.0 / 36.0)


# --------------------------------------------------------------------------- the runner (tiny data)

@pytest.fixture(scope="module")
def tiny_splits():
    data, task = tiny_data(n=160, seed=0)
    return DataSplits("tiny", data.subset(list(range(96))), data.subset(list(range(96, 128))),
                      data.subset(list(range(128, 160))), task)


def tiny_config(**changes):
    fields = {"optimizer": "adam", "lr": 0.05, "batch_size": 16, "epochs": 3, "progress_bar": False,
              "log_every_steps": 4}
    return TrainingConfig(**(fields | changes))


class CountingTechnique(Technique):
    """Counts events; a fresh one per run must see exactly one fit."""

    name = "counting"

    def __init__(self, seed):
        super().__init__()
        self.seed = seed
        self.fits = 0
        self.steps = 0

    def on_fit_start(self, state):
        self.fits += 1

    def on_step_end(self, state):
        self.steps += 1


class Factory:
    def __init__(self):
        self.calls = []
        self.made = []

    def __call__(self, data, seed):
        self.calls.append((data, seed))
        t = CountingTechnique(seed)
        self.made.append(t)
        return [t]


@pytest.fixture(scope="module")
def tiny_run(tiny_splits):
    factory = Factory()
    seen = []  # (rows in history_frame, last row) at every on_eval

    def on_eval(exp):
        frame = exp.history_frame()
        seen.append((len(frame), frame.iloc[-1].to_dict(), frame))

    # the baseline is listed second: the runner must still run it first within every seed
    variants = [Variant("tech", config={"lr": 0.02}, techniques=factory, claim="1.3x (claimed)"),
                Variant("base")]
    exp = Experiment(tiny_splits, lambda task: TinyNet(features=6, classes=3), tiny_config(), variants,
                     seeds=[0, 1], target=Target("val_accuracy", 0.5), baseline="base", on_eval=on_eval,
                     progress=False, name="tiny")
    result = exp.run()
    return exp, result, factory, seen


def test_run_records_order_and_count(tiny_run):
    exp, result, _, _ = tiny_run
    # seed-major; the variant order rotates per seed so no variant always runs first
    assert [(r.variant, r.seed) for r in result.records] == [("base", 0), ("tech", 0), ("tech", 1), ("base", 1)]
    assert len(exp.records) == 4
    for r in result.records:
        assert r.dataset == "tiny"
        assert r.effective_steps == 3 * math.ceil(96 / 16) and r.examples_seen == 3 * 96
        assert r.stop_reason == "budget reached"
        assert set(r.test_metrics) == {"test_loss", "test_accuracy"}
        assert 0.0 <= r.test_metrics["test_accuracy"] <= 1.0
        evals = r.eval_rows("val_accuracy")
        assert len(evals) == 3 and r.final_metric == evals[-1]["val_accuracy"]
        assert r.time_to_target_s == time_to_target(r.rows, Target("val_accuracy", 0.5))[0]
    assert list(result.summary["variant"]) == ["base", "tech"]
    assert result.summary.set_index("variant").loc["tech", "claim"] == "1.3x (claimed)"
    assert result.baseline == "base" and result.claims == {"tech": "1.3x (claimed)"}


def test_run_history_frame_follows_contract(tiny_run):
    _, result, _, _ = tiny_run
    h = result.history
    assert list(h.columns) == CONTRACT_HISTORY == HISTORY_COLUMNS
    assert len(h) == 4 * 3  # one row per evaluation: 4 runs x 3 epochs
    assert h["val_accuracy"].notna().all() and h["val_loss"].notna().all()
    assert h["train_loss"].notna().all()  # the training loss since the last row is merged in
    assert set(h["dataset"]) == {"tiny"} and set(h["seed"]) == {0, 1}
    for col in CONTRACT_HISTORY[3:]:
        assert pd.api.types.is_numeric_dtype(h[col]), col
    one = h[(h["variant"] == "base") & (h["seed"] == 0)]
    assert list(one["epoch"]) == [1, 2, 3]
    assert list(one["effective_step"]) == [6, 12, 18] and list(one["examples_seen"]) == [96, 192, 288]
    assert one["wall_time"].is_monotonic_increasing and (one["wall_time"] > 0).all()
    # the variant's config change reached the optimizer (constant schedule)
    assert set(h.loc[h["variant"] == "tech", "lr"]) == {0.02}
    assert set(h.loc[h["variant"] == "base", "lr"]) == {0.05}


def test_on_eval_called_after_every_evaluation_with_growing_history(tiny_run):
    exp, result, _, seen = tiny_run
    assert len(seen) == 12  # every validation pass of every run
    assert [n for n, _, _ in seen] == list(range(1, 13))
    order = [("base", 0), ("tech", 0), ("tech", 1), ("base", 1)]  # the variant order rotates per seed
    for i, (_, last, _) in enumerate(seen):
        assert (last["variant"], last["seed"]) == order[i // 3]
        assert last["epoch"] == i % 3 + 1 and not math.isnan(last["val_accuracy"])
    # the rows seen live are the rows the finished result holds
    pd.testing.assert_frame_equal(seen[-1][2], result.history)
    pd.testing.assert_frame_equal(exp.history_frame(), result.history)


def test_technique_factory_gives_fresh_objects_per_run(tiny_run, tiny_splits):
    _, result, factory, _ = tiny_run
    assert [seed for _, seed in factory.calls] == [0, 1]  # once per run of its variant only
    assert all(data is tiny_splits for data, _ in factory.calls)
    a, b = factory.made
    assert a is not b
    assert (a.seed, a.fits, b.seed, b.fits) == (0, 1, 1, 1)
    steps = {r.seed: r.effective_steps for r in result.records if r.variant == "tech"}
    assert a.steps == steps[0] and b.steps == steps[1]


def test_same_seed_gives_identical_results(tiny_run, tiny_splits):
    exp, result, _, _ = tiny_run
    # run seed 1 of the baseline alone (out of the original order), twice
    again = Experiment(tiny_splits, lambda task: TinyNet(features=6, classes=3), tiny_config(),
                       [Variant("base")], seeds=[1], target=Target("val_accuracy", 0.5), progress=False)
    r1 = again.run_one("tiny", again.variants[0], 1)
    r2 = again.run_one("tiny", again.variants[0], 1)
    orig = next(r for r in result.records if (r.variant, r.seed) == ("base", 1))
    drop = ("wall_time",)
    for r in (r2, orig):
        assert r.final_metric == r1.final_metric and r.test_metrics == r1.test_metrics
        assert r.examples_to_target == r1.examples_to_target
        assert [{k: v for k, v in row.items() if k not in drop} for row in r.rows] == \
               [{k: v for k, v in row.items() if k not in drop} for row in r1.rows]
    # and a different seed does give a different run
    other = again.run_one("tiny", again.variants[0], 0)
    assert [row.get("train_loss") for row in other.rows] != [row.get("train_loss") for row in r1.rows]


def test_run_twice_does_not_double_records(tiny_splits):
    exp = Experiment(tiny_splits, lambda task: TinyNet(features=6, classes=3), tiny_config(epochs=1),
                     [Variant("base"), Variant("small_batch", config={"batch_size": 8})], seeds=[3],
                     target=Target("val_accuracy", 0.99), progress=False, evaluate_test=False)
    first = exp.run()
    second = exp.run()
    assert len(first.records) == len(second.records) == 2
    assert [r.effective_steps for r in second.records] == [6, 12]
    assert second.summary["seeds"].tolist() == [1, 1]
    assert all(r.test_metrics == {} for r in second.records)
    assert second.summary["test_accuracy_mean"].isna().all()


def test_run_save_and_describe(tiny_run, tmp_path, capsys):
    exp, result, _, _ = tiny_run
    text = exp.describe()
    assert "val_accuracy >= 0.5" in text and "tiny" in text and "'base'" in text
    assert "2 variants x 2 seeds" in text
    print(text)
    assert "val_accuracy >= 0.5" in capsys.readouterr().out
    assert result.describe_targets() == "tiny: val_accuracy >= 0.5"
    paths = result.save(tmp_path)
    data = json.loads(paths["json"].read_text())
    assert [(r["variant"], r["seed"]) for r in data["runs"]] == [("base", 0), ("tech", 0), ("tech", 1), ("base", 1)]
    assert data["runs"][0]["effective_steps"] == 18
    assert len(pd.read_csv(paths["history"])) == len(result.history)
    assert list(pd.read_csv(paths["csv"])["variant"]) == ["base", "tech"]


def test_data_set_dict_with_per_data_set_settings(tiny_splits):
    other = DataSplits("other", tiny_splits.train.subset(list(range(48))), tiny_splits.val, tiny_splits.test,
                       tiny_splits.task)
    exp = Experiment({"tiny": tiny_splits, "other": other},
                     {"tiny": lambda t: TinyNet(), "other": lambda t: TinyNet(hidden=8)},
                     {"tiny": tiny_config(epochs=1), "other": tiny_config(epochs=2)},
                     [Variant("base")], seeds=[0],
                     target={"tiny": Target("val_accuracy", 0.3), "other": Target("val_loss", 5.0, "min")},
                     progress=False, evaluate_test=False)
    res = exp.run()
    assert [(r.dataset, r.effective_steps) for r in res.records] == [("tiny", 6), ("other", 6)]
    assert res.summary["target_metric"].tolist() == ["val_accuracy", "val_loss"]
    assert "target on other: val_loss <= 5" in exp.describe()


# --------------------------------------------------------------------------- errors

def _exp(splits, variants, **kw):
    return Experiment(splits, lambda task: TinyNet(), tiny_config(), variants, **kw)


def test_errors(tiny_splits):
    with pytest.raises(ValueError, match="unique"):
        _exp(tiny_splits, [Variant("a"), Variant("b"), Variant("a")])
    with pytest.raises(ValueError, match="baseline 'c' is not a variant.*'a', 'b'"):
        _exp(tiny_splits, [Variant("a"), Variant("b")], baseline="c")
    with pytest.raises(ValueError, match="at least one seed"):
        _exp(tiny_splits, [Variant("a")], seeds=[])
    with pytest.raises(ValueError, match="at least one variant"):
        _exp(tiny_splits, [])
    with pytest.raises(ValueError, match="Target.mode must be 'max' or 'min'; got 'maximum'"):
        Target("val_accuracy", 0.9, mode="maximum")
    for bad in (NAN, math.inf, "0.9", None):
        with pytest.raises(ValueError, match="Target.value must be a finite number"):
            Target("val_accuracy", bad)


def test_invalid_variant_config_fails_before_any_run(tiny_splits):
    with pytest.raises(ValueError, match=r"variant 'hot'.*TrainingConfig\.lr"):
        _exp(tiny_splits, [Variant("base"), Variant("hot", config={"lr": -1.0})])
    with pytest.raises(ValueError, match="variant 'typo'.*lrr"):
        _exp(tiny_splits, [Variant("base"), Variant("typo", config={"lrr": 0.1})])
    with pytest.raises(ValueError, match="variant 'seeded'.*'seed'"):
        _exp(tiny_splits, [Variant("base"), Variant("seeded", config={"seed": 3})])
    with pytest.raises(ValueError, match=r"target has no entry for data set\(s\) \['tiny'\]"):
        _exp(tiny_splits, [Variant("base")], target={"other": Target()})


def test_callable_variant_config_is_computed_from_base_config_and_data(tiny_splits):
    seen = []

    def quarter_batch(base, splits):
        seen.append((base.batch_size, len(splits.train)))
        return {"batch_size": len(splits.train) // 4}

    exp = _exp(tiny_splits, [Variant("base"), Variant("quarter", config=quarter_batch)], seeds=[0],
               progress=False, evaluate_test=False)
    res = exp.run()
    assert seen and set(seen) == {(16, 96)}
    assert [r.effective_steps for r in res.records] == [3 * 96 // 16, 3 * 4]  # batch 24: 4 steps per epoch

    def negative_lr(base, splits):
        return {"lr": -base.lr}

    def with_seed(base, splits):
        return {"seed": 7}

    with pytest.raises(ValueError, match=r"variant 'neg'.*negative_lr.*TrainingConfig\.lr"):
        _exp(tiny_splits, [Variant("base"), Variant("neg", config=negative_lr)])
    with pytest.raises(ValueError, match="variant 'seeded'.*'seed'"):
        _exp(tiny_splits, [Variant("base"), Variant("seeded", config=with_seed)])


# --------------------------------------------------------------------------- real data

@pytest.fixture(scope="module")
def digits_result():
    from workbench.recipes import load_splits, model_factory

    splits = load_splits("digits")
    config = TrainingConfig(optimizer="adam", lr=3e-3, batch_size=64, epochs=3, progress_bar=False)
    exp = Experiment(splits, model_factory("mlp"), config,
                     [Variant("adam"), Variant("sgd", config={"optimizer": "sgd", "lr": 0.1})],
                     seeds=[0, 1], target=Target("val_accuracy", 0.8), progress=False, name="digits")
    return splits, exp.run()


def test_real_digits_experiment_gives_finite_costs_and_ratios(digits_result):
    splits, result = digits_result
    assert len(splits.train) > 1000 and splits.task.num_classes == 10
    assert [(r.variant, r.seed) for r in result.records] == [("adam", 0), ("sgd", 0), ("sgd", 1), ("adam", 1)]
    for r in result.records:
        assert math.isfinite(r.time_to_target_s) and r.time_to_target_s > 0
        assert r.examples_to_target % len(splits.train) == 0  # evaluated once per epoch
        assert r.final_metric >= 0.8 and r.test_metrics["test_accuracy"] > 0.8
    s = result.summary.set_index("variant")
    assert (s["reached"] == 2).all()
    for col in ("time_to_target_ratio", "time_to_target_ratio_std", "examples_to_target_ratio",
                "examples_to_target_ratio_std", "time_to_target_s_mean", "examples_to_target_mean"):
        assert s[col].map(math.isfinite).all(), col
    assert s.loc["adam", "time_to_target_ratio"] == 1.0
    by = {(r.variant, r.seed): r.examples_to_target for r in result.records}
    assert s.loc["sgd", "examples_to_target_ratio"] == pytest.approx(
        (by["sgd", 0] + by["sgd", 1]) / (by["adam", 0] + by["adam", 1]))
    assert len(result.history) == 4 * 3


def test_real_digits_plots_build_from_result(digits_result):
    _, result = digits_result
    fig = plots.plot_curves(result.history, x="wall_time", y="val_accuracy", target={"digits": 0.8})
    assert isinstance(fig, go.Figure)
    means = [t for t in fig.data if (t.meta or {}).get("role") == "mean"]
    assert sorted(t.name for t in means) == ["adam", "sgd"]
    assert all(len(t.x) > 0 and all(math.isfinite(y) for y in t.y) for t in means)
    bands = [t for t in fig.data if (t.meta or {}).get("role") == "band"]
    assert len(bands) == 2  # two seeds: a ± std band per variant
    fig = plots.plot_curves(result.history, x="examples_seen")
    assert {t.name for t in fig.data if (t.meta or {}).get("role") == "mean"} == {"adam", "sgd"}
    bars = plots.plot_ratios(result.summary)
    assert isinstance(bars, go.Figure)
    assert [t.name for t in bars.data] == ["adam", "sgd"]
    s = result.summary.set_index("variant")
    assert bars.data[0].y[0] == pytest.approx(1.0)
    assert bars.data[1].y[0] == pytest.approx(s.loc["sgd", "time_to_target_ratio"])
    table = plots.results_table(result.summary)
    assert list(table["variant"]) == ["adam", "sgd"] and list(table["reached"]) == ["2/2", "2/2"]


def test_seeding_makes_model_init_independent_of_prior_rng_use(tiny_splits):
    # Experiment.run_one seeds before building the model, so prior RNG use does not leak in
    exp = _exp(tiny_splits, [Variant("base")], seeds=[5], progress=False, evaluate_test=False)
    r1 = exp.run_one("tiny", exp.variants[0], 5)
    torch.rand(100)
    r2 = exp.run_one("tiny", exp.variants[0], 5)
    assert r1.final_metric == r2.final_metric
    assert [row["train_loss"] for row in r1.rows] == [row["train_loss"] for row in r2.rows]


def test_variant_param_groups_reach_the_optimizer():
    """Variant.param_groups builds the run's optimizer groups (here: the first layer at a
    tenth of the rate), called with the run's model and config."""
    data, task = tiny_data()
    splits = DataSplits("tiny", data.subset(range(64)), data.subset(range(64, 96)), data.subset(range(64, 96)),
                        task, None, {})
    seen = []

    def groups(model, config):
        first = list(model.net[0].parameters())
        rest = [p for p in model.parameters() if all(p is not q for q in first)]
        seen.append(config.lr)
        return [{"params": first, "lr": config.lr / 10}, {"params": rest, "lr": config.lr}]

    class Probe(Technique):
        events = frozenset({Event.FIT_START})
        rates: list = []

        def on_fit_start(self, state):
            Probe.rates = [g["lr"] for g in state.optimizer.param_groups]

    exp = Experiment(splits, lambda t: TinyNet(), TrainingConfig(epochs=1, lr=1e-2, progress_bar=False),
                     [Variant("groups", param_groups=groups, techniques=lambda s, seed: [Probe()])],
                     seeds=(0,), target=Target("val_accuracy", 0.5), progress=False)
    exp.run()
    assert seen == [1e-2] and Probe.rates == [pytest.approx(1e-3), pytest.approx(1e-2)]
