"""Optimization: learning-rate schedules, a dynamic learning rate, parameter groups, the
LR range test (LR finder) and an optimizer + scheduler factory.

What lives where:

- **Schedules** (warmup, cosine, warmup + cosine, polynomial, step, SGDR, one-cycle,
  reduce-on-plateau) are built on ``torch.optim.lr_scheduler`` by
  :mod:`workbench.train.schedules` (each builder's docstring gives its formula; the tests
  compare them with the closed form). This module adds the curves and figures the
  notebook draws (:func:`schedule_settings`, :func:`schedule_figure`,
  :func:`schedules_overview_figure`, :func:`schedule_explorer`).
- **Dynamic learning rate**: :class:`DynamicLRPolicy` (the pure rule: raise the rate by a
  factor after the monitored loss has improved for ``patience`` consecutive checks, lower
  it after ``plateau_patience`` checks without a new best, within ``[min_lr, max_lr]``),
  :func:`dynamic_lr_trace` (the rule run over a list of losses), the technique
  :class:`DynamicLR` (for the Trainer and experiments) and :class:`DynamicLRScheduler`
  (a metric-stepped scheduler, for the factory and hand-written loops).
- **Parameter groups**: :func:`param_groups` (per-domain learning rates by parameter-name
  patterns, ULMFiT's discriminative layer-wise decay, no weight decay on biases and
  normalization weights) and :func:`param_group_table` / :func:`param_group_summary`.
- **LR finder** (Smith 2017, with fastai's conventions): :func:`lr_find`,
  :class:`LRFinderResult`, the suggestion rules :func:`suggest_valley`,
  :func:`suggest_minimum`, :func:`suggest_steepest`, and :func:`lr_find_recipe` (the
  finder on a built-in data set with its baseline recipe).
- **Factory**: :func:`create_optimizer_with_schedule` returns ``(optimizer, scheduler)``.
- **Comparison**: :func:`schedule_experiment` (the schedules against the tuned constant-rate
  baseline through :class:`~workbench.experiment.Experiment`; used by the notebook and by
  ``benchmarks/schedules.py``).

References: Smith 2017, "Cyclical Learning Rates for Training Neural Networks" (WACV;
section 3.3, the LR range test); Howard & Ruder 2018, "Universal Language Model
Fine-tuning for Text Classification" (ULMFiT; section 3.2, discriminative fine-tuning,
``eta^{l-1} = eta^l / 2.6``); Loshchilov & Hutter 2019, "Decoupled Weight Decay
Regularization" (AdamW); fastai's ``Learner.lr_find`` (``fastai.callback.schedule``).
"""

from __future__ import annotations

import copy
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer
from torch.utils.data import DataLoader, Dataset, RandomSampler

from workbench.config import OPTIMIZERS, TaskSpec, TrainingConfig
from workbench.train import checkpoint as ckpt
from workbench.train.dynamic_lr import (
    DynamicLRPolicy,
    DynamicLRScheduler,
    _bounds,
    _policy_args,
    dynamic_lr_trace,
)
from workbench.train.events import Technique
from workbench.train.optim import build_loss, build_optimizer
from workbench.train.schedules import (
    METRIC_SCHEDULES,
    SCHEDULES,
    WARMUP_SCHEDULES,
    build_scheduler,
    is_constant_scheduler,
    lr_at_steps,
)
from workbench.validation import check_choice as _choice
from workbench.validation import check_int as _int
from workbench.validation import check_number as _num

__all__ = [
    "BENCHMARK_SCHEDULES",
    "FACTORY_SCHEDULES",
    "OPTIMIZER_NAMES",
    "ULMFIT_LAYER_DECAY",
    "DynamicLR",
    "DynamicLRPolicy",
    "DynamicLRScheduler",
    "LRFinderResult",
    "choose_schedule",
    "create_optimizer_with_schedule",
    "dynamic_lr_trace",
    "exponential_lrs",
    "is_no_decay",
    "lr_find",
    "lr_find_recipe",
    "model_layers",
    "param_group_summary",
    "param_group_table",
    "param_groups",
    "schedule_experiment",
    "schedule_explorer",
    "schedule_figure",
    "schedule_settings",
    "schedule_variants",
    "schedules_overview_figure",
    "smooth_losses",
    "suggest_minimum",
    "suggest_steepest",
    "suggest_valley",
    "suggestions",
]

#: ULMFiT's discriminative fine-tuning factor (Howard & Ruder 2018, section 3.2): each
#: layer trains at the rate of the layer above divided by 2.6.
ULMFIT_LAYER_DECAY = 2.6

#: Optimizer names the factory accepts (those of :class:`~workbench.config.TrainingConfig`).
OPTIMIZER_NAMES: tuple[str, ...] = tuple(OPTIMIZERS)

#: Schedule names the factory accepts: every schedule of
#: :data:`workbench.train.schedules.SCHEDULES` (the ``torch.optim.lr_scheduler`` ones and
#: ``"dynamic"``, :class:`DynamicLRScheduler`).
FACTORY_SCHEDULES: tuple[str, ...] = tuple(SCHEDULES)

#: The schedules ``benchmarks/schedules.py`` and the notebook compare (the first is the
#: baseline: the tuned recipe with a constant rate).
BENCHMARK_SCHEDULES: tuple[str, ...] = ("constant", "step", "cosine", "warmup_cosine",
                                        "one_cycle", "dynamic")


# =========================================================================== checks


# =========================================================================== schedules


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


def _curve(schedule: str, lr: float, total_steps: int, **knobs: Any) -> tuple[list[int], list[float]]:
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


