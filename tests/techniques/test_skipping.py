"""The skipping family: pure selection rules against hand values, the predictor's
features, and real-data runs on digits that count the skips and still learn."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.config import TrainingConfig
from workbench.models import build_model
from workbench.techniques.skipping import (
    FEATURE_NAMES,
    DifficultyPrediction,
    GradientCache,
    GradientCaching,
    LossHistory,
    OnlineRidge,
    SelectiveBackprop,
    adapt_threshold,
    classifier_example_grads,
    example_features,
    is_held_out,
    keep_fraction_indices,
    loss_percentile,
    percentile_keep_probability,
    reuse_error,
    should_select,
    spearman,
    subset_batch,
    token_rarity_table,
)
from workbench.train import Technique, Trainer
from workbench.train.events import Event


def test_percentile_keep_probability_hand_values():
    history = torch.tensor([1.0, 2.0, 3.0, 4.0])
    losses = torch.tensor([0.5, 1.0, 3.0, 10.0])
    # F = #{h <= l} / 4: 0, 1/4, 3/4, 1
    torch.testing.assert_close(loss_percentile(losses, history), torch.tensor([0.0, 0.25, 0.75, 1.0]))
    p = percentile_keep_probability(losses, history, beta=3.0)
    torch.testing.assert_close(p, torch.tensor([0.0, 0.015625, 0.421875, 1.0]))
    assert percentile_keep_probability(losses, history, beta=1.0)[2] == pytest.approx(0.75)
    # nothing seen yet: keep everything
    assert torch.equal(loss_percentile(losses, torch.zeros(0)), torch.ones(4))
    with pytest.raises(ValueError, match="beta"):
        percentile_keep_probability(losses, history, beta=0.0)


def test_loss_history_is_a_ring_of_the_last_r():
    h = LossHistory(3)
    h.add(torch.tensor([1.0, 2.0]))
    assert sorted(h.values().tolist()) == [1.0, 2.0]
    h.add(torch.tensor([3.0, 4.0]))
    assert sorted(h.values().tolist()) == [2.0, 3.0, 4.0]
    h.add(torch.arange(10.0))
    assert sorted(h.values().tolist()) == [7.0, 8.0, 9.0]
    with pytest.raises(ValueError, match="history_size"):
        LossHistory(0)


def test_composer_keep_fraction_schedule_and_sampling():
    # Composer's defaults: start 0.5, end 0.9, interrupt 2
    assert not should_select(0.49, 0)
    assert should_select(0.5, 0)            # (0 + 1) % 2 != 0
    assert not should_select(0.5, 1)        # every second batch is trained in full
    assert should_select(0.89, 2)
    assert not should_select(0.9, 2)
    assert should_select(0.0, 1, start=0.0, end=1.0, interrupt=0)
    g = torch.Generator().manual_seed(0)
    losses = torch.arange(8.0)
    idx = keep_fraction_indices(losses, 0.5, g)
    assert idx.numel() == 4 and len(set(idx.tolist())) == 4
    # keep=0.5: probability proportional to the loss rank's percentile ((k+.5)/B)^1:
    # over many draws the highest loss is picked far more often than the lowest
    picks = torch.zeros(8)
    for _ in range(400):
        picks[keep_fraction_indices(losses, 0.5, g)] += 1
    assert picks[7] > 3 * picks[0]
    assert keep_fraction_indices(losses, 1.0).tolist() == list(range(8))
    assert keep_fraction_indices(losses, 0.01).numel() == 1
    with pytest.raises(ValueError, match="keep"):
        keep_fraction_indices(losses, 0.0)


def test_subset_batch_indexes_batch_fields_only():
    batch = {"ids": torch.arange(4), "inputs": torch.arange(8).view(4, 2), "targets": torch.tensor([0, 1, 0, 1]),
             "name": "x"}
    out = subset_batch(batch, torch.tensor([1, 3]))
    assert out["ids"].tolist() == [1, 3] and out["inputs"].tolist() == [[2, 3], [6, 7]] and out["name"] == "x"


def test_predictor_features_by_hand():
    rarity = token_rarity_table([torch.tensor([1, 1, 2]), torch.tensor([1, 3])], vocab_size=4, pad_id=0)
    # add-one counts: pad 1, token1 4, token2 2, token3 2 -> total 9
    torch.testing.assert_close(rarity, torch.tensor([0.0, -math.log(4 / 9), -math.log(2 / 9), -math.log(2 / 9)]))
    batch = {"ids": torch.tensor([0, 2]), "inputs": torch.tensor([[1, 2, 0], [3, 0, 0]]),
             "lengths": torch.tensor([2, 1]), "targets": torch.tensor([1, 0])}
    last_loss = torch.tensor([0.0, 0.0, 1.5])
    last_seen = torch.tensor([-1, -1, 1])
    cls = torch.tensor([0.1, 0.7])
    x = example_features(batch, last_loss, last_seen, epoch=3, class_rarity=cls, token_rarity=rarity)
    assert x.shape == (2, len(FEATURE_NAMES)) and x.dtype == torch.float32
    f = dict(zip(FEATURE_NAMES, x.T))
    assert f["bias"].tolist() == [1.0, 1.0]
    torch.testing.assert_close(f["length"], torch.log1p(torch.tensor([2.0, 1.0])))
    torch.testing.assert_close(f["rarity"], torch.stack([(rarity[1] + rarity[2]) / 2, rarity[3]]))
    torch.testing.assert_close(f["class_rarity"], torch.tensor([0.7, 0.1]))
    # id 0 never seen: last loss, seen and age 0; id 2 seen at epoch 1 with loss 1.5
    torch.testing.assert_close(f["last_loss"], torch.tensor([0.0, math.log1p(1.5)]))
    assert f["seen"].tolist() == [0.0, 1.0] and f["age"].tolist() == [0.0, 2.0]


def test_online_ridge_recovers_a_linear_rule_and_spearman():
    g = torch.Generator().manual_seed(0)
    w = torch.tensor([0.5, 2.0, -1.0])
    r = OnlineRidge(3, decay=1.0, l2=0.0)
    for _ in range(5):
        x = torch.cat([torch.ones(50, 1), torch.randn(50, 2, generator=g)], 1)
        r.update(x, x @ w)
    torch.testing.assert_close(r.w.float(), w, atol=1e-4, rtol=0)
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(spearman([1, 2], [1, 2]))
    held = is_held_out(torch.arange(10_000), 0.1)
    assert 0.08 < held.float().mean() < 0.12
    assert torch.equal(held, is_held_out(torch.arange(10_000), 0.1))  # fixed, not random


@pytest.fixture(scope="module")
def digits():
    from workbench.data.datasets import load_dataset

    return load_dataset("digits")


def _fit(splits, technique, epochs=6):
    torch.manual_seed(0)
    model = build_model("mlp", splits.task)
    cfg = TrainingConfig(epochs=epochs, batch_size=32, optimizer="adam", lr=3e-3, progress_bar=False,
                         eval_every_epochs=1, log_every_steps=10, seed=0)
    trainer = Trainer(model, cfg, splits.train, splits.val, task=splits.task, techniques=[technique])
    state = trainer.fit()
    return trainer, state


def test_selective_backprop_on_digits_skips_backward_and_learns(digits):
    n = len(digits.train)
    tech = SelectiveBackprop.default(digits, rule="jiang", start=0.0, end=1.0, interrupt=0)
    trainer, state = _fit(digits, tech)
    skipped, seen = state.counters["examples_skipped"], state.examples_seen
    # every example is scored; only the kept ones are forwarded with gradients and backpropagated
    assert state.counters["scoring_examples"] == 6 * n == skipped + seen
    assert state.counters["backward_skipped"] == skipped
    # F^3 keeps about 1/4 of the examples on average (E[U^3] = 1/4 for a uniform percentile)
    assert 0.15 < seen / (6 * n) < 0.45
    assert "examples_skipped" in state.history[-1]  # counted in every metric row
    assert trainer.evaluate(digits.test)["accuracy"] > 0.9


def test_selective_backprop_composer_rule_keeps_half_on_selected_batches(digits):
    n = len(digits.train)
    tech = SelectiveBackprop.default(digits, rule="composer")  # start 0.5, end 0.9, keep 0.5, interrupt 2
    trainer, state = _fit(digits, tech, epochs=5)
    scored = state.counters["scoring_examples"]
    # 40% of the run in the interval, every other batch selected: about 20% of the examples scored
    assert 0.15 * 5 * n < scored < 0.25 * 5 * n
    assert state.counters["examples_skipped"] == pytest.approx(scored / 2, abs=scored * 0.05)
    assert trainer.evaluate(digits.test)["accuracy"] > 0.9


def test_difficulty_prediction_on_digits_skips_and_logs_spearman(digits):
    n = len(digits.train)
    tech = DifficultyPrediction.default(digits)  # 20% of each batch from epoch 2, K = 2
    trainer, state = _fit(digits, tech)
    skipped = state.counters["examples_skipped"]
    assert skipped + state.examples_seen == 6 * n
    # 5 epochs of skipping at 20% less the held-out and stale examples kept
    assert 0.6 * 0.2 * 5 * n < skipped <= 0.2 * 5 * n
    # re-checked within K = 2 epochs: every example was forwarded in the last two epochs
    assert int((tech.last_seen_epoch[digits.train.ids] >= 4).sum()) == n
    rhos = [r["predictor_spearman"] for r in state.history if "predictor_spearman" in r]
    assert len(rhos) == 6 and not math.isnan(rhos[-1])
    assert rhos[-1] > 0.2  # the predictor ranks unseen (held-out) losses better than chance
    assert trainer.evaluate(digits.test)["accuracy"] > 0.9


# ----------------------------------------------------------------------------- gradient caching
def test_classifier_example_grads_match_autograd():
    torch.manual_seed(0)
    clf = torch.nn.Linear(5, 3)
    h = torch.randn(4, 5)
    y = torch.tensor([0, 2, 1, 2])
    g = classifier_example_grads(h, clf(h).detach(), y)
    assert g.shape == (4, 3 * 5 + 3)
    for i in range(4):
        clf.zero_grad()
        torch.nn.functional.cross_entropy(clf(h[i:i + 1]), y[i:i + 1]).backward()
        torch.testing.assert_close(g[i], torch.cat([clf.weight.grad.flatten(), clf.bias.grad]))


def test_gradient_cache_lookup_insert_budget_and_error():
    cache = GradientCache(num_classes=2, feature_dim=2, grad_dim=3, slots=2)
    assert cache.nbytes == 2 * 2 * (2 + 3) * 4
    hit, entry = cache.lookup(torch.tensor([[1.0, 0.0]]), torch.tensor([0]), 0.5)
    assert not hit.any() and entry.tolist() == [-1]  # empty class
    cache.insert(torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 0]),
                 torch.tensor([[1.0, 0, 0], [0, 1.0, 0]]))
    hit, entry = cache.lookup(torch.tensor([[3.0, 0.1], [1.0, 1.0], [1.0, 0.0]]), torch.tensor([0, 0, 1]), 0.9)
    assert hit.tolist() == [True, False, False] and entry[0] == 0  # cos 0.707 < 0.9; class 1 empty
    assert cache.get(torch.tensor([0]), torch.tensor([1])).tolist() == [[0.0, 1.0, 0.0]]
    cache.insert(torch.tensor([[-1.0, 0.0]]), torch.tensor([0]), torch.zeros(1, 3))  # ring: overwrites slot 0
    assert cache.features[0, 0].tolist() == [-1.0, 0.0]
    cos, rel = reuse_error(torch.tensor([[1.0, 0.0], [2.0, 0.0]]), torch.tensor([[1.0, 0.0], [1.0, 1.0]]))
    torch.testing.assert_close(cos, torch.tensor([1.0, 2 / (2 * math.sqrt(2))]))
    torch.testing.assert_close(rel, torch.tensor([0.0, math.sqrt(2) / math.sqrt(2)]))
    assert adapt_threshold(0.9, hit_rate=0.5, target=0.2, rate=0.1) == pytest.approx(0.93)
    assert adapt_threshold(0.9, hit_rate=0.0, target=0.2, rate=0.1) == pytest.approx(0.88)
    assert adapt_threshold(0.9999, 1.0, 0.2, 1.0) == 0.9999


class _GradAtStep(Technique):
    events = frozenset({Event.STEP_END})

    def __init__(self):
        super().__init__()
        self.grads = []

    def on_step_end(self, state):
        clf = state.model.classifier
        self.grads.append(torch.cat([clf.weight.grad.flatten(), clf.bias.grad]).clone())


def test_gradient_caching_exact_hits_reproduce_the_full_batch_gradient(digits):
    # lr 1e-12 and no dropout: the weights do not move, so a cached gradient of the same
    # example is exact; epoch 2 sees the same 16 examples, 15 hit (one is kept for the step)
    train = digits.train.subset(list(range(16)))
    torch.manual_seed(0)
    model = build_model("mlp", digits.task, dropout=0.0)
    tech = GradientCaching(tau=0.9999, tau_rate=0.0)
    probe = _GradAtStep()
    cfg = TrainingConfig(epochs=2, batch_size=16, optimizer="sgd", lr=1e-12, progress_bar=False,
                         eval_every_epochs=1, seed=0)
    trainer = Trainer(model, cfg, train, digits.val, task=digits.task, techniques=[probe, tech])
    state = trainer.fit()
    assert state.counters["cache_hits"] == 15 and state.counters["cache_misses"] == 17
    assert state.counters["examples_skipped"] == 15 and state.examples_seen == 17
    torch.testing.assert_close(probe.grads[1], probe.grads[0], rtol=1e-4, atol=1e-6)
    assert state.history[-1]["grad_cache_cosine"] == pytest.approx(1.0, abs=1e-5)
    assert state.history[-1]["grad_cache_rel_error"] == pytest.approx(0.0, abs=1e-4)
    assert state.history[-1]["grad_cache_pooled_rel_error"] == pytest.approx(0.0, abs=1e-4)


def test_gradient_caching_on_digits_tracks_hit_rate_and_logs_error(digits):
    tech = GradientCaching.default(digits)  # target hit rate 0.2
    trainer, state = _fit(digits, tech)
    hits, misses = state.counters["cache_hits"], state.counters["cache_misses"]
    assert hits + misses == 6 * len(digits.train) == state.counters["scoring_examples"]
    assert 0.1 < hits / (hits + misses) < 0.3  # the adaptive threshold tracks the 20% target
    rows = [r for r in state.history if "grad_cache_cosine" in r]
    assert len(rows) == 6 and rows[-1]["grad_cache_memory_bytes"] == tech.cache.nbytes
    last = rows[-1]
    assert -1.0 <= last["grad_cache_cosine"] <= 1.0 and last["grad_cache_rel_error"] >= 0.0
    # pooled: sum of error norms / sum of true norms; these hits reuse other examples'
    # gradients, so it is above 0
    assert 0.0 < last["grad_cache_pooled_rel_error"] < math.inf
    assert trainer.evaluate(digits.test)["accuracy"] > 0.9


# ----------------------------------------------------------------------------- notebook helpers
@pytest.mark.parametrize("variant", ["difficulty-prediction", "gradient-caching"])
def test_compare_skipping_smoke_records_skips_and_figures(variant):
    from workbench.techniques.skipping import (
        compare_skipping,
        most_skipped_html,
        reuse_error_figure,
        skipped_by_class_figure,
        skipped_by_difficulty_figure,
    )

    calls = []
    out = compare_skipping("digits", variant, smoke=True, on_eval=lambda exp: calls.append(1),
                           **({"skip_fraction": 0.5} if variant == "difficulty-prediction" else {}))
    rec = out["recorder"]
    counters = next(r.counters for r in out["result"].records if r.variant == variant)
    # the recorder sees the whole batch before the technique and the kept part after it
    assert int(rec.skipped.sum()) == counters["examples_skipped"] > 0
    assert int(rec.drawn.sum()) == counters["examples_skipped"] + next(
        r.examples_seen for r in out["result"].records if r.variant == variant)
    assert calls and len(out["result"].records) == 2
    assert len(skipped_by_class_figure(out).data[0].y) == 10
    assert len(skipped_by_difficulty_figure(out).data) == 2
    assert most_skipped_html(out, n=3).count("skipped ") == 3
    fig = reuse_error_figure(out["rows"])
    assert (len(fig.data[0].x) > 0) == (variant == "gradient-caching")
    with pytest.raises(ValueError, match="variant"):
        compare_skipping("digits", "rho-loss", smoke=True)


# ----------------------------------------------------------------------------- RHO-LOSS
def test_rho_loss_on_digits_charges_il_training_and_selects(digits):
    from workbench.techniques.skipping import RhoLoss

    n = len(digits.train)
    # 10% of the training labels flipped: the cross-fitted irreducible-loss model gives them
    # high irreducible losses (they are not learnable from the other half)
    g = torch.Generator().manual_seed(0)
    flip = torch.randperm(n, generator=g)[: n // 10]
    targets = digits.train.targets.clone()
    targets[flip] = (targets[flip] + 1) % 10
    train = type(digits.train)(digits.train.inputs, targets, digits.train.ids, name="digits")
    splits = type(digits)(**{**digits.__dict__, "train": train})
    tech = RhoLoss.default(splits, keep=0.25)
    torch.manual_seed(0)
    model = build_model("mlp", splits.task)
    cfg = TrainingConfig(epochs=5, batch_size=128, optimizer="adam", lr=3e-3, progress_bar=False,
                         eval_every_epochs=1, seed=0)
    trainer = Trainer(model, cfg, splits.train, splits.val, task=splits.task, techniques=[tech])
    state = trainer.fit()
    il = tech.il_losses[train.ids]
    clean = torch.ones(n, dtype=torch.bool)
    clean[flip] = False
    assert il[~clean].mean() > 3 * il[clean].mean()
    # the IL training's time is on the run's clock
    assert state.counters["il_training_us"] > 0
    assert state.wall_time > state.counters["il_training_us"] / 1e6
    assert state.counters["scoring_examples"] == 5 * n
    assert state.examples_seen + state.counters["examples_skipped"] == 5 * n
    assert state.examples_seen < 0.3 * 5 * n
    assert trainer.evaluate(digits.test)["accuracy"] > 0.85
