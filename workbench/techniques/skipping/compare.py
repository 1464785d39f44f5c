"""Comparison helpers for the skipping family: one technique against the tuned baseline on
a built-in data set, with a record of which examples were skipped (for the notebook and
quick checks; ``benchmarks/skipping.py`` runs the full comparison).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from workbench.techniques.skipping.technique import (
    DifficultyPrediction,
    GradientCaching,
    SelectiveBackprop,
)
from workbench.train.events import Event, Technique
from workbench.validation import check_choice

__all__ = ["VARIANTS", "SkipRecorder", "compare_skipping", "make_technique"]

#: the skipping variants by name
VARIANTS = ("sb-jiang", "sb-composer", "difficulty-prediction", "gradient-caching")


def make_technique(variant: str, splits: Any, seed: int = 0, keep: float = 0.5, beta: float = 3.0,
                   skip_fraction: float = 0.2, target_hit_rate: float = 0.2) -> Technique:
    """The technique of ``variant`` (:data:`VARIANTS`) for ``splits``: ``"sb-jiang"``
    (Jiang's rule with ``beta``, selecting over the whole run, every batch),
    ``"sb-composer"`` (Composer's defaults with ``keep``), ``"difficulty-prediction"``
    (``skip_fraction``), ``"gradient-caching"`` (``target_hit_rate``).

    Raises:
        ValueError: an unknown variant or an argument out of range (named).
    """
    check_choice("variant", variant, VARIANTS)
    if variant == "sb-jiang":
        return SelectiveBackprop.default(splits, rule="jiang", beta=beta, start=0.0, end=1.0, interrupt=0,
                                         seed=seed)
    if variant == "sb-composer":
        return SelectiveBackprop.default(splits, rule="composer", keep=keep, seed=seed)
    if variant == "difficulty-prediction":
        return DifficultyPrediction.default(splits, skip_fraction=skip_fraction)
    return GradientCaching.default(splits, target_hit_rate=target_hit_rate)


class SkipRecorder(Technique):
    """Records, per example id, how often it was drawn, how often it was skipped, and its
    last loss (a difficulty proxy). Put it **before** the skipping technique in the list:
    its ``batch_start`` then sees the whole batch, its ``after_forward`` the kept part.

    Attributes: ``drawn``, ``skipped`` (long ``[N_ids]``), ``last_loss`` (float
    ``[N_ids]``, NaN until the example is forwarded with gradients).
    """

    name = "skip_recorder"
    events = frozenset({Event.BATCH_START, Event.AFTER_FORWARD})

    def __init__(self, n_ids: int) -> None:
        super().__init__()
        self.drawn = torch.zeros(n_ids, dtype=torch.long)
        self.skipped = torch.zeros(n_ids, dtype=torch.long)
        self.last_loss = torch.full((n_ids,), float("nan"))
        self._ids: torch.Tensor | None = None

    def on_batch_start(self, state: Any) -> None:
        self._ids = state.batch["ids"].cpu()
        self.drawn[self._ids] += 1

    def on_after_forward(self, state: Any) -> None:
        kept = state.batch["ids"].cpu()
        if self._ids is not None:
            self.skipped[self._ids] += 1
            self.skipped[kept] -= 1
        self.last_loss[kept] = state.per_example_loss.detach().float().cpu()
        self._ids = None

    def state_dict(self) -> dict[str, Any]:
        return {"drawn": self.drawn.clone(), "skipped": self.skipped.clone(), "last_loss": self.last_loss.clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.drawn, self.skipped = state["drawn"].clone(), state["skipped"].clone()
        self.last_loss = state["last_loss"].clone()


def compare_skipping(dataset: str = "digits", variant: str = "sb-jiang", seed: int = 0, smoke: bool = False,
                     on_eval: Callable[[Any], Any] | None = None, **settings: Any) -> dict[str, Any]:
    """Train the tuned baseline and ``variant`` on ``dataset`` (one seed) and return
    ``{"result": ExperimentResult, "splits", "recorder": SkipRecorder, "technique",
    "rows": the variant's metric rows}``. ``settings`` go to :func:`make_technique`;
    ``on_eval(experiment)`` after every evaluation (live plots); ``smoke``: 600 examples,
    2 epochs (for tests, not measurements).

    Raises:
        ValueError: an unknown data set or variant, or a setting out of range.
    """
    from workbench.data.datasets import load_dataset
    from workbench.experiment import Experiment, Variant
    from workbench.recipes import SMOKE, baseline_recipe, model_factory

    check_choice("variant", variant, VARIANTS)
    splits = load_dataset(dataset, seed=0, **({"max_examples": SMOKE["max_examples"]} if smoke else {}))
    recipe = baseline_recipe(dataset, smoke=smoke)
    made: dict[str, Any] = {}

    def techniques(s: Any, sd: int) -> list[Technique]:
        made["recorder"] = SkipRecorder(int(s.train.ids.max()) + 1)
        made["technique"] = make_technique(variant, s, seed=sd, **settings)
        return [made["recorder"], made["technique"]]

    exp = Experiment({dataset: splits}, model_factory(recipe.model), recipe.config.replace(progress_bar=False),
                     [Variant("baseline"), Variant(variant, techniques=techniques)], seeds=[seed],
                     target=recipe.target, on_eval=on_eval, progress=False, name=f"skipping {variant}")
    result = exp.run()
    rows = next(r.rows for r in result.records if r.variant == variant)
    return {"result": result, "splits": splits, "recorder": made["recorder"], "technique": made["technique"],
            "rows": rows}
