"""Tests for workbench.train.schedules: each schedule against its closed-form formula,
boundaries, restarts, plateau, argument validation, and weights_only checkpoint resume."""

from __future__ import annotations

import inspect
import io
import math
import warnings

import pytest
import torch

from workbench.train.schedules import (
    METRIC_SCHEDULES,
    SCHEDULES,
    WARMUP_SCHEDULES,
    build_scheduler,
    is_metric_scheduler,
    lr_at_steps,
    validate_schedule,
)

BASE = 0.1
T = 100


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)


def assert_curve(name: str, formula, steps=range(T), base=BASE, total=T, **kw) -> None:
    steps = list(steps)
    got = lr_at_steps(name, base, total, steps, **kw)
    for t, lr in zip(steps, got):
        assert close(lr, formula(t)), (name, t, lr, formula(t))


def cos_anneal(hi: float, lo: float, x: float) -> float:
    return lo + (hi - lo) * (1 + math.cos(math.pi * x)) / 2


# ----------------------------------------------------------------- closed forms


def test_names():
    assert tuple(SCHEDULES) == ("constant", "step", "cosine", "warmup", "warmup_cosine",
                                "warmup_linear", "polynomial", "sgdr", "one_cycle", "plateau",
                                "dynamic", "slanted_triangular")


def test_registry_matches_the_config_layers_names():
    # the names live in workbench.config (which imports nothing from train); the builders here
    from workbench import config

    assert tuple(SCHEDULES) == config.SCHEDULE_NAMES
    assert set(WARMUP_SCHEDULES) < set(SCHEDULES) and WARMUP_SCHEDULES is config.WARMUP_SCHEDULES
    assert set(METRIC_SCHEDULES) < set(SCHEDULES) and METRIC_SCHEDULES is config.METRIC_SCHEDULES
    # the warmup schedules are exactly those whose builder takes warmup_steps
    takes = {n for n, b in SCHEDULES.items() if "warmup_steps" in inspect.signature(b).parameters}
    assert takes == set(WARMUP_SCHEDULES)


def test_constant():
    assert_curve("constant", lambda t: BASE, steps=range(T + 1))
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.3)
    sched = build_scheduler("constant", opt, 10)
    assert sched is not None and sched.get_last_lr() == [0.3]


