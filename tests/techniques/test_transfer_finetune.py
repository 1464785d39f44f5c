"""Fine-tuning tools (issue 13, item 4, and trap 9): freezing by layer group, gradual
unfreezing on an epoch schedule, discriminative learning rates, slanted triangular rates
against the paper's formula (and early stopping cutting them short), and
load_pretrained_weights across key prefixes."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from torch import nn

from tests.tiny import tiny_data
from workbench.config import TaskSpec, TrainingConfig
from workbench.data.datasets import ExampleDataset, load_dataset
from workbench.data.splits import cap_splits
from workbench.models import build_model
from workbench.techniques.transfer import (
    GradualUnfreezing,
    PretrainedWeightsError,
    discriminative_param_groups,
    freeze,
    freeze_to,
    layer_groups,
    load_pretrained_weights,
    trainable_groups,
    ulmfit_schedule,
    unfreeze,
)
from workbench.train import Event, Technique, Trainer
from workbench.train.schedules import build_scheduler, lr_at_steps


def _text_task(vocab=50):
    return TaskSpec(modality="text", num_classes=2, vocab_size=vocab, min_length=5)


def _text_data(n=64, vocab=50, length=8, seed=0):
    g = torch.Generator().manual_seed(seed)
    inputs = [torch.randint(2, vocab, (length,), generator=g) for _ in range(n)]
    targets = torch.tensor([int(x[0] < vocab // 2) for x in inputs])
    return ExampleDataset(inputs, targets, torch.arange(n))


# ----------------------------------------------------------------- groups and freezing
def test_layer_groups_freeze_unfreeze_freeze_to():
    torch.manual_seed(0)
    m = build_model("kim_cnn", _text_task(), num_filters=4, embed_dim=8)
    g = layer_groups(m)
    assert list(g) == ["embedding", "convs", "classifier"]
    assert g["embedding"] == ["embedding.weight"] and len(g["convs"]) == 6
    assert freeze(m, "embedding") == 1
    assert trainable_groups(m) == {"embedding": False, "convs": True, "classifier": True}
    assert freeze_to(m, -1) == ["classifier"]
    assert trainable_groups(m) == {"embedding": False, "convs": False, "classifier": True}
    assert freeze_to(m, 0) == ["embedding", "convs", "classifier"]
    assert all(p.requires_grad for p in m.parameters())
    freeze(m)
    assert unfreeze(m, ["convs"]) == 6
    # custom named groups (e.g. an encoder = embedding + convolutions)
    named = {"encoder": [r"^embedding\.", r"^convs\."], "head": r"^classifier\."}
    assert [len(v) for v in layer_groups(m, named).values()] == [7, 2]
    with pytest.raises(ValueError, match="groups must be names from"):
        freeze(m, "decoder")
    with pytest.raises(ValueError, match="matches none of the layer groups"):
        layer_groups(m, {"head": r"^classifier\."})
    with pytest.raises(ValueError, match=r"n must be an integer in \[-3, 3\]"):
        freeze_to(m, 4)


def test_discriminative_learning_rates_ulmfit_decay():
    m = build_model("kim_cnn", _text_task(), num_filters=4, embed_dim=8)
    freeze(m, "embedding")
    groups = discriminative_param_groups(m, lr=1e-2)
    by_layer = {}
    for gr in groups:
        by_layer.setdefault(gr["name"].split(" · ")[0], []).append(gr["lr"])
    assert list(by_layer) == ["layer 1/3 embedding", "layer 2/3 convs", "layer 3/3 classifier"]
    for name, lr in zip(by_layer, (1e-2 / 2.6 ** 2, 1e-2 / 2.6, 1e-2)):
        assert by_layer[name] == [pytest.approx(lr)] * len(by_layer[name])
    # every parameter is in a group, the frozen embedding too (so unfreezing it trains it)
    assert sum(len(gr["params"]) for gr in groups) == len(list(m.parameters()))
    with pytest.raises(ValueError, match="layer_decay"):
        discriminative_param_groups(m, lr=1e-2, layer_decay=0.5)


# ----------------------------------------------------------------- gradual unfreezing
class _Snapshot(Technique):
    """Records which parameters changed during each epoch."""

    name = "snapshot"
    events = frozenset({Event.EPOCH_START, Event.EPOCH_END})

    def __init__(self):
        super().__init__()
        self.before, self.changed = {}, []

    def on_epoch_start(self, state):
        self.before = {n: p.detach().clone() for n, p in state.model.named_parameters()}

    def on_epoch_end(self, state):
        now = dict(state.model.named_parameters())
        self.changed.append({n.split(".")[0] for n, b in self.before.items() if not torch.equal(now[n], b)})


def test_gradual_unfreezing_changes_exactly_the_scheduled_groups():
    task = _text_task()
    data = _text_data()
    torch.manual_seed(0)
    model = build_model("kim_cnn", task, num_filters=4, embed_dim=8)
    gu = GradualUnfreezing()  # ULMFiT: classifier, then convs, then embedding
    snap = _Snapshot()
    groups = discriminative_param_groups(model, lr=1e-2)
    cfg = TrainingConfig(epochs=4, batch_size=16, lr=1e-2, progress_bar=False, seed=0, log_every_steps=1)
    trainer = Trainer(model, cfg, data, data, task=task, techniques=[gu, snap], param_groups=groups)
    assert gu.resolved_schedule(model) == {0: ["classifier"], 1: ["convs"], 2: ["embedding"]}
    state = trainer.fit()
    assert snap.changed == [{"classifier"}, {"classifier", "convs"},
                            {"classifier", "convs", "embedding"}, {"classifier", "convs", "embedding"}]
    evals = [r for r in state.history if not math.isnan(r.get("val_loss", math.nan))]
    assert [r["unfrozen_groups"] for r in evals] == [1.0, 2.0, 3.0, 3.0]
    # a custom schedule: the embedding is never named, so it stays as it was (frozen: "static")
    torch.manual_seed(0)
    model = build_model("kim_cnn", task, num_filters=4, embed_dim=8)
    freeze(model, "embedding")
    snap = _Snapshot()
    Trainer(model, cfg.replace(epochs=3), data, task=task,
            techniques=[GradualUnfreezing({0: "classifier", 2: ["convs"]}), snap]).fit()
    assert snap.changed == [{"classifier"}, {"classifier"}, {"classifier", "convs"}]
    assert ulmfit_schedule(["a", "b", "c"], every=2) == {0: ["c"], 2: ["b"], 4: ["a"]}


def test_gradual_unfreezing_rejects_bad_schedules_and_missing_optimizer_params():
    with pytest.raises(ValueError, match="schedule"):
        GradualUnfreezing({0: "classifier", 1: "classifier"})
    with pytest.raises(ValueError, match="schedule"):
        GradualUnfreezing({})
    task, data = _text_task(), _text_data()
    model = build_model("kim_cnn", task, num_filters=4, embed_dim=8)
    cfg = TrainingConfig(epochs=1, batch_size=16, progress_bar=False)
    with pytest.raises(ValueError, match=r"schedule must be group names from \['embedding'"):
        Trainer(model, cfg, data, task=task, techniques=[GradualUnfreezing({0: "decoder"})]).fit()
    freeze(model, "embedding")
    only_trainable = [p for p in model.parameters() if p.requires_grad]
    with pytest.raises(ValueError, match="not in the optimizer"):
        Trainer(model, cfg, data, task=task, param_groups=only_trainable,
                techniques=[GradualUnfreezing()]).fit()


# ----------------------------------------------------------------- slanted triangular rates
def _paper_stlr(t, T, cut_frac=0.1, ratio=32, lr=0.01):
    """Howard & Ruder (2018), equation 3, verbatim."""
    cut = math.floor(T * cut_frac)
    p = t / cut if t < cut else 1 - (t - cut) / (cut * (1 / cut_frac - 1))
    return lr * (1 + p * (ratio - 1)) / ratio


def test_slanted_triangular_matches_the_papers_formula():
    T = 200
    ours = lr_at_steps("slanted_triangular", 0.01, T, range(T + 1))
    for t in range(T + 1):
        assert ours[t] == pytest.approx(_paper_stlr(t, T), rel=1e-12, abs=1e-15)
    # hand-computed points: start and end at lr/32, the peak lr at t = cut = 20
    assert ours[0] == pytest.approx(0.01 / 32) and ours[20] == pytest.approx(0.01)
    assert ours[10] == pytest.approx(0.01 * (1 + 0.5 * 31) / 32)
    assert ours[110] == pytest.approx(0.01 * (1 + 0.5 * 31) / 32)  # halfway down: p = 1 - 90/180
    assert ours[200] == pytest.approx(0.01 / 32)
    # T * cut_frac not an integer: the decay still ends at lr/ratio at T (never below)
    odd = lr_at_steps("slanted_triangular", 0.01, 15, range(16))
    assert min(odd) == pytest.approx(0.01 / 32) and odd[-1] == pytest.approx(0.01 / 32)
    # every param group in proportion (discriminative rates keep their ratios)
    a, b = nn.Parameter(torch.zeros(1)), nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a], "lr": 0.01}, {"params": [b], "lr": 0.01 / 2.6}])
    sched = build_scheduler("slanted_triangular", opt, T)
    for _ in range(37):
        opt.step()
        sched.step()
    lr_a, lr_b = sched.get_last_lr()
    assert lr_a / lr_b == pytest.approx(2.6) and lr_a == pytest.approx(_paper_stlr(37, T))
    with pytest.raises(ValueError, match=r"cut_frac must be a finite number in \(0, 1\)"):
        TrainingConfig(schedule="slanted_triangular", schedule_kwargs={"cut_frac": 1.0})


def test_early_stopping_with_slanted_triangular_warns_and_reports_the_cut():
    data, task = tiny_data(n=64)
    from tests.tiny import tiny_model

    cfg = TrainingConfig(epochs=30, batch_size=16, lr=1e-9, schedule="slanted_triangular",
                         early_stopping_patience=1, progress_bar=False, seed=0)
    with pytest.warns(UserWarning, match="slanted_triangular"):
        trainer = Trainer(tiny_model(), cfg, data, data, task=task)
    state = trainer.fit()  # lr 1e-9: no improvement, so early stopping ends the run at epoch 2
    assert state.epoch < 30
    assert "slanted_triangular schedule was cut at optimizer step 8 of 120" in state.stop_reason
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning without early stopping
        Trainer(tiny_model(), cfg.replace(early_stopping_patience=None), data, data, task=task)


# ----------------------------------------------------------------- loading weights
def test_load_pretrained_weights_prefixes_shapes_strict(tmp_path):
    torch.manual_seed(0)
    task = _text_task()
    src = build_model("kim_cnn", task, num_filters=4, embed_dim=8)
    # saved from a DataParallel-wrapped encoder: "module.encoder." on every key
    wrapped = {f"module.encoder.{k}": v for k, v in src.state_dict().items()}
    path = tmp_path / "pretrained.pt"
    torch.save(wrapped, path)
    torch.manual_seed(1)
    dst = build_model("kim_cnn", task, num_filters=4, embed_dim=8)
    rep = load_pretrained_weights(dst, path)
    assert rep.ok and len(rep.matched) == len(src.state_dict()) and rep.renamed == len(rep.matched)
    for k, v in src.state_dict().items():
        assert torch.equal(dst.state_dict()[k], v)
    # a different head (3 classes) and an extra key: the body loads, the head is reported
    torch.manual_seed(2)
    three = build_model("kim_cnn", TaskSpec(modality="text", num_classes=3, vocab_size=50, min_length=5),
                        num_filters=4, embed_dim=8)
    head_before = three.classifier.weight.detach().clone()
    extra = {**wrapped, "module.encoder.lm_head.weight": torch.zeros(50, 8)}
    with pytest.raises(PretrainedWeightsError) as err:
        load_pretrained_weights(three, extra, strict=True)
    rep = err.value.report
    assert {m[1] for m in rep.shape_mismatched} == {"classifier.weight", "classifier.bias"}
    assert rep.unexpected == ["module.encoder.lm_head.weight"] and rep.missing == []
    assert torch.equal(three.classifier.weight, head_before) and not torch.equal(
        three.embedding.weight, src.embedding.weight)  # strict: nothing loaded
    assert "shape mismatch: module.encoder.classifier.weight (2, 12) -> classifier.weight (3, 12)" in str(err.value)
    rep = load_pretrained_weights(three, extra)  # non-strict: everything that fits
    assert torch.equal(three.embedding.weight, src.embedding.weight)
    assert torch.equal(three.classifier.weight, head_before)
    # key_map renames (an LM whose token embedding is "tok_emb"), and a missing key reported
    lm = {"model.tok_emb.weight": src.embedding.weight.detach().clone()}
    rep = load_pretrained_weights(dst, lm, key_map={"model.tok_emb.": "embedding."})
    assert rep.matched == [("model.tok_emb.weight", "embedding.weight")]
    assert "classifier.weight" in rep.missing
    # a Trainer checkpoint (state dict under "model") loads too; pickled objects do not
    torch.save({"model": src.state_dict(), "step": 3}, tmp_path / "ckpt.pt")
    assert load_pretrained_weights(dst, tmp_path / "ckpt.pt").ok
    torch.save({"model": src.state_dict(), "obj": object()}, tmp_path / "unsafe.pt")
    with pytest.raises(Exception, match="[Ww]eights only load failed|Unsupported global"):
        load_pretrained_weights(dst, tmp_path / "unsafe.pt")


def test_real_subj_gradual_unfreezing_with_slanted_triangular_rates():
    """A Kim CNN on capped SUBJ, ULMFiT-style: discriminative rates, slanted triangular
    schedule and gradual unfreezing; each epoch trains exactly the groups unfrozen so far."""
    splits = cap_splits(load_dataset("subj"), train=300, val=100, test=100)
    torch.manual_seed(0)
    model = build_model("kim_cnn", splits.task, num_filters=16, embed_dim=32)
    cfg = TrainingConfig(epochs=3, batch_size=50, lr=2e-3, schedule="slanted_triangular",
                         progress_bar=False, seed=0)
    snap = _Snapshot()
    trainer = Trainer(model, cfg, splits.train, splits.val, task=splits.task,
                      techniques=[GradualUnfreezing(), snap],
                      param_groups=discriminative_param_groups(model, lr=2e-3))
    state = trainer.fit()
    assert snap.changed == [{"classifier"}, {"classifier", "convs"}, {"classifier", "convs", "embedding"}]
    lrs = [r["lr"] for r in state.history if "lr" in r]
    assert max(lrs) <= 2e-3 + 1e-12 and state.effective_step == 18
    assert math.isfinite(trainer.evaluate(splits.test)["loss"])
