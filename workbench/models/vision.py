"""Models for fixed-size inputs: :class:`MLP` (tabular or flattened images) and
:class:`DigitsCNN` (a small convolutional network for 8x8 digit images).

Both follow the model contract of ``docs/architecture.md``: ``model(batch["inputs"])``
returns float32 logits ``[B, num_classes]``. Both expose the same structure so that
techniques (freezing, gradual unfreezing, domain-adversarial training, gradient caching)
can address their parts by name:

- ``encode(x) -> [B, feature_dim]``: the penultimate representation (what the final
  linear layer sees, before dropout);
- ``feature_dim``: its width;
- ``classifier``: the final :class:`torch.nn.Linear` layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1; got {value!r}")
    return value


def _check_dropout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"dropout must be a number in [0, 1); got {value!r}")
    return float(value)


def _check_widths(name: str, value: object, allow_empty: bool) -> tuple[int, ...]:
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value,)
    if not isinstance(value, Sequence) or isinstance(value, str):
        raise ValueError(f"{name} must be a sequence of integers >= 1; got {value!r}")
    widths = tuple(value)
    if not allow_empty and not widths:
        raise ValueError(f"{name} must contain at least one integer >= 1; got {value!r}")
    for w in widths:
        if isinstance(w, bool) or not isinstance(w, int) or w < 1:
            raise ValueError(f"{name} must be a sequence of integers >= 1; got {value!r}")
    return widths


class MLP(nn.Module):
    """Multi-layer perceptron: flatten -> [Linear -> ReLU -> Dropout] per hidden layer -> Linear.

    Args:
        in_features: number of input features after flattening (64 for 8x8 digits).
        num_classes: number of output logits (1 for regression).
        hidden: widths of the hidden layers; ``()`` gives a linear (softmax-regression)
            model. Default ``(128, 64)``.
        dropout: dropout probability after each hidden layer, in ``[0, 1)``. Default 0.1.

    Input: float32 ``[B, *]`` whose trailing dimensions multiply to ``in_features``
    (for example ``[B, 64]`` or ``[B, 1, 8, 8]``). Output: float32 logits
    ``[B, num_classes]``.

    Parameters (default configuration, digits: ``in_features=64, num_classes=10``):
    ``64*128+128 + 128*64+64 + 64*10+10 = 17,226``. In general
    ``sum(fan_in*fan_out + fan_out)`` over the layers.

    Raises:
        ValueError: on a non-positive size or a dropout outside ``[0, 1)``; at forward
            time, when the flattened input does not have ``in_features`` features.
    """

    def __init__(self, in_features: int, num_classes: int,
                 hidden: Sequence[int] = (128, 64), dropout: float = 0.1) -> None:
        super().__init__()
        self.in_features = _check_positive_int("in_features", in_features)
        self.num_classes = _check_positive_int("num_classes", num_classes)
        self.hidden = _check_widths("hidden", hidden, allow_empty=True)
        self.dropout_p = _check_dropout(dropout)
        layers: list[nn.Module] = [nn.Flatten()]
        width = self.in_features
        for i, h in enumerate(self.hidden):
            if i > 0:
                layers.append(nn.Dropout(self.dropout_p))
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.body = nn.Sequential(*layers)
        self.dropout = nn.Dropout(self.dropout_p) if self.hidden else nn.Identity()
        self.feature_dim = width
        self.classifier = nn.Linear(width, self.num_classes)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features: float32 ``[B, feature_dim]`` (after the last ReLU, before dropout)."""
        if x.dim() < 2 or math.prod(x.shape[1:]) != self.in_features:
            raise ValueError(
                f"MLP expects {self.in_features} input features after flattening; "
                f"got input of shape {tuple(x.shape)}"
            )
        return self.body(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, *]`` float32 -> logits ``[B, num_classes]`` float32."""
        return self.classifier(self.dropout(self.encode(x)))


class DigitsCNN(nn.Module):
    """Small CNN for small images such as the 8x8 scikit-learn digits.

    Architecture, one stage per entry of ``channels`` (default two stages, 32 and 64
    channels)::

        [conv3x3 -> BatchNorm -> ReLU] x 2 -> maxpool 2x2      (per stage; 8x8 -> 4x4 -> 2x2)
        global average pool -> dropout -> linear

    Convolutions use padding 1 and no bias (BatchNorm supplies the shift). A stage whose
    input is already 1x1 skips its max-pool. Global average pooling makes the head
    independent of ``image_size``; ``image_size`` is checked at forward time.

    Args:
        in_channels: image channels (1 for grayscale digits).
        num_classes: number of output logits.
        image_size: height and width of the (square) input images, in pixels.
        channels: output channels of each stage. Default ``(32, 64)``.
        dropout: dropout probability before the final linear layer, in ``[0, 1)``.

    Input: float32 ``[B, in_channels, image_size, image_size]`` (normalised). Output:
    float32 logits ``[B, num_classes]``.

    Parameters (default configuration ``in_channels=1, num_classes=10, channels=(32, 64)``):
    ``65,834`` = conv 1x32x9 (288) + BN 64 + conv 32x32x9 (9,216) + BN 64 + conv 32x64x9
    (18,432) + BN 128 + conv 64x64x9 (36,864) + BN 128 + linear 64x10+10 (650). BatchNorm
    running statistics are buffers, not parameters.

    Measured on scikit-learn digits (80/10/10 random split, pixels /16 then mean/std
    normalised, Adam lr 1e-3, batch 32, one CPU thread, 3 seeds): test accuracy 95-97%
    after 1 epoch, 98.9-100% after 3 epochs (about 0.7 s per epoch). The default
    :class:`MLP` reaches 97-98% after about 5 epochs.

    Raises:
        ValueError: on invalid sizes; at forward time, when the input shape does not match.
    """

    def __init__(self, in_channels: int = 1, num_classes: int = 10, image_size: int = 8,
                 channels: Sequence[int] = (32, 64), dropout: float = 0.25) -> None:
        super().__init__()
        self.in_channels = _check_positive_int("in_channels", in_channels)
        self.num_classes = _check_positive_int("num_classes", num_classes)
        self.image_size = _check_positive_int("image_size", image_size)
        self.channels = _check_widths("channels", channels, allow_empty=False)
        self.dropout_p = _check_dropout(dropout)
        layers: list[nn.Module] = []
        c_in, size = self.in_channels, self.image_size
        for c_out in self.channels:
            for c in (c_in, c_out):
                layers += [nn.Conv2d(c, c_out, kernel_size=3, padding=1, bias=False),
                           nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]
            if size >= 2:
                layers.append(nn.MaxPool2d(2))
                size //= 2
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(self.dropout_p)
        self.feature_dim = c_in
        self.classifier = nn.Linear(c_in, self.num_classes)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features: float32 ``[B, feature_dim]`` (globally pooled, before dropout)."""
        expected = (self.in_channels, self.image_size, self.image_size)
        if x.dim() != 4 or tuple(x.shape[1:]) != expected:
            raise ValueError(
                f"DigitsCNN expects input [B, {expected[0]}, {expected[1]}, {expected[2]}]; "
                f"got {tuple(x.shape)}"
            )
        return self.pool(self.features(x)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` float32 -> logits ``[B, num_classes]`` float32."""
        return self.classifier(self.dropout(self.encode(x)))
