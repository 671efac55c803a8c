"""Training augmentation as batch operations: random crop with zero padding, flip, normalise.

Everything runs on the device the images live on, as a handful of tensor
ops per batch (no per-image Python loop). Random draws come from a CPU
``torch.Generator`` and are then moved to the images' device, so a seed gives
the same augmentation on every device.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F


def crop_flip(images: torch.Tensor, offsets: torch.Tensor, flips: torch.Tensor, padding: int) -> torch.Tensor:
    """Crop each zero-padded image at its offset, then mirror the flagged ones.

    Image ``i`` of the result equals ``pad(images[i], padding)[:, dy:dy+H, dx:dx+W]``
    with ``(dy, dx) = offsets[i]``, reversed along the width where ``flips[i]``.

    Args:
        images: [B,C,H,W], any dtype (uint8 pads with the pixel value 0).
        offsets: int64 [B,2] of (dy, dx), each in 0..2*padding.
        flips: bool [B].
        padding: zero padding on every side before cropping back to H x W.
    """
    b, c, h, w = images.shape
    dev = images.device
    # non_blocking: a blocking host-to-GPU copy would wait for every queued kernel (CUDA stages the
    # pageable source at once, so the source may be freed; on the CPU it is the same tensor)
    offsets = offsets.to(dev, non_blocking=True)
    padded = F.pad(images, (padding, padding, padding, padding)) if padding else images
    ar_h = torch.arange(h, device=dev)
    ar_w = torch.arange(w, device=dev)
    rows = offsets[:, 0:1] + ar_h  # [B,H] rows of the padded image
    cols = offsets[:, 1:2] + torch.where(flips.to(dev, non_blocking=True)[:, None], ar_w.flip(0), ar_w)  # [B,W]
    # One gather over the flattened padded image (much faster on CPU than 4-D advanced indexing).
    flat = (rows[:, :, None] * (w + 2 * padding) + cols[:, None, :]).reshape(b, 1, h * w).expand(b, c, h * w)
    return padded.reshape(b, c, -1).gather(2, flat).reshape(b, c, h, w)


def random_crop_flip(images: torch.Tensor, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Random crop (uniform offsets in 0..2*padding) and horizontal flip (p = 0.5) of a batch.

    Draws, in this order, the [B,2] offsets then the [B] flip bits from ``generator`` (CPU).
    """
    n = images.shape[0]
    offsets = torch.randint(0, 2 * padding + 1, (n, 2), generator=generator)
    flips = torch.randint(0, 2, (n,), generator=generator).bool()
    return crop_flip(images, offsets, flips, padding)


def normalize(
    images: torch.Tensor, mean: Sequence[float] | torch.Tensor, std: Sequence[float] | torch.Tensor
) -> torch.Tensor:
    """uint8 [B,C,H,W] -> ``(x / 255 - mean) / std`` per channel, on the images' device, in
    torch's default float dtype: float32, unless the process changed it (the float64
    equivalence tests run whole searches under ``torch.set_default_dtype(torch.float64)``)."""
    dev, dtype = images.device, torch.get_default_dtype()
    m = torch.as_tensor(mean, dtype=dtype, device=dev).reshape(-1, 1, 1)
    s = torch.as_tensor(std, dtype=dtype, device=dev).reshape(-1, 1, 1)
    # x * (1 / (255 s)) + (-m / s) in one fused pass; equal to the textbook form up to float rounding.
    return torch.addcmul(-m / s, images.to(dtype), 1.0 / (255.0 * s))
