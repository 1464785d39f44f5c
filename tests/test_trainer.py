import logging
import math

import pytest
import torch
import torch.nn.functional as F

from tests.tiny import tiny_data, tiny_model
from workbench.config import TrainingConfig
from workbench.train import Event, NonFiniteLossError, Technique, Trainer


def cfg(**kw):
    base = dict(epochs=2, batch_size=8, lr=0.05, optimizer="sgd", progress_bar=False,
                eval_every_epochs=None, log_every_steps=1)
    base.update(kw)
    return TrainingConfig(**base)


class Recorder(Technique):
    def __init__(self, name, log):
        super().__init__()
        self.name, self.log = name, log

    def __getattr__(self, attr):
        if attr.startswith("on_"):
            event = attr[3:]
            return lambda state: self.log.append((self.name, event))
        raise AttributeError(attr)


def test_event_sequence_and_order():
    data, task = tiny_data(n=32)
    log = []
    t = Trainer(tiny_model(), cfg(epochs=1, grad_accum_steps=2, eval_every_epochs=1), data, data, task=task,
                techniques=[Recorder("a", log), Recorder("b", log)])
    t.fit()
    events = [e for n, e in log if n == "a"]
    assert events[0] == "fit_start" and events[-1] == "fit_end"
    assert events.count("batch_start") == 4 and events.count("step_end") == 2
    assert events.count("after_forward") == 4 and events.count("after_backward") == 4
    assert events.count("eval_end") == 1 and events.count("epoch_end") == 1
    # before/start events run first-to-last, after/end events last-to-first
    first = {e: [n for n, ev in log if ev == e][:2] for e in ("batch_start", "before_backward",
                                                              "after_forward", "step_end")}
    assert first["batch_start"] == ["a", "b"] and first["before_backward"] == ["a", "b"]
    assert first["after_forward"] == ["b", "a"] and first["step_end"] == ["b", "a"]
    # within a micro-step: batch_start < after_forward < before_backward < after_backward
    seq = events[events.index("batch_start"):events.index("batch_end")]
    assert seq == ["batch_start", "after_forward", "before_backward", "after_backward"]


def test_per_example_losses_and_ids_reach_techniques():
    data, task = tiny_data(n=40)
    seen = {}

    class Probe(Technique):
        def on_after_forward(self, state):
            b = state.batch
            expected = F.cross_entropy(state.outputs, b["targets"], reduction="none")
            assert state.per_example_loss.shape == (b["targets"].shape[0],)
            assert torch.allclose(state.per_example_loss, expected)
            for i in b["ids"].tolist():
                seen[i] = seen.get(i, 0) + 1

    Trainer(tiny_model(), cfg(epochs=1), data, task=task, techniques=[Probe()]).fit()
    assert sorted(seen) == data.ids.tolist() and set(seen.values()) == {1}


def test_loss_weights_mask_examples():
    """Zero weights remove examples from the gradient: training on a masked half equals
    training on that half with its loss rescaled by the kept fraction."""
    data, task = tiny_data(n=16)

    class MaskOdd(Technique):
        def on_after_forward(self, state):
            state.loss_weights = (state.batch["ids"] % 2 == 0).float()

    m1 = tiny_model()
    Trainer(m1, cfg(epochs=1, batch_size=16), data, task=task, techniques=[MaskOdd()]).fit()
    m2 = tiny_model()
    keep = (data.ids % 2 == 0).nonzero().flatten().tolist()
    x, y = data.inputs[keep], data.targets[keep]
    loss = F.cross_entropy(m2(x), y, reduction="sum") / 16
    opt = torch.optim.SGD(m2.parameters(), lr=0.05, momentum=0.9)
    loss.backward()
    opt.step()
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.allclose(a, b, atol=1e-6)


