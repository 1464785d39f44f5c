"""Optimizer and per-example loss factories."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch
import torch.nn.functional as F

from workbench.config import LOSSES, OPTIMIZERS, TrainingConfig


def build_optimizer(params: Iterable[Any], config: TrainingConfig) -> torch.optim.Optimizer:
    """The ``torch.optim`` optimizer named by ``config.optimizer``.

    ``params`` is a module's parameters or a list of parameter-group dicts (per-group
    ``lr`` / ``weight_decay`` override the config). SGD and RMSprop use
    ``config.momentum``; Adam/AdamW use ``config.betas`` and ``config.eps``.

    ``config.optimizer_impl`` picks torch's implementation of the update (the same
    algorithm): ``"default"`` (torch's choice), ``"foreach"`` (multi-tensor kernels),
    ``"for_loop"`` (per parameter) or ``"fused"`` (one fused kernel per device and dtype;
    SGD, Adam, AdamW, Adagrad on CPU and CUDA). Fused Adam matches the default to float
    rounding (after 50 Kim-CNN steps on SUBJ the largest parameter difference was
    4e-6, on weights of magnitude up to 0.25; ``benchmarks/baseline_levers.py``) and its step is about 6x faster there
    (2.8M parameters, 47 -> 8 ms on one CPU thread): ``docs/baselines.md``, "Speed levers".

    Raises:
        ValueError: unknown optimizer name (lists the valid ones).
        RuntimeError: from torch, for ``"fused"`` on parameters it cannot fuse (not
            floating point, or on a device without fused kernels).
    """
    name, lr, wd = config.optimizer, config.lr, config.weight_decay
    impl = getattr(config, "optimizer_impl", "default")
    kw: dict[str, Any] = {"fused": True} if impl == "fused" else \
        {"foreach": impl == "foreach"} if impl in ("foreach", "for_loop") else {}
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=config.momentum, weight_decay=wd, **kw)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=config.betas, eps=config.eps, weight_decay=wd, **kw)
    if name == "adamw":
        return torch.optim.AdamW(params, lr=lr, betas=config.betas, eps=config.eps, weight_decay=wd, **kw)
    if name == "rmsprop":
        kw.pop("fused", None)  # TrainingConfig rejects fused RMSprop; torch has no fused kernel
        return torch.optim.RMSprop(params, lr=lr, momentum=config.momentum, eps=config.eps,
                                   weight_decay=wd, **kw)
    if name == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, eps=config.eps, weight_decay=wd, **kw)
    raise ValueError(f"unknown optimizer {name!r}; valid: {list(OPTIMIZERS)}")


def build_loss(name: str, huber_delta: float = 1.0, label_smoothing: float = 0.0,
               ) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """A loss function ``(outputs, targets) -> per-example loss`` (float ``[B]``).

    The cross-entropy function also has ``.mean(outputs, targets)``: the same losses'
    batch mean (a scalar) computed in one fused call.

    - ``cross_entropy``: ``outputs`` logits ``[B, C]``, ``targets`` long ``[B]``.
    - ``mse`` / ``mae`` / ``huber``: regression (``outputs`` ``[B]``, ``[B, 1]`` or
      ``[B, K]`` against float targets of the same size) or classification scored
      against one-hot targets (long ``[B]`` targets with ``[B, C]`` outputs, as in Hui &
      Belkin 2021). Element losses are averaged over all but the batch dimension.

    Raises:
        ValueError: unknown loss name (lists the valid ones).
    """
    if name == "cross_entropy":
        def cross_entropy(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(outputs.float(), targets, reduction="none",
                                   label_smoothing=label_smoothing)

        def cross_entropy_mean(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(outputs.float(), targets, label_smoothing=label_smoothing)
        # the fused batch mean (one autograd node instead of two): the Trainer uses it when
        # no technique asked for the per-example losses before the backward pass
        cross_entropy.mean = cross_entropy_mean
        return cross_entropy
    if name not in LOSSES:
        raise ValueError(f"unknown loss {name!r}; valid: {list(LOSSES)}")
    element = {
        "mse": lambda o, t: F.mse_loss(o, t, reduction="none"),
        "mae": lambda o, t: F.l1_loss(o, t, reduction="none"),
        "huber": lambda o, t: F.huber_loss(o, t, reduction="none", delta=huber_delta),
    }[name]

    def regression(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        outputs = outputs.float()
        if not targets.is_floating_point():
            targets = F.one_hot(targets, outputs.shape[-1]).float()
        if outputs.dim() == 2 and outputs.shape[1] == 1 and targets.dim() == 1:
            outputs = outputs[:, 0]
        loss = element(outputs, targets.to(outputs.dtype))
        return loss.reshape(loss.shape[0], -1).mean(dim=1)
    regression.__name__ = name
    return regression