def test_step():
    assert_curve("step", lambda t: BASE * 0.5 ** (t // 30), step_size=30, gamma=0.5)
    assert_curve("step", lambda t: BASE * 0.1 ** (t // (T // 3)))  # defaults
    ms = [20, 50, 90]
    assert_curve("step", lambda t: BASE * 0.2 ** sum(m <= t for m in ms), milestones=ms, gamma=0.2)


@pytest.mark.parametrize("min_lr", [0.0, 1e-3])
def test_cosine(min_lr):
    assert_curve("cosine", lambda t: min_lr + 0.5 * (BASE - min_lr) * (1 + math.cos(math.pi * t / T)),
                 steps=range(T + 1), min_lr=min_lr)
    assert close(lr_at_steps("cosine", BASE, T, [T], eta_min=min_lr)[0], min_lr)  # torch's name


def test_warmup_boundaries():
    w = 10
    assert_curve("warmup", lambda t: BASE * (min(t, w) + 1) / (w + 1) if t <= w else BASE,
                 warmup_steps=w)
    lr = lr_at_steps("warmup", BASE, T, [0, w - 1, w, w + 1, T], warmup_steps=w)
    assert close(lr[0], BASE / (w + 1))
    assert lr[1] < BASE and close(lr[2], BASE) and close(lr[3], BASE) and close(lr[4], BASE)
    s = 0.25
    assert_curve("warmup", lambda t: BASE * (s + (1 - s) * min(t, w) / w),
                 warmup_steps=w, warmup_start_factor=s)


@pytest.mark.parametrize("min_lr", [0.0, 1e-4])
def test_warmup_cosine(min_lr):
    w = 10

    def f(t):
        if t < w:
            return BASE * (t + 1) / (w + 1)
        return min_lr + 0.5 * (BASE - min_lr) * (1 + math.cos(math.pi * (t - w) / (T - w)))

    assert_curve("warmup_cosine", f, steps=range(T + 1), warmup_steps=w, min_lr=min_lr)
    lr = lr_at_steps("warmup_cosine", BASE, T, [w - 1, w, T], warmup_steps=w, min_lr=min_lr)
    assert lr[0] < BASE and close(lr[1], BASE) and close(lr[2], min_lr)


@pytest.mark.parametrize("w", [1, 10, 99])
def test_warmup_linear_closed_form_and_hugging_face(w):
    def ours(t):  # warmup base*(t+1)/(W+1), then linear decay to 0 at T, 0 after
        if t < w:
            return BASE * (t + 1) / (w + 1)
        return BASE * max(0.0, (T - t) / (T - w))

    def hugging_face(t):  # transformers.get_linear_schedule_with_warmup's lr_lambda * base
        if t < w:
            return BASE * t / w
        return BASE * max(0.0, (T - t) / (T - w))

    assert_curve("warmup_linear", ours, steps=range(T + 5), warmup_steps=w)
    lrs = lr_at_steps("warmup_linear", BASE, T, range(T + 5), warmup_steps=w)
    assert close(lrs[0], BASE / (w + 1)) and close(lrs[w], BASE) and lrs[T] == 0.0
    assert max(lrs) == lrs[w] and lrs[T + 4] == 0.0
    for t, lr in enumerate(lrs):
        if t >= w:  # the decay is Hugging Face's exactly
            assert close(lr, hugging_face(t)), (t, lr)
        else:  # the warmup is higher by base * (W - t) / (W (W + 1)), as the docstring says
            assert close(lr - hugging_face(t), BASE * (w - t) / (w * (w + 1))), (t, lr)
    s = 0.25
    assert_curve("warmup_linear", lambda t: BASE * (s + (1 - s) * t / w) if t < w else ours(t),
                 warmup_steps=w, warmup_start_factor=s)


def test_warmup_linear_through_the_config_the_factory_and_the_trainer():
    from tests.tiny import tiny_data, tiny_model
    from workbench.config import TrainingConfig
    from workbench.techniques.optimization import create_optimizer_with_schedule, schedule_settings
    from workbench.train import Trainer

    assert TrainingConfig(schedule="warmup_linear", warmup_steps=10).schedule == "warmup_linear"
    opt, sched = create_optimizer_with_schedule(tiny_model(), "sgd", BASE, "warmup_linear", 4, 20)
    lrs = [sched.get_last_lr()[0]]
    for _ in range(20):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert all(close(lr, BASE * (t + 1) / 5 if t < 4 else BASE * (20 - t) / 16) for t, lr in enumerate(lrs))
    assert schedule_settings("warmup_linear", BASE, 100) == (5, {})  # the notebook's knobs
    # in the Trainer: 8 optimizer steps, the rate falls to 0 at the last one
    data, task = tiny_data(n=32)
    cfg = TrainingConfig(epochs=2, batch_size=8, lr=BASE, optimizer="sgd", progress_bar=False,
                         schedule="warmup_linear", warmup_steps=2, eval_every_epochs=None)
    state = Trainer(tiny_model(), cfg, data, task=task).fit()
    assert state.effective_step == 8 and state.lr == 0.0


@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
def test_polynomial(power):
    assert_curve("polynomial", lambda t: BASE * (1 - min(t, T) / T) ** power,
                 steps=range(T + 5), power=power)


def test_sgdr_restarts():
    # T_mult = 1: restarts every T_0 steps.
    assert_curve("sgdr", lambda t: cos_anneal(BASE, 1e-4, (t % 25) / 25),
                 T_0=25, min_lr=1e-4)
    # T_mult = 2: cycles of 10, 20, 40 steps; restarts at 10 and 30 (= T_0 + T_0*T_mult), 70.
    starts = [0, 10, 30, 70, 150]

    def f(t):
        i = max(k for k in range(4) if starts[k] <= t)
        return cos_anneal(BASE, 0.0, (t - starts[i]) / (starts[i + 1] - starts[i]))

    assert_curve("sgdr", f, T_0=10, T_mult=2)
    lr = lr_at_steps("sgdr", BASE, T, [9, 10, 29, 30, 69, 70], T_0=10, T_mult=2)
    assert close(lr[1], BASE) and close(lr[3], BASE) and close(lr[5], BASE)
    assert lr[0] < 0.05 * BASE and lr[2] < 0.01 * BASE and lr[4] < 0.002 * BASE


def test_one_cycle_formula_and_peak():
    pct, div, final_div = 0.3, 25.0, 1e4
    initial, final = BASE / div, BASE / div / final_div
    peak = pct * T - 1  # 29: the last step of the rising phase

    def f(t):
        if t <= peak:
            return cos_anneal(initial, BASE, t / peak)
        return cos_anneal(BASE, final, (t - peak) / (T - 1 - peak))

    assert_curve("one_cycle", f)
    lrs = lr_at_steps("one_cycle", BASE, T, range(T))
    assert lrs.index(max(lrs)) == int(peak) == 29
    assert close(lrs[0], BASE / 25) and close(lrs[int(peak)], BASE) and close(lrs[-1], final)


def test_one_cycle_momentum_is_left_alone_by_default():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=BASE, momentum=0.5)
    build_scheduler("one_cycle", opt, T)
    assert opt.param_groups[0]["momentum"] == 0.5
    adam = torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))], lr=BASE)
    build_scheduler("one_cycle", adam, T, cycle_momentum=True)
    assert adam.param_groups[0]["betas"][0] == 0.95
    with pytest.raises(ValueError, match="cycle_momentum"):
        build_scheduler("one_cycle", torch.optim.Adagrad([torch.nn.Parameter(torch.zeros(1))]),
                        T, cycle_momentum=True)


