"""Task scheduling: which task each batch comes from.

:class:`TaskSampler` is a ``torch.utils.data.Sampler`` over a
:class:`~workbench.techniques.multitask.data.MultiTaskDataset` that yields positions in
blocks of ``batch_size``, each block from one task, so every batch of a DataLoader with
that batch size holds one task (a batch that straddles two tasks, with another batch size,
still trains correctly: the model routes every example to its own head). The schedules:

- ``"round_robin"``: tasks in turn, batch by batch (each task the same number of batches);
- ``"proportional"``: each batch's task drawn with probability ``p_i ∝ n_i^(1/T)``
  (``n_i`` training examples; temperature ``T = 1`` is proportional to data size, larger
  ``T`` flattens towards uniform: the temperature sampling of Arivazhagan et al. 2019,
  "Massively Multilingual Neural Machine Translation in the Wild"). pros_cons has 4.5x
  the examples of SUBJ or MR and, at ``T = 1``, gets 70% of the batches;
- ``"performance"``: ``p_i ∝ exp(gap_i / T)`` with ``gap_i = max(0, target_i - metric_i)``
  (the task furthest below its target is drawn most often; uniform before the first
  evaluation and once every task is at its target). Evaluations update the
  probabilities through :meth:`TaskSampler.update_performance`; they take effect at the
  next epoch, so an epoch's order never changes once it has begun.

Within an epoch of ``num_batches`` batches (default: ``sum_i ceil(n_i / batch_size)``, one
pass over the data on average), each task's examples are drawn from its own stream of
seeded permutations (a new one whenever the task's examples are used up). The order of an
epoch is a pure function of ``(seed, epoch, probabilities)``: the sampler is resumable
mid-epoch like :class:`~workbench.data.samplers.ResumableRandomSampler` (``set_epoch``,
``state_dict``, ``load_state_dict``; the Trainer skips the consumed batches).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import torch
from torch.utils.data import Sampler

#: the task schedules
SCHEDULES = ("round_robin", "proportional", "performance")


def proportional_probabilities(sizes: Sequence[int], temperature: float = 1.0) -> torch.Tensor:
    """``p_i = n_i^(1/T) / sum_j n_j^(1/T)``: float64 ``[K]``.

    Raises:
        ValueError: ``temperature <= 0`` or a size < 1.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0; got {temperature}")
    n = torch.as_tensor(list(sizes), dtype=torch.float64)
    if n.numel() == 0 or bool((n < 1).any()):
        raise ValueError(f"sizes must be >= 1 for every task; got {list(sizes)}")
    w = n.pow(1.0 / temperature)
    return w / w.sum()


