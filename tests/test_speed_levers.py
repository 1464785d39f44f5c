"""Issue 19's speed levers: length-grouped batches (LengthGroupedBatchSampler,
TrainingConfig.group_by_length), torch's optimizer implementations
(TrainingConfig.optimizer_impl, fused Adam), and the recipes that carry them, on SUBJ."""

from __future__ import annotations

import math

import pytest
import torch

from workbench.config import TrainingConfig
from workbench.data.datasets import load_arrays, load_dataset
from workbench.data.samplers import LengthGroupedBatchSampler, ResumableRandomSampler
from workbench.models import build_model
from workbench.recipes import DEFAULT_RECIPES, baseline_recipe
from workbench.train import Trainer
from workbench.train.optim import build_optimizer


@pytest.fixture(scope="module")
def subj():
    return load_dataset("subj", max_examples=1000, seed=0)


def _padding(batches, lengths) -> float:
    real = sum(int(lengths[b].sum()) for b in batches)
    padded = sum(int(lengths[b].max()) * len(b) for b in batches)
    return 1 - real / padded


def test_length_grouped_batches_cover_every_position_once_and_pad_far_less(subj):
    lengths = subj.train.lengths
    n = len(lengths)
    s = LengthGroupedBatchSampler(lengths, 50, seed=3)
    batches = list(s)
    assert len(batches) == len(s) == math.ceil(n / 50)
    assert sorted(p for b in batches for p in b) == list(range(n))
    assert sorted(len(b) for b in batches)[1:] == [50] * (len(batches) - 1)
    random = ResumableRandomSampler(subj.train, seed=3).order().tolist()
    random_batches = [random[i:i + 50] for i in range(0, n, 50)]
    grouped, plain = _padding(batches, lengths), _padding(random_batches, lengths)
    assert grouped < 0.5 * plain, (grouped, plain)
    # a pure function of (seed, epoch); another epoch or seed gives other batches
    assert list(LengthGroupedBatchSampler(lengths, 50, seed=3)) == batches
    s.set_epoch(1)
    assert list(s) != batches
    assert list(LengthGroupedBatchSampler(lengths, 50, seed=4)) != batches
    # resumable: the state restores the epoch's batches
    other = LengthGroupedBatchSampler(lengths, 50, seed=0)
    other.load_state_dict(s.state_dict())
    assert list(other) == list(s)
    with pytest.raises(ValueError, match="state is for"):
        LengthGroupedBatchSampler(lengths[:-1], 50).load_state_dict(s.state_dict())


