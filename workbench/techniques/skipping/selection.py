"""Pure selection rules for skipping compute (no Trainer, no state).

- :func:`loss_percentile` and :func:`percentile_keep_probability`: Selective Backprop's
  rule (Jiang et al. 2019, "Accelerating Deep Learning by Focusing on the Biggest Losers",
  section 3): keep an example with probability ``F(loss) ** beta``, ``F`` the percentile
  (empirical CDF) of its loss among the last ``R = 1024`` losses seen.
- :func:`keep_fraction_indices` and :func:`should_select`: MosaicML Composer's
  ``SelectiveBackprop`` (``composer/algorithms/selective_backprop``): sample
  ``int(keep * B)`` examples without replacement, the ``k``-th smallest loss with
  probability proportional to ``((k + 0.5) / B) ** (1 / keep - 1)``; select only while
  ``start <= elapsed fraction < end`` and on batches whose index ``i`` has
  ``(i + 1) % interrupt != 0``.
- :class:`LossHistory`: the ring buffer of the last ``R`` losses (tensors, checkpointable).
"""

from __future__ import annotations

from typing import Any

import torch

from workbench.validation import check_int, check_number

__all__ = ["LossHistory", "keep_fraction_indices", "loss_percentile", "percentile_keep_probability",
           "should_select"]


def loss_percentile(losses: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
    """The empirical CDF of each loss among ``history``: ``F(l) = #{h <= l} / len(history)``.

    Args:
        losses: float ``[B]``.
        history: float ``[R]`` (the recent losses; may be empty).

    Returns:
        float32 ``[B]`` in ``[0, 1]``; all ones when ``history`` is empty (nothing to
        compare with: every example is kept, as Jiang et al.'s implementation does before
        its history fills).
    """
    losses = losses.detach().float().flatten()
    if history.numel() == 0:
        return torch.ones_like(losses)
    h = history.detach().float().flatten().sort().values
    return torch.searchsorted(h, losses, right=True).float() / h.numel()


def percentile_keep_probability(losses: torch.Tensor, history: torch.Tensor, beta: float = 3.0) -> torch.Tensor:
    """Selective Backprop's keep probability ``F(loss) ** beta`` (Jiang et al. 2019, eq. 1;
    ``beta`` is their "selectivity", 3 by default in their experiments).

    Args:
        losses: float ``[B]`` per-example losses.
        history: float ``[R]`` the last losses seen (``R`` = 1024 in the paper).
        beta: selectivity, > 0; larger keeps fewer examples.

    Returns:
        float32 ``[B]`` probabilities in ``[0, 1]``.

    Raises:
        ValueError: ``beta`` not > 0.
    """
    beta = check_number("beta", beta, 0.0, None, lo_open=True)
    return loss_percentile(losses, history).pow(beta)


def keep_fraction_indices(losses: torch.Tensor, keep: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Composer's ``select_using_loss`` sampling: ``n = int(keep * B)`` (at least 1)
    examples drawn without replacement, the ``k``-th smallest loss (``k = 0..B-1``) with
    probability proportional to ``((k + 0.5) / B) ** (1 / keep - 1)``.

    Args:
        losses: float ``[B]``.
        keep: fraction kept, in ``(0, 1]``.
        generator: torch generator for the draw (reproducible, checkpointable).

    Returns:
        long ``[n]``: positions in the batch, in increasing order.

    Raises:
        ValueError: ``keep`` outside ``(0, 1]``.
    """
    keep = check_number("keep", keep, 0.0, 1.0, lo_open=True)
    losses = losses.detach().float().flatten().cpu()
    b = losses.numel()
    n = max(1, int(keep * b))
    if n >= b:
        return torch.arange(b)
    order = torch.argsort(losses, stable=True)
    percs = (torch.arange(b, dtype=torch.float64) + 0.5) / b
    probs = percs.pow(1.0 / keep - 1.0)
    picked = torch.multinomial(probs, n, replacement=False, generator=generator)
    return order[picked].sort().values


def should_select(elapsed: float, batch_index: int, start: float = 0.5, end: float = 0.9,
                  interrupt: int = 2) -> bool:
    """Composer's ``should_selective_backprop``: select while ``start <= elapsed < end``
    (``elapsed`` = fraction of the run done) and ``interrupt == 0 or (batch_index + 1) %
    interrupt != 0`` (with ``interrupt = 2`` every other batch is trained in full)."""
    in_interval = start <= elapsed < end
    return in_interval and (interrupt == 0 or (batch_index + 1) % interrupt != 0)


class LossHistory:
    """A ring buffer of the last ``size`` losses (float32 tensor, checkpointable).

    Args:
        size: capacity ``R``, >= 1 (1024 in Jiang et al. 2019).

    Raises:
        ValueError: ``size`` < 1.
    """

    def __init__(self, size: int = 1024) -> None:
        self.size = check_int("history_size", size, 1)
        self.buffer = torch.zeros(self.size)
        self.count = 0  # losses added so far (the buffer holds min(count, size))

    def add(self, losses: torch.Tensor) -> None:
        """Append float ``[B]`` losses (the oldest are overwritten)."""
        x = losses.detach().float().flatten().cpu()
        if x.numel() >= self.size:
            x = x[-self.size:]
        pos = (self.count + torch.arange(x.numel())) % self.size
        self.buffer[pos] = x
        self.count += x.numel()

    def values(self) -> torch.Tensor:
        """float32 ``[min(count, size)]``, the losses held (unordered)."""
        return self.buffer[:min(self.count, self.size)]

    def state_dict(self) -> dict[str, Any]:
        return {"buffer": self.buffer.clone(), "count": int(self.count)}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.buffer = d["buffer"].clone().float()
        self.count = int(d["count"])
