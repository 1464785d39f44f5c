import dataclasses
import math

import pytest

from workbench.config import TaskSpec, TrainingConfig

# one or more invalid values for every TrainingConfig field
INVALID = {
    "optimizer": ["lbfgs", None],
    "lr": [0.0, -1e-3, math.nan, 11.0, "0.1"],
    "weight_decay": [-0.1, 2.0],
    "momentum": [-0.5, 1.5],
    "betas": [(0.9,), (1.0, 0.999), "ab"],
    "eps": [0.0, -1.0],
    "loss": ["nll"],
    "huber_delta": [0.0, -1.0],
    "label_smoothing": [-0.1, 1.0],
    "schedule": ["cosinus"],
    "warmup_steps": [-1, 1.5],
    "schedule_kwargs": [[1, 2]],
    "epochs": [0, -3, 2.0, True],
    "max_steps": [0, -1],
    "batch_size": [0, 1.5],
    "eval_batch_size": [0],
    "grad_accum_steps": [0],
    "max_grad_norm": [0.0, -1.0, math.inf],
    "drop_last": ["yes", 1],
    "num_workers": [-1],
    "group_by_length": ["yes", 1, None],
    "padding_noise": [-0.1, 1.5, math.nan, "0.3", None],
    "optimizer_impl": ["fast", "", None, True],
    "precision": ["fp16", "bf32"],
    "compile": ["yes"],
    "compile_mode": ["fast"],
    "compile_fullgraph": [1],
    "compile_dynamic": ["auto"],
    "device": ["tpu", 3],
    "seed": [-1, 2**33],
    "deterministic": [None],
    "on_nonfinite": ["ignore"],
    "strategy": ["fsdp", "DDP", None],
    "accumulate_no_sync": [1, None],
    "find_unused_parameters": ["yes", None],
    "eval_every_epochs": [0],
    "eval_every_steps": [0],
    "monitor": ["accuracy", 3],
    "monitor_mode": ["up"],
    "early_stopping_patience": [0],
    "early_stopping_min_delta": [-0.1],
    "restore_best": ["no"],
    "checkpoint_dir": [3],
    "checkpoint_every_steps": [0],
    "checkpoint_every_epochs": [0],
    "keep_checkpoints": [0],
    "metrics_dir": [1.5],
    "log_every_steps": [0],
    "progress_bar": [None],
}


def test_every_field_has_invalid_cases():
    fields = {f.name for f in dataclasses.fields(TrainingConfig)}
    assert fields == set(INVALID), f"fields without invalid cases: {fields - set(INVALID)}"


@pytest.mark.parametrize("name,value", [(k, v) for k, vs in INVALID.items() for v in vs])
def test_invalid_value_raises_naming_field_and_range(name, value):
    with pytest.raises(ValueError) as err:
        TrainingConfig(**{name: value})
    msg = str(err.value)
    assert f"TrainingConfig.{name}" in msg
    assert "must be" in msg  # states the valid range or choices


def test_defaults_valid_and_roundtrip():
    cfg = TrainingConfig()
    again = TrainingConfig.from_dict(cfg.to_dict())
    assert again == cfg
    with pytest.raises(ValueError, match="no fields"):
        TrainingConfig.from_dict({"learning_rate": 1.0})
    with pytest.raises(ValueError, match="TrainingConfig.lr"):
        cfg.replace(lr=-1.0)


def test_taskspec_validation():
    with pytest.raises(ValueError, match="TaskSpec.modality"):
        TaskSpec(modality="audio", num_classes=2)
    with pytest.raises(ValueError, match="TaskSpec.vocab_size"):
        TaskSpec(modality="text", num_classes=2)
    with pytest.raises(ValueError, match="TaskSpec.input_shape"):
        TaskSpec(modality="vision", num_classes=2, input_shape=(8, 8))
    with pytest.raises(ValueError, match="TaskSpec.mean"):
        TaskSpec(modality="vision", num_classes=2, input_shape=(3, 8, 8), mean=(0.5,), std=(0.2,))
    t = TaskSpec(modality="vision", num_classes=10, input_shape=(1, 8, 8), mean=(0.3,), std=(0.4,))
    assert t.to_dict()["input_shape"] == [1, 8, 8]
