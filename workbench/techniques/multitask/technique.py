"""Loop techniques of multi-task learning: the loss weightings and the task scheduling.

Batches carry ``batch["task"]`` (long ``[B]``); the :class:`MultiTaskModel` returns each
example's own task's logits, so the Trainer's per-example loss is already each example's
task loss. A weighting technique turns it into ``sum_i w_i L_i`` (``L_i`` the mean loss of
task ``i``'s examples in the batch) by setting ``state.loss_weights`` at ``after_forward``
(:func:`~workbench.techniques.multitask.weighting.example_weights`). Every weighting
records its task weights at each evaluation in ``trace`` (``[[effective_step, w_1, ...,
w_K], ...]``) for plots.

- :class:`EqualWeighting`: ``w_i = 1``.
- :class:`UncertaintyWeighting` (Kendall et al. 2018): learnable log-variances ``s``,
  listed in :meth:`~UncertaintyWeighting.param_groups` so the Trainer adds them to its
  optimizer (no weight decay) and checkpoints them; loss ``sum_i exp(-s_i) L_i + s_i``.
- :class:`GradNormWeighting` (Chen et al. 2018): per batch, the gradient norm of each
  present task's loss on the model's last shared layer (``model.last_shared_layer()``);
  the latest losses and norms of every task feed one GradNorm step per batch once every
  task has been seen; the weights persist across batches (never re-initialised).
- :class:`DWAWeighting` (Liu et al. 2019): epoch-mean task losses, weights recomputed at
  every epoch's end; equal in the first two epochs.
- :class:`TaskScheduling`: drives a :class:`~workbench.techniques.multitask.samplers.TaskSampler`
  (exposed as ``.sampler``); with the ``"performance"`` schedule it feeds each evaluation's
  ``val_accuracy/<task>`` to the sampler.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from workbench.techniques.multitask.samplers import SCHEDULES, TaskSampler
from workbench.techniques.multitask.weighting import (
    dwa_weights,
    example_weights,
    gradnorm_step,
    task_losses,
)
from workbench.train.events import Event, Technique


def _task_names(splits: Any) -> list[str]:
    names = getattr(splits, "task_names", None)
    if not names:
        raise ValueError("a multi-task technique needs MultiTaskSplits (from multitask_splits), with task_names")
    return list(names)


def _batch_tasks(state: Any, num_tasks: int) -> torch.Tensor:
    tasks = state.batch.get("task") if isinstance(state.batch, dict) else None
    if tasks is None:
        raise ValueError("multi-task weighting: the batch has no 'task' field; train on a MultiTaskDataset "
                         "(workbench.techniques.multitask.multitask_splits)")
    return tasks


class TaskWeighting(Technique):
    """Base of the loss weightings: weights ``[K]`` applied per task at ``after_forward``.

    Args:
        task_names: the tasks, in the data set's task order (>= 1 name).

    Raises:
        ValueError: no task names.
    """

    events = frozenset({Event.AFTER_FORWARD, Event.EVAL_END})

    def __init__(self, task_names: Sequence[str]) -> None:
        super().__init__()
        self.task_names = [str(n) for n in task_names]
        if not self.task_names:
            raise ValueError("task_names must list at least one task; got none")
        self.weights = torch.ones(len(self.task_names))
        self.trace: list[list[float]] = []

    @property
    def num_tasks(self) -> int:
        """Number of tasks ``T`` the weights cover (int)."""
        return len(self.task_names)

    @classmethod
    def default(cls, splits: Any, **overrides: Any) -> TaskWeighting:
        """A default instance for multi-task ``splits`` (see :meth:`Technique.default`); ``overrides`` replace constructor arguments (invalid ones raise ``ValueError``)."""
        return cls(**({"task_names": _task_names(splits)} | overrides))

    def current_weights(self) -> torch.Tensor:
        """The task weights now in force: float ``[K]`` (detached, CPU)."""
        return self.weights.detach().float().cpu()

    def task_weight_table(self) -> dict[str, float]:
        """``{task: weight}`` now."""
        return dict(zip(self.task_names, self.current_weights().tolist()))

    def _apply(self, state: Any, weights: torch.Tensor) -> None:
        tasks = _batch_tasks(state, self.num_tasks)
        state.loss_weights = example_weights(tasks, weights.to(tasks.device))

    def on_after_forward(self, state: Any) -> None:
        self._apply(state, self.weights)

    def on_eval_end(self, state: Any) -> None:
        self.trace.append([float(state.effective_step)] + self.current_weights().tolist())

    def state_dict(self) -> dict[str, Any]:
        return {"weights": self.weights.detach().clone().cpu(), "trace": [list(r) for r in self.trace]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.weights.copy_(state["weights"])
        self.trace = [list(r) for r in state["trace"]]


class EqualWeighting(TaskWeighting):
    """Equal weighting: ``sum_i L_i`` (LibMTL's ``EW``; Kurin et al. 2022 and Xin et al.
    2022 find it often matches the specialised weightings). On a batch of one task this is
    the plain mean loss."""

    name = "equal_weighting"


class UncertaintyWeighting(TaskWeighting):
    """Kendall, Gal & Cipolla (2018): ``sum_i exp(-s_i) L_i + s_i``, learnable ``s_i = log sigma_i^2``.

    ``log_vars`` (an ``nn.Parameter [K]``, initial ``init_log_var``) is returned by
    :meth:`param_groups`; the Trainer adds it to its optimizer (same optimizer and learning
    rate as the model, no weight decay) and moves it to its device. Its values are in this
    technique's ``state_dict`` and its optimizer state in the Trainer's checkpoint.
    ``weights`` reports ``exp(-s_i)``.

    Args:
        task_names: the tasks.
        init_log_var: initial ``s_i`` (finite; 0: weight 1).

    Raises:
        ValueError: no task names, non-finite ``init_log_var``.
    """

    name = "uncertainty_weighting"
    events = frozenset({Event.AFTER_FORWARD, Event.BEFORE_BACKWARD, Event.EVAL_END})

    def __init__(self, task_names: Sequence[str], init_log_var: float = 0.0) -> None:
        super().__init__(task_names)
        if not isinstance(init_log_var, (int, float)) or not math.isfinite(init_log_var):
            raise ValueError(f"init_log_var must be a finite number; got {init_log_var!r}")
        self.log_vars = torch.nn.Parameter(torch.full((self.num_tasks,), float(init_log_var)))
        self._present: torch.Tensor | None = None

    def param_groups(self) -> list[dict[str, Any]]:
        """``[{"params": [log_vars], "weight_decay": 0.0}]`` for the optimizer."""
        return [{"params": [self.log_vars], "weight_decay": 0.0}]

    def current_weights(self) -> torch.Tensor:
        """The current task weights ``exp(-s_i)``: float ``[K]`` (detached, CPU; Kendall et al. 2018)."""
        return torch.exp(-self.log_vars.detach()).float().cpu()

    def on_after_forward(self, state: Any) -> None:
        tasks = _batch_tasks(state, self.num_tasks)
        s = self.log_vars
        state.loss_weights = example_weights(tasks, torch.exp(-s))  # differentiable in s
        self._present = torch.bincount(tasks, minlength=self.num_tasks) > 0

    def on_before_backward(self, state: Any) -> None:
        if self._present is None:
            return
        reg = (self.log_vars * self._present.to(self.log_vars.dtype)).sum()
        accum = state.config.grad_accum_steps
        state.loss = state.loss + (reg / accum if accum > 1 else reg)
        self._present = None

    def state_dict(self) -> dict[str, Any]:
        return {"log_vars": self.log_vars.detach().clone().cpu(), "trace": [list(r) for r in self.trace]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.log_vars.copy_(state["log_vars"])
        self.trace = [list(r) for r in state["trace"]]


class GradNormWeighting(TaskWeighting):
    """GradNorm (Chen, Badrinarayanan, Lee & Rabinovich 2018), applied to the last shared layer.

    At every micro-batch: the mean loss ``L_i`` of each task present and the norm
    ``g_i = ||grad_W L_i||`` on the model's last shared layer ``W``
    (``state.model.last_shared_layer()``, e.g. Kim CNN's convolutions; one extra partial
    backward per task present) are stored; ``L_i(0)`` is the task's first loss. The batch
    is weighted with the current weights; then, once every task has been seen, one
    :func:`~workbench.techniques.multitask.weighting.gradnorm_step` with the latest
    ``L_i``, ``g_i`` moves the weights (renormalised to sum to ``K``). The weights are
    kept across batches and in the checkpoint (the known trap: re-initialising them every
    batch).

    Args:
        task_names: the tasks.
        alpha: restoring-force strength (>= 0; 1.5 as in LibMTL's default).
        lr: step size of the weight update (> 0; default 0.025).

    Raises:
        ValueError: an argument outside its range.
    """

    name = "gradnorm_weighting"

    def __init__(self, task_names: Sequence[str], alpha: float = 1.5, lr: float = 0.025) -> None:
        super().__init__(task_names)
        if not isinstance(alpha, (int, float)) or not alpha >= 0 or not math.isfinite(alpha):
            raise ValueError(f"alpha must be a finite number >= 0; got {alpha!r}")
        if not isinstance(lr, (int, float)) or not lr > 0 or not math.isfinite(lr):
            raise ValueError(f"lr must be a finite number > 0; got {lr!r}")
        self.alpha, self.lr = float(alpha), float(lr)
        k = self.num_tasks
        self.grad_norms = torch.zeros(k)
        self.losses = torch.zeros(k)
        self.initial_losses = torch.zeros(k)
        self.seen = torch.zeros(k, dtype=torch.bool)

    def on_after_forward(self, state: Any) -> None:
        tasks = _batch_tasks(state, self.num_tasks)
        losses, counts = task_losses(state.per_example_loss, tasks, self.num_tasks)
        shared = [p for p in state.model.last_shared_layer() if p.requires_grad]
        present = [i for i, c in enumerate(counts.tolist()) if c > 0]
        weights = self.weights.clone()
        if shared and losses.requires_grad:
            for i in present:
                grads = torch.autograd.grad(losses[i], shared, retain_graph=True, allow_unused=True)
                sq = sum(float(g.detach().float().pow(2).sum()) for g in grads if g is not None)
                self.grad_norms[i] = math.sqrt(sq)
                li = float(losses[i].detach())
                self.losses[i] = li
                if not bool(self.seen[i]):
                    self.initial_losses[i] = max(li, 1e-12)
                    self.seen[i] = True
        self._apply(state, weights)
        if bool(self.seen.all()):
            self.weights, _ = gradnorm_step(self.weights, self.grad_norms, self.losses, self.initial_losses,
                                            self.alpha, self.lr)

    def state_dict(self) -> dict[str, Any]:
        return super().state_dict() | {"grad_norms": self.grad_norms.clone(), "losses": self.losses.clone(),
                                       "initial_losses": self.initial_losses.clone(), "seen": self.seen.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.weights = self.weights.clone()
        for k in ("grad_norms", "losses", "initial_losses", "seen"):
            setattr(self, k, state[k].clone())


class DWAWeighting(TaskWeighting):
    """Dynamic weight average (Liu, Johns & Davison 2019).

    Per-example losses are summed per task through the epoch; at ``epoch_end`` the epoch's
    mean task losses join ``loss_history`` and the next epoch's weights are
    :func:`~workbench.techniques.multitask.weighting.dwa_weights` (equal in the first two
    epochs; a task absent from an epoch keeps its previous mean).

    Args:
        task_names: the tasks.
        temperature: ``T > 0`` (2 as in the paper and LibMTL).

    Raises:
        ValueError: ``temperature <= 0``.
    """

    name = "dwa_weighting"
    events = frozenset({Event.AFTER_FORWARD, Event.EPOCH_END, Event.EVAL_END})

    def __init__(self, task_names: Sequence[str], temperature: float = 2.0) -> None:
        super().__init__(task_names)
        if not isinstance(temperature, (int, float)) or not temperature > 0 or not math.isfinite(temperature):
            raise ValueError(f"temperature must be a finite number > 0; got {temperature!r}")
        self.temperature = float(temperature)
        self.loss_sums = torch.zeros(self.num_tasks, dtype=torch.float64)
        self.counts = torch.zeros(self.num_tasks, dtype=torch.long)
        self.loss_history: list[list[float]] = []

    def on_after_forward(self, state: Any) -> None:
        tasks = _batch_tasks(state, self.num_tasks)
        pel = state.per_example_loss.detach().double()
        if self.loss_sums.device != pel.device:
            self.loss_sums, self.counts = self.loss_sums.to(pel.device), self.counts.to(pel.device)
        self.loss_sums.index_add_(0, tasks, pel)
        self.counts.index_add_(0, tasks, torch.ones_like(tasks))
        self._apply(state, self.weights)

    def on_epoch_end(self, state: Any) -> None:
        sums, counts = self.loss_sums.cpu(), self.counts.cpu()
        prev = self.loss_history[-1] if self.loss_history else [float("nan")] * self.num_tasks
        means = [float(s) / int(c) if int(c) else p for s, c, p in zip(sums.tolist(), counts.tolist(), prev)]
        self.loss_history.append(means)
        self.weights = dwa_weights(self.loss_history[-2:], self.temperature)
        self.loss_sums.zero_()
        self.counts.zero_()

    def state_dict(self) -> dict[str, Any]:
        return super().state_dict() | {"loss_sums": self.loss_sums.clone().cpu(), "counts": self.counts.clone().cpu(),
                                       "loss_history": [list(r) for r in self.loss_history]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.loss_sums, self.counts = state["loss_sums"].clone(), state["counts"].clone()
        self.loss_history = [list(r) for r in state["loss_history"]]


class TaskScheduling(Technique):
    """Which task each batch comes from: builds and drives a :class:`TaskSampler`
    (``.sampler``: pass it to the Trainer's ``sampler=``).

    With ``schedule="performance"``, each evaluation's ``<metric>/<task>`` (default
    ``val_accuracy/<task>``) updates the sampler's probabilities for the next epoch.

    Args:
        data: the training :class:`~workbench.techniques.multitask.data.MultiTaskDataset`.
        batch_size: the Trainer's batch size (>= 1).
        schedule: ``"round_robin"``, ``"proportional"`` or ``"performance"``.
        temperature: see :class:`TaskSampler`.
        targets: ``{task: target}`` or a list in task order (``"performance"`` only).
        metric: the evaluation metric read per task (``"val_accuracy"``).
        seed: sampler seed (>= 0).

    Raises:
        ValueError: an argument outside its range (named in the message).
    """

    name = "task_scheduling"
    events = frozenset({Event.EVAL_END})

    def __init__(self, data: Any, batch_size: int, schedule: str = "round_robin", temperature: float | None = None,
                 targets: Any = None, metric: str = "val_accuracy", seed: int = 0) -> None:
        super().__init__()
        names = list(getattr(data, "task_names", []))
        if not names:
            raise ValueError("data must be a MultiTaskDataset (with task_names)")
        if schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}; got {schedule!r}")
        if isinstance(targets, dict):
            missing = [n for n in names if n not in targets]
            if missing:
                raise ValueError(f"targets has no value for tasks {missing}")
            targets = [float(targets[n]) for n in names]
        self.task_names, self.metric = names, str(metric)
        self.sampler = TaskSampler(data, batch_size, schedule, temperature, targets, seed)

    @classmethod
    def default(cls, splits: Any, **overrides: Any) -> TaskScheduling:
        """A default instance for multi-task ``splits`` (see :meth:`Technique.default`); ``overrides`` replace constructor arguments (invalid ones raise ``ValueError``)."""
        args = {"data": splits.train, "batch_size": 50, "schedule": "round_robin"} | overrides
        if args.get("schedule") == "performance" and args.get("targets") is None:
            args["targets"] = [0.8] * len(_task_names(splits))
        return cls(**args)

    def on_eval_end(self, state: Any) -> None:
        vals = [state.metrics.get(f"{self.metric}/{n}", math.nan) for n in self.task_names]
        self.sampler.update_performance(vals, "min" if self.metric.endswith("loss") else "max")

    def state_dict(self) -> dict[str, Any]:
        return {"sampler": self.sampler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.sampler.load_state_dict(state["sampler"])
