"""Metrics tracking: one row per effective (optimizer) step that logs, to CSV and JSONL.

Rows are keyed by ``effective_step``: values logged for the same effective step (the
training loss at an accumulation boundary, then a validation pass at that step) are
merged into one row, and a row is written, and passed to the external loggers, only when
a later effective step begins or the tracker is flushed. External loggers (TensorBoard,
Weights & Biases) therefore commit once per logged optimizer step, never on micro-steps.
"""

from __future__ import annotations

import csv
import json
import math
import os
from pathlib import Path
from typing import Any

#: the columns every row has, in this order (missing values are NaN / empty)
COLUMNS = (
    "step", "effective_step", "epoch", "examples_seen", "wall_time", "lr",
    "train_loss", "train_accuracy", "val_loss", "val_accuracy",
)


class MetricsTracker:
    """Collects metric rows and writes them to ``<folder>/metrics.csv`` and ``metrics.jsonl``.

    Args:
        folder: where to write; None keeps rows in memory only.
        loggers: objects with ``log(row: dict)`` and ``close()`` (see
            :mod:`workbench.train.loggers`), called once per flushed row.
        resume: append to existing files instead of truncating them.

    Row keys: :data:`COLUMNS` first, then any extra metric names in order of first use.
    """

    def __init__(self, folder: str | os.PathLike | None = None, loggers: list[Any] | None = None,
                 resume: bool = False) -> None:
        self.folder = Path(folder) if folder is not None else None
        self.loggers = list(loggers or [])
        self.rows: list[dict[str, Any]] = []
        self._pending: dict[str, Any] | None = None
        self._extra: list[str] = []
        if self.folder is not None:
            self.folder.mkdir(parents=True, exist_ok=True)
            if not resume:
                for name in ("metrics.csv", "metrics.jsonl"):
                    (self.folder / name).unlink(missing_ok=True)

    @property
    def columns(self) -> list[str]:
        return list(COLUMNS) + self._extra

    def log(self, values: dict[str, Any]) -> None:
        """Merge ``values`` (must hold ``effective_step``) into the pending row."""
        es = int(values["effective_step"])
        if self._pending is not None and self._pending["effective_step"] != es:
            self.flush()
        if self._pending is None:
            self._pending = {}
        for k, v in values.items():
            if k not in COLUMNS and k not in self._extra:
                self._extra.append(k)
            self._pending[k] = v

    def flush(self) -> None:
        """Write the pending row (if any) to the files and the loggers."""
        if self._pending is None:
            return
        row = {c: self._pending.get(c, math.nan) for c in COLUMNS}
        row.update({k: v for k, v in self._pending.items() if k not in COLUMNS})
        self._pending = None
        self.rows.append(row)
        if self.folder is not None:
            self._write(row)
        for lg in self.loggers:
            lg.log(row)

    def _write(self, row: dict[str, Any]) -> None:
        with open(self.folder / "metrics.jsonl", "a") as f:
            f.write(json.dumps({k: _json_value(v) for k, v in row.items()}) + "\n")
        csv_path = self.folder / "metrics.csv"
        cols = self.columns
        rewrite = False
        if csv_path.exists():
            with open(csv_path) as f:
                header = f.readline().strip().split(",")
            rewrite = header != cols
        if rewrite or not csv_path.exists():
            # (re)write the whole file when new columns appeared, so the CSV stays rectangular
            with open(csv_path, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=cols, restval="")
                w.writeheader()
                for r in self.rows:
                    w.writerow({k: _csv_value(v) for k, v in r.items()})
        else:
            with open(csv_path, "a", newline="") as f:
                csv.DictWriter(f, fieldnames=cols, restval="").writerow(
                    {k: _csv_value(v) for k, v in row.items()})

    def table(self):
        """All rows (including a pending one) as a ``pandas.DataFrame``."""
        import pandas as pd

        rows = list(self.rows)
        if self._pending is not None:
            rows.append({c: self._pending.get(c, math.nan) for c in COLUMNS} | self._pending)
        return pd.DataFrame(rows, columns=self.columns)

    def state_dict(self) -> dict[str, Any]:
        self.flush()
        return {"rows": [dict(r) for r in self.rows], "extra": list(self._extra)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = [dict(r) for r in state["rows"]]
        self._extra = list(state["extra"])

    def close(self) -> None:
        """Flush and close the loggers."""
        self.flush()
        for lg in self.loggers:
            lg.close()


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _csv_value(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return ""
    return v
