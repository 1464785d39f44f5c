"""Curriculum and data-scheduling samplers."""

from __future__ import annotations

from collections import Counter

import pytest
import torch

from tests.tiny import tiny_data
from workbench.techniques.curriculum import make_pacing
from workbench.techniques.curriculum import samplers as cs


def test_pacing_sampler_draws_each_batch_from_the_available_prefix():
    order = torch.randperm(100, generator=torch.Generator().manual_seed(0))
    pace = make_pacing("fixed_exponential", start=0.1, increase_amount=2.0, step_length=3)
    s = cs.PacingSampler(order, pace, batch_size=10, seed=1)
    pos = s.positions()
    assert len(pos) == len(s) == 100
    rank = torch.empty(100, dtype=torch.long)
    rank[order] = torch.arange(100)
    for b in range(10):
        batch = pos[b * 10:(b + 1) * 10]
        assert int(rank[batch].max()) < s.available(b)
        assert len(set(batch.tolist())) == 10  # no repeats within a batch
    assert s.available(0) == 10 and s.available(3) == 20 and s.available(12) == 100
    # epoch 2 continues the pacing (global steps 20..29): all data is available from its
    # start, so the epoch is a plain random permutation, like the baseline's
    s.set_epoch(2)
    assert sorted(s.positions().tolist()) == list(range(100))
    # pure function of (seed, epoch)
    t = cs.PacingSampler(order, pace, batch_size=10, seed=1)
    t.load_state_dict(s.state_dict())
    assert torch.equal(t.positions(), s.positions())
    t.set_epoch(0)
    assert torch.equal(t.positions(), pos)


def test_pacing_sampler_rejects_bad_input():
    with pytest.raises(ValueError, match="permutation"):
        cs.PacingSampler([0, 0, 1], lambda s: 1.0, 2)
    with pytest.raises(ValueError, match="batch_size"):
        cs.PacingSampler([0, 1], lambda s: 1.0, 0)
    s = cs.PacingSampler([0, 1], lambda s: 2.0, 1)
    with pytest.raises(ValueError, match="outside"):
        list(s)


