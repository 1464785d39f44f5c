"""Multi-task learning (workbench.techniques.multitask): models, shared vocabulary, task
field end to end, loss weightings against hand-computed values, task schedules (exact
mid-epoch resume), per-task metrics and per-task time-to-target."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest
import torch
from torch import nn

from tests.techniques.settings import multitask_splits as tiny_splits
from workbench.config import TrainingConfig
from workbench.data.samplers import SkipFirst
from workbench.experiment import AllTargets, Experiment, Target, Variant, time_to_target
from workbench.techniques.multitask import (
    DWAWeighting,
    EqualWeighting,
    GradNormWeighting,
    MultiTaskModel,
    SharedEncoder,
    TaskHead,
    TaskSampler,
    TaskScheduling,
    UncertaintyWeighting,
    dwa_weights,
    example_weights,
    gradnorm_step,
    multitask_model,
    performance_probabilities,
    proportional_probabilities,
    task_losses,
    train_multitask,
    uncertainty_loss,
)
from workbench.train import Trainer


def _config(**kw):
    base = dict(epochs=2, batch_size=16, optimizer="adam", lr=1e-2, progress_bar=False, eval_every_epochs=1,
                log_every_steps=1, seed=3)
    return TrainingConfig(**(base | kw))


class _Toy(nn.Module):
    """A reference-model-shaped toy: encode = Linear(3, 4), classifier unused."""

    def __init__(self):
        super().__init__()
        self.body = nn.Linear(3, 4)
        self.feature_dim = 4
        self.classifier = nn.Linear(4, 2)

    def encode(self, x):
        return self.body(x)


# ------------------------------------------------------------------ models
def test_multitask_model_routes_each_example_to_its_task_head():
    torch.manual_seed(0)
    m = MultiTaskModel(_Toy(), {"a": 2, "b": 3}).eval()
    x = torch.randn(5, 3)
    both = m(x)
    assert set(both) == {"a", "b"} and both["a"].shape == (5, 2) and both["b"].shape == (5, 3)
    torch.testing.assert_close(m(x, "b"), both["b"])
    torch.testing.assert_close(m(x, 0), both["a"])
    task = torch.tensor([0, 1, 1, 0, 1])
    mixed = m(x, task)
    assert mixed.shape == (5, 3)
    torch.testing.assert_close(mixed[task == 1], both["b"][task == 1])
    torch.testing.assert_close(mixed[task == 0, :2], both["a"][task == 0])
    assert torch.isneginf(mixed[task == 0, 2]).all()  # task a has 2 classes: the third is -inf
    # cross-entropy ignores the padded class
    loss = nn.functional.cross_entropy(mixed, torch.tensor([1, 2, 0, 0, 1]), reduction="none")
    assert torch.isfinite(loss).all()
    with pytest.raises(ValueError, match="unknown task"):
        m(x, "c")


def test_shared_encoder_freeze_and_heads():
    toy = _Toy()
    enc = SharedEncoder(toy)
    assert isinstance(toy.classifier, nn.Identity)  # the reference model's classifier is dropped
    assert enc.last_shared_layer() == list(toy.body.parameters())
    m = MultiTaskModel(enc, {"a": 2, "b": 2})
    m.freeze_encoder()
    assert not any(p.requires_grad for p in m.encoder.parameters())
    assert all(p.requires_grad for p in m.heads.parameters())
    m.unfreeze_encoder()
    assert all(p.requires_grad for p in m.parameters())
    head = TaskHead(4, 3, hidden=8, dropout=0.25)
    assert [type(x).__name__ for x in head.net] == ["Dropout", "Linear", "ReLU", "Dropout", "Linear"]
    assert head(torch.randn(2, 4)).shape == (2, 3)
    with pytest.raises(ValueError, match="hidden"):
        TaskHead(4, 3, hidden=0)
    with pytest.raises(ValueError, match="dropout"):
        TaskHead(4, 3, dropout=1.0)
    with pytest.raises(ValueError, match="model"):
        SharedEncoder(nn.Linear(2, 2))


# ------------------------------------------------------------------ data
def test_shared_vocabulary_and_task_field_end_to_end():
    ms = tiny_splits()
    assert ms.task_names == ["subj", "mr"] and ms.train.sizes == [60, 60]
    vocab = ms.vocab
    # built on the training texts of both tasks only
    from workbench.data.text import tokenize
    train_tokens = {t for d in ms.train.datasets.values() for s in d.texts for t in tokenize(s)}
    assert set(vocab.itos[2:]) == train_tokens
    item = ms.train[75]
    assert item["task"] == 1 and item["input"].dtype == torch.long
    assert len(set(ms.train.ids.tolist())) == len(ms.train)  # ids unique across tasks
    # re-encoded with the shared vocabulary: decoding gives the sentence's tokens (or <unk>)
    mr0 = ms.train.datasets["mr"]
    assert vocab.decode(mr0[0]["input"]) == tokenize(mr0.texts[0])
    batch = ms.task.collator()([ms.train[i] for i in (0, 70, 1)])
    assert batch["task"].tolist() == [0, 1, 0] and batch["task"].dtype == torch.long
    # ... through the Trainer: the model sees the task field, evaluation rows break down by task
    torch.manual_seed(0)
    model = multitask_model("boe", ms)
    seen = []
    orig = model.forward
    model.forward = lambda x, task=None: (seen.append(task), orig(x, task))[1]
    tr = Trainer(model, _config(epochs=1), ms.train, ms.val, task=ms.task, techniques=[EqualWeighting.default(ms)])
    st = tr.fit()
    assert all(isinstance(t, torch.Tensor) for t in seen)
    row = st.history[-1]
    for name in ("subj", "mr"):
        assert 0.0 <= row[f"val_accuracy/{name}"] <= 1.0 and row[f"val_loss/{name}"] > 0
    acc = (row["val_accuracy/subj"] * 20 + row["val_accuracy/mr"] * 20) / 40
    assert row["val_accuracy"] == pytest.approx(acc)
    test = tr.evaluate(ms.test, prefix="test_")
    assert "test_accuracy/mr" in test


# ------------------------------------------------------------------ weighting (pure)
def test_task_losses_and_example_weights_give_the_weighted_sum_of_task_means():
    pel = torch.tensor([1.0, 2.0, 3.0, 5.0])
    tasks = torch.tensor([0, 1, 1, 0])
    means, counts = task_losses(pel, tasks, 3)
    assert means.tolist() == [3.0, 2.5, 0.0] and counts.tolist() == [2, 2, 0]
    w = torch.tensor([2.0, 0.5, 7.0])
    lw = example_weights(tasks, w)
    assert float((pel * lw).sum() / 4) == pytest.approx(2.0 * 3.0 + 0.5 * 2.5)


def test_uncertainty_loss_hand_computed():
    # L = [0.5, 2.0], s = [0, ln 2]: exp(0)*0.5 + 0 + exp(-ln 2)*2.0 + ln 2 = 1.5 + 0.693147
    s = torch.tensor([0.0, math.log(2.0)], requires_grad=True)
    loss = uncertainty_loss(torch.tensor([0.5, 2.0]), s)
    assert float(loss.detach()) == pytest.approx(1.5 + math.log(2.0), abs=1e-6)
    loss.backward()
    # d/ds_i = 1 - exp(-s_i) L_i = [1 - 0.5, 1 - 1.0]
    torch.testing.assert_close(s.grad, torch.tensor([0.5, 0.0]))
    # a task absent from the batch contributes neither its loss nor its s_i
    assert float(uncertainty_loss(torch.tensor([0.5, 9.0]), s.detach(), torch.tensor([True, False]))) == 0.5


def test_gradnorm_step_hand_computed():
    # w = [1, 1], g = [2, 1] -> G = [2, 1], Gbar = 1.5; L/L0 = [0.5, 0.8], mean 0.65,
    # r = [0.769231, 1.230769]; r^1.5 = [0.674660, 1.365416]; target = [1.011990, 2.048124];
    # G - target = [+0.988010, -1.048124]; dL/dw = sign * g = [2, -1];
    # w - 0.1 * grad = [0.8, 1.1]; renormalised to sum 2: [0.842105, 1.157895];
    # L_grad = 0.988010 + 1.048124 = 2.036134
    w, l_grad = gradnorm_step(torch.tensor([1.0, 1.0]), torch.tensor([2.0, 1.0]), torch.tensor([0.5, 0.8]),
                              torch.tensor([1.0, 1.0]), alpha=1.5, lr=0.1)
    torch.testing.assert_close(w, torch.tensor([0.842105, 1.157895]), atol=1e-6, rtol=0)
    assert float(l_grad) == pytest.approx(2.036134, abs=1e-5)
    assert float(w.sum()) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="alpha"):
        gradnorm_step(w, w, w, w, alpha=-1.0)


def test_gradnorm_technique_on_a_two_task_toy_problem():
    """Shared W (Linear 3->4, no bias), one linear head per task: the technique's gradient
    norms equal ||dL_i/dW|| computed directly, and its weights follow gradnorm_step from
    the first batch that completes the set of tasks, kept (not re-initialised) after."""
    torch.manual_seed(0)
    toy = _Toy()
    toy.body = nn.Linear(3, 4, bias=False)
    model = MultiTaskModel(toy, {"a": 2, "b": 2})
    tech = GradNormWeighting(["a", "b"], alpha=1.5, lr=0.1)
    x = torch.randn(6, 3)
    y = torch.tensor([0, 1, 1, 0, 1, 0])
    expected_w = torch.ones(2)
    g_seen, l_seen, l0 = torch.zeros(2), torch.zeros(2), torch.zeros(2)
    for step, task_id in enumerate([0, 1, 0, 1]):
        tasks = torch.full((6,), task_id)
        out = model(x, tasks)
        pel = nn.functional.cross_entropy(out, y, reduction="none")
        state = SimpleNamespace(batch={"task": tasks}, per_example_loss=pel, model=model, loss_weights=None)
        # by hand: the task's mean loss and its gradient norm on W
        li = pel.mean()
        (gw,) = torch.autograd.grad(li, [model.encoder.model.body.weight], retain_graph=True)
        g_seen[task_id], l_seen[task_id] = gw.norm(), li.detach()
        if step < 2:
            l0[task_id] = li.detach()
        tech.on_after_forward(state)
        torch.testing.assert_close(state.loss_weights, torch.full((6,), float(expected_w[task_id])))
        torch.testing.assert_close(tech.grad_norms, g_seen)
        if step >= 1:  # both tasks seen: one GradNorm step per batch, from the kept weights
            expected_w, _ = gradnorm_step(expected_w, g_seen, l_seen, l0, 1.5, 0.1)
        torch.testing.assert_close(tech.weights, expected_w)
    assert not torch.equal(tech.weights, torch.ones(2))
    assert float(tech.weights.sum()) == pytest.approx(2.0)


def test_dwa_weights_hand_computed():
    assert dwa_weights([[1.0, 2.0]]).tolist() == [1.0, 1.0]  # first two epochs: equal
    # r = [0.5 / 1, 1 / 1] = [0.5, 1.0]; T = 2: 2 * softmax([0.25, 0.5]) =
    # 2 * [1.284025, 1.648721] / 2.932746 = [0.875651, 1.124349]
    torch.testing.assert_close(dwa_weights([[1.0, 1.0], [0.5, 1.0]], 2.0), torch.tensor([0.875651, 1.124349]),
                               atol=1e-5, rtol=0)
    with pytest.raises(ValueError, match="temperature"):
        dwa_weights([[1.0]], 0.0)


# ------------------------------------------------------------------ weighting techniques in the loop
def test_uncertainty_log_variances_are_in_the_optimizer_and_learn():
    ms = tiny_splits()
    torch.manual_seed(0)
    tech = UncertaintyWeighting.default(ms)
    tr = Trainer(multitask_model("boe", ms), _config(epochs=1), ms.train, ms.val, task=ms.task, techniques=[tech])
    assert any(p is tech.log_vars for g in tr.optimizer.param_groups for p in g["params"])
    assert tr.optimizer.param_groups[-1]["weight_decay"] == 0.0
    tr.fit()
    assert not torch.equal(tech.log_vars.detach(), torch.zeros(2))  # trained by the optimizer
    # gradient of s_i is 1 - exp(-s_i) L_i: with L_i ~ 0.69 < 1, s_i falls (weights rise)
    assert (tech.log_vars.detach() < 0).all()
    assert len(tech.trace) == 1 and tech.trace[0][1:] == pytest.approx(torch.exp(-tech.log_vars.detach()).tolist())


def test_dwa_weights_move_after_two_epochs():
    ms = tiny_splits()
    torch.manual_seed(0)
    tech = DWAWeighting.default(ms)
    Trainer(multitask_model("boe", ms), _config(epochs=3), ms.train, ms.val, task=ms.task, techniques=[tech]).fit()
    assert len(tech.loss_history) == 3
    assert [r[1:] for r in tech.trace[:2]] == [[1.0, 1.0], [1.0, 1.0]]  # epochs 0, 1: equal
    torch.testing.assert_close(tech.weights, dwa_weights(tech.loss_history[-2:], 2.0))


# ------------------------------------------------------------------ schedules
def test_round_robin_and_proportional_schedules():
    rr = TaskSampler([40, 100, 20], batch_size=10, schedule="round_robin", seed=1)
    assert rr.num_batches == 4 + 10 + 2
    order = rr.order()
    blocks = order.view(-1, 10)
    offsets = [0, 40, 140, 160]
    tasks = [next(t for t in range(3) if offsets[t] <= int(b[0]) < offsets[t + 1]) for b in blocks]
    assert tasks == [0, 1, 2] * 5 + [0]
    for b, t in zip(blocks, tasks):  # every block from one task
        assert ((b >= offsets[t]) & (b < offsets[t + 1])).all()
    # each task's stream: a permutation of the task before any example repeats
    t2 = torch.cat([b for b, t in zip(blocks, tasks) if t == 2])
    assert sorted(t2[:20].tolist()) == list(range(140, 160))
    # proportional: p ~ n^(1/T)
    torch.testing.assert_close(proportional_probabilities([40, 100, 20], 1.0),
                               torch.tensor([40, 100, 20], dtype=torch.float64) / 160)
    flat = proportional_probabilities([40, 100, 20], 100.0)
    assert float(flat.max() - flat.min()) < 0.01
    p = TaskSampler([40, 100, 20], batch_size=1, schedule="proportional", seed=0, num_batches=8000).task_order()
    freq = torch.bincount(p, minlength=3).double() / 8000
    torch.testing.assert_close(freq, torch.tensor([0.25, 0.625, 0.125], dtype=torch.float64), atol=0.02, rtol=0)


def test_performance_schedule_favours_the_task_furthest_below_target():
    p = performance_probabilities([0.70, 0.90, 0.95], [0.80, 0.90, 0.90], temperature=0.05)
    # gaps [0.1, 0, 0]: exp(2) : 1 : 1
    torch.testing.assert_close(p, torch.tensor([math.e ** 2, 1, 1], dtype=torch.float64) / (math.e ** 2 + 2))
    s = TaskSampler([50, 50, 50], 10, "performance", targets=[0.8, 0.9, 0.9], seed=0)
    assert s.probs == pytest.approx([1 / 3] * 3)
    s.update_performance([0.70, 0.90, 0.95])
    s.set_epoch(0)  # the same epoch (e.g. a resume inside it): unchanged
    assert s.probs == pytest.approx([1 / 3] * 3)
    s.set_epoch(1)  # the next epoch: in force
    assert s.probs == pytest.approx(p.tolist())


@pytest.mark.parametrize("schedule", ["round_robin", "proportional", "performance"])
def test_task_sampler_resumes_mid_epoch_exactly(schedule):
    kw = {"targets": [0.8, 0.8]} if schedule == "performance" else {}
    s = TaskSampler([30, 70], 8, schedule, seed=5, **kw)
    s.set_epoch(2)
    if schedule == "performance":
        s.update_performance([0.5, 0.79])
        s.set_epoch(3)
    full = list(s)
    state = s.state_dict()
    fresh = TaskSampler([30, 70], 8, schedule, seed=0, **kw)
    fresh.load_state_dict(torch.load(_roundtrip(state), weights_only=True))
    fresh.set_epoch(state["epoch"])
    assert list(SkipFirst(fresh, 3 * 8)) == full[3 * 8:]
    s.set_epoch(state["epoch"] + 1)
    assert list(s) != full  # a new epoch, a new order


def _roundtrip(obj):
    import io

    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return buf


def test_performance_scheduling_resumes_exactly_with_evaluations_inside_epochs(tmp_path):
    """Evaluations every 3 steps move the schedule (from the next epoch); a run stopped at
    step 7 (mid-epoch, after an evaluation changed the pending probabilities) and resumed
    ends bit-identical to the straight run."""
    ms = tiny_splits()

    def run(stop=None, resume=None, save=None):
        torch.manual_seed(0)
        model = multitask_model("boe", ms, dropout=0.1)
        sch = TaskScheduling.default(ms, batch_size=16, schedule="performance", targets={"subj": 0.9, "mr": 0.9},
                                     temperature=0.1)
        techs = [GradNormWeighting.default(ms), sch]
        cfg = _config(epochs=3, eval_every_steps=3, max_steps=stop)
        tr = Trainer(model, cfg, ms.train, ms.val, task=ms.task, techniques=techs, sampler=sch.sampler)
        if resume:
            tr.load_checkpoint(resume)
            tr.config = cfg.replace(max_steps=None)
        tr.fit()
        if save:
            tr.save_checkpoint(save)
        return model, sch, tr

    straight, sch1, t1 = run()
    assert sch1.sampler.probs != pytest.approx([0.5, 0.5])  # the evaluations moved the schedule
    run(stop=7, save=tmp_path / "c.pt")
    resumed, sch2, t2 = run(resume=tmp_path / "c.pt")
    assert t1.state.effective_step == t2.state.effective_step
    assert sch1.sampler.probs == sch2.sampler.probs
    for a, b in zip(straight.parameters(), resumed.parameters()):
        assert torch.equal(a, b)


# ------------------------------------------------------------------ experiment: per-task time-to-target
def test_all_targets_time_is_when_the_last_task_reaches_its_target():
    rows = [{"wall_time": 1.0, "examples_seen": 10, "effective_step": 1, "val_accuracy/a": 0.9, "val_accuracy/b": 0.5},
            {"wall_time": 2.0, "examples_seen": 20, "effective_step": 2, "val_accuracy/a": 0.7, "val_accuracy/b": 0.6},
            {"wall_time": 3.0, "examples_seen": 30, "effective_step": 3, "val_accuracy/a": 0.7, "val_accuracy/b": 0.8}]
    both = AllTargets([Target("val_accuracy/a", 0.85), Target("val_accuracy/b", 0.75)])
    assert time_to_target(rows, both) == (3.0, 30.0, 3.0)  # a reached at 1 (and later fell), b at 3
    assert math.isnan(time_to_target(rows, AllTargets([Target("val_accuracy/a", 0.95)]))[0])
    with pytest.raises(ValueError, match="twice"):
        AllTargets([Target("val_accuracy/a", 0.8), Target("val_accuracy/a", 0.9)])


def test_experiment_records_per_task_time_to_target():
    ms = tiny_splits()
    target = AllTargets([Target("val_accuracy/subj", 0.0), Target("val_accuracy/mr", 0.0)])
    exp = Experiment(ms, lambda task: multitask_model("boe", ms), _config(epochs=1),
                     [Variant("equal", techniques=lambda s, seed: [EqualWeighting.default(s)])], seeds=[0],
                     target=target, progress=False)
    res = exp.run()
    rec = res.records[0]
    assert set(rec.per_target) == {"val_accuracy/subj", "val_accuracy/mr"}
    assert rec.time_to_target_s == max(v["time_to_target_s"] for v in rec.per_target.values())
    assert "val_accuracy/subj" in res.history.columns and "test_accuracy/mr" in rec.test_metrics
    assert res.to_json()["targets"][ms.name]["all"][1]["metric"] == "val_accuracy/mr"


def test_loop_passes_forward_keys_in_predict_and_refuses_a_ready_optimizer_for_technique_parameters():
    ms = tiny_splits()
    torch.manual_seed(0)
    model = multitask_model("boe", ms)
    tr = Trainer(model, _config(epochs=1), ms.train, ms.val, task=ms.task)
    ids, out = tr.predict(ms.val)
    assert out.shape == (40, 2) and torch.equal(ids, ms.val.ids)
    with torch.no_grad():  # predict routed every example to its own task's head
        model.eval()
        x = ms.task.collator()([ms.val[i] for i in range(40)])["inputs"]
        torch.testing.assert_close(out[20:], model(x, "mr")[20:])
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="param_groups"):
        Trainer(model, _config(), ms.train, task=ms.task, techniques=[UncertaintyWeighting.default(ms)], optimizer=opt)


def test_train_multitask_smoke_reports_per_task_test_accuracy():
    seen = []
    res = train_multitask(("subj", "mr"), "dwa", "proportional", smoke=True, on_eval=lambda rows, w: seen.append(rows))
    assert {"test_accuracy/subj", "test_accuracy/mr"} <= set(res["test"])
    assert seen and "val_accuracy/mr" in seen[-1][-1]
    assert len(res["weighting"].trace) == len(seen)
    with pytest.raises(ValueError, match="weighting"):
        train_multitask(("subj", "mr"), "softmax", smoke=True)
