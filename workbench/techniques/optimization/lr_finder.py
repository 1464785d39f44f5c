"""The LR range test ("LR finder", Smith 2017) with fastai's conventions.

- The pure part, on lists of floats: the exponential ramp (:func:`exponential_lrs`), the
  bias-corrected smoothing (:func:`smooth_losses`, fastai's ``AvgSmoothLoss``) and the
  suggestion rules (:func:`suggest_valley`, :func:`suggest_minimum`,
  :func:`suggest_steepest`, all three at once by :func:`suggestions`).
- :func:`lr_find`: the test itself, a short explicit training loop (forward, backward,
  optimizer step per mini-batch: a training pass, not an inference pass, so it does not go
  through :mod:`workbench.train.inference`) that puts the model, optimizer and RNG back
  afterwards; it returns an :class:`LRFinderResult`.

The figure is :func:`workbench.techniques.optimization.display.lr_finder_figure`; the test
on a built-in data set with its baseline recipe is
:func:`workbench.techniques.optimization.compare.lr_find_recipe`.

References: Smith 2017, "Cyclical Learning Rates for Training Neural Networks" (WACV;
section 3.3, the LR range test); fastai's ``Learner.lr_find`` (``fastai.callback.schedule``).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer
from torch.utils.data import DataLoader, Dataset, RandomSampler

from workbench.config import TaskSpec, TrainingConfig
from workbench.train import checkpoint as ckpt
from workbench.train.inference import device_of, to_device
from workbench.train.optim import build_loss, build_optimizer
from workbench.validation import check_int as _int
from workbench.validation import check_number as _num

__all__ = [
    "LRFinderResult",
    "exponential_lrs",
    "lr_find",
    "smooth_losses",
    "suggest_minimum",
    "suggest_steepest",
    "suggest_valley",
    "suggestions",
]


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
        name: a label for figures; extras: anything a caller adds (``lr_find_recipe``
            stores the recipe's rate under ``"recipe_lr"``).

    The figure: :func:`~workbench.techniques.optimization.display.lr_finder_figure`.
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
        """Iterations run (``len(lrs)``; fewer than ``num_iter`` when the test stopped early)."""
        return len(self.lrs)

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
    device = device_of(model)
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
            batch = to_device(batch, device)
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