def performance_probabilities(metrics: Sequence[float], targets: Sequence[float], temperature: float = 0.05,
                              mode: str = "max") -> torch.Tensor:
    """``p_i ∝ exp(gap_i / T)``, ``gap_i = max(0, target_i - metric_i)`` (``mode="max"``; for
    ``"min"`` metrics ``metric_i - target_i``): float64 ``[K]``. A NaN metric counts as the
    largest gap seen (a task not yet measured is drawn as often as the worst one).

    Raises:
        ValueError: ``temperature <= 0``, an unknown mode, or lengths that differ.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0; got {temperature}")
    if mode not in ("max", "min"):
        raise ValueError(f"mode must be 'max' or 'min'; got {mode!r}")
    if len(metrics) != len(targets):
        raise ValueError(f"metrics ({len(metrics)}) and targets ({len(targets)}) must have one entry per task")
    m = torch.as_tensor([float(x) for x in metrics], dtype=torch.float64)
    t = torch.as_tensor([float(x) for x in targets], dtype=torch.float64)
    gap = (t - m) if mode == "max" else (m - t)
    gap = gap.clamp(min=0.0)
    nan = torch.isnan(gap)
    if bool(nan.all()):
        gap = torch.zeros_like(gap)
    elif bool(nan.any()):
        gap[nan] = gap[~nan].max()
    return torch.softmax(gap / temperature, dim=0)


class TaskSampler(Sampler[int]):
    """Positions of a multi-task data set, ``batch_size`` at a time from one task.

    Args:
        sizes: examples per task (``MultiTaskDataset.sizes``), or the data set itself.
        batch_size: examples per block (the Trainer's ``config.batch_size``), >= 1.
        schedule: one of :data:`SCHEDULES`.
        temperature: ``"proportional"``: ``T`` in ``n^(1/T)`` (> 0, default 1);
            ``"performance"``: ``T`` in ``exp(gap / T)`` (> 0, in metric units; default
            0.05). Ignored by round-robin.
        targets: ``"performance"``: one target per task (e.g. validation accuracies).
        seed: >= 0.
        num_batches: batches per epoch (default ``sum_i ceil(n_i / batch_size)``).

    Raises:
        ValueError: an argument outside its range (named in the message).
    """

    def __init__(self, sizes: Sequence[int] | Any, batch_size: int, schedule: str = "round_robin",
                 temperature: float | None = None, targets: Sequence[float] | None = None, seed: int = 0,
                 num_batches: int | None = None) -> None:
        sizes = list(getattr(sizes, "sizes", sizes))
        if not sizes or any(int(n) < 1 for n in sizes):
            raise ValueError(f"TaskSampler.sizes must hold >= 1 example per task; got {sizes}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"TaskSampler.batch_size must be an integer >= 1; got {batch_size!r}")
        if schedule not in SCHEDULES:
            raise ValueError(f"TaskSampler.schedule must be one of {SCHEDULES}; got {schedule!r}")
        if temperature is None:
            temperature = 0.05 if schedule == "performance" else 1.0
        if not isinstance(temperature, (int, float)) or not temperature > 0 or not math.isfinite(temperature):
            raise ValueError(f"TaskSampler.temperature must be a finite number > 0; got {temperature!r}")
        if schedule == "performance" and (targets is None or len(targets) != len(sizes)):
            raise ValueError(f"TaskSampler.targets must give one target per task ({len(sizes)}) for the "
                             f"'performance' schedule; got {targets!r}")
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f"TaskSampler.seed must be an integer >= 0; got {seed!r}")
        if num_batches is not None and (isinstance(num_batches, bool) or not isinstance(num_batches, int)
                                        or num_batches < 1):
            raise ValueError(f"TaskSampler.num_batches must be None or an integer >= 1; got {num_batches!r}")
        self.sizes = [int(n) for n in sizes]
        self.batch_size, self.schedule, self.temperature = batch_size, schedule, float(temperature)
        self.targets = None if targets is None else [float(t) for t in targets]
        self.seed = seed
        self.num_batches = num_batches or sum(math.ceil(n / batch_size) for n in self.sizes)
        self.offsets = [sum(self.sizes[:i]) for i in range(len(self.sizes))]
        self.epoch = 0
        k = len(self.sizes)
        if schedule == "proportional":
            self.probs = proportional_probabilities(self.sizes, self.temperature).tolist()
        else:
            self.probs = [1.0 / k] * k
        self.pending: list[float] | None = None

    @property
    def num_tasks(self) -> int:
        return len(self.sizes)

    def set_epoch(self, epoch: int) -> None:
        """Select epoch ``epoch``'s order; probabilities from evaluations since the last
        epoch began (``update_performance``) take effect here, at a new epoch only."""
        epoch = int(epoch)
        if epoch != self.epoch and self.pending is not None:
            self.probs, self.pending = self.pending, None
        self.epoch = epoch

    def update_performance(self, metrics: Sequence[float], mode: str = "max") -> list[float]:
        """Set the ``"performance"`` schedule's probabilities for the next epoch from one
        validation metric per task (task order); returns them. Other schedules: no-op."""
        if self.schedule != "performance":
            return list(self.probs)
        self.pending = performance_probabilities(metrics, self.targets, self.temperature, mode).tolist()
        return list(self.pending)

    def _generator(self, *parts: int) -> torch.Generator:
        g = torch.Generator()
        s = self.seed
        for p in parts:
            s = (s * 1_000_003 + int(p)) % (2 ** 62)
        return g.manual_seed(s)

    def task_order(self) -> torch.Tensor:
        """The task of every batch of this epoch: long ``[num_batches]``."""
        k, n = self.num_tasks, self.num_batches
        if self.schedule == "round_robin":
            return (torch.arange(n) + self.epoch * n) % k
        p = torch.tensor(self.probs, dtype=torch.float64)
        return torch.multinomial(p, n, replacement=True, generator=self._generator(self.epoch, 7919))

    def order(self) -> torch.Tensor:
        """This epoch's positions: long ``[num_batches * batch_size]`` (block ``b`` from task
        ``task_order()[b]``)."""
        tasks = self.task_order()
        counts = torch.bincount(tasks, minlength=self.num_tasks).tolist()
        streams = []
        for t, (size, need) in enumerate(zip(self.sizes, counts)):
            need *= self.batch_size
            parts, k = [], 0
            while sum(len(x) for x in parts) < need:
                parts.append(torch.randperm(size, generator=self._generator(self.epoch, t, k)))
                k += 1
            streams.append((torch.cat(parts)[:need] + self.offsets[t]) if parts else torch.zeros(0, dtype=torch.long))
        used = [0] * self.num_tasks
        out = torch.empty(self.num_batches * self.batch_size, dtype=torch.long)
        for b, t in enumerate(tasks.tolist()):
            out[b * self.batch_size:(b + 1) * self.batch_size] = streams[t][used[t]:used[t] + self.batch_size]
            used[t] += self.batch_size
        return out

    def __iter__(self) -> Iterator[int]:
        return iter(self.order().tolist())

    def __len__(self) -> int:
        return self.num_batches * self.batch_size

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "epoch": self.epoch, "sizes": list(self.sizes),
                # the schedule as its index in SCHEDULES: plain numbers only
                "schedule": SCHEDULES.index(self.schedule),
                "batch_size": self.batch_size, "num_batches": self.num_batches, "probs": list(self.probs),
                "pending": None if self.pending is None else list(self.pending)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        schedule = SCHEDULES[int(state["schedule"])]
        if list(state["sizes"]) != self.sizes or schedule != self.schedule:
            raise ValueError(f"TaskSampler state is for sizes {list(state['sizes'])} / schedule {schedule!r}; "
                             f"this sampler has {self.sizes} / {self.schedule!r}")
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])
        self.batch_size, self.num_batches = int(state["batch_size"]), int(state["num_batches"])
        self.probs = [float(p) for p in state["probs"]]
        self.pending = None if state["pending"] is None else [float(p) for p in state["pending"]]
