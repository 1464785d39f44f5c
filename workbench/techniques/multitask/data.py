"""Multi-task data: a shared vocabulary over the tasks' training splits, and one data set
whose items carry the task they belong to.

:func:`multitask_splits` takes the single-task :class:`~workbench.data.splits.DataSplits`
of several text data sets (SUBJ, MR, pros_cons, ...), builds one
:class:`~workbench.data.text.Vocabulary` over the union of their *training* texts
(tokenised as :mod:`workbench.data.corpora` does: :func:`~workbench.data.text.tokenize`,
lower-cased unless the splits say otherwise), re-encodes every split with it, and returns a
:class:`MultiTaskSplits` whose ``train`` / ``val`` / ``test`` are :class:`MultiTaskDataset`
s: the tasks' examples one after the other, each item carrying ``"task"`` (the task's
index). The collators pass that field through, so every batch has ``batch["task"]``
(``torch.long [B]``), which :class:`~workbench.techniques.multitask.models.MultiTaskModel`
reads (its ``forward_keys``) and the Trainer's evaluation breaks metrics down by
(``group_key = "task"``: ``val_accuracy/subj``, ...).

Pure data code: no training loop, no technique.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import torch
from torch.utils.data import Dataset

from workbench.data.shared_vocab import reencode as _reencode
from workbench.data.shared_vocab import shared_vocabulary
from workbench.data.splits import (
    DataSplits,
    ExampleDataset,
    cap_splits,  # noqa: F401 - re-exported by the family
)
from workbench.data.text import Vocabulary


class MultiTaskDataset(Dataset):
    """The examples of several tasks in one data set (task after task, in the given order).

    Items are the tasks' items plus ``"task": int`` (the task's index in
    :attr:`task_names`). Ids are made unique across tasks by adding a per-task offset
    (:attr:`id_offsets`; the first task keeps its ids): ``id = offset[task] + original id``.

    Attributes:
        task_names: the task names, in order.
        datasets: ``{name: ExampleDataset}``.
        offsets: position of each task's first example (``list[int]``, one per task).
        id_offsets: added to each task's ids (``list[int]``).
        ids, targets: ``LongTensor [N]`` over all tasks (targets: each task's class index).
        tasks: ``LongTensor [N]``, the task index of every example.
        group_key, group_names: ``"task"`` and :attr:`task_names`, so that
            :meth:`workbench.train.Trainer.evaluate` reports per-task metrics.

    Raises:
        ValueError: no task, an empty task name, or a task without examples.
    """

    group_key = "task"

    def __init__(self, datasets: Mapping[str, ExampleDataset], id_offsets: Sequence[int] | None = None) -> None:
        if not datasets:
            raise ValueError("MultiTaskDataset: datasets must name at least one task; got none")
        self.task_names = [str(n) for n in datasets]
        if any(not n for n in self.task_names):
            raise ValueError(f"MultiTaskDataset: task names must be non-empty; got {self.task_names}")
        self.datasets = dict(datasets)
        for n, d in self.datasets.items():
            if len(d) == 0:
                raise ValueError(f"MultiTaskDataset: task {n!r} has no examples")
        if id_offsets is None:
            id_offsets, o = [], 0
            for d in self.datasets.values():
                id_offsets.append(o)
                o += int(d.ids.max()) + 1
        if len(id_offsets) != len(self.datasets):
            raise ValueError(f"MultiTaskDataset: id_offsets must have one entry per task ({len(self.datasets)}); "
                             f"got {len(id_offsets)}")
        self.id_offsets = [int(o) for o in id_offsets]
        self.offsets, o = [], 0
        for d in self.datasets.values():
            self.offsets.append(o)
            o += len(d)
        self._n = o
        ds = list(self.datasets.values())
        self.ids = torch.cat([d.ids + off for d, off in zip(ds, self.id_offsets)])
        self.targets = torch.cat([d.targets for d in ds])
        self.tasks = torch.cat([torch.full((len(d),), i, dtype=torch.long) for i, d in enumerate(ds)])
        self.name = "+".join(self.task_names)

    @property
    def group_names(self) -> list[str]:
        """Task names in task-index order (the per-group metric names of ``Trainer.evaluate``)."""
        return self.task_names

    @property
    def sizes(self) -> list[int]:
        """Examples per task, in task order."""
        return [len(d) for d in self.datasets.values()]

    def __len__(self) -> int:
        return self._n

    def locate(self, position: int) -> tuple[int, int]:
        """``(task index, position within that task's data set)`` of ``position``."""
        if not 0 <= position < self._n:
            raise IndexError(f"position {position} out of range [0, {self._n})")
        t = int(self.tasks[position])
        return t, position - self.offsets[t]

    def __getitem__(self, position: int) -> dict[str, Any]:
        t, i = self.locate(int(position))
        item = dict(self.datasets[self.task_names[t]][i])
        item["id"] = int(item["id"]) + self.id_offsets[t]
        item["task"] = t
        return item

    def task_positions(self, task: int | str) -> range:
        """Positions of one task's examples in this data set."""
        t = self.task_names.index(task) if isinstance(task, str) else int(task)
        return range(self.offsets[t], self.offsets[t] + self.sizes[t])

    def subset(self, positions_per_task: Mapping[str, Sequence[int]]) -> MultiTaskDataset:
        """A data set with, per task, the examples at the given positions of that task."""
        return MultiTaskDataset({n: self.datasets[n].subset(list(positions_per_task.get(n, range(len(d)))))
                                 for n, d in self.datasets.items()}, self.id_offsets)


@dataclass
class MultiTaskSplits:
    """Train / validation / test :class:`MultiTaskDataset` s of several tasks, shaped like
    :class:`~workbench.data.splits.DataSplits` (so :class:`~workbench.experiment.Experiment`
    and the Trainer take it as they take one data set).

    Attributes:
        name: ``"subj+mr+pros_cons"``.
        train, val, test: :class:`MultiTaskDataset` s.
        task: a text :class:`~workbench.config.TaskSpec` for the collator and the data check:
            the shared vocabulary's size, ``num_classes`` the largest over the tasks,
            ``min_length`` the largest, ``max_length`` None (each task's sequences were
            truncated to its own ``max_length`` when encoded).
        vocab: the shared :class:`~workbench.data.text.Vocabulary`.
        tasks: ``{name: TaskSpec}`` of every task (its ``vocab_size`` the shared one).
        info: ``{"tasks": [...], "sizes": {task: {"train", "val", "test"}}, "vocab_size",
            "source": {task: citation}}``.
    """

    name: str
    train: MultiTaskDataset
    val: MultiTaskDataset
    test: MultiTaskDataset
    task: Any
    vocab: Vocabulary
    tasks: dict[str, Any]
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def task_names(self) -> list[str]:
        """Task names in task-index order."""
        return list(self.tasks)

    @property
    def num_classes(self) -> dict[str, int]:
        """``{task: number of classes}``."""
        return {n: int(t.num_classes) for n, t in self.tasks.items()}

    @property
    def splits(self) -> dict[str, MultiTaskDataset]:
        """``{"train", "val", "test"}`` -> the :class:`MultiTaskDataset` of that split (all tasks)."""
        return {"train": self.train, "val": self.val, "test": self.test}


def multitask_splits(splits: Mapping[str, DataSplits], min_freq: int = 1,
                     max_vocab_size: int | None = None) -> MultiTaskSplits:
    """Combine single-task text splits into :class:`MultiTaskSplits` with a shared vocabulary.

    Args:
        splits: ``{task name: DataSplits}`` (e.g. ``{"subj": load_dataset("subj"), ...}``);
            the order is the task order.
        min_freq, max_vocab_size: as for :meth:`Vocabulary.build` over all training texts.

    Returns:
        :class:`MultiTaskSplits`; every split re-encoded with the shared vocabulary (each
        task keeps its own ``task.max_length`` truncation); ids offset per task by the
        earlier tasks' corpus sizes (``info["corpus_size"]``, else the largest id + 1).

    Raises:
        ValueError: fewer than one task, a task that is not text.
    """
    if not splits:
        raise ValueError("multitask_splits: splits must name at least one task; got none")
    for n, s in splits.items():
        if s.task.modality != "text":
            raise ValueError(f"multitask_splits: task {n!r} is {s.task.modality!r}; only text tasks can share "
                             "a vocabulary")
    vocab = shared_vocabulary(splits, min_freq=min_freq, max_size=max_vocab_size)
    parts: dict[str, dict[str, ExampleDataset]] = {"train": {}, "val": {}, "test": {}}
    tasks, sizes, offsets, o = {}, {}, [], 0
    for n, s in splits.items():
        low = bool(s.info.get("lowercase", True))
        for k in parts:
            parts[k][n] = _reencode(getattr(s, k), vocab, s.task.max_length, low)
        tasks[n] = replace(s.task, vocab_size=len(vocab))
        sizes[n] = {k: len(getattr(s, k)) for k in parts}
        offsets.append(o)
        ids = torch.cat([getattr(s, k).ids for k in parts if len(getattr(s, k))])
        o += int(s.info.get("corpus_size", int(ids.max()) + 1))
    first = next(iter(tasks.values()))
    task = replace(first, num_classes=max(t.num_classes for t in tasks.values()), vocab_size=len(vocab),
                   max_length=None, min_length=max(t.min_length for t in tasks.values()),
                   class_names=None, name="+".join(tasks))
    ds = {k: MultiTaskDataset(v, offsets) for k, v in parts.items()}
    info = {"tasks": list(tasks), "sizes": sizes, "vocab_size": len(vocab), "id_offsets": offsets,
            "source": {n: s.info.get("source", "") for n, s in splits.items()}}
    return MultiTaskSplits(task.name, ds["train"], ds["val"], ds["test"], task, vocab, tasks, info)


def subsample(splits: MultiTaskSplits, train: int | None = None, val: int | None = None, test: int | None = None,
              seed: int = 0) -> MultiTaskSplits:
    """At most ``train`` / ``val`` / ``test`` examples per task (a seeded random subset of each
    task's split; None keeps the split), for quick runs and tests.

    Raises:
        ValueError: a size below 1.
    """
    for arg, v in (("train", train), ("val", val), ("test", test)):
        if v is not None and v < 1:
            raise ValueError(f"subsample: {arg} must be >= 1 or None; got {v}")
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, cap in (("train", train), ("val", val), ("test", test)):
        d: MultiTaskDataset = getattr(splits, k)
        if cap is None:
            out[k] = d
            continue
        pos = {n: sorted(torch.randperm(len(x), generator=g)[:cap].tolist()) for n, x in d.datasets.items()}
        out[k] = d.subset(pos)
    return replace(splits, **out)


