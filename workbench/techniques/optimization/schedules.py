"""Learning-rate schedule settings and curves: pure functions (no training loop).

The schedules themselves (constant, step, cosine, warmup, warmup + cosine, polynomial, SGDR,
one-cycle, reduce-on-plateau, dynamic) are built on ``torch.optim.lr_scheduler`` by
:mod:`workbench.train.schedules`, which the Trainer uses (each builder's docstring gives its
formula; ``tests/test_schedules.py`` compares them with the closed form). This module maps
the notebook's relative knobs to a schedule's arguments (:func:`schedule_settings`) and
computes the curve a schedule follows (:func:`schedule_curve`), for the figures of
:mod:`~workbench.techniques.optimization.display`.
"""

from __future__ import annotations

from typing import Any

from workbench.train.schedules import SCHEDULES, WARMUP_SCHEDULES, lr_at_steps
from workbench.validation import check_choice as _choice
from workbench.validation import check_int as _int
from workbench.validation import check_number as _num

__all__ = ["knobs_used", "schedule_curve", "schedule_settings"]

#: The relative knobs of :func:`schedule_settings` each schedule uses (besides ``lr`` and
#: ``total_steps``, which every schedule uses); the schedule explorer disables the others.
SCHEDULE_KNOBS: dict[str, tuple[str, ...]] = {
    "step": ("gamma",),
    "cosine": ("min_lr_fraction",),
    "warmup": ("warmup_fraction",),
    "warmup_linear": ("warmup_fraction",),
    "warmup_cosine": ("warmup_fraction", "min_lr_fraction"),
    "polynomial": ("power",),
    "sgdr": ("cycles", "t_mult", "min_lr_fraction"),
    "one_cycle": ("pct_start",),
    "plateau": ("gamma",),
}


def knobs_used(schedule: str) -> tuple[str, ...]:
    """The knobs of :func:`schedule_settings` that ``schedule`` uses (``()`` for ``constant``
    and ``dynamic``). Raises ``ValueError`` for an unknown schedule (lists the valid ones)."""
    _choice("schedule", schedule, tuple(SCHEDULES))
    return SCHEDULE_KNOBS.get(schedule, ())


def schedule_settings(schedule: str, lr: float, total_steps: int, *,
                      warmup_fraction: float = 0.05, min_lr_fraction: float = 0.0,
                      gamma: float = 0.1, cycles: int = 4, t_mult: int = 1,
                      pct_start: float = 0.3, power: float = 1.0,
                      plateau_patience: int | None = None) -> tuple[int, dict[str, Any]]:
    """``(warmup_steps, schedule kwargs)`` for :func:`~workbench.train.schedules.build_scheduler`
    from the notebook's knobs, which are relative so one set of sliders fits every schedule.

    Only the knobs a schedule uses are passed on:

    ========================  ==========================================================
    schedule                  arguments
    ========================  ==========================================================
    ``constant``              none
    ``step``                  ``gamma`` (decay at 1/3 and 2/3 of the run)
    ``cosine``                ``min_lr = min_lr_fraction * lr``
    ``warmup``                ``warmup_steps = max(1, round(warmup_fraction * T))``
    ``warmup_cosine``         as warmup (at most ``T - 1``), and ``min_lr``
    ``polynomial``            ``power``
    ``sgdr``                  ``T_0 = max(1, T // cycles)``, ``T_mult = t_mult``, ``min_lr``
    ``one_cycle``             ``pct_start``
    ``plateau``               ``factor = gamma``, ``patience`` (default ``T // 10``)
    ========================  ==========================================================

    Raises:
        ValueError: unknown schedule (lists the valid ones) or a knob out of range.
    """
    _choice("schedule", schedule, tuple(SCHEDULES))
    lr = _num("lr", lr, 0.0, lo_open=True)
    total_steps = _int("total_steps", total_steps, 1)
    warmup_fraction = _num("warmup_fraction", warmup_fraction, 0.0, 1.0)
    min_lr_fraction = _num("min_lr_fraction", min_lr_fraction, 0.0, 1.0)
    t = total_steps
    warmup = 0
    kwargs: dict[str, Any] = {}
    if schedule in WARMUP_SCHEDULES:
        hi = t if schedule == "warmup" else t - 1
        if hi < 1:
            raise ValueError(f"schedule {schedule!r} needs total_steps >= 2; got {t}")
        warmup = max(1, min(hi, round(warmup_fraction * t)))
    if schedule in ("cosine", "warmup_cosine", "sgdr"):
        kwargs["min_lr"] = min_lr_fraction * lr
    if schedule == "step":
        kwargs["gamma"] = gamma
    elif schedule == "polynomial":
        kwargs["power"] = power
    elif schedule == "sgdr":
        kwargs["T_0"] = max(1, t // _int("cycles", cycles, 1))
        kwargs["T_mult"] = t_mult
    elif schedule == "one_cycle":
        kwargs["pct_start"] = pct_start
    elif schedule == "plateau":
        kwargs["factor"] = gamma
        kwargs["patience"] = max(0, t // 10) if plateau_patience is None else plateau_patience
    return warmup, kwargs


def schedule_curve(schedule: str, lr: float, total_steps: int, **knobs: Any) -> tuple[list[int], list[float]]:
    """``(steps, lrs)``: the learning rate of ``schedule`` after each optimizer step
    ``0..T`` (``0..T-1`` for one-cycle, which may not step past ``T``), read from the real
    ``torch.optim.lr_scheduler`` object (:func:`~workbench.train.schedules.lr_at_steps`)
    built with :func:`schedule_settings` (``knobs`` are its keyword arguments). A
    metric-stepped schedule is fed a demonstration metric: ``plateau`` one that never
    improves (its fastest decay), ``dynamic`` a loss that falls over the first 30% of the
    checks and then stays flat (one check per step).

    Raises:
        ValueError: as :func:`schedule_settings` and
            :func:`~workbench.train.schedules.build_scheduler`.
    """
    warmup, kwargs = schedule_settings(schedule, lr, total_steps, **knobs)
    last = total_steps - 1 if schedule == "one_cycle" else total_steps
    steps = list(range(last + 1))
    return steps, lr_at_steps(schedule, lr, total_steps, steps, warmup_steps=warmup,
                              metrics=_demo_metrics(schedule, total_steps), **kwargs)


def _demo_metrics(schedule: str, total_steps: int) -> list[float] | None:
    """The metric a curve of a metric-stepped schedule is drawn with: None (a metric that
    never improves) for ``plateau``; for ``dynamic`` a validation loss that falls over the
    first 30% of the checks, then stays flat."""
    if schedule != "dynamic":
        return None
    fall = max(1, round(0.3 * total_steps))
    return [1.0 / (1 + min(t, fall)) for t in range(total_steps)]
