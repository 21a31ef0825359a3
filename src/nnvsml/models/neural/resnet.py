"""A small residual network for images (He, Zhang, Ren & Sun, 2016, "Deep Residual Learning for
Image Recognition", CVPR; https://arxiv.org/abs/1512.03385).

Layout, in the spirit of the paper's CIFAR networks but narrower and shallower so it trains on a
few CPU cores:

1. Stem: 3x3 conv -> BatchNorm -> ReLU to ``widths[0]`` channels at full resolution.
2. Three stages of two basic blocks each (two 3x3 conv-BN with an identity shortcut, or a
   strided 1x1 conv-BN shortcut where the shape changes), widths 16 -> 32 -> 64: the paper's
   CIFAR "6n+2" family with n=2, i.e. 14 weighted layers. Every stage starts with a stride-2
   block, so the first stage already works at half resolution; that keeps a training step on
   28x28 images at about 1.7x the cost of :class:`~nnvsml.models.neural.cnn.SmallCNN` (1.2x with
   ``blocks_per_stage=1``).
3. Global average pooling -> Linear.

A padded stride-2 3x3 conv maps a 1-pixel side to 1 pixel, so even 8x8 images run
(8 -> 4 -> 2 -> 1).
Shapes: input ``[B, C, H, W]`` float (standardised per channel), output ``[B, n_out]`` logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F


class BasicBlock(nn.Module):
    """relu(x' + BN(conv(relu(BN(conv(x)))))) where x' is x or a 1x1-conv-BN projection of it."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )
        # Zero-init the last BN scale: each block starts as the identity, which steadies early
        # training (Goyal et al., 2017, "Accurate, Large Minibatch SGD").
        nn.init.zeros_(self.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class SmallResNet(nn.Module):
    """Stem -> 3 stages of basic blocks (each starting with stride 2) -> global avg-pool -> Linear.

    Args:
        input_shape: ``(C, H, W)`` of one image; any ``H, W >= 1`` runs.
        n_out: number of classes.
        widths: channels of each stage (the stem has ``widths[0]``).
        blocks_per_stage: basic blocks in each stage.
        dropout: dropout before the final Linear.

    >>> model = SmallResNet((1, 28, 28), n_out=10)
    >>> model(torch.zeros(4, 1, 28, 28)).shape
    torch.Size([4, 10])
    >>> SmallResNet((3, 8, 8), n_out=2)(torch.zeros(2, 3, 8, 8)).shape
    torch.Size([2, 2])
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_out: int,
        widths: Sequence[int] = (16, 32, 64),
        blocks_per_stage: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if len(input_shape) != 3:
            raise ValueError(f"SmallResNet expects input_shape (C, H, W), got {input_shape}")
        if blocks_per_stage < 1:
            raise ValueError("blocks_per_stage must be at least 1")
        self.stem = nn.Sequential(
            nn.Conv2d(input_shape[0], widths[0], 3, padding=1, bias=False),
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(),
        )
        blocks: list[nn.Module] = []
        c_in = widths[0]
        for width in widths:
            for i in range(blocks_per_stage):
                blocks.append(BasicBlock(c_in, width, stride=2 if i == 0 else 1))
                c_in = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(c_in, n_out)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))