def schedule_figure(schedule: str = "warmup_cosine", lr: float = 1e-3, total_steps: int = 1000,
                    log_y: bool = False, **knobs: Any):
    """The learning rate of ``schedule`` at every optimizer step ``0..T`` (a plotly figure).

    The notebook's slider callback: ``knobs`` are those of :func:`schedule_settings`. The
    curve comes from the real ``torch.optim.lr_scheduler`` object (via
    :func:`~workbench.train.schedules.lr_at_steps`); ``plateau`` is shown with a metric that
    never improves (its fastest decay), ``dynamic`` with a loss that falls over the first
    30% of the checks and then stays flat (one check per step: raises, then cuts).

    Raises:
        ValueError: as :func:`schedule_settings` and
            :func:`~workbench.train.schedules.build_scheduler` (invalid combinations, for
            example one-cycle with ``pct_start * total_steps <= 1``).
    """
    from workbench import plots

    steps, lrs = _curve(schedule, lr, total_steps, **knobs)
    warmup, kwargs = schedule_settings(schedule, lr, total_steps, **knobs)
    args = ", ".join([f"warmup_steps={warmup}"] * bool(warmup)
                     + [f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in kwargs.items()])
    title = f"{schedule}: lr={lr:g}, T={total_steps}" + (f", {args}" if args else "")
    return plots.plot_lr_schedule(steps, lrs, title=title, log_y=log_y)


def schedules_overview_figure(lr: float = 1e-3, total_steps: int = 1000,
                              schedules: Sequence[str] = ("constant", "step", "cosine", "warmup_cosine",
                                                          "polynomial", "sgdr", "one_cycle"),
                              **knobs: Any):
    """Every schedule in ``schedules`` on one plot, same base rate and run length.

    Raises:
        ValueError: as :func:`schedule_settings`.
    """
    from workbench import plots

    curves = {s: _curve(s, lr, total_steps, **knobs) for s in schedules}
    return plots.plot_lr_schedules(curves, title=f"learning-rate schedules (lr={lr:g}, T={total_steps})")


def schedule_explorer(schedule: str = "warmup_cosine", lr: float = 1e-3, total_steps: int = 1000,
                      output: Any = None):
    """Widgets that pick a schedule and its knobs, redrawing the LR curve at once.

    Every control is observed (``observe(..., names="value")``); a change calls
    :func:`schedule_figure` with the current values and draws the figure into an
    ``ipywidgets.Output`` (:func:`workbench.ui.set_output`). An invalid
    combination shows its ``ValueError`` message instead of a figure.

    Returns a ``VBox`` with ``.controls`` (name -> widget), ``.output``, ``.figure`` (the
    last figure built; outside a kernel it is built but not displayed), ``.error`` (the
    last message, or "") and ``.redraw()``.
    """
    import ipywidgets as w

    from workbench import ui

    style = {"description_width": "initial"}

    def slider(cls: Any, value: Any, lo: Any, hi: Any, step: Any, description: str, **kw: Any) -> Any:
        return cls(value=value, min=lo, max=hi, step=step, description=description,
                   continuous_update=False, style=style, layout=w.Layout(width="420px"), **kw)

    controls = {
        "schedule": ui.dropdown(list(SCHEDULES), schedule, "schedule"),
        "lr": ui.lr_slider(lr),
        "total_steps": slider(w.IntSlider, total_steps, 10, 5000, 10, "total steps"),
        "warmup_fraction": slider(w.FloatSlider, 0.05, 0.0, 0.5, 0.01, "warmup fraction"),
        "min_lr_fraction": slider(w.FloatSlider, 0.0, 0.0, 0.5, 0.01, "min lr / lr"),
        "gamma": slider(w.FloatSlider, 0.1, 0.05, 0.95, 0.05, "gamma (step, plateau)"),
        "cycles": slider(w.IntSlider, 4, 1, 10, 1, "cycles (sgdr)"),
        "t_mult": slider(w.IntSlider, 1, 1, 3, 1, "T_mult (sgdr)"),
        "pct_start": slider(w.FloatSlider, 0.3, 0.05, 0.9, 0.05, "pct_start (one-cycle)"),
        "power": slider(w.FloatSlider, 1.0, 0.25, 5.0, 0.25, "power (polynomial)"),
        "log_y": w.Checkbox(value=False, description="log scale"),
    }
    out = output if output is not None else w.Output()
    box = w.VBox([*controls.values(), out])
    box.controls, box.output, box.figure, box.error = controls, out, None, ""

    def redraw(_change: Any = None) -> None:
        values = {k: c.value for k, c in controls.items()}
        try:
            fig = schedule_figure(**values)
            box.figure, box.error = fig, ""
        except ValueError as exc:
            fig, box.error = None, str(exc)
        if not ui.in_kernel():
            return
        ui.set_output(out, fig if fig is not None else f"invalid settings: {box.error}")

    for c in controls.values():
        c.observe(redraw, names="value")
    box.redraw = redraw
    redraw()
    return box


# =========================================================================== dynamic LR


