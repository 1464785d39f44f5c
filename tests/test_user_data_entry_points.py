"""Every technique family's entry point on a user's own data (issue 12 item 7).

A CSV of 200 real sentences (the NLTK subjectivity corpus, 100 subjective and 100
objective) through ``load_text_file``, and 240 rows of scikit-learn's digits features
(``[N, 64]``, tabular) through ``load_arrays``: curriculum, active learning, augmentation
(EDA), optimization (LR finder, schedule comparison) and the plain baseline run with the
default recipe of the data's modality, in smoke budgets.
"""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from workbench.data import load_arrays, load_text_file
from workbench.recipes import DEFAULT_RECIPES, baseline_recipe, default_target, train_baseline

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def _subjectivity_rows(n_per_class: int = 100) -> list[tuple[str, str]]:
    nltk = pytest.importorskip("nltk")
    try:
        from workbench.data.nltk_data import ensure_corpus

        ensure_corpus("subjectivity")
    except LookupError:
        pytest.skip("NLTK subjectivity corpus not available (set NLTK_DATA)")
    reader = nltk.corpus.subjectivity
    rows = []
    for cat, label in (("subj", "subjective"), ("obj", "objective")):
        sents = reader.sents(categories=cat)[:n_per_class]
        rows += [(" ".join(s), label) for s in sents]
    return rows


@pytest.fixture(scope="module")
def user_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("user") / "reviews.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["sentence", "kind"])
        w.writerows(_subjectivity_rows())
    return load_text_file(path, text_column="sentence", label_column="kind", seed=0)


@pytest.fixture(scope="module")
def user_arrays():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return load_arrays(X[:240], y[:240], name="my_table", fractions=(0.6, 0.2, 0.2))


@pytest.fixture(scope="module")
def user_images():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return load_arrays(X[:240].reshape(-1, 8, 8) / 16.0, y[:240], name="my_images",
                       fractions=(0.6, 0.2, 0.2))


# ------------------------------------------------------------------------ recipes


def test_default_recipe_by_modality(user_csv, user_arrays):
    text = baseline_recipe("reviews", splits=user_csv)
    assert text.model == "kim_cnn" and text.dataset == "reviews"
    table = baseline_recipe("digits", splits=user_arrays)  # an entry point's default name
    assert table.model == "mlp" and table.dataset == "my_table"
    assert user_arrays.task.mean is not None  # the MLP trains on standardised features
    images = load_arrays(np.random.default_rng(0).random((60, 1, 6, 6)), np.arange(60) % 3, name="imgs")
    assert baseline_recipe("imgs", splits=images).model == "cnn"
    assert {m: r["model"] for m, r in DEFAULT_RECIPES.items()} == {
        "text": "kim_cnn", "vision": "cnn", "tabular": "mlp"}
    # a built-in data set keeps its tuned recipe
    assert baseline_recipe("digits").target.value == 0.98
    with pytest.raises(ValueError, match="no baseline recipe for 'reviews'.*pass splits="):
        baseline_recipe("reviews")
    # target: halfway between the majority-class rate on validation and 1
    counts = np.bincount(user_csv.val.targets.numpy())
    assert default_target(user_csv).value == pytest.approx((counts.max() / counts.sum() + 1) / 2, abs=1e-4)
    reg = load_arrays(np.random.default_rng(1).random((50, 3)), np.linspace(0, 1, 50), num_classes=1)
    r = baseline_recipe("reg", splits=reg)
    assert r.config.loss == "mse" and r.target.metric == "val_loss" and r.target.mode == "min"


def test_default_recipes_give_your_data_the_speed_levers(user_csv, user_images):
    """Issue 19 item 3: your own text and images train with fused Adam through the default
    recipe of their modality, and your text takes length-grouped batches like the
    built-in corpora (``group_by_length=True``)."""
    import torch

    from workbench.data.samplers import LengthGroupedBatchSampler
    from workbench.models import build_model
    from workbench.train import Trainer

    text = baseline_recipe("reviews", splits=user_csv).config
    assert text.optimizer_impl == "fused" and not text.group_by_length
    grouped = baseline_recipe("reviews", splits=user_csv, group_by_length=True).config
    trainer = Trainer(build_model("kim_cnn", user_csv.task), grouped.replace(progress_bar=False, max_steps=2),
                      user_csv.train, user_csv.val, task=user_csv.task)
    assert isinstance(trainer.batch_sampler, LengthGroupedBatchSampler)
    assert trainer.optimizer.defaults["fused"] is True
    lengths = user_csv.train.lengths
    padded = sum(int(lengths[b].max()) * len(b) for b in trainer.batch_sampler)
    random_padded = sum(int(lengths[i:i + 50].max()) * len(lengths[i:i + 50]) for i in range(0, len(lengths), 50))
    assert padded < random_padded  # id order: the two classes' sentences are not sorted by length
    assert trainer.fit().effective_step == 2
    images = baseline_recipe("imgs", splits=user_images).config
    assert images.optimizer_impl == "fused" and not images.group_by_length
    model = build_model("cnn", user_images.task)
    trainer = Trainer(model, images.replace(progress_bar=False, max_steps=2), user_images.train,
                      task=user_images.task)
    assert trainer.optimizer.defaults["fused"] is True and trainer.batch_sampler is None
    before = [p.detach().clone() for p in model.parameters()]
    trainer.fit()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