def test_gradient_accumulation_matches_large_batch():
    data, task = tiny_data(n=64)
    m_acc, m_big = tiny_model(), tiny_model()
    s1 = Trainer(m_acc, cfg(epochs=2, batch_size=8, grad_accum_steps=4), data, task=task).fit()
    s2 = Trainer(m_big, cfg(epochs=2, batch_size=32), data, task=task).fit()
    assert s1.effective_step == s2.effective_step == 4
    assert s1.step == 16 and s2.step == 4
    for a, b in zip(m_acc.parameters(), m_big.parameters()):
        assert torch.allclose(a, b, atol=1e-5)


def test_effective_step_counts_partial_window_at_epoch_end():
    data, task = tiny_data(n=40)  # 5 batches of 8 per epoch; accumulation 2 -> 3 steps/epoch
    s = Trainer(tiny_model(), cfg(epochs=3, grad_accum_steps=2), data, task=task).fit()
    assert s.step == 15 and s.effective_step == 9 and s.examples_seen == 120
    rows = [r["effective_step"] for r in s.history]
    assert rows == list(range(1, 10))  # one metrics row per optimizer step, never per micro-step


def test_gradient_clipping_bounds_the_update():
    data, task = tiny_data(n=32)
    norms = []
    trainer = Trainer(tiny_model(), cfg(epochs=1, lr=1.0, max_grad_norm=0.01, optimizer="sgd", momentum=0.0),
                      data, task=task)

    def spy(optimizer, args, kwargs):
        g = torch.cat([p.grad.flatten() for p in trainer.model.parameters() if p.grad is not None])
        norms.append(float(g.norm()))

    trainer.optimizer.register_step_pre_hook(spy)
    trainer.fit()
    assert norms and max(norms) <= 0.01 * (1 + 1e-4)
    assert trainer.state.metrics["grad_norm"] > 0.01  # the norm before clipping is reported


def test_bf16_autocast_trains():
    data, task = tiny_data(n=64)
    dtypes = []

    class Dtype(Technique):
        def on_after_forward(self, state):
            dtypes.append(state.outputs.dtype)

    t = Trainer(tiny_model(), cfg(epochs=15, precision="bf16", optimizer="adam", lr=0.02, eval_every_epochs=15),
                data, data, task=task, techniques=[Dtype()])
    s = t.fit()
    assert set(dtypes) == {torch.bfloat16}
    assert s.history[0]["train_loss"] > s.history[-1]["train_loss"]
    assert s.metrics["val_accuracy"] > 0.8


@pytest.mark.parametrize("name", ["sgd", "adam", "adamw", "rmsprop", "adagrad"])
def test_every_optimizer_reduces_loss(name):
    data, task = tiny_data(n=64)
    lr = {"sgd": 0.1, "adam": 0.01, "adamw": 0.01, "rmsprop": 0.005, "adagrad": 0.1}[name]
    t = Trainer(tiny_model(), cfg(epochs=10, optimizer=name, lr=lr), data, task=task)
    before = t.evaluate(data)["loss"]
    t.fit()
    assert type(t.optimizer).__name__.lower() == name
    assert t.evaluate(data)["loss"] < 0.7 * before


@pytest.mark.parametrize("loss", ["cross_entropy", "mse", "mae", "huber"])
def test_losses_are_per_example(loss):
    from workbench.train.optim import build_loss

    fn = build_loss(loss, huber_delta=0.5)
    out = torch.randn(5, 3)
    tgt = torch.tensor([0, 2, 1, 1, 0])
    per = fn(out, tgt)
    assert per.shape == (5,)
    onehot = F.one_hot(tgt, 3).float()
    expected = {
        "cross_entropy": F.cross_entropy(out, tgt, reduction="none"),
        "mse": ((out - onehot) ** 2).mean(1),
        "mae": (out - onehot).abs().mean(1),
        "huber": F.huber_loss(out, onehot, delta=0.5, reduction="none").mean(1),
    }[loss]
    assert torch.allclose(per, expected)
    # regression targets [B] against outputs [B, 1]
    if loss != "cross_entropy":
        r = fn(torch.randn(4, 1), torch.randn(4))
        assert r.shape == (4,)