class DynamicLR(Technique):
    """Dynamic learning rate: raise the rate while the monitored loss keeps falling, lower
    it on a plateau (the rule of :class:`DynamicLRPolicy`), within ``[min_lr, max_lr]``.

    Checks:

    - ``monitor`` a validation metric (default ``"val_loss"``): one check per evaluation,
      at ``eval_end``, reading ``state.metrics[monitor]`` (so how often it runs follows
      ``TrainingConfig.eval_every_epochs`` / ``eval_every_steps``);
    - ``monitor="train_loss"`` with ``check_every_steps=N``: one check every ``N``
      optimizer steps, at ``step_end``, on the mean per-example training loss of the
      micro-batches since the previous check.

    The technique owns the learning rate, so the run's schedule must be ``"constant"``
    (checked at ``fit_start``). Every parameter group's rate is its rate at the start of
    the run times ``lr / lr_0`` (group 0 is the reference that ``min_lr`` / ``max_lr``
    bound; discriminative ratios are kept). The rate is written at ``fit_start``, after
    each check and at every ``step_end`` (after the constant scheduler's step, which
    resets it). Changes are counted in ``state.counters["lr_increases"]`` and
    ``["lr_decreases"]``.

    Args:
        monitor: ``"val_*"`` metric or ``"train_loss"``.
        mode: ``"min"`` or ``"max"``; default ``"min"`` for a name ending in ``loss``,
            else ``"max"``.
        patience: consecutive improving checks before a raise, >= 1. Default 2.
        increase_factor: multiplier of a raise, in ``[1, 100]``. Default 1.25.
        plateau_patience: checks without a new best before a cut, >= 1. Default 2.
        decrease_factor: multiplier of a cut, in ``(0, 1)``. Default 0.5.
        threshold, threshold_mode: what counts as an improvement (torch's
            ReduceLROnPlateau convention). Default relative 1e-4.
        min_lr, max_lr: bounds on group 0's rate; default ``lr_0 / 100`` and ``10 * lr_0``.
        check_every_steps: with ``monitor="train_loss"`` only: optimizer steps per check.

    Raises:
        ValueError: on construction for arguments out of range; at ``fit_start`` when the
            run's scheduler is not the constant one.
    """

    name = "dynamic_lr"

    def __init__(self, monitor: str = "val_loss", mode: str | None = None, patience: int = 2,
                 increase_factor: float = 1.25, plateau_patience: int = 2,
                 decrease_factor: float = 0.5, threshold: float = 1e-4,
                 threshold_mode: str = "rel", min_lr: float | None = None,
                 max_lr: float | None = None, check_every_steps: int | None = None) -> None:
        super().__init__()
        if not isinstance(monitor, str) or not (monitor.startswith("val_") or monitor == "train_loss"):
            raise ValueError(f"monitor must be a validation metric 'val_*' or 'train_loss'; got {monitor!r}")
        if monitor == "train_loss":
            if check_every_steps is None:
                raise ValueError("monitor='train_loss' needs check_every_steps (an integer >= 1)")
            _int("check_every_steps", check_every_steps, 1)
        elif check_every_steps is not None:
            raise ValueError("check_every_steps applies only to monitor='train_loss' (validation "
                             "metrics are checked after each evaluation)")
        self.monitor = monitor
        self.mode = mode if mode is not None else ("min" if monitor.endswith("loss") else "max")
        self.check_every_steps = check_every_steps
        self._policy_kwargs = _policy_args(patience, increase_factor, plateau_patience, decrease_factor,
                                           threshold, threshold_mode)
        self._min_lr, self._max_lr = min_lr, max_lr
        # validate now, on a placeholder rate, so bad arguments fail before training
        lo, hi = _bounds(1.0, min_lr, max_lr)
        DynamicLRPolicy(lr=1.0, mode=self.mode, min_lr=lo, max_lr=hi, **self._policy_kwargs)
        self.policy: DynamicLRPolicy | None = None
        self.base_lrs: list[float] = []
        self._sum: Any = 0.0
        self._count = 0

    # ----------------------------------------------------------------- the loop's events
    def on_fit_start(self, state) -> None:
        if not is_constant_scheduler(state.scheduler):
            raise ValueError(f"DynamicLR sets the learning rate itself: use schedule='constant' "
                             f"(the run has {type(state.scheduler).__name__})")
        groups = state.optimizer.param_groups
        if self.policy is None:  # a fresh run (a resumed one has its state loaded)
            self.base_lrs = [float(g.get("initial_lr", g["lr"])) for g in groups]
            lo, hi = _bounds(self.base_lrs[0], self._min_lr, self._max_lr)
            self.policy = DynamicLRPolicy(lr=self.base_lrs[0], mode=self.mode, min_lr=lo, max_lr=hi,
                                          **self._policy_kwargs)
        if len(self.base_lrs) != len(groups):
            raise ValueError(f"DynamicLR: the optimizer has {len(groups)} parameter groups; the "
                             f"technique's state has {len(self.base_lrs)}")
        self._apply(state)

    def on_after_forward(self, state) -> None:
        if self.monitor == "train_loss" and state.per_example_loss is not None:
            pel = state.per_example_loss.detach()
            self._sum = self._sum + pel.float().sum()
            self._count += int(pel.numel())

    def on_step_end(self, state) -> None:
        if (self.monitor == "train_loss" and self._count
                and state.effective_step % self.check_every_steps == 0):
            value = float(self._sum) / self._count
            self._sum, self._count = 0.0, 0
            self._check(state, value)
        self._apply(state)

    def on_eval_end(self, state) -> None:
        if self.monitor != "train_loss" and self.monitor in state.metrics:
            self._check(state, state.metrics[self.monitor])

    # ----------------------------------------------------------------- helpers
    def _check(self, state, value: float) -> None:
        action = self.policy.update(value)
        if action == "increase":
            state.count("lr_increases")
        elif action == "decrease":
            state.count("lr_decreases")
        self._apply(state)

    def _apply(self, state) -> None:
        scale = self.policy.lr / self.base_lrs[0] if self.base_lrs[0] > 0 else 1.0
        for g, base in zip(state.optimizer.param_groups, self.base_lrs):
            g["lr"] = base * scale

    @property
    def lr(self) -> float | None:
        """The current rate of group 0 (None before ``fit_start``)."""
        return None if self.policy is None else self.policy.lr

    def state_dict(self) -> dict[str, Any]:
        return {"policy": None if self.policy is None else self.policy.state_dict(),
                "bounds": None if self.policy is None else [self.policy.min_lr, self.policy.max_lr],
                "base_lrs": list(self.base_lrs), "sum": float(self._sum), "count": self._count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.base_lrs = [float(x) for x in state["base_lrs"]]
        self._sum, self._count = float(state["sum"]), int(state["count"])
        if state["policy"] is None:
            self.policy = None
            return
        lo, hi = state["bounds"]
        self.policy = DynamicLRPolicy(lr=self.base_lrs[0], mode=self.mode, min_lr=lo, max_lr=hi,
                                      **self._policy_kwargs)
        self.policy.load_state_dict(state["policy"])


# =========================================================================== parameter groups

_NORM_TYPES: tuple[type, ...] = tuple(t for t in (
    nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm,
    getattr(nn, "RMSNorm", None)) if t is not None)


def _is_norm(module: nn.Module) -> bool:
    return isinstance(module, _NORM_TYPES) or "norm" in type(module).__name__.lower()


def is_no_decay(name: str, module: nn.Module) -> bool:
    """True for a parameter that gets no weight decay: a bias (name ends in ``bias``) or a
    parameter of a normalization module (BatchNorm, LayerNorm, GroupNorm, InstanceNorm,
    RMSNorm, or any module whose class name contains "Norm", such as an adaptive layer
    norm). ``name`` is the parameter's name within ``module``."""
    return name.split(".")[-1].endswith("bias") or _is_norm(module)


def model_layers(model: nn.Module) -> list[str]:
    """Default layers for discriminative learning rates, bottom (input) to top (output):
    the model's top-level children that hold parameters, in definition order; parameters
    held by the model itself form a layer ``""`` at the bottom.

    For :class:`~workbench.models.KimCNN`: ``["embedding", "convs", "classifier"]``.
    """
    out = [""] if any(True for _ in model.named_parameters(recurse=False)) else []
    out += [n for n, m in model.named_children() if any(True for _ in m.parameters())]
    return out


def _layer_patterns(model: nn.Module, layers: Sequence[str | Sequence[str]] | None) -> list[list[str]]:
    if layers is None:
        return [["^$"] if n == "" else [f"^{re.escape(n)}\\."] for n in model_layers(model)]
    out = []
    for i, entry in enumerate(layers):
        pats = [entry] if isinstance(entry, str) else list(entry)
        if not pats or not all(isinstance(p, str) for p in pats):
            raise ValueError(f"layers[{i}] must be a regular expression or a non-empty list of them; "
                             f"got {entry!r}")
        for p in pats:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"layers[{i}]: invalid regular expression {p!r}: {exc}") from exc
        out.append(pats)
    if not out:
        raise ValueError("layers must list at least one layer")
    return out


