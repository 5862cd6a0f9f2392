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


def test_flip_and_rotation_act_on_whole_recordings_and_draw_nothing_when_off():
    from tmkt import config
    from tmkt.data.augment import augment, random_flip, random_rotation

    frames = torch.rand(3, 6, 2, 8, 8)
    flipped = random_flip(frames, np.random.default_rng(0))
    mirrored = [b for b in range(6) if torch.equal(flipped[:, b], frames[:, b].flip(-1))]
    kept = [b for b in range(6) if torch.equal(flipped[:, b], frames[:, b])]
    assert sorted(mirrored + kept) == list(range(6)) and mirrored and kept  # seed 0 flips some, not all
    # a square rotated by at most 15 degrees keeps its centre and its mass roughly; the same angle at every step
    square = torch.zeros(4, 5, 1, 16, 16)
    square[..., 5:11, 5:11] = 1.0
    rotated = random_rotation(square, 15.0, np.random.default_rng(1))
    assert torch.equal(rotated[0], rotated[3]) and rotated[..., 7:9, 7:9].eq(1).all()
    assert (rotated.sum(dim=(-1, -2)) - 36).abs().max() <= 8
    assert torch.equal(random_rotation(square, 0.0, np.random.default_rng(1)), square)
    # off (the default): only the crop draws, so runs without flip and rotation keep their random streams
    train = config.section("train")
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    assert torch.equal(augment(frames, train, a), random_crop(frames, train.crop_padding, b))
    assert a.random() == b.random()