# ------------------------------------------------------------------------ entry points


@pytest.mark.parametrize("which", ["csv", "arrays", "images"])
def test_train_baseline_and_curriculum(which, user_csv, user_arrays, user_images):
    from workbench.techniques.curriculum import compare_curriculum

    splits = {"csv": user_csv, "arrays": user_arrays, "images": user_images}[which]
    base = train_baseline(splits=splits, epochs=1, smoke=True, progress=False)
    assert list(base.summary["dataset"]) == [splits.name]
    batch_size = DEFAULT_RECIPES[splits.task.modality]["config"]["batch_size"]  # the modality's recipe
    assert base.records[0].effective_steps == math.ceil(len(splits.train) / batch_size)
    result = compare_curriculum(splits=splits, smoke=True, epochs=1, seeds=[0],
                                orders=("curriculum", "random"))
    summary = result.summary
    assert set(summary["dataset"]) == {splits.name}
    assert set(summary["variant"]) == {"baseline", "curriculum", "random-curriculum"}
    assert (summary["seeds"] == 1).all()
    assert all(0.0 <= v <= 1.0 for v in summary["final_metric_mean"])


@pytest.mark.parametrize("which", ["csv", "arrays"])
def test_active_learning(which, user_csv, user_arrays):
    from workbench.techniques.active import run_comparison

    splits = user_csv if which == "csv" else user_arrays
    comp = run_comparison([splits.name], ["margin"], seeds=[0], smoke=True, splits={splits.name: splits})
    assert sorted(r.strategy for r in comp.runs) == ["margin", "random"]
    recipe = comp.recipes[splits.name]
    assert recipe.model == DEFAULT_RECIPES[splits.task.modality]["model"]
    for run in comp.runs:
        labels = [row["labels"] for row in run.curve]
        assert len(labels) >= 2 and labels == sorted(labels) and labels[-1] > labels[0]
        assert all(0.0 <= row["test_accuracy"] <= 1.0 for row in run.curve)


def test_augmentation_on_user_text(user_csv):
    from workbench.techniques.augment import eda_comparison

    comp = eda_comparison(splits=user_csv, train_sizes=(60,), seeds=[0], smoke=True, max_passes=1,
                          progress=False)
    summary = comp.result.summary
    assert set(summary["dataset"]) == {"reviews/60"}
    assert set(summary["variant"]) == {"without EDA", "with EDA"}
    assert comp.augmentation[0]["copies"] > 0
    assert all(math.isfinite(v) for v in summary["final_metric_mean"])


@pytest.mark.parametrize("which", ["csv", "arrays"])
def test_optimization(which, user_csv, user_arrays):
    from workbench.techniques import optimization as O

    splits = user_csv if which == "csv" else user_arrays
    finder = O.lr_find_recipe(splits=splits, smoke=True, num_iter=20)
    assert finder.name == splits.name and len(finder.lrs) >= 2
    assert finder.extras["recipe_lr"] == DEFAULT_RECIPES[splits.task.modality]["config"]["lr"]
    exp = O.schedule_experiment([splits.name], seeds=[0], schedules=("constant", "one_cycle"),
                                smoke=True, epochs=1, progress=False, splits={splits.name: splits})
    summary = exp.run().summary
    assert set(summary["variant"]) == {"constant", "one_cycle"}
    assert all(0.0 <= v <= 1.0 for v in summary["final_metric_mean"])


def test_augmentation_on_user_arrays_is_refused_before_training(user_arrays):
    from workbench.techniques.augment import eda_comparison

    calls = []
    with pytest.raises(ValueError, match="'my_table' is not a text data set"):
        eda_comparison(splits=user_arrays, train_sizes=(60,), seeds=[0], smoke=True, progress=False,
                       on_eval=lambda exp: calls.append(1))
    assert calls == []  # EDA edits sentences: nothing was trained