def param_groups(model: nn.Module, lr: float, weight_decay: float = 0.0, *,
                 layer_decay: float | None = None,
                 layers: Sequence[str | Sequence[str]] | None = None,
                 lr_by_pattern: Mapping[str, float] | None = None,
                 no_decay_bias_norm: bool = True,
                 no_decay_patterns: Sequence[str] = (),
                 trainable_only: bool = False) -> list[dict[str, Any]]:
    """Optimizer parameter groups for ``model``: per-domain learning rates by name pattern,
    discriminative (layer-wise) learning rates, and no weight decay on biases and
    normalization weights.

    A parameter named ``n`` gets:

    - learning rate ``lr_base(n) / layer_decay ** (L - 1 - layer(n))``, where
      ``lr_base(n)`` is the rate of the first pattern of ``lr_by_pattern`` that
      ``re.search``-matches ``n`` (per-domain rates, for example
      ``{"embedding": 1e-4, r"domain_norm\\.": 3e-3}``), else ``lr``; ``layer(n)`` is its
      layer index (0 = bottom, ``L - 1`` = top) and ``layer_decay`` is ULMFiT's divisor
      (Howard & Ruder 2018, section 3.2: ``eta^{l-1} = eta^l / 2.6``;
      :data:`ULMFIT_LAYER_DECAY`); no decay (``None`` or 1) gives every layer ``lr_base``;
    - weight decay 0 if ``no_decay_bias_norm`` and it is a bias or a normalization
      weight (:func:`is_no_decay`), or if it matches one of ``no_decay_patterns``; else
      ``weight_decay``.

    Layers: ``layers=None`` uses :func:`model_layers` (top-level children in definition
    order); otherwise a list from bottom to top whose entries are a regular expression or
    a list of them (``re.search`` on the parameter name); a parameter belongs to the last
    layer it matches, and a parameter no layer matches raises ``ValueError``.

    Parameters with the same (layer, domain pattern, decay) share a group. Each group is a
    dict ``{"params", "param_names", "name", "lr", "weight_decay"}``, in order bottom to
    top; ``name`` reads like ``"layer 1/3 convs · decay"``. Pass the list to any
    ``torch.optim`` optimizer (or :func:`~workbench.train.optim.build_optimizer`); print
    :func:`param_group_summary` to see it.

    Args:
        trainable_only: leave out parameters with ``requires_grad=False`` (by default they
            are kept, so that unfreezing them later trains them).

    Raises:
        ValueError: ``lr``, ``weight_decay`` or ``layer_decay`` out of range, an invalid
            pattern, a parameter no layer matches, or a model without parameters.
    """
    lr = _num("lr", lr, 0.0, lo_open=True)
    weight_decay = _num("weight_decay", weight_decay, 0.0)
    decay = 1.0 if layer_decay is None else _num("layer_decay", layer_decay, 1.0, 100.0)
    domains = dict(lr_by_pattern or {})
    for pat, plr in domains.items():
        try:
            re.compile(pat)
        except re.error as exc:
            raise ValueError(f"lr_by_pattern: invalid regular expression {pat!r}: {exc}") from exc
        _num(f"lr_by_pattern[{pat!r}]", plr, 0.0, lo_open=True)
    for pat in no_decay_patterns:
        try:
            re.compile(pat)
        except re.error as exc:
            raise ValueError(f"no_decay_patterns: invalid regular expression {pat!r}: {exc}") from exc
    use_layers = layer_decay is not None or layers is not None
    patterns = _layer_patterns(model, layers) if use_layers else [[".*"]]
    layer_names = (model_layers(model) if layers is None else
                   [p[0] if len(p) == 1 else "|".join(p) for p in patterns]) if use_layers else ["all"]
    n_layers = len(patterns)
    owners: dict[str, nn.Module] = {}
    for mn, m in model.named_modules():
        for pn, _ in m.named_parameters(recurse=False):
            owners[f"{mn}.{pn}" if mn else pn] = m
    groups: dict[tuple[int, str, bool], dict[str, Any]] = {}
    for name, p in model.named_parameters():
        if trainable_only and not p.requires_grad:
            continue
        layer = None
        for i, pats in enumerate(patterns):
            if any(re.search(pt, name) for pt in pats):
                layer = i
        if layer is None:
            raise ValueError(f"parameter {name!r} matches none of the layers {layer_names}; add a "
                             f"pattern for it")
        domain = next((pt for pt in domains if re.search(pt, name)), "")
        no_wd = (no_decay_bias_norm and is_no_decay(name, owners[name])) or any(
            re.search(pt, name) for pt in no_decay_patterns)
        key = (layer, domain, no_wd)
        if key not in groups:
            base = domains[domain] if domain else lr
            label = (f"layer {layer + 1}/{n_layers} {layer_names[layer] or '(model)'}" if use_layers
                     else "all")
            label += f" · lr_by_pattern {domain!r}" if domain else ""
            label += " · no decay" if no_wd else " · decay"
            groups[key] = {"params": [], "param_names": [], "name": label,
                           "lr": base / decay ** (n_layers - 1 - layer),
                           "weight_decay": 0.0 if no_wd else weight_decay}
        groups[key]["params"].append(p)
        groups[key]["param_names"].append(name)
    if not groups:
        raise ValueError("param_groups: the model has no (trainable) parameters")
    return [groups[k] for k in sorted(groups, key=lambda k: (k[0], k[1], k[2]))]


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
            (:class:`DynamicLRScheduler`). Per-step schedulers are stepped after every
            ``optimizer.step()``; ``plateau`` and ``dynamic`` with a metric after each
            evaluation (``scheduler.step(val_loss)``).
        warmup_steps: for ``warmup`` / ``warmup_cosine``; 0 for the others.
        total_steps: optimizer steps in the run; required except for ``plateau`` and
            ``dynamic``.
        **schedule_kwargs: the schedule's own arguments (see its builder; for ``dynamic``
            those of :class:`DynamicLRScheduler`).

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


