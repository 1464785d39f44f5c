"""Optimizer parameter groups from parameter names: per-domain learning rates by name
pattern, ULMFiT's discriminative layer-wise rates (Howard & Ruder 2018, section 3.2:
``eta^{l-1} = eta^l / 2.6``), and no weight decay on biases and normalization weights (the
AdamW convention, Loshchilov & Hutter 2019).

Pure functions on a model's named parameters, in the training layer so that every
technique family can use them (:mod:`workbench.techniques.optimization` re-exports them
with its table and optimizer factory; :mod:`workbench.techniques.transfer` uses the layers
for gradual unfreezing and discriminative fine-tuning).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from workbench.validation import check_number as _num

__all__ = ["ULMFIT_LAYER_DECAY", "is_no_decay", "layer_patterns", "model_layers", "param_groups"]

#: ULMFiT's discriminative fine-tuning factor (Howard & Ruder 2018, section 3.2): each
#: layer trains at the rate of the layer above divided by 2.6.
ULMFIT_LAYER_DECAY = 2.6


_NORM_TYPES: tuple[type, ...] = tuple(t for t in (
    nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm,
    getattr(nn, "RMSNorm", None)) if t is not None)


def _is_norm(module: nn.Module) -> bool:
    return isinstance(module, _NORM_TYPES) or "norm" in type(module).__name__.lower()


def is_no_decay(name: str, module: nn.Module) -> bool:
    """True for a parameter that gets no weight decay: a bias (name ends in ``bias``) or a
    parameter of a normalization module (BatchNorm, LayerNorm, GroupNorm, InstanceNorm,
    RMSNorm, or any module whose class name contains "Norm", such as an adaptive layer
    norm). ``name`` is the parameter's name within ``module``."""
    return name.split(".")[-1].endswith("bias") or _is_norm(module)


def model_layers(model: nn.Module) -> list[str]:
    """Default layers for discriminative learning rates, bottom (input) to top (output):
    the model's top-level children that hold parameters, in definition order; parameters
    held by the model itself form a layer ``""`` at the bottom.

    For :class:`~workbench.models.KimCNN`: ``["embedding", "convs", "classifier"]``.
    """
    out = [""] if any(True for _ in model.named_parameters(recurse=False)) else []
    out += [n for n, m in model.named_children() if any(True for _ in m.parameters())]
    return out


def layer_patterns(model: nn.Module, layers: Sequence[str | Sequence[str]] | None) -> list[list[str]]:
    if layers is None:
        return [["^$"] if n == "" else [f"^{re.escape(n)}\\."] for n in model_layers(model)]
    out = []
    for i, entry in enumerate(layers):
        pats = [entry] if isinstance(entry, str) else list(entry)
        if not pats or not all(isinstance(p, str) for p in pats):
            raise ValueError(f"layers[{i}] must be a regular expression or a non-empty list of them; "
                             f"got {entry!r}")
        for p in pats:
            try:
                re.compile(p)
            except re.error as exc:
                raise ValueError(f"layers[{i}]: invalid regular expression {p!r}: {exc}") from exc
        out.append(pats)
    if not out:
        raise ValueError("layers must list at least one layer")
    return out


