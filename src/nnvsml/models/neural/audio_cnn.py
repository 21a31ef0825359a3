"""A small CNN for audio classification on log-mel spectrograms, with SpecAugment masking.

The spectrogram is treated as a one-channel image (frequency x time), the approach of Hershey et
al., 2017, "CNN Architectures for Large-Scale Audio Classification" and Choi et al., 2017,
"Convolutional Recurrent Neural Networks for Music Classification": blocks of
conv -> BatchNorm -> ReLU -> 2x2 max-pool, then the pooled frequency bands are stacked as features
(as VGGish flattens them: where a sound sits in frequency is its pitch, and averaging the bands
away left three 3x3 convolutions unable to tell 300 Hz from 2,200 Hz) and the time axis is
summarised by both its max (was the sound event present anywhere?) and its mean (how much of the
clip does it fill?), concatenated, -> dropout -> Linear. The time summary makes any clip length
work.

In training mode each example gets one random band of mel bins and one random band of frames set
to 0 (SpecAugment: Park et al., 2019, "SpecAugment: A Simple Data Augmentation Method for
Automatic Speech Recognition"; https://arxiv.org/abs/1904.08779). The input is standardised, so 0
is the average level. The masking is the identity in eval mode.

Shapes: input ``[B, n_mels, frames]`` float (standardised log-mel), output ``[B, n_out]`` logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from .cnn import ConvBlock


class SpecAugment(nn.Module):
    """Zero one random frequency band (<= ``freq_mask`` bins) and one time band (<= ``time_mask``
    frames) per example, in training mode only.

    >>> augment = SpecAugment(freq_mask=4, time_mask=5).eval()
    >>> x = torch.randn(2, 20, 30)
    >>> bool(torch.equal(augment(x), x))
    True
    """

    def __init__(self, freq_mask: int = 8, time_mask: int = 10) -> None:
        super().__init__()
        self.freq_mask = freq_mask
        self.time_mask = time_mask

    @staticmethod
    def band(batch: int, size: int, max_width: int, device: torch.device) -> torch.Tensor:
        """A ``[batch, size]`` bool mask: one random band, ``0..max_width`` wide, per row."""
        width = torch.randint(0, min(max_width, size) + 1, (batch, 1), device=device)
        start = (torch.rand(batch, 1, device=device) * (size - width + 1)).long()
        steps = torch.arange(size, device=device).unsqueeze(0)
        return (steps >= start) & (steps < start + width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return x
        batch, n_mels, frames = x.shape
        freq = self.band(batch, n_mels, self.freq_mask, x.device).unsqueeze(2)  # [B, F, 1]
        time = self.band(batch, frames, self.time_mask, x.device).unsqueeze(1)  # [B, 1, T]
        return x.masked_fill(freq | time, 0.0)


class AudioCNN(nn.Module):
    """SpecAugment -> [conv -> BN -> ReLU -> max-pool] x N -> frequency bands as features ->
    max+mean over time -> dropout -> Linear.

    Args:
        input_shape: ``(n_mels, frames)`` of one clip; any number of frames works at run time.
        n_out: number of classes.
        channels: output channels of each conv block (3x3 kernels).
        dropout: dropout before the head.
        freq_mask: widest SpecAugment frequency band, in mel bins (0 disables).
        time_mask: widest SpecAugment time band, in frames (0 disables).

    >>> model = AudioCNN((40, 101), n_out=10)
    >>> model(torch.randn(3, 40, 101)).shape
    torch.Size([3, 10])
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_out: int,
        channels: Sequence[int] = (16, 32, 64),
        dropout: float = 0.3,
        freq_mask: int = 8,
        time_mask: int = 10,
    ) -> None:
        super().__init__()
        if len(input_shape) != 2:
            raise ValueError(f"AudioCNN expects input_shape (n_mels, frames), got {input_shape}")
        self.spec_augment = SpecAugment(freq_mask, time_mask)
        blocks = []
        c_in = 1
        for c_out in channels:
            blocks.append(ConvBlock(c_in, c_out, 3))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        with torch.no_grad():  # the pooled number of frequency bands (pools skip short sides)
            bands = self.blocks.eval()(torch.zeros(1, 1, input_shape[0], 8)).shape[2]
        self.blocks.train()
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * c_in * bands, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.spec_augment(x).unsqueeze(1))  # [B, C, F', T']
        h = h.flatten(1, 2)  # [B, C * F', T']
        pooled = torch.cat([h.amax(dim=2), h.mean(dim=2)], dim=1)
        return self.head(self.dropout(pooled))
