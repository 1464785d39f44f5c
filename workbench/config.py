"""Validated configuration: :class:`TrainingConfig` (how to train) and :class:`TaskSpec`
(what the data looks like, which picks the collator).

Every field is checked when the object is constructed, so an invalid value raises
``ValueError`` naming the field and its valid range before any training starts.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
LOSSES = ("cross_entropy", "mse", "mae", "huber")
PRECISIONS = ("fp32", "bf16")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
MODALITIES = ("text", "vision", "tabular")
MONITOR_MODES = ("max", "min")
NONFINITE_ACTIONS = ("raise", "stop", "skip")

# ImageNet channel statistics (torchvision's defaults for pretrained models).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _err(name: str, valid: str, value: Any) -> ValueError:
    return ValueError(f"TrainingConfig.{name} must be {valid}; got {value!r}")


def _check_int(name: str, value: Any, lo: int | None = None, hi: int | None = None,
               optional: bool = False) -> None:
    if value is None and optional:
        return
    rng = f"an integer in [{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
    if optional:
        rng += " or None"
    if isinstance(value, bool) or not isinstance(value, int):
        raise _err(name, rng, value)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise _err(name, rng, value)


def _check_float(name: str, value: Any, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False, optional: bool = False) -> None:
    if value is None and optional:
        return
    left = "(" if lo_open else "["
    rng = f"a finite number in {left}{lo if lo is not None else '-inf'}, {hi if hi is not None else 'inf'}]"
    if optional:
        rng += " or None"
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _err(name, rng, value)
    if lo is not None and (value < lo or (lo_open and value == lo)):
        raise _err(name, rng, value)
    if hi is not None and value > hi:
        raise _err(name, rng, value)


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise _err(name, f"one of {list(choices)}", value)


def _check_bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise _err(name, "True or False", value)


@dataclass
class TrainingConfig:
    """How to train: optimizer, loss, schedule, budget, evaluation, checkpoints, logging.

    All fields are validated in ``__post_init__``; an invalid value raises ``ValueError``
    whose message names the field and its valid range. Use :meth:`replace` to derive a
    changed copy (it validates again).

    Budget: training runs ``epochs`` epochs, or stops earlier at ``max_steps`` effective
    (optimizer) steps when that is set. ``grad_accum_steps`` micro-batches of
    ``batch_size`` examples make one effective step (effective batch
    ``batch_size * grad_accum_steps``).

    Schedules (``schedule``) are built by :func:`workbench.train.schedules.build_scheduler`
    on ``torch.optim.lr_scheduler`` and step once per effective step (``"plateau"`` and
    ``"dynamic"``: once per evaluation, with a validation metric); ``schedule_kwargs``
    pass schedule-specific parameters (for example ``{"min_lr": 1e-5}``).
    """

    # optimisation
    optimizer: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    loss: str = "cross_entropy"
    huber_delta: float = 1.0
    label_smoothing: float = 0.0
    schedule: str = "constant"
    warmup_steps: int = 0
    schedule_kwargs: dict[str, Any] = field(default_factory=dict)
    # budget and batching
    epochs: int = 10
    max_steps: int | None = None
    batch_size: int = 32
    eval_batch_size: int | None = None
    grad_accum_steps: int = 1
    max_grad_norm: float | None = None
    drop_last: bool = False
    num_workers: int = 0
    # numerics and speed
    precision: str = "fp32"
    compile: bool = False
    compile_mode: str = "default"
    compile_fullgraph: bool = False
    compile_dynamic: bool | None = None
    device: str = "cpu"
    seed: int = 0
    deterministic: bool = False
    # a NaN/Inf loss or gradient: "raise" NonFiniteLossError, "stop" training, or "skip" the
    # optimizer step and count it (as AMP's GradScaler does); see Trainer.fit
    on_nonfinite: str = "raise"
    # evaluation and early stopping
    eval_every_epochs: int | None = 1
    eval_every_steps: int | None = None
    monitor: str = "val_accuracy"
    monitor_mode: str = "max"
    early_stopping_patience: int | None = None
    early_stopping_min_delta: float = 0.0
    restore_best: bool = False
    # checkpoints and logging
    checkpoint_dir: str | None = None
    checkpoint_every_steps: int | None = None
    checkpoint_every_epochs: int | None = None
    keep_checkpoints: int = 2
    metrics_dir: str | None = None
    # a training row (loss and accuracy since the last row) every N optimizer steps; 50 is
    # PyTorch Lightning's default (every 10 cost ~1% more on 2 ms steps); an evaluation row
    # also carries the training statistics since the last row
    log_every_steps: int = 50
    progress_bar: bool = True

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Check every field; raise ``ValueError`` naming the first invalid one."""
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_float("lr", self.lr, 0.0, 10.0, lo_open=True)
        _check_float("weight_decay", self.weight_decay, 0.0, 1.0)
        _check_float("momentum", self.momentum, 0.0, 1.0)
        if (not isinstance(self.betas, (tuple, list)) or len(self.betas) != 2
                or not all(isinstance(b, (int, float)) and not isinstance(b, bool)
                           and 0.0 <= b < 1.0 for b in self.betas)):
            raise _err("betas", "a pair of numbers in [0, 1)", self.betas)
        self.betas = (float(self.betas[0]), float(self.betas[1]))
        _check_float("eps", self.eps, 0.0, 1.0, lo_open=True)
        _check_choice("loss", self.loss, LOSSES)
        _check_float("huber_delta", self.huber_delta, 0.0, None, lo_open=True)
        _check_float("label_smoothing", self.label_smoothing, 0.0, 0.99)
        from workbench.train.schedules import SCHEDULES  # local: avoids import cycle

        _check_choice("schedule", self.schedule, tuple(SCHEDULES))
        _check_int("warmup_steps", self.warmup_steps, 0)
        if not isinstance(self.schedule_kwargs, dict):
            raise _err("schedule_kwargs", "a dict", self.schedule_kwargs)
        _check_int("epochs", self.epochs, 1, 100_000)
        _check_int("max_steps", self.max_steps, 1, optional=True)
        _check_int("batch_size", self.batch_size, 1, 1_000_000)
        _check_int("eval_batch_size", self.eval_batch_size, 1, 1_000_000, optional=True)
        _check_int("grad_accum_steps", self.grad_accum_steps, 1, 10_000)
        _check_float("max_grad_norm", self.max_grad_norm, 0.0, None, lo_open=True, optional=True)
        _check_bool("drop_last", self.drop_last)
        _check_int("num_workers", self.num_workers, 0, 256)
        _check_choice("precision", self.precision, PRECISIONS)
        _check_bool("compile", self.compile)
        _check_choice("compile_mode", self.compile_mode, COMPILE_MODES)
        _check_bool("compile_fullgraph", self.compile_fullgraph)
        if self.compile_dynamic is not None:
            _check_bool("compile_dynamic", self.compile_dynamic)
        if not isinstance(self.device, str) or not (
            self.device == "cpu" or self.device.startswith("cuda") or self.device == "mps"
        ):
            raise _err("device", "'cpu', 'cuda', 'cuda:N' or 'mps'", self.device)
        _check_int("seed", self.seed, 0, 2**32 - 1)
        _check_bool("deterministic", self.deterministic)
        _check_choice("on_nonfinite", self.on_nonfinite, NONFINITE_ACTIONS)
        _check_int("eval_every_epochs", self.eval_every_epochs, 1, optional=True)
        _check_int("eval_every_steps", self.eval_every_steps, 1, optional=True)
        if not isinstance(self.monitor, str) or not self.monitor.startswith(("val_", "train_")):
            raise _err("monitor", "a metric name starting with 'val_' or 'train_'", self.monitor)
        _check_choice("monitor_mode", self.monitor_mode, MONITOR_MODES)
        _check_int("early_stopping_patience", self.early_stopping_patience, 1, optional=True)
        _check_float("early_stopping_min_delta", self.early_stopping_min_delta, 0.0, None)
        _check_bool("restore_best", self.restore_best)
        if self.checkpoint_dir is not None and not isinstance(self.checkpoint_dir, str):
            raise _err("checkpoint_dir", "a path string or None", self.checkpoint_dir)
        _check_int("checkpoint_every_steps", self.checkpoint_every_steps, 1, optional=True)
        _check_int("checkpoint_every_epochs", self.checkpoint_every_epochs, 1, optional=True)
        _check_int("keep_checkpoints", self.keep_checkpoints, 1, 1000)
        if self.metrics_dir is not None and not isinstance(self.metrics_dir, str):
            raise _err("metrics_dir", "a path string or None", self.metrics_dir)
        _check_int("log_every_steps", self.log_every_steps, 1)
        _check_bool("progress_bar", self.progress_bar)
        # the schedule's own parameters, checked on a throwaway optimizer before training
        from workbench.train.schedules import validate_schedule

        kwargs = dict(self.schedule_kwargs)
        if self.schedule == "plateau":
            kwargs.setdefault("mode", self.monitor_mode)
        try:
            validate_schedule(self.schedule, total_steps=self.max_steps, warmup_steps=self.warmup_steps,
                              base_lr=self.lr, **kwargs)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"TrainingConfig.schedule_kwargs / warmup_steps must be valid for schedule "
                             f"{self.schedule!r}; got schedule_kwargs={self.schedule_kwargs!r}, "
                             f"warmup_steps={self.warmup_steps}: {exc}") from exc

    def replace(self, **changes: Any) -> TrainingConfig:
        """Return a validated copy with ``changes`` applied (unknown names raise ``TypeError``)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict of every field (safe for JSON and ``weights_only`` checkpoints)."""
        d = dataclasses.asdict(self)
        d["betas"] = list(d["betas"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainingConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise ``ValueError``."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"TrainingConfig has no fields {unknown}; valid fields: {sorted(names)}")
        d = dict(d)
        if "betas" in d:
            d["betas"] = tuple(d["betas"])
        return cls(**d)


@dataclass
class TaskSpec:
    """What the data looks like; picks the collator (:meth:`collator`).

    Args:
        modality: ``"text"`` (token-id sequences), ``"vision"`` (images ``[C, H, W]``) or
            ``"tabular"`` (feature vectors ``[F]``).
        num_classes: number of target classes (>= 2) for classification, or 1 for regression.
        input_shape: vision ``(C, H, W)``; tabular ``(F,)``; text ``()`` (variable length).
        vocab_size: text only: size of the vocabulary, including padding and OOV tokens.
        pad_id: text only: token id used for padding (0 by default).
        max_length: text only: sequences are truncated to this many tokens (None: no limit).
        min_length: text only: batches are padded to at least this many tokens (a CNN
            with filter width 5 needs 5).
        mean, std: vision only: per-channel normalisation statistics; None means the images
            are used as they are. :data:`IMAGENET_MEAN` / :data:`IMAGENET_STD` are the
            ImageNet defaults for RGB.
        class_names: optional names for the classes, for display.
        name: data-set name, for display.

    Raises:
        ValueError: on any invalid field, naming it and its valid range.
    """

    modality: str
    num_classes: int
    input_shape: tuple[int, ...] = ()
    vocab_size: int | None = None
    pad_id: int = 0
    max_length: int | None = None
    min_length: int = 1
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    class_names: tuple[str, ...] | None = None
    name: str = ""

    def __post_init__(self) -> None:
        def bad(field_name: str, valid: str, value: Any) -> ValueError:
            return ValueError(f"TaskSpec.{field_name} must be {valid}; got {value!r}")

        if self.modality not in MODALITIES:
            raise bad("modality", f"one of {list(MODALITIES)}", self.modality)
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise bad("num_classes", "an integer >= 1 (1 for regression)", self.num_classes)
        self.input_shape = tuple(self.input_shape)
        if not all(isinstance(s, int) and s > 0 for s in self.input_shape):
            raise bad("input_shape", "a tuple of positive integers", self.input_shape)
        if self.modality == "vision" and len(self.input_shape) != 3:
            raise bad("input_shape", "(C, H, W) for vision", self.input_shape)
        if self.modality == "tabular" and len(self.input_shape) != 1:
            raise bad("input_shape", "(F,) for tabular", self.input_shape)
        if self.modality == "text":
            if not isinstance(self.vocab_size, int) or self.vocab_size < 2:
                raise bad("vocab_size", "an integer >= 2 for text", self.vocab_size)
            if not isinstance(self.pad_id, int) or not 0 <= self.pad_id < self.vocab_size:
                raise bad("pad_id", f"an integer in [0, {self.vocab_size})", self.pad_id)
            if self.max_length is not None and (not isinstance(self.max_length, int) or self.max_length < 1):
                raise bad("max_length", "an integer >= 1 or None", self.max_length)
            if not isinstance(self.min_length, int) or self.min_length < 1:
                raise bad("min_length", "an integer >= 1", self.min_length)
        if (self.mean is None) != (self.std is None):
            raise bad("mean", "given together with std (or both None)", self.mean)
        if self.mean is not None:
            self.mean, self.std = tuple(float(m) for m in self.mean), tuple(float(s) for s in self.std)
            channels = self.input_shape[0] if self.modality == "vision" else len(self.mean)
            if len(self.mean) != channels or len(self.std) != channels:
                raise bad("mean", f"{channels} values (one per channel) like std", self.mean)
            if any(s <= 0 for s in self.std):
                raise bad("std", "positive numbers", self.std)
        if self.class_names is not None:
            self.class_names = tuple(str(c) for c in self.class_names)
            if self.num_classes > 1 and len(self.class_names) != self.num_classes:
                raise bad("class_names", f"{self.num_classes} names", self.class_names)

    def collator(self):
        """The collate function for this modality (a callable: list of items -> batch dict).

        text -> :class:`workbench.data.collate.TextCollator`; vision ->
        :class:`workbench.data.collate.VisionCollator`; tabular ->
        :class:`workbench.data.collate.TabularCollator`.
        """
        from workbench.data import collate

        if self.modality == "text":
            return collate.TextCollator(pad_id=self.pad_id, max_length=self.max_length,
                                        min_length=self.min_length)
        if self.modality == "vision":
            return collate.VisionCollator(mean=self.mean, std=self.std, channels=self.input_shape[0])
        return collate.TabularCollator()

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict of every field."""
        d = dataclasses.asdict(self)
        for k in ("input_shape", "mean", "std", "class_names"):
            if d[k] is not None:
                d[k] = list(d[k])
        return d
