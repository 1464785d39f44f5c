"""The optimization family's loop technique: :class:`DynamicLR`, an adapter from the
Trainer's events to the dynamic learning-rate rule.

The rule itself (:class:`~workbench.train.dynamic_lr.DynamicLRPolicy`, plain numbers) and
its scheduler form (:class:`~workbench.train.dynamic_lr.DynamicLRScheduler`, the
``"dynamic"`` schedule of :class:`~workbench.config.TrainingConfig`) are loop-level code in
:mod:`workbench.train.dynamic_lr`; this technique applies the same rule from the events
(and can also check the training loss every N optimizer steps).
"""

from __future__ import annotations

from typing import Any

from workbench.train.dynamic_lr import DynamicLRPolicy, _bounds, _policy_args
from workbench.train.events import Event, Technique
from workbench.train.schedules import is_constant_scheduler
from workbench.validation import check_int as _int

__all__ = ["DynamicLR"]


class DynamicLR(Technique):
    """Dynamic learning rate: raise the rate while the monitored loss keeps falling, lower
    it on a plateau (the rule of :class:`~workbench.train.dynamic_lr.DynamicLRPolicy`, a
    per-check form of the "bold driver" heuristic, Battiti 1989), within ``[min_lr, max_lr]``.

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
    events = frozenset({Event.FIT_START, Event.AFTER_FORWARD, Event.STEP_END, Event.EVAL_END})

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

    @classmethod
    def default(cls, splits: Any, **overrides: Any) -> DynamicLR:
        """DynamicLR with its defaults (``val_loss`` checked after each evaluation, raise
        x1.25 after 2 improving checks, cut x0.5 after 2 checks without a new best, rate in
        ``[lr_0 / 100, 10 lr_0]``); the data set (``splits``) does not change them.
        ``overrides`` replace constructor arguments.

        Raises:
            ValueError: an invalid override (named).
        """
        return cls(**overrides)

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
