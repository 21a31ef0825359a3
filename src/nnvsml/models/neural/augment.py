"""Random geometric augmentation for image batches, run inside the network.

Small rotations and shifts are label-preserving for digits, clothing and most photographs and are
the standard cheap regulariser for small image networks (Simard, Steinkraus & Platt, 2003, "Best
Practices for Convolutional Neural Networks Applied to Visual Document Analysis"). Doing it as an
``nn.Module`` means the estimator needs no separate data pipeline: the module is the identity in
eval mode, and in training mode it warps the whole batch at once with one ``affine_grid`` +
``grid_sample`` call, so it costs a few percent of a training step rather than a per-image
Python loop.

Pixels that come from outside the image are filled with 0. The input is already standardised per
channel, so 0 is the channel mean, not black; for digits on a dark background that is a slightly
grey border, which the network learns to ignore.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class ImageAugment(nn.Module):
    """Per-image random rotation, integer pixel shift and optional horizontal flip (train only).

    Args:
        max_shift: largest shift in pixels along each axis (an integer drawn uniformly in
            ``[-max_shift, max_shift]``).
        max_rotation: largest rotation in degrees, drawn uniformly in
            ``[-max_rotation, max_rotation]``.
        hflip: also mirror half of the images left-right (right for photographs, wrong for text
            and digits, hence off by default).

    >>> augment = ImageAugment().eval()
    >>> x = torch.randn(4, 1, 28, 28)
    >>> bool(torch.equal(augment(x), x)), augment.train()(x).shape
    (True, torch.Size([4, 1, 28, 28]))
    """

    def __init__(self, max_shift: int = 2, max_rotation: float = 10.0, hflip: bool = False) -> None:
        super().__init__()
        self.max_shift = max_shift
        self.max_rotation = max_rotation
        self.hflip = hflip

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or (self.max_shift == 0 and self.max_rotation == 0 and not self.hflip):
            return x
        B, _, H, W = x.shape
        opts = {"device": x.device, "dtype": x.dtype}
        angle = (torch.rand(B, **opts) * 2 - 1) * math.radians(self.max_rotation)
        shift = torch.randint(-self.max_shift, self.max_shift + 1, (B, 2), device=x.device)
        shift = shift.to(x.dtype)
        flip = torch.ones(B, **opts)
        if self.hflip:
            flip = torch.where(torch.rand(B, device=x.device) < 0.5, -flip, flip)
        cos, sin = torch.cos(angle), torch.sin(angle)
        # affine_grid works in normalised coordinates ([-1, 1] on both axes); a rotation by
        # `angle` in pixel space is S R S^-1 there, with S = diag(2/W, 2/H), so non-square
        # images rotate without shearing. A shift of s pixels is 2s/W (or 2s/H) in those units.
        theta = torch.stack(
            [
                torch.stack([cos * flip, -sin * H / W, 2 * shift[:, 0] / W], dim=1),
                torch.stack([sin * W / H * flip, cos, 2 * shift[:, 1] / H], dim=1),
            ],
            dim=1,
        )
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
