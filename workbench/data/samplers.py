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

from workbench.validation import check_bool, check_int, check_number


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


class _ForwardsResumableState:
    """``set_epoch`` / ``state_dict`` / ``load_state_dict`` forwarded to ``self.sampler``
    (the sampler a wrapper draws from), so the wrapper resumes as the wrapped one does."""

    sampler: Any

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def state_dict(self) -> dict[str, Any]:
        return self.sampler.state_dict() if hasattr(self.sampler, "state_dict") else {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if hasattr(self.sampler, "load_state_dict"):
            self.sampler.load_state_dict(state)


class SkipFirst(_ForwardsResumableState, Sampler):
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


def token_lengths(data: Any) -> torch.Tensor | None:
    """Tokens per example of a text data set: ``data.lengths`` when it has them (an
    :class:`~workbench.data.splits.ExampleDataset` of text), else the length of every
    item's ``"input"`` when each is a 1-D tensor (any data set of text items, such as a
    ``torch.utils.data.Subset`` or a technique's wrapper); ``LongTensor [N]``, or None for
    data whose inputs are not 1-D (images, feature vectors)."""
    lengths = getattr(data, "lengths", None)
    if isinstance(lengths, torch.Tensor):
        return lengths.long()
    out = []
    for i in range(len(data)):
        item = data[i]
        x = item.get("input") if isinstance(item, dict) else None
        if not isinstance(x, torch.Tensor) or x.dim() != 1 or x.dtype.is_floating_point:
            return None
        out.append(len(x))
    return torch.tensor(out, dtype=torch.long)


class LengthGroupedBatchSampler(Sampler[list[int]]):
    """Batches of positions whose examples have similar lengths, so a padded text batch
    carries little padding; seeded per ``(seed, epoch)`` and resumable like
    :class:`ResumableRandomSampler`.

    Each epoch: a random permutation of the positions (``torch.Generator`` seeded with
    ``seed * 1_000_003 + epoch``), sorted stably by a noisy length ``length * (1 + u)``,
    ``u ~ U(-noise, noise)`` per position (AllenNLP's ``BucketBatchSampler``
    ``padding_noise``, 0.1 by default there and here), cut into consecutive batches of
    ``batch_size``, and the batches shuffled. The noise and the shuffled batch order keep
    batch membership and order random; only the length mix inside a batch changes. On
    SUBJ (batch 50) padding falls from 56% of the tokens of a random batch to about 10%
    (``benchmarks/baseline_levers.py``). Hugging Face's ``Trainer`` has the same option
    (``group_by_length``; its ``LengthGroupedSampler`` sorts within mega-batches).

    Every position appears in exactly one batch per epoch. With ``drop_last``, ``N mod
    batch_size`` random positions sit the epoch out (drawn from the permutation before
    sorting, so not always the longest ones), and every batch holds ``batch_size``
    positions.

    Args:
        lengths: ``[N]`` lengths (tokens per example), a sequence of ints or a tensor.
        batch_size: positions per batch, >= 1.
        seed: non-negative integer.
        noise: relative length noise, in ``[0, 1]`` (0: a strict sort, ties in random order).
        drop_last: drop the short batch.

    Raises:
        ValueError: empty ``lengths``, a negative length, or an argument out of range.
    """

    def __init__(self, lengths: Any, batch_size: int, seed: int = 0, noise: float = 0.1,
                 drop_last: bool = False) -> None:
        lens = torch.as_tensor(lengths).reshape(-1)
        if len(lens) == 0:
            raise ValueError("LengthGroupedBatchSampler: lengths is empty (0 examples)")
        if lens.dtype.is_floating_point or lens.dtype == torch.bool or int(lens.min()) < 0:
            raise ValueError("LengthGroupedBatchSampler: lengths must be non-negative integers")
        self.lengths = lens.to(torch.float64)
        self.n = len(lens)
        self.batch_size = check_int("batch_size", batch_size, 1, prefix="LengthGroupedBatchSampler.")
        self.seed = check_int("seed", seed, 0, prefix="LengthGroupedBatchSampler.")
        self.noise = check_number("noise", noise, 0.0, 1.0, prefix="LengthGroupedBatchSampler.")
        self.drop_last = check_bool("drop_last", drop_last, prefix="LengthGroupedBatchSampler.")
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the batches of ``epoch`` (0-based)."""
        self.epoch = int(epoch)

    def batches(self) -> list[list[int]]:
        """This epoch's batches (lists of positions), in order."""
        g = torch.Generator()
        g.manual_seed(self.seed * 1_000_003 + self.epoch)
        perm = torch.randperm(self.n, generator=g)
        u = (torch.rand(self.n, generator=g, dtype=torch.float64) * 2 - 1) * self.noise
        b = self.batch_size
        if self.drop_last:
            keep = self.n - self.n % b
            perm, u = perm[:keep], u[:keep]
        order = perm[torch.sort(self.lengths[perm] * (1 + u), stable=True).indices].tolist()
        out = [order[i:i + b] for i in range(0, len(order), b)]
        return [out[i] for i in torch.randperm(len(out), generator=g).tolist()]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self.batches())

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "epoch": self.epoch, "n": self.n, "batch_size": self.batch_size,
                "noise": self.noise}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["n"]) != self.n or int(state["batch_size"]) != self.batch_size:
            raise ValueError(f"LengthGroupedBatchSampler state is for {state['n']} examples in batches of "
                             f"{state['batch_size']}; this one has {self.n} in batches of {self.batch_size}")
        self.seed, self.epoch, self.noise = int(state["seed"]), int(state["epoch"]), float(state["noise"])