# =========================================================================== LR finder


def exponential_lrs(start_lr: float, end_lr: float, num_iter: int) -> list[float]:
    """The LR finder's ramp: ``lr_i = start_lr * (end_lr / start_lr) ** (i / (num_iter - 1))``
    for ``i = 0 .. num_iter - 1`` (so it starts at ``start_lr`` and ends at ``end_lr``)."""
    start_lr = _num("start_lr", start_lr, 0.0, lo_open=True)
    end_lr = _num("end_lr", end_lr, start_lr, lo_open=True)
    num_iter = _int("num_iter", num_iter, 2)
    return [start_lr * (end_lr / start_lr) ** (i / (num_iter - 1)) for i in range(num_iter)]


def smooth_losses(losses: Iterable[float], beta: float = 0.98) -> list[float]:
    """Exponentially weighted moving average with bias correction (fastai's
    ``AvgSmoothLoss``): ``avg_i = beta * avg_{i-1} + (1 - beta) * loss_i``, ``avg_{-1} = 0``,
    ``smoothed_i = avg_i / (1 - beta ** (i + 1))``."""
    beta = _num("beta", beta, 0.0, 1.0, hi_open=True)
    out, avg = [], 0.0
    for i, x in enumerate(losses):
        avg = beta * avg + (1 - beta) * float(x)
        out.append(avg / (1 - beta ** (i + 1)))
    return out


def _check_curve(lrs: Sequence[float], losses: Sequence[float]) -> tuple[list[float], list[float]]:
    lrs, losses = [float(x) for x in lrs], [float(x) for x in losses]
    if len(lrs) != len(losses) or len(lrs) < 2:
        raise ValueError(f"lrs and losses need equal lengths >= 2; got {len(lrs)} and {len(losses)}")
    return lrs, losses


def suggest_valley(lrs: Sequence[float], losses: Sequence[float]) -> tuple[float, int]:
    """fastai's ``valley``: the longest valley of the (smoothed) loss curve -- the longest
    run of points forming a decreasing subsequence -- and the point ``1/3 + 1/6`` of the way
    along it (``idx = start + int(len / 3) + int(len / 6)``). Returns ``(lr, index)``."""
    lrs, losses = _check_curve(lrs, losses)
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return lrs[idx], idx


def suggest_minimum(lrs: Sequence[float], losses: Sequence[float]) -> tuple[float, int]:
    """fastai's ``minimum``: one tenth of the rate at the lowest (smoothed) loss. Returns
    ``(lr_min / 10, index of the minimum)``."""
    lrs, losses = _check_curve(lrs, losses)
    idx = min(range(len(losses)), key=lambda i: (losses[i] if math.isfinite(losses[i]) else math.inf))
    return lrs[idx] / 10, idx


def suggest_steepest(lrs: Sequence[float], losses: Sequence[float]) -> tuple[float, int]:
    """fastai's ``steep``: the rate where the (smoothed) loss falls fastest against
    ``log(lr)``: ``argmin_i (loss_{i+1} - loss_i) / (log lr_{i+1} - log lr_i)``. Returns
    ``(lr_i, i)``."""
    lrs, losses = _check_curve(lrs, losses)
    slopes = [(losses[i + 1] - losses[i]) / (math.log(lrs[i + 1]) - math.log(lrs[i]))
              if lrs[i + 1] != lrs[i] else math.inf for i in range(len(lrs) - 1)]
    idx = min(range(len(slopes)), key=lambda i: (slopes[i] if math.isfinite(slopes[i]) else math.inf))
    return lrs[idx], idx


