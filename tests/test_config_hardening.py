"""Config values that are accepted but do nothing or fail later are rejected when the config
(or the Trainer) is built, and fields changed afterwards are checked again (issue 12 item 5)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

from tests.tiny import tiny_data, tiny_model
from workbench.config import TaskSpec, TrainingConfig, available_devices
from workbench.data.datasets import ExampleDataset
from workbench.train import Trainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def small(**kw) -> TrainingConfig:
    base = dict(epochs=1, batch_size=8, lr=0.05, optimizer="sgd", progress_bar=False, log_every_steps=1)
    return TrainingConfig(**(base | kw))


# ----------------------------------------------------------------- device


def test_available_devices_lists_what_torch_can_use():
    devs = available_devices()
    assert devs[0] == "cpu"
    assert ("cuda" in devs) == torch.cuda.is_available()
    if torch.cuda.is_available():
        assert f"cuda:{torch.cuda.device_count() - 1}" in devs
    mps = getattr(torch.backends, "mps", None)
    assert ("mps" in devs) == bool(mps is not None and mps.is_available())


@pytest.mark.parametrize("device", ["cuda:banana", "cuda:-1", "cpu:3", "meta", "tpu", "", "cuda:99"])
def test_device_torch_cannot_use_is_rejected_with_the_available_ones(device):
    with pytest.raises(ValueError) as err:
        TrainingConfig(device=device)
    msg = str(err.value)
    assert "TrainingConfig.device must be a device torch can use here" in msg
    assert str(available_devices()) in msg and repr(device) in msg


def test_cuda_and_mps_only_where_available():
    if torch.cuda.is_available():
        assert TrainingConfig(device="cuda").device == "cuda"
        assert TrainingConfig(device="cuda:0").device == "cuda:0"
        with pytest.raises(ValueError, match="TrainingConfig.device"):
            TrainingConfig(device=f"cuda:{torch.cuda.device_count()}")
    else:
        for d in ("cuda", "cuda:0"):
            with pytest.raises(ValueError, match=r"TrainingConfig.device .*\['cpu'"):
                TrainingConfig(device=d)
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        assert TrainingConfig(device="mps").device == "mps"
    else:
        with pytest.raises(ValueError, match="TrainingConfig.device"):
            TrainingConfig(device="mps")
    assert TrainingConfig(device="cpu").device == "cpu"


# ----------------------------------------------------------------- checkpoints


@pytest.mark.parametrize("field", ["checkpoint_every_steps", "checkpoint_every_epochs"])
def test_checkpoint_cadence_needs_a_folder(field, tmp_path):
    with pytest.raises(ValueError, match=f"TrainingConfig.{field} must be None when checkpoint_dir is None"):
        TrainingConfig(**{field: 5})
    assert getattr(TrainingConfig(**{field: 5, "checkpoint_dir": str(tmp_path)}), field) == 5


@pytest.mark.parametrize("field", ["checkpoint_dir", "metrics_dir"])
@pytest.mark.parametrize("value", ["", "   "])
def test_empty_folder_is_rejected(field, value):
    with pytest.raises(ValueError, match=f"TrainingConfig.{field} must be a non-empty path string or None"):
        TrainingConfig(**{field: value})


# ----------------------------------------------------------------- monitor


@pytest.mark.parametrize("changes", [{"early_stopping_patience": 2}, {"restore_best": True}])
def test_training_monitor_with_early_stopping_is_rejected_at_construction(changes):
    with pytest.raises(ValueError, match=r"TrainingConfig.monitor must be a validation metric \('val_\*'\)"):
        TrainingConfig(monitor="train_loss", **changes)
    TrainingConfig(monitor="train_loss")  # without early stopping the monitor is not acted on


def _regression_data(n=32):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(n, 6, generator=g)
    y = x.sum(dim=1)
    task = TaskSpec(modality="tabular", num_classes=1, input_shape=(6,))
    return ExampleDataset(x, y, torch.arange(n)), task


@pytest.mark.parametrize("changes", [{"early_stopping_patience": 2}, {"restore_best": True},
                                     {"monitor": "val_f1", "early_stopping_patience": 1}])
def test_monitor_that_evaluation_never_reports_fails_at_the_first_evaluation(changes):
    torch.manual_seed(0)
    data, task = _regression_data()  # a regression evaluation reports val_loss only
    model = torch.nn.Linear(6, 1)
    config = small(loss="mse", epochs=3, **changes)  # default monitor: val_accuracy
    trainer = Trainer(model, config, data, data, task=task)
    with pytest.raises(ValueError, match=r"TrainingConfig.monitor '(val_accuracy|val_f1)' is not reported "
                                         r"by the evaluation.*reports \['val_loss'\]"):
        trainer.fit()
    assert trainer.state.effective_step == 4  # stopped at the first evaluation (epoch 1 of 3)
    # the same with a monitor it reports: early stopping / restore_best act on it
    torch.manual_seed(0)
    ok = Trainer(torch.nn.Linear(6, 1), config.replace(monitor="val_loss", monitor_mode="min"),
                 data, data, task=task)
    state = ok.fit()
    assert state.best_metric is not None and state.best_step is not None


def test_unreported_monitor_without_early_stopping_is_harmless():
    data, task = _regression_data()
    state = Trainer(torch.nn.Linear(6, 1), small(loss="mse"), data, data, task=task).fit()
    assert state.epoch == 1 and state.best_metric is None


# ----------------------------------------------------------------- warmup longer than the run


@pytest.mark.parametrize("schedule", ["warmup", "warmup_cosine", "warmup_linear"])
def test_warmup_longer_than_the_run_is_rejected_at_trainer_construction(schedule):
    data, task = tiny_data(n=32)  # 4 batches of 8: 4 optimizer steps per epoch
    config = small(epochs=2, schedule=schedule, warmup_steps=20)  # valid alone: no run length yet
    with pytest.raises(ValueError, match=rf"Trainer: TrainingConfig.schedule '{schedule}' .* does not fit "
                                         rf"this run of 8 optimizer steps \(2 epochs x 4 steps per epoch"
                                         rf".*warmup_steps must be an integer in \[1, [78]\]; got 20"):
        Trainer(tiny_model(), config, data, task=task)
    # the run is counted in optimizer steps: with accumulation 2 it is 4 steps long
    with pytest.raises(ValueError, match="this run of 4 optimizer steps"):
        Trainer(tiny_model(), config.replace(warmup_steps=5, grad_accum_steps=2), data, task=task)
    # a warmup that fits trains
    ok = Trainer(tiny_model(), config.replace(warmup_steps=3), data, task=task)
    assert ok.fit().effective_step == 8


def test_warmup_longer_than_max_steps_is_rejected_by_the_config():
    with pytest.raises(ValueError, match=r"TrainingConfig.schedule_kwargs / warmup_steps .*"
                                         r"warmup_steps must be an integer in \[1, 9\]; got 10"):
        TrainingConfig(schedule="warmup_linear", warmup_steps=10, max_steps=10)


def test_a_given_scheduler_is_not_checked_against_the_config():
    data, task = tiny_data(n=32)
    model = tiny_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: 1.0)
    Trainer(model, small(schedule="warmup", warmup_steps=50), data, task=task, optimizer=opt, scheduler=sched)


# ----------------------------------------------------------------- changes after construction


def test_assignment_is_validated_and_an_invalid_value_is_not_kept():
    cfg = small()
    with pytest.raises(ValueError, match=r"TrainingConfig.grad_accum_steps must be an integer in \[1, 10000\]; got 0"):
        cfg.grad_accum_steps = 0
    assert cfg.grad_accum_steps == 1  # the old value stays
    cfg.grad_accum_steps = 2  # a valid change is kept
    assert cfg.grad_accum_steps == 2
    data, task = tiny_data(n=32)
    assert Trainer(tiny_model(), cfg, data, task=task).fit().effective_step == 2  # 4 batches / 2
    with pytest.raises(ValueError, match="TrainingConfig.lr"):
        cfg.lr = -1.0
    with pytest.raises(ValueError, match="TrainingConfig.device"):
        cfg.device = "cuda:banana"
    with pytest.raises(ValueError, match="TrainingConfig.checkpoint_every_steps must be None when checkpoint_dir"):
        cfg.checkpoint_every_steps = 5  # a rule between fields: use replace() to change both
    with pytest.raises(ValueError, match="TrainingConfig.schedule_kwargs / warmup_steps"):
        cfg.schedule = "warmup_cosine"  # needs warmup_steps >= 1
    assert (cfg.lr, cfg.device, cfg.checkpoint_every_steps, cfg.schedule) == (0.05, "cpu", None, "constant")
    assert cfg == small(grad_accum_steps=2)
    assert cfg.replace(schedule="warmup_cosine", warmup_steps=2).warmup_steps == 2


def test_assigning_an_unknown_field_raises():
    cfg = small()
    with pytest.raises(AttributeError, match="TrainingConfig has no field 'learning_rate'; valid fields:"):
        cfg.learning_rate = 0.1
    assert not hasattr(cfg, "learning_rate")


def test_every_field_is_checked_on_assignment():
    # the same invalid values as tests/test_config.py, now assigned after construction
    from tests.test_config import INVALID

    for name, values in INVALID.items():
        for value in values:
            cfg = TrainingConfig()
            before = getattr(cfg, name)
            with pytest.raises(ValueError, match=f"TrainingConfig.{name}"):
                setattr(cfg, name, value)
            assert getattr(cfg, name) == before, name


# ----------------------------------------------------------------- layering


def test_config_alone_imports_neither_train_nor_torch_and_still_checks_warmup():
    code = (
        "import sys\n"
        "from workbench.config import TrainingConfig\n"
        "TrainingConfig()\n"
        "assert not any(m.startswith('workbench.train') for m in sys.modules), 'train imported'\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "for kw in ({'schedule': 'warmup'}, {'schedule': 'cosine', 'warmup_steps': 3},\n"
        "           {'schedule': 'warmup_cosine', 'warmup_steps': 10, 'max_steps': 10}):\n"
        "    try:\n"
        "        TrainingConfig(**kw)\n"
        "    except ValueError as e:\n"
        "        assert 'TrainingConfig.schedule_kwargs / warmup_steps' in str(e), e\n"
        "    else:\n"
        "        raise AssertionError(kw)\n"
        "print('ok')\n"
    )
    # (once workbench.train.schedules is imported, schedule_kwargs are checked in full:
    # tests/test_schedules.py::test_training_config_uses_schedule_names)
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr
