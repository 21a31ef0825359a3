"""A dense autoencoder for table rows (encoded as numbers: standardised values, one-hot levels).

The encoder narrows the row to a small code through hidden layers (two narrow ones for a
table's rows; N2D's 500-500-2000 for its clustering of any input, McConville et al., 2019, after
DEC's); the decoder mirrors it back. Trained to reproduce its input, it learns what usual rows look like: a row it rebuilds
badly is unusual (its anomaly score), and rows with close codes are alike (clusters). The
codes are the networks' representation of the rows (Hinton & Salakhutdinov, 2006, "Reducing the
Dimensionality of Data with Neural Networks").

Shapes: input ``[B, n_in]`` float; ``encode`` -> ``[B, code]``; ``forward`` -> ``[B, n_in]``.
"""

from __future__ import annotations

import torch
from torch import nn


class DenseAutoencoder(nn.Module):
    """Linear -> ReLU -> Dropout -> [Linear -> ReLU] x (len(hidden) - 1) -> code -> the mirror
    image -> reconstruction. Any input shape: it is flattened, and the output has it again.

    Args:
        n_in: input width (the product of the input's shape).
        code: width of the code.
        hidden: widths of the hidden layers, outermost first.
        dropout: dropout after the outermost hidden layer, both ways (a denoising regulariser).
    """

    def __init__(self, n_in: int, code: int = 8, hidden: tuple[int, ...] = (64, 32),
                 dropout: float = 0.1):
        super().__init__()
        widths = [n_in, *hidden]
        encoder: list[nn.Module] = []
        for i, (a, b) in enumerate(zip(widths, widths[1:])):
            encoder += [nn.Linear(a, b), nn.ReLU()] + ([nn.Dropout(dropout)] if i == 0 else [])
        self.encoder = nn.Sequential(*encoder, nn.Linear(widths[-1], code))
        back = [code, *hidden[::-1]]
        decoder: list[nn.Module] = []
        for a, b in zip(back, back[1:]):
            decoder += [nn.Linear(a, b), nn.ReLU()]
        self.decoder = nn.Sequential(*decoder, nn.Dropout(dropout), nn.Linear(hidden[0], n_in))

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x.flatten(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encode(x)).view(x.shape)
