"""The pool-based loop: pools by id, schedule, exact resume; learning-curve figures."""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import pytest
import torch
from tiny import TinyNet, tiny_data

from workbench.config import TrainingConfig
from workbench.data.datasets import DataSplits
from workbench.experiment import Target
from workbench.techniques.active import (
    ActiveLearner,
    ActiveLearningConfig,
    ActiveRun,
    active_learning_panel_callback,
    active_recipe,
    aulc,
    curves_frame,
    entropy,
    initial_selection,
    labels_to_target,
    least_confidence,
    plot_acquired,
    plot_active_curves,
    predict_probs,
    round_seed,
    run_comparison,
    select_top_k,
    summarize_runs,
)
from workbench.train.checkpoint import CheckpointError, load_checkpoint_file

TRAIN = TrainingConfig(lr=1e-2, batch_size=16, max_steps=15, progress_bar=False, eval_every_epochs=None)


def tiny_splits() -> DataSplits:
    data, task = tiny_data(n=150, seed=1)
    return DataSplits("tiny", data.subset(range(100)), data.subset(range(100, 125)),
                      data.subset(range(125, 150)), task)


def factory(task):
    return TinyNet(dropout=0.3)


def learner(splits=None, **changes) -> ActiveLearner:
    cfg = ActiveLearningConfig(**({"strategy": "entropy", "initial_size": 10, "acquisition_size": 7,
                                   "rounds": 3, "mc_samples": 4} | changes))
    return ActiveLearner(splits or tiny_splits(), factory, TRAIN, cfg)


# ---------------------------------------------------------------------------- config


@pytest.mark.parametrize("field, value, match", [
    ("strategy", "uncertainty", "strategy"),
    ("initial_size", 0, "initial_size"),
    ("initial_size", 1.5, "initial_size"),
    ("acquisition_size", 0, "acquisition_size"),
    ("rounds", -1, "rounds"),
    ("retrain", "warm", "retrain"),
    ("eval_splits", ("val", "dev"), "eval_splits"),
    ("label_budget", 5, "label_budget"),
    ("mc_samples", 0, "mc_samples"),
])
def test_config_rejects_invalid_values(field, value, match):
    with pytest.raises(ValueError, match=match):
        ActiveLearningConfig(**{"initial_size": 10, field: value})


def test_learner_rejects_bad_setups_before_training():
    with pytest.raises(ValueError, match="smaller than the training pool"):
        learner(initial_size=100)
    with pytest.raises(ValueError, match="exceeds the training pool"):
        learner(label_budget=101)
    with pytest.raises(ValueError, match="no dropout"):
        ActiveLearner(tiny_splits(), lambda t: TinyNet(dropout=0.0), TRAIN,
                      ActiveLearningConfig(strategy="bald", initial_size=10))
    with pytest.raises(ValueError, match="encode"):
        learner(strategy="coreset")


def test_initial_selection_stratified_and_fraction():
    from workbench.recipes import load_splits

    train = load_splits("digits").train
    ids = initial_selection(train.ids, train.targets, 20, True, torch.Generator().manual_seed(0))
    labels = train.subset_by_ids(ids).targets
    assert torch.equal(torch.bincount(labels, minlength=10), torch.full((10,), 2))  # 2 per class
    assert ids == sorted(ids) and len(set(ids)) == 20
    again = initial_selection(train.ids, train.targets, 20, True, torch.Generator().manual_seed(0))
    assert again == ids
    lr = learner(initial_size=0.1)
    assert lr.labels == 10


# ---------------------------------------------------------------------------- the loop


