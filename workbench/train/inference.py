"""The one inference loop of the package: eval mode, no autograd, batched, in data-set order.

``Trainer.evaluate`` / ``Trainer.predict``, the active-learning scoring passes and every
other pass that only reads a model's outputs go through :func:`inference_batches`, so they
share its guarantees: the model is in eval mode inside the loop and every submodule gets
its own mode back afterwards (:func:`eval_mode`); no autograd graph is built
(``torch.inference_mode``); batches come in data-set order from a ``DataLoader`` with a
private generator, so scoring never consumes the global RNG (evaluating more or less often
does not change training, and resume stays exact).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

__all__ = ["eval_mode", "inference_batches", "inference_loader", "to_device"]

_CPU = torch.device("cpu")


@contextmanager
def eval_mode(model: torch.nn.Module):
    """Context manager: ``model.eval()`` inside the block; afterwards every submodule gets
    back its own mode (``model.train(was_training)`` would instead put all submodules in
    the same mode, undoing, e.g., a normalization layer a technique keeps frozen)."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, mode in modes:
            m.training = mode


def to_device(batch: dict[str, Any], device: torch.device | None) -> dict[str, Any]:
    """``batch`` with its tensors on ``device`` (unchanged, no copy, on the CPU or None)."""
    if device is None or device == _CPU:
        return batch
    return {k: v.to(device, non_blocking=True) if isinstance(v, torch.Tensor) else v
            for k, v in batch.items()}


def forward_batch(model: Any, batch: dict[str, Any], inputs: torch.Tensor | None = None) -> Any:
    """``model(batch["inputs"])``, plus the batch fields the model names in its
    ``forward_keys`` attribute (a tuple of batch keys) as keyword arguments: a multi-task
    model declares ``forward_keys = ("task",)`` and is called ``model(inputs, task=batch["task"])``.
    The Trainer (training and its data check) and :func:`inference_batches` call models
    through this function. ``inputs`` replaces ``batch["inputs"]`` when given; ``model``
    may be a compiled or ``DistributedDataParallel`` wrapper whose ``forward_keys`` come
    from the module it wraps.
    """
    x = batch["inputs"] if inputs is None else inputs
    keys = _forward_keys(model)
    if not keys:
        return model(x)
    return model(x, **{k: batch[k] for k in keys})


def _forward_keys(model: Any) -> tuple[str, ...]:
    """``model.forward_keys`` (or its compiled wrapper's inner module's), looked up in the
    instance and class dicts: a plain ``getattr`` that misses goes through
    ``nn.Module.__getattr__``, which raises and catches an AttributeError (~4 us per call,
    paid on every training step of a small model)."""
    d = getattr(model, "__dict__", {})
    keys = d.get("forward_keys", getattr(type(model), "forward_keys", None))
    if keys is not None:
        return tuple(keys)
    mods = d.get("_modules", {})
    # torch.compile's OptimizedModule (_orig_mod), DistributedDataParallel (module)
    inner = mods.get("_orig_mod", mods.get("module") if type(model).__name__ == "DistributedDataParallel" else None)
    return _forward_keys(inner) if inner is not None else ()


def device_of(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (CPU for a model without parameters)."""
    p = next(iter(model.parameters()), None)
    return p.device if p is not None else _CPU


def inference_loader(data: Dataset, collate_fn: Callable, batch_size: int) -> DataLoader:
    """A ``DataLoader`` over ``data`` in data-set order (``shuffle=False``) with a private
    generator, so iterating it never consumes the global RNG.

    Raises:
        ValueError: ``batch_size`` is not an integer >= 1.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1; got {batch_size!r}")
    return DataLoader(data, batch_size=batch_size, shuffle=False, collate_fn=collate_fn,
                      generator=torch.Generator().manual_seed(0))


def inference_batches(model: torch.nn.Module, data: Dataset | DataLoader, collate_fn: Callable | None = None,
                      batch_size: int = 256, *, device: torch.device | None = None,
                      forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
                      autocast: Callable[[], AbstractContextManager] | None = None,
                      ) -> Iterator[tuple[dict[str, Any], torch.Tensor]]:
    """Yield ``(batch, outputs)`` for every batch of ``data``, in data-set order.

    The pass runs with ``model`` in eval mode (submodule modes restored afterwards, also
    when the consumer stops early) under ``torch.inference_mode``.

    Args:
        model: the network; its mode is managed here.
        data: a ``Dataset`` (batched here with ``collate_fn`` and ``batch_size``) or a
            ready ``DataLoader`` (used as given).
        collate_fn: turns a list of items into a batch dict with ``inputs`` (required for a
            ``Dataset``).
        batch_size: examples per batch (``Dataset`` only).
        device: where the batch tensors go (default: the model's device).
        forward: what to compute from ``batch["inputs"]`` (default ``model``; e.g.
            ``model.encode`` for features).
        autocast: a zero-argument callable returning the mixed-precision context to run the
            forward pass in (default: none).

    Yields:
        ``(batch, outputs)``: the batch dict on ``device`` and the forward pass's output
        (for a classifier, logits ``[B, C]``), both without autograd history.

    Raises:
        ValueError: ``data`` is a ``Dataset`` and ``collate_fn`` is None, or ``batch_size``
            is invalid.
    """
    if isinstance(data, DataLoader):
        loader = data
    else:
        if collate_fn is None:
            raise ValueError("inference_batches: collate_fn is required when data is a Dataset")
        loader = inference_loader(data, collate_fn, batch_size)
    device = device if device is not None else device_of(model)
    fn = forward
    ctx = autocast if autocast is not None else nullcontext
    with eval_mode(model), torch.inference_mode():
        for batch in loader:
            batch = to_device(batch, device)
            with ctx():
                out = fn(batch["inputs"]) if fn is not None else forward_batch(model, batch)
            yield batch, out
