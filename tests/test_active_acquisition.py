"""Acquisition functions against values computed by hand, and batched pool scoring."""

from __future__ import annotations

import math

import pytest
import torch
from tiny import tiny_data, tiny_model

from workbench.models import build_model
from workbench.techniques.active import (
    acquire,
    bald,
    entropy,
    has_dropout,
    k_center_greedy,
    least_confidence,
    margin,
    mc_dropout_probs,
    pool_features,
    predict_probs,
    random_scores,
    select_top_k,
    variation_ratios,
)

LN2, LN3 = math.log(2), math.log(3)

# rows: one-hot, two-way tie, uniform, (0.6, 0.3, 0.1), (0.7, 0.2, 0.1)
P = torch.tensor([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.6, 0.3, 0.1], [0.7, 0.2, 0.1]])


def close(a, b, tol=1e-6):
    return torch.allclose(torch.as_tensor(a, dtype=torch.float64), torch.tensor(b, dtype=torch.float64), atol=tol)


def test_least_confidence_by_hand():
    # 1 - max p
    assert close(least_confidence(P), [0.0, 0.5, 2 / 3, 0.4, 0.3])


def test_margin_by_hand_including_ties_and_uniform():
    # 1 - (p1 - p2): one-hot 0, tie 1, uniform 1, 1-(0.6-0.3)=0.7, 1-(0.7-0.2)=0.5
    assert close(margin(P), [0.0, 1.0, 1.0, 0.7, 0.5])


def test_entropy_by_hand():
    # -(0.6 ln 0.6 + 0.3 ln 0.3 + 0.1 ln 0.1) = 0.306495 + 0.361192 + 0.230259 = 0.897946
    # -(0.7 ln 0.7 + 0.2 ln 0.2 + 0.1 ln 0.1) = 0.249672 + 0.321888 + 0.230259 = 0.801819
    assert close(entropy(P), [0.0, LN2, LN3, 0.897946, 0.801819], tol=1e-5)


def test_uniform_distribution_is_the_maximum_of_every_uncertainty_score():
    for c in (2, 5, 10):
        u = torch.full((1, c), 1.0 / c)
        assert close(least_confidence(u), [1 - 1 / c])
        assert close(margin(u), [1.0])
        assert close(entropy(u), [math.log(c)])


def test_bald_by_hand():
    samples = torch.tensor([
        # T=2 passes, N=4 examples, C=2
        [[1.0, 0.0], [0.5, 0.5], [0.9, 0.1], [0.8, 0.2]],
        [[0.0, 1.0], [0.5, 0.5], [0.9, 0.1], [0.4, 0.6]],
    ])
    # ex0: confident passes that disagree: H[0.5, 0.5] - 0 = ln 2
    # ex1: both uniform (agreeing): ln 2 - ln 2 = 0
    # ex2: identical passes: 0
    # ex3: H[0.6, 0.4] = 0.673012; H[0.8, 0.2] = 0.500402, H[0.4, 0.6] = 0.673012
    #      0.673012 - (0.500402 + 0.673012) / 2 = 0.086305
    assert close(bald(samples), [LN2, 0.0, 0.0, 0.086305], tol=1e-5)


def test_variation_ratios_by_hand():
    # T=4 passes, N=3, C=3; arg-max votes: ex0 (0,0,1,1) -> 1-2/4; ex1 (0,0,0,1) -> 1-3/4;
    # ex2 (2,2,2,2) -> 0
    a = [0.7, 0.2, 0.1]
    b = [0.2, 0.7, 0.1]
    z = [0.1, 0.1, 0.8]
    samples = torch.tensor([[a, a, z], [a, a, z], [b, a, z], [b, b, z]])
    assert close(variation_ratios(samples), [0.5, 0.25, 0.0])
    # uniform passes tie: every pass votes for class 0, so the passes agree -> 0
    assert close(variation_ratios(torch.full((5, 1, 4), 0.25)), [0.0])
    # three passes, three different classes -> 1 - 1/3
    three = torch.tensor([[[0.8, 0.1, 0.1]], [[0.1, 0.8, 0.1]], [[0.1, 0.1, 0.8]]])
    assert close(variation_ratios(three), [2 / 3])