def test_plateau_reduces_after_patience():
    # metric never improves after the first call: more than `patience` bad calls -> reduce
    lrs = lr_at_steps("plateau", BASE, T, range(12), patience=3, factor=0.5)
    # calls 1 (sets best), 2..5 bad (4 > 3) -> reduce at t=5, then t=9
    expected = [BASE] * 5 + [BASE / 2] * 4 + [BASE / 4] * 3
    assert all(close(a, b) for a, b in zip(lrs, expected)), lrs
    # a steadily improving loss never reduces the rate
    improving = [1.0 / (k + 1) for k in range(40)]
    assert set(lr_at_steps("plateau", BASE, T, range(41), metrics=improving, patience=2)) == {BASE}
    # mode="max": a rising accuracy is an improvement
    rising = [k / 40 for k in range(40)]
    assert set(lr_at_steps("plateau", BASE, T, range(41), metrics=rising, mode="max",
                           patience=2)) == {BASE}
    # min_lr bounds the decay
    assert close(min(lr_at_steps("plateau", BASE, T, range(60), patience=0, min_lr=1e-3)), 1e-3)


def test_dynamic_raises_after_patience_falls_and_cuts_on_plateau():
    # the loss falls at calls 1-4, then stays flat: with patience 2 the rate rises x1.25 at
    # the 2nd and 4th improving call (t = 3 and 5; the first call only sets the reference),
    # then two calls without a new best cut it x0.5 (t = 7), and again at t = 9
    losses = [1.0, 0.9, 0.8, 0.7, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    lrs = lr_at_steps("dynamic", BASE, T, range(11), metrics=losses)
    up1, up2 = BASE * 1.25, BASE * 1.25 ** 2
    expected = [BASE, BASE, BASE, up1, up1, up2, up2, up2 / 2, up2 / 2, up2 / 4, up2 / 4]
    assert all(close(a, b) for a, b in zip(lrs, expected)), lrs
    # bounds: max_lr caps the raises, min_lr the cuts (defaults 10x and 1/100 of lr_0)
    falling = [1.0 / (k + 1) for k in range(60)]
    assert close(max(lr_at_steps("dynamic", BASE, T, range(61), metrics=falling)), 10 * BASE)
    assert close(min(lr_at_steps("dynamic", BASE, T, range(61), metrics=[1.0] * 60)), BASE / 100)
    # an accuracy monitor defaults to mode="max": a rising accuracy raises the rate
    acc = [0.5 + k / 100 for k in range(5)]
    assert lr_at_steps("dynamic", BASE, T, [5], metrics=acc, monitor="val_accuracy")[0] > BASE
    with pytest.raises(ValueError, match="monitor must be a validation metric"):
        lr_at_steps("dynamic", BASE, T, [1], monitor="train_loss")
    with pytest.raises(ValueError, match=r"metrics apply only to \['plateau', 'dynamic'\]"):
        lr_at_steps("cosine", BASE, T, [1], metrics=[1.0])


def test_is_metric_scheduler():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE)
    assert is_metric_scheduler(build_scheduler("plateau", opt, T))
    assert is_metric_scheduler(build_scheduler("dynamic", opt, T))
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE)
    assert not is_metric_scheduler(build_scheduler("cosine", opt, T))
    assert not is_metric_scheduler(None)


