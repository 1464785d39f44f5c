"""The :class:`State` object: everything a technique may read or change during training."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch


@dataclass
class State:
    """Mutable training state shared by the Trainer and techniques.

    Tensors (per batch; ``B`` = examples in the current micro-batch):

    - ``batch``: dict from the collator (``ids`` long [B], ``inputs``, ``targets``, ...).
      Replace it in ``batch_start`` to change what is trained on.
    - ``outputs``: model outputs (logits float [B, C]).
    - ``per_example_loss``: float [B], loss of each example (reduction ``"none"``).
    - ``loss_weights``: float [B] or None; the loss backpropagated is
      ``sum(loss_weights * per_example_loss) / B`` (None means all ones). Zero weights
      drop examples; set it in ``after_forward``.
    - ``loss``: the scalar backpropagated, already divided by ``grad_accum_steps``; it may
      be replaced in ``before_backward``.
    - ``skip_backward``: set True in ``after_forward`` to skip this micro-batch's backward
      pass (counted in ``counters["backward_skipped"]``).

    Counters (all cumulative over the fit and restored by a checkpoint):

    - ``step``: micro-batches processed; ``effective_step``: optimizer steps taken;
    - ``epoch``: current epoch (0-based); ``batch_in_epoch``: micro-batches done in it;
    - ``examples_seen``: examples forwarded in training;
    - ``wall_time``: seconds spent training (forward, backward, optimizer, data loading
      and technique handlers), excluding validation and checkpoint writing, which are
      in ``eval_time`` and ``checkpoint_time``;
    - ``counters``: named counts techniques add to (``examples_skipped``,
      ``backward_skipped``, ...); the Trainer adds ``steps_skipped_nonfinite`` (optimizer
      steps dropped for a NaN/Inf loss or gradient, ``on_nonfinite="skip"``).

    Control: set ``stop = True`` (and ``stop_reason``) to end training after the current
    micro-batch. ``metrics`` holds the last validation results; ``history`` the rows
    written by the metrics tracker: while ``eval_end`` and ``epoch_end`` handlers run,
    ``history[-1]`` is the row of the current effective step, with the evaluation's metrics
    and the training loss and accuracy since the previous row.
    """

    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    config: Any
    scheduler: Any = None
    task: Any = None
    batch: dict[str, Any] | None = None
    outputs: torch.Tensor | None = None
    _per_example_loss: torch.Tensor | None = field(default=None, repr=False)
    _per_example_loss_fn: Any = field(default=None, repr=False)
    loss_weights: torch.Tensor | None = None
    loss: torch.Tensor | None = None
    skip_backward: bool = False
    step: int = 0
    effective_step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    examples_seen: int = 0
    wall_time: float = 0.0
    eval_time: float = 0.0
    checkpoint_time: float = 0.0
    metrics: dict[str, float] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    stop: bool = False
    stop_reason: str = ""
    best_metric: float | None = None
    best_step: int | None = None
    evals_without_improvement: int = 0
    #: effective step of the last validation (None before the first): a step evaluated by
    #: ``eval_every_steps`` is not evaluated again when it also ends an epoch
    last_eval_step: int | None = None
    counters: dict[str, int] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    #: this process's rank and the number of processes (``strategy`` "ddp" / "zero1"; 0 and 1
    #: in one process). Under DDP ``examples_seen`` and ``counters`` count this rank's
    #: examples; metric rows carry ``examples_seen`` summed over the ranks.
    rank: int = 0
    world_size: int = 1

    @property
    def lr(self) -> float:
        """Learning rate of the optimizer's first parameter group."""
        return float(self.optimizer.param_groups[0]["lr"])

    def request_stop(self, reason: str) -> None:
        """Ask the Trainer to stop after the current micro-batch."""
        self.stop = True
        self.stop_reason = reason

    @property
    def per_example_loss(self) -> torch.Tensor | None:
        """float ``[B]``: the loss of each example of the current micro-batch (with grad).

        Computed on first access in a step (from ``outputs`` and the batch's targets) and
        then kept; when no technique reads it before the backward pass, the Trainer
        backpropagates the fused batch mean instead (the same value, one autograd node).
        """
        if self._per_example_loss is None and self._per_example_loss_fn is not None:
            self._per_example_loss = self._per_example_loss_fn()
        return self._per_example_loss

    @per_example_loss.setter
    def per_example_loss(self, value: torch.Tensor | None) -> None:
        self._per_example_loss = value
        self._per_example_loss_fn = None

    def _defer_per_example_loss(self, fn: Any) -> None:
        """Set ``per_example_loss`` to be computed by ``fn()`` when first read."""
        self._per_example_loss = None
        self._per_example_loss_fn = fn

    @property
    def per_example_loss_computed(self) -> bool:
        """Whether ``per_example_loss`` exists for this micro-batch (was read or set)."""
        return self._per_example_loss is not None

    def count(self, name: str, n: int = 1) -> None:
        """Add ``n`` to ``counters[name]``."""
        self.counters[name] = self.counters.get(name, 0) + int(n)

    def counters_dict(self) -> dict[str, Any]:
        """The counters a checkpoint stores (plain Python values)."""
        return {
            "step": self.step,
            "effective_step": self.effective_step,
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "examples_seen": self.examples_seen,
            "wall_time": self.wall_time,
            "eval_time": self.eval_time,
            "checkpoint_time": self.checkpoint_time,
            "best_metric": self.best_metric,
            "best_step": self.best_step,
            "evals_without_improvement": self.evals_without_improvement,
            "last_eval_step": self.last_eval_step,
            "counters": dict(self.counters),
            "metrics": dict(self.metrics),
        }

    def load_counters(self, d: dict[str, Any]) -> None:
        """Inverse of :meth:`counters_dict`."""
        for k in ("step", "effective_step", "epoch", "batch_in_epoch", "examples_seen",
                  "evals_without_improvement"):
            setattr(self, k, int(d[k]))
        for k in ("wall_time", "eval_time", "checkpoint_time"):
            setattr(self, k, float(d[k]))
        self.best_metric = None if d["best_metric"] is None else float(d["best_metric"])
        self.best_step = None if d["best_step"] is None else int(d["best_step"])
        last = d.get("last_eval_step")  # absent in checkpoints written before it existed
        self.last_eval_step = None if last is None else int(last)
        self.counters = {k: int(v) for k, v in d["counters"].items()}
        self.metrics = {k: float(v) for k, v in d["metrics"].items()}
