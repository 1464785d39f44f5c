"""Curriculum against the tuned baseline through the experiment runner.

A curriculum variant is a plain :class:`~workbench.experiment.Variant` whose ``sampler``
factory builds a :class:`~workbench.techniques.curriculum.samplers.PacingSampler`
(:func:`paced_sampler_factory`); :func:`curriculum_variants` gives the baseline plus the
curriculum and its controls (anti-curriculum, random curriculum: Wu et al. 2021, Sec. 3),
run by the stock :class:`~workbench.experiment.Experiment` (:func:`compare_curriculum`).
:func:`flip_labels` makes the noisy-label regime of the benchmark.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from workbench.data.datasets import ExampleDataset
from workbench.data.steps import micro_batches_per_run
from workbench.experiment import Experiment, Variant
from workbench.techniques.curriculum.difficulty import (
    DEFAULT_WEIGHTS,
    ORDERS,
    curriculum_order,
    difficulty_scores,
)
from workbench.techniques.curriculum.pacing import check_pacing_name, make_pacing
from workbench.techniques.curriculum.samplers import PacingSampler
from workbench.validation import check_choice, check_int, check_number

__all__ = ["VARIANT_NAMES", "compare_curriculum", "curriculum_variants", "flip_labels", "paced_sampler_factory"]

#: order -> variant name in tables
VARIANT_NAMES = {"curriculum": "curriculum", "anti": "anti-curriculum", "random": "random-curriculum"}


def paced_sampler_factory(order: str, pacing_name: str, ramp_fraction: float = 0.5, start: float = 0.04,
                          increase_amount: float = 1.9, weights: Sequence[float] = DEFAULT_WEIGHTS,
                          cache_dir: str | None = None) -> Callable[[Any, int, Any], tuple[Any, Any, list]]:
    """``Variant.sampler`` for a paced curriculum (``order`` curriculum / anti / random)
    whose pacing reaches all data after ``ramp_fraction`` of the run's mini-batches
    (:func:`~workbench.data.steps.micro_batches_per_run`: epochs x batches per epoch,
    capped by ``max_steps x grad_accum_steps``). Difficulty: :func:`difficulty_scores` on
    the training split with ``weights`` (cached under ``cache_dir`` when given).

    Raises:
        ValueError: unknown ``order`` or pacing, ``ramp_fraction`` or ``start`` outside
            (0, 1], ``increase_amount <= 1`` (checked here, before any run).
    """
    check_choice("order", order, ORDERS)
    check_pacing_name(pacing_name)
    check_number("ramp_fraction", ramp_fraction, 0, 1, lo_open=True)
    check_number("start", start, 0, 1, lo_open=True)
    check_number("increase_amount", increase_amount, 1, lo_open=True)

    def make(splits: Any, seed: int, config: Any):
        total = micro_batches_per_run(config, len(splits.train))
        pacing = make_pacing(pacing_name, total_steps=max(1, round(ramp_fraction * total)), start=start,
                             increase_amount=increase_amount)
        scores = difficulty_scores(splits.train, splits.vocab, weights=weights, cache_dir=cache_dir)
        positions = curriculum_order(scores.for_dataset(splits.train), order, seed=seed)
        return PacingSampler(positions, pacing, config.batch_size, seed=seed, drop_last=config.drop_last), None, []

    return make


def curriculum_variants(pacing_name: str = "fixed_exponential", ramp_fraction: float = 0.5, start: float = 0.04,
                        orders: Sequence[str] = ORDERS, cache_dir: str | None = None,
                        claim: str = "1.4x (curriculum, claimed)") -> list[Variant]:
    """The baseline plus one :class:`~workbench.experiment.Variant` per order (named by
    :data:`VARIANT_NAMES`), sharing the pacing; ``claim`` goes on the curriculum.

    Raises:
        ValueError: an unknown order, or as :func:`paced_sampler_factory`.
    """
    for o in orders:
        check_choice("orders", o, ORDERS)
    out: list[Variant] = [Variant("baseline")]
    for o in orders:
        out.append(Variant(VARIANT_NAMES[o], sampler=paced_sampler_factory(o, pacing_name, ramp_fraction, start,
                                                                           cache_dir=cache_dir),
                           claim=claim if o == "curriculum" else ""))
    return out


def flip_labels(dataset: Any, fraction: float, num_classes: int, seed: int = 0):
    """A copy of ``dataset`` with ``round(fraction * N)`` labels replaced by a different
    class chosen uniformly (symmetric label noise; ids kept). Returns ``(dataset,
    flipped_ids)`` (an :class:`~workbench.data.datasets.ExampleDataset`, ``LongTensor [k]``).

    Raises:
        ValueError: ``fraction`` outside [0, 1], ``num_classes < 2``, ``seed < 0``.
    """
    check_number("fraction", fraction, 0, 1)
    check_int("num_classes", num_classes, 2)
    check_int("seed", seed, 0)
    g = torch.Generator().manual_seed(424_242 + int(seed))
    n = len(dataset)
    k = round(fraction * n)
    pos = torch.randperm(n, generator=g)[:k]
    targets = dataset.targets.clone()
    shift = torch.randint(1, num_classes, (k,), generator=g)
    targets[pos] = (targets[pos] + shift) % num_classes
    new = ExampleDataset(dataset.inputs, targets, dataset.ids, texts=dataset.texts, name=dataset.name)
    return new, dataset.ids[pos].clone()


def compare_curriculum(dataset: str = "digits", pacing: str = "fixed_exponential", ramp_fraction: float = 0.5,
                       start: float = 0.04, seeds: Sequence[int] = (0,), smoke: bool = False, splits: Any = None,
                       orders: Sequence[str] = ("curriculum",), on_eval: Callable[[Experiment], Any] | None = None,
                       progress: bool = False, epochs: int | None = None):
    """Train the tuned baseline and the paced curriculum (and any controls in ``orders``)
    on ``dataset``; returns the :class:`~workbench.experiment.ExperimentResult`.

    Raises:
        ValueError: unknown data set, pacing or order.
    """
    from workbench.recipes import baseline_recipe, load_splits, model_factory

    check_pacing_name(pacing)
    recipe = baseline_recipe(dataset, smoke=smoke, splits=splits, **({"epochs": epochs} if epochs else {}))
    dataset = recipe.dataset  # your own data (splits=): its name, its modality's default recipe
    splits = splits if splits is not None else load_splits(dataset, smoke=smoke)
    variants = curriculum_variants(pacing, ramp_fraction, start, orders=orders)
    exp = Experiment({dataset: splits}, model_factory(recipe.model), recipe.config, variants,
                     seeds=list(seeds), target=recipe.target, on_eval=on_eval, progress=progress,
                     name=f"curriculum on {dataset}")
    return exp.run()