def test_validation_every_n_steps_and_early_stopping():
    data, task = tiny_data(n=32)
    # lr tiny: validation accuracy cannot improve, so patience 2 stops after 3 evaluations
    s = Trainer(tiny_model(), cfg(epochs=50, lr=1e-9, eval_every_steps=3, eval_every_epochs=None,
                                  early_stopping_patience=2, early_stopping_min_delta=0.01),
                data, data, task=task).fit()
    evals = [r["effective_step"] for r in s.history if not math.isnan(r["val_accuracy"])]
    assert evals == [3, 6, 9]
    assert s.effective_step == 9 and "early stopping" in s.stop_reason


def test_max_steps_and_schedule_from_torch():
    data, task = tiny_data(n=64)
    lrs = []

    class LR(Technique):
        def on_step_end(self, state):
            lrs.append(state.lr)

    t = Trainer(tiny_model(), cfg(epochs=100, max_steps=20, schedule="one_cycle", lr=0.1), data,
                task=task, techniques=[LR()])
    s = t.fit()
    assert s.effective_step == 20 and "max_steps" in s.stop_reason
    assert type(t.scheduler).__name__ == "OneCycleLR"
    peak = max(range(len(lrs)), key=lambda i: lrs[i])
    assert 3 <= peak <= 7 and lrs[-2] < lrs[peak] / 100  # lrs[-2] is the last lr used


def test_nonfinite_loss_raises_with_step_and_ids(tmp_path):
    data, task = tiny_data(n=40)

    class Poison(Technique):
        def on_batch_start(self, state):
            if state.effective_step == 3:
                state.batch = dict(state.batch)
                x = state.batch["inputs"].clone()
                x[1] = math.nan
                state.batch["inputs"] = x

    t = Trainer(tiny_model(), cfg(epochs=5, checkpoint_dir=str(tmp_path), checkpoint_every_steps=1,
                                  keep_checkpoints=10), data, task=task, techniques=[Poison()])
    with pytest.raises(NonFiniteLossError) as err:
        t.fit()
    msg = str(err.value)
    assert "step 3" in msg and "effective step 3" in msg
    bad_id = None
    # the message names every id of the batch and the one that went non-finite
    ids_part = msg.split("non-finite for ids")[1]
    bad_id = int(ids_part.strip(" [").split("]")[0])
    assert 1000 <= bad_id < 1040
    files = sorted(p.name for p in tmp_path.glob("step-*.pt"))
    assert files[-1] == "step-00000003.pt"  # nothing written after the bad step
    t2 = Trainer(tiny_model(), cfg(epochs=5), data, task=task, techniques=[Poison()])
    t2.load_checkpoint(tmp_path)
    assert t2.state.effective_step == 3
    assert all(torch.isfinite(p).all() for p in t2.model.parameters())


def test_nonfinite_stop_mode_stops_cleanly():
    data, task = tiny_data(n=40)

    class Poison(Technique):
        def on_after_forward(self, state):
            if state.effective_step == 2:
                state.per_example_loss = state.per_example_loss * math.inf

    s = Trainer(tiny_model(), cfg(epochs=5, on_nonfinite="stop"), data, task=task,
                techniques=[Poison()]).fit()
    assert s.stop and "non-finite" in s.stop_reason and s.effective_step == 2


def test_compile_fallback_to_eager_is_logged(monkeypatch, caplog):
    data, task = tiny_data(n=32)

    def broken_compile(model, **kw):
        def run(*a, **k):
            raise RuntimeError("inductor exploded")
        return run

    monkeypatch.setattr(torch, "compile", broken_compile)
    m_c, m_e = tiny_model(), tiny_model()
    with caplog.at_level(logging.WARNING, logger="workbench"):
        s = Trainer(m_c, cfg(epochs=2, compile=True), data, task=task).fit()
    assert "falling back to eager" in caplog.text and s.counters["compile_fallback"] == 1
    Trainer(m_e, cfg(epochs=2), data, task=task).fit()
    for a, b in zip(m_c.parameters(), m_e.parameters()):
        assert torch.equal(a, b)


