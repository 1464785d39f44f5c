"""Pure pieces of gradient caching (no Trainer): the classifier layer's per-example
gradient in closed form, a per-class cache of (feature, gradient) pairs with a fixed
memory budget, nearest-neighbour look-up by cosine similarity, the adaptive threshold and
the reuse error.

For cross-entropy on logits ``z = W h + b`` (``W`` float ``[C, D]``), one example's
gradient is ``dL/dW = (softmax(z) - onehot(y)) h^T`` and ``dL/db = softmax(z) -
onehot(y)``; flattened here as ``[C * D + C]`` (weight row-major, then bias).

The closest published method that reuses one example's gradient for its neighbours is
CRAIG (Mirzasoleiman et al. 2020, "Coresets for Data-efficient Training of Machine
Learning Models", ICML): weighted medoids of gradient clusters. This cache is the seed's
simpler idea: reuse the gradient of the most similar cached example of the same class.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from workbench.validation import check_int, check_number

__all__ = ["GradientCache", "adapt_threshold", "classifier_example_grads", "reuse_error"]


def classifier_example_grads(features: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-example cross-entropy gradients of a final linear layer, in closed form.

    Args:
        features: float ``[B, D]``, the layer's input ``h``.
        logits: float ``[B, C]``, its output ``z``.
        targets: long ``[B]``, class indices.

    Returns:
        float32 ``[B, C * D + C]``: ``(p - onehot(y)) h^T`` flattened row-major, then
        ``p - onehot(y)``.
    """
    delta = logits.float().softmax(1) - F.one_hot(targets.long(), logits.shape[1]).float()
    dw = delta.unsqueeze(2) * features.float().unsqueeze(1)  # [B, C, D]
    return torch.cat([dw.flatten(1), delta], 1)


def reuse_error(reused: torch.Tensor, true: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosine similarity and relative norm error ``||g_reused - g|| / ||g||`` per row of
    float ``[M, P]`` gradients; returns two float ``[M]`` tensors."""
    cos = F.cosine_similarity(reused.float(), true.float(), dim=1, eps=1e-12)
    rel = (reused.float() - true.float()).norm(dim=1) / true.float().norm(dim=1).clamp(min=1e-12)
    return cos, rel


def adapt_threshold(tau: float, hit_rate: float, target: float, rate: float = 0.01,
                    lo: float = 0.0, hi: float = 0.9999) -> float:
    """One step of the similarity threshold toward a target hit rate:
    ``tau + rate * (hit_rate - target)`` clipped to ``[lo, hi]`` (too many hits raise the
    threshold, too few lower it)."""
    return float(min(hi, max(lo, tau + rate * (hit_rate - target))))


class GradientCache:
    """Per-class ring buffers of ``slots`` (unit feature, gradient) pairs.

    Args:
        num_classes: ``C``, >= 1.
        feature_dim: ``D``, >= 1.
        grad_dim: ``P`` (``C * D + C`` for a linear classifier), >= 1.
        slots: entries per class, >= 1. Memory: ``C * slots * (D + P) * 4`` bytes
            (:attr:`nbytes`).

    Raises:
        ValueError: a size < 1.
    """

    def __init__(self, num_classes: int, feature_dim: int, grad_dim: int, slots: int = 64) -> None:
        self.c = check_int("num_classes", num_classes, 1)
        self.d = check_int("feature_dim", feature_dim, 1)
        self.p = check_int("grad_dim", grad_dim, 1)
        self.slots = check_int("slots", slots, 1)
        self.features = torch.zeros(self.c, self.slots, self.d)
        self.grads = torch.zeros(self.c, self.slots, self.p)
        self.filled = torch.zeros(self.c, dtype=torch.long)  # entries written per class (cumulative)

    @property
    def nbytes(self) -> int:
        """Bytes held by the cache's tensors."""
        return int(self.features.numel() * 4 + self.grads.numel() * 4)

    def lookup(self, features: torch.Tensor, targets: torch.Tensor, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
        """For each example the most similar cached entry of its class.

        Args:
            features: float ``[B, D]``; targets: long ``[B]``; tau: cosine threshold.

        Returns:
            ``(hit bool [B], entry long [B])``: a hit when that entry's cosine similarity
            is ``>= tau``; ``entry`` is the slot (-1 where the class has no entries).
        """
        check_number("tau", tau, -1.0, 1.0)
        f = F.normalize(features.float(), dim=1)
        sims = torch.einsum("bd,bsd->bs", f, self.features[targets.long()])  # [B, slots]
        valid = torch.arange(self.slots).unsqueeze(0) < self.filled[targets.long()].clamp(max=self.slots).unsqueeze(1)
        sims = sims.masked_fill(~valid, -2.0)
        best, entry = sims.max(1)
        entry = torch.where(valid.any(1), entry, torch.full_like(entry, -1))
        return (best >= tau) & (entry >= 0), entry

    def get(self, targets: torch.Tensor, entry: torch.Tensor) -> torch.Tensor:
        """float ``[B, P]``: the cached gradients at ``(targets, entry)``."""
        return self.grads[targets.long(), entry]

    def insert(self, features: torch.Tensor, targets: torch.Tensor, grads: torch.Tensor) -> None:
        """Store examples (oldest entry of the class overwritten first)."""
        f = F.normalize(features.float(), dim=1)
        for i in range(targets.numel()):
            c = int(targets[i])
            s = int(self.filled[c]) % self.slots
            self.features[c, s] = f[i]
            self.grads[c, s] = grads[i].float()
            self.filled[c] += 1

    def state_dict(self) -> dict[str, Any]:
        return {"features": self.features.clone(), "grads": self.grads.clone(), "filled": self.filled.clone()}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.features, self.grads, self.filled = d["features"].clone(), d["grads"].clone(), d["filled"].clone()
