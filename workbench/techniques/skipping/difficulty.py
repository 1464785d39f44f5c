"""Pure pieces of difficulty prediction (no Trainer): cheap per-example features known
before the forward pass, an online ridge-regression predictor of the loss, a held-out
split of example ids, and Spearman's rank correlation.

The features (:data:`FEATURE_NAMES`), one row per example:

- ``bias``: 1;
- ``length``: ``log1p`` of the token count (text); the mean absolute input value ("ink")
  otherwise;
- ``rarity``: the mean of ``-log p(token)`` over the example's tokens, ``p`` the token's
  frequency in the training split (text; 0 otherwise);
- ``class_rarity``: ``-log p(class)`` of the example's label in the training split;
- ``last_loss``: ``log1p`` of the loss the main model reported when it last saw the
  example (0 when never seen);
- ``seen``: 1 when a loss has been reported for the example, else 0;
- ``age``: epochs since that loss was reported (0 when never seen).
"""

from __future__ import annotations

from typing import Any

import torch

from workbench.validation import check_int, check_number

__all__ = ["FEATURE_NAMES", "OnlineRidge", "example_features", "is_held_out", "spearman",
           "token_rarity_table"]

FEATURE_NAMES = ("bias", "length", "rarity", "class_rarity", "last_loss", "seen", "age")


def token_rarity_table(inputs: list[torch.Tensor], vocab_size: int, pad_id: int = 0) -> torch.Tensor:
    """``-log p(token)`` per token id from the training split's token counts (add-one
    smoothed; the pad id gets 0).

    Args:
        inputs: the training split's token-id tensors (1-D long each).
        vocab_size: number of token ids, >= 1.
        pad_id: the padding id.

    Returns:
        float32 ``[vocab_size]``.
    """
    check_int("vocab_size", vocab_size, 1)
    counts = torch.ones(vocab_size, dtype=torch.float64)
    for x in inputs:
        counts += torch.bincount(x.flatten().long(), minlength=vocab_size)[:vocab_size].double()
    out = -(counts / counts.sum()).log()
    out[pad_id] = 0.0
    return out.float()


def example_features(batch: dict[str, Any], last_loss: torch.Tensor, last_seen_epoch: torch.Tensor,
                     epoch: int, class_rarity: torch.Tensor, token_rarity: torch.Tensor | None = None,
                     pad_id: int = 0) -> torch.Tensor:
    """The features of :data:`FEATURE_NAMES` for a batch, before its forward pass.

    Args:
        batch: a collated batch (``ids`` long ``[B]``, ``inputs``, ``targets`` long ``[B]``;
            text: ``lengths`` long ``[B]``).
        last_loss: float ``[N_ids]``, the last reported loss per example id.
        last_seen_epoch: long ``[N_ids]``, the epoch of that report (-1: never seen).
        epoch: the current epoch (0-based).
        class_rarity: float ``[C]``, ``-log p(class)``.
        token_rarity: float ``[V]`` (text) or None.
        pad_id: padding token id (text).

    Returns:
        float32 ``[B, 7]`` on the CPU.
    """
    ids = batch["ids"].cpu().long()
    inputs = batch["inputs"]
    b = ids.numel()
    if token_rarity is not None and "lengths" in batch:
        tok = inputs.cpu().long()
        mask = tok != pad_id
        lengths = batch["lengths"].cpu().float()
        length = torch.log1p(lengths)
        rarity = (token_rarity[tok.clamp(0, token_rarity.numel() - 1)] * mask).sum(1) / mask.sum(1).clamp(min=1)
    else:
        length = inputs.detach().float().abs().reshape(b, -1).mean(1).cpu()
        rarity = torch.zeros(b)
    targets = batch["targets"].cpu()
    cls = class_rarity[targets.long()] if not targets.is_floating_point() else torch.zeros(b)
    ll = last_loss[ids].float()
    seen = last_seen_epoch[ids] >= 0
    last = torch.where(seen, torch.log1p(ll.clamp(min=0)), torch.zeros_like(ll))
    age = torch.where(seen, (epoch - last_seen_epoch[ids]).float(), torch.zeros(b))
    return torch.stack([torch.ones(b), length, rarity, cls, last, seen.float(), age], 1).float()


def is_held_out(ids: torch.Tensor, fraction: float) -> torch.Tensor:
    """Whether each example id is in the predictor's held-out set (a fixed hash of the id,
    so the same ids for every seed and after a resume): bool ``[B]``, about ``fraction``
    of ids True.

    Raises:
        ValueError: ``fraction`` outside ``[0, 1)``.
    """
    fraction = check_number("holdout_fraction", fraction, 0.0, 1.0, hi_open=True)
    h = (ids.cpu().long() * 2654435761) % (2 ** 32)  # Knuth's multiplicative hash
    return (h.double() / 2 ** 32) < fraction


class OnlineRidge:
    """Ridge regression fitted online from exponentially decayed sufficient statistics:
    ``A <- decay * A + X^T X``, ``b <- decay * b + X^T y``, weights
    ``w = (A + l2 * I)^{-1} b`` (the bias column unpenalised). A ``F x F`` solve per
    update: microseconds for the 7 features here.

    Args:
        n_features: feature count ``F`` (first column the bias), >= 1.
        decay: forgetting factor per update, in ``(0, 1]`` (the losses drift as the model
            trains, so old observations fade).
        l2: ridge penalty, >= 0.

    Raises:
        ValueError: arguments out of range.
    """

    def __init__(self, n_features: int, decay: float = 0.98, l2: float = 1e-2) -> None:
        self.n = check_int("n_features", n_features, 1)
        self.decay = check_number("decay", decay, 0.0, 1.0, lo_open=True)
        self.l2 = check_number("l2", l2, 0.0)
        self.A = torch.zeros(self.n, self.n, dtype=torch.float64)
        self.b = torch.zeros(self.n, dtype=torch.float64)
        self.w = torch.zeros(self.n, dtype=torch.float64)
        self.updates = 0

    def update(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Add observations ``x`` float ``[M, F]``, ``y`` float ``[M]`` and refit."""
        if x.numel() == 0:
            return
        x, y = x.double(), y.double().flatten()
        self.A = self.decay * self.A + x.T @ x
        self.b = self.decay * self.b + x.T @ y
        reg = torch.eye(self.n, dtype=torch.float64) * self.l2
        reg[0, 0] = 0.0
        reg += torch.eye(self.n, dtype=torch.float64) * 1e-8
        self.w = torch.linalg.solve(self.A + reg, self.b)
        self.updates += 1

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """float32 ``[M]``: ``x @ w``."""
        return (x.double() @ self.w).float()

    def state_dict(self) -> dict[str, Any]:
        return {"A": self.A.clone(), "b": self.b.clone(), "w": self.w.clone(), "updates": int(self.updates)}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.A, self.b, self.w = d["A"].clone(), d["b"].clone(), d["w"].clone()
        self.updates = int(d["updates"])


def spearman(a: torch.Tensor | list[float], b: torch.Tensor | list[float]) -> float:
    """Spearman's rank correlation (``scipy.stats.spearmanr``; ties get average ranks);
    NaN with fewer than 3 pairs or a constant input."""
    import numpy as np
    from scipy.stats import spearmanr

    a = np.asarray(torch.as_tensor(a, dtype=torch.float64))
    b = np.asarray(torch.as_tensor(b, dtype=torch.float64))
    if a.size < 3 or np.all(a == a[0]) or np.all(b == b[0]):
        return float("nan")
    return float(spearmanr(a, b).statistic)
