"""Models: :class:`MLP`, :class:`DigitsCNN` (vision/tabular) and :class:`BagOfEmbeddings`,
:class:`KimCNN`, :class:`TransformerLM` (text); :func:`build_model` builds one from a
:class:`~workbench.config.TaskSpec`.

Every model maps ``batch["inputs"]`` to float32 logits ``[B, num_classes]`` and exposes
``encode(x) -> [B, feature_dim]``, ``feature_dim``, ``num_classes`` and ``classifier``
(the final ``nn.Linear``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from torch import nn

from workbench.models.text import BagOfEmbeddings, KimCNN
from workbench.models.transformer import TransformerLM
from workbench.models.vision import MLP, DigitsCNN

if TYPE_CHECKING:
    from workbench.config import TaskSpec

__all__ = [
    "MLP",
    "MODELS",
    "BagOfEmbeddings",
    "DigitsCNN",
    "KimCNN",
    "TransformerLM",
    "build_model",
    "count_parameters",
]

#: Model names accepted by :func:`build_model`, with the modalities each supports.
MODELS: dict[str, tuple[str, ...]] = {
    "mlp": ("vision", "tabular"),
    "cnn": ("vision",),
    "boe": ("text",),
    "kim_cnn": ("text",),
    "transformer": ("text",),
}


def _inferred(name: str, task: TaskSpec) -> dict[str, Any]:
    if name == "mlp":
        return {"in_features": math.prod(task.input_shape), "num_classes": task.num_classes}
    if name == "cnn":
        c, h, w = task.input_shape
        if h != w:
            raise ValueError(f"model 'cnn' (DigitsCNN) needs square images; task.input_shape is "
                             f"{task.input_shape}")
        return {"in_channels": c, "image_size": h, "num_classes": task.num_classes}
    return {"vocab_size": task.vocab_size, "num_classes": task.num_classes,
            "pad_id": task.pad_id}


def build_model(name: str, task: TaskSpec, **kwargs: Any) -> nn.Module:
    """Build model ``name`` for ``task``, inferring its sizes from the task.

    =========== ============================ ===========================================
    name        class                        inferred from ``task``
    =========== ============================ ===========================================
    ``mlp``     :class:`MLP`                 ``in_features = prod(input_shape)``,
                                             ``num_classes`` (vision or tabular)
    ``cnn``     :class:`DigitsCNN`           ``in_channels, image_size`` from
                                             ``input_shape (C, H, W)``, ``num_classes``
    ``boe``     :class:`BagOfEmbeddings`     ``vocab_size, num_classes, pad_id`` (text)
    ``kim_cnn`` :class:`KimCNN`              ``vocab_size, num_classes, pad_id`` (text)
    ``transformer`` :class:`TransformerLM`   ``vocab_size, num_classes, pad_id`` (text; a
                                             classifier, mean-pooled)
    =========== ============================ ===========================================

    Args:
        name: one of :data:`MODELS`.
        task: the :class:`~workbench.config.TaskSpec` of the data.
        **kwargs: other constructor arguments (for example ``hidden=(256,)``,
            ``embed_dim=300``, ``dropout=0.5``). Arguments inferred from the task may not be
            given.

    Returns:
        the model (an ``nn.Module`` on the CPU, in training mode).

    Raises:
        ValueError: for an unknown name (the message lists the valid ones), a model that
            does not support ``task.modality``, a keyword that the task already fixes, or
            an invalid constructor argument.
        TypeError: for a keyword the model's constructor does not accept.
    """
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid names: {list(MODELS)}")
    if task.modality not in MODELS[name]:
        valid = [n for n, mods in MODELS.items() if task.modality in mods]
        raise ValueError(
            f"model {name!r} supports modalities {list(MODELS[name])}, but the task is "
            f"{task.modality!r}; models for {task.modality!r}: {valid}"
        )
    inferred = _inferred(name, task)
    clash = sorted(set(inferred) & set(kwargs))
    if clash:
        raise ValueError(f"build_model infers {clash} from the task; do not pass them "
                         f"(task gives {({k: inferred[k] for k in clash})})")
    cls = {"mlp": MLP, "cnn": DigitsCNN, "boe": BagOfEmbeddings, "kim_cnn": KimCNN,
           "transformer": TransformerLM}[name]
    return cls(**inferred, **kwargs)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters of ``model`` (shared parameters counted once).

    Args:
        model: any ``nn.Module``.
        trainable_only: count only parameters with ``requires_grad=True`` (default); with
            False, frozen ones too. Buffers (such as BatchNorm statistics) never count.
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