@pytest.mark.slow
def test_compiled_and_eager_agree():
    data, task = tiny_data(n=64)
    m_c, m_e = tiny_model(), tiny_model()
    Trainer(m_c, cfg(epochs=2, compile=True, compile_mode="default"), data, task=task).fit()
    Trainer(m_e, cfg(epochs=2), data, task=task).fit()
    for a, b in zip(m_c.parameters(), m_e.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_predict_and_evaluate():
    data, task = tiny_data(n=50)
    t = Trainer(tiny_model(), cfg(epochs=1), data, task=task)
    ids, out = t.predict(data)
    assert ids.tolist() == data.ids.tolist() and out.shape == (50, 3)
    m = t.evaluate(data, prefix="val_")
    acc = float((out.argmax(1) == data.targets).float().mean())
    assert m["val_accuracy"] == pytest.approx(acc)


def test_trainer_rejects_bad_setup():
    data, task = tiny_data(n=8)
    with pytest.raises(ValueError, match="empty"):
        Trainer(tiny_model(), cfg(), data.subset([]), task=task)
    with pytest.raises(ValueError, match="task="):
        Trainer(tiny_model(), cfg(), data)
    with pytest.raises(ValueError, match="unique"):
        Trainer(tiny_model(), cfg(), data, task=task, techniques=[Technique(), Technique()])


def test_events_enum_is_complete():
    assert [e.value for e in Event] == ["fit_start", "epoch_start", "batch_start", "after_forward",
                                        "before_backward", "after_backward", "step_end", "batch_end",
                                        "eval_end", "epoch_end", "fit_end"]


def test_bad_data_is_rejected_before_training():
    from workbench.config import TaskSpec
    from workbench.data.datasets import ExampleDataset

    data, task = tiny_data(n=16)
    # labels outside [0, num_classes): names the example id and the field
    y = data.targets.clone()
    y[3] = 7
    bad = ExampleDataset(data.inputs, y, data.ids)
    with pytest.raises(ValueError, match=r"target 7 of example id 1003 \(field 'target'\) is outside \[0, 3\)"):
        Trainer(tiny_model(), cfg(), bad, task=task)
    # a single-class training split
    one = ExampleDataset(data.inputs, torch.zeros_like(data.targets), data.ids)
    with pytest.raises(ValueError, match="single class"):
        Trainer(tiny_model(), cfg(), one, task=task)
    # inputs of the wrong shape for the task
    wide = ExampleDataset(torch.randn(16, 9), data.targets, data.ids)
    with pytest.raises(ValueError, match=r"example id 1000, field 'input': expected shape \(6,\)"):
        Trainer(tiny_model(), cfg(), wide, task=task)
    # inputs of the wrong dtype
    ints = ExampleDataset(torch.ones(16, 6, dtype=torch.long), data.targets, data.ids)
    with pytest.raises(ValueError, match="floating point"):
        Trainer(tiny_model(), cfg(), ints, task=task)
    # validation data is checked too
    with pytest.raises(ValueError, match="validation data"):
        Trainer(tiny_model(), cfg(), data, wide, task=task)
    # a model that does not fit the data: the shapes are named
    wide_task = TaskSpec(modality="tabular", num_classes=3, input_shape=(9,))
    with pytest.raises(ValueError, match=r"model cannot take a batch.*shape \(2, 9\)"):
        Trainer(tiny_model(), cfg(), wide, task=wide_task)
    # a model with the wrong number of outputs
    with pytest.raises(ValueError, match=r"logits of shape \[B, 4\]"):
        Trainer(tiny_model(), cfg(), data, task=TaskSpec(modality="tabular", num_classes=4, input_shape=(6,)))


class _RecordBatches(Technique):
    """Records each micro-batch's per-example losses and predictions (as the Trainer saw them)."""

    name = "record_batches"

    def __init__(self):
        self.rows = []  # (the optimizer step it feeds, sum of losses, correct, batch size)

    def on_batch_start(self, state):
        self._feeds = state.effective_step + 1

    def on_after_forward(self, state):
        pel, out, t = state.per_example_loss.detach(), state.outputs.detach(), state.batch["targets"]
        self._pending = (float(pel.sum()), int((out.argmax(1) == t).sum()), int(t.shape[0]))

    def on_batch_end(self, state):
        self.rows.append((self._feeds, *self._pending))


@pytest.mark.parametrize("accum, keep", [(1, None), (3, None), (3, 20)])
def test_logged_train_loss_and_accuracy_are_the_means_over_the_logged_window(accum, keep, monkeypatch):
    """Each row's train_loss / train_accuracy is the mean per-example loss / accuracy over
    exactly the micro-batches since the previous row (recomputed here from the batches),
    also when the kept training logits are scored before the row (``keep``: at most 20
    values kept, so every batch of 8 x 3 logits is scored at once)."""
    import workbench.train.trainer as trainer_module

    if keep is not None:
        monkeypatch.setattr(trainer_module, "_ACC_MAX_NUMEL", keep)
    data, task = tiny_data(n=100)
    rec = _RecordBatches()
    cfg = TrainingConfig(optimizer="sgd", lr=0.1, batch_size=8, epochs=2, seed=0, progress_bar=False,
                         grad_accum_steps=accum, log_every_steps=2)
    s = Trainer(tiny_model(), cfg, data, task=task, techniques=[rec]).fit()
    prev = 0
    assert len(s.history) >= 3
    for row in s.history:
        window = [r for r in rec.rows if prev < r[0] <= row["effective_step"]]
        n = sum(r[3] for r in window)
        assert row["train_loss"] == pytest.approx(sum(r[1] for r in window) / n, rel=1e-5)
        assert row["train_accuracy"] == pytest.approx(sum(r[2] for r in window) / n, abs=1e-12)
        prev = row["effective_step"]


def test_weighted_loss_logs_the_unweighted_mean_training_loss():
    data, task = tiny_data(n=64)
    rec = _RecordBatches()

    class HalfWeights(Technique):
        name = "half"

        def on_after_forward(self, state):
            state.loss_weights = torch.full_like(state.per_example_loss, 0.5)

    cfg = TrainingConfig(optimizer="sgd", lr=0.1, batch_size=8, epochs=1, seed=0, progress_bar=False,
                         log_every_steps=8)
    s = Trainer(tiny_model(), cfg, data, task=task, techniques=[HalfWeights(), rec]).fit()
    assert s.history[0]["train_loss"] == pytest.approx(sum(r[1] for r in rec.rows) / 64, rel=1e-5)


class _ModeProbe(Technique):
    """Puts the dropout submodule in eval mode at epoch start (as a technique freezing a
    normalization layer would), calls model.eval() at batch end (as a careless scoring
    technique might), and records the modes seen in each forward."""

    name = "mode_probe"

    def __init__(self):
        self.seen = []

    def on_epoch_start(self, state):
        state.model.net[2].eval()

    def on_after_forward(self, state):
        self.seen.append((state.model.training, state.model.net[2].training))

    def on_batch_end(self, state):
        if state.batch_in_epoch == 2:
            state.model.eval()


def test_train_mode_once_per_epoch_respects_submodule_modes_and_recovers_from_eval():
    data, task = tiny_data(n=64)
    probe = _ModeProbe()
    cfg = TrainingConfig(optimizer="sgd", lr=0.1, batch_size=8, epochs=2, seed=0, progress_bar=False,
                         eval_every_steps=3)
    tr = Trainer(tiny_model(dropout=0.5), cfg, data, task=task, val_data=data, techniques=[probe])
    tr.fit()
    # every training forward ran with the model in train mode
    assert all(top for top, _ in probe.seen)
    # the submodule the technique froze stayed in eval mode through validation passes,
    # until model.eval() at batch 2 forced the Trainer to reset the whole model to train
    first_epoch = probe.seen[:8]
    assert [sub for _, sub in first_epoch] == [False, False, True, True, True, True, True, True]
    # epoch_start of the next epoch freezes it again
    assert probe.seen[8] == (True, False)


def test_evaluate_restores_each_submodules_mode():
    data, task = tiny_data(n=32)
    model = tiny_model(dropout=0.5)
    model.train()
    model.net[2].eval()
    tr = Trainer(model, TrainingConfig(batch_size=8, epochs=1, progress_bar=False), data, task=task)
    tr.evaluate(data)
    tr.predict(data)
    assert model.training and model.net[0].training and not model.net[2].training


def test_constant_schedule_is_not_stepped_and_leaves_a_technique_set_rate_alone():
    data, task = tiny_data(n=64)

    class SetLR(Technique):
        name = "set_lr"

        def on_fit_start(self, state):
            for g in state.optimizer.param_groups:
                g["lr"] = 0.01

    seen = []

    class Probe(Technique):
        name = "probe"

        def on_batch_end(self, state):
            seen.append(state.lr)

    cfg = TrainingConfig(optimizer="sgd", lr=0.1, batch_size=8, epochs=1, seed=0, progress_bar=False)
    Trainer(tiny_model(), cfg, data, task=task, techniques=[SetLR(), Probe()]).fit()
    assert seen == [0.01] * 8


def test_gradients_of_the_step_are_readable_at_step_end_and_cleared_before_the_next_window():
    data, task = tiny_data(n=48)
    seen = []

    class GradProbe(Technique):
        name = "grad_probe"

        def on_batch_start(self, state):
            seen.append(("start", state.batch_in_epoch, any(p.grad is not None for p in state.model.parameters())))

        def on_after_forward(self, state):
            seen.append(("forward", state.batch_in_epoch, any(p.grad is not None for p in state.model.parameters())))

        def on_step_end(self, state):
            seen.append(("step_end", state.batch_in_epoch, all(p.grad is not None for p in state.model.parameters())))

    model = tiny_model()
    cfg = TrainingConfig(optimizer="sgd", lr=0.1, batch_size=8, epochs=1, seed=0, progress_bar=False,
                         grad_accum_steps=2)
    Trainer(model, cfg, data, task=task, techniques=[GradProbe()]).fit()
    # the step's gradients are there at step_end; a new window starts from no gradients
    # (micro-batch 0, 2, 4 of the epoch), the second micro-batch of a window adds to them
    assert [s for s in seen if s[0] == "step_end"] == [("step_end", k, True) for k in (2, 4, 6)]
    assert [s for s in seen if s[0] == "forward"] == [("forward", k, k % 2 == 1) for k in range(6)]
    assert all(p.grad is None for p in model.parameters())  # freed when fit returns


def test_per_example_losses_are_computed_on_demand_and_both_loss_paths_agree():
    """With no technique reading per-example losses before backward, the Trainer
    backpropagates the fused batch mean; a technique that reads them gets the same
    values (readable at any later event too) and training agrees within float tolerance."""
    data, task = tiny_data(n=64)
    seen = []

    class LateReader(Technique):
        name = "late_reader"

        def on_before_backward(self, state):
            seen.append(state.per_example_loss_computed)

        def on_batch_end(self, state):
            pel = state.per_example_loss.detach()
            manual = F.cross_entropy(state.outputs.detach(), state.batch["targets"], reduction="none")
            assert pel.shape == (8,) and torch.allclose(pel, manual)

    class EarlyReader(Technique):
        name = "early_reader"

        def on_after_forward(self, state):
            assert state.per_example_loss.requires_grad

    def train(techniques):
        model = tiny_model(dropout=0.0)
        cfg = TrainingConfig(optimizer="sgd", lr=0.1, batch_size=8, epochs=2, seed=0, progress_bar=False,
                             log_every_steps=4)
        s = Trainer(model, cfg, data, task=task, techniques=techniques).fit()
        return model, s

    fused, s1 = train([LateReader()])
    assert seen and not any(seen)  # nothing read them before backward: the fused path ran
    per_example, s2 = train([EarlyReader()])
    for p, q in zip(fused.parameters(), per_example.parameters()):
        assert torch.allclose(p, q, rtol=1e-5, atol=1e-6)
    assert s1.history[-1]["train_loss"] == pytest.approx(s2.history[-1]["train_loss"], rel=1e-5)
