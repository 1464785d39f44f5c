"""Tests for workbench.techniques.optimization: schedule figures and explorer, the dynamic
learning rate (rule, technique, scheduler, checkpoints), parameter groups, the factory,
and the LR finder (suggestions, exact restore of model / optimizer / RNG), on tiny tensors
and on digits."""

from __future__ import annotations

import io
import math
import random

import numpy as np
import pytest
import torch
from torch import nn

from tests.tiny import tiny_data, tiny_model
from workbench.config import TaskSpec, TrainingConfig
from workbench.models import build_model
from workbench.techniques import optimization as O
from workbench.techniques.optimization.schedules import _demo_metrics
from workbench.train import Trainer
from workbench.train.schedules import SCHEDULES, WARMUP_SCHEDULES, lr_at_steps

# ====================================================================== schedule figures


def test_schedule_settings_passes_only_each_schedules_knobs():
    knobs = {"warmup_fraction": 0.1, "min_lr_fraction": 0.2, "gamma": 0.5, "cycles": 5, "t_mult": 2,
             "pct_start": 0.25, "power": 2.0}
    assert O.schedule_settings("constant", 0.1, 100, **knobs) == (0, {})
    assert O.schedule_settings("step", 0.1, 100, **knobs) == (0, {"gamma": 0.5})
    assert O.schedule_settings("cosine", 0.1, 100, **knobs) == (0, {"min_lr": pytest.approx(0.02)})
    assert O.schedule_settings("warmup", 0.1, 100, **knobs) == (10, {})
    w, kw = O.schedule_settings("warmup_cosine", 0.1, 100, **knobs)
    assert w == 10 and kw == {"min_lr": pytest.approx(0.02)}
    assert O.schedule_settings("polynomial", 0.1, 100, **knobs) == (0, {"power": 2.0})
    assert O.schedule_settings("sgdr", 0.1, 100, **knobs)[1] == {"min_lr": pytest.approx(0.02), "T_0": 20,
                                                                "T_mult": 2}
    assert O.schedule_settings("one_cycle", 0.1, 100, **knobs) == (0, {"pct_start": 0.25})
    assert O.schedule_settings("plateau", 0.1, 100, **knobs) == (0, {"factor": 0.5, "patience": 10})
    # warmup never 0 for warmup schedules, never past T - 1 for warmup_cosine
    assert O.schedule_settings("warmup_cosine", 0.1, 10, warmup_fraction=0.0)[0] == 1
    assert O.schedule_settings("warmup_cosine", 0.1, 10, warmup_fraction=1.0)[0] == 9
    with pytest.raises(ValueError, match="schedule must be one of"):
        O.schedule_settings("linear", 0.1, 100)
    with pytest.raises(ValueError, match="warmup_fraction"):
        O.schedule_settings("warmup", 0.1, 100, warmup_fraction=1.5)


@pytest.mark.parametrize("name", list(SCHEDULES))
def test_schedule_figure_draws_the_torch_schedule(name):
    fig = O.schedule_figure(name, lr=0.01, total_steps=60, warmup_fraction=0.1, min_lr_fraction=0.1)
    trace = fig.data[0]
    warmup, kwargs = O.schedule_settings(name, 0.01, 60, warmup_fraction=0.1, min_lr_fraction=0.1)
    last = 59 if name == "one_cycle" else 60
    want = lr_at_steps(name, 0.01, 60, range(last + 1), warmup_steps=warmup,
                       metrics=_demo_metrics(name, 60), **kwargs)
    assert list(trace.x) == list(range(last + 1))
    assert np.allclose(trace.y, want)
    assert O.schedule_curve(name, 0.01, 60, warmup_fraction=0.1, min_lr_fraction=0.1) == (
        list(range(last + 1)), want)
    if name == "dynamic":  # the scripted loss falls, then stays flat: the rate rises, then falls
        assert max(trace.y) > 0.01 and trace.y[-1] < 0.01
    assert name in fig.layout.title.text


def test_schedule_figure_rejects_invalid_combination():
    with pytest.raises(ValueError, match="pct_start"):
        O.schedule_figure("one_cycle", lr=0.01, total_steps=10, pct_start=0.05)


