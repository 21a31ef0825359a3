"""The fully convolutional network for time-series classification (Wang, Yan & Oates, 2017,
"Time Series Classification from Scratch with Deep Neural Networks: A Strong Baseline", IJCNN;
https://arxiv.org/abs/1611.06455).

Three blocks of 1-D conv ('same' padding) -> BatchNorm -> ReLU with 128/256/128 filters of widths
8/5/3 in the paper, then global average pooling over time and a linear head. No pooling or
striding, so every time step keeps its own features until the final average; it is one of the
strongest neural baselines on the UCR archive (Fawaz et al., 2019). The default widths here are
halved (64/128/64) to train on a few CPU cores.

Variable-length series (NaN-padded at the end): padded steps are set to 0 on input and re-zeroed
after every block, and the final average counts only observed steps. A convolution near the end of
a series then sees zeros past the end whether the batch is padded or not ('same' padding also
pads with zeros), so the output for a series does not depend on the padding after it. In training
mode BatchNorm statistics do include the zeroed padding; that shifts the normalisation slightly
for heavily padded batches but never breaks the eval-mode invariance.

Shapes: input ``[B, C, T]`` float (standardised per channel, NaN after a series ends), output
``[B, n_out]`` logits.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from .masking import masked_mean, split_padding


class FCN(nn.Module):
    """[Conv1d('same') -> BN -> ReLU -> zero padding] x 3 -> masked global average pool -> Linear.

    Args:
        input_shape: ``(C, T)`` of one series; any ``T`` works at run time.
        n_out: number of classes.
        channels: filters of each block.
        kernel_sizes: kernel width of each block.

    >>> model = FCN((2, 60), n_out=3)
    >>> model(torch.randn(5, 2, 60)).shape
    torch.Size([5, 3])
    """

    def __init__(
        self,
        input_shape: tuple[int, ...],
        n_out: int,
        channels: Sequence[int] = (64, 128, 64),
        kernel_sizes: Sequence[int] = (8, 5, 3),
    ) -> None:
        super().__init__()
        if len(input_shape) != 2:
            raise ValueError(f"FCN expects input_shape (C, T), got {input_shape}")
        if len(channels) != len(kernel_sizes):
            raise ValueError("channels and kernel_sizes must have the same length")
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        c_in = input_shape[0]
        for c_out, k in zip(channels, kernel_sizes):
            # 'same' padding is applied by hand in forward: torch warns on (and copies for) even
            # kernels such as the paper's 8.
            self.convs.append(nn.Conv1d(c_in, c_out, k, bias=False))
            self.norms.append(nn.BatchNorm1d(c_out))
            c_in = c_out
        self.head = nn.Linear(c_in, n_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, mask, _ = split_padding(x)
        valid = mask.unsqueeze(1).to(x.dtype)  # [B, 1, T]
        for conv, norm in zip(self.convs, self.norms):
            k = conv.kernel_size[0]
            x = F.pad(x, ((k - 1) // 2, k // 2))  # zeros, like torch's 'same' (extra one right)
            x = F.relu(norm(conv(x))) * valid
        return self.head(masked_mean(x, mask.unsqueeze(1), dim=2))
