"""Collate functions: a list of items ``{"id", "input", "target", ...}`` -> a batch dict.

Every batch has ``ids`` (long ``[B]``), ``inputs`` and ``targets`` (long ``[B]`` when every
target is an integer, float32 ``[B]`` / ``[B, K]`` otherwise). :class:`TextCollator` adds
``lengths`` and ``attention_mask``. Any further keys the items share (for example
``"domain"`` or ``"task"``) are collated too: numbers and tensors are stacked (integers as
long, else float32), anything else is returned as a list.

Pick the collator for a data set with :meth:`workbench.config.TaskSpec.collator`.

Given an :class:`ItemBatch` (what a ``DataLoader`` over an
``ExampleDataset`` fetches), the collators index the data set's tensors once per batch
instead of reading every item: the same batch, bit for bit, with less Python per item.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.nn.utils.rnn import pad_sequence

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "LUMA_WEIGHTS", "ItemBatch", "TabularCollator", "TextCollator",
           "VisionCollator", "collate_values"]

#: ImageNet per-channel (R, G, B) mean and standard deviation of pixel values in [0, 1]:
#: torchvision's normalisation for its pretrained models
#: (``torchvision.transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])``).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: ITU-R BT.601 luma weights (R, G, B), as in PIL's ``convert("L")`` and torchvision's
#: ``rgb_to_grayscale``.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)

_CORE_KEYS = ("id", "input", "target")


def _is_int(v: Any) -> bool:
    if isinstance(v, torch.Tensor):
        return v.dtype == torch.bool or not (torch.is_floating_point(v) or torch.is_complex(v))
    return isinstance(v, int)  # bool is an int


class ItemBatch(Sequence):
    """The items at some positions of an :class:`~workbench.data.splits.ExampleDataset`, as
    one batch (what its ``__getitems__`` returns to a ``DataLoader``).

    A read-only sequence: ``batch[i]`` and iteration give the same dicts
    ``dataset[positions[i]]`` gives, built on access, so any collate function that takes a
    list of items takes this too. workbench's collators instead index the data set's
    tensors once for the whole batch (:meth:`index`), which gives the same values without
    one dict per item: on the digits MLP (batch 32, one CPU thread) this is most of what
    the Trainer's data path cost over a plain ``TensorDataset`` loop (issue 19).

    Args:
        dataset: a :class:`~workbench.data.splits.ExampleDataset` (its ``__getitem__``
            must be ``ExampleDataset``'s).
        positions: ``B`` positions in ``[-len(dataset), len(dataset))``.

    Attributes:
        dataset: the data set. positions: ``list[int]`` of ``B`` non-negative positions.

    Raises:
        IndexError: for a position outside ``[-len(dataset), len(dataset))``.
    """

    __slots__ = ("_index", "dataset", "positions")

    def __init__(self, dataset: Any, positions: Sequence[int]):
        n = len(dataset)
        plist = [int(p) for p in positions]
        if any(p < 0 for p in plist):
            plist = [p + n if p < 0 else p for p in plist]
        if plist and (min(plist) < 0 or max(plist) >= n):
            raise IndexError(f"{dataset._label()}positions must be in [-{n}, {n}); "
                             f"got {min(positions)}..{max(positions)}")
        self.dataset = dataset
        self.positions = plist
        self._index: torch.Tensor | None = None

    def index(self) -> torch.Tensor:
        """The positions as ``LongTensor [B]`` (built once), to index the data set's
        ``ids``, ``targets`` and (stacked) ``inputs``."""
        if self._index is None:
            self._index = torch.tensor(self.positions, dtype=torch.long)
        return self._index

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return [self.dataset[p] for p in self.positions[i]]
        return self.dataset[self.positions[i]]

    def __iter__(self):
        ds = self.dataset
        return (ds[p] for p in self.positions)

    def __repr__(self) -> str:
        return f"ItemBatch({len(self)} items of {self.dataset!r})"


def collate_values(values: Sequence[Any], name: str = "value") -> torch.Tensor | list[Any]:
    """Stack per-item values: integers -> ``torch.long``, other numbers -> ``torch.float32``.

    Python numbers and tensors of equal shape are stacked to ``[B, ...]``; anything else
    (strings, dicts, None) comes back as a plain list.

    Raises:
        ValueError: if tensors of different shapes are mixed (naming ``name``).
    """
    if not values:
        return torch.zeros(0, dtype=torch.long)
    if all(type(v) is int for v in values):  # the common case (class labels): one pass
        return torch.tensor(values, dtype=torch.long)
    if all(isinstance(v, (int, float)) and not isinstance(v, complex) for v in values):
        dtype = torch.long if all(_is_int(v) for v in values) else torch.float32
        return torch.tensor(values, dtype=dtype)
    if all(isinstance(v, (torch.Tensor, int, float)) for v in values):
        tensors = [torch.as_tensor(v) for v in values]
        shapes = {tuple(t.shape) for t in tensors}
        if len(shapes) != 1:
            raise ValueError(f"cannot stack {name!r}: items have shapes {sorted(shapes)}")
        dtype = torch.long if all(_is_int(t) for t in tensors) else torch.float32
        return torch.stack([t.to(dtype) for t in tensors])
    return list(values)


def _base_batch(items: Sequence[dict[str, Any]]) -> dict[str, Any]:
    if len(items) == 0:
        raise ValueError("cannot collate an empty list of items")
    if type(items) is ItemBatch:  # one index per tensor: what collate_values gives per item
        ds, idx = items.dataset, items.index()
        return {"ids": ds.ids[idx], "targets": ds.targets[idx]}
    missing = [k for k in _CORE_KEYS if k not in items[0]]
    if missing:
        raise ValueError(f"items must be dicts with keys {list(_CORE_KEYS)}; the first item lacks {missing}")
    batch: dict[str, Any] = {
        "ids": torch.tensor([int(it["id"]) for it in items], dtype=torch.long),
        "targets": collate_values([it["target"] for it in items], "target"),
    }
    extra = set(items[0]) - set(_CORE_KEYS)
    for key in sorted(extra):
        if all(key in it for it in items):
            batch[key] = collate_values([it[key] for it in items], key)
    return batch


class TextCollator:
    """Pad variable-length token-id sequences into a batch.

    Args:
        pad_id: id written into padding positions (``TaskSpec.pad_id``, 0).
        max_length: truncate longer sequences to this many tokens (None: no limit).
        min_length: pad every batch to at least this many positions (a CNN with filter
            width 5 needs 5).

    Call with a list of items (``input``: 1-D integer tensor or list of ints) and get::

        ids             long [B]
        inputs          long [B, L]   right-padded with pad_id, L = max(min_length, longest
                                      sequence after truncation)
        lengths         long [B]      tokens before padding (after truncation)
        attention_mask  bool [B, L]   True on real tokens
        targets         long [B] (integer targets) or float32 [B] / [B, K]

    Raises:
        ValueError: for invalid arguments, an empty item list or an input that is not 1-D.
    """

    def __init__(self, pad_id: int = 0, max_length: int | None = None, min_length: int = 1):
        if isinstance(pad_id, bool) or not isinstance(pad_id, int) or pad_id < 0:
            raise ValueError(f"pad_id must be an integer >= 0; got {pad_id!r}")
        if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int)
                                       or max_length < 1):
            raise ValueError(f"max_length must be None or an integer >= 1; got {max_length!r}")
        if isinstance(min_length, bool) or not isinstance(min_length, int) or min_length < 1:
            raise ValueError(f"min_length must be an integer >= 1; got {min_length!r}")
        self.pad_id = pad_id
        self.max_length = max_length
        self.min_length = min_length

    def __repr__(self) -> str:
        return f"TextCollator(pad_id={self.pad_id}, max_length={self.max_length}, min_length={self.min_length})"

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        batch = _base_batch(items)
        seqs = []
        max_length = self.max_length
        if type(items) is ItemBatch and items.dataset.modality == "text":
            inputs_of = items.dataset.inputs  # 1-D long tensors, checked by ExampleDataset
            seqs = [inputs_of[p] for p in items.positions]
            if max_length is not None:
                seqs = [x[:max_length] for x in seqs]
        else:
            for i, it in enumerate(items):
                x = it["input"]
                x = x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.long)
                if x.dim() != 1:
                    raise ValueError(f"text item {i} (id {int(it['id'])}) has input shape {tuple(x.shape)}; "
                                     "expected 1-D token ids")
                if max_length is not None and x.numel() > max_length:
                    x = x[:max_length]
                seqs.append(x if x.dtype == torch.long else x.long())
        # numel, not len(): a tensor's __len__ costs ~1 us
        lengths = torch.tensor([s.numel() for s in seqs], dtype=torch.long)
        # one C++ call (torch's pad_sequence) instead of a slice assignment per sequence:
        # ~0.6 ms of a 50-sentence SUBJ batch on one CPU thread
        inputs = pad_sequence(seqs, batch_first=True, padding_value=self.pad_id)
        width = inputs.shape[1]
        if width < self.min_length:
            inputs = torch.nn.functional.pad(inputs, (0, self.min_length - width), value=self.pad_id)
            width = self.min_length
        batch["inputs"] = inputs
        batch["lengths"] = lengths
        batch["attention_mask"] = torch.arange(width)[None, :] < lengths[:, None]
        return batch


class VisionCollator:
    """Stack images into ``float32 [B, C, H, W]`` and normalise them per channel.

    Output ``inputs = (x - mean[c]) / std[c]`` for channel ``c`` (torchvision's
    ``Normalize`` formula), computed in float64 and returned as float32. Without ``mean``
    / ``std`` the images are only stacked.

    Items may be grey-scale ``[H, W]`` or ``[1, H, W]`` or RGB ``[3, H, W]``, float in
    [0, 1] (``uint8`` is divided by 255). Channels are matched to ``channels``:

    - ``channels=3`` and a 1-channel item: the grey channel is repeated to R, G, B;
    - ``channels=1`` and an RGB item: converted to luma with the ITU-R BT.601 weights
      ``Y = 0.299 R + 0.587 G + 0.114 B`` (:data:`LUMA_WEIGHTS`).

    Args:
        mean, std: per-channel statistics, ``channels`` values each (or None, None).
        channels: output channels, 1 or 3.

    Returns (on call): ``{"ids": long [B], "inputs": float32 [B, C, H, W], "targets": ...}``.

    Raises:
        ValueError: for invalid arguments (``std <= 0``, wrong number of values), or an item
            whose shape cannot be matched (other channel counts, different ``H, W`` in one batch).
    """

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 channels: int = 1):
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3; got {channels!r}")
        if (mean is None) != (std is None):
            raise ValueError("mean and std must be given together (or both None)")
        self.channels = channels
        self.mean = self.std = None
        if mean is not None:
            mean_t = tuple(float(m) for m in mean)
            std_t = tuple(float(s) for s in std)  # type: ignore[union-attr]
            if len(mean_t) != channels or len(std_t) != channels:
                raise ValueError(f"mean and std need {channels} values (one per channel); "
                                 f"got {len(mean_t)} and {len(std_t)}")
            if any(not s > 0 for s in std_t):
                raise ValueError(f"std must be positive; got {std_t}")
            self.mean, self.std = mean_t, std_t
            self._mean = torch.tensor(mean_t, dtype=torch.float64)[:, None, None]
            self._std = torch.tensor(std_t, dtype=torch.float64)[:, None, None]

    @classmethod
    def imagenet(cls) -> VisionCollator:
        """RGB collator with the ImageNet statistics (:data:`IMAGENET_MEAN` /
        :data:`IMAGENET_STD`, torchvision's defaults for pretrained models);
        grey-scale items are repeated to 3 channels."""
        return cls(mean=IMAGENET_MEAN, std=IMAGENET_STD, channels=3)

    def __repr__(self) -> str:
        return f"VisionCollator(mean={self.mean}, std={self.std}, channels={self.channels})"

    def _match_channels(self, x: torch.Tensor, i: int, item_id: Any) -> torch.Tensor:
        if x.dim() == 2:
            x = x[None]
        if x.dim() != 3 or x.shape[0] not in (1, 3):
            raise ValueError(f"image item {i} (id {item_id}) has shape {tuple(x.shape)}; "
                             "expected [H, W], [1, H, W] or [3, H, W]")
        if x.dtype == torch.uint8:
            x = x.to(torch.float64) / 255.0
        else:
            x = x.to(torch.float64)
        c = x.shape[0]
        if c == self.channels:
            return x
        if self.channels == 3:  # grey -> RGB
            return x.expand(3, -1, -1)
        w = torch.tensor(LUMA_WEIGHTS, dtype=torch.float64)[:, None, None]
        return (x * w).sum(dim=0, keepdim=True)  # RGB -> luma

    def _match_channels_batch(self, x: torch.Tensor) -> torch.Tensor | None:
        """:meth:`_match_channels` on stacked images ``[B, H, W]`` / ``[B, C, H, W]``, the
        same values element by element; None when a channel count does not fit (the
        per-item path then names the item)."""
        if x.dim() == 3:
            x = x[:, None]
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            return None
        x = x.to(torch.float64) / 255.0 if x.dtype == torch.uint8 else x.to(torch.float64)
        c = x.shape[1]
        if c == self.channels:
            return x
        if self.channels == 3:  # grey -> RGB
            return x.expand(-1, 3, -1, -1)
        return None  # RGB -> luma: per item, as the formula above sums it

    def _stack(self, items: Sequence[dict[str, Any]]) -> torch.Tensor:
        """The images as float64 ``[B, C, H, W]`` with ``channels`` channels."""
        if type(items) is ItemBatch and items.dataset.modality == "vision":
            x = self._match_channels_batch(items.dataset.inputs[items.index()])
            if x is not None:
                return x
        xs = [it["input"] for it in items]
        # the common case, tensors of one dtype and shape: one stack and one conversion for
        # the batch instead of two tensor operations per image (~0.3 ms of a 32-image batch)
        if all(type(x) is torch.Tensor for x in xs) and len({x.dtype for x in xs}) == 1:
            try:
                stacked = torch.stack(xs)
            except RuntimeError:  # shapes differ: the per-item path names them
                stacked = None
            x = self._match_channels_batch(stacked) if stacked is not None else None
            if x is not None:
                return x
        images = [self._match_channels(torch.as_tensor(it["input"]), i, it["id"])
                  for i, it in enumerate(items)]
        shapes = {tuple(im.shape) for im in images}
        if len(shapes) != 1:
            raise ValueError(f"images in one batch must share a shape; got {sorted(shapes)}")
        return torch.stack(images)

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        batch = _base_batch(items)
        x = self._stack(items)
        if self.mean is not None:
            x = (x - self._mean) / self._std
        batch["inputs"] = x.to(torch.float32).contiguous()
        return batch


class TabularCollator:
    """Stack feature vectors, standardising them when ``mean`` / ``std`` are given.

    With statistics each feature is standardised as scikit-learn's ``StandardScaler`` does,
    ``(x - mean) / std`` (computed in float64, returned as float32); without them the
    vectors are only stacked. :func:`~workbench.data.user_data.load_arrays` puts the
    training split's statistics in ``task.mean`` / ``task.std``, so training, evaluation
    and prediction through ``task.collator()`` all use the same ones.

    Args:
        mean, std: per-feature statistics, ``F`` values each (or None, None); ``std > 0``.

    Returns (on call): ``{"ids": long [B], "inputs": float32 [B, F], "targets": ...}``.

    Raises:
        ValueError: for invalid arguments (one of mean / std alone, different lengths,
            ``std <= 0``), or items whose feature vectors differ in shape or do not have
            ``len(mean)`` features.
    """

    def __init__(self, mean: Sequence[float] | None = None, std: Sequence[float] | None = None):
        if (mean is None) != (std is None):
            raise ValueError("mean and std must be given together (or both None)")
        self.mean = self.std = None
        if mean is not None:
            mean_t = tuple(float(m) for m in mean)
            std_t = tuple(float(s) for s in std)  # type: ignore[union-attr]
            if len(mean_t) != len(std_t) or not mean_t:
                raise ValueError(f"mean and std need one value per feature (the same number, >= 1); "
                                 f"got {len(mean_t)} and {len(std_t)}")
            if any(not s > 0 for s in std_t):
                raise ValueError(f"std must be positive; got {std_t}")
            self.mean, self.std = mean_t, std_t
            self._mean = torch.tensor(mean_t, dtype=torch.float64)
            self._std = torch.tensor(std_t, dtype=torch.float64)

    def __repr__(self) -> str:
        if self.mean is None:
            return "TabularCollator()"
        return f"TabularCollator(standardize {len(self.mean)} features)"

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, Any]:
        batch = _base_batch(items)
        if type(items) is ItemBatch and items.dataset.modality == "tabular":
            stacked = items.dataset.inputs[items.index()]
        else:
            xs = [torch.as_tensor(it["input"]) for it in items]
            shapes = {tuple(x.shape) for x in xs}
            if len(shapes) != 1:
                raise ValueError(f"feature vectors in one batch must share a shape; got {sorted(shapes)}")
            stacked = torch.stack(xs)
        if self.mean is None:
            batch["inputs"] = stacked.to(torch.float32)
            return batch
        x = stacked.to(torch.float64)
        if x.shape[1:] != self._mean.shape:
            raise ValueError(f"feature vectors have shape {tuple(x.shape[1:])}; the standardisation "
                             f"statistics are for {len(self.mean)} features")
        batch["inputs"] = ((x - self._mean) / self._std).to(torch.float32)
        return batch
