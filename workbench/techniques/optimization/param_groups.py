"""Optimizer parameter groups and the optimizer + scheduler factory (no training loop).

- :func:`param_groups` (defined in :mod:`workbench.train.param_groups`, re-exported here): per-domain learning rates by parameter-name patterns, ULMFiT's
  discriminative layer-wise rates (Howard & Ruder 2018, section 3.2: ``eta^{l-1} = eta^l /
  2.6``), and no weight decay on biases and normalization weights (the AdamW convention,
  Loshchilov & Hutter 2019); :func:`param_group_table` / :func:`param_group_summary` show
  the groups.
- :func:`create_optimizer_with_schedule`: ``(optimizer, scheduler)`` from names, on
  :func:`~workbench.train.optim.build_optimizer` and
  :func:`~workbench.train.schedules.build_scheduler` (``torch.optim`` /
  ``torch.optim.lr_scheduler``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from torch import nn
from torch.optim import Optimizer

from workbench.config import OPTIMIZERS, TrainingConfig
from workbench.train.optim import build_optimizer
from workbench.train.param_groups import (  # the parameter groups live in the training layer
    ULMFIT_LAYER_DECAY,
    is_no_decay,
    model_layers,
    param_groups,
)
from workbench.train.schedules import METRIC_SCHEDULES, SCHEDULES, build_scheduler
from workbench.validation import check_choice as _choice
from workbench.validation import check_int as _int

__all__ = [
    "FACTORY_SCHEDULES",
    "OPTIMIZER_NAMES",
    "ULMFIT_LAYER_DECAY",
    "create_optimizer_with_schedule",
    "is_no_decay",
    "model_layers",
    "param_group_summary",
    "param_group_table",
    "param_groups",
]

#: Optimizer names the factory accepts (those of :class:`~workbench.config.TrainingConfig`).
OPTIMIZER_NAMES: tuple[str, ...] = tuple(OPTIMIZERS)

#: Schedule names the factory accepts: every schedule of
#: :data:`workbench.train.schedules.SCHEDULES` (the ``torch.optim.lr_scheduler`` ones and
#: ``"dynamic"``, :class:`~workbench.train.dynamic_lr.DynamicLRScheduler`).
FACTORY_SCHEDULES: tuple[str, ...] = tuple(SCHEDULES)


def param_group_table(groups: Sequence[Mapping[str, Any]] | Optimizer):
    """One row per group: ``group, lr, weight_decay, tensors, parameters, names`` (a
    ``pandas.DataFrame``); ``groups`` is the list :func:`param_groups` returns or an
    optimizer built from it (names need the ``param_names`` key). ``lr`` is the group's
    base rate: ``initial_lr`` once a scheduler is attached (the current rate of a warmup
    is smaller), else ``lr``."""
    import pandas as pd

    gs = groups.param_groups if isinstance(groups, Optimizer) else list(groups)
    rows = []
    for i, g in enumerate(gs):
        names = list(g.get("param_names", []))
        shown = ", ".join(names[:4]) + (f", … (+{len(names) - 4})" if len(names) > 4 else "")
        rows.append({"group": g.get("name", f"group {i}"), "lr": float(g.get("initial_lr", g["lr"])),
                     "weight_decay": float(g.get("weight_decay", 0.0)), "tensors": len(g["params"]),
                     "parameters": int(sum(p.numel() for p in g["params"])), "names": shown})
    return pd.DataFrame(rows, columns=["group", "lr", "weight_decay", "tensors", "parameters", "names"])


def param_group_summary(groups: Sequence[Mapping[str, Any]] | Optimizer) -> str:
    """A printable table of the groups (see :func:`param_group_table`)."""
    t = param_group_table(groups)
    lines = [f"{'group':<44} {'lr':>10} {'wd':>8} {'tensors':>7} {'params':>10}  names"]
    for _, r in t.iterrows():
        lines.append(f"{r['group'][:44]:<44} {r['lr']:>10.3g} {r['weight_decay']:>8.3g} "
                     f"{r['tensors']:>7} {r['parameters']:>10,}  {r['names']}")
    lines.append(f"{len(t)} groups, {int(t['parameters'].sum()):,} parameters")
    return "\n".join(lines)



# =========================================================================== factory


def create_optimizer_with_schedule(model: nn.Module | Iterable[Any], optimizer_name: str = "adamw",
                                   lr: float = 1e-3, schedule: str = "constant", warmup_steps: int = 0,
                                   total_steps: int | None = None, *, weight_decay: float = 0.0,
                                   momentum: float = 0.9, betas: tuple[float, float] = (0.9, 0.999),
                                   eps: float = 1e-8, no_decay_bias_norm: bool = True,
                                   layer_decay: float | None = None,
                                   layers: Sequence[str | Sequence[str]] | None = None,
                                   lr_by_pattern: Mapping[str, float] | None = None,
                                   **schedule_kwargs: Any) -> tuple[Optimizer, Any]:
    """Build ``(optimizer, scheduler)``.

    Args:
        model: an ``nn.Module`` (its parameters are grouped by :func:`param_groups` with
            ``weight_decay``, ``no_decay_bias_norm``, ``layer_decay``, ``layers`` and
            ``lr_by_pattern``), or an iterable of parameters / group dicts used as given.
        optimizer_name: one of :data:`OPTIMIZER_NAMES` (``sgd, adam, adamw, rmsprop,
            adagrad``); SGD and RMSprop use ``momentum``, Adam/AdamW ``betas`` and ``eps``.
        lr: the base (for one-cycle: peak) learning rate, in ``(0, 10]``.
        schedule: one of :data:`FACTORY_SCHEDULES`: the schedules of
            :func:`~workbench.train.schedules.build_scheduler` (``constant, step, cosine,
            warmup, warmup_cosine, polynomial, sgdr, one_cycle, plateau``) or ``dynamic``
            (:class:`~workbench.train.dynamic_lr.DynamicLRScheduler`). Per-step schedulers
            are stepped after every ``optimizer.step()``; ``plateau`` and ``dynamic`` with a
            metric after each evaluation (``scheduler.step(val_loss)``).
        warmup_steps: for ``warmup`` / ``warmup_cosine``; 0 for the others.
        total_steps: optimizer steps in the run; required except for ``plateau`` and
            ``dynamic``.
        **schedule_kwargs: the schedule's own arguments (see its builder; for ``dynamic``
            those of :class:`~workbench.train.dynamic_lr.DynamicLRScheduler`).

    Raises:
        ValueError: an unknown optimizer or schedule name (the message lists the valid
            ones), a missing ``total_steps``, or any value out of range.
    """
    _choice("optimizer_name", optimizer_name, OPTIMIZER_NAMES)
    if schedule not in FACTORY_SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; valid names: {list(FACTORY_SCHEDULES)}")
    metric_stepped = schedule in METRIC_SCHEDULES
    if total_steps is None and not metric_stepped:
        raise ValueError(f"schedule {schedule!r} needs total_steps (the run's optimizer steps, "
                         f"an integer >= 1)")
    if total_steps is not None:
        _int("total_steps", total_steps, 1)
    config = TrainingConfig(optimizer=optimizer_name, lr=lr, weight_decay=weight_decay, momentum=momentum,
                            betas=betas, eps=eps, progress_bar=False)
    if isinstance(model, nn.Module):
        params: Any = param_groups(model, lr, weight_decay, layer_decay=layer_decay, layers=layers,
                                   lr_by_pattern=lr_by_pattern, no_decay_bias_norm=no_decay_bias_norm)
    else:
        params = list(model)
    optimizer = build_optimizer(params, config)
    scheduler = build_scheduler(schedule, optimizer, total_steps or 1, warmup_steps, **schedule_kwargs)
    return optimizer, scheduler