def _world(num_replicas: int | None, rank: int | None) -> tuple[int, int]:
    """``(num_replicas, rank)``, defaulting to the initialised ``torch.distributed`` group."""
    if num_replicas is None or rank is None:
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):
            raise ValueError("num_replicas and rank are needed when no torch.distributed process group "
                             "is initialised")
        num_replicas = dist.get_world_size() if num_replicas is None else num_replicas
        rank = dist.get_rank() if rank is None else rank
    if isinstance(num_replicas, bool) or not isinstance(num_replicas, int) or num_replicas < 1:
        raise ValueError(f"num_replicas must be an integer >= 1; got {num_replicas!r}")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < num_replicas:
        raise ValueError(f"rank must be an integer in [0, {num_replicas - 1}]; got {rank!r}")
    return num_replicas, rank


class ShardedSampler(_ForwardsResumableState, Sampler):
    """One rank's shard of another sampler's order (or of a batch sampler's batches), for
    data-parallel training: ``torch.utils.data.DistributedSampler``'s rule applied to any
    sampler with the resumable protocol (Lightning's ``DistributedSamplerWrapper`` does the
    same).

    Every rank draws the wrapped sampler's full order for the epoch (a pure function of its
    seed, epoch and state, so all ranks draw the same one), pads it by repeating its first
    items up to a multiple of ``num_replicas`` (or, with ``drop_last``, cuts the tail), and
    keeps items ``rank, rank + num_replicas, rank + 2 * num_replicas, ...``. The shards are
    disjoint (apart from the padding, at most ``num_replicas - 1`` repeated items) and their
    union is the epoch. Interleaving keeps the global batches: with ``batch_size`` ``b`` per
    rank, batch ``k`` of all ranks together holds positions ``k*b*R ... (k+1)*b*R - 1`` of
    the order, the batch a single process with ``b*R`` would have drawn.

    ``set_epoch``, ``state_dict`` and ``load_state_dict`` are forwarded: the state is the
    wrapped sampler's (it does not depend on the number of ranks), so a checkpoint resumes
    with any number of processes. Every rank has the same ``len``, so all ranks run the
    same number of steps (a rank with fewer would leave the others waiting in an
    all-reduce).

    Args:
        sampler: a sampler (yields positions) or batch sampler (yields lists of positions),
            iterable several times.
        num_replicas, rank: the world size and this process's rank (default: from the
            initialised ``torch.distributed`` process group).
        drop_last: cut the order to a multiple of ``num_replicas`` instead of padding it.

    Raises:
        ValueError: ``num_replicas`` < 1, ``rank`` outside ``[0, num_replicas)``, or no
            process group to take them from.
    """

    def __init__(self, sampler: Any, num_replicas: int | None = None, rank: int | None = None,
                 drop_last: bool = False) -> None:
        self.sampler = sampler
        self.num_replicas, self.rank = _world(num_replicas, rank)
        self.drop_last = bool(drop_last)

    def _full_order(self) -> list[Any]:
        return list(iter(self.sampler))

    def _shard(self, order: Any, n: int) -> Any:
        r = self.num_replicas
        if r == 1:
            return order
        if self.drop_last:
            order = order[: n - n % r]
        elif n % r:
            pad = r - n % r
            reps = -(-pad // n)  # a data set smaller than the world repeats whole
            extra = (order * reps)[:pad] if isinstance(order, list) else order.repeat(reps)[:pad]
            order = order + extra if isinstance(order, list) else torch.cat([order, extra])
        return order[self.rank::r]

    def __iter__(self) -> Iterator[Any]:
        order = self._full_order()
        return iter(self._shard(order, len(order)))

    def __len__(self) -> int:
        n = len(self.sampler)
        return n // self.num_replicas if self.drop_last else -(-n // self.num_replicas)


class DistributedResumableSampler(ShardedSampler):
    """:class:`ResumableRandomSampler` sharded over the ranks of a process group: the
    distributed version of the Trainer's default sampler (``strategy="ddp"`` / ``"zero1"``).

    Epoch ``e``'s permutation is the one :class:`ResumableRandomSampler` draws for
    ``(seed, e)``, the same on every rank; rank ``r`` of ``R`` takes positions
    ``r, r + R, ...`` of it (padded by repeating the first positions to a multiple of
    ``R``, or cut with ``drop_last``), as :class:`ShardedSampler` describes. Items keep
    their example ids (the sampler yields data-set positions; the items carry ``id``).
    ``set_epoch`` must be called every epoch (the Trainer does): without it every epoch
    repeats the same order. ``state_dict()`` is :class:`ResumableRandomSampler`'s (seed,
    epoch, data-set size, shuffle) and loads into either class, so a checkpoint moves
    between one process and several; the Trainer resumes mid-epoch by skipping the
    batches each rank already drew (:class:`SkipFirst`).

    Args:
        data_source: the data set (anything with ``__len__``).
        num_replicas, rank: world size and rank (default: the initialised process group).
        seed: non-negative integer. shuffle: False keeps positions 0..n-1 in order.
        drop_last: cut instead of pad.

    Raises:
        ValueError: an empty data set, a negative seed, or an invalid ``num_replicas`` / ``rank``.
    """

    def __init__(self, data_source: Sized, num_replicas: int | None = None, rank: int | None = None,
                 seed: int = 0, shuffle: bool = True, drop_last: bool = False) -> None:
        super().__init__(ResumableRandomSampler(data_source, seed=seed, shuffle=shuffle),
                         num_replicas=num_replicas, rank=rank, drop_last=drop_last)

    @property
    def epoch(self) -> int:
        return self.sampler.epoch

    @property
    def seed(self) -> int:
        return self.sampler.seed

    def order(self) -> torch.Tensor:
        """This rank's positions for the current epoch, ``LongTensor [len(self)]``."""
        full = self.sampler.order()
        return self._shard(full, len(full))

    def __iter__(self) -> Iterator[int]:
        return iter(self.order().tolist())
