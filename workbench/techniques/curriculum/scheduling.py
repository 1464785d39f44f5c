"""Curriculum schedulers (the difficulty range from training feedback) and their loop adapter.

A scheduler is a plain object: ``update(step=..., accuracy=..., val_loss=...) -> (low,
high)``, the quantile range of the difficulty-sorted data to train on next, plus
``state_dict()`` / ``load_state_dict()``. Its ``feedback`` attribute says what drives it:
``"step"`` (:class:`ProgressiveDifficulty`, updated at every ``epoch_end``) or
``"validation"`` (the others, updated at every ``eval_end``).

:class:`CurriculumScheduling` is the :class:`~workbench.train.Technique` that feeds a
scheduler and sets a :class:`~workbench.techniques.curriculum.samplers.DifficultySampler`'s
range for the next epoch.

Sources: progressive difficulty and the multi-stage curriculum follow Bengio et al. (2009)
(a sequence of training distributions of growing difficulty); competence-based pacing
follows Platanios et al. (2019) with the competence driven by validation accuracy (the
SPEC's margins: raise when accuracy > target + 0.1, lower when < target - 0.2); dynamic
difficulty from validation loss is our own rule (documented in :class:`DynamicDifficulty`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from workbench.techniques.curriculum.difficulty import difficulty_scores
from workbench.techniques.curriculum.samplers import DifficultySampler
from workbench.train.events import Event, Technique
from workbench.validation import check_int, check_number

__all__ = [
    "CompetencePacing",
    "CurriculumScheduling",
    "CurriculumStage",
    "DynamicDifficulty",
    "MultiStageCurriculum",
    "ProgressiveDifficulty",
]


class ProgressiveDifficulty:
    """Progressive difficulty: the difficulty threshold (a quantile of the sorted data)
    stays at ``initial`` for ``warmup_steps``, then moves linearly to ``final`` over
    ``steps`` optimizer steps: ``q(t) = initial + (final - initial) * clip((t - warmup) /
    steps, 0, 1)``.

    Raises:
        ValueError: ``initial`` or ``final`` outside (0, 1], ``steps < 1``, ``warmup_steps < 0``.
    """

    feedback: ClassVar[str] = "step"

    def __init__(self, initial: float = 0.2, final: float = 1.0, steps: int = 1000, warmup_steps: int = 0) -> None:
        self.initial = check_number("ProgressiveDifficulty.initial", initial, 0, 1, lo_open=True)
        self.final = check_number("ProgressiveDifficulty.final", final, 0, 1, lo_open=True)
        self.steps = check_int("ProgressiveDifficulty.steps", steps, 1)
        self.warmup_steps = check_int("ProgressiveDifficulty.warmup_steps", warmup_steps, 0)
        self.threshold = self.initial

    def at(self, step: int) -> float:
        """``q(step)``, a quantile in (0, 1]."""
        frac = min(1.0, max(0.0, (step - self.warmup_steps) / self.steps))
        return self.initial + (self.final - self.initial) * frac

    def update(self, step: int = 0, **_: Any) -> tuple[float, float]:
        """The range ``(0, q(step))`` to use."""
        self.threshold = self.at(step)
        return (0.0, self.threshold)

    def state_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold}

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.threshold = float(d["threshold"])


class CompetencePacing:
    """Competence-based pacing from accuracy feedback.

    The competence ``c`` (the available quantile) rises by ``increase`` when accuracy
    exceeds ``target + raise_margin`` (0.1) for ``patience`` consecutive updates, and falls
    by ``decrease`` when it is below ``target - lower_margin`` (0.2) for ``patience``
    updates; it stays in ``[minimum, 1]``.

    Raises:
        ValueError: ``initial`` outside (0, 1], ``minimum`` outside (0, initial], ``target``
            outside [0, 1], ``increase <= 0``, ``decrease < 0``, ``patience < 1``, a negative margin.
    """

    feedback: ClassVar[str] = "validation"

    def __init__(self, target: float = 0.8, initial: float = 0.2, increase: float = 0.1, decrease: float = 0.1,
                 patience: int = 1, minimum: float = 0.05, raise_margin: float = 0.1, lower_margin: float = 0.2) -> None:
        self.target = check_number("CompetencePacing.target", target, 0, 1)
        self.competence = check_number("CompetencePacing.initial", initial, 0, 1, lo_open=True)
        self.minimum = check_number("CompetencePacing.minimum", minimum, 0, self.competence, lo_open=True)
        self.increase = check_number("CompetencePacing.increase", increase, 0, lo_open=True)
        self.decrease = check_number("CompetencePacing.decrease", decrease, 0)
        self.patience = check_int("CompetencePacing.patience", patience, 1)
        self.raise_margin = check_number("CompetencePacing.raise_margin", raise_margin, 0)
        self.lower_margin = check_number("CompetencePacing.lower_margin", lower_margin, 0)
        self.above = self.below = 0

    def update(self, accuracy: float | None = None, **_: Any) -> tuple[float, float]:
        """The range ``(0, c)`` after this validation accuracy (None / NaN: no change)."""
        if accuracy is not None and not math.isnan(accuracy):
            self.above = self.above + 1 if accuracy > self.target + self.raise_margin else 0
            self.below = self.below + 1 if accuracy < self.target - self.lower_margin else 0
            if self.above >= self.patience:
                self.competence, self.above = min(1.0, self.competence + self.increase), 0
            elif self.below >= self.patience:
                self.competence, self.below = max(self.minimum, self.competence - self.decrease), 0
        return (0.0, self.competence)

    def state_dict(self) -> dict[str, Any]:
        return {"competence": self.competence, "above": self.above, "below": self.below}

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.competence, self.above, self.below = float(d["competence"]), int(d["above"]), int(d["below"])


@dataclass
class CurriculumStage:
    """A stage of a :class:`MultiStageCurriculum`: a difficulty range (quantiles ``low <=
    high`` in [0, 1]), the validation accuracy that ends it, its learning rate (None:
    unchanged) and the most updates it may last (None: no limit).

    Raises:
        ValueError: a range outside [0, 1] or with ``low > high``, ``target_accuracy``
            outside [0, 1], ``lr <= 0``, ``max_updates < 1``.
    """

    low: float
    high: float
    target_accuracy: float
    lr: float | None = None
    max_updates: int | None = None

    def __post_init__(self) -> None:
        ok = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (self.low, self.high))
        if not ok or not 0 <= self.low <= self.high <= 1:
            raise ValueError(f"CurriculumStage: the range must satisfy 0 <= low <= high <= 1; "
                             f"got ({self.low}, {self.high})")
        check_number("CurriculumStage.target_accuracy", self.target_accuracy, 0, 1)
        if self.lr is not None:
            check_number("CurriculumStage.lr", self.lr, 0, lo_open=True)
        if self.max_updates is not None:
            check_int("CurriculumStage.max_updates", self.max_updates, 1)


class MultiStageCurriculum:
    """Stages with a difficulty range, target accuracy and learning rate; advances to the
    next stage when the stage's target accuracy is met (or ``max_updates`` passed).

    Raises:
        ValueError: no stages, or a stage that is not a :class:`CurriculumStage`.
    """

    feedback: ClassVar[str] = "validation"

    def __init__(self, stages: Sequence[CurriculumStage]) -> None:
        if not stages:
            raise ValueError("MultiStageCurriculum.stages needs at least one stage")
        for i, s in enumerate(stages):
            if not isinstance(s, CurriculumStage):
                raise ValueError(f"MultiStageCurriculum.stages[{i}] must be a CurriculumStage; got {s!r}")
        self.stages = list(stages)
        self.index = 0
        self.updates = 0

    @property
    def stage(self) -> CurriculumStage:
        return self.stages[self.index]

    @property
    def lr(self) -> float | None:
        """The current stage's learning rate (None: leave the optimizer's)."""
        return self.stage.lr

    def update(self, accuracy: float | None = None, **_: Any) -> tuple[float, float]:
        """The range of the stage in force after this validation accuracy."""
        self.updates += 1
        s = self.stage
        met = accuracy is not None and not math.isnan(accuracy) and accuracy >= s.target_accuracy
        if self.index < len(self.stages) - 1 and (met or (s.max_updates is not None and self.updates >= s.max_updates)):
            self.index += 1
            self.updates = 0
        return (self.stage.low, self.stage.high)

    def state_dict(self) -> dict[str, Any]:
        return {"index": self.index, "updates": self.updates}

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.index, self.updates = int(d["index"]), int(d["updates"])


class DynamicDifficulty:
    """Dynamic difficulty adjustment from validation loss (our own rule): when the loss
    improved by more than ``min_delta`` since the last update the threshold rises by
    ``step_up`` (the model copes: harder data); when it worsened by more than ``tolerance``
    it falls by ``step_down``; after ``patience`` updates without change (a plateau) it
    rises too. The threshold stays in ``[minimum, 1]``.

    Raises:
        ValueError: ``initial`` outside (0, 1], ``minimum`` outside (0, initial],
            ``step_up <= 0``, ``step_down < 0``, ``min_delta`` or ``tolerance`` negative,
            ``patience < 1``.
    """

    feedback: ClassVar[str] = "validation"

    def __init__(self, initial: float = 0.3, step_up: float = 0.1, step_down: float = 0.05, min_delta: float = 1e-3,
                 tolerance: float = 0.02, patience: int = 2, minimum: float = 0.05) -> None:
        self.threshold = check_number("DynamicDifficulty.initial", initial, 0, 1, lo_open=True)
        self.minimum = check_number("DynamicDifficulty.minimum", minimum, 0, self.threshold, lo_open=True)
        self.step_up = check_number("DynamicDifficulty.step_up", step_up, 0, lo_open=True)
        self.step_down = check_number("DynamicDifficulty.step_down", step_down, 0)
        self.min_delta = check_number("DynamicDifficulty.min_delta", min_delta, 0)
        self.tolerance = check_number("DynamicDifficulty.tolerance", tolerance, 0)
        self.patience = check_int("DynamicDifficulty.patience", patience, 1)
        self.last: float | None = None
        self.flat = 0

    def update(self, val_loss: float | None = None, **_: Any) -> tuple[float, float]:
        """The range ``(0, threshold)`` after this validation loss (None / NaN: no change)."""
        if val_loss is not None and not math.isnan(val_loss):
            if self.last is None:
                pass
            elif val_loss < self.last - self.min_delta:
                self.threshold, self.flat = min(1.0, self.threshold + self.step_up), 0
            elif val_loss > self.last + self.tolerance:
                self.threshold, self.flat = max(self.minimum, self.threshold - self.step_down), 0
            else:
                self.flat += 1
                if self.flat >= self.patience:
                    self.threshold, self.flat = min(1.0, self.threshold + self.step_up), 0
            self.last = float(val_loss)
        return (0.0, self.threshold)

    def state_dict(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "last": self.last, "flat": self.flat}

    def load_state_dict(self, d: Mapping[str, Any]) -> None:
        self.threshold, self.flat = float(d["threshold"]), int(d["flat"])
        self.last = None if d["last"] is None else float(d["last"])


class CurriculumScheduling(Technique):
    """Feeds training feedback to a scheduler and sets a
    :class:`~workbench.techniques.curriculum.samplers.DifficultySampler`'s range for the
    next epoch (the sampler applies it at ``set_epoch``; resume is exact).

    ``eval_end``: a validation-driven scheduler gets ``update(step=effective_step,
    accuracy=val_accuracy, val_loss=val_loss)``; ``epoch_end``: a step-driven one
    (``feedback == "step"``, :class:`ProgressiveDifficulty`) gets the same. A scheduler
    with an ``lr`` (a stage's learning rate) sets every parameter group's learning rate.
    Counts ``curriculum_updates``; ``history`` holds ``[effective_step, low, high]`` per
    update. Pass :attr:`sampler` to the Trainer (``Trainer(sampler=technique.sampler)``).

    Args:
        sampler: an object with ``set_range(low, high)`` (a :class:`DifficultySampler`).
        scheduler: an object with ``update(...) -> (low, high)``, ``state_dict()`` and
            ``load_state_dict()`` (one of this module's schedulers).

    Raises:
        ValueError: ``sampler`` or ``scheduler`` without those methods.
    """

    name = "curriculum"
    events = frozenset({Event.EVAL_END, Event.EPOCH_END})

    def __init__(self, sampler: Any, scheduler: Any) -> None:
        super().__init__()
        if not callable(getattr(sampler, "set_range", None)):
            raise ValueError(f"CurriculumScheduling.sampler must have set_range(low, high) (a DifficultySampler); "
                             f"got {type(sampler).__name__}")
        if not all(callable(getattr(scheduler, m, None)) for m in ("update", "state_dict", "load_state_dict")):
            raise ValueError("CurriculumScheduling.scheduler must have update(...), state_dict() and "
                             "load_state_dict() (ProgressiveDifficulty, CompetencePacing, MultiStageCurriculum, "
                             f"DynamicDifficulty); got {type(scheduler).__name__}")
        self.sampler, self.scheduler = sampler, scheduler
        self.history: list[list[float]] = []

    @classmethod
    def default(cls, splits: Any, **overrides: Any) -> CurriculumScheduling:
        """The easiest half of ``splits.train`` by :func:`difficulty_scores` (default weights
        0.3 / 0.3 / 0.4) in a :class:`DifficultySampler`, paced by
        :class:`CompetencePacing` ``(target=0.8, initial=0.5)``; ``overrides`` replace
        ``sampler`` / ``scheduler``.

        Raises:
            ValueError: as the constructor.
        """
        kw = dict(overrides)
        if "sampler" not in kw:
            scores = difficulty_scores(splits.train, splits.vocab)
            kw["sampler"] = DifficultySampler(scores.for_dataset(splits.train), 0.0, 0.5, seed=0)
        kw.setdefault("scheduler", CompetencePacing(target=0.8, initial=0.5))
        return cls(**kw)

    def _apply(self, state: Any) -> None:
        rng = self.scheduler.update(step=state.effective_step, accuracy=state.metrics.get("val_accuracy"),
                                    val_loss=state.metrics.get("val_loss"))
        self.sampler.set_range(*rng)
        lr = getattr(self.scheduler, "lr", None)
        if lr is not None:
            for g in state.optimizer.param_groups:
                g["lr"] = lr
        self.history.append([float(state.effective_step), float(rng[0]), float(rng[1])])
        state.count("curriculum_updates")

    def _feedback(self) -> str:
        return getattr(self.scheduler, "feedback", "validation")

    def on_eval_end(self, state: Any) -> None:
        if self._feedback() != "step":
            self._apply(state)

    def on_epoch_end(self, state: Any) -> None:
        if self._feedback() == "step":
            self._apply(state)

    def state_dict(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler.state_dict(), "history": [list(h) for h in self.history]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state["scheduler"])
        self.history = [list(h) for h in state["history"]]
