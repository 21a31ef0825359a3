"""A convolutional autoencoder for images and spectrograms.

Two stride-2 convolutions halve the height and width twice while widening the channels; a
linear layer takes the feature map to a small code. The decoder maps the code back to the
feature map and up-samples it twice (to the exact sizes the encoder came from, so odd sizes
such as 28 -> 14 -> 7 come back whole), each time followed by a convolution (Masci et al., 2011,
"Stacked Convolutional Auto-Encoders for Hierarchical Feature Extraction"). Up-sampling then
convolving avoids the checkerboard artefacts of transposed convolutions (Odena et al., 2016).

Shapes: input ``[B, C, H, W]`` float; ``encode`` -> ``[B, code]``; ``forward`` -> ``[B, C, H, W]``.
"""

from __future__ import annotations

import torch
from torch import nn


def _half(n: int) -> int:
    return (n + 1) // 2  # the output size of a stride-2, padding-1, kernel-3 convolution


class ConvAutoencoder(nn.Module):
    """[Conv(stride 2) -> ReLU] x 2 -> Linear -> code -> Linear -> [Upsample -> Conv] x 2.

    Args:
        channels, height, width: the input's shape.
        code: width of the code.
        filters: channels of the first convolution (the second has twice as many).
    """

    def __init__(self, channels: int, height: int, width: int, code: int = 16, filters: int = 16):
        super().__init__()
        h1, w1 = _half(height), _half(width)
        h2, w2 = _half(h1), _half(w1)
        self.map_shape = (2 * filters, h2, w2)
        flat = 2 * filters * h2 * w2
        self.encoder = nn.Sequential(
            nn.Conv2d(channels, filters, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(filters, 2 * filters, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(flat, code),
        )
        self.expand = nn.Sequential(nn.Linear(code, flat), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.Upsample(size=(h1, w1)), nn.Conv2d(2 * filters, filters, 3, padding=1), nn.ReLU(),
            nn.Upsample(size=(height, width)), nn.Conv2d(filters, channels, 3, padding=1),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.expand(self.encoder(x)).view(-1, *self.map_shape)
        return self.decoder(z)
