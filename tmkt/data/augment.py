"""Augmentation of the recordings a run trains on: He et al.'s random crop with padding (docs/method.md §2), and
their CEP-DVS flip and rotation (``--DVS-DA``), in their order: crop, flip, rotation (:func:`augment`).

``random_crop(frames, padding, rng)``: each recording of a batch ``(T, B, C, H, W)`` is zero-padded by
``padding`` pixels on every side and cropped back to ``H × W`` at an offset ``(i, j)`` drawn uniformly from
``{0 .. 2·padding}²``, the same offset at every time step (the crop acts on the whole ``T × 2 × H × W`` tensor,
as torchvision's ``RandomCrop(size, padding)`` on He et al.'s frames). ``padding = 0`` returns the frames.

``random_flip(frames, rng)``: each recording mirrored left-right with probability 1/2 (``RandomHorizontalFlip``).
``random_rotation(frames, degrees, rng)``: each recording rotated about the frame centre by an angle uniform in
``[-degrees, degrees]``, nearest pixel, zero outside (``RandomRotation(degrees)``'s defaults). Each acts on the
whole ``T × C × H × W`` recording alike; an augmentation that is off draws nothing from ``rng``.
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


def random_flip(frames: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Frames ``(T, B, C, H, W)`` with each recording mirrored left-right with probability 1/2."""
    flipped = torch.as_tensor(rng.random(frames.shape[1]) < 0.5)
    return torch.where(flipped[None, :, None, None, None], frames.flip(-1), frames)


def random_rotation(frames: torch.Tensor, degrees: float, rng: np.random.Generator) -> torch.Tensor:
    """Frames ``(T, B, C, H, W)`` with each recording rotated by an angle uniform in ``[-degrees, degrees]``."""
    steps, batch, channels, height, width = frames.shape
    angles = torch.as_tensor(np.deg2rad(rng.uniform(-degrees, degrees, batch)), dtype=frames.dtype)
    cos, sin, zero = angles.cos(), angles.sin(), torch.zeros_like(angles)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)  # (B, 2, 3)
    grid = F.affine_grid(theta, [batch, steps * channels, height, width], align_corners=False)
    per_recording = frames.permute(1, 0, 2, 3, 4).reshape(batch, steps * channels, height, width)
    rotated = F.grid_sample(per_recording, grid, mode="nearest", padding_mode="zeros", align_corners=False)
    return rotated.reshape(batch, steps, channels, height, width).permute(1, 0, 2, 3, 4)


def augment(frames: torch.Tensor, train, rng: np.random.Generator) -> torch.Tensor:
    """The training recordings' augmentation of ``train:`` (``crop_padding``, ``flip``, ``rotation_deg``)."""
    frames = random_crop(frames, train.crop_padding, rng)
    if train.flip:
        frames = random_flip(frames, rng)
    if train.rotation_deg > 0:
        frames = random_rotation(frames, train.rotation_deg, rng)
    return frames
