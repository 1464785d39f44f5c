"""Learning-rate schedules built on :mod:`torch.optim.lr_scheduler`.

:func:`build_scheduler` returns a ``torch.optim.lr_scheduler`` object for a schedule
name; :data:`SCHEDULES` maps each name to its builder, whose docstring gives the
schedule's formula. Nothing here reimplements what torch provides: the builders choose
and parameterise torch's schedulers and validate their arguments.

Conventions used in every formula:

- ``t`` is the number of ``scheduler.step()`` calls made so far, so ``lr_t`` is the rate
  used by the ``(t+1)``-th optimizer step. Step the scheduler once per *effective*
  (optimizer) step, right after ``optimizer.step()``; the exceptions are ``"plateau"``
  and ``"dynamic"``, which are stepped with a metric (``scheduler.step(val_loss)``) after
  each evaluation (see :func:`is_metric_scheduler`).
- ``T`` is ``total_steps`` (the number of optimizer steps of the run), ``W`` is
  ``warmup_steps``, ``base_lr`` is each parameter group's learning rate when the
  scheduler is built (schedules act on every group in proportion, so discriminative
  learning rates keep their ratios).
- All rates are in the optimizer's units (the ``lr`` multiplying the update).

Checkpoints: every scheduler's ``state_dict()`` holds only plain Python values (numbers,
strings, lists, dicts, ``collections.Counter``), so it survives ``torch.save`` and
``torch.load(weights_only=True)``. To resume, build the optimizer and the scheduler
exactly as at the start (same name, ``total_steps`` and arguments), then call
``optimizer.load_state_dict(...)`` and *then* ``scheduler.load_state_dict(...)``;
stepping on continues with the same rates as an uninterrupted run.

References: Goyal et al. 2017, "Accurate, Large Minibatch SGD: Training ImageNet in 1
Hour" (linear warmup); Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional
Transformers for Language Understanding" (linear warmup then linear decay, Hugging
Face's ``get_linear_schedule_with_warmup``); Loshchilov & Hutter 2017, "SGDR: Stochastic
Gradient Descent with Warm Restarts" (cosine annealing and warm restarts); Smith & Topin
2019, "Super-Convergence: Very Fast Training of Neural Networks Using Large Learning
Rates" (one-cycle); Howard & Ruder 2018, "Universal Language Model Fine-tuning for Text
Classification" (ULMFiT's slanted triangular rates, section 3.2, equation 3).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import (
    CosineAnnealingLR,
    CosineAnnealingWarmRestarts,
    LambdaLR,
    LinearLR,
    LRScheduler,
    MultiStepLR,
    OneCycleLR,
    PolynomialLR,
    ReduceLROnPlateau,
    SequentialLR,
    StepLR,
)

from workbench.config import (
    METRIC_SCHEDULES,
    SCHEDULE_NAMES,
    WARMUP_SCHEDULES,
    register_schedule_check,
)
from workbench.train.dynamic_lr import DynamicLRScheduler
from workbench.validation import check_bool, check_choice, check_int, check_number

__all__ = [
    "METRIC_SCHEDULES",
    "SCHEDULES",
    "SlantedTriangularFactor",
    "WARMUP_SCHEDULES",
    "build_constant",
    "build_cosine",
    "build_dynamic",
    "build_one_cycle",
    "build_plateau",
    "build_polynomial",
    "build_scheduler",
    "build_sgdr",
    "build_slanted_triangular",
    "build_step",
    "build_warmup",
    "build_warmup_cosine",
    "build_warmup_linear",
    "is_constant_scheduler",
    "is_metric_scheduler",
    "lr_at_steps",
    "validate_schedule",
]


# --------------------------------------------------------------------------- checks


def _where(schedule: str) -> str:
    return f"schedule {schedule!r}"


def _at(schedule: str) -> str:
    """The prefix of a schedule's argument errors: ``"schedule 'step': "``."""
    return f"{_where(schedule)}: "


def _min_lr(schedule: str, min_lr: Any, optimizer: Optimizer) -> float:
    smallest = min(float(g["lr"]) for g in optimizer.param_groups)
    if (isinstance(min_lr, bool) or not isinstance(min_lr, (int, float))
            or not 0.0 <= min_lr <= smallest):
        raise ValueError(
            f"{_where(schedule)}: min_lr must be in [0, {smallest:g}] (the smallest param "
            f"group lr); got {min_lr!r}"
        )
    return float(min_lr)


def _warmup_factor(schedule: str, warmup_start_factor: Any, warmup_steps: int) -> float:
    if warmup_start_factor is None:
        return 1.0 / (warmup_steps + 1)
    return check_number("warmup_start_factor", warmup_start_factor, 0.0, 1.0, lo_open=True, prefix=_at(schedule))


