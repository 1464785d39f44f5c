"""Tests for workbench.recipes: baseline recipes, the quickstart widget callback
(train_baseline) and the integration experiment (schedule_comparison), on real digits.

The tuned baselines (``_BASELINES``) are chosen by a search and may change: these tests
read the recipe's values instead of repeating them.
"""

from __future__ import annotations

import math

import pytest
import torch

from workbench.config import TrainingConfig
from workbench.experiment import Experiment, ExperimentResult, Target
from workbench.recipes import (
    SCHEDULE_VARIANTS,
    SMOKE,
    SMOKE_TARGETS,
    Recipe,
    baseline_panel_callback,
    baseline_recipe,
    load_splits,
    model_factory,
    schedule_comparison,
    train_baseline,
)

BUILT_IN = ("digits", "subj", "mr", "pros_cons")


@pytest.fixture(scope="module")
def digits():
    return load_splits("digits")


def test_every_built_in_data_set_has_a_recipe():
    for name in BUILT_IN:
        r = baseline_recipe(name)
        assert isinstance(r, Recipe) and r.dataset == name
        assert isinstance(r.config, TrainingConfig) and isinstance(r.target, Target)
        assert r.target.metric == "val_accuracy" and 0.5 < r.target.value < 1.0
        assert r.config.eval_every_epochs == 1  # time-to-target needs a validation curve
        assert r.notes


def test_unknown_data_set_lists_known_ones():
    with pytest.raises(ValueError, match="no baseline recipe for 'cifar'") as err:
        baseline_recipe("cifar")
    for name in BUILT_IN:
        assert repr(name) in str(err.value)
    with pytest.raises(ValueError, match="known:.*'digits'"):
        train_baseline("cifar", progress=False)


@pytest.mark.parametrize("change, field", [({"lr": -1.0}, "lr"), ({"batch_size": 0}, "batch_size"),
                                           ({"epochs": 0}, "epochs"), ({"optimizer": "lion"}, "optimizer")])
def test_invalid_change_names_the_field(change, field):
    with pytest.raises(ValueError, match=rf"TrainingConfig\.{field} must be"):
        baseline_recipe("digits", **change)


def test_unknown_change_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match=r"\['learning_rate'\] are not TrainingConfig fields.*'lr'"):
        baseline_recipe("digits", learning_rate=0.1)


def test_changes_override_the_recipe():
    full = baseline_recipe("digits")
    r = baseline_recipe("digits", lr=full.config.lr / 2, batch_size=full.config.batch_size + 1)
    assert r.config.lr == full.config.lr / 2 and r.config.batch_size == full.config.batch_size + 1
    assert r.config.epochs == full.config.epochs and r.model == full.model
    assert baseline_recipe("digits", smoke=True, epochs=5).config.epochs == 5  # explicit wins over smoke


def test_smoke_mode_shrinks_epochs():
    shrunk = 0
    for name in BUILT_IN:
        full, smoke = baseline_recipe(name), baseline_recipe(name, smoke=True)
        assert smoke.config.epochs == min(full.config.epochs, SMOKE["epochs"])
        shrunk += smoke.config.epochs < full.config.epochs
        # everything else is the tuned recipe
        assert smoke.config.replace(epochs=full.config.epochs, eval_every_steps=full.config.eval_every_steps) == full.config
        assert smoke.model == full.model
        assert smoke.target.value <= full.target.value
    assert shrunk >= 1


def test_recipe_model_fits_its_data(digits):
    r = baseline_recipe("digits")
    model = model_factory(r.model)(digits.task)
    batch = digits.task.collator()([digits.train[i] for i in range(4)])
    assert model(batch["inputs"]).shape == (4, digits.task.num_classes)


def test_train_baseline_smoke_on_digits():
    result = train_baseline(dataset="digits", epochs=1, smoke=True, progress=False)
    assert isinstance(result, ExperimentResult)
    assert len(result.records) == 1
    rec = result.records[0]
    assert (rec.dataset, rec.variant, rec.seed) == ("digits", "baseline", 0)
    h = result.history
    steps = math.ceil(len(load_splits("digits", smoke=True).train) / baseline_recipe("digits").config.batch_size)
    # smoke mode validates every SMOKE["eval_every_steps"] steps and at the end of the epoch
    assert list(h["effective_step"]) == list(range(SMOKE["eval_every_steps"], steps, SMOKE["eval_every_steps"])) + [steps]
    assert 0.1 < h["val_accuracy"].iloc[-1] <= 1.0  # one epoch beats chance (10 classes)
    # the smoke target is not reached at the first evaluation (ratios compare something)
    assert h["val_accuracy"].iloc[0] < result.targets["digits"].value == SMOKE_TARGETS["digits"]
    assert len(result.summary) == 1 and result.summary["variant"].iloc[0] == "baseline"
    assert result.targets["digits"] == baseline_recipe("digits", smoke=True).target


