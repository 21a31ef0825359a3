"""A 1D-convolutional autoencoder for time series.

The series analogue of :mod:`nnvsml.models.neural.conv_autoencoder`: two stride-2 convolutions
along time, a linear layer to the code, and back through up-sampling and convolutions to the
series' exact length. Convolutions see local shapes wherever they occur in the series, as the
series classifiers here do (Wang et al., 2017, "Time Series Classification from Scratch with
Deep Neural Networks").

Shapes: input ``[B, C, L]`` float; ``encode`` -> ``[B, code]``; ``forward`` -> ``[B, C, L]``.
"""

from __future__ import annotations

import torch
from torch import nn


def _half(n: int) -> int:
    return (n + 1) // 2


class SeriesAutoencoder(nn.Module):
    """[Conv1d(stride 2) -> ReLU] x 2 -> Linear -> code -> Linear -> [Upsample -> Conv1d] x 2.

    Args:
        channels, length: the input's shape.
        code: width of the code.
        width: channels of the first convolution (the second has twice as many).
    """

    def __init__(self, channels: int, length: int, code: int = 16, width: int = 16):
        super().__init__()
        l1 = _half(length)
        l2 = _half(l1)
        self.map_shape = (2 * width, l2)
        flat = 2 * width * l2
        self.encoder = nn.Sequential(
            nn.Conv1d(channels, width, 7, stride=2, padding=3), nn.ReLU(),
            nn.Conv1d(width, 2 * width, 5, stride=2, padding=2), nn.ReLU(),
            nn.Flatten(), nn.Linear(flat, code),
        )
        self.expand = nn.Sequential(nn.Linear(code, flat), nn.ReLU())
        self.decoder = nn.Sequential(
            nn.Upsample(size=l1), nn.Conv1d(2 * width, width, 5, padding=2), nn.ReLU(),
            nn.Upsample(size=length), nn.Conv1d(width, channels, 7, padding=3),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.expand(self.encoder(x)).view(-1, *self.map_shape)
        return self.decoder(z)
