"""Argument checks shared by the package: each returns the value (converted) or raises
``ValueError`` naming the argument, its valid range and the value given.

Every checker takes the same two keyword arguments:

- ``optional=True`` also accepts None (returned as None; the message adds "or None");
- ``prefix`` is put in front of the message, to say whose argument it is: ``"TrainingConfig."``
  gives ``"TrainingConfig.lr must be ..."``, ``"schedule 'step': "`` gives
  ``"schedule 'step': gamma must be ..."``.

Messages read ``"{prefix}{name} must be {valid range}; got {value!r}"``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["check_bool", "check_choice", "check_int", "check_number", "check_path", "fail"]


def fail(name: str, valid: str, value: Any, *, prefix: str = "") -> ValueError:
    """The package's error for an invalid argument (returned, for ``raise``):
    ``ValueError("{prefix}{name} must be {valid}; got {value!r}")``. For checks that the
    checkers below do not cover (a pair of numbers, cross-field rules)."""
    return ValueError(f"{prefix}{name} must be {valid}; got {value!r}")


def _or_none(valid: str, optional: bool) -> str:
    return valid + " or None" if optional else valid


def check_number(name: str, value: Any, lo: float | None = None, hi: float | None = None,
                 lo_open: bool = False, hi_open: bool = False, *, optional: bool = False,
                 prefix: str = "") -> float | None:
    """A finite real number (not a bool) in ``[lo, hi]`` (``lo_open`` / ``hi_open`` make
    the ends open; None is unbounded); returned as a float (None if ``optional`` and None)."""
    if value is None and optional:
        return None
    ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
    if ok and lo is not None:
        ok = value > lo if lo_open else value >= lo
    if ok and hi is not None:
        ok = value < hi if hi_open else value <= hi
    if not ok:
        left = ("(" if lo_open or lo is None else "[") + ("-inf" if lo is None else f"{lo:g}")
        right = ("inf" if hi is None else f"{hi:g}") + (")" if hi_open or hi is None else "]")
        raise fail(name, _or_none(f"a finite number in {left}, {right}", optional), value, prefix=prefix)
    return float(value)


def check_int(name: str, value: Any, lo: int, hi: int | None = None, *, optional: bool = False,
              prefix: str = "") -> int | None:
    """An integer (not a bool) in ``[lo, hi]`` (``hi`` None: unbounded); None if
    ``optional`` and None."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < lo or (
            hi is not None and value > hi):
        rng = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise fail(name, _or_none(f"an integer {rng}", optional), value, prefix=prefix)
    return int(value)


def check_choice(name: str, value: Any, choices: Sequence[Any], *, optional: bool = False,
                 prefix: str = "") -> Any:
    """One of ``choices`` (or None if ``optional``)."""
    if value is None and optional:
        return None
    try:
        ok = value in choices
    except TypeError:  # an unhashable value against a set or dict
        ok = False
    if not ok:
        raise fail(name, _or_none(f"one of {list(choices)}", optional), value, prefix=prefix)
    return value


def check_bool(name: str, value: Any, *, optional: bool = False, prefix: str = "") -> bool | None:
    """True or False (not a truthy value); None if ``optional`` and None."""
    if value is None and optional:
        return None
    if not isinstance(value, bool):
        raise fail(name, _or_none("True or False", optional), value, prefix=prefix)
    return value


def check_path(name: str, value: Any, *, optional: bool = False, prefix: str = "") -> str | None:
    """A non-empty path string (an empty one would mean the current folder, or nothing);
    None if ``optional`` and None."""
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value.strip():
        raise fail(name, _or_none("a non-empty path string", optional), value, prefix=prefix)
    return value
