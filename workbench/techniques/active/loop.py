"""The pool-based active-learning loop (Settles 2009, sec. 2.3), by example id.

One **round** trains a model on the labelled set (from scratch, or continuing from the
previous round's model and optimizer), measures it on the evaluation splits (one point of
the learning curve: accuracy against the number of labels), and, unless the loop is
finished, acquires the next ``acquisition_size`` examples from the unlabelled pool with
the strategy's acquisition function (:mod:`workbench.techniques.active.acquisition`) and
"labels" them (moves their ids from the pool to the labelled set; the training split's
targets play the oracle).

Every round's training goes through :class:`~workbench.train.Trainer` with
``train_config`` (a fixed budget per round: ``max_steps`` optimizer steps when set,
otherwise ``epochs``; no validation inside the round, no early stopping). Round ``r`` is
seeded with :func:`round_seed` ``(seed, r)`` (model initialisation and the Trainer's
``seed_everything``), the initial labelled set, random acquisition, pool subsets and the
MC dropout seeds come from one private ``torch.Generator``, so a loop is a deterministic
function of its configuration, and all strategies with the same seed start from the same
labelled set and the same round-0 model.

The whole loop state (labelled set and pool, round, curve so far, acquisitions, model,
optimizer, the private generator and the global RNG states) is written atomically after
every round (:meth:`ActiveLearner.save_checkpoint`), loaded with ``weights_only=True``,
and a loop resumed from it continues exactly as the uninterrupted one would.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from workbench.config import TaskSpec, TrainingConfig
from workbench.data.steps import epochs_for_steps
from workbench.techniques.active.acquisition import (
    MC_STRATEGIES,
    STRATEGIES,
    acquire,
    has_dropout,
)
from workbench.train import checkpoint as ckpt
from workbench.train.optim import build_optimizer
from workbench.train.trainer import Trainer, seed_everything
from workbench.validation import check_bool, check_choice, check_int

__all__ = [
    "RETRAIN_MODES",
    "ActiveLearner",
    "ActiveLearningConfig",
    "ActiveRun",
    "initial_selection",
    "round_seed",
]

RETRAIN_MODES = ("scratch", "continue")
CHECKPOINT_KIND = "active_learning"
_EVAL_SPLITS = ("train", "val", "test")


_CFG = "ActiveLearningConfig"


def _bad(name: str, valid: str, value: Any) -> ValueError:
    """For the checks :mod:`workbench.validation` has no form for (a count or a fraction,
    an optional integer, a tuple of names)."""
    return ValueError(f"{_CFG}.{name} must be {valid}; got {value!r}")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


@dataclass
class ActiveLearningConfig:
    """How the pool-based loop runs; validated on construction.

    Args:
        strategy: acquisition function, one of
            :data:`~workbench.techniques.active.acquisition.STRATEGIES`.
        initial_size: initial labelled set: a count (int >= 1) or a fraction of the
            training pool (float in ``(0, 1)``, rounded, at least 1).
        stratified: draw the initial set class-stratified (per-class counts proportional
            to the pool's class frequencies, largest remainder) rather than uniformly.
        acquisition_size: examples labelled per round (>= 1).
        rounds: acquisition rounds (>= 0; the curve has ``rounds + 1`` points), or None.
        label_budget: stop once this many examples are labelled (the last acquisition is
            cut to fit), or None. With both None the loop runs until the pool is empty;
            with both set it stops at whichever comes first.
        retrain: ``"scratch"`` (a freshly initialised model and optimizer every round, as
            in Gal et al. 2017) or ``"continue"`` (keep training the previous round's model
            and optimizer on the grown labelled set).
        mc_samples: ``T``, MC dropout passes for ``bald`` and ``variation_ratios``.
        pool_subset: score only a random subset of this many pool examples per round (a
            common speed-up on large pools), or None for the whole pool.
        score_batch_size: examples per forward pass when scoring the pool.
        mc_batch_size: rows (examples x passes) per MC dropout forward pass.
        seed: seed of the loop (initial set, round seeds, private generator).
        eval_splits: splits measured after every round, from ``("train", "val", "test")``
            (``train`` is the labelled set).

    Raises:
        ValueError: naming the field and its valid range.
    """

    strategy: str = "entropy"
    initial_size: int | float = 20
    stratified: bool = True
    acquisition_size: int = 10
    rounds: int | None = 10
    label_budget: int | None = None
    retrain: str = "scratch"
    mc_samples: int = 20
    pool_subset: int | None = None
    score_batch_size: int = 512
    mc_batch_size: int = 2048
    seed: int = 0
    eval_splits: tuple[str, ...] = ("val", "test")

    def __post_init__(self) -> None:
        check_choice(f"{_CFG}.strategy", self.strategy, STRATEGIES)
        s = self.initial_size
        if isinstance(s, bool) or not isinstance(s, (int, float)) or (
                _is_int(s) and s < 1) or (isinstance(s, float) and not 0.0 < s < 1.0):
            raise _bad("initial_size", "an integer >= 1 (a count) or a float in (0, 1) (a fraction "
                       "of the pool)", s)
        check_bool(f"{_CFG}.stratified", self.stratified)
        for name in ("acquisition_size", "mc_samples", "score_batch_size", "mc_batch_size"):
            check_int(f"{_CFG}.{name}", getattr(self, name), 1)
        for name, lo in (("rounds", 0), ("label_budget", 1), ("pool_subset", 1)):
            v = getattr(self, name)
            if v is not None and (not _is_int(v) or v < lo):
                raise _bad(name, f"an integer >= {lo} or None", v)
        check_choice(f"{_CFG}.retrain", self.retrain, RETRAIN_MODES)
        check_int(f"{_CFG}.seed", self.seed, 0, 2**32 - 1)
        splits = tuple(self.eval_splits) if isinstance(self.eval_splits, (list, tuple)) else None
        if not splits or any(x not in _EVAL_SPLITS for x in splits) or len(set(splits)) != len(splits):
            raise _bad("eval_splits", f"a non-empty tuple of distinct names from {list(_EVAL_SPLITS)}",
                       self.eval_splits)
        self.eval_splits = splits
        if self.label_budget is not None and _is_int(s) and self.label_budget < s:
            raise _bad("label_budget", f"at least initial_size ({s})", self.label_budget)

    def replace(self, **changes: Any) -> ActiveLearningConfig:
        """A validated copy with ``changes`` applied."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (safe for JSON and ``weights_only`` checkpoints)."""
        d = dataclasses.asdict(self)
        d["eval_splits"] = list(d["eval_splits"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ActiveLearningConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"ActiveLearningConfig has no fields {unknown}; valid: {sorted(names)}")
        return cls(**{k: (tuple(v) if k == "eval_splits" else v) for k, v in d.items()})


def round_seed(seed: int, round_index: int) -> int:
    """The seed of round ``round_index`` of a loop seeded ``seed``: an integer in
    ``[0, 2**32)`` from ``numpy.random.SeedSequence([seed, round_index])`` (well mixed, so
    neighbouring seeds and rounds do not share streams)."""
    return int(np.random.SeedSequence([int(seed), int(round_index)]).generate_state(1)[0])


def initial_selection(ids: torch.Tensor, targets: torch.Tensor, size: int, stratified: bool,
                      generator: torch.Generator) -> list[int]:
    """The initial labelled set: ``size`` ids drawn without replacement from ``ids``.

    Stratified: class ``c`` with ``n_c`` of the ``N`` examples gets
    ``floor(size * n_c / N)`` places, and the places left go to the classes with the
    largest remainders (ties: lower class index); within a class the examples are a random
    permutation's first ones. Otherwise a uniformly random subset.

    Args:
        ids: long ``[N]`` example ids. targets: long ``[N]`` class labels.
        size: ``1 <= size <= N``.
        stratified: see above.
        generator: the loop's private generator.

    Returns:
        the chosen ids, sorted ascending.

    Raises:
        ValueError: ``size`` outside ``[1, N]``.
    """
    n = len(ids)
    check_int("size", size, 1, n)  # at most the pool size
    if not stratified or targets.is_floating_point():
        pos = torch.randperm(n, generator=generator)[:size]
        return sorted(int(i) for i in ids[pos])
    classes, counts = torch.unique(targets, sorted=True, return_counts=True)
    quota = [size * int(c) / n for c in counts]
    take = [min(int(math.floor(q)), int(c)) for q, c in zip(quota, counts)]
    left = size - sum(take)
    order = sorted(range(len(classes)), key=lambda i: (-(quota[i] - math.floor(quota[i])), i))
    while left > 0:
        for i in order:
            if left and take[i] < int(counts[i]):
                take[i] += 1
                left -= 1
    chosen: list[int] = []
    for cls, k in zip(classes.tolist(), take):
        members = (targets == cls).nonzero().flatten()
        perm = torch.randperm(len(members), generator=generator)[:k]
        chosen += [int(i) for i in ids[members[perm]]]
    return sorted(chosen)


@dataclass
class ActiveRun:
    """The record of one active-learning loop.

    Attributes:
        dataset, strategy, seed: what ran.
        curve: one row per round: ``round, labels`` (labelled examples the model was
            trained on), ``<split>_accuracy, <split>_loss`` for each evaluation split,
            ``train_seconds`` (the round's training wall time, evaluation excluded),
            ``acquire_seconds`` (scoring and selecting after this round; 0 in the last),
            ``acquired`` (how many were labelled after it), ``effective_steps``.
        acquired: one dict per acquisition: ``round``, ``ids`` (list, in the order picked),
            ``scores`` (list of float).
        config: the :class:`ActiveLearningConfig` as a dict.
    """

    dataset: str
    strategy: str
    seed: int
    curve: list[dict[str, Any]]
    acquired: list[dict[str, Any]]
    config: dict[str, Any]

    @property
    def acquire_seconds(self) -> float:
        """Total seconds spent acquiring."""
        return float(sum(r.get("acquire_seconds", 0.0) for r in self.curve))

    @property
    def train_seconds(self) -> float:
        """Total training seconds over all rounds."""
        return float(sum(r.get("train_seconds", 0.0) for r in self.curve))


class ActiveLearner:
    """Pool-based active learning on ``splits.train`` (the pool), by example id.

    Args:
        splits: a :class:`~workbench.data.datasets.DataSplits` (train is the pool whose
            targets are revealed when labelled; val / test are measured every round).
        model_factory: ``factory(task) -> nn.Module`` (for example
            :func:`workbench.recipes.model_factory`); called once per round in ``scratch``
            mode, once in ``continue`` mode. MC strategies need a model with dropout,
            ``coreset`` one with ``encode``.
        train_config: the per-round :class:`~workbench.config.TrainingConfig`. With
            ``max_steps`` set every round takes exactly that many optimizer steps
            (``epochs`` is raised to cover them); otherwise ``epochs`` epochs of the
            labelled set. Per round the loop sets ``seed`` (:func:`round_seed`) and turns
            off progress bars, in-round validation, early stopping, and the Trainer's
            own checkpoints and metric files.
        config: :class:`ActiveLearningConfig`.
        checkpoint_path: when set, the loop state is written there (atomically) after
            every round.
        on_round: ``callback(learner)`` after every round (live plots).
        dataset: name for records (default ``splits.name``).

    Raises:
        ValueError: before any training: an initial set as large as the pool, a label
            budget larger than the pool, an MC strategy with a model without dropout,
            ``coreset`` with a model without ``encode``, or an empty evaluation split.
    """

    def __init__(self, splits: Any, model_factory: Callable[[TaskSpec], nn.Module],
                 train_config: TrainingConfig, config: ActiveLearningConfig,
                 checkpoint_path: str | Path | None = None,
                 on_round: Callable[[ActiveLearner], Any] | None = None,
                 dataset: str | None = None) -> None:
        if not isinstance(config, ActiveLearningConfig):
            raise TypeError(f"config must be an ActiveLearningConfig; got {type(config).__name__}")
        if not isinstance(train_config, TrainingConfig):
            raise TypeError(f"train_config must be a TrainingConfig; got {type(train_config).__name__}")
        self.splits = splits
        self.task: TaskSpec = splits.task
        self.model_factory = model_factory
        self.train_config = train_config
        self.config = config
        self.checkpoint_path = Path(checkpoint_path) if checkpoint_path is not None else None
        self.on_round = on_round
        self.dataset = dataset or getattr(splits, "name", "") or "data"
        self.collate_fn = self.task.collator()
        pool = splits.train
        n = len(pool)
        size = config.initial_size if _is_int(config.initial_size) else max(1, round(config.initial_size * n))
        if size >= n:
            raise ValueError(f"ActiveLearningConfig.initial_size ({size}) must be smaller than the "
                             f"training pool ({n} examples)")
        if config.label_budget is not None and config.label_budget > n:
            raise ValueError(f"ActiveLearningConfig.label_budget ({config.label_budget}) exceeds the "
                             f"training pool ({n} examples)")
        if config.label_budget is not None and config.label_budget < size:
            raise ValueError(f"ActiveLearningConfig.label_budget ({config.label_budget}) is smaller "
                             f"than the initial labelled set ({size})")
        for name in config.eval_splits:
            if name != "train" and len(getattr(splits, name)) == 0:
                raise ValueError(f"eval split {name!r} of {self.dataset} is empty; drop it from "
                                 f"ActiveLearningConfig.eval_splits")
        self._check_model()
        self._gen = torch.Generator().manual_seed(config.seed)
        self.labeled_ids: list[int] = initial_selection(pool.ids, pool.targets, size, config.stratified,
                                                        self._gen)
        chosen = set(self.labeled_ids)
        self.pool_ids: list[int] = [int(i) for i in sorted(pool.ids.tolist()) if int(i) not in chosen]
        self.round = 0
        self.done = False
        self.curve: list[dict[str, Any]] = []
        self.acquired: list[dict[str, Any]] = []
        self.model: nn.Module | None = None
        self.optimizer: torch.optim.Optimizer | None = None
        self.last_acquisition_ids: list[int] = []

    # --------------------------------------------------------------------- checks
    def _check_model(self) -> None:
        """Build one throwaway model (without touching the global RNG) to check it fits
        the strategy, before any training."""
        with torch.random.fork_rng(devices=[]):
            model = self.model_factory(self.task)
        strategy = self.config.strategy
        if strategy in MC_STRATEGIES and not has_dropout(model):
            raise ValueError(f"strategy {strategy!r} uses MC dropout, but {type(model).__name__} has no "
                             f"dropout module with p > 0; build the model with dropout > 0")
        if strategy == "coreset" and not callable(getattr(model, "encode", None)):
            raise ValueError(f"strategy 'coreset' needs model.encode(x) features; "
                             f"{type(model).__name__} has no encode method")

    # --------------------------------------------------------------------- the loop
    @property
    def labels(self) -> int:
        """Number of labelled examples now."""
        return len(self.labeled_ids)

    def _finished_after_training(self) -> bool:
        c = self.config
        if not self.pool_ids:
            return True
        if c.rounds is not None and self.round >= c.rounds:
            return True
        return c.label_budget is not None and self.labels >= c.label_budget

    def _next_k(self) -> int:
        k = min(self.config.acquisition_size, len(self.pool_ids))
        if self.config.label_budget is not None:
            k = min(k, self.config.label_budget - self.labels)
        return k

    def round_config(self, n_labeled: int, seed: int) -> TrainingConfig:
        """The :class:`TrainingConfig` of a round on ``n_labeled`` examples (see the class doc)."""
        cfg = self.train_config
        changes: dict[str, Any] = {
            "seed": seed, "progress_bar": False, "eval_every_epochs": None, "eval_every_steps": None,
            "early_stopping_patience": None, "restore_best": False, "checkpoint_dir": None,
            "checkpoint_every_steps": None, "checkpoint_every_epochs": None, "metrics_dir": None,
        }
        drop_last = cfg.drop_last and n_labeled >= cfg.batch_size
        changes["drop_last"] = drop_last
        if cfg.max_steps is not None:
            changes["epochs"] = epochs_for_steps(cfg.replace(drop_last=drop_last), n_labeled, cfg.max_steps)
        return cfg.replace(**changes)

    def _train(self) -> dict[str, Any]:
        seed = round_seed(self.config.seed, self.round)
        cfg = self.round_config(self.labels, seed)
        scratch = self.config.retrain == "scratch" or self.model is None
        if scratch:
            seed_everything(seed)
            self.model = self.model_factory(self.task)
            self.optimizer = None
        train = self.splits.train.subset_by_ids(self.labeled_ids)
        trainer = Trainer(self.model, cfg, train, None, task=self.task, optimizer=self.optimizer)
        self.optimizer = trainer.optimizer
        state = trainer.fit()
        row: dict[str, Any] = {"round": self.round, "labels": self.labels}
        for name in self.config.eval_splits:
            data = train if name == "train" else getattr(self.splits, name)
            row |= trainer.evaluate(data, prefix=f"{name}_")
        row |= {"train_seconds": float(state.wall_time), "acquire_seconds": 0.0, "acquired": 0,
                "effective_steps": int(state.effective_step)}
        return row

    def step(self) -> dict[str, Any]:
        """Run one round: train, measure, and (unless finished) acquire. Returns the
        round's curve row. Writes a checkpoint when ``checkpoint_path`` is set.

        Raises:
            RuntimeError: the loop is already finished.
        """
        if self.done:
            raise RuntimeError("the active-learning loop is finished (ActiveLearner.done); "
                               "start a new ActiveLearner to run again")
        row = self._train()
        self.curve.append(row)
        if self._finished_after_training():
            self.done = True
            self.last_acquisition_ids = []
        else:
            acq = self._acquire(self._next_k())
            picked = [int(i) for i in acq.ids]
            row["acquire_seconds"] = float(acq.seconds)
            row["acquired"] = len(picked)
            self.acquired.append({"round": self.round, "ids": picked,
                                  "scores": [float(s) for s in acq.scores]})
            self.last_acquisition_ids = picked
            chosen = set(picked)
            self.labeled_ids = sorted(self.labeled_ids + picked)
            self.pool_ids = [i for i in self.pool_ids if i not in chosen]
        self.round += 1
        if self.checkpoint_path is not None:
            self.save_checkpoint(self.checkpoint_path)
        if self.on_round is not None:
            self.on_round(self)
        return row

    def _acquire(self, k: int):
        c = self.config
        pool = self.splits.train.subset_by_ids(self.pool_ids)
        if c.pool_subset is not None and len(pool) > c.pool_subset:
            pos = torch.randperm(len(pool), generator=self._gen)[:c.pool_subset].sort().values
            pool = pool.subset(pos)
        mc_seed = int(torch.randint(0, 2**31 - 1, (1,), generator=self._gen))
        labeled = self.splits.train.subset_by_ids(self.labeled_ids) if c.strategy == "coreset" else None
        assert self.model is not None
        return acquire(c.strategy, self.model, pool, k, self.collate_fn, labeled=labeled,
                       generator=self._gen, mc_samples=c.mc_samples, mc_seed=mc_seed,
                       batch_size=c.score_batch_size, mc_batch_size=c.mc_batch_size)

    def run(self, max_rounds: int | None = None) -> ActiveRun:
        """Run rounds until the loop is finished (or ``max_rounds`` more rounds ran);
        returns :meth:`record`."""
        done = 0
        while not self.done and (max_rounds is None or done < max_rounds):
            self.step()
            done += 1
        return self.record()

    def record(self) -> ActiveRun:
        """The :class:`ActiveRun` so far (copies)."""
        return ActiveRun(dataset=self.dataset, strategy=self.config.strategy, seed=self.config.seed,
                         curve=[dict(r) for r in self.curve],
                         acquired=[{**a, "ids": list(a["ids"]), "scores": list(a["scores"])}
                                   for a in self.acquired],
                         config=self.config.to_dict())

    # --------------------------------------------------------------------- checkpoints
    def state_dict(self) -> dict[str, Any]:
        """The whole loop state: plain values and tensors only (``weights_only`` loads)."""
        keep_optimizer = self.config.retrain == "continue" and self.optimizer is not None
        return {
            "format": ckpt.FORMAT, "version": ckpt.VERSION, "kind": CHECKPOINT_KIND,
            "config": self.config.to_dict(), "train_config": self.train_config.to_dict(),
            "dataset": self.dataset, "round": self.round, "done": self.done,
            "labeled_ids": torch.tensor(self.labeled_ids, dtype=torch.long),
            "pool_ids": torch.tensor(self.pool_ids, dtype=torch.long),
            "last_acquisition_ids": torch.tensor(self.last_acquisition_ids, dtype=torch.long),
            "curve": [dict(r) for r in self.curve],
            "acquired": [{"round": a["round"], "ids": torch.tensor(a["ids"], dtype=torch.long),
                          "scores": torch.tensor(a["scores"], dtype=torch.float64)} for a in self.acquired],
            "model": self.model.state_dict() if self.model is not None else None,
            "optimizer": self.optimizer.state_dict() if keep_optimizer else None,
            "generator": self._gen.get_state(),
            "rng": ckpt.capture_rng_state(),
        }

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write :meth:`state_dict` atomically (temp file, fsync, rename); returns the path."""
        return ckpt.atomic_save(self.state_dict(), path)

    def load_checkpoint(self, path: str | Path) -> ActiveLearner:
        """Restore a loop written by :meth:`save_checkpoint`; the next :meth:`step`
        continues exactly where it stopped. Returns ``self``.

        Raises:
            CheckpointError: unreadable file, not an active-learning checkpoint, a
                different :class:`ActiveLearningConfig` or ``train_config``, ids that are
                not this pool's, or model weights that do not fit.
        """
        data = ckpt.load_checkpoint_file(path)
        if data.get("kind") != CHECKPOINT_KIND:
            raise ckpt.CheckpointError(f"{path} is not an active-learning checkpoint (kind "
                                       f"{data.get('kind')!r})")
        for key, mine in (("config", self.config.to_dict()), ("train_config", self.train_config.to_dict())):
            diff = sorted(k for k in set(mine) | set(data[key]) if mine.get(k) != data[key].get(k))
            if diff:
                raise ckpt.CheckpointError(f"{path}: the checkpoint's {key} differs from this learner's in "
                                           f"{diff} (checkpoint: {({k: data[key].get(k) for k in diff})})")
        labeled = [int(i) for i in data["labeled_ids"]]
        pool = [int(i) for i in data["pool_ids"]]
        if sorted(labeled + pool) != sorted(int(i) for i in self.splits.train.ids):
            raise ckpt.CheckpointError(f"{path}: its labelled set and pool are not a partition of this "
                                       f"data set's training ids (a different data set or split?)")
        if data["model"] is not None:
            if self.model is None or self.config.retrain == "scratch":
                with torch.random.fork_rng(devices=[]):
                    self.model = self.model_factory(self.task)
            try:
                self.model.load_state_dict(data["model"])
            except RuntimeError as exc:
                raise ckpt.CheckpointError(f"{path}: model weights do not fit this model: {exc}") from exc
        else:
            self.model = None
        self.optimizer = None
        if data["optimizer"] is not None and self.model is not None:
            self.optimizer = build_optimizer(self.model.parameters(), self.train_config)
            self.optimizer.load_state_dict(data["optimizer"])
        self.labeled_ids, self.pool_ids = labeled, pool
        self.last_acquisition_ids = [int(i) for i in data["last_acquisition_ids"]]
        self.round = int(data["round"])
        self.done = bool(data["done"])
        self.curve = [dict(r) for r in data["curve"]]
        self.acquired = [{"round": int(a["round"]), "ids": [int(i) for i in a["ids"]],
                          "scores": [float(s) for s in a["scores"]]} for a in data["acquired"]]
        self._gen.set_state(data["generator"])
        ckpt.restore_rng_state(data["rng"])
        return self