_SUGGESTERS: dict[str, Callable[[Sequence[float], Sequence[float]], tuple[float, int]]] = {
    "valley": suggest_valley, "minimum": suggest_minimum, "steepest": suggest_steepest}


@dataclass
class LRFinderResult:
    """What :func:`lr_find` measured.

    Attributes:
        lrs: the rate of each iteration (group 0's), floats.
        losses: the training loss of each iteration's mini-batch (mean per example).
        smoothed: the bias-corrected moving average of ``losses`` (:func:`smooth_losses`).
        suggestions: ``{"valley", "minimum", "steepest"}`` -> suggested rate.
        points: the same names -> ``(lr, smoothed loss)`` of the point each rule picked
            (for ``minimum`` the minimum itself; the suggestion is a tenth of its rate).
        start_lr, end_lr, num_iter: the stated ramp.
        stop_reason: ``"num_iter reached"``, ``"diverged: ..."`` or ``"non-finite loss"``.
        window: ``(first, last)`` indices of the points the suggestions looked at.
    """

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    suggestions: dict[str, float]
    points: dict[str, tuple[float, float]]
    start_lr: float
    end_lr: float
    num_iter: int
    stop_reason: str
    window: tuple[int, int] = (0, 0)
    name: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def iterations(self) -> int:
        return len(self.lrs)

    def plot(self, reference_lr: float | None = None, title: str | None = None):
        """The loss against the rate with the suggestions marked (a plotly figure, see
        :func:`workbench.plots.plot_lr_finder`)."""
        from workbench import plots

        title = title or (f"LR range test{' — ' + self.name if self.name else ''}: "
                          f"{self.iterations} iterations, {self.stop_reason}")
        return plots.plot_lr_finder(self.lrs, self.losses, self.smoothed, self.suggestions,
                                    self.points, reference_lr=reference_lr, title=title)

    def describe(self) -> str:
        s = ", ".join(f"{k} {v:.2e}" for k, v in self.suggestions.items())
        return (f"LR range test{' on ' + self.name if self.name else ''}: {self.iterations} of "
                f"{self.num_iter} iterations from {self.start_lr:g} to {self.end_lr:g} "
                f"({self.stop_reason}); suggestions: {s}")


def suggestions(lrs: Sequence[float], smoothed: Sequence[float], num_iter: int, skip_end: int = 5
                ) -> tuple[dict[str, float], dict[str, tuple[float, float]], tuple[int, int]]:
    """The three suggestions on ``smoothed[num_iter // 10 : len - skip_end]`` (fastai skips
    the first tenth, where the average is still settling, and the last points, where it
    diverges); the whole curve when that window holds fewer than 3 points."""
    n = len(lrs)
    lo, hi = num_iter // 10, n - skip_end
    if hi - lo < 3:
        lo, hi = 0, n
    xs, ys = list(lrs[lo:hi]), list(smoothed[lo:hi])
    out, pts = {}, {}
    for name, rule in _SUGGESTERS.items():
        lr, i = rule(xs, ys)
        out[name] = float(lr)
        pts[name] = (float(xs[i]), float(ys[i]))
    return out, pts, (lo, hi - 1)


def _snapshot(model: nn.Module, optimizer: Optimizer) -> dict[str, Any]:
    return {"model": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "optimizer": copy.deepcopy(optimizer.state_dict()),
            "grads": [None if p.grad is None else p.grad.detach().clone() for p in model.parameters()],
            "training": model.training, "rng": ckpt.capture_rng_state()}


def _restore(model: nn.Module, optimizer: Optimizer, snap: dict[str, Any]) -> None:
    with torch.no_grad():
        model.load_state_dict(snap["model"])
    optimizer.load_state_dict(snap["optimizer"])
    for p, g in zip(model.parameters(), snap["grads"]):
        p.grad = g
    model.train(snap["training"])
    ckpt.restore_rng_state(snap["rng"])


