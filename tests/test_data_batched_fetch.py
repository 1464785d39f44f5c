"""ExampleDataset.__getitems__ / ItemBatch: a DataLoader fetches a batch in one call and the
collators index the data set's tensors once, giving the same batch, bit for bit, as the
item-by-item path (issue 19's Trainer overhead)."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, Subset

from workbench.data.collate import ItemBatch, TabularCollator, TextCollator, VisionCollator
from workbench.data.splits import ExampleDataset
from workbench.techniques.augment.dataset import AugmentedDataset


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert type(a[k]) is type(b[k]), k
        if isinstance(a[k], torch.Tensor):
            assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape, k
            assert torch.equal(a[k], b[k]), k
        else:
            assert a[k] == b[k], k


def _datasets():
    g = torch.Generator().manual_seed(0)
    text = ExampleDataset([torch.randint(1, 50, (int(n),), generator=g) for n in torch.randint(1, 12, (40,), generator=g)],
                          torch.randint(0, 3, (40,), generator=g), torch.arange(100, 140))
    grey_u8 = ExampleDataset(torch.randint(0, 256, (40, 1, 8, 8), generator=g, dtype=torch.uint8),
                             torch.randint(0, 10, (40,), generator=g), torch.arange(40) * 3)
    rgb = ExampleDataset(torch.rand(40, 3, 5, 5, generator=g), torch.rand(40, 2, generator=g), torch.arange(40))
    tab = ExampleDataset(torch.randn(40, 6, generator=g, dtype=torch.float64), torch.rand(40, generator=g),
                         torch.arange(40) + 7)
    return [
        (text, TextCollator(pad_id=0, min_length=5)),
        (text, TextCollator(pad_id=0, max_length=4)),
        (grey_u8, VisionCollator(mean=(0.5,), std=(0.25,), channels=1)),
        (grey_u8, VisionCollator(mean=(0.5, 0.4, 0.3), std=(0.2, 0.2, 0.2), channels=3)),  # grey -> RGB
        (rgb, VisionCollator(mean=(0.5,), std=(0.25,), channels=1)),  # RGB -> luma: per-item path
        (rgb, VisionCollator(mean=None, std=None, channels=3)),
        (tab, TabularCollator()),
        (tab, TabularCollator(mean=[0.1] * 6, std=[2.0] * 6)),
    ]


@pytest.mark.parametrize("case", range(8))
def test_batched_fetch_gives_the_item_by_item_batch(case):
    ds, collate = _datasets()[case]
    positions = [5, 0, 39, 17, -1, 17, 2]  # unsorted, a repeat and a negative position
    fetched = ds.__getitems__(positions)
    assert type(fetched) is ItemBatch and len(fetched) == 7
    assert fetched.positions == [5, 0, 39, 17, 39, 17, 2]
    per_item = [ds[p] for p in positions]
    # the sequence protocol gives the same dicts as __getitem__
    assert [it["id"] for it in fetched] == [it["id"] for it in per_item]
    assert fetched[-1]["id"] == per_item[-1]["id"] and [it["id"] for it in fetched[1:3]] == [ds[0]["id"], ds[39]["id"]]
    _same(collate(fetched), collate(per_item))


def test_dataloader_uses_the_batched_fetch_and_matches_the_per_item_loader():
    ds, collate = _datasets()[2]
    seen = []

    def spy(items):
        seen.append(type(items))
        return collate(items)

    class PerItem(torch.utils.data.Dataset):  # the same data without __getitems__
        def __len__(self):
            return len(ds)

        def __getitem__(self, i):
            return ds[i]

    fast = list(DataLoader(ds, batch_size=8, shuffle=True, collate_fn=spy, generator=torch.Generator().manual_seed(3)))
    slow = list(DataLoader(PerItem(), batch_size=8, shuffle=True, collate_fn=collate,
                           generator=torch.Generator().manual_seed(3)))
    assert seen and all(t is ItemBatch for t in seen)
    assert len(fast) == len(slow) == 5
    for a, b in zip(fast, slow):
        _same(a, b)
    # a Subset forwards the batched fetch with its own positions
    sub = Subset(ds, [3, 1, 4, 1, 5])
    (batch,) = list(DataLoader(sub, batch_size=5, collate_fn=collate))
    _same(batch, collate([ds[i] for i in [3, 1, 4, 1, 5]]))


def test_a_subclass_with_its_own_getitem_keeps_its_extra_keys():
    g = torch.Generator().manual_seed(1)
    inputs = [torch.randint(1, 9, (4,), generator=g) for _ in range(6)]
    aug = AugmentedDataset(inputs, [0, 1, 0, 1, 0, 1], [10, 11, 12, 13, 14, 15], source_ids=[10, 11, 12, 10, 11, 12],
                           copy_index=[0, 0, 0, 1, 1, 1])
    fetched = aug.__getitems__([4, 0])
    assert type(fetched) is list and [it["source_id"] for it in fetched] == [11, 10]
    batch = TextCollator()(fetched)
    assert batch["source_id"].tolist() == [11, 10]


def test_positions_out_of_range_raise_index_error():
    ds = _datasets()[0][0]
    with pytest.raises(IndexError, match=r"positions must be in \[-40, 40\)"):
        ds.__getitems__([0, 40])
    with pytest.raises(IndexError):
        ds.__getitems__([-41])
