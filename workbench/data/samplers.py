"""Samplers that make data order reproducible and resumable.

Every sampler here follows the protocol the :class:`~workbench.train.Trainer` relies on
for exact mid-epoch resume:

- ``set_epoch(epoch)``: the order of an epoch is a pure function of ``(seed, epoch)``
  and the sampler's own state, never of the global RNG;
- ``state_dict()`` / ``load_state_dict(d)``: plain Python values only (ints, floats,
  lists, tensors), so a checkpoint loads with ``torch.load(weights_only=True)``.

The Trainer skips the batches an interrupted epoch had already consumed with
:class:`SkipFirst`, so a sampler does not need to know how far the DataLoader got.
"""

from __future__ import annotations

from collections.abc import Iterator, Sized
from typing import Any

import torch
from torch.utils.data import Sampler


class ResumableRandomSampler(Sampler[int]):
    """Random permutation of ``range(len(data_source))`` per epoch, seeded by ``(seed, epoch)``.

    Equivalent to ``torch.utils.data.RandomSampler`` without replacement, except that the
    permutation of epoch ``e`` is ``torch.randperm(n, generator=Generator().manual_seed(
    seed * 1_000_003 + e))``: reproducible across processes and independent of the global
    RNG, so resuming from a checkpoint yields the same order.

    Args:
        data_source: anything with ``__len__`` (the data set).
        seed: non-negative integer.
        shuffle: False gives the identity order (positions 0..n-1) every epoch.

    Raises:
        ValueError: if ``seed`` is negative or the data set is empty.
    """

    def __init__(self, data_source: Sized, seed: int = 0, shuffle: bool = True) -> None:
        if len(data_source) == 0:
            raise ValueError("ResumableRandomSampler: the data set is empty (0 examples)")
        if seed < 0:
            raise ValueError(f"ResumableRandomSampler.seed must be >= 0; got {seed}")
        self.n = len(data_source)
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the permutation of ``epoch`` (0-based)."""
        self.epoch = int(epoch)

    def order(self) -> torch.Tensor:
        """The positions of this epoch, ``LongTensor [n]``."""
        if not self.shuffle:
            return torch.arange(self.n)
        g = torch.Generator()
        g.manual_seed(self.seed * 1_000_003 + self.epoch)
        return torch.randperm(self.n, generator=g)

    def __iter__(self) -> Iterator[int]:
        return iter(self.order().tolist())

    def __len__(self) -> int:
        return self.n

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "epoch": self.epoch, "n": self.n, "shuffle": self.shuffle}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["n"]) != self.n:
            raise ValueError(
                f"sampler state is for a data set of {state['n']} examples, this one has {self.n}"
            )
        self.seed, self.epoch, self.shuffle = int(state["seed"]), int(state["epoch"]), bool(state["shuffle"])


class SkipFirst(Sampler):
    """Wraps a sampler (or batch sampler) and drops its first ``skip`` items.

    Used by the Trainer to resume mid-epoch: after restoring the wrapped sampler's state
    and epoch, skipping the items already consumed reproduces the rest of the epoch.
    ``set_epoch``, ``state_dict`` and ``load_state_dict`` are forwarded.
    """

    def __init__(self, sampler: Any, skip: int) -> None:
        self.sampler = sampler
        self.skip = max(0, int(skip))

    def __iter__(self) -> Iterator[Any]:
        it = iter(self.sampler)
        for _ in range(self.skip):
            try:
                next(it)
            except StopIteration:
                return
        yield from it

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.skip)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        return self.sampler.state_dict() if hasattr(self.sampler, "state_dict") else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if hasattr(self.sampler, "load_state_dict"):
            self.sampler.load_state_dict(state)
