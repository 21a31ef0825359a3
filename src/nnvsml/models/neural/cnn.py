"""A small convolutional network for images, sized for training on a few CPU cores.

The classic LeNet/VGG recipe (LeCun et al., 1998, "Gradient-Based Learning Applied to Document
Recognition"; Simonyan & Zisserman, 2015, "Very Deep Convolutional Networks for Large-Scale Image
Recognition") with batch normalization (Ioffe & Szegedy, 2015): three blocks of
conv -> BatchNorm -> ReLU -> 2x2 max-pool, channels 16 -> 32 -> 64, then a small fully connected
head with dropout. An adaptive average pool to a fixed 3x3 grid before the head means one network
works for any image size, from 8x8 digits to 64x64 photographs.

The size is deliberate: on 28x28 MNIST one epoch of 48k images takes about 20 s on two cores and
two epochs reach ~99% accuracy. Heavier networks win little on the datasets this project compares
and would blow the time budget shared with the traditional models.

Shapes: input ``[B, C, H, W]`` float (standardised per channel), output ``[B, n_out]`` logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


def pool2x2(x: torch.Tensor) -> torch.Tensor:
    """2x2 max-pool that leaves a side of length 1 alone, so tiny images never pool to nothing."""
    kernel = (2 if x.shape[-2] >= 2 else 1, 2 if x.shape[-1] >= 2 else 1)
    return F.max_pool2d(x, kernel) if kernel != (1, 1) else x


class ConvBlock(nn.Module):
    """conv ('same' padding) -> BatchNorm -> ReLU -> 2x2 max-pool (skipped on sides < 2)."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int) -> None:
        super().__init__()
        # No conv bias: BatchNorm's shift makes it redundant.
        self.conv = nn.Conv2d(c_in, c_out, kernel_size, padding="same", bias=False)
        self.norm = nn.BatchNorm2d(c_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return pool2x2(F.relu(self.norm(self.conv(x))))


class SmallCNN(nn.Module):
    """[conv -> BN -> ReLU -> max-pool] x 3 -> adaptive avg-pool 3x3 -> dropout -> FC -> FC.

    Args:
        input_shape: ``(C, H, W)`` of one image; ``H, W >= 8`` recommended, any size runs.
        n_out: number of classes.
        channels: output channels of each block.
        kernel_sizes: kernel size of each block's convolution.
        hidden: width of the fully connected hidden layer.
        dropout: dropout before each fully connected layer.

    >>> model = SmallCNN((1, 28, 28), n_out=10)
    >>> model(torch.zeros(4, 1, 28, 28)).shape
    torch.Size([4, 10])
    >>> SmallCNN((3, 8, 8), n_out=2)(torch.zeros(2, 3, 8, 8)).shape
    torch.Size([2, 2])
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_out: int,
        channels: Sequence[int] = (16, 32, 64),
        kernel_sizes: Sequence[int] = (5, 5, 3),
        hidden: int = 128,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(f"SmallCNN expects input_shape (C, H, W), got {input_shape}")
        if len(channels) != len(kernel_sizes):
            raise ValueError("channels and kernel_sizes must have the same length")
        c_in = input_shape[0]
        blocks = []
        for c_out, k in zip(channels, kernel_sizes):
            blocks.append(ConvBlock(c_in, c_out, k))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        # A fixed 3x3 grid keeps coarse layout (where the strokes are) and makes any size work;
        # an input that pooled down to 1x1 is simply replicated.
        self.pool = nn.AdaptiveAvgPool2d((3, 3))
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c_in * 9, hidden),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden, n_out),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.blocks(x)))