def param_groups(model: nn.Module, lr: float, weight_decay: float = 0.0, *,
                 layer_decay: float | None = None,
                 layers: Sequence[str | Sequence[str]] | None = None,
                 lr_by_pattern: Mapping[str, float] | None = None,
                 no_decay_bias_norm: bool = True,
                 no_decay_patterns: Sequence[str] = (),
                 trainable_only: bool = False) -> list[dict[str, Any]]:
    """Optimizer parameter groups for ``model``: per-domain learning rates by name pattern,
    discriminative (layer-wise) learning rates, and no weight decay on biases and
    normalization weights.

    A parameter named ``n`` gets:

    - learning rate ``lr_base(n) / layer_decay ** (L - 1 - layer(n))``, where
      ``lr_base(n)`` is the rate of the first pattern of ``lr_by_pattern`` that
      ``re.search``-matches ``n`` (per-domain rates, for example
      ``{"embedding": 1e-4, r"domain_norm\\.": 3e-3}``), else ``lr``; ``layer(n)`` is its
      layer index (0 = bottom, ``L - 1`` = top) and ``layer_decay`` is ULMFiT's divisor
      (Howard & Ruder 2018, section 3.2: ``eta^{l-1} = eta^l / 2.6``;
      :data:`ULMFIT_LAYER_DECAY`); no decay (``None`` or 1) gives every layer ``lr_base``;
    - weight decay 0 if ``no_decay_bias_norm`` and it is a bias or a normalization
      weight (:func:`is_no_decay`), or if it matches one of ``no_decay_patterns``; else
      ``weight_decay``.

    Layers: ``layers=None`` uses :func:`model_layers` (top-level children in definition
    order); otherwise a list from bottom to top whose entries are a regular expression or
    a list of them (``re.search`` on the parameter name); a parameter belongs to the last
    layer it matches, and a parameter no layer matches raises ``ValueError``.

    Parameters with the same (layer, domain pattern, decay) share a group. Each group is a
    dict ``{"params", "param_names", "name", "lr", "weight_decay"}``, in order bottom to
    top; ``name`` reads like ``"layer 1/3 convs · decay"``. Pass the list to any
    ``torch.optim`` optimizer (or :func:`~workbench.train.optim.build_optimizer`); print
    :func:`param_group_summary` to see it.

    Args:
        trainable_only: leave out parameters with ``requires_grad=False`` (by default they
            are kept, so that unfreezing them later trains them).

    Raises:
        ValueError: ``lr``, ``weight_decay`` or ``layer_decay`` out of range, an invalid
            pattern, a parameter no layer matches, or a model without parameters.
    """
    lr = _num("lr", lr, 0.0, lo_open=True)
    weight_decay = _num("weight_decay", weight_decay, 0.0)
    decay = 1.0 if layer_decay is None else _num("layer_decay", layer_decay, 1.0, 100.0)
    domains = dict(lr_by_pattern or {})
    for pat, plr in domains.items():
        try:
            re.compile(pat)
        except re.error as exc:
            raise ValueError(f"lr_by_pattern: invalid regular expression {pat!r}: {exc}") from exc
        _num(f"lr_by_pattern[{pat!r}]", plr, 0.0, lo_open=True)
    for pat in no_decay_patterns:
        try:
            re.compile(pat)
        except re.error as exc:
            raise ValueError(f"no_decay_patterns: invalid regular expression {pat!r}: {exc}") from exc
    use_layers = layer_decay is not None or layers is not None
    patterns = layer_patterns(model, layers) if use_layers else [[".*"]]
    layer_names = (model_layers(model) if layers is None else
                   [p[0] if len(p) == 1 else "|".join(p) for p in patterns]) if use_layers else ["all"]
    n_layers = len(patterns)
    owners: dict[str, nn.Module] = {}
    for mn, m in model.named_modules():
        for pn, _ in m.named_parameters(recurse=False):
            owners[f"{mn}.{pn}" if mn else pn] = m
    groups: dict[tuple[int, str, bool], dict[str, Any]] = {}
    for name, p in model.named_parameters():
        if trainable_only and not p.requires_grad:
            continue
        layer = None
        for i, pats in enumerate(patterns):
            if any(re.search(pt, name) for pt in pats):
                layer = i
        if layer is None:
            raise ValueError(f"parameter {name!r} matches none of the layers {layer_names}; add a "
                             f"pattern for it")
        domain = next((pt for pt in domains if re.search(pt, name)), "")
        no_wd = (no_decay_bias_norm and is_no_decay(name, owners[name])) or any(
            re.search(pt, name) for pt in no_decay_patterns)
        key = (layer, domain, no_wd)
        if key not in groups:
            base = domains[domain] if domain else lr
            label = (f"layer {layer + 1}/{n_layers} {layer_names[layer] or '(model)'}" if use_layers
                     else "all")
            label += f" · lr_by_pattern {domain!r}" if domain else ""
            label += " · no decay" if no_wd else " · decay"
            groups[key] = {"params": [], "param_names": [], "name": label,
                           "lr": base / decay ** (n_layers - 1 - layer),
                           "weight_decay": 0.0 if no_wd else weight_decay}
        groups[key]["params"].append(p)
        groups[key]["param_names"].append(name)
    if not groups:
        raise ValueError("param_groups: the model has no (trainable) parameters")
    return [groups[k] for k in sorted(groups, key=lambda k: (k[0], k[1], k[2]))]
