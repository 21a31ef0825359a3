"""Padding masks and masked pooling, shared by the sequence and text networks.

Variable-length series arrive NaN-padded at the end, ``[B, C, T]``; token ids arrive 0-padded at
the end, ``[B, L]``. Every network must give a series the same output however much padding follows
it (batches are padded to the longest member, so the amount depends on batch composition), which
means padding must never leak into a statistic: pooling is masked, recurrent nets are packed, and
attention ignores padded keys. A row with no valid step at all (an empty text, an all-NaN series)
is still a legal input: the helpers below keep its output finite instead of dividing by zero or
taking the max of nothing.
"""

from __future__ import annotations

import torch


def split_padding(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Split a NaN-padded batch ``[B, C, T]`` into values, a validity mask and lengths.

    A step is valid up to the last step where any channel is observed; that tolerates a NaN
    inside a series (a missing reading, filled with 0 = the standardised mean) without cutting
    the series short.

    Returns:
        ``(x with NaN -> 0, mask [B, T] bool with True = valid, lengths [B] long)``.

    >>> x = torch.tensor([[[1.0, 2.0, float("nan")]], [[float("nan")] * 3]])
    >>> values, mask, lengths = split_padding(x)
    >>> values.tolist(), mask.tolist(), lengths.tolist()
    ([[[1.0, 2.0, 0.0]], [[0.0, 0.0, 0.0]]], [[True, True, False], [False, False, False]], [2, 0])
    """
    observed = ~torch.isnan(x).all(dim=1)  # [B, T]
    steps = torch.arange(1, x.shape[-1] + 1, device=x.device)
    lengths = (observed * steps).amax(dim=1) if x.shape[-1] else observed.sum(dim=1)
    mask = steps.unsqueeze(0) <= lengths.unsqueeze(1)
    return torch.nan_to_num(x, nan=0.0), mask, lengths.long()


def token_mask(ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Validity mask ``[B, L]`` (True = a real token, id != 0) and lengths ``[B]`` of token ids."""
    mask = ids != 0
    return mask, mask.sum(dim=1)


def keep_first(mask: torch.Tensor) -> torch.Tensor:
    """The mask with position 0 always valid.

    An empty row would otherwise have every attention key masked (softmax of all ``-inf`` is NaN)
    and nothing to pool. Position 0 of an empty row holds padding, i.e. a fixed input, so the row
    gets a constant, finite output; a non-empty row is unaffected because its first step is valid.
    """
    mask = mask.clone()
    mask[:, 0] = True
    return mask


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean of ``x`` over ``dim`` counting only positions where ``mask`` is True; 0 if none are.

    ``mask`` has ``x``'s shape without the feature axis it broadcasts over, e.g. ``x [B, T, D]``
    with ``mask [B, T]`` and ``dim=1``, or ``x [B, D, T]`` with ``mask [B, 1, T]`` and ``dim=2``.
    """
    weights = mask.to(x.dtype)
    if weights.dim() < x.dim():
        weights = weights.unsqueeze(-1)
    total = (x * weights).sum(dim=dim)
    return total / weights.sum(dim=dim).clamp(min=1.0)


def masked_max(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Max of ``x`` over ``dim`` among positions where ``mask`` is True; 0 if there are none."""
    if mask.dim() < x.dim():
        mask = mask.unsqueeze(-1)
    filled = x.masked_fill(~mask, float("-inf")).amax(dim=dim)
    # An all-masked slice gives -inf, which would poison the logits; 0 is a neutral value.
    return torch.where(torch.isinf(filled) & (filled < 0), torch.zeros_like(filled), filled)


def patch_size(length: int, max_steps: int | None) -> int:
    """Steps per patch so that ``length`` steps make at most ``max_steps`` patches."""
    if max_steps is None or length <= max_steps:
        return 1
    return -(-length // max_steps)  # ceiling division


def to_patches(
    x: torch.Tensor, lengths: torch.Tensor, patch: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Group ``x [B, C, T]`` (padding already 0) into non-overlapping patches of ``patch`` steps.

    Returns ``(patches [B, ceil(T / patch), C * patch], patch lengths [B])``; ``patch=1`` is just
    the transpose to ``[B, T, C]``. Recurrent and attention layers cost grows with the number of
    steps (attention quadratically), so reading a long series a patch at a time is what keeps them
    trainable on a CPU (the idea of Nie et al., 2023, "A Time Series is Worth 64 Words"). Patch
    boundaries start at step 0, so they do not move with the padding; a patch is valid when it
    starts on an observed step, and the zeros after a series' end are the same however much
    padding follows.

    >>> x = torch.arange(10.0).view(1, 2, 5)
    >>> patches, lengths = to_patches(x, torch.tensor([4]), 2)
    >>> patches.shape, lengths.tolist()
    (torch.Size([1, 3, 4]), [2])
    >>> patches[0, 0].tolist()  # steps 0-1 of channel 0, then of channel 1
    [0.0, 1.0, 5.0, 6.0]
    """
    if patch == 1:
        return x.transpose(1, 2), lengths
    B, C, T = x.shape
    n = -(-T // patch)
    x = torch.nn.functional.pad(x, (0, n * patch - T))
    patches = x.view(B, C, n, patch).permute(0, 2, 1, 3).reshape(B, n, C * patch)
    return patches, torch.div(lengths + patch - 1, patch, rounding_mode="floor")