def test_pools_are_a_partition_by_id_and_the_schedule_holds():
    splits = tiny_splits()
    lr = learner(splits, initial_size=10, acquisition_size=7, rounds=None, label_budget=30)
    all_ids = set(splits.train.ids.tolist())
    seen = []
    while not lr.done:
        before = set(lr.labeled_ids)
        row = lr.step()
        seen.append(row["labels"])
        assert set(lr.labeled_ids) | set(lr.pool_ids) == all_ids
        assert not set(lr.labeled_ids) & set(lr.pool_ids)
        new = set(lr.labeled_ids) - before
        assert new == set(lr.last_acquisition_ids) and row["acquired"] == len(new)
    assert seen == [10, 17, 24, 30]  # the last acquisition is cut to the budget
    run = lr.record()
    assert [a["round"] for a in run.acquired] == [0, 1, 2]
    assert [len(a["ids"]) for a in run.acquired] == [7, 7, 6]
    assert {"val_accuracy", "test_accuracy", "train_seconds", "acquire_seconds"} <= set(run.curve[0])
    assert run.curve[-1]["acquire_seconds"] == 0.0 and run.curve[0]["effective_steps"] == 15
    with pytest.raises(RuntimeError, match="finished"):
        lr.step()


def test_uncertainty_acquisition_takes_the_top_scores_of_the_round_model():
    splits = tiny_splits()
    lr = learner(splits, strategy="least_confidence", rounds=2)
    pool_before = list(lr.pool_ids)
    lr.step()
    pool = splits.train.subset_by_ids(pool_before)
    _, probs = predict_probs(lr.model, pool, splits.task.collator())
    want = [int(i) for i in pool.ids[select_top_k(least_confidence(probs), 7)]]
    assert lr.last_acquisition_ids == want


def test_strategies_with_one_seed_share_the_initial_set_and_round_zero_model():
    a, b = learner(strategy="random"), learner(strategy="entropy")
    assert a.labeled_ids == b.labeled_ids
    ra, rb = a.step(), b.step()
    assert ra["test_accuracy"] == rb["test_accuracy"] and ra["val_loss"] == rb["val_loss"]
    assert a.last_acquisition_ids != b.last_acquisition_ids
    assert round_seed(0, 1) != round_seed(0, 2) != round_seed(1, 1)


def _params(model):
    return [p.detach().clone() for p in model.state_dict().values()]


@pytest.mark.parametrize("strategy, retrain", [("bald", "continue"), ("random", "scratch"),
                                               ("margin", "scratch")])
def test_resume_is_exact(tmp_path, strategy, retrain):
    changes = {"strategy": strategy, "retrain": retrain, "rounds": 4}
    straight = learner(**changes)
    straight.run()
    path = tmp_path / "al.pt"
    first = learner(**changes)
    first.checkpoint_path = path
    first.run(max_rounds=2)
    assert not first.done and first.round == 2
    torch.manual_seed(999)  # whatever happens to the global RNG in between
    resumed = learner(**changes).load_checkpoint(path)
    assert resumed.round == 2 and resumed.labeled_ids == first.labeled_ids
    resumed.run()
    assert resumed.done
    assert resumed.labeled_ids == straight.labeled_ids and resumed.pool_ids == straight.pool_ids
    assert resumed.record().acquired == straight.record().acquired
    assert [r["test_accuracy"] for r in resumed.curve] == [r["test_accuracy"] for r in straight.curve]
    for p, q in zip(_params(resumed.model), _params(straight.model)):
        assert torch.equal(p, q)


def test_checkpoint_is_plain_and_checked(tmp_path):
    lr = learner()
    lr.step()
    path = lr.save_checkpoint(tmp_path / "al.pt")
    data = load_checkpoint_file(path)  # weights_only=True
    assert data["kind"] == "active_learning" and data["round"] == 1
    assert data["labeled_ids"].dtype == torch.long and len(data["labeled_ids"]) == 17
    with pytest.raises(CheckpointError, match="acquisition_size"):
        learner(acquisition_size=5).load_checkpoint(path)
    other = tiny_splits()
    other.train = other.train.subset(range(90))
    with pytest.raises(CheckpointError, match="partition"):
        ActiveLearner(other, factory, TRAIN, lr.config).load_checkpoint(path)


# ---------------------------------------------------------------------------- curves