def test_train_baseline_widget_values_change_the_config(digits):
    recipe = baseline_recipe("digits")
    lr, bs, epochs = recipe.config.lr * 3, 100, 2
    seen = []
    result = train_baseline("digits", lr=lr, batch_size=bs, epochs=epochs, seed=1, splits=digits,
                            on_eval=lambda exp: seen.append((exp.base_config, len(exp.history_frame()))),
                            progress=False)
    assert [n for _, n in seen] == [1, 2]  # the callback follows every evaluation
    config = seen[0][0]
    assert (config.lr, config.batch_size, config.epochs) == (lr, bs, epochs)
    assert config.optimizer == recipe.config.optimizer  # the rest is the recipe's
    rec = result.records[0]
    n = len(digits.train)
    assert rec.seed == 1
    assert rec.effective_steps == epochs * math.ceil(n / bs)
    assert rec.examples_seen == epochs * n
    assert list(result.history["effective_step"]) == [math.ceil(n / bs), 2 * math.ceil(n / bs)]
    if recipe.config.schedule == "constant":
        assert result.history["lr"].tolist() == pytest.approx([lr, lr])


def test_baseline_panel_callback_returns_the_results_table(digits):
    table = baseline_panel_callback("digits", lr=baseline_recipe("digits").config.lr, batch_size=128, epochs=1,
                                    smoke=True)
    assert list(table["variant"]) == ["baseline"] and list(table["dataset"]) == ["digits"]
    assert "time to target (s)" in table.columns and table["reached"].iloc[0] in ("0/1", "1/1")
    with pytest.raises(ValueError, match=r"TrainingConfig\.epochs"):
        baseline_panel_callback("digits", epochs=0, smoke=True)


def test_train_baseline_rejects_invalid_widget_values_before_training():
    with pytest.raises(ValueError, match=r"TrainingConfig\.lr"):
        train_baseline("digits", lr=0.0, progress=False)
    with pytest.raises(ValueError, match=r"TrainingConfig\.batch_size"):
        train_baseline("digits", batch_size=-4, progress=False)


def test_schedule_comparison_builds_three_schedule_variants():
    exp = schedule_comparison(datasets=("digits",), seeds=[0, 1], smoke=True, progress=False)
    assert isinstance(exp, Experiment)
    assert [v.name for v in exp.variants] == ["baseline", "one_cycle", "warmup_cosine"]
    assert exp.baseline == "baseline" and exp.seeds == [0, 1] and list(exp.data) == ["digits"]
    recipe = baseline_recipe("digits", smoke=True)
    for v in exp.variants:
        assert v.config is SCHEDULE_VARIANTS[v.name]
        cfg = exp._config("digits", v, 0)  # the config a run of this variant trains with
        assert cfg.schedule == (recipe.config.schedule if v.name == "baseline" else v.name)
        assert (cfg.lr, cfg.batch_size, cfg.epochs) == (recipe.config.lr, recipe.config.batch_size,
                                                        recipe.config.epochs)
    # warmup over 5% of the run's optimizer steps, computed by hand
    total = math.ceil(len(exp.data["digits"].train) / recipe.config.batch_size) * recipe.config.epochs
    assert exp._config("digits", exp.variants[2], 0).warmup_steps == max(1, round(0.05 * total))
    assert "target on digits: val_accuracy >=" in exp.describe()
    with pytest.raises(ValueError, match=r"unknown schedules \['linear_decay'\]; valid:"):
        schedule_comparison(datasets=("digits",), schedules=("constant", "linear_decay"))


def test_the_baseline_variant_is_each_recipe_as_it_is():
    # the tuned baseline's schedule differs per data set (benchmarks/schedules.py chose
    # constant for digits, dynamic for SUBJ); the baseline variant keeps each, and the
    # "constant" / "dynamic" variants force theirs (dropping the recipe's schedule arguments)
    exp = schedule_comparison(datasets=("digits", "subj"), seeds=[0], smoke=True, progress=False,
                              schedules=("baseline", "constant", "dynamic"))
    base, const, dyn = exp.variants
    assert exp._config("digits", base, 0).schedule == "constant"
    assert exp._config("subj", base, 0).schedule == "dynamic"
    assert exp._config("subj", const, 0).schedule == "constant"
    assert exp._config("digits", dyn, 0).schedule == "dynamic"
    assert exp._config("subj", const, 0).schedule_kwargs == {}
    text = exp.describe()  # the plan printed before the runs names each baseline's schedule
    c = baseline_recipe("digits", smoke=True).config
    assert f"baseline on digits: {c.optimizer} lr={c.lr:g}, batch {c.batch_size}, {c.epochs} epochs, " \
           f"schedule constant" in text
    assert "schedule dynamic" in text.split("baseline on subj:")[1]


def test_schedule_comparison_smoke_run_on_digits():
    torch.manual_seed(0)
    exp = schedule_comparison(datasets=("digits",), seeds=[0], smoke=True, progress=False)
    result = exp.run()
    assert [r.variant for r in result.records] == ["baseline", "one_cycle", "warmup_cosine"]
    h = result.history
    base_lr = baseline_recipe("digits", smoke=True).config.lr
    lrs = {v: h.loc[h["variant"] == v, "lr"].tolist() for v in ("baseline", "one_cycle", "warmup_cosine")}
    assert lrs["baseline"] == pytest.approx([base_lr] * len(lrs["baseline"]))  # digits: a constant rate
    for v in ("one_cycle", "warmup_cosine"):  # both anneal to (almost) zero by the end
        assert len(lrs[v]) >= 2 and lrs[v][-1] < base_lr / 100
        assert 0 < lrs[v][0] < base_lr * 1.0001
    s = result.summary.set_index("variant")
    assert list(s.index) == ["baseline", "one_cycle", "warmup_cosine"]
    assert s.loc["baseline", "time_to_target_ratio"] == 1.0
