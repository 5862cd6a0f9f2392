"""Events to frames (against tonic's ToFrame), resizing, normalisation and the appearance value channel."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tonic.io import events_struct
from tonic.transforms import ToFrame

from tmkt import config
from tmkt.data import frames
from tmkt.data.frames import FramePipeline, image_to_value, normalize, resize, to_frames


def random_stream(rng: np.random.Generator, n: int, sensor_size: tuple[int, int, int], t_max: int) -> np.ndarray:
    width, height, polarities = sensor_size
    events = np.empty(n, dtype=events_struct)
    events["x"] = rng.integers(0, width, n)
    events["y"] = rng.integers(0, height, n)
    events["t"] = np.sort(rng.integers(0, t_max, n))
    events["p"] = rng.integers(0, polarities, n)
    return events


def tonic_frames(events: np.ndarray, sensor_size: tuple[int, int, int], n_time_bins: int) -> np.ndarray:
    return ToFrame(sensor_size=sensor_size, n_time_bins=n_time_bins)(events.copy())


@pytest.mark.parametrize("sensor_size", [(34, 34, 2), (17, 9, 2), (5, 12, 2)])
@pytest.mark.parametrize("n_time_bins", [1, 3, 10])
@pytest.mark.parametrize("n_events", [1, 2, 57, 3000])
def test_to_frames_equals_tonic(sensor_size, n_time_bins, n_events):
    rng = np.random.default_rng([n_events, n_time_bins, *sensor_size])
    events = random_stream(rng, n_events, sensor_size, t_max=10_000)
    expected = tonic_frames(events, sensor_size, n_time_bins)
    got = to_frames(events, sensor_size, n_time_bins)
    assert got.shape == (n_time_bins, sensor_size[2], sensor_size[1], sensor_size[0])
    np.testing.assert_array_equal(got, expected)


def test_to_frames_equals_tonic_with_ties_at_the_first_and_last_timestamp():
    rng = np.random.default_rng(1)
    sensor_size = (8, 6, 2)
    events = random_stream(rng, 400, sensor_size, t_max=1_000)
    events["t"][:50] = 0  # many events share the first timestamp ...
    events["t"][-50:] = 1_000  # ... and the last, which tonic's half-open last bin leaves out
    for n_time_bins in (1, 4, 7, 1_000, 5_000):  # 5,000 bins: shorter than T microseconds, all empty
        np.testing.assert_array_equal(
            to_frames(events, sensor_size, n_time_bins), tonic_frames(events, sensor_size, n_time_bins)
        )
    assert to_frames(events, sensor_size, 4).sum() == 350  # the 50 events at t_last fall in no bin


def test_to_frames_counts_a_hand_made_stream():
    events = np.zeros(5, dtype=events_struct)
    events["x"], events["y"] = [0, 2, 2, 1, 0], [1, 0, 0, 1, 0]
    events["t"], events["p"] = [0, 10, 19, 20, 40], [1, 0, 0, 1, 1]
    frames = to_frames(events, (3, 2, 2), 2)  # bins [0, 20) and [20, 40); t = 40 falls in none
    expected = np.zeros((2, 2, 2, 3), dtype=int)
    expected[0, 1, 1, 0] = 1
    expected[0, 0, 0, 2] = 2
    expected[1, 1, 1, 1] = 1
    np.testing.assert_array_equal(frames, expected)


def test_to_frames_single_polarity_matches_tonic():
    rng = np.random.default_rng(2)
    events = random_stream(rng, 500, (10, 7, 2), t_max=5_000)
    events["p"] = True
    np.testing.assert_array_equal(to_frames(events, (10, 7, 1), 5), tonic_frames(events, (10, 7, 1), 5))
    events["p"][0] = False
    with pytest.raises(ValueError, match="one polarity"):
        to_frames(events, (10, 7, 1), 5)


def test_to_frames_of_an_empty_stream_is_zeros_in_t_p_h_w_order():
    frames = to_frames(np.zeros(0, dtype=events_struct), (7, 5, 2), 3)
    assert frames.shape == (3, 2, 5, 7)
    assert not frames.any()


@pytest.mark.parametrize(("field", "value"), [("x", 7), ("x", -1), ("y", 5), ("p", 2)])
def test_to_frames_rejects_events_outside_the_sensor(field, value):
    events = np.zeros(3, dtype=[("x", "<i2"), ("y", "<i2"), ("t", "<i8"), ("p", "<i1")])
    events["t"] = [0, 5, 9]
    events[field][1] = value
    with pytest.raises(ValueError, match=f"outside the sensor: {field}"):
        to_frames(events, (7, 5, 2), 2)


def test_to_frames_rejects_unsorted_events():
    events = np.zeros(3, dtype=events_struct)
    events["t"] = [0, 9, 5]
    with pytest.raises(ValueError, match="sorted by t"):
        to_frames(events, (7, 5, 2), 2)


def test_normalize_modes():
    counts = np.array([0, 1, 3, 4, 9], dtype=np.int32).reshape(1, 1, 1, 5)
    raw = normalize(counts, "raw", clip_max=4)
    assert raw.dtype == np.float32
    np.testing.assert_array_equal(raw.ravel(), [0, 1, 3, 4, 9])
    np.testing.assert_allclose(normalize(counts, "clip", clip_max=4).ravel(), [0, 0.25, 0.75, 1, 1])
    np.testing.assert_allclose(normalize(counts, "scale", clip_max=4).ravel(), [0, 1 / 9, 3 / 9, 4 / 9, 1])


def test_normalize_scale_is_per_sample_and_keeps_empty_samples_zero():
    batch = np.zeros((2, 2, 2, 3, 3), dtype=np.int32)  # (B, T, P, H, W)
    batch[0, 0, 0, 0, 0], batch[0, 1, 1, 2, 2] = 2, 8
    scaled = normalize(batch, "scale", clip_max=4)
    assert scaled[0, 0, 0, 0, 0] == pytest.approx(0.25) and scaled[0, 1, 1, 2, 2] == 1
    assert not scaled[1].any() and not np.isnan(scaled).any()
    with pytest.raises(ValueError, match="unknown frame normalisation"):
        normalize(batch, "log", clip_max=4)


def test_resize_area_shrink_preserves_the_mean():
    rng = np.random.default_rng(3)
    frames = rng.poisson(2.0, (4, 2, 34, 34)).astype(np.float32)
    half = resize(frames, (17, 17))
    assert isinstance(half, np.ndarray) and half.shape == (4, 2, 17, 17)
    np.testing.assert_allclose(half.mean(axis=(-2, -1)), frames.mean(axis=(-2, -1)), rtol=1e-5)
    np.testing.assert_allclose(half[0, 0, 0, 0], frames[0, 0, :2, :2].mean(), rtol=1e-6)


def test_resize_enlarges_bilinearly_and_keeps_equal_sizes():
    tensor = torch.arange(4, dtype=torch.float32).reshape(1, 2, 2)
    big = resize(tensor, (4, 4))
    assert isinstance(big, torch.Tensor) and big.shape == (1, 4, 4)
    # align_corners=False: output pixel 1 samples the input at 0.25, between 0 and 1.
    assert big[0, 0, :].tolist() == pytest.approx([0.0, 0.25, 0.75, 1.0])
    assert resize(tensor, (2, 2)) is tensor
    with pytest.raises(ValueError, match="floating point"):
        resize(np.zeros((3, 3), dtype=np.int32), (2, 2))


def test_image_to_value_rgb_and_grey():
    rgb = np.array([[[10, 200, 30], [255, 0, 0]], [[0, 0, 0], [40, 40, 41]]], dtype=np.uint8)
    value = image_to_value(rgb)
    assert value.dtype == np.float32
    np.testing.assert_allclose(value, np.array([[200, 255], [0, 41]]) / 255, rtol=1e-6)
    np.testing.assert_allclose(image_to_value(np.array([[0, 51]], dtype=np.uint8)), [[0.0, 0.2]], rtol=1e-6)
    with pytest.raises(ValueError, match="uint8"):
        image_to_value(rgb.astype(np.float32))


def test_frame_max_normalises_every_bin_and_polarity_by_its_own_peak():
    counts = np.zeros((1, 2, 2, 3, 3), np.float32)
    counts[0, 0, 0, 1, 1], counts[0, 0, 1, 0, 0], counts[0, 1, 0, 2, 2] = 4.0, 2.0, 8.0
    counts[0, 0, 0, 0, 0] = 1.0
    out = frames.normalize(counts, "frame_max", clip_max=4)
    assert out[0, 0, 0, 1, 1] == 1.0 and out[0, 0, 0, 0, 0] == 0.25 and out[0, 0, 1, 0, 0] == 1.0
    assert out[0, 1, 0, 2, 2] == 1.0 and not out[0, 1, 1].any()  # an empty frame stays empty


def test_bilinear_resize_aligns_corners_and_subsamples():
    grid = np.arange(16, dtype=np.float32).reshape(4, 4)
    out = frames.resize(grid, (2, 2), "bilinear")
    assert out.tolist() == [[0.0, 3.0], [12.0, 15.0]]  # the corners, unaveraged
    assert frames.resize(grid, (2, 2)).tolist() == [[2.5, 4.5], [10.5, 12.5]]  # area: block means
    with pytest.raises(ValueError, match="resize mode"):
        frames.resize(grid, (2, 2), "nearest")


@pytest.mark.parametrize("norm", ["raw", "clip", "scale", "frame_max"])
@pytest.mark.parametrize("mode", ["area", "bilinear"])
def test_the_frame_pipeline_equals_its_three_calls(norm, mode):
    """FramePipeline is to_frames, resize and normalize one after another, on a given sensor or the recording's
    own extent."""
    rng = np.random.default_rng(3)
    events = np.zeros(400, dtype=events_struct)
    events["x"], events["y"] = rng.integers(0, 34, 400), rng.integers(0, 30, 400)
    events["t"], events["p"] = np.sort(rng.integers(0, 10_000, 400)), rng.integers(0, 2, 400)
    pipeline = FramePipeline(time_bins=5, size=(16, 12), resize_mode=mode, norm=norm, clip_max=3)
    for sensor in ((34, 34, 2), None):
        extent = sensor or (int(events["x"].max()) + 1, int(events["y"].max()) + 1, 2)
        expected = normalize(resize(to_frames(events, extent, 5).astype(np.float32), (16, 12), mode), norm, 3)
        got = pipeline(events, sensor)
        assert got.shape == (5, 2, 16, 12) and got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    data = config.defaults().data
    assert FramePipeline.of(data) == FramePipeline(data.time_bins, (data.height, data.width), data.resize,
                                                   data.frame_norm, data.clip_max)
