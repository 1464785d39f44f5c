"""Collators: text padding/mask/lengths, vision normalisation (torchvision's formula), tabular."""

from __future__ import annotations

import pytest
import torch

from workbench.config import TaskSpec
from workbench.data.collate import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LUMA_WEIGHTS,
    TabularCollator,
    TextCollator,
    VisionCollator,
)


def _items(inputs, targets=None):
    targets = targets if targets is not None else [i % 2 for i in range(len(inputs))]
    return [{"id": 100 + i, "input": x, "target": t} for i, (x, t) in enumerate(zip(inputs, targets))]


def _reference_normalize(x: torch.Tensor, mean, std) -> torch.Tensor:
    """torchvision.transforms.Normalize's formula, computed independently in float64."""
    m = torch.tensor(mean, dtype=torch.float64)
    s = torch.tensor(std, dtype=torch.float64)
    return (x.double() - m[:, None, None]) / s[:, None, None]


# ------------------------------------------------------------------------ text


def test_text_collator_padding_mask_lengths():
    seqs = [torch.tensor([5, 6, 7]), torch.tensor([8]), torch.tensor([9, 10, 11, 12])]
    batch = TextCollator(pad_id=0)(_items(seqs))
    assert batch["ids"].tolist() == [100, 101, 102] and batch["ids"].dtype == torch.long
    assert batch["inputs"].dtype == torch.long and batch["inputs"].shape == (3, 4)
    assert batch["inputs"].tolist() == [[5, 6, 7, 0], [8, 0, 0, 0], [9, 10, 11, 12]]
    assert batch["lengths"].tolist() == [3, 1, 4] and batch["lengths"].dtype == torch.long
    assert batch["attention_mask"].dtype == torch.bool
    assert batch["attention_mask"].tolist() == [
        [True, True, True, False], [True, False, False, False], [True, True, True, True]]
    assert batch["targets"].tolist() == [0, 1, 0] and batch["targets"].dtype == torch.long


def test_text_collator_min_and_max_length_and_pad_id():
    seqs = [[1, 2], [3, 4, 5, 6, 7, 8]]
    b = TextCollator(pad_id=9, max_length=4, min_length=1)(_items(seqs))
    assert b["inputs"].tolist() == [[1, 2, 9, 9], [3, 4, 5, 6]]
    assert b["lengths"].tolist() == [2, 4]
    b = TextCollator(min_length=5)(_items([[1, 2], [3]]))
    assert b["inputs"].shape == (2, 5) and b["attention_mask"].sum().item() == 3
    with pytest.raises(ValueError):
        TextCollator(min_length=0)
    with pytest.raises(ValueError):
        TextCollator(max_length=0)
    with pytest.raises(ValueError, match="empty"):
        TextCollator()([])
    with pytest.raises(ValueError, match="1-D"):
        TextCollator()(_items([torch.zeros(2, 2, dtype=torch.long)]))


def test_targets_dtype_and_extra_keys():
    items = _items([[1], [2]], targets=[0.5, 1.5])
    for it, dom in zip(items, [0, 1]):
        it["domain"] = dom
        it["note"] = "x"
    b = TextCollator()(items)
    assert b["targets"].dtype == torch.float32 and b["targets"].tolist() == [0.5, 1.5]
    assert b["domain"].dtype == torch.long and b["domain"].tolist() == [0, 1]
    assert b["note"] == ["x", "x"]
    reg = TabularCollator()(_items([torch.zeros(3), torch.ones(3)],
                                   targets=[torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])]))
    assert reg["targets"].shape == (2, 2) and reg["targets"].dtype == torch.float32
    ints = TabularCollator()(_items([torch.zeros(3), torch.ones(3)],
                                    targets=[torch.tensor(1), torch.tensor(0)]))
    assert ints["targets"].dtype == torch.long


# ------------------------------------------------------------------------ vision


def test_vision_collator_rgb_matches_normalize_formula():
    g = torch.Generator().manual_seed(0)
    images = [torch.rand(3, 7, 5, generator=g) for _ in range(6)]
    coll = VisionCollator.imagenet()
    batch = coll(_items(images))
    x = batch["inputs"]
    assert x.dtype == torch.float32 and x.shape == (6, 3, 7, 5)
    expected = torch.stack([_reference_normalize(im, IMAGENET_MEAN, IMAGENET_STD) for im in images])
    torch.testing.assert_close(x.double(), expected, rtol=1e-5, atol=0)
    assert batch["ids"].tolist() == list(range(100, 106))


def test_vision_collator_grayscale_matches_normalize_formula():
    g = torch.Generator().manual_seed(1)
    images = [torch.rand(1, 8, 8, generator=g) for _ in range(4)] + [torch.rand(8, 8, generator=g)]
    mean, std = (0.3046,), (0.3756,)
    x = VisionCollator(mean=mean, std=std, channels=1)(_items(images))["inputs"]
    assert x.shape == (5, 1, 8, 8) and x.dtype == torch.float32
    expected = torch.stack([_reference_normalize(im.reshape(1, 8, 8), mean, std) for im in images])
    torch.testing.assert_close(x.double(), expected, rtol=1e-5, atol=0)