def test_length_grouped_drop_last_and_a_strict_sort(subj):
    lengths = subj.train.lengths
    n = len(lengths)
    s = LengthGroupedBatchSampler(lengths, 64, seed=0, drop_last=True)
    batches = list(s)
    assert len(batches) == len(s) == n // 64 and all(len(b) == 64 for b in batches)
    assert len({p for b in batches for p in b}) == 64 * (n // 64)
    strict = LengthGroupedBatchSampler(lengths, 64, seed=0, noise=0.0)
    spans = sorted((int(lengths[b].min()), int(lengths[b].max())) for b in strict)
    # no noise: the batches cut the sorted lengths into consecutive, non-overlapping ranges
    assert all(hi <= lo_next for (_, hi), (lo_next, _) in zip(spans, spans[1:]))


@pytest.mark.parametrize("kwargs, match", [
    ({"lengths": [], "batch_size": 2}, "empty"),
    ({"lengths": [3, -1], "batch_size": 2}, "non-negative integers"),
    ({"lengths": [1.5, 2.0], "batch_size": 2}, "non-negative integers"),
    ({"lengths": [1, 2], "batch_size": 0}, r"batch_size must be an integer >= 1"),
    ({"lengths": [1, 2], "batch_size": 2, "noise": 1.5}, r"noise must be .*\[0.0, 1.0\]|noise must be"),
    ({"lengths": [1, 2], "batch_size": 2, "seed": -1}, "seed must be"),
])
def test_length_grouped_rejects_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LengthGroupedBatchSampler(**kwargs)


def test_config_checks_the_new_fields():
    with pytest.raises(ValueError, match=r"optimizer_impl must be one of .*'fused'.*got 'fast'"):
        TrainingConfig(optimizer_impl="fast")
    with pytest.raises(ValueError, match=r"optimizer_impl must be one of .*for optimizer 'rmsprop'"):
        TrainingConfig(optimizer="rmsprop", optimizer_impl="fused")
    with pytest.raises(ValueError, match="group_by_length"):
        TrainingConfig(group_by_length="yes")
    for name in ("sgd", "adam", "adamw", "adagrad"):
        assert TrainingConfig(optimizer=name, optimizer_impl="fused").optimizer_impl == "fused"


def _train_steps(splits, impl: str, steps: int = 20) -> torch.nn.Module:
    torch.manual_seed(0)
    model = build_model("kim_cnn", splits.task)
    opt = build_optimizer(model.parameters(), TrainingConfig(lr=2e-3, optimizer_impl=impl))
    collate = splits.task.collator()
    for i in range(steps):
        batch = collate([splits.train[j] for j in range(i * 25, i * 25 + 25)])
        loss = torch.nn.functional.cross_entropy(model(batch["inputs"]), batch["targets"])
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model


def test_fused_adam_gives_the_default_updates_to_float_rounding(subj):
    ref = _train_steps(subj, "default")
    fused = _train_steps(subj, "fused")
    for impl in ("foreach", "for_loop"):  # the default is foreach on CPU: the same kernels
        other = _train_steps(subj, impl)
        assert all(torch.equal(a, b) for a, b in zip(ref.parameters(), other.parameters())), impl
    flat = [torch.cat([p.detach().flatten() for p in m.parameters()]) for m in (ref, fused)]
    diff = (flat[0] - flat[1]).abs()
    # Adam normalises each gradient by its running RMS, so an entry whose gradient is at
    # rounding level (a rare word's embedding) can move by up to lr per step either way;
    # all but a few hundred of the 0.85M parameters agree to 1e-5, and so do the logits
    assert float((diff > 1e-5).float().mean()) < 2e-3
    untrained = torch.cat([p.detach().flatten() for p in build_model("kim_cnn", subj.task).parameters()])
    assert float((flat[0] - untrained).abs().max()) > 1e-2  # 20 steps move the weights far more
    ref.eval()
    fused.eval()
    batch = subj.task.collator()([subj.val[i] for i in range(len(subj.val))])
    with torch.no_grad():
        a, b = ref(batch["inputs"]), fused(batch["inputs"])
    assert float((a - b).abs().max()) < 1e-3 and torch.equal(a.argmax(1), b.argmax(1))
    opt = build_optimizer(build_model("kim_cnn", subj.task).parameters(), TrainingConfig(optimizer_impl="fused"))
    assert opt.defaults["fused"] is True


def test_trainer_groups_by_length_when_asked_and_rejects_data_without_lengths(subj):
    cfg = TrainingConfig(epochs=1, batch_size=50, group_by_length=True, optimizer_impl="fused",
                         progress_bar=False, max_steps=3)
    model = build_model("kim_cnn", subj.task)
    trainer = Trainer(model, cfg, subj.train, subj.val, task=subj.task)
    assert isinstance(trainer.batch_sampler, LengthGroupedBatchSampler)
    assert trainer.batch_sampler.noise == 0.1  # AllenNLP's default padding noise
    assert Trainer(build_model("kim_cnn", subj.task), cfg.replace(padding_noise=0.3), subj.train,
                   task=subj.task).batch_sampler.noise == 0.3
    assert trainer.steps_per_epoch == math.ceil(len(subj.train) / 50)
    state = trainer.fit()
    assert state.effective_step == 3
    # any data set of text items works (here a Subset, which has no .lengths)
    sub = torch.utils.data.Subset(subj.train, list(range(0, 400)))
    t = Trainer(build_model("kim_cnn", subj.task), cfg, sub, task=subj.task)
    assert torch.equal(t.batch_sampler.lengths.long(), subj.train.lengths[:400])
    # a sampler passed in wins over the config
    given = ResumableRandomSampler(subj.train, seed=1)
    assert Trainer(build_model("kim_cnn", subj.task), cfg, subj.train, task=subj.task, sampler=given).sampler is given
    images = load_arrays(torch.rand(40, 1, 8, 8).numpy(), (torch.arange(40) % 2).numpy(), name="imgs")
    with pytest.raises(ValueError, match="group_by_length=True needs text training data"):
        Trainer(build_model("cnn", images.task), cfg, images.train, task=images.task)


def test_recipes_carry_fused_adam_and_length_grouping_is_an_option():
    for name in ("digits", "subj", "mr", "pros_cons"):
        cfg = baseline_recipe(name).config
        # fused Adam: the same updates; length grouping changed the learning curve (docs/baselines.md)
        assert cfg.optimizer_impl == "fused" and not cfg.group_by_length, name
    assert {m: r["config"]["optimizer_impl"] for m, r in DEFAULT_RECIPES.items()} == {
        "text": "fused", "vision": "fused", "tabular": "fused"}
    assert baseline_recipe("subj", group_by_length=True).config.group_by_length


def test_resume_mid_epoch_with_fused_adam_and_grouped_batches_is_bit_identical(subj, tmp_path):
    from workbench.train import Technique

    class StopAt(Technique):
        name = "stop_at"

        def __init__(self, k):
            super().__init__()
            self.k = k

        def on_step_end(self, state):
            if self.k is not None and state.effective_step == self.k:
                state.request_stop("test stop")

    small = subj.train.subset(list(range(0, len(subj.train), len(subj.train) // 300))[:300])  # both classes
    cfg = TrainingConfig(epochs=2, batch_size=50, group_by_length=True, optimizer_impl="fused", lr=2e-3,
                         progress_bar=False, seed=3)

    def trainer(k=None):
        torch.manual_seed(0)
        return Trainer(build_model("kim_cnn", subj.task), cfg, small, task=subj.task, techniques=[StopAt(k)])

    straight = trainer()
    straight.fit()
    part = trainer(4)  # 6 batches per epoch: step 4 is mid-epoch
    part.fit()
    part.save_checkpoint(tmp_path / "ckpt.pt")
    resumed = trainer()
    resumed.load_checkpoint(tmp_path / "ckpt.pt")
    assert resumed.fit().effective_step == straight.state.effective_step == 12
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
