"""Optional external loggers: TensorBoard and Weights & Biases.

Both receive rows from :class:`~workbench.train.metrics.MetricsTracker`, which emits at
most one row per effective (optimizer) step, so they log only at gradient-accumulation
boundaries: 1,000 micro-steps at ``grad_accum_steps=4`` give at most 250 commits.
"""

from __future__ import annotations

import math
from typing import Any

_SKIP = {"step", "effective_step"}


def _scalars(row: dict[str, Any]) -> dict[str, float]:
    out = {}
    for k, v in row.items():
        if k in _SKIP or isinstance(v, bool) or not isinstance(v, (int, float)):
            continue
        if isinstance(v, float) and math.isnan(v):
            continue
        out[k] = float(v)
    return out


class TensorBoardLogger:
    """Writes each row's numeric values as scalars at ``global_step = effective_step``.

    Requires the ``tensorboard`` package (``pip install tensorboard``).

    Raises:
        ImportError: when tensorboard is not installed (with the install command).
    """

    def __init__(self, log_dir: str, **kwargs: Any) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("TensorBoardLogger needs tensorboard: pip install tensorboard") from exc
        self.writer = SummaryWriter(log_dir=log_dir, **kwargs)
        self.commits = 0

    def log(self, row: dict[str, Any]) -> None:
        step = int(row["effective_step"])
        for k, v in _scalars(row).items():
            self.writer.add_scalar(k, v, global_step=step)
        self.commits += 1

    def close(self) -> None:
        self.writer.flush()
        self.writer.close()


class WandbLogger:
    """Logs each row to a Weights & Biases run with ``step = effective_step``, one commit a row.

    Args:
        run: an existing ``wandb`` run, or None to call ``wandb.init(**init_kwargs)``
            (pass ``mode="offline"`` to log without a network).
        finish: call ``run.finish()`` on :meth:`close` (default: only if this logger
            started the run).

    Raises:
        ImportError: when wandb is not installed (with the install command).
    """

    def __init__(self, run: Any = None, finish: bool | None = None, **init_kwargs: Any) -> None:
        if run is None:
            try:
                import wandb
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise ImportError("WandbLogger needs wandb: pip install wandb") from exc
            run = wandb.init(**init_kwargs)
            finish = True if finish is None else finish
        self.run = run
        self.finish = bool(finish)
        self.commits = 0

    def log(self, row: dict[str, Any]) -> None:
        self.run.log(_scalars(row), step=int(row["effective_step"]), commit=True)
        self.commits += 1

    def close(self) -> None:
        if self.finish:
            self.run.finish()
