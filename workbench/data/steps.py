"""Step arithmetic in one place: mini-batches and optimizer steps per epoch, steps per run.

Every part of the package that needs "how many batches / optimizer (effective) steps will
this run take" (the Trainer's scheduler horizon, the recipes' warmup, a curriculum's pacing
horizon, the active-learning loop's epoch budget, the samplers' ``__len__``) calls these.
Definitions follow ``torch.utils.data.DataLoader`` (``drop_last``) and gradient
accumulation (one optimizer step per ``grad_accum_steps`` micro-batches; a final partial
window still steps, as the Trainer does).
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["batches_per_epoch", "epochs_for_steps", "micro_batches_per_run", "optimizer_steps_per_epoch",
           "optimizer_steps_per_run"]


def _nonneg_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an integer >= 0; got {value!r}")
    return value


def _pos_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    return value


def batches_per_epoch(n_examples: int, batch_size: int, drop_last: bool = False) -> int:
    """Mini-batches in one pass over ``n_examples``: ``floor(n / b)`` with ``drop_last``,
    else ``ceil(n / b)`` (``DataLoader``'s ``len``).

    Raises:
        ValueError: ``n_examples < 0`` or ``batch_size < 1``.
    """
    n = _nonneg_int("n_examples", n_examples)
    b = _pos_int("batch_size", batch_size)
    return n // b if drop_last else math.ceil(n / b)


def optimizer_steps_per_epoch(batches: int, grad_accum_steps: int = 1) -> int:
    """Optimizer (effective) steps for ``batches`` micro-batches: ``ceil(batches / k)``
    with ``k = grad_accum_steps`` (a final partial window still steps).

    Raises:
        ValueError: ``batches < 0`` or ``grad_accum_steps < 1``.
    """
    return math.ceil(_nonneg_int("batches", batches) / _pos_int("grad_accum_steps", grad_accum_steps))


def optimizer_steps_per_run(config: Any, n_examples: int) -> int:
    """Optimizer steps a run of ``config`` takes on ``n_examples`` training examples when it
    does not stop early: ``epochs x steps per epoch``, capped at ``config.max_steps`` when
    set. ``config`` needs ``batch_size, drop_last, grad_accum_steps, epochs, max_steps``
    (a :class:`~workbench.config.TrainingConfig`)."""
    per_epoch = optimizer_steps_per_epoch(
        batches_per_epoch(n_examples, config.batch_size, config.drop_last), config.grad_accum_steps)
    total = per_epoch * config.epochs
    return min(total, config.max_steps) if config.max_steps else total


def micro_batches_per_run(config: Any, n_examples: int) -> int:
    """Mini-batches (micro-steps) a run of ``config`` draws on ``n_examples`` examples when
    it does not stop early: ``epochs x batches per epoch``, capped at
    ``max_steps x grad_accum_steps`` when ``max_steps`` is set."""
    total = batches_per_epoch(n_examples, config.batch_size, config.drop_last) * config.epochs
    return min(total, config.max_steps * config.grad_accum_steps) if config.max_steps else total


def epochs_for_steps(config: Any, n_examples: int, steps: int, max_epochs: int = 100_000) -> int:
    """Epochs needed for ``steps`` optimizer steps on ``n_examples`` examples (at least 1,
    at most ``max_epochs``)."""
    per_epoch = max(1, optimizer_steps_per_epoch(
        batches_per_epoch(n_examples, config.batch_size, config.drop_last), config.grad_accum_steps))
    return min(max_epochs, max(1, math.ceil(steps / per_epoch)))
