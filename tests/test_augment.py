"""He et al.'s random crop with padding on the training recordings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tmkt.data.augment import random_crop


def test_a_crop_shifts_each_recording_by_one_offset_at_every_step():
    frames = torch.arange(2 * 3 * 2 * 5 * 5, dtype=torch.float32).view(2, 3, 2, 5, 5) + 1  # no zeros inside
    out = random_crop(frames, 1, np.random.default_rng(0))
    assert out.shape == frames.shape
    padded = torch.nn.functional.pad(frames, (1, 1, 1, 1))
    for b in range(3):
        hits = [(i, j) for i in range(3) for j in range(3) if torch.equal(out[:, b], padded[:, b, :, i:i + 5, j:j + 5])]
        assert len(hits) == 1  # one offset for the whole recording: every step and channel moved alike


def test_offsets_vary_over_recordings_and_follow_the_generator():
    frames = torch.rand(2, 64, 2, 6, 6) + 0.5
    a = random_crop(frames, 2, np.random.default_rng(3))
    assert torch.equal(a, random_crop(frames, 2, np.random.default_rng(3)))
    moved = [not torch.equal(a[:, b], frames[:, b]) for b in range(64)]
    assert 0 < sum(moved) < 64  # the centre offset (no shift) is one of 25


def test_no_padding_is_the_identity_and_bad_input_is_named():
    frames = torch.rand(2, 3, 2, 4, 4)
    assert random_crop(frames, 0, np.random.default_rng(0)) is frames
    with pytest.raises(ValueError, match="padding"):
        random_crop(frames, -1, np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\(T, B, C, H, W\)"):
        random_crop(frames[0], 1, np.random.default_rng(0))
