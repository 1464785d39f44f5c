"""Domain-adaptation modules: the domain discriminator, adaptive layer norm, and a text
classifier whose features pass through a (shared or per-domain) layer norm.

- :class:`DomainDiscriminator`: Ganin et al. (2016)'s domain classifier, a 3-layer MLP
  (``Linear -> ReLU -> Dropout -> Linear -> ReLU -> Dropout -> Linear(1)``) on encoder
  features, giving one logit per example (source 0, target 1).
- :class:`AdaptiveLayerNorm`: layer normalisation with shared statistics and a per-domain
  affine transform (``gamma_d``, ``beta_d``), the conditional-normalisation form of
  de Vries et al. (2017, conditional batch norm), Dumoulin et al. (2017, conditional
  instance norm) and Li et al. (2017, AdaBN: domain-specific normalisation for adaptation).
- :class:`DomainNormClassifier`: a reference text model's ``encode`` features ->
  layer norm (``"shared"``: :class:`torch.nn.LayerNorm`; ``"adaptive"``:
  :class:`AdaptiveLayerNorm`) -> dropout -> linear classifier; ``forward_keys =
  ("domain",)`` so the Trainer and every inference pass give it ``batch["domain"]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

NORMS = ("shared", "adaptive", "none")


def _pos_int(name: str, v: Any) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {v!r}")
    return v


def _dropout(v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v < 1.0:
        raise ValueError(f"dropout must be a number in [0, 1); got {v!r}")
    return float(v)


class DomainDiscriminator(nn.Module):
    """A 3-layer MLP domain classifier (Ganin et al. 2016: ``features -> hidden -> hidden -> 1``
    with ReLU and dropout; their text experiments used one hidden layer, their image
    experiments ``x -> 1024 -> 1024 -> 1``).

    Args:
        in_features: feature size (the encoder's ``feature_dim``, >= 1).
        hidden: width of both hidden layers (>= 1; default 256).
        dropout: dropout after each hidden layer, in ``[0, 1)`` (default 0.5, as the paper).

    ``forward(features)``: float ``[B, in_features]`` -> logits float ``[B]`` (the log-odds
    that an example is from the target domain).

    Raises:
        ValueError: an argument outside its range.
    """

    def __init__(self, in_features: int, hidden: int = 256, dropout: float = 0.5) -> None:
        super().__init__()
        self.in_features = _pos_int("in_features", in_features)
        self.hidden = _pos_int("hidden", hidden)
        self.dropout_p = _dropout(dropout)
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden), nn.ReLU(), nn.Dropout(self.dropout_p),
            nn.Linear(hidden, hidden), nn.ReLU(), nn.Dropout(self.dropout_p),
            nn.Linear(hidden, 1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.net(features).squeeze(-1)


class AdaptiveLayerNorm(nn.Module):
    """Layer norm over the last dimensions with one learnable scale and shift per domain.

    ``y = (x - mean(x)) / sqrt(var(x) + eps) * gamma[d] + beta[d]``: the statistics are
    computed per example over ``normalized_shape`` as :class:`torch.nn.LayerNorm` does
    (shared by every domain); ``gamma`` (``[num_domains, *normalized_shape]``, init 1) and
    ``beta`` (init 0) are indexed by the example's domain. With every ``gamma[d]``,
    ``beta[d]`` equal it is :class:`torch.nn.LayerNorm`.

    Args:
        normalized_shape: the trailing shape to normalise (an int or a tuple of ints >= 1).
        num_domains: number of domains (>= 1).
        eps: added to the variance (> 0; default 1e-5, as LayerNorm).

    ``forward(x, domain_id)``: ``x`` float ``[B, ..., *normalized_shape]``; ``domain_id`` a
    long tensor ``[B]`` (one domain per example) or an int (every example) in
    ``[0, num_domains)``; returns float of ``x``'s shape.

    Raises:
        ValueError: invalid constructor arguments; at forward, a ``domain_id`` out of range
        or of the wrong shape, or ``x`` whose trailing shape is not ``normalized_shape``.
    """

    def __init__(self, normalized_shape: int | Sequence[int], num_domains: int, eps: float = 1e-5) -> None:
        super().__init__()
        shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
        if not shape or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in shape):
            raise ValueError(f"normalized_shape must be an int or tuple of ints >= 1; got {normalized_shape!r}")
        self.normalized_shape = shape
        self.num_domains = _pos_int("num_domains", num_domains)
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps > 0:
            raise ValueError(f"eps must be a number > 0; got {eps!r}")
        self.eps = float(eps)
        self.weight = nn.Parameter(torch.ones(num_domains, *shape))
        self.bias = nn.Parameter(torch.zeros(num_domains, *shape))

    def forward(self, x: torch.Tensor, domain_id: torch.Tensor | int) -> torch.Tensor:
        k = len(self.normalized_shape)
        if tuple(x.shape[x.dim() - k:]) != self.normalized_shape:
            raise ValueError(f"AdaptiveLayerNorm: x has shape {tuple(x.shape)}; its trailing dimensions must be "
                             f"normalized_shape {self.normalized_shape}")
        y = F.layer_norm(x, self.normalized_shape, None, None, self.eps)
        if isinstance(domain_id, int) and not isinstance(domain_id, bool):
            if not 0 <= domain_id < self.num_domains:
                raise ValueError(f"domain_id must be in [0, {self.num_domains}); got {domain_id}")
            return y * self.weight[domain_id] + self.bias[domain_id]
        if not isinstance(domain_id, torch.Tensor) or domain_id.dtype != torch.long or domain_id.dim() != 1 \
                or x.dim() <= k or domain_id.shape[0] != x.shape[0]:
            raise ValueError(f"domain_id must be an int or a long tensor [B] with B = x.shape[0] = "
                             f"{x.shape[0] if x.dim() else None}; got {getattr(domain_id, 'shape', domain_id)!r}")
        if domain_id.numel() and (int(domain_id.min()) < 0 or int(domain_id.max()) >= self.num_domains):
            raise ValueError(f"domain_id must be in [0, {self.num_domains}); got values "
                             f"{sorted(set(domain_id.tolist()))}")
        view = (x.shape[0],) + (1,) * (x.dim() - 1 - k) + self.normalized_shape
        return y * self.weight[domain_id].view(view) + self.bias[domain_id].view(view)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, num_domains={self.num_domains}, eps={self.eps}"


class DomainNormClassifier(nn.Module):
    """A reference model's encoder, a layer norm on its features, dropout, a linear classifier.

    ``encode(x, domain) -> norm(base.encode(x))`` (float ``[B, feature_dim]``),
    ``forward(x, domain) -> classifier(dropout(encode(x, domain)))`` (logits
    ``[B, num_classes]``). ``forward_keys = ("domain",)``: the Trainer and the inference
    loop pass ``batch["domain"]`` (long ``[B]``; items from
    :class:`~workbench.techniques.domain.data.DomainDataset` carry it).

    Args:
        base: a reference model with ``encode``, ``feature_dim`` and ``num_classes`` (its
            own classifier is not used).
        norm: ``"adaptive"`` (:class:`AdaptiveLayerNorm`, one affine per domain),
            ``"shared"`` (:class:`torch.nn.LayerNorm`, one affine for all) or ``"none"``.
        num_domains: domains for the adaptive norm (>= 1).
        dropout: before the classifier, in ``[0, 1)`` (default: the base model's
            ``dropout_p``, else 0.5).

    Raises:
        ValueError: an unknown ``norm``, a base model without ``encode``/``feature_dim``,
        a bad ``num_domains`` or ``dropout``; at forward, ``domain`` missing with the
        adaptive norm.
    """

    forward_keys = ("domain",)

    def __init__(self, base: nn.Module, norm: str = "adaptive", num_domains: int = 2,
                 dropout: float | None = None) -> None:
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}; got {norm!r}")
        if not callable(getattr(base, "encode", None)) or not hasattr(base, "feature_dim"):
            raise ValueError("base must be a reference model with encode() and feature_dim")
        self.norm_kind = norm
        self.num_domains = _pos_int("num_domains", num_domains)
        self.base = base
        self.feature_dim = int(base.feature_dim)
        self.num_classes = int(base.num_classes)
        if norm == "adaptive":
            self.norm = AdaptiveLayerNorm(self.feature_dim, num_domains)
        elif norm == "shared":
            self.norm = nn.LayerNorm(self.feature_dim)
        else:
            self.norm = nn.Identity()
        self.dropout = nn.Dropout(_dropout(getattr(base, "dropout_p", 0.5) if dropout is None else dropout))
        self.classifier = nn.Linear(self.feature_dim, self.num_classes)
        base.classifier = None  # unused: its parameters would get no gradient

    def encode(self, x: torch.Tensor, domain: torch.Tensor | int | None = None) -> torch.Tensor:
        h = self.base.encode(x)
        if self.norm_kind == "adaptive":
            if domain is None:
                raise ValueError("DomainNormClassifier with norm='adaptive' needs domain (the batch's 'domain' "
                                 "field: train and evaluate on a DomainDataset)")
            return self.norm(h, domain)
        return self.norm(h)

    def forward(self, x: torch.Tensor, domain: torch.Tensor | int | None = None) -> torch.Tensor:
        return self.classifier(self.dropout(self.encode(x, domain)))


def domain_model(name: str, task: Any, norm: str = "adaptive", num_domains: int = 2, **kw: Any) -> DomainNormClassifier:
    """:class:`DomainNormClassifier` around ``workbench.models.build_model(name, task, **kw)``
    (``"kim_cnn"``, ``"boe"``, ...).

    Raises:
        ValueError: as :func:`~workbench.models.build_model` and :class:`DomainNormClassifier`.
    """
    from workbench.models import build_model

    return DomainNormClassifier(build_model(name, task, **kw), norm=norm, num_domains=num_domains)
