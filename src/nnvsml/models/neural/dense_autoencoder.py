"""A dense autoencoder for table rows (encoded as numbers: standardised values, one-hot levels).

The encoder narrows the row to a small code through two hidden layers; the decoder mirrors it
back. Trained to reproduce its input, it learns what usual rows look like: a row it rebuilds
badly is unusual (its anomaly score), and rows with close codes are alike (clusters). The
codes are the networks' representation of the rows (Hinton & Salakhutdinov, 2006, "Reducing the
Dimensionality of Data with Neural Networks").

Shapes: input ``[B, n_in]`` float; ``encode`` -> ``[B, code]``; ``forward`` -> ``[B, n_in]``.
"""

from __future__ import annotations

import torch
from torch import nn


class DenseAutoencoder(nn.Module):
    """[Linear -> ReLU -> Dropout] x 2 -> code -> the mirror image -> reconstruction.

    Args:
        n_in: input width.
        code: width of the code.
        hidden: width of the first hidden layer (the second is half of it).
        dropout: dropout after each hidden layer (a denoising regulariser).
    """

    def __init__(self, n_in: int, code: int = 8, hidden: int = 64, dropout: float = 0.1):
        super().__init__()
        half = max(code, hidden // 2)
        self.encoder = nn.Sequential(
            nn.Linear(n_in, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, half), nn.ReLU(),
            nn.Linear(half, code),
        )
        self.decoder = nn.Sequential(
            nn.Linear(code, half), nn.ReLU(),
            nn.Linear(half, hidden), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(hidden, n_in),
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))