def test_vision_collator_grey_to_rgb_and_rgb_to_luma():
    g = torch.Generator().manual_seed(2)
    grey = torch.rand(1, 4, 4, generator=g)
    rgb = torch.rand(3, 4, 4, generator=g)
    out = VisionCollator.imagenet()(_items([grey, rgb]))["inputs"]
    torch.testing.assert_close(out[0].double(),
                               _reference_normalize(grey.expand(3, -1, -1), IMAGENET_MEAN, IMAGENET_STD),
                               rtol=1e-5, atol=0)
    luma = VisionCollator(channels=1)(_items([rgb, grey]))["inputs"]
    w = torch.tensor(LUMA_WEIGHTS, dtype=torch.float64)
    expected = (rgb.double() * w[:, None, None]).sum(0, keepdim=True)
    torch.testing.assert_close(luma[0].double(), expected, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(luma[1], grey)


def test_vision_collator_uint8_and_no_normalisation():
    img = torch.tensor([[[0, 255], [51, 102]]], dtype=torch.uint8)
    out = VisionCollator()(_items([img]))["inputs"]
    torch.testing.assert_close(out, img.float()[None] / 255)


def test_vision_collator_bad_arguments_and_items():
    with pytest.raises(ValueError, match="channels"):
        VisionCollator(channels=2)
    with pytest.raises(ValueError, match="one per channel"):
        VisionCollator(mean=(0.5,), std=(0.5,), channels=3)
    with pytest.raises(ValueError, match="positive"):
        VisionCollator(mean=(0.5,), std=(0.0,))
    with pytest.raises(ValueError, match="together"):
        VisionCollator(mean=(0.5,))
    with pytest.raises(ValueError, match="shape"):
        VisionCollator()(_items([torch.rand(2, 4, 4)]))
    with pytest.raises(ValueError, match="share a shape"):
        VisionCollator()(_items([torch.rand(1, 4, 4), torch.rand(1, 5, 5)]))


# ------------------------------------------------------------------------ tabular and TaskSpec


def test_tabular_collator():
    rows = [torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])]
    b = TabularCollator()(_items(rows))
    assert b["inputs"].dtype == torch.float32 and b["inputs"].tolist() == [[1, 2], [3, 4]]
    assert set(b) == {"ids", "inputs", "targets"}
    with pytest.raises(ValueError, match="share a shape"):
        TabularCollator()(_items([torch.zeros(2), torch.zeros(3)]))


def test_taskspec_picks_collator():
    text = TaskSpec(modality="text", num_classes=2, vocab_size=50, pad_id=0, max_length=7, min_length=5)
    c = text.collator()
    assert isinstance(c, TextCollator) and (c.pad_id, c.max_length, c.min_length) == (0, 7, 5)
    vision = TaskSpec(modality="vision", num_classes=10, input_shape=(3, 8, 8),
                      mean=IMAGENET_MEAN, std=IMAGENET_STD)
    v = vision.collator()
    assert isinstance(v, VisionCollator) and v.channels == 3 and v.mean == IMAGENET_MEAN
    tab = TaskSpec(modality="tabular", num_classes=3, input_shape=(4,))
    assert isinstance(tab.collator(), TabularCollator)


def test_vision_collator_batch_path_equals_per_image_path():
    # one stack and one conversion per batch: bit for bit the per-image formula
    g = torch.Generator().manual_seed(3)
    cases = [(VisionCollator(mean=(0.3046,), std=(0.3756,), channels=1), [torch.rand(1, 8, 8, generator=g)] * 5),
             (VisionCollator(mean=(0.3,), std=(0.4,), channels=1), [torch.rand(8, 8, generator=g) for _ in range(3)]),
             (VisionCollator.imagenet(), [torch.rand(1, 6, 5, generator=g) for _ in range(4)]),
             (VisionCollator.imagenet(), [torch.rand(3, 6, 5, generator=g) for _ in range(4)]),
             (VisionCollator(), [torch.randint(0, 256, (1, 4, 4), generator=g, dtype=torch.uint8) for _ in range(3)])]
    for coll, images in cases:
        got = coll(_items(images))["inputs"]
        ref = torch.stack([coll._match_channels(im, i, i) for i, im in enumerate(images)])
        if coll.mean is not None:
            ref = (ref - coll._mean) / coll._std
        assert got.dtype == torch.float32 and torch.equal(got, ref.to(torch.float32))


def test_text_collator_matches_a_padding_loop_on_mixed_lengths_and_dtypes():
    g = torch.Generator().manual_seed(4)
    seqs = [torch.randint(1, 50, (int(n),), generator=g) for n in torch.randint(0, 12, (20,), generator=g)]
    seqs[3] = seqs[3].int()  # int32 ids are widened to long
    seqs[5] = torch.zeros(0, dtype=torch.long)  # an empty sequence
    for pad_id, max_length, min_length in [(0, None, 1), (3, 6, 1), (0, None, 15), (7, 4, 5)]:
        b = TextCollator(pad_id=pad_id, max_length=max_length, min_length=min_length)(_items(seqs))
        kept = [s[:max_length] if max_length else s for s in seqs]
        width = max(min_length, max(len(s) for s in kept))
        ref = torch.full((len(seqs), width), pad_id, dtype=torch.long)
        for row, s in enumerate(kept):
            ref[row, :len(s)] = s
        assert b["inputs"].dtype == torch.long and torch.equal(b["inputs"], ref)
        assert b["lengths"].tolist() == [len(s) for s in kept]
        assert torch.equal(b["attention_mask"], torch.arange(width)[None] < b["lengths"][:, None])
    empty = TextCollator(min_length=2)(_items([torch.zeros(0, dtype=torch.long)] * 2))
    assert empty["inputs"].tolist() == [[0, 0], [0, 0]] and empty["lengths"].tolist() == [0, 0]
