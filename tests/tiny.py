"""Tiny synthetic tensors for fast unit tests of the loop (real-data tests live elsewhere)."""

from __future__ import annotations

import torch
from torch import nn

from workbench.config import TaskSpec
from workbench.data.datasets import ExampleDataset


def tiny_data(n: int = 96, features: int = 6, classes: int = 3, seed: int = 0):
    """A linearly separable 3-class tabular problem: (dataset, task)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=g)
    w = torch.randn(features, classes, generator=g)
    y = (x @ w).argmax(dim=1)
    ids = torch.arange(1000, 1000 + n)  # ids deliberately differ from positions
    task = TaskSpec(modality="tabular", num_classes=classes, input_shape=(features,))
    return ExampleDataset(x, y, ids), task


class TinyNet(nn.Module):
    def __init__(self, features: int = 6, classes: int = 3, dropout: float = 0.0, hidden: int = 16):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(hidden, classes))

    def forward(self, x):
        return self.net(x)


def tiny_model(seed: int = 0, **kw) -> TinyNet:
    torch.manual_seed(seed)
    return TinyNet(**kw)
