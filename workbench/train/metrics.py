"""Metrics tracking: one row per effective (optimizer) step that logs, to CSV and JSONL.

Rows are keyed by ``effective_step``: values logged for the same effective step (the
training loss at an accumulation boundary, then a validation pass at that step) are
merged into one row, and a row is complete, and passed to the external loggers, only when
a later effective step begins or the tracker is flushed. External loggers (TensorBoard,
Weights & Biases) therefore commit once per logged optimizer step, never on micro-steps.

Complete rows reach the files in batches: at most ``write_interval_s`` seconds (default
1) after they complete, and all of them at :meth:`MetricsTracker.flush` (the Trainer
flushes when ``fit`` ends, when it stops on a non-finite loss and when it writes a
checkpoint). Writing every row as it completed cost about 2% of a small model's training
time (two files' writes and flushes every 10 steps, from cold code paths), the same
trade TensorBoard's ``SummaryWriter(flush_secs=...)`` makes.

:meth:`MetricsTracker.publish_pending` puts the pending row in ``rows`` before it is
complete: the Trainer does so after each evaluation and at each epoch end, so that
``state.history[-1]`` is the evaluation's row (training statistics and validation metrics
merged) while ``eval_end`` and ``epoch_end`` handlers run.
"""

from __future__ import annotations

import csv
import json
import math
import os
import time
from pathlib import Path
from typing import Any, TextIO

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
        write_interval_s: complete rows are appended to the files when at least this many
            seconds have passed since the last write (>= 0; 0 writes every row at once),
            and at :meth:`flush`.

    Row keys: :data:`COLUMNS` first, then any extra metric names in order of first use.
    """

    def __init__(self, folder: str | os.PathLike | None = None, loggers: list[Any] | None = None,
                 resume: bool = False, write_interval_s: float = 1.0) -> None:
        if isinstance(write_interval_s, bool) or not isinstance(write_interval_s, (int, float)) or not (
                write_interval_s >= 0):
            raise ValueError(f"MetricsTracker: write_interval_s must be a number >= 0; got {write_interval_s!r}")
        self.folder = Path(folder) if folder is not None else None
        self.loggers = list(loggers or [])
        self.write_interval_s = float(write_interval_s)
        self.rows: list[dict[str, Any]] = []
        self._unwritten: list[dict[str, Any]] = []  # complete rows not yet in the files
        self._last_write = -math.inf
        self._pending: dict[str, Any] | None = None
        self._published = False  # the pending row is already in self.rows
        self._extra: list[str] = []
        self._csv_header: list[str] | None = None  # the header of metrics.csv as written
        self._files: dict[str, TextIO] = {}
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
            self._complete()
            if self._unwritten and time.perf_counter() - self._last_write >= self.write_interval_s:
                self._write(self._unwritten)
        if self._pending is None:
            self._pending = {}
            self._published = False
        for k, v in values.items():
            if k not in COLUMNS and k not in self._extra:
                self._extra.append(k)
            self._pending[k] = v

    def flush(self) -> None:
        """Complete the pending row (if any), pass it to the loggers, and write every
        complete row not yet in the files."""
        self._complete()
        if self._unwritten:
            self._write(self._unwritten)

    def publish_pending(self) -> None:
        """Put the pending row in :attr:`rows` now (missing columns NaN), before it is
        complete: values logged later for the same effective step still merge into that
        row object, and the loggers and files get it when it completes, as before."""
        if self._pending is None or self._published:
            return
        row = {c: self._pending.get(c, math.nan) for c in COLUMNS}
        row.update({k: v for k, v in self._pending.items() if k not in COLUMNS})
        self._pending = row
        self._published = True
        self.rows.append(row)

    def _complete(self) -> None:
        """The pending row becomes a row: kept, passed to the loggers, queued for the files."""
        if self._pending is None:
            return
        if self._published:  # already in self.rows, with every column
            row = self._pending
        else:
            row = {c: self._pending.get(c, math.nan) for c in COLUMNS}
            row.update({k: v for k, v in self._pending.items() if k not in COLUMNS})
            self.rows.append(row)
        self._pending = None
        self._published = False
        if self.folder is not None:
            self._unwritten.append(row)
        for lg in self.loggers:
            lg.log(row)

    def _append_handle(self, name: str) -> TextIO:
        """An open append handle on ``<folder>/name``, kept between rows (opening the two
        files for every row cost ~25 us per training step on small models)."""
        f = self._files.get(name)
        if f is None or f.closed:
            f = self._files[name] = open(self.folder / name, "a", newline="")  # noqa: SIM115 - kept open between rows; closed by release_files()
        return f

    def release_files(self) -> None:
        """Close the open file handles (every row written so far is already on disk;
        the next row reopens them). The Trainer calls this when ``fit`` returns."""
        for f in self._files.values():
            f.close()
        self._files.clear()

    def _write(self, rows: list[dict[str, Any]]) -> None:
        """Append ``rows`` (complete, in order) to both files and clear the queue."""
        self._last_write = time.perf_counter()
        f = self._append_handle("metrics.jsonl")
        f.write("".join(json.dumps({k: _json_value(v) for k, v in row.items()}) + "\n" for row in rows))
        f.flush()
        csv_path = self.folder / "metrics.csv"
        cols = self.columns
        exists = csv_path.exists()
        if self._csv_header is None and exists:  # a file from before (resume)
            with open(csv_path) as f:
                self._csv_header = f.readline().strip().split(",")
        rewrite = not exists or self._csv_header != cols
        if rewrite:
            # (re)write the whole file when new columns appeared, so the CSV stays rectangular
            old = self._files.pop("metrics.csv", None)
            if old is not None:
                old.close()
            with open(csv_path, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=cols, restval="")
                w.writeheader()
                for r in self.rows:
                    w.writerow({k: _csv_value(v) for k, v in r.items()})
            self._csv_header = list(cols)
        else:
            f = self._append_handle("metrics.csv")
            csv.DictWriter(f, fieldnames=cols, restval="").writerows(
                {k: _csv_value(v) for k, v in row.items()} for row in rows)
            f.flush()
        rows.clear()

    def table(self):
        """All rows (including a pending one) as a ``pandas.DataFrame``."""
        import pandas as pd

        rows = list(self.rows)
        if self._pending is not None and not self._published:
            rows.append({c: self._pending.get(c, math.nan) for c in COLUMNS} | self._pending)
        return pd.DataFrame(rows, columns=self.columns)

    def state_dict(self) -> dict[str, Any]:
        self.flush()
        return {"rows": [dict(r) for r in self.rows], "extra": list(self._extra)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = [dict(r) for r in state["rows"]]
        self._pending, self._published = None, False
        self._unwritten = []
        self._extra = list(state["extra"])
        self._csv_header = None  # re-read from the file on the next write

    def close(self) -> None:
        """Flush, close the files and the loggers."""
        self.flush()
        self.release_files()
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