def _constant_factor(step: int) -> float:
    """LambdaLR factor of the constant schedule (a named function, so that LambdaLR's
    ``state_dict`` stores ``None`` for it rather than a pickled callable)."""
    return 1.0


# --------------------------------------------------------------------------- builders


def build_constant(optimizer: Optimizer, total_steps: int) -> LambdaLR:
    """Constant rate: ``lr_t = base_lr``.

    A real scheduler (``LambdaLR`` with factor 1.0), never None, so that
    ``scheduler.get_last_lr()`` and ``state_dict()`` work for every schedule.
    """
    return LambdaLR(optimizer, lr_lambda=_constant_factor)


def build_step(optimizer: Optimizer, total_steps: int, *, step_size: int | None = None,
               gamma: float = 0.1, milestones: Sequence[int] | None = None) -> LRScheduler:
    """Step decay: ``lr_t = base_lr * gamma ** floor(t / step_size)`` (``StepLR``), or with
    ``milestones`` ``m_1 < m_2 < ...``: ``lr_t = base_lr * gamma ** #{i : m_i <= t}``
    (``MultiStepLR``).

    Args:
        step_size: steps between decays, >= 1. Default ``max(1, total_steps // 3)``
            (two decays in the run). Not together with ``milestones``.
        gamma: decay factor in ``(0, 1]``. Default 0.1.
        milestones: strictly increasing steps >= 1 at which the rate is multiplied by
            ``gamma`` (Goyal et al. 2017 decay at epochs 30, 60, 80 of 90).
    """
    s = "step"
    gamma = check_number("gamma", gamma, 0.0, 1.0, lo_open=True, prefix=_at(s))
    if milestones is not None:
        if step_size is not None:
            raise ValueError(f"{_where(s)}: give step_size or milestones, not both")
        ms = list(milestones) if isinstance(milestones, (list, tuple)) else None
        if (not ms or any(isinstance(m, bool) or not isinstance(m, int) or m < 1 for m in ms)
                or any(b <= a for a, b in zip(ms, ms[1:]))):
            raise ValueError(f"{_where(s)}: milestones must be a non-empty, strictly increasing "
                             f"list of integers >= 1; got {milestones!r}")
        return MultiStepLR(optimizer, milestones=ms, gamma=gamma)
    if step_size is None:
        step_size = max(1, total_steps // 3)
    step_size = check_int("step_size", step_size, 1, prefix=_at(s))
    return StepLR(optimizer, step_size=step_size, gamma=gamma)


def build_cosine(optimizer: Optimizer, total_steps: int, *, min_lr: float = 0.0
                 ) -> CosineAnnealingLR:
    """Cosine annealing (Loshchilov & Hutter 2017, without restarts), ``CosineAnnealingLR``:
    ``lr_t = min_lr + (base_lr - min_lr) * (1 + cos(pi * t / T)) / 2`` for ``0 <= t <= T``.

    Args:
        min_lr: the final rate ``lr_T``, in ``[0, smallest group lr]``. Default 0.
            (``eta_min`` is accepted as torch's name for it.)

    Do not step past ``T``: torch's cosine then rises again.
    """
    min_lr = _min_lr("cosine", min_lr, optimizer)
    return CosineAnnealingLR(optimizer, T_max=total_steps, eta_min=min_lr)


def build_warmup(optimizer: Optimizer, total_steps: int, *, warmup_steps: int,
                 warmup_start_factor: float | None = None) -> LinearLR:
    """Linear warmup, then constant (Goyal et al. 2017's gradual warmup), ``LinearLR``:
    ``lr_t = base_lr * (s + (1 - s) * min(t, W) / W)``.

    With the default ``s = 1 / (W + 1)`` this is ``lr_t = base_lr * (t + 1) / (W + 1)``
    for ``t <= W`` (the first step already trains, at ``base_lr / (W + 1)``) and
    ``base_lr`` from ``t = W`` on.

    Args:
        warmup_steps: ``W``, in ``[1, total_steps]``.
        warmup_start_factor: ``s``, in ``(0, 1]`` (``LinearLR`` cannot start at 0).
    """
    w = check_int("warmup_steps", warmup_steps, 1, total_steps, prefix=_at("warmup"))
    s = _warmup_factor("warmup", warmup_start_factor, w)
    return LinearLR(optimizer, start_factor=s, end_factor=1.0, total_iters=w)


def build_warmup_cosine(optimizer: Optimizer, total_steps: int, *, warmup_steps: int,
                        min_lr: float = 0.0, warmup_start_factor: float | None = None
                        ) -> SequentialLR:
    """Linear warmup then cosine annealing to ``min_lr``: ``SequentialLR`` of ``LinearLR``
    (``W`` steps) and ``CosineAnnealingLR`` (``T - W`` steps)::

        lr_t = base_lr * (s + (1 - s) * t / W)                                   t <  W
        lr_t = min_lr + (base_lr - min_lr) * (1 + cos(pi * (t - W) / (T - W))) / 2   W <= t <= T

    With the default ``s = 1 / (W + 1)`` the warmup is ``base_lr * (t + 1) / (W + 1)``;
    the peak ``base_lr`` is reached at ``t = W``.

    Args:
        warmup_steps: ``W``, in ``[1, total_steps - 1]``.
        min_lr: the final rate, in ``[0, smallest group lr]``. Default 0 (``eta_min`` is
            accepted too).
        warmup_start_factor: ``s``, in ``(0, 1]``.
    """
    name = "warmup_cosine"
    if total_steps < 2:
        raise ValueError(f"{_where(name)}: total_steps must be an integer >= 2; got {total_steps!r}")
    w = check_int("warmup_steps", warmup_steps, 1, total_steps - 1, prefix=_at(name))
    s = _warmup_factor(name, warmup_start_factor, w)
    min_lr = _min_lr(name, min_lr, optimizer)
    warm = LinearLR(optimizer, start_factor=s, end_factor=1.0, total_iters=w)
    cos = CosineAnnealingLR(optimizer, T_max=total_steps - w, eta_min=min_lr)
    return SequentialLR(optimizer, schedulers=[warm, cos], milestones=[w])


def build_warmup_linear(optimizer: Optimizer, total_steps: int, *, warmup_steps: int,
                        warmup_start_factor: float | None = None) -> SequentialLR:
    """Linear warmup then linear decay to zero, the schedule of Hugging Face's
    ``transformers.get_linear_schedule_with_warmup`` (BERT's, Devlin et al. 2019):
    ``SequentialLR`` of ``LinearLR`` (``W`` steps, up to ``base_lr``) and ``LinearLR``
    (``T - W`` steps, from ``base_lr`` down to 0)::

        lr_t = base_lr * (s + (1 - s) * t / W)       t <  W
        lr_t = base_lr * (T - t) / (T - W)           W <= t <= T
        lr_t = 0                                     t >  T

    With the default ``s = 1 / (W + 1)`` the warmup is ``base_lr * (t + 1) / (W + 1)``;
    the peak ``base_lr`` is reached at ``t = W``.

    Difference from Hugging Face: the decay (``t >= W``) is the same, but Hugging Face
    warms up as ``base_lr * t / W``, so its first step has rate 0 and changes nothing,
    while ours (default ``s``) trains from the first step at ``base_lr / (W + 1)``
    (``LinearLR`` cannot start at 0, and a step at rate 0 is wasted work). Ours is higher
    during the warmup by
    ``base_lr * (W - t) / (W * (W + 1))`` at step ``t < W`` (at most ``base_lr / (W + 1)``,
    at ``t = 0``); both reach ``base_lr`` at ``t = W``. Hugging Face's
    ``num_warmup_steps`` and ``num_training_steps`` are our ``warmup_steps`` and
    ``total_steps``.

    Args:
        warmup_steps: ``W``, in ``[1, total_steps - 1]``.
        warmup_start_factor: ``s``, in ``(0, 1]``.

    Raises:
        ValueError: ``total_steps < 2`` or an argument out of range (the message names it
            and its valid range).
    """
    name = "warmup_linear"
    if total_steps < 2:
        raise ValueError(f"{_where(name)}: total_steps must be an integer >= 2; got {total_steps!r}")
    w = check_int("warmup_steps", warmup_steps, 1, total_steps - 1, prefix=_at(name))
    s = _warmup_factor(name, warmup_start_factor, w)
    warm = LinearLR(optimizer, start_factor=s, end_factor=1.0, total_iters=w)
    decay = LinearLR(optimizer, start_factor=1.0, end_factor=0.0, total_iters=total_steps - w)
    return SequentialLR(optimizer, schedulers=[warm, decay], milestones=[w])


def build_polynomial(optimizer: Optimizer, total_steps: int, *, power: float = 1.0
                     ) -> PolynomialLR:
    """Polynomial decay to zero, ``PolynomialLR``:
    ``lr_t = base_lr * (1 - min(t, T) / T) ** power``.

    Args:
        power: exponent, in ``(0, 100]``. Default 1.0 (linear decay).
    """
    power = check_number("power", power, 0.0, 100.0, lo_open=True, prefix=_at("polynomial"))
    return PolynomialLR(optimizer, total_iters=total_steps, power=power)


def build_sgdr(optimizer: Optimizer, total_steps: int, *, T_0: int | None = None,
               T_mult: int = 1, min_lr: float = 0.0) -> CosineAnnealingWarmRestarts:
    """Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017),
    ``CosineAnnealingWarmRestarts``:
    ``lr_t = min_lr + (base_lr - min_lr) * (1 + cos(pi * T_cur / T_i)) / 2``.

    Cycle ``i`` lasts ``T_i = T_0 * T_mult**i`` steps; restarts (``lr = base_lr``) happen at
    ``t = T_0, T_0 + T_0*T_mult, T_0 + T_0*T_mult + T_0*T_mult**2, ...``; ``T_cur`` is the
    number of steps since the last restart (``t mod T_0`` when ``T_mult == 1``).

    Args:
        T_0: length of the first cycle in steps, >= 1. Default ``max(1, total_steps // 4)``.
        T_mult: cycle-length multiplier, an integer >= 1 (the paper's best runs used 2).
            Default 1.
        min_lr: the rate at the end of each cycle, in ``[0, smallest group lr]``. Default 0
            (``eta_min`` is accepted too).
    """
    name = "sgdr"
    t0 = check_int("T_0", max(1, total_steps // 4) if T_0 is None else T_0, 1, prefix=_at(name))
    tm = check_int("T_mult", T_mult, 1, prefix=_at(name))
    min_lr = _min_lr(name, min_lr, optimizer)
    return CosineAnnealingWarmRestarts(optimizer, T_0=t0, T_mult=tm, eta_min=min_lr)


def build_one_cycle(optimizer: Optimizer, total_steps: int, *, pct_start: float = 0.3,
                    div_factor: float = 25.0, final_div_factor: float = 1e4,
                    anneal_strategy: str = "cos", three_phase: bool = False,
                    cycle_momentum: bool = False, base_momentum: float = 0.85,
                    max_momentum: float = 0.95) -> OneCycleLR:
    """One-cycle policy (Smith & Topin 2019), ``OneCycleLR``, with ``max_lr`` = each param
    group's current ``lr`` (the configured rate is the *peak*).

    With ``initial = max_lr / div_factor``, ``final = initial / final_div_factor``,
    ``p = pct_start * T - 1`` (the peak step) and
    ``anneal(a, b, x) = b + (a - b) * (1 + cos(pi * x)) / 2``::

        lr_t = anneal(initial, max_lr, t / p)                   0 <= t <= p
        lr_t = anneal(max_lr, final, (t - p) / (T - 1 - p))     p <  t <= T - 1

    (``anneal_strategy="linear"``: ``anneal(a, b, x) = a + (b - a) * x``.) Defaults
    ``pct_start=0.3, div_factor=25, final_div_factor=1e4``: the rate rises from
    ``max_lr/25`` to ``max_lr`` over the first 30% of the steps, then falls to
    ``max_lr/2.5e5`` at ``t = T - 1``. ``three_phase=True`` uses fast.ai's variant
    (up, back down to ``initial`` symmetrically, then to ``final``).

    Momentum: off by default (``cycle_momentum=False``), so the schedule changes only the
    rate and the optimizer keeps its configured momentum. With ``cycle_momentum=True``
    (Smith & Topin's recipe; needs an optimizer with ``momentum`` or ``betas``) momentum
    moves inversely to the rate between ``base_momentum`` and ``max_momentum``.

    Stepping past ``T`` raises ``ValueError`` (torch's check).

    Args:
        pct_start: fraction of the steps spent rising, in ``(0, 1)``; needs
            ``pct_start * total_steps > 1`` (and, three-phase, ``pct_start < 0.5``).
        div_factor: ``max_lr / initial``, >= 1. Default 25.
        final_div_factor: ``initial / final``, >= 1. Default 1e4.
        anneal_strategy: ``"cos"`` or ``"linear"``.
        three_phase: see above. Default False.
        cycle_momentum, base_momentum, max_momentum: see above (``0 <= base <= max < 1``).
    """
    name = "one_cycle"
    pct = check_number("pct_start", pct_start, 0.0, 1.0, lo_open=True, hi_open=True, prefix=_at(name))
    if pct * total_steps <= 1:
        raise ValueError(
            f"{_where(name)}: pct_start * total_steps must be > 1 (the rising phase needs at "
            f"least two steps); got pct_start={pct_start!r}, total_steps={total_steps}"
        )
    three_phase = check_bool("three_phase", three_phase, prefix=_at(name))
    if three_phase and 2 * pct * total_steps - 2 >= total_steps - 1:
        raise ValueError(f"{_where(name)}: pct_start must be in (0, 0.5) with three_phase=True; "
                         f"got {pct_start!r}")
    div_factor = check_number("div_factor", div_factor, 1.0, prefix=_at(name))
    final_div_factor = check_number("final_div_factor", final_div_factor, 1.0, prefix=_at(name))
    anneal_strategy = check_choice("anneal_strategy", anneal_strategy, ("cos", "linear"), prefix=_at(name))
    cycle_momentum = check_bool("cycle_momentum", cycle_momentum, prefix=_at(name))
    base_momentum = check_number("base_momentum", base_momentum, 0.0, 1.0, hi_open=True, prefix=_at(name))
    max_momentum = check_number("max_momentum", max_momentum, base_momentum, 1.0, hi_open=True, prefix=_at(name))
    if cycle_momentum and not ({"momentum", "betas"} & set(optimizer.defaults)):
        raise ValueError(f"{_where(name)}: cycle_momentum=True needs an optimizer with momentum "
                         f"or betas; {type(optimizer).__name__} has neither")
    max_lrs = [float(g["lr"]) for g in optimizer.param_groups]
    return OneCycleLR(optimizer, max_lr=max_lrs, total_steps=total_steps, pct_start=pct,
                      anneal_strategy=anneal_strategy, cycle_momentum=cycle_momentum,
                      base_momentum=base_momentum, max_momentum=max_momentum,
                      div_factor=div_factor, final_div_factor=final_div_factor,
                      three_phase=three_phase)


def build_plateau(optimizer: Optimizer, total_steps: int, *, mode: str = "min",
                  factor: float = 0.1, patience: int = 10, threshold: float = 1e-4,
                  threshold_mode: str = "rel", cooldown: int = 0, min_lr: float = 0.0,
                  eps: float = 1e-8) -> ReduceLROnPlateau:
    """Reduce on plateau, ``ReduceLROnPlateau``; stepped with a metric,
    ``scheduler.step(metric)``, typically once per evaluation (``total_steps`` is unused).

    ``lr <- max(lr * factor, min_lr)`` once the metric has not improved for more than
    ``patience`` consecutive steps; the count then restarts, and the next ``cooldown``
    steps are ignored. "Improved" (``mode="min"``, ``threshold_mode="rel"``) means
    ``metric < best * (1 - threshold)``; ``"max"`` means ``metric > best * (1 + threshold)``;
    ``"abs"`` compares with ``best -/+ threshold``. So with a metric that never improves
    after the first step, the first reduction comes at ``t = patience + 2`` (the first
    call sets ``best``; the rate used by step ``t`` counts calls).

    Args:
        mode: ``"min"`` (a loss) or ``"max"`` (an accuracy).
        factor: multiplier in ``(0, 1)``. Default 0.1.
        patience: steps without improvement tolerated, >= 0. Default 10.
        threshold: relative or absolute improvement needed, >= 0. Default 1e-4.
        threshold_mode: ``"rel"`` or ``"abs"``.
        cooldown: steps to wait after a reduction, >= 0. Default 0.
        min_lr: lower bound on the rate, >= 0. Default 0.
        eps: smallest change applied, >= 0. Default 1e-8.
    """
    name = "plateau"
    return ReduceLROnPlateau(
        optimizer,
        mode=check_choice("mode", mode, ("min", "max"), prefix=_at(name)),
        factor=check_number("factor", factor, 0.0, 1.0, lo_open=True, hi_open=True, prefix=_at(name)),
        patience=check_int("patience", patience, 0, prefix=_at(name)),
        threshold=check_number("threshold", threshold, 0.0, prefix=_at(name)),
        threshold_mode=check_choice("threshold_mode", threshold_mode, ("rel", "abs"), prefix=_at(name)),
        cooldown=check_int("cooldown", cooldown, 0, prefix=_at(name)),
        min_lr=check_number("min_lr", min_lr, 0.0, prefix=_at(name)),
        eps=check_number("eps", eps, 0.0, prefix=_at(name)),
    )


def build_dynamic(optimizer: Optimizer, total_steps: int, *, monitor: str = "val_loss",
                  mode: str | None = None, patience: int = 2, increase_factor: float = 1.25,
                  plateau_patience: int = 2, decrease_factor: float = 0.5, threshold: float = 1e-4,
                  threshold_mode: str = "rel", min_lr: float | None = None,
                  max_lr: float | None = None) -> DynamicLRScheduler:
    """Dynamic learning rate, :class:`~workbench.train.dynamic_lr.DynamicLRScheduler`;
    stepped with a metric after each evaluation (``total_steps`` is unused).

    Per check (one ``scheduler.step(x)``, ``x`` the value of ``monitor``): ``x`` improved
    if it beats the previous check (``"min"``, relative: ``x < prev * (1 - threshold)``);
    after ``patience`` consecutive improvements ``lr <- min(lr * increase_factor,
    max_lr)``; after ``plateau_patience`` checks without a new best ``lr <- max(lr *
    decrease_factor, min_lr)``; both counters restart after a change. Every group's rate
    is ``lr_0(group) * lr / lr_0``. Defaults: ``monitor="val_loss"`` (mode ``"min"``),
    ``patience=2``, ``increase_factor=1.25``, ``plateau_patience=2``,
    ``decrease_factor=0.5``, ``min_lr = lr_0 / 100``, ``max_lr = 10 * lr_0``. Rates are
    in the optimizer's units. The rule is a per-check variant of the "bold driver"
    heuristic (Vogl et al. 1988; Battiti 1989), with torch's ``ReduceLROnPlateau`` test
    for an improvement.

    Raises:
        ValueError: ``monitor`` not a ``"val_*"`` name, or any argument out of range (the
            message names it and its valid range).
    """
    return DynamicLRScheduler(optimizer, monitor=monitor, mode=mode, patience=patience,
                              increase_factor=increase_factor, plateau_patience=plateau_patience,
                              decrease_factor=decrease_factor, threshold=threshold,
                              threshold_mode=threshold_mode, min_lr=min_lr, max_lr=max_lr)


class SlantedTriangularFactor:
    """The ``LambdaLR`` factor of :func:`build_slanted_triangular`: ``factor(t) = lr_t /
    base_lr``. A callable object with plain attributes (``total_steps``, ``cut_frac``,
    ``ratio``, ``cut``), so ``LambdaLR.state_dict()`` stores them as plain values and a
    checkpoint loads with ``weights_only=True``."""

    def __init__(self, total_steps: int, cut_frac: float, ratio: float) -> None:
        self.total_steps = int(total_steps)
        self.cut_frac = float(cut_frac)
        self.ratio = float(ratio)
        self.cut = max(1, min(self.total_steps, math.floor(self.total_steps * self.cut_frac)))

    def __call__(self, t: int) -> float:
        if t < self.cut:
            p = t / self.cut
        else:
            decay = self.total_steps - self.cut
            p = 1.0 - (t - self.cut) / decay if decay > 0 else 1.0
        p = min(1.0, max(0.0, p))
        return (1.0 + p * (self.ratio - 1.0)) / self.ratio


def build_slanted_triangular(optimizer: Optimizer, total_steps: int, *, cut_frac: float = 0.1,
                             ratio: float = 32.0) -> LambdaLR:
    """Slanted triangular learning rates (ULMFiT; Howard & Ruder 2018, section 3.2,
    equation 3), ``LambdaLR``: a short linear rise from ``base_lr / ratio`` to ``base_lr``
    over the first ``cut_frac`` of the run, then a long linear decay back to
    ``base_lr / ratio`` at ``t = T``::

        cut  = floor(T * cut_frac)
        p    = t / cut                          t <  cut
        p    = 1 - (t - cut) / (T - cut)        cut <= t <= T
        lr_t = base_lr * (1 + p * (ratio - 1)) / ratio

    The paper writes the decay's denominator ``cut * (1 / cut_frac - 1)``, which equals
    ``T - cut`` whenever ``T * cut_frac`` is an integer; for other ``T`` it is shorter, and
    the paper's formula would give negative rates near the end, so ``T - cut`` is used
    (the decay ends exactly at ``t = T``). ``cut`` is at least 1; ``p`` is clamped to
    ``[0, 1]`` (a step past ``T`` keeps ``base_lr / ratio``).

    Args:
        cut_frac: share of the steps spent rising, in ``(0, 1)``. Default 0.1 (the paper's).
        ratio: how much smaller the lowest rate is than ``base_lr``, in ``[1, 1e6]``.
            Default 32 (the paper's).

    Early stopping cuts this schedule short: the decay is spread over the whole run, so a
    run stopped at 60% of ``T`` never reaches the low rates of its end (the Trainer warns
    when ``early_stopping_patience`` is set with this schedule).
    """
    name = "slanted_triangular"
    cut_frac = check_number("cut_frac", cut_frac, 0.0, 1.0, lo_open=True, hi_open=True, prefix=_at(name))
    ratio = check_number("ratio", ratio, 1.0, 1e6, prefix=_at(name))
    return LambdaLR(optimizer, lr_lambda=SlantedTriangularFactor(total_steps, cut_frac, ratio))


#: Schedule name -> builder ``(optimizer, total_steps, **kwargs) -> scheduler``; each
#: builder's docstring gives the formula. ``tuple(SCHEDULES)`` lists the names, which are
#: :data:`workbench.config.SCHEDULE_NAMES` in the same order (checked below).
SCHEDULES: dict[str, Callable[..., LRScheduler]] = {
    "constant": build_constant,
    "step": build_step,
    "cosine": build_cosine,
    "warmup": build_warmup,
    "warmup_cosine": build_warmup_cosine,
    "warmup_linear": build_warmup_linear,
    "polynomial": build_polynomial,
    "sgdr": build_sgdr,
    "one_cycle": build_one_cycle,
    "plateau": build_plateau,
    "dynamic": build_dynamic,
    "slanted_triangular": build_slanted_triangular,
}

if tuple(SCHEDULES) != SCHEDULE_NAMES:  # the config layer's list must name these builders
    raise ImportError(f"workbench.train.schedules.SCHEDULES {list(SCHEDULES)} differs from "
                      f"workbench.config.SCHEDULE_NAMES {list(SCHEDULE_NAMES)}; update both")

# METRIC_SCHEDULES (stepped with a metric after each evaluation, see is_metric_scheduler)
# and WARMUP_SCHEDULES (those that take warmup_steps >= 1; every other schedule needs
# warmup_steps=0) are defined in workbench.config and re-exported here.

_ALIASES = {"eta_min": "min_lr"}


def _schedule_kwargs(name: str) -> list[str]:
    params = inspect.signature(SCHEDULES[name]).parameters
    return [p for p in params if p not in ("optimizer", "total_steps", "warmup_steps")]


def _resolve(name: str, total_steps: Any, warmup_steps: Any, kwargs: dict[str, Any]
             ) -> dict[str, Any]:
    """Check name, total_steps, warmup_steps and keyword names; return builder kwargs."""
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; valid names: {list(SCHEDULES)}")
    check_int("total_steps", total_steps, 1, prefix=_at(name))
    check_int("warmup_steps", warmup_steps, 0, prefix=_at(name))
    kwargs = dict(kwargs)
    accepted = _schedule_kwargs(name)
    for alias, canonical in _ALIASES.items():
        if alias in kwargs and canonical in accepted:
            if canonical in kwargs:
                raise ValueError(f"{_where(name)}: give {canonical} or {alias}, not both")
            kwargs[canonical] = kwargs.pop(alias)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(f"{_where(name)} takes no argument(s) {unknown}; valid: {accepted}")
    if name in WARMUP_SCHEDULES:
        if warmup_steps < 1:
            raise ValueError(f"{_where(name)}: warmup_steps must be an integer in [1, "
                             f"{total_steps if name == 'warmup' else total_steps - 1}]; "
                             f"got {warmup_steps!r}")
        kwargs["warmup_steps"] = warmup_steps
    elif warmup_steps != 0:
        raise ValueError(f"{_where(name)}: warmup_steps must be 0 (only {list(WARMUP_SCHEDULES)} "
                         f"warm up; one_cycle rises over pct_start); got {warmup_steps!r}")
    return kwargs


def build_scheduler(name: str, optimizer: Optimizer, total_steps: int, warmup_steps: int = 0,
                    **kwargs: Any) -> LRScheduler:
    """Build learning-rate schedule ``name`` on ``optimizer`` for a run of ``total_steps``
    optimizer steps.

    Always returns a scheduler object (``"constant"`` gives a ``LambdaLR`` of factor 1.0),
    so ``scheduler.get_last_lr()`` and ``scheduler.state_dict()`` always work. Building a
    scheduler sets each param group's ``lr`` to ``lr_0`` (and records ``initial_lr``).

    Args:
        name: one of :data:`SCHEDULES`: ``constant, step, cosine, warmup, warmup_cosine,
            warmup_linear, polynomial, sgdr, one_cycle, plateau, dynamic,
            slanted_triangular``.
        optimizer: a ``torch.optim.Optimizer``; its groups' current ``lr`` are the base
            (for ``one_cycle``: peak) rates.
        total_steps: ``T``, optimizer steps in the run, an integer >= 1.
        warmup_steps: ``W`` for ``warmup`` (``[1, T]``), ``warmup_cosine`` and
            ``warmup_linear`` (``[1, T-1]``); must be 0 for other schedules.
        **kwargs: schedule-specific arguments; see the builder of each name (for example
            :func:`build_cosine`'s ``min_lr``; ``eta_min`` is accepted as its alias).

    Returns:
        a ``torch.optim.lr_scheduler.LRScheduler`` (``ReduceLROnPlateau`` for
        ``"plateau"`` and a subclass of it for ``"dynamic"``; step those with a metric, see
        :func:`is_metric_scheduler`).

    Raises:
        ValueError: for an unknown name (listing the valid ones), an unknown keyword
            (listing the valid ones), or a value out of range (naming the parameter and
            its valid range).
    """
    kwargs = _resolve(name, total_steps, warmup_steps, kwargs)
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer; got {type(optimizer).__name__}")
    return SCHEDULES[name](optimizer, total_steps, **kwargs)


def _dummy_optimizer(base_lr: float) -> torch.optim.SGD:
    param = torch.nn.Parameter(torch.zeros(1))
    return torch.optim.SGD([param], lr=base_lr, momentum=0.9)


def validate_schedule(name: str, total_steps: int | None = None, warmup_steps: int = 0,
                      base_lr: float = 1e-3, **kwargs: Any) -> None:
    """Check a schedule's arguments without a model, by building it on a throwaway
    optimizer (for validating a configuration before training).

    Args:
        name, warmup_steps, **kwargs: as for :func:`build_scheduler`.
        total_steps: the run's optimizer steps, or None when not yet known (then checks
            that depend on it use a long run of ``max(10_000, 2 * warmup_steps + 2)`` steps).
        base_lr: the optimizer's learning rate (bounds ``min_lr``).

    Raises:
        ValueError: as :func:`build_scheduler` does.
    """
    if total_steps is None:
        w = warmup_steps if isinstance(warmup_steps, int) and not isinstance(warmup_steps, bool) else 0
        total_steps = max(10_000, 2 * w + 2)
    check_number("base_lr", base_lr, 0.0, lo_open=True, prefix=_at(name))
    build_scheduler(name, _dummy_optimizer(base_lr), total_steps, warmup_steps, **kwargs)


def is_metric_scheduler(scheduler: Any) -> bool:
    """True if ``scheduler`` must be stepped with a metric (``ReduceLROnPlateau`` and
    :class:`~workbench.train.dynamic_lr.DynamicLRScheduler`: ``scheduler.step(val_loss)``
    after an evaluation), False for per-step schedulers (``scheduler.step()`` after each
    optimizer step) and for None."""
    return isinstance(scheduler, ReduceLROnPlateau)


def is_constant_scheduler(scheduler: Any) -> bool:
    """True if ``scheduler`` is None or the ``"constant"`` schedule (:func:`build_constant`:
    a ``LambdaLR`` whose factors are all 1.0), i.e. a scheduler that leaves the rate alone.

    Techniques that set the learning rate themselves (for example
    :class:`workbench.techniques.optimization.DynamicLR`) need one of these.
    """
    if scheduler is None:
        return True
    return isinstance(scheduler, LambdaLR) and all(
        f is _constant_factor for f in getattr(scheduler, "lr_lambdas", [None]))


def lr_at_steps(name: str, base_lr: float, total_steps: int, steps: Iterable[int],
                warmup_steps: int = 0, metrics: Sequence[float] | None = None,
                **kwargs: Any) -> list[float]:
    """Learning rate ``lr_t`` of schedule ``name`` at each ``t`` in ``steps`` (for plotting
    a schedule's curve), from a throwaway SGD optimizer on a dummy parameter.

    Args:
        name, total_steps, warmup_steps, **kwargs: as for :func:`build_scheduler`.
        base_lr: the optimizer's learning rate, > 0.
        steps: step indices ``t >= 0``, any order; for ``one_cycle`` ``t <= total_steps``.
        metrics: ``"plateau"`` and ``"dynamic"`` only: the metric passed at each call, ``metrics[t - 1]``
            for the call that produces ``lr_t`` (needs ``len(metrics) >= max(steps)``).
            None: a constant metric (never improves), which shows the fastest decay.

    Returns:
        a list of floats, one per entry of ``steps``, in the same order.

    Raises:
        ValueError: as :func:`build_scheduler`, and for invalid ``steps``, ``base_lr`` or
            ``metrics``.
    """
    base_lr = check_number("base_lr", base_lr, 0.0, lo_open=True, prefix=_at(name))
    steps = list(steps)
    for t in steps:
        check_int("steps[i]", t, 0, total_steps if name == "one_cycle" else None, prefix=_at(name))
    if metrics is not None and name not in METRIC_SCHEDULES:
        raise ValueError(f"{_where(name)}: metrics apply only to {list(METRIC_SCHEDULES)}")
    opt = _dummy_optimizer(base_lr)
    sched = build_scheduler(name, opt, total_steps, warmup_steps, **kwargs)
    last = max(steps, default=-1)
    if metrics is not None and len(metrics) < last:
        raise ValueError(f"{_where(name)}: metrics must have at least max(steps) = {last} "
                         f"values; got {len(metrics)}")
    plateau = is_metric_scheduler(sched)
    lrs: list[float] = []
    for t in range(last + 1):
        if t > 0:
            opt.step()  # no gradients: a no-op that keeps torch's step-order check quiet
            if plateau:
                sched.step(1.0 if metrics is None else float(metrics[t - 1]))
            else:
                sched.step()
        lrs.append(float(sched.get_last_lr()[0]))
    return [lrs[t] for t in steps]


register_schedule_check(validate_schedule)  # TrainingConfig.validate checks schedule_kwargs with it