def test_param_groups_keep_their_ratio():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.01}], lr=0.1)
    sched = build_scheduler("warmup_cosine", opt, 50, warmup_steps=5)
    for _ in range(20):
        opt.step()
        sched.step()
    lr_a, lr_b = sched.get_last_lr()
    assert close(lr_a / lr_b, 10.0)


def test_lr_at_steps_order_and_no_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name in SCHEDULES:
            kw = {"warmup_steps": 10} if name in WARMUP_SCHEDULES else {}
            ordered = lr_at_steps(name, BASE, T, range(T), **kw)
            assert lr_at_steps(name, BASE, T, [50, 3, 50], **kw) == [ordered[50], ordered[3],
                                                                   ordered[50]]


# ----------------------------------------------------------------- validation


@pytest.mark.parametrize("args, kwargs, match", [
    (("cosinus", T), {}, r"unknown schedule 'cosinus'; valid names: \['constant', 'step'"),
    (("cosine", T), {"min_lr": -1.0}, r"min_lr must be in \[0, 0.1\]"),
    (("cosine", T), {"min_lr": 0.5}, r"min_lr must be in \[0, 0.1\]"),
    (("cosine", T), {"gamma": 0.5}, r"takes no argument\(s\) \['gamma'\]; valid: \['min_lr'\]"),
    (("cosine", T), {"min_lr": 0.0, "eta_min": 0.0}, "not both"),
    (("cosine", T, 5), {}, r"warmup_steps must be 0 \(only \['warmup', 'warmup_cosine', "
                          r"'warmup_linear'\]"),
    (("cosine", 0), {}, r"total_steps must be an integer >= 1"),
    (("cosine", 10.5), {}, r"total_steps must be an integer >= 1"),
    (("warmup_cosine", T, T), {}, r"warmup_steps must be an integer in \[1, 99\]"),
    (("warmup_cosine", T, 0), {}, r"warmup_steps must be an integer in \[1, 99\]"),
    (("warmup_cosine", T, -3), {}, r"warmup_steps must be an integer >= 0"),
    (("warmup", T, T + 1), {}, r"warmup_steps must be an integer in \[1, 100\]"),
    (("warmup_linear", T, T), {}, r"schedule 'warmup_linear': warmup_steps must be an integer in \[1, 99\]"),
    (("warmup_linear", T, 0), {}, r"warmup_steps must be an integer in \[1, 99\]"),
    (("warmup_linear", 1, 1), {}, r"schedule 'warmup_linear': total_steps must be an integer >= 2"),
    (("warmup_linear", T, 10), {"warmup_start_factor": 1.5}, r"warmup_start_factor .* \(0, 1\]"),
    (("warmup_linear", T, 10), {"min_lr": 0.0}, r"takes no argument\(s\) \['min_lr'\]"),
    (("warmup", T, 10), {"warmup_start_factor": 0.0}, r"warmup_start_factor .* \(0, 1\]"),
    (("step", T), {"gamma": 1.5}, r"gamma must be a finite number in \(0, 1\]"),
    (("step", T), {"step_size": 0}, r"step_size must be an integer >= 1"),
    (("step", T), {"milestones": [30, 10]}, "strictly increasing"),
    (("step", T), {"milestones": [10], "step_size": 5}, "not both"),
    (("polynomial", T), {"power": -1}, r"power must be a finite number in \(0, 100\]"),
    (("sgdr", T), {"T_0": 0}, r"T_0 must be an integer >= 1"),
    (("sgdr", T), {"T_mult": 1.5}, r"T_mult must be an integer >= 1"),
    (("one_cycle", T), {"pct_start": 1.0}, r"pct_start must be a finite number in \(0, 1\)"),
    (("one_cycle", 3), {}, r"pct_start \* total_steps must be > 1"),
    (("one_cycle", T), {"div_factor": 0.5}, r"div_factor must be a finite number in \[1, inf\)"),
    (("one_cycle", T), {"anneal_strategy": "exp"}, r"anneal_strategy must be one of"),
    (("plateau", T), {"factor": 1.0}, r"factor must be a finite number in \(0, 1\)"),
    (("plateau", T), {"patience": -1}, r"patience must be an integer >= 0"),
    (("plateau", T), {"mode": "up"}, r"mode must be one of \['min', 'max'\]"),
])
def test_invalid_arguments_name_the_parameter(args, kwargs, match):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=BASE)
    with pytest.raises(ValueError, match=match):
        build_scheduler(args[0], opt, *args[1:], **kwargs)


