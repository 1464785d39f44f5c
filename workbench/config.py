"""Validated configuration: :class:`TrainingConfig` (how to train) and :class:`TaskSpec`
(what the data looks like, which picks the collator).

Every field is checked when the object is constructed (and a ``TrainingConfig`` field again
when it is assigned), so an invalid value raises ``ValueError`` naming the field and its
valid range before any training starts. The checks are those of :mod:`workbench.validation`.

This module imports nothing from ``workbench.train`` or ``workbench.techniques`` (the
package's layers import downwards only); the schedule names live here
(:data:`SCHEDULE_NAMES`) and the training layer registers the check of a schedule's own
arguments (:func:`register_schedule_check`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.validation import check_bool, check_choice, check_int, check_number, check_path, fail

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad")
#: ``TrainingConfig.optimizer_impl``: torch's implementation of the optimizer's update.
#: ``"default"`` lets torch choose (``foreach`` on CPU and CUDA tensors), ``"foreach"``
#: batches the per-parameter updates into multi-tensor kernels, ``"for_loop"`` updates one
#: parameter at a time, ``"fused"`` runs the whole update in one fused kernel per device
#: and dtype (``torch.optim.Adam(fused=True)``, supported on CPU and CUDA).
OPTIMIZER_IMPLS = ("default", "foreach", "for_loop", "fused")
#: Optimizers with a fused implementation in torch (RMSprop has none).
FUSED_OPTIMIZERS = ("sgd", "adam", "adamw", "adagrad")
LOSSES = ("cross_entropy", "mse", "mae", "huber")
PRECISIONS = ("fp32", "bf16")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
MODALITIES = ("text", "vision", "tabular")
MONITOR_MODES = ("max", "min")
NONFINITE_ACTIONS = ("raise", "stop", "skip")
#: ``TrainingConfig.strategy``: one process; DistributedDataParallel; DDP with ZeRO stage 1
#: (the optimizer state sharded over the ranks by ``ZeroRedundancyOptimizer``)
STRATEGIES = ("single", "ddp", "zero1")

#: Learning-rate schedule names (``TrainingConfig.schedule``). The builders live in
#: :data:`workbench.train.schedules.SCHEDULES`, whose keys are these names in this order
#: (checked there when it is imported); the list is kept here because the configuration
#: layer does not import the training layer.
SCHEDULE_NAMES = ("constant", "step", "cosine", "warmup", "warmup_cosine", "warmup_linear",
                  "polynomial", "sgdr", "one_cycle", "plateau", "dynamic", "slanted_triangular")
#: Schedules that take ``warmup_steps`` (>= 1); every other schedule needs ``warmup_steps=0``.
WARMUP_SCHEDULES = ("warmup", "warmup_cosine", "warmup_linear")
#: Schedules stepped with a metric after each evaluation, not after each optimizer step.
METRIC_SCHEDULES = ("plateau", "dynamic")

_P = "TrainingConfig."

# The check of a schedule's own arguments (``schedule_kwargs`` and ``warmup_steps`` against
# the builder), installed by workbench.train.schedules; see register_schedule_check.
_schedule_check: Callable[..., Any] | None = None


def register_schedule_check(check: Callable[..., Any]) -> None:
    """Install the check :meth:`TrainingConfig.validate` runs on a schedule's own arguments.

    ``check(name, total_steps=..., warmup_steps=..., base_lr=..., **schedule_kwargs)`` must
    raise ``ValueError`` or ``TypeError`` for arguments the schedule's builder rejects.
    :mod:`workbench.train.schedules` registers
    :func:`~workbench.train.schedules.validate_schedule` when it is imported (which
    ``workbench.train``, the Trainer and every technique do): the configuration layer does
    not import the training layer, so the dependency is inverted. Until it is registered,
    ``validate`` checks the schedule name and the ``warmup_steps`` rule only, and the
    Trainer checks the rest when it is constructed.
    """
    global _schedule_check
    if not callable(check):
        raise TypeError(f"check must be callable; got {type(check).__name__}")
    _schedule_check = check


def available_devices() -> list[str]:
    """The device strings torch can use on this machine: ``"cpu"``, then ``"cuda"`` and
    ``"cuda:0"`` ... ``"cuda:N-1"`` when CUDA is available, and ``"mps"`` when Apple's
    Metal backend is (``torch.cuda.is_available()``, ``torch.backends.mps.is_available()``)."""
    import torch

    out = ["cpu"]
    if torch.cuda.is_available():
        out += ["cuda"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        out.append("mps")
    return out


def _check_device(value: Any) -> None:
    """``value`` is a device string torch can use here; the message lists those it can."""
    if value == "cpu":  # the default: no torch import needed
        return
    valid = "a device torch can use here, one of {}"
    if not isinstance(value, str):
        raise fail("device", valid.format(available_devices()), value, prefix=_P)
    import torch

    try:
        dev = torch.device(value)
    except (RuntimeError, ValueError, TypeError):
        raise fail("device", valid.format(available_devices()), value, prefix=_P) from None
    if dev.type == "cpu":
        ok = dev.index in (None, 0)
    elif dev.type == "cuda":
        ok = torch.cuda.is_available() and (dev.index is None or dev.index < torch.cuda.device_count())
    elif dev.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        ok = mps is not None and mps.is_available() and dev.index in (None, 0)
    else:  # meta, xla, ...: the Trainer supports CPU, CUDA and MPS
        ok = False
    if not ok:
        raise fail("device", valid.format(available_devices()), value, prefix=_P)


@dataclass
class TrainingConfig:
    """How to train: optimizer, loss, schedule, budget, evaluation, checkpoints, logging.

    All fields are validated in ``__post_init__`` (:meth:`validate`), and again on every
    assignment (``cfg.epochs = 3`` checks the whole config and keeps the old value if the
    new one is invalid; an unknown name raises ``AttributeError``); an invalid value raises
    ``ValueError`` whose message names the field and its valid range. Use :meth:`replace`
    to change several fields that depend on each other at once (it validates the result).
    Changes made inside ``schedule_kwargs`` in place are not seen: assign a new dict.

    Scale-out (``strategy``): ``"single"`` trains in this process; ``"ddp"`` wraps the model
    in ``torch.nn.parallel.DistributedDataParallel`` and shards the training data over the
    processes of a ``torch.distributed`` process group (started by ``torchrun``, by
    :func:`workbench.train.launch.launch`, or already initialised); ``"zero1"`` is DDP with
    the optimizer state sharded (ZeRO stage 1, Rajbhandari et al. 2020, Sec. 5.1) by
    ``torch.distributed.optim.ZeroRedundancyOptimizer``. ``batch_size`` is per process:
    the global batch is ``batch_size * world_size * grad_accum_steps``. With
    ``grad_accum_steps > 1`` the non-boundary micro-batches run under DDP's ``no_sync()``
    (no all-reduce) unless ``accumulate_no_sync=False``; ``find_unused_parameters`` is
    DDP's flag (a graph walk per step; only for models whose forward skips parameters).

    ``device`` must be one that torch can use on this machine (``"cpu"``, ``"cuda"``,
    ``"cuda:N"`` with ``N`` below the number of GPUs, ``"mps"``; see
    :func:`available_devices`), so a config naming a GPU is rejected on a machine without one.

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
    # text: batch training examples of similar length together (noisy sort, shuffled batch
    # order; workbench.data.samplers.LengthGroupedBatchSampler), which pads far less
    group_by_length: bool = False
    # the relative length noise of that sort, in [0, 1] (AllenNLP's BucketBatchSampler
    # padding_noise): larger mixes lengths more across batches and pads more
    padding_noise: float = 0.1
    # numerics and speed
    # torch's implementation of the optimizer update (OPTIMIZER_IMPLS); "fused" gives the
    # same updates as the default to float rounding, several times faster on large tables
    optimizer_impl: str = "default"
    precision: str = "fp32"
    compile: bool = False
    compile_mode: str = "default"
    compile_fullgraph: bool = False
    compile_dynamic: bool | None = None
    device: str = "cpu"
    seed: int = 0
    deterministic: bool = False
    # scale-out: "single", "ddp" (DistributedDataParallel) or "zero1" (DDP + ZeRO stage 1)
    strategy: str = "single"
    accumulate_no_sync: bool = True
    find_unused_parameters: bool = False
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
        object.__setattr__(self, "_checked", True)

    def __setattr__(self, name: str, value: Any) -> None:
        """Validate on assignment: ``cfg.field = value`` checks the whole config with the
        new value and, if it is invalid, raises ``ValueError`` and keeps the old value.
        Unknown names raise ``AttributeError`` (a misspelt field would do nothing)."""
        if not self.__dict__.get("_checked", False):  # in __init__: __post_init__ validates
            object.__setattr__(self, name, value)
            return
        names = [f.name for f in dataclasses.fields(self)]
        if name not in names:
            raise AttributeError(f"TrainingConfig has no field {name!r}; valid fields: {sorted(names)}")
        old = self.__dict__[name]
        object.__setattr__(self, name, value)
        try:
            self.validate()
        except Exception:
            object.__setattr__(self, name, old)
            raise

    def validate(self) -> None:
        """Check every field and the rules between fields; raise ``ValueError`` naming the
        first invalid one, its valid range and the value given.

        Rules between fields: ``checkpoint_every_steps`` / ``checkpoint_every_epochs`` need
        ``checkpoint_dir``; ``early_stopping_patience`` and ``restore_best`` need a
        validation ``monitor`` (``"val_*"``: evaluation reports only those); the
        schedule's own arguments (``schedule_kwargs``, ``warmup_steps``, bounded by
        ``max_steps`` when set) must suit ``schedule`` (see :func:`register_schedule_check`).
        ``device`` must be one torch can use on this machine (:func:`available_devices`).
        """
        p = _P
        check_choice("optimizer", self.optimizer, OPTIMIZERS, prefix=p)
        check_number("lr", self.lr, 0.0, 10.0, lo_open=True, prefix=p)
        check_number("weight_decay", self.weight_decay, 0.0, 1.0, prefix=p)
        check_number("momentum", self.momentum, 0.0, 1.0, prefix=p)
        if (not isinstance(self.betas, (tuple, list)) or len(self.betas) != 2
                or not all(isinstance(b, (int, float)) and not isinstance(b, bool)
                           and 0.0 <= b < 1.0 for b in self.betas)):
            raise fail("betas", "a pair of numbers in [0, 1)", self.betas, prefix=p)
        object.__setattr__(self, "betas", (float(self.betas[0]), float(self.betas[1])))
        check_number("eps", self.eps, 0.0, 1.0, lo_open=True, prefix=p)
        check_choice("loss", self.loss, LOSSES, prefix=p)
        check_number("huber_delta", self.huber_delta, 0.0, None, lo_open=True, prefix=p)
        check_number("label_smoothing", self.label_smoothing, 0.0, 0.99, prefix=p)
        check_choice("schedule", self.schedule, SCHEDULE_NAMES, prefix=p)
        check_int("warmup_steps", self.warmup_steps, 0, prefix=p)
        if not isinstance(self.schedule_kwargs, dict):
            raise fail("schedule_kwargs", "a dict", self.schedule_kwargs, prefix=p)
        check_int("epochs", self.epochs, 1, 100_000, prefix=p)
        check_int("max_steps", self.max_steps, 1, optional=True, prefix=p)
        check_int("batch_size", self.batch_size, 1, 1_000_000, prefix=p)
        check_int("eval_batch_size", self.eval_batch_size, 1, 1_000_000, optional=True, prefix=p)
        check_int("grad_accum_steps", self.grad_accum_steps, 1, 10_000, prefix=p)
        check_number("max_grad_norm", self.max_grad_norm, 0.0, None, lo_open=True, optional=True,
                     prefix=p)
        check_bool("drop_last", self.drop_last, prefix=p)
        check_int("num_workers", self.num_workers, 0, 256, prefix=p)
        check_bool("group_by_length", self.group_by_length, prefix=p)
        check_number("padding_noise", self.padding_noise, 0.0, 1.0, prefix=p)
        check_choice("optimizer_impl", self.optimizer_impl, OPTIMIZER_IMPLS, prefix=p)
        if self.optimizer_impl == "fused" and self.optimizer not in FUSED_OPTIMIZERS:
            raise fail("optimizer_impl", f"one of {list(OPTIMIZER_IMPLS[:3])} for optimizer "
                       f"{self.optimizer!r} (torch fuses only {list(FUSED_OPTIMIZERS)})",
                       self.optimizer_impl, prefix=p)
        check_choice("precision", self.precision, PRECISIONS, prefix=p)
        check_bool("compile", self.compile, prefix=p)
        check_choice("compile_mode", self.compile_mode, COMPILE_MODES, prefix=p)
        check_bool("compile_fullgraph", self.compile_fullgraph, prefix=p)
        check_bool("compile_dynamic", self.compile_dynamic, optional=True, prefix=p)
        _check_device(self.device)
        check_int("seed", self.seed, 0, 2**32 - 1, prefix=p)
        check_bool("deterministic", self.deterministic, prefix=p)
        check_choice("on_nonfinite", self.on_nonfinite, NONFINITE_ACTIONS, prefix=p)
        check_choice("strategy", self.strategy, STRATEGIES, prefix=p)
        check_bool("accumulate_no_sync", self.accumulate_no_sync, prefix=p)
        check_bool("find_unused_parameters", self.find_unused_parameters, prefix=p)
        check_int("eval_every_epochs", self.eval_every_epochs, 1, optional=True, prefix=p)
        check_int("eval_every_steps", self.eval_every_steps, 1, optional=True, prefix=p)
        if not isinstance(self.monitor, str) or not self.monitor.startswith(("val_", "train_")):
            raise fail("monitor", "a metric name starting with 'val_' or 'train_'", self.monitor, prefix=p)
        check_choice("monitor_mode", self.monitor_mode, MONITOR_MODES, prefix=p)
        check_int("early_stopping_patience", self.early_stopping_patience, 1, optional=True, prefix=p)
        check_number("early_stopping_min_delta", self.early_stopping_min_delta, 0.0, None, prefix=p)
        check_bool("restore_best", self.restore_best, prefix=p)
        if (self.early_stopping_patience is not None or self.restore_best) and not self.monitor.startswith("val_"):
            raise fail("monitor", "a validation metric ('val_*') when early_stopping_patience or "
                       "restore_best is set (evaluation reports validation metrics only)",
                       self.monitor, prefix=p)
        check_path("checkpoint_dir", self.checkpoint_dir, optional=True, prefix=p)
        check_int("checkpoint_every_steps", self.checkpoint_every_steps, 1, optional=True, prefix=p)
        check_int("checkpoint_every_epochs", self.checkpoint_every_epochs, 1, optional=True, prefix=p)
        for every in ("checkpoint_every_steps", "checkpoint_every_epochs"):
            if getattr(self, every) is not None and self.checkpoint_dir is None:
                raise fail(every, "None when checkpoint_dir is None (there is no folder to save "
                           "checkpoints in); set checkpoint_dir", getattr(self, every), prefix=p)
        check_int("keep_checkpoints", self.keep_checkpoints, 1, 1000, prefix=p)
        check_path("metrics_dir", self.metrics_dir, optional=True, prefix=p)
        check_int("log_every_steps", self.log_every_steps, 1, prefix=p)
        check_bool("progress_bar", self.progress_bar, prefix=p)
        self._validate_schedule()

    def _validate_schedule(self) -> None:
        """The schedule's own arguments, checked before training (on a throwaway optimizer
        by the registered check; see :func:`register_schedule_check`)."""
        kwargs = dict(self.schedule_kwargs)
        if self.schedule == "plateau":
            kwargs.setdefault("mode", self.monitor_mode)
        try:
            if _schedule_check is not None:
                _schedule_check(self.schedule, total_steps=self.max_steps,
                                warmup_steps=self.warmup_steps, base_lr=self.lr, **kwargs)
            elif self.schedule in WARMUP_SCHEDULES:
                hi = self.max_steps if self.max_steps is None or self.schedule == "warmup" \
                    else self.max_steps - 1
                check_int("warmup_steps", self.warmup_steps, 1, hi, prefix=f"schedule {self.schedule!r}: ")
            elif self.warmup_steps != 0:
                raise fail("warmup_steps", f"0 (only {list(WARMUP_SCHEDULES)} warm up)",
                           self.warmup_steps, prefix=f"schedule {self.schedule!r}: ")
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
        mean, std: vision: per-channel normalisation statistics; tabular: per-feature
            standardisation statistics (``(x - mean) / std``, applied by the collator);
            None means the inputs are used as they are.
            :data:`workbench.data.collate.IMAGENET_MEAN` /
            :data:`~workbench.data.collate.IMAGENET_STD` are the ImageNet defaults for RGB.
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
        p = "TaskSpec."
        check_choice("modality", self.modality, MODALITIES, prefix=p)
        if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, int) or self.num_classes < 1:
            raise fail("num_classes", "an integer >= 1 (1 for regression)", self.num_classes, prefix=p)
        self.input_shape = tuple(self.input_shape)
        if not all(isinstance(s, int) and not isinstance(s, bool) and s > 0 for s in self.input_shape):
            raise fail("input_shape", "a tuple of positive integers", self.input_shape, prefix=p)
        if self.modality == "vision" and len(self.input_shape) != 3:
            raise fail("input_shape", "(C, H, W) for vision", self.input_shape, prefix=p)
        if self.modality == "tabular" and len(self.input_shape) != 1:
            raise fail("input_shape", "(F,) for tabular", self.input_shape, prefix=p)
        if self.modality == "text":
            if isinstance(self.vocab_size, bool) or not isinstance(self.vocab_size, int) or self.vocab_size < 2:
                raise fail("vocab_size", "an integer >= 2 for text", self.vocab_size, prefix=p)
            check_int("pad_id", self.pad_id, 0, self.vocab_size - 1, prefix=p)
            check_int("max_length", self.max_length, 1, optional=True, prefix=p)
            check_int("min_length", self.min_length, 1, prefix=p)
        if (self.mean is None) != (self.std is None):
            raise fail("mean", "given together with std (or both None)", self.mean, prefix=p)
        if self.mean is not None:
            self.mean, self.std = tuple(float(m) for m in self.mean), tuple(float(s) for s in self.std)
            channels = (self.input_shape[0] if self.modality in ("vision", "tabular")
                        else len(self.mean))
            if len(self.mean) != channels or len(self.std) != channels:
                per = "feature" if self.modality == "tabular" else "channel"
                raise fail("mean", f"{channels} values (one per {per}) like std", self.mean, prefix=p)
            if any(s <= 0 for s in self.std):
                raise fail("std", "positive numbers", self.std, prefix=p)
        if self.class_names is not None:
            self.class_names = tuple(str(c) for c in self.class_names)
            if self.num_classes > 1 and len(self.class_names) != self.num_classes:
                raise fail("class_names", f"{self.num_classes} names", self.class_names, prefix=p)

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
        return collate.TabularCollator(mean=self.mean, std=self.std)

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python dict of every field."""
        d = dataclasses.asdict(self)
        for k in ("input_shape", "mean", "std", "class_names"):
            if d[k] is not None:
                d[k] = list(d[k])
        return d
