"""The :class:`Trainer`: one explicit training loop with named events.

Plain PyTorch, no framework underneath. Read :meth:`Trainer.fit` and
:meth:`Trainer._train_batch` top to bottom to see everything that happens in a step.
"""

from __future__ import annotations

import copy
import logging
import math
import random
import time
import warnings
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from workbench.config import TaskSpec, TrainingConfig
from workbench.data.samplers import (
    DistributedResumableSampler,
    LengthGroupedBatchSampler,
    ResumableRandomSampler,
    ShardedSampler,
    SkipFirst,
    token_lengths,
)
from workbench.data.steps import batches_per_epoch, optimizer_steps_per_epoch
from workbench.train import checkpoint as ckpt
from workbench.train import distributed as wdist
from workbench.train.events import Event, Technique, handlers_for
from workbench.train.inference import eval_mode, forward_batch, inference_batches, to_device
from workbench.train.metrics import MetricsTracker
from workbench.train.optim import build_loss, build_optimizer
from workbench.train.schedules import (
    build_scheduler,
    is_constant_scheduler,
    is_metric_scheduler,
    validate_schedule,
)
from workbench.train.state import State

log = logging.getLogger("workbench")


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or Inf; the message names the step, the example ids and
    the last checkpoint whose weights are finite. Base class of the other non-finite errors."""


class NonFiniteGradientError(NonFiniteLossError):
    """A gradient held a NaN or Inf at an optimizer step (with a finite loss); the step was
    not taken. The message names the step, the parameters and the last finite checkpoint."""


class NonFiniteWeightsError(NonFiniteLossError):
    """The model's weights hold a NaN or Inf, so no checkpoint is written; the message names
    the tensors and the last checkpoint whose weights are finite."""


def seed_everything(seed: int) -> None:
    """Seed Python ``random``, NumPy's global generator and torch (CPU and CUDA)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class Trainer:
    """Trains a model with techniques hooked on events (:class:`~workbench.train.events.Event`).

    Args:
        model: a ``torch.nn.Module`` mapping ``batch["inputs"]`` to outputs (logits
            ``[B, C]`` for classification).
        config: :class:`~workbench.config.TrainingConfig` (already validated).
        train_data: a ``Dataset`` of items ``{"id", "input", "target"}`` (see
            ``docs/architecture.md``).
        val_data: optional validation ``Dataset``, evaluated every
            ``config.eval_every_epochs`` epochs and/or ``config.eval_every_steps`` steps.
        task: :class:`~workbench.config.TaskSpec`; picks the collator when
            ``collate_fn`` is None. Taken from ``train_data.task`` if absent.
        techniques: :class:`~workbench.train.events.Technique` objects, in order.
        loggers: external loggers (:mod:`workbench.train.loggers`).
        sampler: a sampler over training positions with ``set_epoch`` / ``state_dict``
            (default :class:`~workbench.data.samplers.ResumableRandomSampler` seeded with
            ``config.seed``); or ``batch_sampler``: one yielding lists of positions.
            With neither given and ``config.group_by_length``, the batch sampler is a
            :class:`~workbench.data.samplers.LengthGroupedBatchSampler` over the token
            lengths of ``train_data`` (:func:`~workbench.data.samplers.token_lengths`),
            seeded with ``config.seed`` and with ``config.padding_noise`` as its ``noise``.
        collate_fn: overrides the task's collator.
        param_groups: parameter groups for the optimizer (default
            ``model.parameters()``).
        optimizer, scheduler: prebuilt objects instead of those the config names.
        check_data: before training, check the data against the task and the model
            (:meth:`_check_data`): item structure, input dtype and shape, targets in
            ``[0, num_classes)``, at least two classes in training, and one forward pass
            of a two-example batch in eval mode (no RNG is consumed).

    Scale-out (``config.strategy`` ``"ddp"`` / ``"zero1"``; see ``docs/architecture.md``):
    every process of a ``torch.distributed`` group (torchrun's, or one already
    initialised) builds the same Trainer. The model is wrapped in
    ``DistributedDataParallel`` (``self.ddp``; ``self.model`` stays the plain module, so
    checkpoints and techniques see the usual names); the sampler (the default one, a given
    ``sampler`` or ``batch_sampler``) is sharded over the ranks
    (:class:`~workbench.data.samplers.ShardedSampler`); ``"zero1"`` builds a
    ``ZeroRedundancyOptimizer``. Metric files, loggers and progress bars exist on rank 0
    only; metric rows carry the training loss, accuracy and ``examples_seen`` of all ranks
    together; evaluation is sharded and summed over the ranks. A stop requested on any
    rank (early stopping, a technique, a non-finite loss) stops every rank after the same
    micro-batch: one all-reduce of a flag per micro-batch. :meth:`save_checkpoint`,
    :meth:`evaluate` and :meth:`fit` must be called on every rank.

    Raises:
        ValueError: empty training data, a missing task for the collator, a
            ``batch_sampler`` together with ``sampler``, ``group_by_length`` on training
            data that is not text, data that does not fit the task
            or the model (the message names the split, the example id and the field), or
            a config schedule that does not fit the run's optimizer steps (for example
            ``warmup_steps`` longer than the run; not checked for a given ``scheduler``).
    """

    def __init__(self, model: torch.nn.Module, config: TrainingConfig, train_data: Dataset,
                 val_data: Dataset | None = None, task: TaskSpec | None = None,
                 techniques: Sequence[Technique] = (), loggers: Sequence[Any] = (),
                 sampler: Any = None, batch_sampler: Any = None, collate_fn: Any = None,
                 param_groups: Iterable[Any] | None = None,
                 optimizer: torch.optim.Optimizer | None = None, scheduler: Any = None,
                 check_data: bool = True) -> None:
        if not isinstance(config, TrainingConfig):
            raise TypeError(f"config must be a TrainingConfig; got {type(config).__name__}")
        if len(train_data) == 0:
            raise ValueError("Trainer: the training data set is empty (0 examples)")
        if sampler is not None and batch_sampler is not None:
            raise ValueError("Trainer: pass either sampler or batch_sampler, not both")
        self.config = config
        # scale-out: the process group (torchrun's or an initialised one); None in one process
        self.dist = wdist.setup(config.device) if config.strategy != "single" else None
        self.device = self.dist.device if self.dist is not None else torch.device(config.device)
        self._is_main = self.dist is None or self.dist.is_main
        self.model = model.to(self.device)
        self.train_data = train_data
        self.val_data = val_data
        self.task = task if task is not None else getattr(train_data, "task", None)
        if collate_fn is None:
            if self.task is None:
                raise ValueError("Trainer: pass task= (a TaskSpec) or collate_fn= to batch the data")
            collate_fn = self.task.collator()
        self.collate_fn = collate_fn
        self.techniques = list(techniques)
        names = [t.name for t in self.techniques]
        if len(set(names)) != len(names):
            raise ValueError(f"Trainer: technique names must be unique (checkpoint keys); got {names}")
        if sampler is None and batch_sampler is None and config.group_by_length:
            lengths = token_lengths(train_data)
            if lengths is None:
                raise ValueError("Trainer: TrainingConfig.group_by_length=True needs text training data "
                                 "(items whose 'input' is a 1-D tensor of token ids); got "
                                 f"{type(train_data).__name__} with other inputs. Set group_by_length=False")
            batch_sampler = LengthGroupedBatchSampler(lengths, config.batch_size, seed=config.seed,
                                                      noise=config.padding_noise, drop_last=config.drop_last)
        if self.dist is not None:  # each rank draws its shard of the epoch's order
            w, r = self.dist.world_size, self.dist.rank
            if batch_sampler is not None:
                batch_sampler = ShardedSampler(batch_sampler, w, r)
            elif sampler is not None:
                sampler = ShardedSampler(sampler, w, r)
            else:
                sampler = DistributedResumableSampler(train_data, w, r, seed=config.seed)
        self.batch_sampler = batch_sampler
        self.sampler = sampler if sampler is not None or batch_sampler is not None else \
            ResumableRandomSampler(train_data, seed=config.seed)
        self.loss_fn = build_loss(config.loss, config.huber_delta, config.label_smoothing)
        self._mean_loss_fn = getattr(self.loss_fn, "mean", None)
        # techniques with learnable parameters (e.g. uncertainty weighting's log-variances)
        # list them as parameter groups: they join the optimizer built here, so they are
        # stepped, scheduled and checkpointed with the model's parameters
        extra_groups = [dict(g) for t in self.techniques for g in (t.param_groups() if callable(
            getattr(t, "param_groups", None)) else ())]
        for g in extra_groups:  # on the Trainer's device, keeping the Parameter objects
            for p in g["params"]:
                p.data = p.data.to(self.device)
        if optimizer is None and extra_groups:
            base = list(param_groups) if param_groups is not None else list(model.parameters())
            if base and not isinstance(base[0], dict):
                base = [{"params": base}]
            param_groups = base + extra_groups
        elif optimizer is not None and extra_groups:
            raise ValueError(f"Trainer: techniques {[t.name for t in self.techniques if callable(getattr(t, 'param_groups', None))]} "
                             "have parameters to train; pass param_groups= instead of a ready optimizer=")
        if optimizer is not None and config.strategy == "zero1" and not wdist.is_zero(optimizer):
            raise ValueError("Trainer: strategy 'zero1' builds its own ZeroRedundancyOptimizer from the config; "
                             "pass param_groups= instead of a ready optimizer= (or a ZeroRedundancyOptimizer)")
        if optimizer is None:
            params = param_groups if param_groups is not None else model.parameters()
            optimizer = (wdist.build_zero_optimizer(params, config) if config.strategy == "zero1"
                         else build_optimizer(params, config))
        self.optimizer = optimizer
        # gradients DDP does not average (a technique's own parameters): averaged at each step
        self._extra_params = [p for g in extra_groups for p in g["params"]] if self.dist is not None else []
        self._scheduler_given = scheduler
        self.scheduler = scheduler
        # files, loggers and progress bars: rank 0 only (other ranks keep the rows in memory)
        self.tracker = MetricsTracker(config.metrics_dir if self._is_main else None,
                                      loggers=list(loggers) if self._is_main else [])
        self.state = State(model=self.model, optimizer=self.optimizer, config=config,
                           scheduler=self.scheduler, task=self.task)
        self.ddp: torch.nn.parallel.DistributedDataParallel | None = None
        if self.dist is not None:
            self.state.rank, self.state.world_size = self.dist.rank, self.dist.world_size
            self.ddp = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=[self.device.index] if self.device.type == "cuda" else None,
                find_unused_parameters=config.find_unused_parameters)
        # a deferred error (a non-finite loss on this rank): raised on every rank together
        self._pending_error: BaseException | None = None
        self._micro_incomplete = False  # this rank's micro-batch ended early (non-finite loss)
        self._dist_incomplete = False
        self.state.history = self.tracker.rows
        self._handlers = {ev: handlers_for(self.techniques, ev) for ev in Event}
        self._forward_model: Any = self.ddp if self.ddp is not None else self.model
        self._compiled = False
        self._compile_verified = False
        self._sched_seen: Any = object()
        self._zero_grad_pending = True
        # a non-finite loss in the accumulation window with on_nonfinite="skip": the window's
        # optimizer step is dropped at its boundary
        self._window_nonfinite = False
        # per device: (found_inf flag, scale 1.0) for the fused finiteness check of the gradients
        self._finite_flags: dict[torch.device, tuple[torch.Tensor, torch.Tensor]] = {}
        # the parameters (ids) whose gradients the check last saw, and whether they take the fused kernel
        self._check_key: tuple[int, ...] | None = None
        self._check_params: list[torch.nn.Parameter] = []
        self._check_fused = False
        # between a micro-batch's batch_start and its counters' update: a checkpoint there
        # would not match the gradients (save_checkpoint refuses it)
        self._in_micro_batch = False
        self._sched_step = False
        self._mark: float | None = None
        self._resumed = False
        self._best_weights: dict[str, torch.Tensor] | None = None
        self._acc_max_numel = _ACC_MAX_NUMEL
        self._reset_running()
        self.last_checkpoint: Path | None = None
        if scheduler is None:  # the config's schedule must fit this run: warmup no longer than it, ...
            try:
                steps, per_epoch = self.total_steps, self.steps_per_epoch
            except TypeError:  # a sampler without len(): checked when fit builds the scheduler
                steps = None
            if steps is not None:
                kwargs = dict(config.schedule_kwargs)
                if config.schedule == "plateau":
                    kwargs.setdefault("mode", config.monitor_mode)
                try:
                    validate_schedule(config.schedule, total_steps=max(1, steps), warmup_steps=config.warmup_steps,
                                      base_lr=min(float(g["lr"]) for g in self.optimizer.param_groups), **kwargs)
                except ValueError as exc:
                    raise ValueError(
                        f"Trainer: TrainingConfig.schedule {config.schedule!r} with warmup_steps="
                        f"{config.warmup_steps} and schedule_kwargs={config.schedule_kwargs!r} does not fit "
                        f"this run of {steps} optimizer steps ({config.epochs} epochs x {per_epoch} steps "
                        f"per epoch, max_steps={config.max_steps}): {exc}") from exc
        if config.schedule == "slanted_triangular" and config.early_stopping_patience is not None:
            # issue 13, trap 9: the schedule spreads its decay over the whole run
            warnings.warn(
                "Trainer: early_stopping_patience is set with the slanted_triangular schedule; an "
                "early stop ends the run before the schedule's decay to base_lr / ratio (the rate at "
                "the stop is in stop_reason). Use restore_best=True without early stopping, or fewer "
                "epochs, to keep the schedule whole.", UserWarning, stacklevel=2)
        if check_data:
            self._check_data()

    # ------------------------------------------------------------------ input checks
    def _check_data(self) -> None:
        """Reject data that cannot train, before any training starts (see ``check_data``)."""
        task = self.task
        for split, data in (("training", self.train_data), ("validation", self.val_data)):
            if data is None:
                continue
            if len(data) == 0:
                raise ValueError(f"Trainer: the {split} data set is empty (0 examples)")
            item = data[0]
            if not isinstance(item, dict) or not {"id", "input", "target"} <= set(item):
                raise ValueError(f"Trainer: {split} data items must be dicts with keys 'id', 'input', "
                                 f"'target'; item 0 is {type(item).__name__} "
                                 f"{sorted(item) if isinstance(item, dict) else ''}")
            if task is not None:
                _check_input(task, split, item)
                targets = getattr(data, "targets", None)
                if task.num_classes > 1 and isinstance(targets, torch.Tensor):
                    if targets.is_floating_point():
                        raise ValueError(f"Trainer: {split} targets must be integer class indices for a "
                                         f"{task.num_classes}-class task; got dtype {targets.dtype}")
                    bad = ((targets < 0) | (targets >= task.num_classes)).nonzero().flatten()
                    if len(bad):
                        i = int(bad[0])
                        ids = getattr(data, "ids", None)
                        ex = int(ids[i]) if ids is not None else i
                        raise ValueError(f"Trainer: {split} data: target {int(targets[i])} of example id {ex} "
                                         f"(field 'target') is outside [0, {task.num_classes}); "
                                         f"{len(bad)} example(s) out of range")
                    if split == "training" and int(targets.unique().numel()) < 2:
                        raise ValueError(f"Trainer: the training split has a single class "
                                         f"({int(targets[0])}); a classifier cannot learn from it")
        batch = self.collate_fn([self.train_data[i] for i in range(min(2, len(self.train_data)))])
        batch = to_device(batch, self.device)
        try:
            with eval_mode(self.model), torch.inference_mode():
                out = forward_batch(self.model, batch)
        except Exception as exc:  # noqa: BLE001 - re-raised with the shapes that caused it
            x = batch["inputs"]
            raise ValueError(f"Trainer: the model cannot take a batch of the training data: inputs of "
                             f"shape {tuple(x.shape)} and dtype {x.dtype} raised {type(exc).__name__}: {exc}") from exc
        if task is not None and task.num_classes > 1 and self.config.loss == "cross_entropy" and (
                out.dim() != 2 or out.shape[1] != task.num_classes):
            raise ValueError(f"Trainer: the model returns outputs of shape {tuple(out.shape)}; a "
                             f"{task.num_classes}-class task needs logits of shape [B, {task.num_classes}]")

    # ------------------------------------------------------------------ setup helpers
    @property
    def steps_per_epoch(self) -> int:
        """Effective (optimizer) steps in one full epoch."""
        return optimizer_steps_per_epoch(self._batches_per_epoch(), self.config.grad_accum_steps)

    @property
    def total_steps(self) -> int:
        """Effective steps the run will take at most (``max_steps`` or epochs x steps per epoch)."""
        full = self.steps_per_epoch * self.config.epochs
        return min(full, self.config.max_steps) if self.config.max_steps else full

    def _batches_per_epoch(self) -> int:
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        return batches_per_epoch(len(self.sampler), self.config.batch_size, self.config.drop_last)

    def _make_loader(self, skip_batches: int = 0) -> DataLoader:
        cfg = self.config
        common = {"collate_fn": self.collate_fn, "num_workers": cfg.num_workers,
                  # a private generator: creating the iterator never consumes the global RNG,
                  # so resumed runs see the same dropout masks as uninterrupted ones
                  "generator": torch.Generator().manual_seed(cfg.seed),
                  "persistent_workers": False}
        if self.batch_sampler is not None:
            bs = SkipFirst(self.batch_sampler, skip_batches) if skip_batches else self.batch_sampler
            return DataLoader(self.train_data, batch_sampler=bs, **common)
        sampler = SkipFirst(self.sampler, skip_batches * cfg.batch_size) if skip_batches else self.sampler
        return DataLoader(self.train_data, batch_size=cfg.batch_size, sampler=sampler,
                          drop_last=cfg.drop_last, **common)

    def _ensure_scheduler(self) -> None:
        if self.scheduler is None and self._scheduler_given is None:
            cfg = self.config
            kwargs = dict(cfg.schedule_kwargs)
            if cfg.schedule == "plateau":
                kwargs.setdefault("mode", cfg.monitor_mode)
            self.scheduler = build_scheduler(cfg.schedule, self.optimizer, total_steps=max(1, self.total_steps),
                                             warmup_steps=cfg.warmup_steps, **kwargs)
            self.state.scheduler = self.scheduler

    def _setup_compile(self) -> None:
        cfg = self.config
        # CUDA graphs ("reduce-overhead") reuse their output buffers on the next call:
        # kept logits would be overwritten, so they are scored at every step there
        self._acc_max_numel = 0 if cfg.compile and cfg.compile_mode == "reduce-overhead" else _ACC_MAX_NUMEL
        if cfg.compile and not self._compiled:
            try:
                self._forward_model = torch.compile(self.ddp if self.ddp is not None else self.model,
                                                    mode=cfg.compile_mode,
                                                    fullgraph=cfg.compile_fullgraph,
                                                    dynamic=cfg.compile_dynamic)
                self._compiled = True
            except Exception as exc:  # noqa: BLE001 - any failure falls back to eager
                self._compile_failed(exc)

    def _compile_failed(self, exc: BaseException) -> None:
        log.warning("torch.compile failed (%s: %s); falling back to eager execution",
                    type(exc).__name__, str(exc).splitlines()[0] if str(exc) else "")
        self._forward_model = self.ddp if self.ddp is not None else self.model
        self._compiled = False
        self.state.count("compile_fallback")
        self.state.extras["compile_error"] = f"{type(exc).__name__}: {exc}"[:2000]

    def _autocast(self):
        if self.config.precision == "bf16":
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return _NULL_CONTEXT

    def _fire(self, event: Event) -> None:
        for h in self._handlers[event]:
            h(self.state)

    def _reset_running(self) -> None:
        self._run_count = 0
        self._acc_loss_sum = 0.0
        self._acc_correct: int | None = None
        self._acc_logits: list[torch.Tensor] = []
        self._acc_targets: list[torch.Tensor] = []
        self._acc_numel = 0

    def _fold_correct(self) -> None:
        """Add the kept logits' correct count to the running total: one argmax over all of
        them and one host sync (an argmax per step cost ~40 us, 2-3% of a small model's
        step, against ~1 us for keeping a detached view)."""
        if self._acc_logits:
            logits = self._acc_logits[0] if len(self._acc_logits) == 1 else torch.cat(self._acc_logits)
            targets = self._acc_targets[0] if len(self._acc_targets) == 1 else torch.cat(self._acc_targets)
            c = int((logits.argmax(dim=1) == targets).sum())
            self._acc_correct = (self._acc_correct or 0) + c
            self._acc_logits.clear()
            self._acc_targets.clear()
            self._acc_numel = 0

    # ------------------------------------------------------------------ main loop
    def fit(self) -> State:
        """Train until ``epochs`` / ``max_steps`` are done, early stopping, or a stop request.

        Returns the final :class:`State` (``state.history`` holds the metric rows).

        Non-finite values (``config.on_nonfinite``): before every optimizer step the
        gradients are checked (with ``max_grad_norm``, the norm ``clip_grad_norm_`` returns;
        otherwise one fused ``torch._foreach_norm``: one host sync per optimizer step). A
        NaN/Inf loss or gradient never reaches ``optimizer.step()``. ``"raise"`` raises,
        ``"stop"`` ends training with the message in ``state.stop_reason``, ``"skip"`` drops
        that accumulation window's optimizer step (gradients cleared; no optimizer or
        scheduler step; no ``step_end`` event; ``effective_step`` still advances) and counts
        it in ``state.counters["steps_skipped_nonfinite"]``, as AMP's ``GradScaler`` skips
        steps. A non-finite loss under ``"skip"`` drops its whole window; when the weights
        themselves are non-finite, ``"skip"`` stops as ``"stop"`` does. No checkpoint is
        ever written with non-finite weights, and every message names the last checkpoint
        whose weights are finite.

        Returns the final :class:`State` (``state.history`` holds the metric rows).

        Raises:
            NonFiniteLossError: the loss became NaN/Inf (with ``on_nonfinite="raise"``).
            NonFiniteGradientError: a gradient was NaN/Inf at an optimizer step.
            NonFiniteWeightsError: a periodic checkpoint was due while the weights held NaN/Inf.
            ValueError: at the first evaluation, when ``early_stopping_patience`` or
                ``restore_best`` is set and the evaluation does not report
                ``config.monitor`` (the message lists the metrics it reports).
        """
        cfg, st = self.config, self.state
        if not self._resumed:
            seed_everything(cfg.seed)
        if cfg.deterministic:
            torch.use_deterministic_algorithms(True)
        self._ensure_scheduler()
        self._setup_compile()
        st.stop, st.stop_reason = False, ""
        self._fire(Event.FIT_START)
        try:
            while st.epoch < cfg.epochs and not st.stop:
                self._run_epoch()
                if self.dist is not None:  # a stop requested at the epoch's end, on any rank
                    self._sync_stop()
            if self._zero_grad_pending:  # free the last step's gradients; the partial ones
                # of a window stopped midway stay, so a checkpoint written now carries them
                # and the next fit() continues the window exactly
                self.optimizer.zero_grad(set_to_none=True)
            if self.val_data is not None and (not self.tracker.rows or _nan(self._last_row("val_loss"))):
                self._evaluate_and_log()
            if cfg.restore_best and self._best_weights is not None:
                self.model.load_state_dict(self._best_weights)
                self.optimizer.zero_grad(set_to_none=True)  # gradients of other weights
                self._zero_grad_pending = True
            if not st.stop_reason:
                st.stop_reason = "budget reached"
            if self.dist is not None:
                self._broadcast_buffers()
            self._fire(Event.FIT_END)
        finally:
            self.tracker.flush()
            self.tracker.release_files()
        return st

    def _last_row(self, key: str) -> float:
        if self.tracker._pending is not None and key in self.tracker._pending:
            return self.tracker._pending[key]
        return self.tracker.rows[-1].get(key, math.nan) if self.tracker.rows else math.nan

    def _run_epoch(self) -> None:
        cfg, st = self.config, self.state
        sampler = self.batch_sampler if self.batch_sampler is not None else self.sampler
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(st.epoch)
        loader = self._make_loader(skip_batches=st.batch_in_epoch)
        n_batches = self._batches_per_epoch()
        # train mode is set once per epoch, before epoch_start (so a technique may put
        # submodules, e.g. frozen normalization layers, in eval mode there), not per step:
        # module.train() walks every submodule. evaluate() / predict() restore the mode.
        self.model.train()
        if st.batch_in_epoch == 0:
            self._fire(Event.EPOCH_START)
        bar = _progress(loader, cfg.progress_bar and self._is_main, desc=f"epoch {st.epoch + 1}/{cfg.epochs}",
                        total=max(0, n_batches - st.batch_in_epoch))
        self._clock_start()
        try:
            for batch in bar:
                self._train_batch(batch, last_in_epoch=st.batch_in_epoch + 1 >= n_batches)
                # one process: stop when asked; several: when any rank asked (an all-reduce)
                if st.stop if self.dist is None else self._sync_stop():
                    break
        finally:
            self._clock_stop()
            if hasattr(bar, "close"):
                bar.close()
        if st.stop and (st.batch_in_epoch < n_batches or self._dist_incomplete):
            return
        # the epoch is complete
        finished_epoch = st.epoch
        st.epoch += 1
        st.batch_in_epoch = 0
        if (self.val_data is not None and cfg.eval_every_epochs and (finished_epoch + 1) % cfg.eval_every_epochs == 0
                and st.last_eval_step != st.effective_step):  # not twice when eval_every_steps just ran
            self._evaluate_and_log()
        if cfg.checkpoint_dir and cfg.checkpoint_every_epochs and (finished_epoch + 1) % cfg.checkpoint_every_epochs == 0:
            self._save_periodic()
        self.tracker.publish_pending()  # state.history[-1] is this step's row at epoch_end
        self._fire(Event.EPOCH_END)

    def _train_batch(self, batch: dict[str, Any], last_in_epoch: bool) -> None:
        st = self.state
        self._in_micro_batch = True
        st.batch = to_device(batch, self.device)
        st.loss_weights, st.skip_backward, st.loss = None, False, None
        self._fire(Event.BATCH_START)
        batch = st.batch
        bsz = int(batch["targets"].shape[0])
        if self.ddp is not None:
            self._train_batch_ddp(batch, bsz, last_in_epoch)
            return
        ok = self._forward_backward_first_compiled(batch, bsz)
        if not ok:  # non-finite loss with on_nonfinite="stop": no step, no checkpoint
            return
        self._micro_batch_done(bsz, last_in_epoch)

    def _forward_backward_first_compiled(self, batch: dict[str, Any], bsz: int) -> bool:
        """:meth:`_forward_backward`, falling back to eager when a compiled model fails on
        its first call (compilation happens lazily there)."""
        if not (self._compiled and not self._compile_verified):
            return self._forward_backward(batch, bsz)
        try:
            ok = self._forward_backward(batch, bsz)
            self._compile_verified = True
            return ok
        except NonFiniteLossError:
            raise
        except Exception as exc:  # noqa: BLE001
            self._compile_failed(exc)
            self.optimizer.zero_grad(set_to_none=True)
            self._reset_running()
            return self._forward_backward(batch, bsz)

    def _train_batch_ddp(self, batch: dict[str, Any], bsz: int, last_in_epoch: bool) -> None:
        """:meth:`_train_batch` under DDP: a micro-batch that does not end an accumulation
        window runs under ``no_sync()`` (its gradients stay local; the window's last
        backward all-reduces their sum), as Li et al. (2020, Sec. 3.2.4) describe."""
        cfg, st = self.config, self.state
        boundary = (st.batch_in_epoch + 1) % cfg.grad_accum_steps == 0 or last_in_epoch
        ctx = self.ddp.no_sync() if not boundary and cfg.accumulate_no_sync else _NULL_CONTEXT
        with ctx:
            ok = self._forward_backward_first_compiled(batch, bsz)
        if not ok:  # non-finite loss: every rank stops after this micro-batch (_sync_stop)
            self._micro_incomplete = True
            return
        self._micro_batch_done(bsz, last_in_epoch)

    def _micro_batch_done(self, bsz: int, last_in_epoch: bool) -> None:
        cfg, st = self.config, self.state
        st.step += 1
        st.batch_in_epoch += 1
        st.examples_seen += bsz
        self._in_micro_batch = False
        boundary = st.batch_in_epoch % cfg.grad_accum_steps == 0 or last_in_epoch
        # False: the step met a non-finite gradient and training stops (no row, no checkpoint)
        go_on = self._optimizer_step() if boundary else True
        self._fire(Event.BATCH_END)
        if boundary and go_on:
            self._after_boundary()

    def _forward_backward(self, batch: dict[str, Any], bsz: int) -> bool:
        """Forward, per-example loss, backward; False when the loss was non-finite."""
        cfg, st = self.config, self.state
        if not self.model.training:  # a technique left the model in eval mode
            self.model.train()
        if self._zero_grad_pending:
            # gradients are cleared when an accumulation window begins (as in a plain
            # PyTorch loop), not right after optimizer.step(): step_end / batch_end
            # handlers can still read the gradients of the step just taken, and the
            # allocator reuses the freed gradient memory for this forward pass
            self.optimizer.zero_grad(set_to_none=True)
            self._zero_grad_pending = False
        with self._autocast():
            outputs = forward_batch(self._forward_model, batch)
        st.outputs = outputs
        targets = batch["targets"]
        loss_fn = self.loss_fn
        # per-example losses are computed when a technique reads them (state.per_example_loss)
        st._defer_per_example_loss(lambda: loss_fn(outputs, targets))
        self._fire(Event.AFTER_FORWARD)
        if st.loss_weights is not None:
            loss = (st.per_example_loss * st.loss_weights).sum() / bsz
        elif st.per_example_loss_computed or self._mean_loss_fn is None:
            loss = st.per_example_loss.mean()
        else:  # nobody needed them before backward: the fused mean, one autograd node
            loss = self._mean_loss_fn(outputs, targets)
        loss_value = loss.item()  # the one host sync per step: the finiteness check needs it
        if not math.isfinite(loss_value):
            if self.ddp is not None:
                return self._nonfinite_ddp(batch, st.per_example_loss, outputs)
            if not self._nonfinite(batch, st.per_example_loss):
                return False
            # on_nonfinite="skip": no backward; the window's step is dropped at its boundary
            self._window_nonfinite = True
            st.loss = None
            return True
        st.loss = loss / cfg.grad_accum_steps if cfg.grad_accum_steps > 1 else loss
        self._fire(Event.BEFORE_BACKWARD)
        # running training statistics for the next metric row, with as few tensor ops per
        # step as possible (each costs ~10 us on CPU, comparable to a small model's step)
        if st.loss_weights is None:  # the mean per-example loss is the training loss
            self._acc_loss_sum += loss_value * bsz
        else:
            self._acc_loss_sum += float(st.per_example_loss.detach().float().sum())
        if not targets.is_floating_point() and outputs.dim() == 2 and outputs.shape[1] > 1:
            # the logits are kept (detached) and scored once per metric row, or once they
            # hold 2^20 values (4 MiB of float32), whichever comes first
            self._acc_logits.append(outputs.detach())
            self._acc_targets.append(targets)
            self._acc_numel += outputs.numel()
            if self._acc_numel >= self._acc_max_numel:
                self._fold_correct()
        self._run_count += bsz
        if st.skip_backward:
            st.count("backward_skipped")
            if self.ddp is not None:  # a zero gradient, so this rank still joins the all-reduce
                (outputs.float().sum() * 0.0).backward()
        else:
            st.loss.backward()
            self._fire(Event.AFTER_BACKWARD)
        return True

    def _last_good(self) -> str:
        return f"last checkpoint with finite weights: {self.last_checkpoint or 'none written'}"

    def _nonfinite(self, batch: dict[str, Any], pel: torch.Tensor) -> bool:
        """A non-finite loss: raise, stop (returns False) or, with ``on_nonfinite="skip"``
        and finite weights, log it and return True (the caller drops the window)."""
        st = self.state
        # the micro-batch is not counted and nothing was backpropagated: the counters and
        # the window's gradients still agree, so a checkpoint may be written
        self._in_micro_batch = False
        ids = batch.get("ids")
        ids_list = ids.tolist() if isinstance(ids, torch.Tensor) else ids
        bad = (~torch.isfinite(pel.detach())).nonzero().flatten().tolist() if pel.dim() else []
        bad_ids = [ids_list[i] for i in bad] if ids_list is not None else bad
        bad_weights = ckpt.nonfinite_tensors(self.model.state_dict())
        weights = (f"the model's weights hold NaN/Inf in {_names(bad_weights)}" if bad_weights
                   else "the model's weights are finite")
        msg = (f"non-finite training loss at step {st.step} (effective step {st.effective_step}, "
               f"epoch {st.epoch}); batch example ids {ids_list}; non-finite for ids {bad_ids}; {weights}")
        if self.config.on_nonfinite == "skip" and not bad_weights:
            log.warning("%s. The accumulation window's optimizer step is skipped (on_nonfinite='skip')", msg)
            return True
        msg += f". Training stopped; {self._last_good()}"
        log.error(msg)
        if self.config.on_nonfinite == "raise":
            self.tracker.flush()
            raise NonFiniteLossError(msg)
        st.request_stop(msg)
        return False

    def _nonfinite_ddp(self, batch: dict[str, Any], pel: torch.Tensor, outputs: torch.Tensor) -> bool:
        """A non-finite loss on this rank under DDP. The other ranks may be waiting in this
        micro-batch's all-reduce, so a backward pass still runs, with NaN gradients: after
        the all-reduce every rank's gradients are non-finite and every rank drops the
        step. ``"skip"``: the window's step is skipped (as in one process); ``"stop"`` /
        ``"raise"``: the micro-batch ends here, and after it every rank stops (or raises,
        :meth:`_sync_stop`). Returns whether the micro-batch goes on."""
        cfg, st = self.config, self.state
        (outputs.float().sum() * math.nan).backward()
        ids = batch.get("ids")
        ids_list = ids.tolist() if isinstance(ids, torch.Tensor) else ids
        bad = (~torch.isfinite(pel.detach())).nonzero().flatten().tolist() if pel.dim() else []
        bad_ids = [ids_list[i] for i in bad] if ids_list is not None else bad
        bad_weights = ckpt.nonfinite_tensors(self.model.state_dict())
        weights = (f"the model's weights hold NaN/Inf in {_names(bad_weights)}" if bad_weights
                   else "the model's weights are finite")
        msg = (f"non-finite training loss on rank {self.dist.rank} at step {st.step} (effective step "
               f"{st.effective_step}, epoch {st.epoch}); batch example ids {ids_list}; non-finite for ids "
               f"{bad_ids}; {weights}")
        if cfg.on_nonfinite == "skip" and not bad_weights:
            log.warning("%s. The accumulation window's optimizer step is skipped on every rank "
                        "(on_nonfinite='skip')", msg)
            self._window_nonfinite = True
            st.loss = None
            return True
        self._in_micro_batch = False
        self.optimizer.zero_grad(set_to_none=True)  # the NaN gradients are no window's
        self._zero_grad_pending = True
        msg += f". Training stopped on every rank; {self._last_good()}"
        log.error(msg)
        if cfg.on_nonfinite == "raise":
            self._pending_error = NonFiniteLossError(msg)
        st.request_stop(msg)
        return False

    def _sync_stop(self) -> bool:
        """Under DDP: whether any rank asked to stop (one all-reduce of three flags). When
        one did, every rank stops with the reasons of those that asked, and when one holds
        a deferred error (a non-finite loss or gradient with ``on_nonfinite="raise"``),
        every rank raises it."""
        st = self.state
        flags = torch.tensor([int(st.stop), int(self._micro_incomplete), int(self._pending_error is not None)],
                             dtype=torch.int32, device=self.dist.comm_device)
        torch.distributed.all_reduce(flags, op=torch.distributed.ReduceOp.MAX)
        stop, incomplete, error = (bool(v) for v in flags.tolist())
        self._micro_incomplete = False
        if not stop:
            return False
        mine = (st.stop_reason if st.stop else None,
                type(self._pending_error).__name__ if self._pending_error is not None else None)
        every: list[Any] = [None] * self.dist.world_size
        torch.distributed.all_gather_object(every, mine)
        self._dist_incomplete = incomplete
        if not st.stop:
            st.request_stop("; ".join(f"rank {r}: {reason}" for r, (reason, _) in enumerate(every) if reason))
        if error:
            self.tracker.flush()
            err, self._pending_error = self._pending_error, None
            if err is None:
                r, (reason, cls) = next((r, e) for r, e in enumerate(every) if e[1] is not None)
                kinds = {c.__name__: c for c in (NonFiniteLossError, NonFiniteGradientError, NonFiniteWeightsError)}
                err = kinds.get(cls, NonFiniteLossError)(f"rank {r}: {reason}")
            raise err
        return True

    def _broadcast_buffers(self) -> None:
        """Rank 0's buffers (BatchNorm running statistics) to every rank. DDP broadcasts
        them before each training forward pass, so after the last one each rank holds its
        own; evaluation and the end of ``fit`` use rank 0's, as checkpoints do."""
        for b in self.model.buffers():
            if b.is_floating_point() or b.dtype in (torch.long, torch.int):
                torch.distributed.broadcast(b.data, src=0)

    def _grads_finite(self) -> bool:
        """Whether every gradient the optimizer would apply is finite, with one host read.

        Small models (at most ``_FUSED_CHECK_MAX_NUMEL`` gradient values on one device, one
        dtype): one fused ``torch._amp_foreach_non_finite_check_and_unscale_`` call, the
        kernel AMP's ``GradScaler`` uses to find inf/NaN, with a scale of exactly 1
        (``g * 1.0 == g`` bit for bit; NaN stays NaN): a few times cheaper than a
        ``torch._foreach_norm`` on a step of a few milliseconds. Larger ones: the sum of
        each gradient (a read-only pass; the kernel above also writes every value back), in
        which any NaN or inf stays non-finite. Sparse gradients: a per-tensor check."""
        params = [p for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]
        if not params:
            return True
        grads = [p.grad for p in params]
        g0 = grads[0]
        try:
            # which path fits is decided once per set of parameters with gradients (their
            # sizes, devices and dtypes do not change; ~8 us a step on the digits MLP)
            key = tuple(map(id, params))
            if key != self._check_key:
                self._check_key = None
                self._check_fused = (sum(g.numel() for g in grads) <= _FUSED_CHECK_MAX_NUMEL
                                     and all(g.device == g0.device and g.dtype == g0.dtype
                                             and g.layout == torch.strided for g in grads))
                self._check_key, self._check_params = key, params  # referenced: their ids stay theirs
            if self._check_fused:
                flags = self._finite_flags.get(g0.device)
                if flags is None:
                    flags = self._finite_flags[g0.device] = (torch.zeros(1, device=g0.device),
                                                             torch.ones(1, device=g0.device))
                found_inf, one = flags
                found_inf.zero_()
                torch._amp_foreach_non_finite_check_and_unscale_(grads, found_inf, one)
                return not bool(found_inf.item())
            # float32 accumulation for half-precision gradients (no overflow of finite values)
            total = torch.stack([g.sum(dtype=torch.float64 if g.dtype == torch.float64 else torch.float32)
                                 .to(g0.device, torch.float64) for g in grads]).sum()
        except (RuntimeError, TypeError, NotImplementedError):  # sparse gradients, a dtype without the kernel
            self._check_key = None  # decided again at the next step
            return not ckpt.nonfinite_tensors({str(i): g for i, g in enumerate(grads)})
        return math.isfinite(float(total))

    def _optimizer_step(self) -> bool:
        """Check the gradients, then ``optimizer.step()`` and the scheduler's step. Returns
        False when training stops on a non-finite gradient (see :meth:`fit`)."""
        cfg, st = self.config, self.state
        if self._extra_params:  # a technique's own parameters: DDP does not average them
            wdist.allreduce_mean_([p.grad for p in self._extra_params if p.grad is not None])
        if self._window_nonfinite:
            finite = False
        elif cfg.max_grad_norm is not None:
            norm = float(torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm))
            st.metrics["grad_norm"] = norm
            finite = math.isfinite(norm)
        else:
            finite = self._grads_finite()
        if not finite:
            return self._skip_step()
        self.optimizer.step()
        self._zero_grad_pending = True
        if self._scheduler_steps():
            self.scheduler.step()
        st.effective_step += 1
        self._fire(Event.STEP_END)
        return True

    def _skip_step(self) -> bool:
        """Drop the optimizer step of a window with a non-finite loss or gradient: clear the
        gradients, count it; then go on (``"skip"``), stop or raise."""
        cfg, st = self.config, self.state
        from_loss, self._window_nonfinite = self._window_nonfinite, False
        names = [] if from_loss else [n for n, p in self.model.named_parameters()
                                      if p.grad is not None and not bool(torch.isfinite(p.grad).all())]
        self.optimizer.zero_grad(set_to_none=True)
        self._zero_grad_pending = True
        st.effective_step += 1
        st.count("steps_skipped_nonfinite")
        if from_loss:  # on_nonfinite="skip"; the loss was reported when it occurred
            return True
        msg = (f"non-finite gradient at effective step {st.effective_step} (step {st.step}, epoch "
               f"{st.epoch}) with a finite loss, in {_names(names) if names else 'the gradient norm'}; "
               f"the optimizer step was not taken")
        if cfg.on_nonfinite == "skip":
            log.warning("%s (on_nonfinite='skip'; %d step(s) skipped so far)", msg,
                        st.counters["steps_skipped_nonfinite"])
            return True
        msg += f". Training stopped; {self._last_good()}"
        log.error(msg)
        if cfg.on_nonfinite == "raise":
            if self.dist is not None:  # raised on every rank together, after this micro-batch
                self._pending_error = NonFiniteGradientError(msg)
                st.request_stop(msg)
                return False
            self.tracker.flush()
            raise NonFiniteGradientError(msg)
        st.request_stop(msg)
        return False

    def _scheduler_steps(self) -> bool:
        """Whether the scheduler is stepped per optimizer step: not a metric scheduler
        (stepped on validation) and not the constant one (whose step would only rewrite
        the same rate; skipping it saves ~20 us a step and leaves a rate set by a technique
        alone). Cached per scheduler object, since a technique may replace it."""
        sch = self.scheduler
        if sch is not self._sched_seen:
            self._sched_seen = sch
            self._sched_step = sch is not None and not is_metric_scheduler(sch) and not is_constant_scheduler(sch)
        return self._sched_step

    def _after_boundary(self) -> None:
        cfg, st = self.config, self.state
        es = st.effective_step
        if es % cfg.log_every_steps == 0:
            self._log_train_row()
        if self.val_data is not None and cfg.eval_every_steps and es % cfg.eval_every_steps == 0:
            self._evaluate_and_log()
        if cfg.checkpoint_dir and cfg.checkpoint_every_steps and es % cfg.checkpoint_every_steps == 0:
            self._save_periodic()
        if cfg.max_steps is not None and es >= cfg.max_steps and not st.stop:
            st.request_stop(f"max_steps={cfg.max_steps} reached")

    def _base_row(self) -> dict[str, Any]:
        st = self.state
        return {"step": st.step, "effective_step": st.effective_step, "epoch": st.epoch,
                "examples_seen": st.examples_seen, "wall_time": round(self._wall_now(), 6), "lr": st.lr}

    def _clock_start(self) -> None:
        self._mark = time.perf_counter()

    def _clock_stop(self) -> None:
        if self._mark is not None:
            self.state.wall_time += time.perf_counter() - self._mark
            self._mark = None

    def _wall_now(self) -> float:
        """Training seconds so far (validation and checkpoint writing excluded)."""
        if self._mark is None:
            return self.state.wall_time
        return self.state.wall_time + (time.perf_counter() - self._mark)

    def _log_train_row(self) -> None:
        row = self._base_row() | self._train_stats() | dict(self.state.counters)
        self.tracker.log(row)

    def _train_stats(self) -> dict[str, float]:
        """Mean training loss and accuracy since the last logged row, plus what each
        technique's ``row_metrics()`` returns (its statistics since the last row, which it
        resets); resets the running sums."""
        stats: dict[str, float] = {}
        if self.dist is not None:  # every rank's examples: one all-reduce per metric row
            self._fold_correct()
            sums = torch.tensor([self._acc_loss_sum, float(self._run_count),
                                 float(self._acc_correct if self._acc_correct is not None else -1),
                                 float(self.state.examples_seen)], dtype=torch.float64,
                                device=self.dist.comm_device)
            minimum = sums[2:3].clone()
            torch.distributed.all_reduce(sums)
            torch.distributed.all_reduce(minimum, op=torch.distributed.ReduceOp.MIN)
            loss_sum, count, correct, seen = sums.tolist()
            if count:
                stats["train_loss"] = loss_sum / count
                if float(minimum) >= 0:
                    stats["train_accuracy"] = correct / count
            stats["examples_seen"] = int(seen)
        elif self._run_count:
            stats["train_loss"] = self._acc_loss_sum / self._run_count
            self._fold_correct()
            if self._acc_correct is not None:
                stats["train_accuracy"] = self._acc_correct / self._run_count
        self._reset_running()
        for t in self.techniques:  # a technique's own running statistics (e.g. a domain loss)
            if callable(getattr(t, "row_metrics", None)):
                stats.update(t.row_metrics())
        return stats

    # ------------------------------------------------------------------ evaluation
    def _evaluate_and_log(self) -> dict[str, float]:
        cfg, st = self.config, self.state
        running = self._mark is not None
        self._clock_stop()
        t0 = time.perf_counter()
        metrics = self.evaluate(self.val_data, prefix="val_")
        st.eval_time += time.perf_counter() - t0
        st.last_eval_step = st.effective_step
        st.metrics.update(metrics)
        self.tracker.log(self._base_row() | metrics | self._train_stats())
        # the row is in state.history before eval_end fires (values logged later at this
        # effective step still merge into it)
        self.tracker.publish_pending()
        if self.scheduler is not None and is_metric_scheduler(self.scheduler):
            # a scheduler that names its metric ("dynamic": val_loss) gets that one;
            # ReduceLROnPlateau gets the config's monitor
            name = getattr(self.scheduler, "monitor", None) or cfg.monitor
            if name not in metrics and name == cfg.monitor:
                name = "val_loss"
            if name not in metrics:
                raise ValueError(f"Trainer: the {type(self.scheduler).__name__} scheduler is stepped with "
                                 f"{name!r}, which the evaluation does not report; it reports {sorted(metrics)}")
            before = st.lr
            self.scheduler.step(metrics[name])
            if st.lr != before:  # counted in the metric rows, as DynamicLR counts its changes
                st.count("lr_increases" if st.lr > before else "lr_decreases")
        self._early_stopping(metrics)
        self._fire(Event.EVAL_END)
        if running:
            self._clock_start()
        return metrics

    def _early_stopping(self, metrics: dict[str, float]) -> None:
        cfg, st = self.config, self.state
        value = metrics.get(cfg.monitor)
        if value is None and (cfg.early_stopping_patience is not None or cfg.restore_best):
            raise ValueError(f"Trainer: TrainingConfig.monitor {cfg.monitor!r} is not reported by the evaluation, "
                             f"so early stopping and restore_best could never act on it; the evaluation "
                             f"reports {sorted(metrics)}")
        if value is None or math.isnan(value):
            return
        sign = 1.0 if cfg.monitor_mode == "max" else -1.0
        if st.best_metric is None or sign * (value - st.best_metric) > cfg.early_stopping_min_delta:
            st.best_metric, st.best_step = float(value), st.effective_step
            st.evals_without_improvement = 0
            if cfg.restore_best:
                self._best_weights = copy.deepcopy(self.model.state_dict())
        else:
            st.evals_without_improvement += 1
            if cfg.early_stopping_patience is not None and st.evals_without_improvement >= cfg.early_stopping_patience:
                cut = ""
                if cfg.schedule == "slanted_triangular" and self.scheduler is not None:
                    lr_now = self.scheduler.get_last_lr()[0]
                    cut = (f"; the slanted_triangular schedule was cut at optimizer step {st.effective_step} of "
                           f"{self.total_steps} (rate {lr_now:.3g}, "
                           f"{lr_now / self.scheduler.base_lrs[0]:.0%} of its peak)")
                st.request_stop(f"early stopping: {cfg.monitor} did not improve by more than "
                                f"{cfg.early_stopping_min_delta} for {st.evals_without_improvement} evaluations "
                                f"(best {st.best_metric:.4f} at effective step {st.best_step}){cut}")

    def _eval_loader(self, data: Dataset, batch_size: int | None = None) -> DataLoader:
        # a private generator: evaluating never consumes the global RNG, so how often a run
        # is evaluated does not change its training (nor exact resume)
        bs = batch_size or self.config.eval_batch_size or max(256, self.config.batch_size)
        return DataLoader(data, batch_size=bs, shuffle=False, collate_fn=self.collate_fn,
                          generator=torch.Generator().manual_seed(0))

    def predict(self, data: Dataset, batch_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Model outputs for every example of ``data``, in data-set order (eval mode, no
        autograd; :func:`~workbench.train.inference.inference_batches`).

        Returns:
            ``(ids, outputs)``: long ``[N]`` and float ``[N, C]`` (on CPU).
        """
        ids, outs = [], []
        for batch, out in inference_batches(self.model, self._eval_loader(data, batch_size),
                                            device=self.device, autocast=self._autocast):
            ids.append(batch["ids"].cpu())
            outs.append(out.float().cpu())
        return torch.cat(ids), torch.cat(outs)

    def evaluate(self, data: Dataset, prefix: str = "") -> dict[str, float]:
        """Mean loss and (for classification) accuracy of the model on ``data`` (eval mode,
        no autograd; :func:`~workbench.train.inference.inference_batches`).

        Returns ``{prefix + "loss": float, prefix + "accuracy": float}`` (accuracy in [0, 1]);
        when ``data`` has ``group_key`` (a batch field holding long group indices ``[B]``) and
        ``group_names``, also ``prefix + "loss/<name>"`` and ``prefix + "accuracy/<name>"``
        per group (NaN for a group without examples), e.g. ``val_accuracy/subj``.

        Under DDP (``strategy`` ``"ddp"`` / ``"zero1"``) every rank evaluates the positions
        ``rank, rank + world_size, ...`` of ``data`` and the sums are all-reduced, so every
        rank returns the metrics of the whole data set; call it on every rank.
        """
        total, loss_sum, correct, classify = 0, 0.0, 0, False
        # per-group metrics: a data set naming a batch field in ``group_key`` (long [B],
        # indices into ``group_names``; e.g. a multi-task data set's "task") also gets
        # prefix + "loss/<name>" and prefix + "accuracy/<name>" per group
        gkey, gnames = getattr(data, "group_key", None), list(getattr(data, "group_names", ()) or ())
        ng = len(gnames) if gkey else 0
        g_loss, g_correct, g_total = torch.zeros(ng, dtype=torch.float64), torch.zeros(ng, dtype=torch.long), \
            torch.zeros(ng, dtype=torch.long)
        shard = data
        if self.dist is not None:
            self._broadcast_buffers()
            shard = torch.utils.data.Subset(data, range(self.dist.rank, len(data), self.dist.world_size))
        for batch, out in inference_batches(self.model, self._eval_loader(shard), device=self.device,
                                            autocast=self._autocast):
            t = batch["targets"]
            losses = self.loss_fn(out, t)
            loss_sum += float(losses.sum())
            hit = None
            if not t.is_floating_point() and out.dim() == 2 and out.shape[1] > 1:
                classify = True
                hit = out.argmax(dim=1) == t
                correct += int(hit.sum())
            total += int(t.shape[0])
            if ng:
                g = batch[gkey].cpu()
                g_loss.index_add_(0, g, losses.detach().double().cpu())
                g_total.index_add_(0, g, torch.ones_like(g))
                if hit is not None:
                    g_correct.index_add_(0, g, hit.long().cpu())
        if self.dist is not None:  # the sums of every rank's shard: one all-reduce
            sums = torch.cat([torch.tensor([loss_sum, correct, total, int(classify)], dtype=torch.float64),
                              g_loss, g_correct.double(), g_total.double()]).to(self.dist.comm_device)
            torch.distributed.all_reduce(sums)
            sums = sums.cpu()
            loss_sum, correct, total, classify = float(sums[0]), int(sums[1]), int(sums[2]), bool(sums[3])
            g_loss, g_correct, g_total = sums[4:4 + ng], sums[4 + ng:4 + 2 * ng].long(), sums[4 + 2 * ng:].long()
        metrics = {prefix + "loss": loss_sum / max(total, 1)}
        if classify:
            metrics[prefix + "accuracy"] = correct / max(total, 1)
        for i, name in enumerate(gnames[:ng]):
            n = int(g_total[i])
            metrics[f"{prefix}loss/{name}"] = float(g_loss[i]) / n if n else math.nan
            if classify:
                metrics[f"{prefix}accuracy/{name}"] = int(g_correct[i]) / n if n else math.nan
        return metrics

    # ------------------------------------------------------------------ checkpoints
    def checkpoint_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly: model, optimizer, scheduler, sampler,
        techniques, RNG states, counters, metric rows, config, and the accumulation window in
        progress (``"window"``: the partial gradients, in the optimizer's parameter order,
        and the running training-loss sums). Plain values and tensors only.

        Under DDP call it on every rank (it gathers): rank 0 gets the dict, with the
        optimizer state consolidated from every rank's ZeRO shard
        (``ZeroRedundancyOptimizer.consolidate_state_dict``), each rank's RNG states
        (``"rng_ranks"``) and accumulation window (``"window_ranks"``, its gradients are
        local under ``no_sync``) and ``"world_size"``; the other ranks get None."""
        if self.dist is not None:
            return self._checkpoint_dict_ddp()
        return self._checkpoint_fields(ckpt.capture_rng_state(), self._window_state())

    def _checkpoint_fields(self, rng: Any, window: Any) -> dict[str, Any]:
        """The checkpoint's fields, with this process's (or rank 0's) RNG and window state."""
        sampler = self.batch_sampler if self.batch_sampler is not None else self.sampler
        return {
            "format": ckpt.FORMAT,
            "version": ckpt.VERSION,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict() if self.scheduler is not None else None,
            "sampler": sampler.state_dict() if hasattr(sampler, "state_dict") else None,
            "techniques": {t.name: t.state_dict() for t in self.techniques},
            "rng": rng,
            "state": self.state.counters_dict(),
            "metrics": self.tracker.state_dict(),
            "config": self.config.to_dict(),
            "window": window,
        }

    def _checkpoint_dict_ddp(self) -> dict[str, Any] | None:
        if wdist.is_zero(self.optimizer):  # a collective: every rank sends its shard to rank 0
            self.optimizer.consolidate_state_dict(to=0)
        mine = {"rng": ckpt.capture_rng_state(), "window": _to_cpu(self._window_state())}
        every: list[Any] = [None] * self.dist.world_size
        torch.distributed.all_gather_object(every, mine)
        if not self._is_main:
            return None
        return {**self._checkpoint_fields(every[0]["rng"], every[0]["window"]),
                "world_size": self.dist.world_size,
                "rng_ranks": [e["rng"] for e in every],
                "window_ranks": [e["window"] for e in every]}

    def _window_state(self) -> dict[str, Any]:
        self._fold_correct()
        open_ = not self._zero_grad_pending  # a window has begun and not reached its step
        grads = [p.grad.detach() if open_ and p.grad is not None else None
                 for g in self.optimizer.param_groups for p in g["params"]]
        return {"open": open_, "grads": grads if open_ else None, "nonfinite": self._window_nonfinite,
                "loss_sum": float(self._acc_loss_sum), "count": int(self._run_count),
                "correct": self._acc_correct}

    def _load_window(self, win: dict[str, Any] | None, path: Path) -> None:
        self._reset_running()
        self._window_nonfinite = False
        self._zero_grad_pending = True
        self.optimizer.zero_grad(set_to_none=True)
        if not win:  # a checkpoint from before windows were saved
            return
        self._acc_loss_sum, self._run_count = float(win["loss_sum"]), int(win["count"])
        self._acc_correct = None if win["correct"] is None else int(win["correct"])
        self._window_nonfinite = bool(win["nonfinite"])
        if win["open"]:
            params = [p for g in self.optimizer.param_groups for p in g["params"]]
            if len(win["grads"]) != len(params):
                raise ckpt.CheckpointError(f"{path}: the checkpoint holds gradients for {len(win['grads'])} "
                                           f"parameters; this optimizer has {len(params)}")
            for p, g in zip(params, win["grads"]):
                p.grad = None if g is None else g.to(device=p.device, dtype=p.dtype)
            self._zero_grad_pending = False

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write a checkpoint atomically to ``path``; returns the path.

        Call it between micro-batches: from ``batch_end``, ``step_end``, ``eval_end``,
        ``epoch_end`` or ``fit_end`` handlers, or after :meth:`fit`. Inside an accumulation
        window the partial gradients are saved too, so resuming there is exact. Stale
        temporary files of killed writers in the folder are removed
        (:func:`~workbench.train.checkpoint.remove_stale_temp_files`).

        Raises:
            NonFiniteWeightsError: the model's weights hold NaN/Inf (nothing is written).
            RuntimeError: called inside a micro-batch (``batch_start`` to
                ``after_backward``), where the gradients and the counters disagree.
            CheckpointWriteError: the file system refused the write (disk full, read-only
                folder): the message names the path and the cause.
        """
        if self._in_micro_batch:
            raise RuntimeError("Trainer.save_checkpoint: called inside a micro-batch (between its batch_start "
                               "and batch_end events), where the gradients and the step counters disagree; "
                               "save from batch_end, step_end, eval_end, epoch_end or fit_end, or after fit()")
        bad = ckpt.nonfinite_tensors(self.model.state_dict())
        if bad:
            raise NonFiniteWeightsError(
                f"refusing to write checkpoint {path}: the model's weights hold NaN/Inf in {_names(bad)} "
                f"(effective step {self.state.effective_step}); {self._last_good()}")
        running = self._mark is not None
        self._clock_stop()
        t0 = time.perf_counter()
        self._ensure_scheduler()
        try:
            if self.dist is None:
                path = ckpt.atomic_save(self.checkpoint_dict(), path)
            else:
                path = self._save_ddp(path)
        finally:
            self.state.checkpoint_time += time.perf_counter() - t0
            if running:
                self._clock_start()
        self.last_checkpoint = path
        return path

    def _save_ddp(self, path: str | Path) -> Path:
        """Rank 0 writes; every rank learns whether it could (a write error raises on every
        rank, so none is left waiting in a collective)."""
        data = self.checkpoint_dict()
        error: list[Any] = [None]
        if self._is_main:
            try:
                path = ckpt.atomic_save(data, path)
            except Exception as exc:
                error = [(getattr(exc, "errno", None) or 5, getattr(exc, "strerror", None) or str(exc), str(path))]
                raise
            finally:
                torch.distributed.broadcast_object_list(error, src=0)
        else:
            torch.distributed.broadcast_object_list(error, src=0)
            if error[0] is not None:
                err = ckpt.CheckpointWriteError(error[0][0], f"rank 0: {error[0][1]}")
                err.filename = error[0][2]
                raise err
        return Path(path)

    def _save_periodic(self) -> None:
        path = ckpt.step_checkpoint_path(self.config.checkpoint_dir, self.state.effective_step)
        try:
            self.save_checkpoint(path)
        except NonFiniteWeightsError as exc:
            msg = f"{exc}. Training stopped"
            log.error(msg)
            if self.config.on_nonfinite == "raise":
                self.tracker.flush()
                raise NonFiniteWeightsError(msg) from None
            self.state.request_stop(msg)  # "stop", and "skip" too: no later step can help
            return
        if self._is_main:
            ckpt.prune_checkpoints(self.config.checkpoint_dir, self.config.keep_checkpoints)

    def load_checkpoint(self, path: str | Path) -> State:
        """Restore a checkpoint written by :meth:`save_checkpoint`; the next :meth:`fit`
        continues exactly where it stopped (mid-epoch included).

        ``path`` may be a file or a folder (its newest ``step-*.pt`` whose weights are
        finite is used; newer ones with NaN/Inf weights are skipped with a warning).

        Raises:
            CheckpointError: unreadable file, pickled objects, weights holding NaN/Inf, or
                a mismatch (technique names, model keys, parameter count) with this Trainer.
        """
        path = Path(path)
        if path.is_dir():
            found = ckpt.list_checkpoints(path)
            if not found:
                raise ckpt.CheckpointError(f"no step-*.pt checkpoint in {path}")
            for cand in reversed(found):
                data = ckpt.load_checkpoint_file(cand, map_location=self.device)
                bad = ckpt.nonfinite_tensors(data["model"])
                if not bad:
                    path = cand
                    break
                log.warning("skipping checkpoint %s: its weights hold NaN/Inf in %s", cand, _names(bad))
            else:
                raise ckpt.CheckpointError(f"every step-*.pt checkpoint in {path} holds NaN/Inf weights")
        else:
            data = ckpt.load_checkpoint_file(path, map_location=self.device)
            bad = ckpt.nonfinite_tensors(data["model"])
            if bad:
                raise ckpt.CheckpointError(f"{path}: the model weights hold NaN/Inf in {_names(bad)}; "
                                           f"training cannot resume from it")
        # the processes that wrote it and those that resume: each rank takes its own RNG
        # states and accumulation window when the numbers agree, else rank 0's
        world = self.dist.world_size if self.dist is not None else 1
        rank = self.dist.rank if self.dist is not None else 0
        saved_world = int(data.get("world_size", 1))
        same_world = saved_world == world and "rng_ranks" in data
        window = data["window_ranks"][rank] if same_world else data.get("window")
        if saved_world != world and any(w and w.get("open") for w in data.get("window_ranks", [data.get("window")])):
            raise ckpt.CheckpointError(
                f"{path}: the checkpoint was written inside an accumulation window by {saved_world} "
                f"process(es), whose partial gradients are per process; resume it with {saved_world} "
                f"process(es), or use a checkpoint written at an optimizer step")
        try:
            self.model.load_state_dict(data["model"])
        except RuntimeError as exc:
            raise ckpt.CheckpointError(f"{path}: model weights do not fit this model: {exc}") from exc
        # build the scheduler first: its constructor writes the initial lr into the optimizer,
        # which the optimizer state loaded next overwrites with the lr of the saved step
        self._ensure_scheduler()
        self.optimizer.load_state_dict(data["optimizer"])
        if data["scheduler"] is not None and self.scheduler is not None:
            self.scheduler.load_state_dict(data["scheduler"])
        sampler = self.batch_sampler if self.batch_sampler is not None else self.sampler
        if data["sampler"] is not None and hasattr(sampler, "load_state_dict"):
            sampler.load_state_dict(data["sampler"])
        saved = data["techniques"]
        mine = {t.name for t in self.techniques}
        if set(saved) != mine:
            raise ckpt.CheckpointError(
                f"{path}: checkpoint has techniques {sorted(saved)}, this Trainer has {sorted(mine)}")
        for t in self.techniques:
            t.load_state_dict(saved[t.name])
        self.state.load_counters(data["state"])
        self.tracker.load_state_dict(data["metrics"])
        self.state.history = self.tracker.rows
        ckpt.restore_rng_state(data["rng_ranks"][rank] if same_world else data["rng"])
        self._load_window(window, path)
        self._in_micro_batch = False
        self._resumed = True
        self.last_checkpoint = path
        return self.state


def _check_input(task: TaskSpec, split: str, item: dict[str, Any]) -> None:
    x, ex = item["input"], item["id"]
    where = f"Trainer: {split} data, example id {ex}, field 'input'"
    if not isinstance(x, torch.Tensor):
        raise ValueError(f"{where}: expected a tensor, got {type(x).__name__}")
    if task.modality == "text":
        if x.dtype != torch.long or x.dim() != 1:
            raise ValueError(f"{where}: text inputs must be 1-D torch.long token ids; got shape "
                             f"{tuple(x.shape)} dtype {x.dtype}")
        if task.vocab_size is not None and len(x) and (int(x.max()) >= task.vocab_size or int(x.min()) < 0):
            raise ValueError(f"{where}: token ids must lie in [0, {task.vocab_size}); got "
                             f"[{int(x.min())}, {int(x.max())}]")
    else:
        if not x.is_floating_point():
            raise ValueError(f"{where}: {task.modality} inputs must be floating point; got dtype {x.dtype}")
        shape = tuple(x.shape)
        want = tuple(task.input_shape)
        if task.modality == "vision":
            # the vision collator converts grayscale <-> RGB, so 1 or 3 channels both fit
            ok = (len(shape) == 2 and shape == want[1:]) or (
                len(shape) == 3 and shape[1:] == want[1:] and shape[0] in {1, 3, want[0]})
        else:
            ok = shape == want
        if not ok:
            raise ValueError(f"{where}: expected shape {want} (TaskSpec.input_shape); got {shape}")


def _to_cpu(x: Any) -> Any:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    if isinstance(x, dict):
        return {k: _to_cpu(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_to_cpu(v) for v in x]
    return x


def _names(names: list[str], limit: int = 5) -> str:
    """``'a', 'b' and 3 more``: the first ``limit`` names of a list, for messages."""
    head = ", ".join(repr(n) for n in names[:limit])
    return head + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)


_NULL_CONTEXT = nullcontext()
#: training logits kept for the running accuracy before they are scored (4 MiB of float32)
_ACC_MAX_NUMEL = 1 << 20
#: gradients of at most this many values in all take the fused finiteness check (see
#: ``Trainer._grads_finite``); larger ones a read-only sum per tensor
_FUSED_CHECK_MAX_NUMEL = 1 << 18


def _progress(iterable: Iterable[Any], enabled: bool, desc: str, total: int):
    if not enabled:
        return iterable
    from tqdm.auto import tqdm

    return tqdm(iterable, desc=desc, total=total, leave=False, dynamic_ncols=True)