def test_overview_figure_has_one_line_per_schedule():
    fig = O.schedules_overview_figure(lr=0.1, total_steps=50)
    names = [t.name for t in fig.data]
    assert names == ["constant", "step", "cosine", "warmup_cosine", "polynomial", "sgdr", "one_cycle"]
    cos = next(t for t in fig.data if t.name == "cosine")
    assert cos.y[0] == pytest.approx(0.1) and cos.y[-1] == pytest.approx(0.0, abs=1e-12)


def test_schedule_explorer_redraws_on_every_change():
    box = O.schedule_explorer("cosine", lr=0.01, total_steps=100)
    c = box.controls
    assert box.figure is not None and box.error == ""
    assert box.figure.data[0].y[-1] == pytest.approx(0.0, abs=1e-12)
    c["min_lr_fraction"].value = 0.2  # observed: redraws at once
    assert box.figure.data[0].y[-1] == pytest.approx(0.2 * c["lr"].value)
    c["schedule"].value = "step"
    y = box.figure.data[0].y
    assert "step" in box.figure.layout.title.text and y[0] == pytest.approx(c["lr"].value)
    c["gamma"].value = 0.5  # StepLR decays every 100 // 3 = 33 steps
    assert box.figure.data[0].y[-1] == pytest.approx(c["lr"].value * 0.5 ** (100 // 33))
    c["total_steps"].value = 200
    assert len(box.figure.data[0].x) == 201
    c["log_y"].value = True
    assert box.figure.layout.yaxis.type == "log"
    # an invalid combination keeps the last figure and reports the message
    c["schedule"].value = "one_cycle"
    c["total_steps"].value = 10
    c["pct_start"].value = 0.05
    assert "pct_start" in box.error


# ====================================================================== dynamic LR: the rule


def test_policy_raises_after_patience_improvements_and_lowers_on_plateau():
    # check 1 sets the references; checks 2 and 3 improve -> raise at check 3 (patience 2);
    # 4, 5 improve -> raise; 6, 7 no new best -> cut at check 7 (plateau_patience 2)
    values = [1.0, 0.9, 0.8, 0.7, 0.6, 0.6, 0.65, 0.55]
    trace = O.dynamic_lr_trace(values, 0.1, patience=2, increase_factor=2.0, plateau_patience=2,
                               decrease_factor=0.5)
    assert trace == pytest.approx([0.1, 0.1, 0.2, 0.2, 0.4, 0.4, 0.2, 0.2])


def test_policy_bounds_modes_and_nonfinite():
    falling = [1.0 / (i + 1) for i in range(20)]
    tr = O.dynamic_lr_trace(falling, 0.1, patience=1, increase_factor=2.0, max_lr=0.5)
    assert max(tr) == pytest.approx(0.5) and tr[-1] == pytest.approx(0.5)
    flat = [1.0] * 20
    tr = O.dynamic_lr_trace(flat, 0.1, plateau_patience=1, decrease_factor=0.5, min_lr=0.02)
    assert tr[1] == pytest.approx(0.05) and tr[-1] == pytest.approx(0.02)
    # "max" mode: an accuracy going up counts as improving
    acc = [0.5, 0.6, 0.7]
    assert O.dynamic_lr_trace(acc, 0.1, mode="max", patience=2, increase_factor=2.0)[-1] == pytest.approx(0.2)
    assert O.dynamic_lr_trace(acc, 0.1, mode="min", patience=2, plateau_patience=2,
                              decrease_factor=0.5)[-1] == pytest.approx(0.05)
    # threshold: improvements smaller than it do not count
    tiny = [1.0, 0.9999, 0.9998, 0.9997]
    assert O.dynamic_lr_trace(tiny, 0.1, patience=2, plateau_patience=10, threshold=1e-3)[-1] == 0.1
    # a NaN is not an improvement
    p = O.DynamicLRPolicy(lr=0.1, patience=1, plateau_patience=5)
    p.update(1.0)
    assert p.update(float("nan")) == "none" and p.plateau == 1 and p.improving == 0
    assert p.update(0.5) == "none" and p.plateau == 0  # a new best, but no fall from a NaN
    assert p.update(0.4) == "increase"


@pytest.mark.parametrize("kwargs,match", [
    ({"patience": 0}, "patience"), ({"increase_factor": 0.9}, "increase_factor"),
    ({"decrease_factor": 1.0}, "decrease_factor"), ({"plateau_patience": 0}, "plateau_patience"),
    ({"mode": "up"}, "mode"), ({"threshold": -1}, "threshold"), ({"min_lr": 1.0, "max_lr": 0.5}, "max_lr"),
])
def test_policy_and_technique_validate(kwargs, match):
    with pytest.raises(ValueError, match=match):
        O.DynamicLRPolicy(lr=0.1, **kwargs)
    with pytest.raises(ValueError, match=match):
        O.DynamicLR(**kwargs)


def test_technique_argument_checks():
    with pytest.raises(ValueError, match="monitor"):
        O.DynamicLR(monitor="loss")
    with pytest.raises(ValueError, match="check_every_steps"):
        O.DynamicLR(monitor="train_loss")
    with pytest.raises(ValueError, match="check_every_steps"):
        O.DynamicLR(monitor="val_loss", check_every_steps=5)
    assert O.DynamicLR(monitor="val_accuracy").mode == "max"


# ====================================================================== dynamic LR in the loop


def _train_val():
    """96 training and 48 validation examples of one tiny problem."""
    data, task = tiny_data(n=144)
    return data.subset(list(range(96))), data.subset(list(range(96, 144))), task


def _config(**kw) -> TrainingConfig:
    base = {"epochs": 8, "batch_size": 16, "optimizer": "sgd", "lr": 0.05, "progress_bar": False,
            "log_every_steps": 1000, "seed": 1}
    return TrainingConfig(**(base | kw))


def test_dynamic_lr_follows_the_rule_on_validation_loss():
    data, val, task = _train_val()
    tech = O.DynamicLR(patience=2, increase_factor=1.5, plateau_patience=2, decrease_factor=0.5)
    trainer = Trainer(tiny_model(seed=2), _config(), data, val, task=task, techniques=[tech])
    state = trainer.fit()
    evals = [r for r in state.history if "val_loss" in r]
    losses = [r["val_loss"] for r in evals]
    want = O.dynamic_lr_trace(losses, 0.05, patience=2, increase_factor=1.5, plateau_patience=2,
                              decrease_factor=0.5, min_lr=0.0005, max_lr=0.5)
    # each row logs the rate used up to that evaluation; the check after it sets the next one
    assert [r["lr"] for r in evals[1:]] == pytest.approx(want[:-1])
    assert tech.lr == pytest.approx(want[-1]) == pytest.approx(trainer.optimizer.param_groups[0]["lr"])
    assert state.counters.get("lr_increases", 0) == tech.policy.increases >= 1
    assert state.counters.get("lr_decreases", 0) == tech.policy.decreases


def test_dynamic_lr_on_training_loss_keeps_group_ratios():
    data, task = tiny_data(n=96)
    model = tiny_model(seed=2)
    groups = O.param_groups(model, 0.05, layer_decay=2.0, layers=[r"^net\.0\.", r"^net\.3\."])
    tech = O.DynamicLR(monitor="train_loss", check_every_steps=3, patience=1, increase_factor=1.2)
    trainer = Trainer(model, _config(epochs=3), data, None, task=task, techniques=[tech],
                      param_groups=groups)
    trainer.fit()
    assert tech.policy.checks == trainer.state.effective_step // 3
    assert tech.policy.increases >= 1
    lrs = [g["lr"] for g in trainer.optimizer.param_groups]
    assert lrs[0] == pytest.approx(tech.lr)
    assert lrs[-1] / lrs[0] == pytest.approx(2.0)  # layer-wise ratio kept


def test_dynamic_lr_needs_the_constant_schedule():
    data, task = tiny_data(n=32)
    trainer = Trainer(tiny_model(), _config(schedule="cosine", epochs=1), data, data, task=task,
                      techniques=[O.DynamicLR()])
    with pytest.raises(ValueError, match="schedule='constant'"):
        trainer.fit()


def test_dynamic_lr_resumes_exactly_from_a_checkpoint(tmp_path):
    data, val, task = _train_val()
    kw = {"patience": 1, "increase_factor": 1.5, "plateau_patience": 1, "decrease_factor": 0.5}

    def trainer(epochs: int) -> Trainer:
        return Trainer(tiny_model(seed=2, dropout=0.2), _config(epochs=epochs), data, val, task=task,
                       techniques=[O.DynamicLR(**kw)])

    straight = trainer(8)
    straight.fit()
    part = trainer(4)
    part.fit()
    mid = part.techniques[0].state_dict()
    assert mid["policy"]["increases"] + mid["policy"]["decreases"] >= 1  # the rate already moved
    path = part.save_checkpoint(tmp_path / "c.pt")
    resumed = trainer(8)
    resumed.load_checkpoint(path)
    assert resumed.techniques[0].state_dict() == mid
    resumed.fit()
    for a, b in zip(straight.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    assert resumed.techniques[0].state_dict() == straight.techniques[0].state_dict()
    assert [r["lr"] for r in resumed.state.history] == [r["lr"] for r in straight.state.history]
    moved = straight.techniques[0].policy
    assert moved.increases + moved.decreases > mid["policy"]["increases"] + mid["policy"]["decreases"]


def test_dynamic_schedule_in_the_config_equals_the_technique(tmp_path):
    # TrainingConfig(schedule="dynamic") (what a recipe can carry) trains exactly like the
    # constant schedule + the DynamicLR technique benchmarks/schedules.py measured, also
    # across a checkpoint and resume in between
    data, val, task = _train_val()
    kw = {"patience": 1, "increase_factor": 1.5, "plateau_patience": 1}
    tech = Trainer(tiny_model(seed=2, dropout=0.2), _config(), data, val, task=task,
                   techniques=[O.DynamicLR(**kw)])
    tech.fit()
    sched = Trainer(tiny_model(seed=2, dropout=0.2), _config(schedule="dynamic", schedule_kwargs=kw),
                    data, val, task=task)
    sched.fit()
    assert isinstance(sched.scheduler, O.DynamicLRScheduler) and sched.scheduler.monitor == "val_loss"
    lr_t = [r["lr"] for r in tech.state.history]
    assert lr_t == [r["lr"] for r in sched.state.history] and len(set(lr_t)) >= 3  # it moved both ways
    for a, b in zip(tech.model.parameters(), sched.model.parameters()):
        assert torch.equal(a, b)
    assert sched.state.counters == tech.state.counters and sched.state.counters["lr_decreases"] >= 1
    # resume: 4 epochs, checkpoint, a fresh Trainer loads it and runs to 8
    part = Trainer(tiny_model(seed=2, dropout=0.2), _config(schedule="dynamic", schedule_kwargs=kw, epochs=4),
                   data, val, task=task)
    part.fit()
    path = part.save_checkpoint(tmp_path / "mid.pt")
    resumed = Trainer(tiny_model(seed=9, dropout=0.2), _config(schedule="dynamic", schedule_kwargs=kw),
                      data, val, task=task)
    resumed.load_checkpoint(path)
    resumed.fit()
    for a, b in zip(sched.model.parameters(), resumed.model.parameters()):
        assert torch.equal(a, b)
    assert resumed.scheduler.get_last_lr() == sched.scheduler.get_last_lr()


def test_dynamic_schedule_reports_a_missing_metric():
    data, val, task = _train_val()
    trainer = Trainer(tiny_model(), _config(schedule="dynamic", schedule_kwargs={"monitor": "val_f1"}, epochs=1),
                      data, val, task=task)
    with pytest.raises(ValueError, match=r"stepped with 'val_f1', which the evaluation does not report"):
        trainer.fit()


def test_dynamic_scheduler_in_the_trainer_and_weights_only_state():
    data, val, task = _train_val()
    model = tiny_model(seed=2)
    opt, sched = O.create_optimizer_with_schedule(model, "sgd", 0.05, "dynamic", patience=1,
                                                  increase_factor=2.0, max_lr=0.2)
    assert isinstance(sched, O.DynamicLRScheduler)
    cfg = _config(epochs=6, monitor="val_loss", monitor_mode="min")
    trainer = Trainer(model, cfg, data, val, task=task, optimizer=opt, scheduler=sched)
    trainer.fit()
    losses = [r["val_loss"] for r in trainer.state.history if "val_loss" in r]
    want = O.dynamic_lr_trace(losses, 0.05, patience=1, increase_factor=2.0, min_lr=0.0005, max_lr=0.2)
    assert sched.get_last_lr()[0] == pytest.approx(want[-1]) and want[-1] > 0.05
    buf = io.BytesIO()
    torch.save(sched.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    opt2, sched2 = O.create_optimizer_with_schedule(tiny_model(seed=2), "sgd", 0.05, "dynamic", patience=1,
                                                    increase_factor=2.0, max_lr=0.2)
    sched2.load_state_dict(state)
    assert sched2.get_last_lr() == pytest.approx(sched.get_last_lr())
    assert opt2.param_groups[0]["lr"] == pytest.approx(want[-1])


# ====================================================================== parameter groups


class _AdaLayerNorm(nn.Module):  # a custom normalization: matched by its class name
    def __init__(self, d: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * self.scale


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.block = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4), _AdaLayerNorm(4))
        self.head = nn.Linear(4, 2)


def _by_name(groups):
    return {n: g for g in groups for n in g["param_names"]}


def test_param_groups_no_decay_on_bias_and_norm():
    net = _Net()
    groups = O.param_groups(net, 1e-3, weight_decay=0.1)
    by = _by_name(groups)
    assert sorted(by) == sorted(n for n, _ in net.named_parameters())  # each parameter once
    for n in ("block.0.bias", "block.1.weight", "block.1.bias", "block.2.scale", "head.bias"):
        assert by[n]["weight_decay"] == 0.0, n
    for n in ("embed.weight", "block.0.weight", "head.weight"):
        assert by[n]["weight_decay"] == 0.1, n
    assert {g["lr"] for g in groups} == {1e-3} and len(groups) == 2
    off = O.param_groups(net, 1e-3, weight_decay=0.1, no_decay_bias_norm=False,
                         no_decay_patterns=[r"^embed\."])
    by = _by_name(off)
    assert by["head.bias"]["weight_decay"] == 0.1 and by["embed.weight"]["weight_decay"] == 0.0


def test_param_groups_layer_decay_ulmfit_on_kim_cnn():
    task = TaskSpec(modality="text", num_classes=2, vocab_size=50)
    model = build_model("kim_cnn", task)
    assert O.model_layers(model) == ["embedding", "convs", "classifier"]
    groups = O.param_groups(model, 1e-3, weight_decay=0.01, layer_decay=O.ULMFIT_LAYER_DECAY)
    by = _by_name(groups)
    assert O.ULMFIT_LAYER_DECAY == 2.6
    assert by["classifier.weight"]["lr"] == pytest.approx(1e-3)
    assert by["convs.0.weight"]["lr"] == pytest.approx(1e-3 / 2.6)
    assert by["embedding.weight"]["lr"] == pytest.approx(1e-3 / 2.6 ** 2)
    assert by["convs.1.bias"]["lr"] == pytest.approx(1e-3 / 2.6) and by["convs.1.bias"]["weight_decay"] == 0
    # bottom to top, and usable by any torch optimizer
    assert [g["lr"] for g in groups] == sorted(g["lr"] for g in groups)
    opt = torch.optim.AdamW(groups, lr=1e-3)
    assert len(opt.param_groups) == len(groups)


def test_param_groups_per_domain_rates_and_custom_layers():
    net = _Net()
    groups = O.param_groups(net, 1e-3, lr_by_pattern={r"^embed\.": 1e-4, r"\.2\.scale$": 5e-3})
    by = _by_name(groups)
    assert by["embed.weight"]["lr"] == pytest.approx(1e-4)
    assert by["block.2.scale"]["lr"] == pytest.approx(5e-3)
    assert by["head.weight"]["lr"] == pytest.approx(1e-3)
    assert "lr_by_pattern" in by["embed.weight"]["name"]
    # per-domain base rate, then layer decay on top; a parameter goes to the last layer it matches
    groups = O.param_groups(net, 1e-3, layer_decay=10.0, layers=[".*", [r"^block\.", r"^head\."], r"^head\."],
                            lr_by_pattern={r"^embed\.": 1e-2})
    by = _by_name(groups)
    assert by["embed.weight"]["lr"] == pytest.approx(1e-2 / 100)
    assert by["block.0.weight"]["lr"] == pytest.approx(1e-3 / 10)
    assert by["head.weight"]["lr"] == pytest.approx(1e-3)
    with pytest.raises(ValueError, match="matches none of the layers"):
        O.param_groups(net, 1e-3, layers=[r"^block\.", r"^head\."])
    with pytest.raises(ValueError, match="invalid regular expression"):
        O.param_groups(net, 1e-3, lr_by_pattern={"(": 1e-3})
    with pytest.raises(ValueError, match="layer_decay"):
        O.param_groups(net, 1e-3, layer_decay=0.5)
    with pytest.raises(ValueError, match="lr must be"):
        O.param_groups(net, 0.0)


def test_param_group_summary_and_checkpointable_optimizer():
    task = TaskSpec(modality="vision", num_classes=10, input_shape=(1, 8, 8))
    model = build_model("cnn", task)
    groups = O.param_groups(model, 3e-3, weight_decay=0.01, layer_decay=2.6)
    text = O.param_group_summary(groups)
    assert "layer 1/2 features · no decay" in text and "features.1.weight" in text
    assert f"{sum(p.numel() for p in model.parameters()):,} parameters" in text
    table = O.param_group_table(groups)
    assert table["parameters"].sum() == sum(p.numel() for p in model.parameters())
    bn = table[table["group"] == "layer 1/2 features · no decay"].iloc[0]
    assert bn["weight_decay"] == 0 and bn["lr"] == pytest.approx(3e-3 / 2.6)
    opt, _ = O.create_optimizer_with_schedule(model, "adamw", 3e-3, "warmup_cosine", 5, 50,
                                              weight_decay=0.01, layer_decay=2.6)
    assert O.param_group_table(opt)["lr"].tolist() == pytest.approx(table["lr"].tolist())
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    assert torch.load(buf, weights_only=True)["param_groups"][0]["param_names"][0] == "features.0.weight"


# ====================================================================== factory


@pytest.mark.parametrize("opt_name,cls", [("adamw", torch.optim.AdamW), ("adam", torch.optim.Adam),
                                          ("sgd", torch.optim.SGD), ("rmsprop", torch.optim.RMSprop),
                                          ("adagrad", torch.optim.Adagrad)])
def test_factory_every_optimizer_and_schedule(opt_name, cls):
    for schedule in O.FACTORY_SCHEDULES:
        warmup = 10 if schedule in WARMUP_SCHEDULES else 0
        opt, sched = O.create_optimizer_with_schedule(tiny_model(), opt_name, 0.01, schedule, warmup, 100)
        assert isinstance(opt, cls), schedule
        assert sched.optimizer is opt
        lr0 = sched.get_last_lr()[0]
        if schedule in WARMUP_SCHEDULES:
            assert lr0 == pytest.approx(0.01 / 11)
        elif schedule == "one_cycle":
            assert lr0 == pytest.approx(0.01 / 25)
        elif schedule == "slanted_triangular":
            assert lr0 == pytest.approx(0.01 / 32)  # ULMFiT: starts at lr / ratio
        else:
            assert lr0 == pytest.approx(0.01), schedule


def test_factory_rejects_unknown_names_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"optimizer_name must be one of \['sgd', 'adam', 'adamw'"):
        O.create_optimizer_with_schedule(tiny_model(), "lamb", 0.01, "cosine", total_steps=10)
    with pytest.raises(ValueError, match=r"unknown schedule 'linear'; valid names: \['constant'.*'slanted_triangular'\]"):
        O.create_optimizer_with_schedule(tiny_model(), "adam", 0.01, "linear", total_steps=10)
    with pytest.raises(ValueError, match="needs total_steps"):
        O.create_optimizer_with_schedule(tiny_model(), "adam", 0.01, "cosine")
    with pytest.raises(ValueError, match="warmup_steps"):
        O.create_optimizer_with_schedule(tiny_model(), "adam", 0.01, "cosine", 5, 10)
    opt, sched = O.create_optimizer_with_schedule(tiny_model(), "adam", 0.01, "plateau", patience=0)
    assert type(sched).__name__ == "ReduceLROnPlateau"


def test_factory_steps_like_the_closed_form():
    opt, sched = O.create_optimizer_with_schedule(tiny_model(), "sgd", 0.1, "cosine", 0, 20, min_lr=0.01)
    for t in range(1, 21):
        opt.step()
        sched.step()
        assert opt.param_groups[0]["lr"] == pytest.approx(0.01 + 0.09 * (1 + math.cos(math.pi * t / 20)) / 2)


# ====================================================================== LR finder: pure parts


def test_exponential_ramp_and_smoothing():
    lrs = O.exponential_lrs(1e-6, 1.0, 7)
    assert lrs[0] == pytest.approx(1e-6) and lrs[-1] == pytest.approx(1.0)
    assert np.allclose(np.diff(np.log10(lrs)), 1.0)
    with pytest.raises(ValueError, match="end_lr"):
        O.exponential_lrs(1e-3, 1e-4, 10)
    assert O.smooth_losses([2.0] * 5) == pytest.approx([2.0] * 5)  # bias correction
    b = 0.9
    x = [1.0, 3.0, 2.0]
    a1 = (1 - b) * 1.0
    a2 = b * a1 + (1 - b) * 3.0
    a3 = b * a2 + (1 - b) * 2.0
    assert O.smooth_losses(x, b) == pytest.approx([a1 / (1 - b), a2 / (1 - b ** 2), a3 / (1 - b ** 3)])


def test_suggestions_on_a_known_curve():
    lrs = [10.0 ** (-6 + i * 0.25) for i in range(25)]
    losses = ([2.0] * 5                                    # 0-4: flat
              + [1.95, 1.90, 1.85, 1.80, 1.75]             # 5-9: a gentle fall
              + [1.45]                                     # 10: the steepest drop (from 9)
              + [1.40, 1.35, 1.30, 1.25, 1.20, 1.15]       # 11-16: down to the minimum
              + [1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 4.5, 5.0])  # 17-24: divergence
    lr, i = O.suggest_minimum(lrs, losses)
    assert i == 16 and lr == pytest.approx(lrs[16] / 10)
    lr, i = O.suggest_steepest(lrs, losses)
    assert i == 9 and lr == pytest.approx(lrs[9])
    # longest valley: the decreasing run ending at 16 has 13 points (one flat point, 5..16), so
    # fastai's rule gives start = 16 - 13 = 3, idx = 3 + int(13 / 3) + int(13 / 6) = 9
    lr, i = O.suggest_valley(lrs, losses)
    assert i == 9 and lr == lrs[9]
    with pytest.raises(ValueError):
        O.suggest_valley([1.0], [1.0])


# ====================================================================== LR finder: the loop


def _trained(seed: int = 0):
    """A tiny model and an Adam optimizer that already has state (moments, step)."""
    data, task = tiny_data(n=96)
    model = tiny_model(seed=seed, dropout=0.3)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    cfg = _config(epochs=1, optimizer="adam", lr=0.01)
    Trainer(model, cfg, data, None, task=task, optimizer=opt).fit()
    return model, opt, data, task


def test_lr_find_restores_model_optimizer_grads_and_rng_exactly():
    model, opt, data, task = _trained()
    model.eval()
    next(model.parameters()).grad = torch.full_like(next(model.parameters()), 0.5)
    before_model = {k: v.clone() for k, v in model.state_dict().items()}
    before_opt = opt.state_dict()
    before_opt = {"state": {k: {n: t.clone() if torch.is_tensor(t) else t for n, t in s.items()}
                            for k, s in before_opt["state"].items()},
                  "groups": [{k: v for k, v in g.items()} for g in before_opt["param_groups"]]}
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    res = O.lr_find(model, data, task, optimizer=opt, config=_config(batch_size=16), num_iter=30,
                    start_lr=1e-4, end_lr=10.0)
    # the caller's RNG streams continue as if lr_find had not run
    got = (torch.rand(3), random.random(), np.random.rand())
    torch.manual_seed(123)
    random.seed(123)
    np.random.seed(123)
    assert torch.equal(got[0], torch.rand(3)) and got[1] == random.random() and got[2] == np.random.rand()
    for k, v in model.state_dict().items():
        assert torch.equal(v, before_model[k]), k
    after = opt.state_dict()
    assert set(after["state"]) == set(before_opt["state"])
    for k, s in after["state"].items():
        for n, t in s.items():
            assert torch.equal(t, before_opt["state"][k][n]) if torch.is_tensor(t) else t == before_opt["state"][k][n]
    assert after["param_groups"] == before_opt["groups"]
    for p, g in zip(model.parameters(), grads):
        assert (p.grad is None and g is None) or torch.equal(p.grad, g)
    assert not model.training
    assert res.iterations >= 2 and res.lrs[0] == pytest.approx(1e-4)


def test_lr_find_stops_on_divergence_and_is_reproducible():
    data, task = tiny_data(n=96)
    cfg = _config(optimizer="sgd", momentum=0.9, batch_size=16)
    res = O.lr_find(tiny_model(), data, task, config=cfg, start_lr=1e-3, end_lr=1e4, num_iter=60)
    assert res.stop_reason.startswith(("diverged", "non-finite")) and res.iterations < 60
    if res.stop_reason.startswith("diverged"):
        assert res.smoothed[-1] > 4 * min(res.smoothed)
    again = O.lr_find(tiny_model(), data, task, config=cfg, start_lr=1e-3, end_lr=1e4, num_iter=60)
    assert again.losses == res.losses
    full = O.lr_find(tiny_model(), data, task, config=cfg, start_lr=1e-3, end_lr=1e4, num_iter=60, stop_div=False)
    assert full.iterations > res.iterations
    with pytest.raises(ValueError, match="task"):
        O.lr_find(tiny_model(), data)


def test_lr_find_on_digits_suggests_a_sensible_rate(digits_splits):
    torch.manual_seed(7)
    res = O.lr_find_recipe("digits", splits=digits_splits, num_iter=60)
    after = torch.rand(2)
    torch.manual_seed(7)
    assert torch.equal(after, torch.rand(2))  # building the model and the finder left the RNG alone
    assert res.name == "digits" and res.extras["recipe_lr"] == 3e-3
    assert res.smoothed[0] > 2.0  # ~ln(10) at the start
    assert min(res.smoothed) < 0.8 * res.smoothed[0]  # the loss falls somewhere on the ramp
    for name in ("valley", "minimum", "steepest"):
        assert 1e-5 < res.suggestions[name] < 1.0, (name, res.suggestions)
    lo, hi = res.window
    assert lo == 6 and hi == res.iterations - 6
    fig = O.lr_finder_figure(res, reference_lr=3e-3)
    assert fig.layout.xaxis.type == "log"
    names = [t.name for t in fig.data]
    assert names[:2] == ["loss (each batch)", "smoothed loss"]
    assert sum(n.startswith(("valley", "minimum", "steepest")) for n in names) == 3
    assert "digits" in res.describe()


@pytest.fixture(scope="module")
def digits_splits():
    from workbench.recipes import load_splits

    return load_splits("digits")


# ====================================================================== comparison (real data)


def test_schedule_variants_names_and_errors():
    vs = O.schedule_variants()
    assert [v.name for v in vs] == list(O.BENCHMARK_SCHEDULES)
    assert vs[0].name == "constant" and vs[0].config["schedule"] == "constant"
    assert vs[-1].config == {"schedule": "dynamic", "schedule_kwargs": {}, "warmup_steps": 0}
    assert O.schedule_variants(["dynamic"], dynamic={"patience": 3})[0].config["schedule_kwargs"] == {"patience": 3}
    with pytest.raises(ValueError, match="unknown schedules"):
        O.schedule_variants(["constant", "linear"])


def test_schedule_experiment_on_digits(digits_splits):
    # two evaluations: with patience 1 and plateau_patience 1 the second one always moves the rate
    exp = O.schedule_experiment(["digits"], seeds=[0], schedules=("constant", "cosine", "dynamic"),
                                epochs=2, dynamic={"patience": 1, "plateau_patience": 1},
                                splits={"digits": digits_splits}, progress=False)
    result = exp.run()
    s = result.summary.set_index("variant")
    assert list(s.index) == ["constant", "cosine", "dynamic"]
    assert (s["final_metric_mean"] > 0.9).all()
    h = result.history
    cos = h[h["variant"] == "cosine"]["lr"].tolist()
    assert cos == sorted(cos, reverse=True) and cos[-1] == pytest.approx(0.0, abs=1e-9)
    dyn = next(r for r in result.records if r.variant == "dynamic")
    assert dyn.counters.get("lr_increases", 0) + dyn.counters.get("lr_decreases", 0) == 1
    best = O.choose_schedule(result.summary)["digits"]
    assert best["schedule"] in s.index and best["why"]


def test_choose_schedule_rule():
    import pandas as pd

    rows = [  # dataset, variant, seeds, reached, examples to target, final metric
        ("a", "constant", 3, 3, 1000.0, 0.97), ("a", "cosine", 3, 3, 1005.0, 0.98),
        ("a", "step", 3, 2, 500.0, 0.99), ("a", "one_cycle", 3, 3, 1200.0, 0.99),
        ("b", "constant", 3, 1, math.nan, 0.86), ("b", "cosine", 3, 0, math.nan, 0.87)]
    summary = pd.DataFrame(rows, columns=["dataset", "variant", "seeds", "reached",
                                          "examples_to_target_mean", "final_metric_mean"])
    got = O.choose_schedule(summary)
    assert got["a"]["schedule"] == "cosine"  # within 1% of the fewest, higher final metric
    assert got["b"]["schedule"] == "cosine" and "no schedule reached" in got["b"]["why"]
