"""Helpers the benchmark scripts share: missing values, "mean +- std" cells, and JSON
that stays valid (NaN and infinity written as null)."""

from __future__ import annotations

import math
from typing import Any


def is_missing(x: Any) -> bool:
    """True for None and NaN (a figure that was not measured, e.g. a target not reached)."""
    return x is None or (isinstance(x, float) and math.isnan(x))


def fmt_mean_std(mean: Any, std: Any, fmt: str = "{:.1f}", scale: float = 1.0, seeds: int = 2,
                 missing: str = "not reached") -> str:
    """``"mean +- std"`` with both multiplied by ``scale`` and formatted with ``fmt``; the
    spread is left out when it is missing or there are fewer than two seeds; ``missing``
    when the mean is."""
    if is_missing(mean):
        return missing
    s = fmt.format(float(mean) * scale)
    return s + ("" if is_missing(std) or seeds < 2 else " +- " + fmt.format(float(std) * scale))


def json_clean(x: Any, digits: int | None = None) -> Any:
    """``x`` with NaN / infinite floats replaced by None (strict JSON), tuples as lists,
    0-d tensors / NumPy scalars as Python numbers, floats rounded to ``digits`` if given."""
    if isinstance(x, dict):
        return {k: json_clean(v, digits) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_clean(v, digits) for v in x]
    if isinstance(x, float):
        if not math.isfinite(x):
            return None
        return round(x, digits) if digits is not None else x
    if hasattr(x, "item") and callable(x.item) and getattr(x, "ndim", 0) == 0:
        return json_clean(x.item(), digits)
    return x
