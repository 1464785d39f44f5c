"""Samplers for curriculum learning and data scheduling, and a curriculum DataLoader factory.

Every sampler here follows the protocol of :mod:`workbench.data.samplers` (the one the
:class:`~workbench.train.Trainer` relies on for exact mid-epoch resume):

- ``set_epoch(epoch)``: the order of an epoch is a pure function of ``(seed, epoch)`` and
  the sampler's own state, drawn from a private ``torch.Generator`` seeded with
  ``seed * 1_000_003 + epoch``; the global RNG is never consumed;
- ``state_dict()`` / ``load_state_dict(d)``: plain values and tensors only.

Samplers whose content can be changed during training (:class:`DifficultySampler`'s range,
:class:`ImportanceSampler`'s weights) keep the change *pending* until the next epoch
starts: ``set_epoch(e)`` with a new ``e`` applies it. An epoch in progress therefore
never changes under the DataLoader (whose length the Trainer fixed when the epoch
began), and a checkpoint taken mid-epoch resumes the same epoch exactly (the Trainer
calls ``set_epoch`` with the saved epoch, which applies nothing, then skips the consumed
items with :class:`~workbench.data.samplers.SkipFirst`).

Item samplers (pass as ``Trainer(sampler=...)``): :class:`PacingSampler`,
:class:`DifficultySampler`, :class:`ImportanceSampler`. Batch samplers (pass as
``Trainer(batch_sampler=...)``): :class:`ClassBalancedBatchSampler`,
:class:`DynamicBatchComposer`. :class:`StagedLoader` holds data sets and batch sizes per
stage (:class:`LoaderStage`). :func:`curriculum_dataloader` builds a DataLoader over a paced
curriculum. Examples of each are in this folder's ``README.md`` (tested by
``tests/test_curriculum_readme.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from workbench.data.samplers import ResumableRandomSampler
from workbench.data.steps import batches_per_epoch
from workbench.techniques.curriculum.difficulty import curriculum_order
from workbench.validation import check_bool, check_choice, check_int, check_number

__all__ = [
    "ClassBalancedBatchSampler",
    "DifficultySampler",
    "DynamicBatchComposer",
    "ImportanceSampler",
    "LoaderStage",
    "PacingSampler",
    "StagedLoader",
    "curriculum_dataloader",
    "padding_stats",
]


def _generator(seed: int, epoch: int, salt: int = 0) -> torch.Generator:
    g = torch.Generator()
    g.manual_seed(seed * 1_000_003 + epoch + salt * 7_919)
    return g


def _as_1d(x: Any, dtype: torch.dtype, name: str, who: str) -> torch.Tensor:
    t = torch.as_tensor(x, dtype=dtype).reshape(-1) if not isinstance(x, torch.Tensor) else x.to(dtype).reshape(-1)
    if t.numel() == 0:
        raise ValueError(f"{who}: {name} is empty (0 examples)")
    return t.clone()


# ----------------------------------------------------------------------------- pacing
class PacingSampler(Sampler[int]):
    """A curriculum with a pacing function (Hacohen & Weinshall 2019, Sec. 2, Alg. 1).

    Each mini-batch ``b`` (global index over the fit: ``epoch * batches_per_epoch + b``)
    is drawn from the first ``max(batch_size, ceil(pacing(b) * N))`` positions of
    ``order`` (easiest first for a curriculum). Within that prefix the positions are
    shuffled and consumed without replacement; when the prefix grows, or has been used
    up, a fresh permutation of the (new) prefix is drawn. An epoch has ``N`` items, as
    many as a random epoch, so examples-seen and optimizer steps match the baseline.

    The same class gives the controls that share the pacing: ``order`` easiest-first is
    the curriculum, hardest-first the anti-curriculum, a random permutation the random
    curriculum (Wu et al. 2021, Sec. 3).

    Args:
        order: positions of the data set ordered by the curriculum, ``LongTensor [N]``
            (a permutation of ``0..N-1``).
        pacing: ``pacing(step) -> fraction in (0, 1]`` (a function of
            :mod:`workbench.techniques.curriculum.pacing`, e.g. ``make_pacing("linear", 500)``);
            ``step`` counts mini-batches from 0.
        batch_size: the DataLoader's batch size (maps positions in the epoch to steps).
        seed: non-negative integer.
        drop_last: as the DataLoader's (for the number of batches per epoch).

    Raises:
        ValueError: empty or non-permutation ``order``, bad ``batch_size`` / ``seed``.
    """

    def __init__(self, order: Sequence[int] | torch.Tensor, pacing: Callable[[int], float], batch_size: int,
                 seed: int = 0, drop_last: bool = False) -> None:
        self.order = _as_1d(order, torch.long, "order", "PacingSampler")
        n = len(self.order)
        if not torch.equal(torch.sort(self.order).values, torch.arange(n)):
            raise ValueError("PacingSampler: order must be a permutation of 0..N-1")
        if not callable(pacing):
            raise ValueError("PacingSampler: pacing must be a callable step -> fraction")
        self.n = n
        self.pacing = pacing
        self.batch_size = check_int("PacingSampler.batch_size", batch_size, 1)
        self.seed = check_int("PacingSampler.seed", seed, 0)
        self.drop_last = check_bool("PacingSampler.drop_last", drop_last)
        self.epoch = 0

    @property
    def batches_per_epoch(self) -> int:
        """Mini-batches per epoch of the DataLoader this sampler feeds (its global step count)."""
        return batches_per_epoch(self.n, self.batch_size, self.drop_last)

    def available(self, step: int) -> int:
        """Examples available at mini-batch ``step``: ``max(batch_size, ceil(pacing(step) * N))``."""
        frac = float(self.pacing(int(step)))
        if not 0.0 <= frac <= 1.0 + 1e-9 or math.isnan(frac):
            raise ValueError(f"PacingSampler: pacing({step}) = {frac} is outside [0, 1]")
        return min(self.n, max(min(self.batch_size, self.n), math.ceil(frac * self.n - 1e-9)))

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def positions(self) -> torch.Tensor:
        """The positions of this epoch, ``LongTensor [N]`` (a pure function of seed, epoch)."""
        g = _generator(self.seed, self.epoch)
        out = torch.empty(self.n, dtype=torch.long)
        first = self.epoch * self.batches_per_epoch
        perm, cursor, size = None, 0, -1
        for b in range(batches_per_epoch(self.n, self.batch_size)):  # every item, a short last batch too
            k = self.available(first + b)
            lo, hi = b * self.batch_size, min(self.n, (b + 1) * self.batch_size)
            need = hi - lo
            if k != size or perm is None or cursor + need > len(perm):
                perm, cursor, size = torch.randperm(k, generator=g), 0, k
            out[lo:hi] = self.order[perm[cursor:cursor + need]]
            cursor += need
        return out

    def __iter__(self) -> Iterator[int]:
        return iter(self.positions().tolist())

    def __len__(self) -> int:
        return self.n

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "epoch": self.epoch, "n": self.n, "order": self.order.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["n"]) != self.n:
            raise ValueError(f"PacingSampler state is for {state['n']} examples, this one has {self.n}")
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])
        self.order = torch.as_tensor(state["order"]).long().clone()


# ----------------------------------------------------------------------------- difficulty range
class DifficultySampler(Sampler[int]):
    """Keeps the examples whose difficulty lies in a range, shuffled within it.

    The range is given as quantiles of the difficulty scores (``mode="quantile"``: ``(0,
    0.3)`` keeps the easiest 30%) or as score values (``mode="value"``). :meth:`set_range`
    changes it; the change applies when the next epoch starts (module docstring), so the
    sampler's length may change between epochs (the Trainer builds a new DataLoader each
    epoch).

    Args:
        scores: difficulty per position of the data set, ``FloatTensor [N]`` (higher = harder).
        low, high: the range (inclusive).
        mode: ``"quantile"`` or ``"value"``.
        seed: non-negative integer.
        min_examples: the range is widened (towards harder examples, then easier) until it
            holds at least this many examples (default 1).

    Raises:
        ValueError: empty or non-finite scores, ``low > high``, quantiles outside [0, 1],
            unknown mode.
    """

    MODES = ("quantile", "value")

    def __init__(self, scores: Sequence[float] | torch.Tensor, low: float = 0.0, high: float = 1.0,
                 mode: str = "quantile", seed: int = 0, min_examples: int = 1) -> None:
        self.scores = _as_1d(scores, torch.float64, "scores", "DifficultySampler")
        if not bool(torch.isfinite(self.scores).all()):
            raise ValueError("DifficultySampler: scores must be finite")
        self.mode = check_choice("DifficultySampler.mode", mode, self.MODES)
        self.n = len(self.scores)
        self.seed = check_int("DifficultySampler.seed", seed, 0)
        self.min_examples = min(check_int("DifficultySampler.min_examples", min_examples, 1), self.n)
        # rank of each position in easiest-first order (ties broken by position)
        self._rank = torch.empty(self.n, dtype=torch.long)
        self._sorted = torch.sort(self.scores, stable=True).indices
        self._rank[self._sorted] = torch.arange(self.n)
        self.epoch = 0
        self._check_range(low, high)
        self.range = (float(low), float(high))
        self.pending = self.range

    def _check_range(self, low: float, high: float) -> None:
        if not (math.isfinite(low) and math.isfinite(high)) or low > high:
            raise ValueError(f"DifficultySampler range needs finite low <= high; got ({low}, {high})")
        if self.mode == "quantile" and not (0.0 <= low <= high <= 1.0):
            raise ValueError(f"DifficultySampler quantile range must lie in [0, 1]; got ({low}, {high})")

    def set_range(self, low: float, high: float) -> None:
        """Set the range used from the next epoch on (see the module docstring)."""
        self._check_range(float(low), float(high))
        self.pending = (float(low), float(high))

    def set_epoch(self, epoch: int) -> None:
        if int(epoch) != self.epoch:
            self.range = self.pending
        self.epoch = int(epoch)

    def selected(self, rng: tuple[float, float] | None = None) -> torch.Tensor:
        """Positions in the range, ascending, ``LongTensor [M]`` (M >= min_examples)."""
        low, high = rng or self.range
        if self.mode == "quantile":
            lo_r = math.floor(low * self.n + 1e-9)
            hi_r = max(lo_r, math.ceil(high * self.n - 1e-9))
            lo_r, hi_r = _widen(lo_r, hi_r, self.min_examples, self.n)
            keep = (self._rank >= lo_r) & (self._rank < hi_r)
        else:
            keep = (self.scores >= low) & (self.scores <= high)
            if int(keep.sum()) < self.min_examples:
                ranks = self._rank[keep]
                lo_r = int(ranks.min()) if len(ranks) else int((self.scores < low).sum())
                lo_r, hi_r = _widen(lo_r, lo_r + len(ranks), self.min_examples, self.n)
                keep = (self._rank >= lo_r) & (self._rank < hi_r)
        return keep.nonzero().flatten()

    def __iter__(self) -> Iterator[int]:
        pos = self.selected()
        perm = torch.randperm(len(pos), generator=_generator(self.seed, self.epoch))
        return iter(pos[perm].tolist())

    def __len__(self) -> int:
        return len(self.selected())

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "epoch": self.epoch, "n": self.n, "range": list(self.range),
                "pending": list(self.pending), "mode": self.mode}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["n"]) != self.n:
            raise ValueError(f"DifficultySampler state is for {state['n']} examples, this one has {self.n}")
        self.seed, self.epoch, self.mode = int(state["seed"]), int(state["epoch"]), str(state["mode"])
        self.range = (float(state["range"][0]), float(state["range"][1]))
        self.pending = (float(state["pending"][0]), float(state["pending"][1]))


def _widen(lo: int, hi: int, need: int, n: int) -> tuple[int, int]:
    while hi - lo < need:
        if hi < n:
            hi += 1
        else:
            lo -= 1
    return lo, hi


# ----------------------------------------------------------------------------- importance
class ImportanceSampler(Sampler[int]):
    """Importance sampling: ``num_samples`` positions drawn by ``torch.multinomial``.

    ``P(position i) = w_i / sum(w)`` (with replacement by default). :meth:`update_weights`
    replaces the weights (all of them, or those at given positions) from the next epoch on.

    Args:
        weights: non-negative ``[N]``, at least one positive.
        num_samples: items per epoch (default N).
        replacement: sample with replacement (without: ``num_samples`` <= positive weights).
        seed: non-negative integer.

    Raises:
        ValueError: negative / non-finite / all-zero weights, ``num_samples < 1``.
    """

    def __init__(self, weights: Sequence[float] | torch.Tensor, num_samples: int | None = None,
                 replacement: bool = True, seed: int = 0) -> None:
        self.weights = self._check(_as_1d(weights, torch.float64, "weights", "ImportanceSampler"))
        self.n = len(self.weights)
        self.num_samples = self.n if num_samples is None else check_int("ImportanceSampler.num_samples",
                                                                        num_samples, 1)
        self.replacement = check_bool("ImportanceSampler.replacement", replacement)
        if not self.replacement and self.num_samples > int((self.weights > 0).sum()):
            raise ValueError("ImportanceSampler: without replacement, num_samples must not exceed "
                             "the number of positive weights")
        self.seed = check_int("ImportanceSampler.seed", seed, 0)
        self.epoch = 0
        self.pending = self.weights.clone()

    @staticmethod
    def _check(w: torch.Tensor) -> torch.Tensor:
        if not bool(torch.isfinite(w).all()) or bool((w < 0).any()) or float(w.sum()) <= 0:
            raise ValueError("ImportanceSampler: weights must be finite, >= 0, and not all zero")
        return w

    def update_weights(self, weights: Sequence[float] | torch.Tensor,
                       positions: Sequence[int] | torch.Tensor | None = None) -> None:
        """New weights from the next epoch on (all ``[N]``, or ``weights[k]`` for ``positions[k]``)."""
        w = torch.as_tensor(weights, dtype=torch.float64).reshape(-1)
        new = self.pending.clone()
        if positions is None:
            if len(w) != self.n:
                raise ValueError(f"ImportanceSampler.update_weights: expected {self.n} weights; got {len(w)}")
            new = w.clone()
        else:
            new[torch.as_tensor(positions, dtype=torch.long).reshape(-1)] = w
        self.pending = self._check(new)

    def set_epoch(self, epoch: int) -> None:
        if int(epoch) != self.epoch:
            self.weights = self.pending.clone()
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[int]:
        g = _generator(self.seed, self.epoch)
        return iter(torch.multinomial(self.weights, self.num_samples, self.replacement, generator=g).tolist())

    def __len__(self) -> int:
        return self.num_samples

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "epoch": self.epoch, "n": self.n, "weights": self.weights.clone(),
                "pending": self.pending.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["n"]) != self.n:
            raise ValueError(f"ImportanceSampler state is for {state['n']} examples, this one has {self.n}")
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])
        self.weights = torch.as_tensor(state["weights"]).double().clone()
        self.pending = torch.as_tensor(state["pending"]).double().clone()


# ----------------------------------------------------------------------------- class balance
class ClassBalancedBatchSampler(Sampler[list[int]]):
    """Batches with (nearly) equal numbers of examples of every class.

    Each batch takes ``batch_size // C`` examples of each of the ``C`` classes (the
    ``batch_size % C`` extra slots go to classes chosen at random), cycling through a fresh
    per-class permutation whenever a class is used up (minority classes are oversampled).
    An epoch has ``num_batches`` batches (default ``ceil(N / batch_size)``).

    Raises:
        ValueError: fewer than 2 classes, ``batch_size < C``, bad seed.
    """

    def __init__(self, targets: Sequence[int] | torch.Tensor, batch_size: int, seed: int = 0,
                 num_batches: int | None = None) -> None:
        self.targets = _as_1d(targets, torch.long, "targets", "ClassBalancedBatchSampler")
        self.classes = torch.unique(self.targets)
        if len(self.classes) < 2:
            raise ValueError("ClassBalancedBatchSampler needs at least 2 classes")
        self.batch_size = check_int("ClassBalancedBatchSampler.batch_size", batch_size, 1)
        if self.batch_size < len(self.classes):
            raise ValueError(f"ClassBalancedBatchSampler.batch_size must be >= the number of classes "
                             f"({len(self.classes)}); got {batch_size}")
        self.n = len(self.targets)
        self.num_batches = (batches_per_epoch(self.n, self.batch_size) if num_batches is None
                            else check_int("ClassBalancedBatchSampler.num_batches", num_batches, 1))
        self.seed = check_int("ClassBalancedBatchSampler.seed", seed, 0)
        self.epoch = 0
        self._by_class = [(self.targets == c).nonzero().flatten() for c in self.classes]

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[list[int]]:
        g = _generator(self.seed, self.epoch)
        c = len(self.classes)
        perms = [p[torch.randperm(len(p), generator=g)] for p in self._by_class]
        cursors = [0] * c
        per, extra = divmod(self.batch_size, c)
        for _ in range(self.num_batches):
            counts = [per] * c
            for k in torch.randperm(c, generator=g)[:extra].tolist():
                counts[k] += 1
            batch: list[int] = []
            for k in range(c):
                for _ in range(counts[k]):
                    if cursors[k] >= len(perms[k]):
                        p = self._by_class[k]
                        perms[k], cursors[k] = p[torch.randperm(len(p), generator=g)], 0
                    batch.append(int(perms[k][cursors[k]]))
                    cursors[k] += 1
            order = torch.randperm(len(batch), generator=g).tolist()
            yield [batch[i] for i in order]

    def __len__(self) -> int:
        return self.num_batches

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "epoch": self.epoch, "n": self.n}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["n"]) != self.n:
            raise ValueError(f"ClassBalancedBatchSampler state is for {state['n']} examples, this one has {self.n}")
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])


# ----------------------------------------------------------------------------- dynamic batches
class DynamicBatchComposer(Sampler[list[int]]):
    """Composes batches by length, difficulty and domain.

    1. **Length grouping** (``lengths`` given): positions are sorted by a noisy length
       ``length * (1 + u)``, ``u ~ U(-tolerance, tolerance)`` (AllenNLP's
       ``BucketBatchSampler`` ``padding_noise``), cut into consecutive batches, so a batch
       holds examples of similar length and pads little; ``tolerance`` trades padding for
       randomness (0: strict sort, ties shuffled). Without lengths, membership is random.
    2. **Difficulty mode** (``difficulty`` given):
       ``"uniform"``: batches in random order (difficulty ignored);
       ``"mixed"``: each batch draws evenly from ``batch_size`` difficulty strata (easy and
       hard examples together; length grouping then applies within each stratum);
       ``"progressive"``: batches ordered by mean difficulty, easiest first.
    3. **Domain balance** (``domains`` given, ``domain_balance=True``): every batch holds
       ``batch_size // D`` examples of each of the ``D`` domains (1 and 2 are applied within
       each domain; the epoch ends when the smallest domain runs out).

    Args:
        n: number of examples; lengths / difficulty / domains are ``[n]`` per position.
        batch_size, seed: as usual. drop_last: drop a final short batch.

    Raises:
        ValueError: inconsistent sizes, unknown mode, negative tolerance, batch size smaller
            than the number of domains.
    """

    MODES = ("uniform", "mixed", "progressive")

    def __init__(self, n: int, batch_size: int, seed: int = 0, lengths: Any = None, tolerance: float = 0.1,
                 difficulty: Any = None, mode: str = "uniform", domains: Any = None,
                 domain_balance: bool = True, drop_last: bool = False) -> None:
        self.n = check_int("DynamicBatchComposer.n", n, 1)
        self.batch_size = check_int("DynamicBatchComposer.batch_size", batch_size, 1)
        self.seed = check_int("DynamicBatchComposer.seed", seed, 0)
        self.tolerance = check_number("DynamicBatchComposer.tolerance", tolerance, lo=0)
        self.mode = check_choice("DynamicBatchComposer.mode", mode, self.MODES)
        self.drop_last = check_bool("DynamicBatchComposer.drop_last", drop_last)
        domain_balance = check_bool("DynamicBatchComposer.domain_balance", domain_balance)
        self.lengths = self._opt(lengths, torch.float64, "lengths")
        self.difficulty = self._opt(difficulty, torch.float64, "difficulty")
        self.domains = self._opt(domains, torch.long, "domains") if domain_balance else None
        if self.domains is not None:
            self._domain_values = torch.unique(self.domains)
            if self.batch_size < len(self._domain_values):
                raise ValueError("DynamicBatchComposer.batch_size must be >= the number of domains")
        self.epoch = 0
        self._len = sum(1 for _ in self._batches(_generator(self.seed, 0)))

    def _opt(self, x: Any, dtype: torch.dtype, name: str) -> torch.Tensor | None:
        if x is None:
            return None
        t = _as_1d(x, dtype, name, "DynamicBatchComposer")
        if len(t) != self.n:
            raise ValueError(f"DynamicBatchComposer: {name} has {len(t)} entries; expected n={self.n}")
        return t

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def _arrange(self, pos: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """Positions ``pos`` in the order batches are cut from (length grouping)."""
        pos = pos[torch.randperm(len(pos), generator=g)]
        if self.lengths is None:
            return pos
        u = (torch.rand(len(pos), generator=g, dtype=torch.float64) * 2 - 1) * self.tolerance
        key = self.lengths[pos] * (1 + u)
        return pos[torch.sort(key, stable=True).indices]

    def _stream(self, pos: torch.Tensor, size: int, g: torch.Generator) -> list[list[int]]:
        if self.difficulty is not None and self.mode == "mixed":
            ranked = pos[torch.sort(self.difficulty[pos], stable=True).indices]
            strata = [ranked[i * len(ranked) // size:(i + 1) * len(ranked) // size] for i in range(size)]
            strata = [self._arrange(s, g) for s in strata]
            m = max(len(s) for s in strata)
            batches = [[int(s[j]) for s in strata if j < len(s)] for j in range(m)]
        else:
            order = self._arrange(pos, g)
            batches = [order[i:i + size].tolist() for i in range(0, len(order), size)]
        if self.drop_last:
            batches = [b for b in batches if len(b) == size]
        if self.difficulty is not None and self.mode == "progressive":
            means = torch.tensor([float(self.difficulty[b].mean()) for b in batches])
            return [batches[i] for i in torch.sort(means, stable=True).indices.tolist()]
        perm = torch.randperm(len(batches), generator=g).tolist()
        return [batches[i] for i in perm]

    def _batches(self, g: torch.Generator) -> list[list[int]]:
        allpos = torch.arange(self.n)
        if self.domains is None:
            return self._stream(allpos, self.batch_size, g)
        d = len(self._domain_values)
        per = self.batch_size // d
        streams = [self._stream(allpos[self.domains == v], per, g) for v in self._domain_values]
        count = min(len(s) for s in streams)
        return [sum((s[i] for s in streams), []) for i in range(count)]

    def __iter__(self) -> Iterator[list[int]]:
        return iter(self._batches(_generator(self.seed, self.epoch)))

    def __len__(self) -> int:
        return self._len

    def state_dict(self) -> dict[str, Any]:
        return {"seed": self.seed, "epoch": self.epoch, "n": self.n}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["n"]) != self.n:
            raise ValueError(f"DynamicBatchComposer state is for {state['n']} examples, this one has {self.n}")
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])


def padding_stats(batches: Sequence[Sequence[int]], lengths: Sequence[int] | torch.Tensor) -> dict[str, float]:
    """Padding of a list of batches of positions: ``{"tokens", "padded", "padding",
    "padding_fraction"}`` (padded = sum over batches of ``len(batch) * max length``)."""
    lengths = torch.as_tensor(lengths, dtype=torch.long)
    tokens = padded = 0
    for b in batches:
        ls = lengths[torch.as_tensor(list(b), dtype=torch.long)]
        tokens += int(ls.sum())
        padded += int(ls.max()) * len(b)
    return {"tokens": float(tokens), "padded": float(padded), "padding": float(padded - tokens),
            "padding_fraction": (padded - tokens) / padded if padded else 0.0}


# ----------------------------------------------------------------------------- staged loader
@dataclass
class LoaderStage:
    """One stage of a :class:`StagedLoader`: a data set and its batch size.

    Raises:
        ValueError: ``batch_size`` not an integer >= 1.
    """

    dataset: Dataset
    batch_size: int
    name: str = ""

    def __post_init__(self) -> None:
        check_int("LoaderStage.batch_size", self.batch_size, 1)


class StagedLoader:
    """Data sets and batch sizes per stage; :meth:`advance_stage` moves to the next on demand.

    :meth:`current_loader` returns a DataLoader over the current stage's data set, shuffled
    by a :class:`~workbench.data.samplers.ResumableRandomSampler` (seed, epoch); for the
    Trainer use :attr:`dataset` and :meth:`sampler` of the current stage.
    ``state_dict`` holds the stage index and epoch.

    Raises:
        ValueError: no stages, an empty data set or a batch size < 1.
    """

    def __init__(self, stages: Sequence[LoaderStage], collate_fn: Any = None, seed: int = 0) -> None:
        if not stages:
            raise ValueError("StagedLoader needs at least one stage")
        for i, s in enumerate(stages):
            if len(s.dataset) == 0:
                raise ValueError(f"StagedLoader: stage {i} ({s.name!r}) has an empty data set")
        self.stages = list(stages)
        self.collate_fn = collate_fn
        self.seed = check_int("StagedLoader.seed", seed, 0)
        self.index = 0
        self.epoch = 0

    @property
    def stage(self) -> LoaderStage:
        return self.stages[self.index]

    @property
    def dataset(self) -> Dataset:
        return self.stage.dataset

    @property
    def finished(self) -> bool:
        return self.index == len(self.stages) - 1

    def advance_stage(self) -> bool:
        """Move to the next stage; False (and no change) when already at the last one."""
        if self.finished:
            return False
        self.index += 1
        return True

    def sampler(self) -> ResumableRandomSampler:
        """A shuffling sampler over the current stage's data set (seed ``seed + stage index``,
        at the current epoch)."""
        s = ResumableRandomSampler(self.dataset, seed=self.seed + self.index)
        s.set_epoch(self.epoch)
        return s

    def current_loader(self) -> DataLoader:
        return DataLoader(self.dataset, batch_size=self.stage.batch_size, sampler=self.sampler(),
                          collate_fn=self.collate_fn)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def state_dict(self) -> dict[str, Any]:
        return {"index": self.index, "epoch": self.epoch, "seed": self.seed, "stages": len(self.stages)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if int(state["stages"]) != len(self.stages):
            raise ValueError(f"StagedLoader state has {state['stages']} stages, this one {len(self.stages)}")
        self.index, self.epoch, self.seed = int(state["index"]), int(state["epoch"]), int(state["seed"])


# ----------------------------------------------------------------------------- factory
def curriculum_dataloader(dataset: Dataset, scores: Sequence[float] | torch.Tensor, pacing: Callable[[int], float],
                          batch_size: int, seed: int = 0, order: str = "curriculum", collate_fn: Any = None,
                          drop_last: bool = False) -> DataLoader:
    """A DataLoader over ``dataset`` paced by ``pacing`` (a :class:`PacingSampler`).

    Args:
        scores: difficulty per position ``[N]`` (higher = harder).
        order: ``"curriculum"`` (easiest first), ``"anti"`` (hardest first) or ``"random"``
            (a random order fixed by ``seed``, same pacing: Wu et al. 2021's control).
        collate_fn: e.g. ``task.collator()``.

    The DataLoader's ``sampler`` is the :class:`PacingSampler` (call ``set_epoch`` on it).

    Raises:
        ValueError: unknown order, or as :class:`PacingSampler`.
    """
    positions = curriculum_order(scores, order, seed=seed)
    sampler = PacingSampler(positions, pacing, batch_size, seed=seed, drop_last=drop_last)
    return DataLoader(dataset, batch_size=batch_size, sampler=sampler, collate_fn=collate_fn, drop_last=drop_last)