def test_labels_to_target_by_hand():
    t = Target("test_accuracy", 0.95)
    assert labels_to_target([20, 30, 40], [0.5, 0.95, 0.9], t) == 30
    assert math.isnan(labels_to_target([20, 30], [0.5, 0.94], t))
    assert labels_to_target([20, 30], [0.9, 0.4], Target("test_loss", 0.5, mode="min")) == 30
    with pytest.raises(ValueError, match="same length"):
        labels_to_target([1, 2], [0.5], t)


def test_aulc_by_hand():
    assert aulc([0, 10], [0.0, 1.0]) == pytest.approx(0.5)
    assert aulc([10, 20, 30], [0.8, 0.8, 0.8]) == pytest.approx(0.8)
    # (10 * (0.5 + 0.7) / 2 + 20 * (0.7 + 0.9) / 2) / 30 = (6 + 16) / 30
    assert aulc([10, 20, 40], [0.5, 0.7, 0.9]) == pytest.approx(22 / 30)
    # sub-range 15..30: values 0.6, 0.7, 0.8 -> (5 * 0.65 + 10 * 0.75) / 15
    assert aulc([10, 20, 40], [0.5, 0.7, 0.9], lo=15, hi=30) == pytest.approx(10.75 / 15)
    assert aulc([10], [0.7]) == pytest.approx(0.7)
    with pytest.raises(ValueError, match="increasing"):
        aulc([10, 10], [0.5, 0.6])
    with pytest.raises(ValueError, match="finite"):
        aulc([10, 20], [0.5, float("nan")])


def _run(strategy, seed, accs, labels=(20, 30, 40)):
    curve = [{"round": i, "labels": n, "test_accuracy": a, "acquire_seconds": 0.5, "train_seconds": 1.0}
             for i, (n, a) in enumerate(zip(labels, accs))]
    return ActiveRun("digits", strategy, seed, curve, [], {})


def test_summarize_runs_by_hand():
    runs = [_run("random", 0, [0.5, 0.8, 0.95]), _run("entropy", 0, [0.5, 0.95, 0.97]),
            _run("random", 1, [0.6, 0.9, 0.96]), _run("entropy", 1, [0.6, 0.96, 0.98]),
            _run("margin", 0, [0.5, 0.6, 0.7]), _run("margin", 1, [0.5, 0.96, 0.97])]
    s = summarize_runs(runs, {"digits": Target("test_accuracy", 0.95)}).set_index("strategy")
    assert s.loc["random", "labels_to_target_mean"] == 40 and s.loc["entropy", "labels_to_target_mean"] == 30
    assert s.loc["entropy", "labels_to_target_ratio_vs_random"] == pytest.approx(0.75)
    assert s.loc["entropy", "labels_to_target_ratio_std"] == pytest.approx(0.0)
    assert s.loc["random", "labels_to_target_ratio_vs_random"] == pytest.approx(1.0)
    assert s.loc["margin", "reached"] == 1 and math.isnan(s.loc["margin", "labels_to_target_ratio_vs_random"])
    # AULC of entropy seed 0: (10 * 0.725 + 10 * 0.96) / 20 = 0.8425; seed 1: (10*0.78 + 10*0.97)/20 = 0.875
    assert s.loc["entropy", "aulc_mean"] == pytest.approx((0.8425 + 0.875) / 2)
    assert s.loc["entropy", "acquire_seconds_mean"] == pytest.approx(1.5)
    frame = curves_frame(runs)
    assert len(frame) == 18 and set(frame["variant"]) == {"random", "entropy", "margin"}
    fig = plot_active_curves(frame, target=0.95)
    means = [t for t in fig.data if (t.meta or {}).get("role") == "mean"]
    assert {t.name for t in means} == {"random", "entropy", "margin"}
    assert list(means[0].x) == [20, 30, 40]
    assert isinstance(plot_active_curves(pd.DataFrame()), go.Figure)