def lr_find(model: nn.Module, train_data: Dataset, task: TaskSpec | None = None, *,
            config: TrainingConfig | None = None, optimizer: Optimizer | None = None,
            collate_fn: Callable[[list[Any]], dict[str, Any]] | None = None,
            start_lr: float = 1e-7, end_lr: float = 10.0, num_iter: int = 100, beta: float = 0.98,
            diverge_factor: float = 4.0, stop_div: bool = True, seed: int = 0,
            skip_end: int = 5, name: str = "") -> LRFinderResult:
    """The LR range test (Smith 2017, section 3.3) with fastai's conventions.

    Trains ``model`` for up to ``num_iter`` mini-batches while the learning rate grows
    exponentially from ``start_lr`` to ``end_lr`` (:func:`exponential_lrs`), recording
    each batch's loss and its smoothed value (:func:`smooth_losses`, ``beta`` 0.98). It
    stops early once the smoothed loss exceeds ``diverge_factor`` (4) times its minimum
    (``stop_div``), or at a non-finite loss. Suggestions (:func:`suggestions`): ``valley``
    (fastai's default), ``minimum`` (a tenth of the rate at the minimum) and ``steepest``.

    It is a short explicit loop, not a :class:`~workbench.train.Trainer` fit (no events,
    evaluation or checkpoints): batches come from a ``DataLoader`` over ``train_data``
    with the task's collator (or ``collate_fn``), shuffled by a private generator seeded
    with ``seed``, and restarted when exhausted; the loss is ``config.loss`` (per-example,
    averaged); gradients are clipped when ``config.max_grad_norm`` is set.

    Afterwards the model (parameters and buffers, such as BatchNorm statistics), its
    ``.grad`` tensors and train/eval mode, the optimizer (state and hyperparameters) and
    the global RNG states (Python, NumPy, torch) are exactly as before: the finder works
    on the objects and puts them back, so it neither trains the model nor changes what
    the caller's next random draw is. (Inside, torch's global RNG is seeded with
    ``seed`` for dropout, so the result does not depend on the caller's RNG.)

    Args:
        model: maps ``batch["inputs"]`` to outputs, on the device of its parameters.
        train_data: items ``{"id", "input", "target"}``.
        task: picks the collator (default ``train_data.task`` if present).
        config: optimizer, batch size and loss (default ``TrainingConfig()``: Adam, batch
            32, cross-entropy).
        optimizer: use this optimizer instead of building one from ``config``; its
            parameter groups keep their ratios to group 0, whose rate follows the ramp.
        start_lr, end_lr: the ramp's range, ``0 < start_lr < end_lr``.
        num_iter: iterations, >= 2. beta: smoothing in ``[0, 1)``.
        diverge_factor: stop when ``smoothed > diverge_factor * min(smoothed)``, > 1.
        skip_end: points left out at the end for the suggestions (fastai: 5).
        name: a label for plots.

    Returns:
        :class:`LRFinderResult`.

    Raises:
        ValueError: an argument out of range, or no task / collate_fn to batch the data.
    """
    lrs_plan = exponential_lrs(start_lr, end_lr, num_iter)
    beta = _num("beta", beta, 0.0, 1.0, hi_open=True)
    diverge_factor = _num("diverge_factor", diverge_factor, 1.0, lo_open=True)
    skip_end = _int("skip_end", skip_end, 0)
    config = config if config is not None else TrainingConfig(progress_bar=False)
    task = task if task is not None else getattr(train_data, "task", None)
    if collate_fn is None:
        if task is None:
            raise ValueError("lr_find: pass task= (a TaskSpec) or collate_fn= to batch the data")
        collate_fn = task.collator()
    if len(train_data) == 0:
        raise ValueError("lr_find: the training data set is empty (0 examples)")
    if optimizer is None:
        optimizer = build_optimizer(model.parameters(), config)
    loss_fn = build_loss(config.loss, config.huber_delta, config.label_smoothing)
    device = next(model.parameters()).device
    ratios = [float(g["lr"]) / float(optimizer.param_groups[0]["lr"]) if optimizer.param_groups[0]["lr"] else 1.0
              for g in optimizer.param_groups]
    sampler = RandomSampler(train_data, generator=torch.Generator().manual_seed(seed))
    loader = DataLoader(train_data, batch_size=config.batch_size, sampler=sampler, collate_fn=collate_fn,
                        drop_last=len(train_data) >= 2 * config.batch_size,
                        generator=torch.Generator().manual_seed(seed))
    snap = _snapshot(model, optimizer)
    lrs: list[float] = []
    losses: list[float] = []
    smoothed: list[float] = []
    stop_reason = "num_iter reached"
    try:
        torch.manual_seed(seed)
        model.train()
        optimizer.zero_grad(set_to_none=True)
        avg, best = 0.0, math.inf
        batches = iter(loader)
        for i, lr in enumerate(lrs_plan):
            try:
                batch = next(batches)
            except StopIteration:
                batches = iter(loader)
                batch = next(batches)
            for g, r in zip(optimizer.param_groups, ratios):
                g["lr"] = lr * r
            if device.type != "cpu":
                batch = {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
            loss = loss_fn(model(batch["inputs"]), batch["targets"]).mean()
            value = float(loss.detach())
            if not math.isfinite(value):
                stop_reason = f"non-finite loss at lr {lr:.2e}"
                break
            loss.backward()
            if config.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            avg = beta * avg + (1 - beta) * value
            sm = avg / (1 - beta ** (i + 1))
            lrs.append(lr)
            losses.append(value)
            smoothed.append(sm)
            best = min(best, sm)
            if stop_div and sm > diverge_factor * best:
                stop_reason = f"diverged: smoothed loss > {diverge_factor:g}x its minimum at lr {lr:.2e}"
                break
    finally:
        _restore(model, optimizer, snap)
    if len(lrs) < 2:
        raise ValueError(f"lr_find: only {len(lrs)} iteration(s) before stopping ({stop_reason}); "
                         f"lower start_lr")
    sugg, pts, window = suggestions(lrs, smoothed, num_iter, skip_end)
    return LRFinderResult(lrs=lrs, losses=losses, smoothed=smoothed, suggestions=sugg, points=pts,
                          start_lr=lrs_plan[0], end_lr=lrs_plan[-1], num_iter=num_iter,
                          stop_reason=stop_reason, window=window, name=name)


def lr_find_recipe(dataset: str = "digits", smoke: bool = False, num_iter: int | None = None,
                   start_lr: float = 1e-6, end_lr: float = 1.0, seed: int = 0, splits: Any = None,
                   **kwargs: Any) -> LRFinderResult:
    """:func:`lr_find` with ``dataset``'s baseline recipe: its model (freshly built with
    torch seeded by ``seed``; the caller's RNG state is put back) and its optimizer,
    batch size and loss, on the training split.

    ``num_iter`` defaults to 100 (40 with ``smoke``); the recipe's rate is stored in
    ``result.extras["recipe_lr"]`` (pass it to ``result.plot(reference_lr=...)``).

    Raises:
        ValueError: unknown data set (lists the known ones), or as :func:`lr_find`.
    """
    from workbench.recipes import baseline_recipe, load_splits, model_factory

    recipe = baseline_recipe(dataset, smoke=smoke)
    splits = splits if splits is not None else load_splits(dataset, smoke=smoke)
    rng = ckpt.capture_rng_state()
    try:
        torch.manual_seed(seed)
        model = model_factory(recipe.model)(splits.task)
    finally:
        ckpt.restore_rng_state(rng)
    result = lr_find(model, splits.train, splits.task, config=recipe.config,
                     num_iter=num_iter or (40 if smoke else 100), start_lr=start_lr, end_lr=end_lr,
                     seed=seed, name=dataset, **kwargs)
    result.extras["recipe_lr"] = recipe.config.lr
    return result


# =========================================================================== comparison


def schedule_variants(schedules: Sequence[str] = BENCHMARK_SCHEDULES,
                      dynamic: Mapping[str, Any] | None = None) -> list:
    """:class:`~workbench.experiment.Variant` objects for learning-rate schedules, applied to
    each data set's tuned recipe (its learning rate is the base, or for one-cycle the
    peak, rate):

    - ``constant``: the recipe with a constant rate (the reference the others are
      compared with: the baseline variant when it comes first);
    - ``step``: ``StepLR``, rate x0.1 at 1/3 and 2/3 of the run;
    - ``cosine``: cosine annealing to 0 over the run;
    - ``warmup_cosine``: linear warmup over 5% of the steps, then cosine to 0
      (:func:`workbench.recipes.warmup_cosine_changes`);
    - ``one_cycle``: ``OneCycleLR`` with defaults (30% rising from lr/25);
    - ``dynamic``: the ``"dynamic"`` schedule (:class:`DynamicLRScheduler` on
      ``val_loss`` after every evaluation; the rule of :class:`DynamicLR`), with its
      defaults unless ``dynamic`` (its arguments) says otherwise;
    - any other name of :data:`~workbench.train.schedules.SCHEDULES`: that schedule with
      its default arguments.

    Raises:
        ValueError: an unknown name (lists the valid ones).
    """
    from workbench.experiment import Variant
    from workbench.recipes import SCHEDULE_VARIANTS, schedule_changes

    valid = list(SCHEDULES)
    unknown = [s for s in schedules if s not in valid]
    if unknown:
        raise ValueError(f"unknown schedules {unknown}; valid: {valid}")
    out = []
    for s in schedules:
        if s == "dynamic":
            out.append(Variant("dynamic", config=schedule_changes("dynamic") | {
                "schedule_kwargs": dict(dynamic or {})}))
        elif s in WARMUP_SCHEDULES and s not in SCHEDULE_VARIANTS:
            raise ValueError(f"schedule {s!r} needs warmup steps; use 'warmup_cosine'")
        else:
            out.append(Variant(s, config=SCHEDULE_VARIANTS.get(s, schedule_changes(s))))
    return out


def schedule_experiment(datasets: Sequence[str] = ("digits", "subj"), seeds: Sequence[int] = (0, 1, 2),
                        schedules: Sequence[str] = BENCHMARK_SCHEDULES, smoke: bool = False,
                        epochs: int | Mapping[str, int] | None = None,
                        dynamic: Mapping[str, Any] | None = None, on_eval: Callable[..., Any] | None = None,
                        progress: bool = True, splits: Mapping[str, Any] | None = None):
    """The schedules of :func:`schedule_variants` against the tuned constant-rate baseline
    (the first schedule is the baseline variant) on each data set's recipe, over
    ``seeds``, with the recipe's target. Returns the
    :class:`~workbench.experiment.Experiment` (call ``.run()``).

    Args:
        epochs: override the recipes' epoch budgets (one number, or per data set); every
            schedule then spans the shortened run.
        splits: preloaded data (name -> DataSplits), else :func:`workbench.recipes.load_splits`.

    Raises:
        ValueError: unknown data set or schedule.
    """
    from workbench.experiment import Experiment
    from workbench.recipes import baseline_recipe, load_splits, model_factory

    variants = schedule_variants(schedules, dynamic)
    recipes = {}
    for d in datasets:
        ep = epochs.get(d) if isinstance(epochs, Mapping) else epochs
        recipes[d] = baseline_recipe(d, smoke=smoke, **({"epochs": ep} if ep else {}))
    data = {d: (splits[d] if splits and d in splits else load_splits(d, smoke=smoke)) for d in datasets}
    return Experiment(data, {d: model_factory(r.model) for d, r in recipes.items()},
                      {d: r.config for d, r in recipes.items()}, variants, seeds=seeds,
                      target={d: r.target for d, r in recipes.items()}, on_eval=on_eval,
                      progress=progress, name="learning-rate schedules")


def choose_schedule(summary) -> dict[str, dict[str, Any]]:
    """The tuned-baseline schedule per data set from an experiment summary (the rule is
    fixed before the runs and uses validation data only).

    Among the variants whose every seed reached the target, the one with the fewest
    examples-to-target on average (a deterministic count, where seconds on a shared
    machine are noisy), ties within 1% going to the higher final validation metric; if no
    variant reached the target on every seed, the highest final validation metric.

    Args:
        summary: ``ExperimentResult.summary`` (columns ``dataset, variant, seeds, reached,
            examples_to_target_mean, final_metric_mean``).

    Returns:
        ``{dataset: {"schedule": name, "why": reason}}``.
    """
    out: dict[str, dict[str, Any]] = {}
    for dataset, rows in summary.groupby("dataset", sort=False):
        rows = rows.to_dict("records")
        complete = [r for r in rows if int(r["reached"]) == int(r["seeds"])
                    and math.isfinite(float(r["examples_to_target_mean"]))]
        if complete:
            fewest = min(float(r["examples_to_target_mean"]) for r in complete)
            near = [r for r in complete if float(r["examples_to_target_mean"]) <= fewest * 1.01]
            best = max(near, key=lambda r: float(r["final_metric_mean"]))
            why = "fewest examples to the target, every seed reached it"
        else:
            best = max(rows, key=lambda r: (float(r["final_metric_mean"])
                                            if math.isfinite(float(r["final_metric_mean"])) else -math.inf))
            why = "no schedule reached the target on every seed: highest final validation metric"
        out[str(dataset)] = {"schedule": str(best["variant"]), "why": why}
    return out