def test_select_top_k_breaks_ties_by_lower_position():
    scores = margin(P)  # [0, 1, 1, 0.7, 0.5]
    assert select_top_k(scores, 1).tolist() == [1]
    assert select_top_k(scores, 3).tolist() == [1, 2, 3]
    assert select_top_k(torch.zeros(4), 2).tolist() == [0, 1]
    assert select_top_k(scores, 0).tolist() == []
    with pytest.raises(ValueError, match="k must be"):
        select_top_k(scores, 6)
    with pytest.raises(ValueError, match="NaN"):
        select_top_k(torch.tensor([0.1, float("nan")]), 1)


def test_select_top_k_breaks_ties_at_random_with_a_generator():
    scores = torch.tensor([0.0, 1.0, 1.0, 0.7, 1.0])
    firsts = set()
    for seed in range(20):
        g = torch.Generator().manual_seed(seed)
        top3 = select_top_k(scores, 3, generator=g)
        assert sorted(top3.tolist()) == [1, 2, 4]  # ties are broken only among equal scores
        firsts.add(int(top3[0]))
        assert select_top_k(scores, 4, generator=torch.Generator().manual_seed(seed)).tolist()[3] == 3
    assert firsts == {1, 2, 4}
    a = select_top_k(torch.zeros(50), 10, generator=torch.Generator().manual_seed(1))
    b = select_top_k(torch.zeros(50), 10, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.tolist() != list(range(10))


def test_k_center_greedy_by_hand():
    pool = torch.tensor([[1.0], [2.0], [5.0], [10.0]])
    centers = torch.tensor([[0.0]])
    # nearest-center distances 1, 2, 5, 10 -> pick 10 (d=10); then 1, 2, 5 -> pick 5 (d=5); then 2
    pos, d = k_center_greedy(pool, centers, 3)
    assert pos.tolist() == [3, 2, 1]
    assert close(d, [10.0, 5.0, 2.0])
    # a tie (-1 and 1 both at distance 1 from 0) goes to the lower position
    pos, d = k_center_greedy(torch.tensor([[-1.0], [1.0]]), centers, 2)
    assert pos.tolist() == [0, 1] and close(d, [1.0, 1.0])
    # 2-D: l2 distance; (3, 4) is 5 away from the origin
    pos, d = k_center_greedy(torch.tensor([[3.0, 4.0], [1.0, 0.0]]), torch.zeros(1, 2), 1)
    assert pos.tolist() == [0] and close(d, [5.0])
    with pytest.raises(ValueError, match="same D"):
        k_center_greedy(pool, torch.zeros(1, 2), 1)
    with pytest.raises(ValueError, match="k must be"):
        k_center_greedy(pool, centers, 5)


def test_random_scores_use_the_private_generator_only():
    before = torch.get_rng_state()
    a = random_scores(10, torch.Generator().manual_seed(3))
    b = random_scores(10, torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and torch.equal(torch.get_rng_state(), before)
    assert not torch.equal(a, random_scores(10, torch.Generator().manual_seed(4)))


@pytest.mark.parametrize("bad, match", [
    (torch.tensor([0.5, 0.5]), r"\[N, C\]"),
    (torch.tensor([[0.5, 0.6]]), "sum to 1"),
    (torch.tensor([[2.0, -1.0]]), r"\[0, 1\]"),
    (torch.tensor([[1, 0]]), "floating point"),
])
def test_scores_reject_what_is_not_a_probability_table(bad, match):
    for fn in (least_confidence, margin, entropy):
        with pytest.raises(ValueError, match=match):
            fn(bad)
    with pytest.raises(ValueError, match=r"\[T, N, C\]"):
        bald(P)


# ------------------------------------------------------------------------ pool scoring


def _pool():
    data, task = tiny_data(n=40)
    return data, task, task.collator()


def test_predict_probs_equals_softmax_of_eval_mode_logits():
    data, task, collate = _pool()
    model = tiny_model(dropout=0.5)
    model.train()
    ids, probs = predict_probs(model, data, collate, batch_size=7)
    assert model.training  # mode restored
    model.eval()
    with torch.no_grad():
        want = torch.softmax(model(data.inputs), dim=1)
    assert torch.equal(ids, data.ids)
    assert torch.allclose(probs, want, atol=1e-6)


def test_mc_dropout_is_batched_under_inference_mode_seeded_and_leaves_rng_alone():
    data, task, collate = _pool()
    model = tiny_model(dropout=0.5)
    model.train()
    seen = []
    hook = model.register_forward_hook(
        lambda m, inp, out: seen.append((torch.is_inference_mode_enabled(), inp[0].shape[0])))
    torch.manual_seed(123)
    before = torch.get_rng_state()
    ids, s1 = mc_dropout_probs(model, data, collate, samples=5, seed=7, batch_size=50)
    assert torch.equal(torch.get_rng_state(), before)  # the global RNG stream is untouched
    hook.remove()
    assert s1.shape == (5, 40, 3) and torch.equal(ids, data.ids)
    assert all(flag for flag, _ in seen)
    assert max(rows for _, rows in seen) <= 50 and len(seen) == math.ceil(40 / (50 // 5))
    assert model.training and model.net[2].training  # modes restored
    _, s2 = mc_dropout_probs(model, data, collate, samples=5, seed=7, batch_size=50)
    _, s3 = mc_dropout_probs(model, data, collate, samples=5, seed=8, batch_size=50)
    assert torch.equal(s1, s2) and not torch.equal(s1, s3)
    assert not torch.allclose(s1[0], s1[1])  # dropout is active: passes differ
    assert torch.allclose(s1.sum(-1), torch.ones(5, 40), atol=1e-5)


def test_mc_dropout_keeps_batchnorm_in_eval_mode():
    from workbench.recipes import load_splits

    splits = load_splits("digits")
    model = build_model("cnn", splits.task)
    pool = splits.train.subset(list(range(64)))
    stats = model.features[1].running_mean.clone()
    _, s = mc_dropout_probs(model, pool, splits.task.collator(), samples=4, seed=0)
    assert torch.equal(model.features[1].running_mean, stats)
    assert s.shape == (4, 64, 10)


def test_mc_dropout_needs_dropout():
    data, task, collate = _pool()
    model = tiny_model(dropout=0.0)
    assert not has_dropout(model)
    with pytest.raises(ValueError, match="no dropout"):
        mc_dropout_probs(model, data, collate, samples=3)
    with pytest.raises(ValueError, match="samples"):
        mc_dropout_probs(tiny_model(dropout=0.5), data, collate, samples=0)


def test_acquire_picks_the_top_scores_by_id():
    data, task, collate = _pool()
    model = tiny_model(dropout=0.5)
    acq = acquire("entropy", model, data, 5, collate)
    _, probs = predict_probs(model, data, collate)
    want = data.ids[select_top_k(entropy(probs), 5)]
    assert torch.equal(acq.ids, want)
    assert close(acq.scores, entropy(probs)[select_top_k(entropy(probs), 5)].tolist())
    assert acq.seconds >= 0 and acq.strategy == "entropy"
    rnd = acquire("random", model, data, 5, collate, generator=torch.Generator().manual_seed(0))
    assert len(set(rnd.ids.tolist())) == 5 and set(rnd.ids.tolist()) <= set(data.ids.tolist())
    b = acquire("bald", model, data, 5, collate, mc_samples=4)
    assert b.ids.shape == (5,) and bool((b.scores[:-1] >= b.scores[1:]).all())
    with pytest.raises(ValueError, match="unknown acquisition strategy"):
        acquire("uncertainty", model, data, 5, collate)
    with pytest.raises(ValueError, match="k must be"):
        acquire("margin", model, data, 41, collate)


def test_coreset_acquisition_uses_encoder_features():
    from workbench.recipes import load_splits

    splits = load_splits("digits")
    model = build_model("mlp", splits.task)
    collate = splits.task.collator()
    pool, labeled = splits.train.subset(list(range(20, 120))), splits.train.subset(list(range(20)))
    with pytest.raises(ValueError, match="labeled="):
        acquire("coreset", model, pool, 5, collate)
    acq = acquire("coreset", model, pool, 5, collate, labeled=labeled)
    _, f_pool = pool_features(model, pool, collate)
    _, f_lab = pool_features(model, labeled, collate)
    pos, d = k_center_greedy(f_pool, f_lab, 5)
    assert torch.equal(acq.ids, pool.ids[pos]) and close(acq.scores, d.tolist())
    with pytest.raises(ValueError, match="encode"):
        pool_features(tiny_model(), *_pool()[::2])