def test_plot_acquired_images_and_text():
    from workbench.recipes import load_splits

    train = load_splits("digits").train
    ids = train.ids[:6].tolist()
    fig = plot_acquired(train, ids, [0.9, 0.8, 0.7, 0.6, 0.5, 0.4], columns=3)
    assert sum(isinstance(t, go.Heatmap) for t in fig.data) == 6
    assert f"id {ids[0]}" in fig.layout.annotations[0].text
    splits = tiny_splits()
    from workbench.data.datasets import ExampleDataset

    text = ExampleDataset([torch.tensor([1, 2]), torch.tensor([3])], [0, 1], [5, 9],
                          texts=["a fine film", "it rains"])
    fig = plot_acquired(text, [9, 5], [0.3, 0.2])
    assert isinstance(fig.data[0], go.Table) and list(fig.data[0].cells.values[3]) == ["it rains", "a fine film"]
    with pytest.raises(ValueError, match="same length"):
        plot_acquired(text, [9, 5], [0.3])
    assert len(splits.train) == 100


# ---------------------------------------------------------------------------- real data


def test_comparison_on_digits_smoke_covers_every_kind_of_strategy():
    recipe = active_recipe("digits", smoke=True, label_budget=40)
    comp = run_comparison(["digits"], ["margin", "bald", "coreset"], seeds=[0], smoke=True,
                          recipes={"digits": recipe})
    s = comp.summary.set_index("strategy")
    assert list(s.index) == ["random", "margin", "bald", "coreset"]
    frame = comp.frame()
    assert sorted(frame["labels"].unique()) == [20, 30, 40]
    assert frame["test_accuracy"].between(0, 1).all() and frame["test_accuracy"].max() > 0.5
    for st in ("margin", "bald", "coreset"):
        lr = comp.learners[("digits", st)]
        assert len(lr.acquired) == 2 and lr.labels == 40
        assert all(len(a["ids"]) == 10 for a in lr.acquired)
    # the same seed: every strategy starts from the same 20 labels and the same round-0 model
    assert frame[frame["round"] == 0]["test_accuracy"].nunique() == 1
    fig = comp.picked_figure("digits", "bald")
    assert sum(isinstance(t, go.Heatmap) for t in fig.data) == 10
    assert "round 1" in fig.layout.title.text
    table = comp.table()
    assert len(table) == 4 and "ratio vs random" in table.columns


def test_panel_callback_runs_strategy_next_to_random():
    table = active_learning_panel_callback("digits", "entropy", initial_size=20, acquisition_size=10,
                                           rounds=2, smoke=True)
    assert list(table["strategy"]) == ["random", "entropy"]
    assert set(table["final accuracy"].str.endswith("@ 40"))
    with pytest.raises(ValueError, match="unknown strategy"):
        active_learning_panel_callback("digits", "uncertainty", smoke=True)
    with pytest.raises(ValueError, match="initial_size"):
        active_learning_panel_callback("digits", "entropy", initial_size=0, smoke=True)
    with pytest.raises(ValueError, match="no active-learning recipe"):
        active_learning_panel_callback("mnist", "entropy", smoke=True)


def test_subj_smoke_shows_sentences():
    recipe = active_recipe("subj", smoke=True, rounds=1)
    comp = run_comparison(["subj"], ["entropy"], seeds=[0], smoke=True, recipes={"subj": recipe})
    lr = comp.learners[("subj", "entropy")]
    assert lr.labels == 60 and len(lr.acquired) == 1
    fig = comp.picked_figure("subj", "entropy")
    table = fig.data[0]
    assert isinstance(table, go.Table)
    sentences = list(table.cells.values[3])
    picked = lr.splits.train.subset_by_ids(lr.acquired[0]["ids"][:10])
    assert sentences == picked.texts
    scores = [float(x) for x in table.cells.values[2]]
    assert scores == sorted(scores, reverse=True)
    assert entropy(torch.tensor([[0.5, 0.5]])).item() == pytest.approx(math.log(2))
