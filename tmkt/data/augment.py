"""Augmentation of the recordings a run trains on: He et al.'s random crop with padding (docs/method.md §2).

``random_crop(frames, padding, rng)``: each recording of a batch ``(T, B, C, H, W)`` is zero-padded by
``padding`` pixels on every side and cropped back to ``H × W`` at an offset ``(i, j)`` drawn uniformly from
``{0 .. 2·padding}²``, the same offset at every time step (the crop acts on the whole ``T × 2 × H × W`` tensor,
as torchvision's ``RandomCrop(size, padding)`` on He et al.'s frames). ``padding = 0`` returns the frames.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def random_crop(frames: torch.Tensor, padding: int, rng: np.random.Generator) -> torch.Tensor:
    """Frames ``(T, B, C, H, W)`` shifted per recording by a random crop of the ``padding``-padded frame."""
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    if frames.dim() != 5:
        raise ValueError(f"frames must be (T, B, C, H, W), got shape {tuple(frames.shape)}")
    if padding == 0:
        return frames
    height, width = frames.shape[-2:]
    padded = F.pad(frames, (padding, padding, padding, padding))
    offsets = rng.integers(0, 2 * padding + 1, size=(frames.shape[1], 2))
    return torch.stack(
        [padded[:, b, :, i : i + height, j : j + width] for b, (i, j) in enumerate(offsets)], dim=1
    )
