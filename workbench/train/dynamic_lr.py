"""The dynamic learning rate: raise the rate while the monitored loss keeps falling, lower
it on a plateau, within bounds.

- :class:`DynamicLRPolicy`: the rule on plain numbers (no torch);
- :func:`dynamic_lr_trace`: the rule run over a list of values (for plots and tests);
- :class:`DynamicLRScheduler`: the rule as a metric-stepped ``torch.optim.lr_scheduler``
  scheduler (a ``ReduceLROnPlateau`` subclass), registered as the ``"dynamic"`` schedule
  of :mod:`workbench.train.schedules`, so ``TrainingConfig(schedule="dynamic")`` and the
  baseline recipes can use it; the Trainer steps it with its ``monitor`` metric after
  every evaluation.

The technique form, :class:`workbench.techniques.optimization.DynamicLR`, applies the same
rule from the Trainer's events (it can also check the training loss every N steps).

The rule is a variant of the "bold driver" heuristic (Battiti 1989, "Accelerated backpropagation
learning: two optimization methods"; Vogl et al. 1988) applied per check rather than per
step, with torch's ``ReduceLROnPlateau`` test for what counts as an improvement.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from torch.optim import Optimizer
from torch.optim.lr_scheduler import ReduceLROnPlateau

from workbench.validation import check_choice as _choice
from workbench.validation import check_int as _int
from workbench.validation import check_number as _num

__all__ = ["DynamicLRPolicy", "DynamicLRScheduler", "dynamic_lr_trace"]


# --------------------------------------------------------------------------- the rule


def _is_better(a: float, ref: float, mode: str, threshold: float, threshold_mode: str) -> bool:
    """torch's ``ReduceLROnPlateau`` comparison: ``a`` improves on ``ref`` by more than
    ``threshold`` (relative: ``a < ref * (1 - threshold)`` in ``"min"`` mode)."""
    if not math.isfinite(a):
        return False
    if mode == "min":
        return a < (ref * (1 - threshold) if threshold_mode == "rel" else ref - threshold)
    return a > (ref * (1 + threshold) if threshold_mode == "rel" else ref + threshold)


@dataclass
class DynamicLRPolicy:
    """The dynamic learning-rate rule, on plain numbers (no torch).

    Each :meth:`update` is one *check* of the monitored value (a loss with ``mode="min"``,
    an accuracy with ``"max"``):

    1. it *improved* if it beats the previous check by more than ``threshold``
       (``threshold_mode="rel"``: ``x < prev * (1 - threshold)``; ``"abs"``:
       ``x < prev - threshold``; reversed for ``"max"``; torch's ReduceLROnPlateau test);
       ``improving`` counts consecutive improved checks, and a check that did not improve
       resets it;
    2. ``plateau`` counts consecutive checks without a new best (the best so far, compared
       with the same threshold);
    3. if ``improving >= patience``: ``lr <- min(lr * increase_factor, max_lr)`` and
       ``improving = 0`` ("increase");
       else if ``plateau >= plateau_patience``: ``lr <- max(lr * decrease_factor, min_lr)``,
       ``plateau = 0`` and ``improving = 0`` ("decrease").

    A non-finite value counts as not improved. The first check only sets the references.

    Attributes:
        lr: the current rate (the first parameter group's; techniques move other groups
            in proportion).
        best, last: best and previous values (None before the first check).
        improving, plateau: the counters above. increases, decreases, checks: totals.

    Raises:
        ValueError: on construction, for any argument out of range (named).
    """

    lr: float
    mode: str = "min"
    patience: int = 2
    increase_factor: float = 1.25
    plateau_patience: int = 2
    decrease_factor: float = 0.5
    threshold: float = 1e-4
    threshold_mode: str = "rel"
    min_lr: float = 0.0
    max_lr: float = math.inf
    best: float | None = None
    last: float | None = None
    improving: int = 0
    plateau: int = 0
    increases: int = 0
    decreases: int = 0
    checks: int = 0

    def __post_init__(self) -> None:
        _choice("mode", self.mode, ("min", "max"))
        _int("patience", self.patience, 1)
        _num("increase_factor", self.increase_factor, 1.0, 100.0)
        _int("plateau_patience", self.plateau_patience, 1)
        _num("decrease_factor", self.decrease_factor, 0.0, 1.0, lo_open=True, hi_open=True)
        _num("threshold", self.threshold, 0.0)
        _choice("threshold_mode", self.threshold_mode, ("rel", "abs"))
        _num("min_lr", self.min_lr, 0.0)
        if not (isinstance(self.max_lr, (int, float)) and not isinstance(self.max_lr, bool)
                and self.max_lr >= self.min_lr and self.max_lr > 0):
            raise ValueError(f"max_lr must be a number > 0 and >= min_lr ({self.min_lr:g}); "
                             f"got {self.max_lr!r}")
        self.lr = min(max(_num("lr", self.lr, 0.0, lo_open=True), self.min_lr), self.max_lr)

    def update(self, value: float) -> str:
        """One check of the monitored value; returns ``"increase"``, ``"decrease"`` or
        ``"none"`` and updates :attr:`lr`."""
        x = float(value)
        self.checks += 1
        better = lambda a, ref: _is_better(a, ref, self.mode, self.threshold, self.threshold_mode)  # noqa: E731
        if self.last is None:
            self.last = x
            self.best = x if math.isfinite(x) else None
            return "none"
        self.improving = self.improving + 1 if better(x, self.last) else 0
        if self.best is None or better(x, self.best):
            self.best = x if math.isfinite(x) else self.best
            self.plateau = 0
        else:
            self.plateau += 1
        self.last = x
        if self.improving >= self.patience:
            self.improving = 0
            new = min(self.lr * self.increase_factor, self.max_lr)
            if new > self.lr:
                self.lr = new
                self.increases += 1
                return "increase"
            return "none"
        if self.plateau >= self.plateau_patience:
            self.plateau = self.improving = 0
            new = max(self.lr * self.decrease_factor, self.min_lr)
            if new < self.lr:
                self.lr = new
                self.decreases += 1
                return "decrease"
        return "none"

    _STATE = ("lr", "best", "last", "improving", "plateau", "increases", "decreases", "checks")

    def state_dict(self) -> dict[str, Any]:
        """The changing fields as plain Python values."""
        return {k: getattr(self, k) for k in self._STATE}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for k in self._STATE:
            setattr(self, k, state[k])


def dynamic_lr_trace(values: Iterable[float], lr: float, **policy: Any) -> list[float]:
    """The rate after each check when :class:`DynamicLRPolicy` sees ``values`` in order.

    ``policy`` holds :class:`DynamicLRPolicy`'s arguments (``mode``, ``patience``, ...).
    Returns one float per value.
    """
    p = DynamicLRPolicy(lr=lr, **policy)
    out = []
    for v in values:
        p.update(v)
        out.append(p.lr)
    return out


def _bounds(base: float, min_lr: float | None, max_lr: float | None) -> tuple[float, float]:
    lo = base / 100.0 if min_lr is None else _num("min_lr", min_lr, 0.0)
    hi = base * 10.0 if max_lr is None else _num("max_lr", max_lr, 0.0, lo_open=True)
    if hi < lo:
        raise ValueError(f"max_lr ({hi:g}) must be >= min_lr ({lo:g})")
    return lo, hi


def _policy_args(patience: int, increase_factor: float, plateau_patience: int, decrease_factor: float,
                 threshold: float, threshold_mode: str) -> dict[str, Any]:
    return {"patience": patience, "increase_factor": increase_factor,
            "plateau_patience": plateau_patience, "decrease_factor": decrease_factor,
            "threshold": threshold, "threshold_mode": threshold_mode}


class DynamicLRScheduler(ReduceLROnPlateau):
    """The dynamic rule of :class:`DynamicLRPolicy` as a metric-stepped scheduler:
    ``scheduler.step(value)`` after each evaluation, with the value of :attr:`monitor`.

    The ``"dynamic"`` schedule of :mod:`workbench.train.schedules`. A ``ReduceLROnPlateau``
    subclass, so :func:`~workbench.train.schedules.is_metric_scheduler` is True: the
    Trainer steps it after every evaluation with ``metrics[scheduler.monitor]`` (the
    validation loss by default, whatever ``TrainingConfig.monitor`` says; that one picks
    the best checkpoint). Group rates move in proportion to group 0, whose rate is bounded
    by ``[min_lr, max_lr]``. ``state_dict()`` holds plain values only.

    Args:
        optimizer: its groups' current ``lr`` are the starting rates (``lr_0`` is group 0's).
        monitor: the validation metric that drives the rule, ``"val_*"``. Default
            ``"val_loss"``.
        mode: ``"min"`` or ``"max"``; default ``"min"`` for a name ending in ``loss``, else
            ``"max"``.
        patience: consecutive improving checks before a raise, >= 1. Default 2.
        increase_factor: multiplier of a raise, in ``[1, 100]``. Default 1.25.
        plateau_patience: checks without a new best before a cut, >= 1. Default 2.
        decrease_factor: multiplier of a cut, in ``(0, 1)``. Default 0.5.
        threshold, threshold_mode: what counts as an improvement (torch's
            ReduceLROnPlateau test). Default relative 1e-4.
        min_lr, max_lr: bounds on group 0's rate; default ``lr_0 / 100`` and ``10 * lr_0``.

    Raises:
        TypeError: ``optimizer`` is not a ``torch.optim.Optimizer``.
        ValueError: any argument out of range (the message names it and its range).
    """

    def __init__(self, optimizer: Optimizer, monitor: str = "val_loss", mode: str | None = None,
                 patience: int = 2, increase_factor: float = 1.25, plateau_patience: int = 2,
                 decrease_factor: float = 0.5, threshold: float = 1e-4, threshold_mode: str = "rel",
                 min_lr: float | None = None, max_lr: float | None = None) -> None:
        # ReduceLROnPlateau.__init__ is not called: it only sets up its own plateau rule
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"optimizer must be a torch.optim.Optimizer; got {type(optimizer).__name__}")
        if not isinstance(monitor, str) or not monitor.startswith("val_"):
            raise ValueError(f"monitor must be a validation metric name 'val_*' (the scheduler is "
                             f"stepped after evaluations); got {monitor!r}")
        self.monitor = monitor
        mode = mode if mode is not None else ("min" if monitor.endswith("loss") else "max")
        self.optimizer = optimizer
        self.base_lrs = [float(g["lr"]) for g in optimizer.param_groups]
        lo, hi = _bounds(self.base_lrs[0], min_lr, max_lr)
        self.policy = DynamicLRPolicy(lr=self.base_lrs[0], mode=mode, min_lr=lo, max_lr=hi,
                                      **_policy_args(patience, increase_factor, plateau_patience,
                                                     decrease_factor, threshold, threshold_mode))
        self.mode = mode
        self.last_epoch = 0
        self._apply()

    def _apply(self) -> None:
        scale = self.policy.lr / self.base_lrs[0] if self.base_lrs[0] > 0 else 1.0
        for g, base in zip(self.optimizer.param_groups, self.base_lrs):
            g["lr"] = base * scale
        self._last_lr = [float(g["lr"]) for g in self.optimizer.param_groups]

    def step(self, metrics: Any, epoch: Any = None) -> None:  # type: ignore[override]
        """One check of ``metrics`` (a float or a 0-d tensor)."""
        self.last_epoch += 1
        self.policy.update(float(metrics))
        self._apply()

    def get_last_lr(self) -> list[float]:
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        return {"policy": self.policy.state_dict(), "bounds": [self.policy.min_lr, self.policy.max_lr],
                "base_lrs": list(self.base_lrs), "last_epoch": self.last_epoch}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.base_lrs = [float(x) for x in state_dict["base_lrs"]]
        self.policy.min_lr, self.policy.max_lr = (float(x) for x in state_dict["bounds"])
        self.policy.load_state_dict(state_dict["policy"])
        self.last_epoch = int(state_dict["last_epoch"])
        self._apply()
