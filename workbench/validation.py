"""Argument checks shared by the package: each returns the value (converted) or raises
``ValueError`` naming the argument, its valid range and the value given."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["check_bool", "check_choice", "check_int", "check_number"]


def check_number(name: str, value: Any, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False, hi_open: bool = False) -> float:
    """A finite real number (not a bool) in ``[lo, hi]`` (``lo_open`` / ``hi_open`` make
    the ends open; None is unbounded); returned as a float."""
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value < hi if hi_open else value <= hi
    if not ok:
        left = ("(" if lo_open or lo is None else "[") + ("-inf" if lo is None else f"{lo:g}")
        right = ("inf" if hi is None else f"{hi:g}") + (")" if hi_open or hi is None else "]")
        raise ValueError(f"{name} must be a finite number in {left}, {right}; got {value!r}")
    return float(value)


def check_int(name: str, value: Any, lo: int, hi: int | None = None) -> int:
    """An integer (not a bool) in ``[lo, hi]`` (``hi`` None: unbounded)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (
            hi is not None and value > hi):
        rng = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name} must be an integer {rng}; got {value!r}")
    return int(value)


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """One of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {list(choices)}; got {value!r}")
    return value


def check_bool(name: str, value: Any) -> bool:
    """True or False (not a truthy value)."""
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be True or False; got {value!r}")
    return value
