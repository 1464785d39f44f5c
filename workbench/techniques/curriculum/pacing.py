"""Pacing functions: the fraction of the difficulty-sorted training data available at a step.

Pure functions of the mini-batch step (Python floats; NumPy for the curve helper). Every
function returns a fraction in ``(0, 1]`` that does not decrease with ``step``.

Papers: Hacohen & Weinshall (2019), "On the power of curriculum learning in training deep
networks" (ICML), Sec. 2.2: fixed / varied exponential and single-step pacing (defaults
from their code: starting_percent 0.04, increase_amount 1.9, step_length 100); Platanios
et al. (2019), "Competence-based curriculum learning for neural machine translation"
(NAACL), Sec. 3, Eq. 4-5: linear and square-root competence; Penha & Hauff (2020): root-p.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial

import numpy as np

from workbench.validation import check_int, check_number

__all__ = [
    "PACING_FUNCTIONS",
    "competence_linear",
    "competence_sqrt",
    "exponential",
    "fixed_exponential",
    "linear",
    "make_pacing",
    "pacing_curve",
    "pacing_knobs_used",
    "root",
    "single_step",
    "varied_exponential",
]


def _check_pacing(step: float, total_steps: float | None = None, start: float | None = None,
                  start_name: str = "start") -> None:
    check_number("step", step, lo=0)
    if total_steps is not None:
        check_number("total_steps", total_steps, lo=0, lo_open=True)
    if start is not None:
        check_number(f"{start_name} (the starting fraction)", start, lo=0, hi=1, lo_open=True)


def linear(step: int, total_steps: int, start: float = 0.04) -> float:
    """Linear pacing: ``g(t) = min(1, s + (1 - s) t / T)``.

    ``s`` = ``start`` (fraction at step 0), ``T`` = ``total_steps`` (the step at which all
    data is available). Raises ``ValueError`` for ``step < 0``, ``T <= 0``, ``s`` outside (0, 1].
    """
    _check_pacing(step, total_steps, start)
    return min(1.0, start + (1.0 - start) * step / total_steps)


def root(step: int, total_steps: int, start: float = 0.04, p: float = 2.0) -> float:
    """Root-p pacing: ``g(t) = min(1, (s^p + (1 - s^p) t / T)^(1/p))`` (p = 2: square root;
    Platanios et al. 2019 Eq. 5 generalised; Penha & Hauff 2020). Grows fast, then slowly.

    Raises ``ValueError`` as :func:`linear`, or for ``p < 1``."""
    _check_pacing(step, total_steps, start)
    check_number("p", p, lo=1)
    return min(1.0, (start ** p + (1.0 - start ** p) * step / total_steps) ** (1.0 / p))


def exponential(step: int, total_steps: int, start: float = 0.04) -> float:
    """Exponential (geometric) pacing: ``g(t) = min(1, s * (1/s)^(t/T))``: the available
    data grows by a constant factor per step and reaches all of it at ``T``.

    Raises ``ValueError`` as :func:`linear`."""
    _check_pacing(step, total_steps, start)
    return min(1.0, start * (1.0 / start) ** (step / total_steps))


def fixed_exponential(step: int, starting_percent: float = 0.04, increase_amount: float = 1.9,
                      step_length: int = 100) -> float:
    """Hacohen & Weinshall (2019) fixed exponential pacing (Sec. 2.2; their code's defaults):
    ``g(i) = min(1, starting_percent * increase_amount ^ floor(i / step_length))``.

    Raises ``ValueError``: ``step < 0``, ``starting_percent`` outside (0, 1],
    ``increase_amount <= 1``, ``step_length < 1``."""
    _check_pacing(step, None, starting_percent, "starting_percent")
    check_number("increase_amount", increase_amount, lo=1, lo_open=True)
    check_int("step_length", step_length, 1)
    return min(1.0, starting_percent * increase_amount ** (step // step_length))


def varied_exponential(step: int, starting_percent: float = 0.04, increase_amount: float = 1.9,
                       step_lengths: Sequence[int] = (100,), rest_step_length: int = 100) -> float:
    """Hacohen & Weinshall (2019) varied exponential pacing: as fixed exponential, but the
    ``k``-th increase happens after ``step_lengths[k]`` more steps (then every
    ``rest_step_length``): ``g(i) = min(1, s * a^z(i))``, ``z(i) = #{j : J_j < i}`` with jump
    points ``J = cumsum(step_lengths)`` extended by ``rest_step_length``.

    Raises ``ValueError``: as :func:`fixed_exponential`, or a step length < 1."""
    _check_pacing(step, None, starting_percent, "starting_percent")
    check_number("increase_amount", increase_amount, lo=1, lo_open=True)
    check_int("rest_step_length", rest_step_length, 1)
    for k, s in enumerate(step_lengths):
        check_int(f"step_lengths[{k}]", s, 1)
    needed = math.ceil(math.log(1.0 / starting_percent, increase_amount)) if starting_percent < 1 else 0
    jumps = [int(j) for j in np.cumsum(list(step_lengths))] if step_lengths else []
    while len(jumps) < needed:
        jumps.append((jumps[-1] if jumps else 0) + rest_step_length)
    z = sum(1 for j in jumps if j < step)
    return min(1.0, starting_percent * increase_amount ** z)


def single_step(step: int, starting_percent: float = 0.04, step_length: int = 100) -> float:
    """Hacohen & Weinshall (2019) single-step pacing: ``g(i) = starting_percent`` for
    ``i < step_length``, then 1.

    Raises ``ValueError``: ``step < 0``, ``starting_percent`` outside (0, 1], ``step_length < 0``."""
    _check_pacing(step, None, starting_percent, "starting_percent")
    check_int("step_length", step_length, 0)
    return starting_percent if step < step_length else 1.0


def competence_linear(step: int, total_steps: int, c0: float = 0.01) -> float:
    """Platanios et al. (2019) linear competence (Eq. 4): ``c(t) = min(1, t (1 - c0) / T + c0)``.

    Raises ``ValueError``: ``step < 0``, ``total_steps <= 0``, ``c0`` outside (0, 1]."""
    _check_pacing(step, total_steps, c0, "c0")
    return min(1.0, step * (1.0 - c0) / total_steps + c0)


def competence_sqrt(step: int, total_steps: int, c0: float = 0.01) -> float:
    """Platanios et al. (2019) square-root competence (Eq. 5):
    ``c(t) = min(1, sqrt(t (1 - c0^2) / T + c0^2))``.

    Raises ``ValueError`` as :func:`competence_linear`."""
    _check_pacing(step, total_steps, c0, "c0")
    return min(1.0, math.sqrt(step * (1.0 - c0 ** 2) / total_steps + c0 ** 2))


#: name -> pacing function (all ``f(step, ...) -> fraction in (0, 1]``, non-decreasing in step)
PACING_FUNCTIONS: dict[str, Callable[..., float]] = {
    "linear": linear,
    "root": root,
    "exponential": exponential,
    "single_step": single_step,
    "fixed_exponential": fixed_exponential,
    "varied_exponential": varied_exponential,
    "competence_linear": competence_linear,
    "competence_sqrt": competence_sqrt,
}


def check_pacing_name(name: str) -> str:
    """``name`` if it is a key of :data:`PACING_FUNCTIONS`.

    Raises:
        ValueError: ``unknown pacing 'x'; valid: [...]``.
    """
    if name not in PACING_FUNCTIONS:
        raise ValueError(f"unknown pacing {name!r}; valid: {sorted(PACING_FUNCTIONS)}")
    return name


def make_pacing(name: str, total_steps: int = 1000, start: float = 0.04, increase_amount: float = 1.9,
                step_length: int | None = None) -> Callable[[int], float]:
    """A one-argument pacing ``step -> fraction`` from common settings (the notebook sliders).

    ``start`` is the starting fraction (``c0`` for competence); ``total_steps`` is when all
    data is available for linear / root / exponential / competence; ``step_length``
    (default ``total_steps / ceil(log(1/start) / log(increase_amount))``, so the
    exponential steps also end near ``total_steps``) is the step length of the
    Hacohen & Weinshall functions (``single_step`` switches at ``step_length``, default
    ``total_steps / 2``). ``varied_exponential`` uses step lengths growing
    ``0.5x, 1x, 1.5x`` of ``step_length``, then ``step_length``.

    Raises:
        ValueError: unknown name (lists the valid ones), ``total_steps < 1``, ``start``
            outside (0, 1], ``increase_amount <= 1``, ``step_length < 0``.
    """
    check_pacing_name(name)
    check_int("total_steps", total_steps, 1)
    check_number("start", start, lo=0, hi=1, lo_open=True)
    check_number("increase_amount", increase_amount, lo=1, lo_open=True)
    if step_length is not None:
        check_int("step_length", step_length, 0)
    jumps = max(1, math.ceil(math.log(1 / start) / math.log(increase_amount))) if start < 1 else 1
    sl = max(1, step_length if step_length is not None else round(total_steps / jumps))
    if name in ("linear", "exponential"):
        return partial(PACING_FUNCTIONS[name], total_steps=total_steps, start=start)
    if name == "root":
        return partial(root, total_steps=total_steps, start=start)
    if name in ("competence_linear", "competence_sqrt"):
        return partial(PACING_FUNCTIONS[name], total_steps=total_steps, c0=start)
    if name == "fixed_exponential":
        return partial(fixed_exponential, starting_percent=start, increase_amount=increase_amount, step_length=sl)
    if name == "varied_exponential":
        return partial(varied_exponential, starting_percent=start, increase_amount=increase_amount,
                       step_lengths=(max(1, sl // 2), sl, max(1, 3 * sl // 2)), rest_step_length=sl)
    return partial(single_step, starting_percent=start,
                   step_length=step_length if step_length is not None else max(1, total_steps // 2))


def pacing_knobs_used(name: str) -> tuple[str, ...]:
    """The settings of :func:`make_pacing` that the pacing ``name`` uses, given an explicit
    ``step_length`` (the notebook's sliders): ``start`` and ``total_steps`` always (the
    latter also sets the plotted range); ``increase_amount`` and ``step_length`` for the
    Hacohen & Weinshall exponentials; ``step_length`` for ``single_step``. The pacing
    explorer disables the others. Raises ``ValueError`` for an unknown name."""
    check_pacing_name(name)
    if name in ("fixed_exponential", "varied_exponential"):
        return ("start", "total_steps", "increase_amount", "step_length")
    if name == "single_step":
        return ("start", "total_steps", "step_length")
    return ("start", "total_steps")


def pacing_curve(pacing: Callable[[int], float], total_steps: int, points: int = 200) -> tuple[list[int], list[float]]:
    """``(steps, fractions)`` of ``pacing`` at ``points`` steps in ``[0, total_steps]``
    (steps: sorted distinct ints; fractions: floats in (0, 1])."""
    steps = sorted({int(round(x)) for x in np.linspace(0, total_steps, max(2, points))})
    return steps, [float(pacing(s)) for s in steps]
