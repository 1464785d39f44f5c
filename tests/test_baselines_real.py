"""The tuned baselines on real data: the stored recipe (``workbench.recipes``), trained
on the default split with seed 0, meets the acceptance threshold on test accuracy and
reaches its own time-to-target value on validation accuracy.

Thresholds (the project's issue): digits >= 0.97, SUBJ >= 0.88, MR >= 0.73. Seeded runs
on one torch thread (``conftest.py``) are deterministic; the measured seed-0 figures and
their margins are listed in ``docs/baselines.md`` (``benchmarks/baselines.py`` measures
three seeds). SUBJ and MR train the full recipe (minutes each), so they are marked
``slow``; digits takes seconds.
"""

from __future__ import annotations

import pytest

from workbench.experiment import Experiment, Variant
from workbench.recipes import baseline_recipe, load_splits, model_factory

try:
    from workbench.data.nltk_data import find_corpus

    for _c in ("subjectivity", "sentence_polarity"):
        find_corpus(_c, download=False)
    HAVE_CORPORA = True
except LookupError:
    HAVE_CORPORA = False

needs_corpora = pytest.mark.skipif(not HAVE_CORPORA, reason="NLTK corpora not available (set NLTK_DATA)")

THRESHOLDS = {"digits": 0.97, "subj": 0.88, "mr": 0.73}


def run_recipe(dataset: str, seed: int = 0):
    """One run of the stored recipe, as every experiment runs its baseline."""
    recipe = baseline_recipe(dataset, progress_bar=False)
    splits = load_splits(dataset, seed=0)
    exp = Experiment({dataset: splits}, model_factory(recipe.model), recipe.config, [Variant("baseline")],
                     seeds=[seed], target=recipe.target, progress=False)
    return recipe, exp.run_one(dataset, exp.variants[0], seed)


def check(dataset: str) -> None:
    recipe, rec = run_recipe(dataset)
    acc = rec.test_metrics["test_accuracy"]
    vals = [r["val_accuracy"] for r in rec.eval_rows("val_accuracy")]
    assert len(vals) == recipe.config.epochs  # the whole budget ran, one evaluation per epoch
    assert acc >= THRESHOLDS[dataset], (
        f"{dataset}: test accuracy {acc:.4f} < {THRESHOLDS[dataset]} with the recipe "
        f"{recipe.config.lr=}, {recipe.config.batch_size=}, {recipe.config.epochs=}")
    assert rec.time_to_target_s == rec.time_to_target_s, (  # not NaN: the target was reached
        f"{dataset}: validation accuracy never reached the recipe's target "
        f"{recipe.target.value} (curve {[round(v, 4) for v in vals]})")


def test_digits_cnn_baseline_meets_threshold():
    check("digits")


@pytest.mark.slow
@needs_corpora
def test_subj_kim_cnn_baseline_meets_threshold():
    check("subj")


@pytest.mark.slow
@needs_corpora
def test_mr_kim_cnn_baseline_meets_threshold():
    check("mr")