def test_difficulty_sampler_range_applies_at_next_epoch_only():
    scores = torch.arange(20, dtype=torch.float) * -1  # position 19 is the easiest
    s = cs.DifficultySampler(scores, 0.0, 0.25, seed=0)
    assert sorted(s) == [15, 16, 17, 18, 19] and len(s) == 5
    first = list(s)
    s.set_range(0.0, 0.5)
    assert list(s) == first and len(s) == 5  # the epoch in progress does not change
    s.set_epoch(0)  # same epoch (a resume): nothing applied
    assert len(s) == 5
    s.set_epoch(1)
    assert sorted(s) == list(range(10, 20))
    v = cs.DifficultySampler(scores, -3.0, -1.0, mode="value")
    assert sorted(v) == [1, 2, 3]
    with pytest.raises(ValueError, match="low <= high"):
        s.set_range(0.6, 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        s.set_range(0.0, 1.5)
    w = cs.DifficultySampler(scores, -100.0, -99.0, mode="value", min_examples=2)
    assert sorted(w) == [18, 19]  # widened to the easiest 2 when the range is empty


def test_importance_sampler_follows_weights_and_updates():
    w = torch.tensor([0.0, 1.0, 3.0, 0.0])
    s = cs.ImportanceSampler(w, num_samples=4000, seed=0)
    c = Counter(s)
    assert set(c) == {1, 2}
    assert 2.6 < c[2] / c[1] < 3.4
    s.update_weights([5.0], positions=[0])
    assert 0 not in set(s)  # pending until the next epoch
    s.set_epoch(1)
    assert Counter(s)[0] > 0
    with pytest.raises(ValueError, match="weights"):
        cs.ImportanceSampler([0.0, 0.0])
    r = cs.ImportanceSampler(w, num_samples=2, replacement=False, seed=3)
    assert sorted(r) == [1, 2]


def test_class_balanced_batches():
    targets = torch.tensor([0] * 50 + [1] * 10 + [2] * 5)
    s = cs.ClassBalancedBatchSampler(targets, batch_size=9, seed=0)
    batches = list(s)
    assert len(batches) == len(s) == 8
    for b in batches:
        assert Counter(targets[b].tolist()) == {0: 3, 1: 3, 2: 3}
    s.set_epoch(1)
    assert list(s) != batches
    with pytest.raises(ValueError, match="number of classes"):
        cs.ClassBalancedBatchSampler(targets, batch_size=2)


def test_dynamic_batch_composer_length_grouping_cuts_padding():
    g = torch.Generator().manual_seed(0)
    lengths = torch.randint(3, 60, (400,), generator=g)
    grouped = cs.DynamicBatchComposer(400, 16, seed=0, lengths=lengths, tolerance=0.1)
    plain = cs.DynamicBatchComposer(400, 16, seed=0)
    bg, bp = list(grouped), list(plain)
    assert sorted(sum(bg, [])) == list(range(400)) and sorted(sum(bp, [])) == list(range(400))
    pg, pp = cs.padding_stats(bg, lengths), cs.padding_stats(bp, lengths)
    assert pg["tokens"] == pp["tokens"]
    assert pg["padding"] < 0.3 * pp["padding"]
    strict = cs.DynamicBatchComposer(400, 16, seed=0, lengths=lengths, tolerance=0.0)
    assert cs.padding_stats(list(strict), lengths)["padding"] <= pg["padding"]


def test_dynamic_batch_composer_difficulty_modes_and_domains():
    n, bs = 64, 8
    diff = torch.arange(n, dtype=torch.float)
    prog = list(cs.DynamicBatchComposer(n, bs, difficulty=diff, mode="progressive"))
    means = [float(diff[b].mean()) for b in prog]
    assert means == sorted(means)
    mixed = list(cs.DynamicBatchComposer(n, bs, difficulty=diff, mode="mixed"))
    for b in mixed:  # one example from each eighth of the difficulty range
        assert sorted(int(d) // 8 for d in diff[b]) == list(range(8))
    domains = torch.tensor([0] * 48 + [1] * 16)
    bal = list(cs.DynamicBatchComposer(n, bs, domains=domains))
    assert len(bal) == 4  # the smaller domain (16 examples, 4 per batch) ends the epoch
    for b in bal:
        assert Counter(domains[b].tolist()) == {0: 4, 1: 4}
    with pytest.raises(ValueError, match="mode"):
        cs.DynamicBatchComposer(n, bs, mode="hard")


def test_staged_loader_advances_on_demand():
    a, task = tiny_data(n=20)
    b, _ = tiny_data(n=40, seed=1)
    st = cs.StagedLoader([cs.LoaderStage(a, 5, "easy"), cs.LoaderStage(b, 10, "all")], collate_fn=task.collator())
    assert len(st.current_loader()) == 4 and st.stage.name == "easy"
    assert st.advance_stage() and len(st.current_loader()) == 4 and st.dataset is b
    assert not st.advance_stage()
    other = cs.StagedLoader([cs.LoaderStage(a, 5), cs.LoaderStage(b, 10)])
    other.load_state_dict(st.state_dict())
    assert other.index == 1
    with pytest.raises(ValueError, match="empty"):
        cs.StagedLoader([cs.LoaderStage(a.subset([]), 5)])


def test_curriculum_dataloader_factory():
    data, task = tiny_data(n=40)
    scores = torch.arange(40, dtype=torch.float)  # position 0 easiest
    dl = cs.curriculum_dataloader(data, scores, make_pacing("single_step", 100, start=0.25, step_length=50),
                                  batch_size=5, collate_fn=task.collator())
    ids = [b["ids"] for b in dl]
    assert len(ids) == 8
    for b in ids:  # before step 50 only the easiest 25% (positions 0..9 = ids 1000..1009)
        assert int(b.max()) < 1010
    anti = cs.curriculum_dataloader(data, scores, make_pacing("single_step", 100, start=0.25, step_length=50),
                                    batch_size=5, order="anti", collate_fn=task.collator())
    assert all(int(b["ids"].min()) >= 1030 for b in anti)
