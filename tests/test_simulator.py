"""The ESIM-style simulator on tiny sensors: signal, polarity, thresholds, noise, refractory, determinism."""

from __future__ import annotations

import numpy as np
import pytest
from tonic.io import events_struct

from tmkt import config
from tmkt.config import SimulatorConfig
from tmkt.data.datasets.simulator import make_sensor, record_image, simulate, simulate_many

NOISELESS = dict(log_noise_std=0.0, background_rate_hz=0.0, hot_pixels=0)


def small_config(**changes) -> SimulatorConfig:
    base = dict(canvas=16, saccade_ms=30.0, step_ms=1.0, amplitude_px=4.0, refractory_us=0.0)
    return config.section("simulator", **{**base, **changes})


def blob_image(seed: int = 0, size: int = 10) -> np.ndarray:
    """A smooth random grey image with strong edges (values 0..255)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size))
    image[2:-2, 2:-2] = rng.uniform(0.3, 1.0, (size - 4, size - 4))
    return (image * 255).astype(np.uint8)


def rng_for(index: int, seed: int = 0) -> np.random.Generator:
    return np.random.default_rng([seed, index])


def test_no_events_without_brightness_change():
    still = small_config(amplitude_px=0.0, **NOISELESS)
    assert len(simulate(blob_image(), still, rng_for(0))) == 0
    # A moving image that equals the dark background everywhere changes nothing either.
    moving_dark = small_config(**NOISELESS)
    assert len(simulate(np.zeros((10, 10), np.uint8), moving_dark, rng_for(0))) == 0
    assert len(simulate(blob_image(), moving_dark, rng_for(0))) > 0


def test_polarity_follows_the_moving_edges():
    # A bright bar 4 px wide and taller than the sensor: the y part of the motion changes nothing. Its left
    # edge starts at o_x = (16 - 4 - 4) / 2 = 4, so it lights columns 4..7; saccade 1 moves it by +4 in x.
    cfg = small_config(**NOISELESS)
    bar = np.ones((40, 4))
    events = simulate(bar, cfg, rng_for(0))
    saccade_us = int(cfg.saccade_ms * 1000)
    first, second, third = (
        events[events["t"] < saccade_us],
        events[(events["t"] > saccade_us) & (events["t"] < 2 * saccade_us)],
        events[events["t"] > 2 * saccade_us],
    )
    # Saccade 1 (bar moves right): the leading columns 8..11 brighten (ON), the trailing 4..7 darken (OFF).
    assert set(first["x"][first["p"]]) == {8, 9, 10, 11}
    assert set(first["x"][~first["p"]]) == {4, 5, 6, 7}
    # Saccade 2 (bar moves back left): the reverse.
    assert set(second["x"][second["p"]]) == {4, 5, 6, 7}
    assert set(second["x"][~second["p"]]) == {8, 9, 10, 11}
    # Saccade 3 moves only in y, along the bar: nothing changes.
    assert len(third) == 0


def _saccades(events, cfg):
    saccade_us = int(cfg.saccade_ms * 1000)
    return [events[(events["t"] >= i * saccade_us) & (events["t"] < (i + 1) * saccade_us)] for i in range(3)]


def test_the_exchanged_path_moves_along_x_where_the_default_moves_along_y():
    # The tall bar of the test above: saccade 3 moves only in y along the default path (nothing changes) and
    # only in x along the exchanged one (A -> 0: the bar moves left by 4 px).
    bar = np.ones((40, 4))
    for path, third_fires in (("xy", False), ("yx", True)):
        third = _saccades(simulate(bar, small_config(path=path, **NOISELESS), rng_for(0)), small_config())[2]
        assert (len(third) > 0) == third_fires
    # a wide bar is the mirror case: the exchanged path's saccade 3 moves along it
    wide = np.ones((4, 40))
    assert len(_saccades(simulate(wide, small_config(path="yx", **NOISELESS), rng_for(0)), small_config())[2]) == 0


def test_darkening_polarity_puts_on_events_on_the_trailing_edge():
    cfg = small_config(polarity="darkening", **NOISELESS)
    first = _saccades(simulate(np.ones((40, 4)), cfg, rng_for(0)), cfg)[0]
    assert set(first["x"][first["p"]]) == {4, 5, 6, 7}  # trailing columns: ON
    assert set(first["x"][~first["p"]]) == {8, 9, 10, 11}


def test_a_saccade_moves_only_in_its_moving_fraction_and_minimum_jerk_peaks_in_the_middle():
    cfg = small_config(saccade_ms=40.0, moving_fraction=0.5, speed_profile="minimum_jerk", **NOISELESS)
    events = simulate(blob_image(size=10), cfg, rng_for(0))
    phase = (events["t"] / 1000.0 % cfg.saccade_ms) / cfg.saccade_ms  # position within the saccade, 0..1
    step = cfg.step_ms / cfg.saccade_ms
    assert len(events) > 0 and ((phase >= 0.25 - step) & (phase <= 0.75 + step)).all()
    middle = ((phase >= 0.375) & (phase < 0.625)).sum()
    assert middle > len(events) - middle  # the bell: more than half the events in the middle half of the motion
    constant = small_config(saccade_ms=40.0, moving_fraction=0.5, **NOISELESS)
    phase = (simulate(blob_image(size=10), constant, rng_for(0))["t"] / 1000.0 % 40.0) / 40.0
    assert ((phase >= 0.375) & (phase < 0.625)).mean() < middle / len(events)


def test_default_motion_is_piecewise_linear_through_the_vertices():
    from tmkt.data.datasets.simulator import _path_times

    times = np.arange(0.0, 90.01, 0.5)
    assert _path_times(times, small_config()) is times  # constant speed over the whole saccade: t itself
    warped = _path_times(times, small_config(moving_fraction=0.5, speed_profile="minimum_jerk"))
    assert np.all(np.diff(warped) >= 0) and warped[0] == 0 and warped[-1] == 90.0
    # at rest in the first quarter of every saccade (t = 0, 5; 30, 35; 60, 65 ms)
    assert np.allclose(warped[[0, 10, 60, 70, 120, 130]], [0.0, 0.0, 30.0, 30.0, 60.0, 60.0])


def test_a_recording_of_a_large_rgb_image_fits_the_canvas_and_is_repeatable():
    cfg = small_config()
    image = np.zeros((60, 90, 3), np.uint8)
    image[20:40, 30:60, 1] = 255  # a green block: the value channel sees it
    events = record_image(image, cfg, 3)
    assert len(events) > 0 and events["x"].max() < cfg.canvas and events["y"].max() < cfg.canvas
    assert np.array_equal(events, record_image(image, cfg, 3))
    assert not np.array_equal(events, record_image(image, cfg, 4))


def test_event_count_falls_as_the_threshold_rises():
    counts = [
        len(simulate(blob_image(), small_config(threshold_on=c, threshold_off=c, **NOISELESS), rng_for(0)))
        for c in (0.1, 0.2, 0.4, 0.8)
    ]
    assert counts[0] > counts[1] > counts[2] > counts[3] > 0


def test_same_seed_same_events_and_different_seeds_differ():
    cfg = small_config(refractory_us=300.0, hot_pixels=2, background_rate_hz=20.0)
    first = simulate(blob_image(), cfg, rng_for(0))
    np.testing.assert_array_equal(first, simulate(blob_image(), cfg, rng_for(0)))
    other = simulate(blob_image(), cfg, rng_for(1))
    assert len(first) != len(other) or not np.array_equal(first, other)
    # uint8 and float images describe the same scene.
    np.testing.assert_array_equal(first, simulate(blob_image() / 255.0, cfg, rng_for(0)))


def test_output_dtype_order_and_time_range():
    cfg = small_config(hot_pixels=3, background_rate_hz=50.0, log_noise_std=0.05)
    events = simulate(blob_image(), cfg, rng_for(0))
    assert events.dtype == np.dtype(events_struct)
    assert len(events) > 0
    assert np.all(np.diff(events["t"]) >= 0)
    assert events["t"].min() >= 0 and events["t"].max() < 3 * cfg.saccade_ms * 1000
    assert events["x"].min() >= 0 and events["x"].max() < cfg.canvas
    assert events["y"].min() >= 0 and events["y"].max() < cfg.canvas


def greedy_refractory(events: np.ndarray, refractory_us: float) -> np.ndarray:
    """Reference: per pixel in time order, keep an event iff it is t_ref after the last kept one."""
    kept = []
    for pixel in {(int(x), int(y)) for x, y in zip(events["x"], events["y"], strict=True)}:
        mine = events[(events["x"] == pixel[0]) & (events["y"] == pixel[1])]
        last = None
        for event in mine[np.argsort(mine["t"], kind="stable")]:
            if last is None or event["t"] - last >= refractory_us:
                kept.append(event)
                last = event["t"]
    return np.sort(np.array(kept, dtype=events_struct), order=["t", "x", "y", "p"])


def test_refractory_period_is_respected_and_greedy():
    refractory_us = 2_000.0
    noisy = dict(hot_pixels=2, hot_pixel_rate_hz=2_000.0, background_rate_hz=30.0)
    free = simulate(blob_image(), small_config(**noisy), rng_for(0))
    dead = simulate(blob_image(), small_config(refractory_us=refractory_us, **noisy), rng_for(0))
    pixel = dead["y"].astype(int) * 16 + dead["x"]
    order = np.lexsort((dead["t"], pixel))
    same_pixel = pixel[order][1:] == pixel[order][:-1]
    assert np.all(np.diff(dead["t"][order])[same_pixel] >= refractory_us)
    free_pixel = free["y"].astype(int) * 16 + free["x"]
    free_order = np.lexsort((free["t"], free_pixel))
    free_same = free_pixel[free_order][1:] == free_pixel[free_order][:-1]
    assert np.any(np.diff(free["t"][free_order])[free_same] < refractory_us)  # the filter had work to do
    # The filter draws no randomness, so it must be exactly the greedy rule applied to the free stream.
    np.testing.assert_array_equal(np.sort(dead, order=["t", "x", "y", "p"]), greedy_refractory(free, refractory_us))


def test_hot_pixels_are_a_fixed_property_of_the_sensor():
    cfg = small_config(**{**NOISELESS, "hot_pixels": 3, "hot_pixel_rate_hz": 1_000.0})
    dark = np.zeros((10, 10), np.uint8)
    expected = make_sensor(cfg).hot_pixels
    duration_s = 3 * cfg.saccade_ms / 1000
    for index in (0, 1, 2):
        events = simulate(dark, cfg, rng_for(index))
        pixels, counts = np.unique(events["y"].astype(int) * cfg.canvas + events["x"], return_counts=True)
        np.testing.assert_array_equal(pixels, expected)
        mean = cfg.hot_pixel_rate_hz * duration_s
        assert np.all(np.abs(counts - mean) < 5 * np.sqrt(mean))
    other_sensor = make_sensor(small_config(hot_pixels=3, seed=1)).hot_pixels
    assert not np.array_equal(other_sensor, expected)


def test_background_activity_rate_and_polarity():
    cfg = small_config(log_noise_std=0.0, hot_pixels=0, background_rate_hz=100.0)
    events = simulate(np.zeros((10, 10), np.uint8), cfg, rng_for(0))
    mean = cfg.background_rate_hz * 3 * cfg.saccade_ms / 1000 * cfg.canvas**2
    assert abs(len(events) - mean) < 5 * np.sqrt(mean)
    assert abs(events["p"].mean() - 0.5) < 5 * 0.5 / np.sqrt(len(events))


def test_signal_keep_thins_signal_events_binomially():
    full = len(simulate(blob_image(), small_config(signal_keep=1.0, **NOISELESS), rng_for(0)))
    thinned = len(simulate(blob_image(), small_config(signal_keep=0.5, **NOISELESS), rng_for(0)))
    assert abs(thinned - full / 2) < 5 * np.sqrt(full / 4)


def test_threshold_mismatch_is_clipped_at_the_minimum():
    cfg = small_config(threshold_on=0.1, threshold_off=0.3, threshold_mismatch=0.1, threshold_min=0.05)
    sensor = make_sensor(cfg)
    assert sensor.threshold_on.min() == 0.05 and sensor.threshold_off.min() >= 0.05
    assert abs(np.median(sensor.threshold_off) - 0.3) < 0.03
    np.testing.assert_array_equal(make_sensor(cfg).threshold_on, sensor.threshold_on)


def test_simulate_many_is_independent_of_workers():
    cfg = small_config(hot_pixels=1, background_rate_hz=10.0)
    images = [blob_image(seed) for seed in range(4)]
    serial = simulate_many(images, cfg, workers=1, progress=False)
    parallel = simulate_many(images, cfg, workers=2, progress=False)
    assert len(serial) == len(parallel) == 4
    for index, (a, b) in enumerate(zip(serial, parallel, strict=True)):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, simulate(images[index], cfg, rng_for(index, cfg.seed)))
    assert not np.array_equal(serial[0], serial[1])


@pytest.mark.parametrize("image", [np.zeros((4, 4, 3), np.uint8), np.full((4, 4), 1.5), np.zeros((4, 4), np.int32)])
def test_bad_images_are_rejected(image):
    with pytest.raises(ValueError, match="image"):
        simulate(image, small_config(), rng_for(0))