def test_validate_schedule_without_optimizer():
    validate_schedule("warmup_cosine", warmup_steps=100, min_lr=1e-5)
    validate_schedule("sgdr", total_steps=50, T_0=10, T_mult=2)
    with pytest.raises(ValueError, match="warmup_steps"):
        validate_schedule("warmup_cosine")
    with pytest.raises(ValueError, match="min_lr"):
        validate_schedule("cosine", base_lr=1e-3, min_lr=1e-2)


def test_training_config_uses_schedule_names():
    from workbench.config import TrainingConfig

    for name in SCHEDULES:
        warmup = 10 if name in WARMUP_SCHEDULES else 0
        assert TrainingConfig(schedule=name, warmup_steps=warmup).schedule == name
    with pytest.raises(ValueError, match="schedule"):
        TrainingConfig(schedule="linear")
    # a schedule's own parameters are checked when the config is built, before training
    with pytest.raises(ValueError, match="TrainingConfig.schedule_kwargs / warmup_steps.*warmup_steps"):
        TrainingConfig(schedule="warmup", warmup_steps=0)
    with pytest.raises(ValueError, match="gamma"):
        TrainingConfig(schedule="step", schedule_kwargs={"gamma": -1.0})
    with pytest.raises(ValueError, match="TrainingConfig.schedule_kwargs"):
        TrainingConfig(schedule="cosine", schedule_kwargs={"no_such_option": 1})


# ----------------------------------------------------------------- checkpoints

VARIANTS = [
    ("constant", 0, {}),
    ("step", 0, {"step_size": 15, "gamma": 0.5}),
    ("step", 0, {"milestones": [20, 40, 70]}),
    ("cosine", 0, {"min_lr": 1e-4}),
    ("warmup", 10, {}),
    ("warmup_cosine", 10, {"min_lr": 1e-4}),
    ("warmup_linear", 10, {}),
    ("polynomial", 0, {"power": 2.0}),
    ("sgdr", 0, {"T_0": 10, "T_mult": 2}),
    ("one_cycle", 0, {}),
    ("one_cycle", 0, {"cycle_momentum": True, "three_phase": True}),
    ("plateau", 0, {"patience": 2, "factor": 0.5, "cooldown": 1}),
    ("dynamic", 0, {"patience": 2, "plateau_patience": 2, "increase_factor": 1.5}),
    ("slanted_triangular", 0, {"cut_frac": 0.2, "ratio": 16.0}),
]


@pytest.mark.parametrize("name, warmup, kwargs", VARIANTS,
                         ids=[f"{v[0]}-{i}" for i, v in enumerate(VARIANTS)])
def test_state_dict_survives_weights_only_load_and_resumes(name, warmup, kwargs):
    assert {v[0] for v in VARIANTS} == set(SCHEDULES)

    def make():
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=BASE, momentum=0.9)
        return opt, build_scheduler(name, opt, T, warmup, **kwargs)

    def metric(t):  # improves, then stalls, then improves: exercises plateau's counters
        return 1.0 / (1 + min(t, 10) + max(0, t - 30))

    def advance(opt, sched, t):
        opt.step()
        if is_metric_scheduler(sched):
            sched.step(metric(t))
        else:
            sched.step()
        return [float(x) for x in sched.get_last_lr()]

    opt, sched = make()
    for t in range(37):
        advance(opt, sched, t)
    buf = io.BytesIO()
    torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, buf)
    buf.seek(0)
    ckpt = torch.load(buf, weights_only=True)

    opt2, sched2 = make()  # build as at the start, then load optimizer, then scheduler
    opt2.load_state_dict(ckpt["optimizer"])
    sched2.load_state_dict(ckpt["scheduler"])
    assert sched2.get_last_lr() == sched.get_last_lr()
    for t in range(37, T):
        a, b = advance(opt, sched, t), advance(opt2, sched2, t)
        assert a == b, (t, a, b)
        assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"]
        assert opt.param_groups[0]["momentum"] == opt2.param_groups[0]["momentum"]
