"""ESIM-style event-camera simulator: N-MNIST-like recordings of a static image moved in three saccades.

Scene. A grey image I(u, v) in [0, 1] of size h x w lies on an S x S sensor (S = ``canvas``) and moves
by the displacement d(t) = (d_x, d_y) through the vertices V_0 .. V_3 = (0, 0), (A, A/2), (0, A), (0, 0) at
t = 0, tau, 2 tau, 3 tau (A = ``amplitude_px``, tau = ``saccade_ms``; one saccade per triangle side; ``path: yx``
exchanges x and y: (0, 0), (A/2, A), (A, 0), (0, 0)). Within saccade i, at u = t / tau - i in [0, 1],

    d(t) = V_i + g(w) (V_{i+1} - V_i),     w = clip((u - (1 - f) / 2) / f, 0, 1),

with f = ``moving_fraction`` (the saccade moves during the middle f of its tau and rests before and after) and
g(w) = w (``speed_profile: constant``) or g(w) = 10 w^3 - 15 w^4 + 6 w^5 (``minimum_jerk``: speed rises and
falls smoothly, zero at both ends). At f = 1 and constant speed, d is piecewise linear in t. The
image's top-left corner is at o + d(t) with o = ((S - w - A)/2, (S - h - A)/2): the path's bounding box
[0, A]^2 is centred, so the image is centred at d = (A/2, A/2) and a 28 x 28 digit moved by A = 6 just
fills a 34 x 34 sensor, as in N-MNIST. Parts of the image moved off the sensor are cropped.

Rendering at t_k = min(k Delta, 3 tau), k = 0 .. K = ceil(3 tau / Delta) (Delta = ``step_ms``), with a
bilinear sub-pixel shift (zero outside the image), a dark floor f (``intensity_floor``) and log-noise:

    E_k(x, y) = bilinear I(x - o_x - d_x(t_k), y - o_y - d_y(t_k))
    L_k(x, y) = log(f + (1 - f) E_k(x, y)) + eps_k(x, y),      eps_k ~ N(0, sigma^2) i.i.d.

Sensor (fixed, drawn once from ``seed``, the same for every recording): per-pixel contrast thresholds
C+ = max(N(theta_on, m^2), c_min) and C- = max(N(theta_off, m^2), c_min), and ``hot_pixels`` pixel
locations.

Events. The reference starts at R_0 = L_0. At step k, with D = L_k - R_{k-1},

    n+ = floor(D / C+) if D > 0,     n- = floor(-D / C-) if D < 0,     R_k = R_{k-1} + n+ C+ - n- C-,

and the step emits n+ ON or n- OFF events (``polarity: brightening``; ``darkening`` exchanges the two, so that
ON events trail a bright moving edge, as N-MNIST's recordings are labelled: reports/studies/sensor). With L linear between rendered steps, the j-th of them
(j = 1 .. n) is at the crossing of the level l_j = R_{k-1} +- j C+-:

    t = t_{k-1} + (t_k - t_{k-1}) (l_j - L_{k-1}) / (L_k - L_{k-1}),     floored to integer microseconds.

Each signal event is kept with probability ``signal_keep`` (sensor sensitivity). Noise: every pixel fires
background activity, Poisson(r_bg 3 tau) events with uniform times; every hot pixel fires
Poisson(r_hot 3 tau) events; noise polarity is ON or OFF with probability 1/2.

Refractory period t_ref (``refractory_us``). Per pixel, in time order over all its events (signal and
noise: a dead pixel fires nothing), an event is emitted iff t - t_last >= t_ref, t_last being the
pixel's last *emitted* event; a dropped event does not restart the dead time, nor does a thinned one.
The reference still moves by n C for dropped events: the change that arrives while the pixel is dead is
lost, not fired later (|L_k - R_k| < C stays true, so a pixel never owes a backlog of events).

Output: tonic's ``events_struct`` sorted by t, t in [0, 3 tau 1000) microseconds. Recording i of
:func:`simulate_many` draws everything but the sensor from ``np.random.default_rng([seed, i])``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from tmkt.config import SimulatorConfig
from tmkt.parallel import map_in_processes
from tmkt.data.datasets.base import as_events

#: Spawn key of the sensor's random stream. ``default_rng([seed, 0])`` equals ``default_rng(seed)``
#: (trailing zero words do not change numpy's seed), so a plain ``default_rng(seed)`` sensor would share
#: its stream with recording 0; a spawn key keeps the two apart.
_SENSOR_STREAM = 0x5E5
#: Spawn key of the recordings of images (:func:`record_image`): apart from the sensor's and from the
#: ``default_rng([seed, i])`` streams of ``mnist_sim``'s recordings, so the two recordings of a digit differ.
_IMAGE_STREAM = 0x1A6E

@dataclass(frozen=True)
class Sensor:
    """Fixed properties of the simulated sensor, indexed by flat pixel y * S + x."""

    threshold_on: np.ndarray  #: (S*S,) ON contrast thresholds
    threshold_off: np.ndarray  #: (S*S,) OFF contrast thresholds
    hot_pixels: np.ndarray  #: (hot_pixels,) flat indices of the hot pixels


def make_sensor(cfg: SimulatorConfig) -> Sensor:
    """The sensor of ``cfg``: thresholds with mismatch and hot-pixel locations, drawn from ``cfg.seed``."""
    n_pixels = cfg.canvas * cfg.canvas
    if cfg.hot_pixels > n_pixels:
        raise ValueError(f"simulator.hot_pixels = {cfg.hot_pixels} exceeds the {n_pixels} pixels of the sensor")
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(_SENSOR_STREAM,)))
    threshold_on = np.maximum(rng.normal(cfg.threshold_on, cfg.threshold_mismatch, n_pixels), cfg.threshold_min)
    threshold_off = np.maximum(rng.normal(cfg.threshold_off, cfg.threshold_mismatch, n_pixels), cfg.threshold_min)
    hot_pixels = np.sort(rng.choice(n_pixels, size=cfg.hot_pixels, replace=False))
    return Sensor(threshold_on, threshold_off, hot_pixels)


def simulate(image: np.ndarray, cfg: SimulatorConfig, rng: np.random.Generator) -> np.ndarray:
    """One recording of ``image`` ((h, w) uint8 0..255 or float 0..1) as tonic events sorted by t."""
    sensor = make_sensor(cfg)
    duration_us = 3.0 * cfg.saccade_ms * 1000.0
    last_us = math.ceil(duration_us) - 1
    times_ms = _render_times(3.0 * cfg.saccade_ms, cfg.step_ms)
    log_frames = _log_intensity(_as_unit_image(image), cfg, times_ms, rng)

    pixel, on, t_ms = _signal_events(log_frames, times_ms, sensor)
    if cfg.polarity == "darkening":
        on = ~on
    t_us = np.minimum(np.floor(t_ms * 1000.0).astype(np.int64), last_us)
    kept = rng.random(len(t_us)) < cfg.signal_keep
    noise_pixel, noise_on, noise_t = _noise_events(sensor, cfg, duration_us, rng)
    pixel = np.concatenate([pixel[kept], noise_pixel])
    on = np.concatenate([on[kept], noise_on])
    t_us = np.concatenate([t_us[kept], np.minimum(noise_t, last_us)])

    if cfg.refractory_us > 0:
        emitted = _refractory_mask(pixel, t_us, cfg.refractory_us)
        pixel, on, t_us = pixel[emitted], on[emitted], t_us[emitted]
    order = np.argsort(t_us, kind="stable")
    pixel = pixel[order]
    return as_events(pixel % cfg.canvas, pixel // cfg.canvas, t_us[order], on[order])


def simulate_many(
    images: Iterable[np.ndarray], cfg: SimulatorConfig, workers: int = 1, progress: bool = True
) -> list[np.ndarray]:
    """Recordings of ``images``; recording i uses ``default_rng([cfg.seed, i])``, so the result does not depend
    on ``workers`` (processes when > 1, :func:`tmkt.parallel.map_in_processes`). ``progress`` logs progress lines."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    jobs = list(enumerate(images))
    chunk = max(1, min(64, len(jobs) // (8 * workers)))
    return map_in_processes(_simulate_job, jobs, workers, shared=cfg, chunksize=chunk, progress=progress,
                            label="simulate")


def record_image(image: np.ndarray, cfg: SimulatorConfig, index: int) -> np.ndarray:
    """A recording of a dataset's image (the sim-to-real stream): its value channel (grey, or the max over RGB),
    shrunk if needed to fit the saccades' reach, ``canvas - amplitude_px`` pixels, keeping its aspect ratio; drawn
    from the stream ``(seed, _IMAGE_STREAM, index)``."""
    from tmkt.data.frames import image_to_value, resize

    value = image_to_value(image)
    reach = cfg.canvas - cfg.amplitude_px
    scale = min(1.0, reach / max(value.shape))
    if scale < 1.0:
        size = (max(1, math.floor(value.shape[0] * scale)), max(1, math.floor(value.shape[1] * scale)))
        value = np.clip(resize(value, size), 0.0, 1.0)
    rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(_IMAGE_STREAM, index)))
    return simulate(value, cfg, rng)


def _simulate_job(cfg: SimulatorConfig, job: tuple[int, np.ndarray]) -> np.ndarray:
    index, image = job
    return simulate(image, cfg, np.random.default_rng([cfg.seed, index]))


def _as_unit_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"image must be a grey (h, w) array, got shape {image.shape}")
    if image.dtype == np.uint8:
        return (image / 255.0).astype(np.float32)
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"image must be uint8 (0..255) or float (0..1), got {image.dtype}")
    if image.size and not (image.min() >= 0 and image.max() <= 1):
        raise ValueError(f"float image must lie in [0, 1], got [{image.min():g}, {image.max():g}]")
    return image.astype(np.float32)


def _render_times(duration_ms: float, step_ms: float) -> np.ndarray:
    """t_k = min(k Delta, 3 tau) for k = 0 .. K (the tolerance keeps K = 3 tau / Delta when it divides)."""
    n_steps = max(1, math.ceil(duration_ms / step_ms - 1e-9))
    return np.minimum(np.arange(n_steps + 1) * step_ms, duration_ms)


def _log_intensity(
    image: np.ndarray, cfg: SimulatorConfig, times_ms: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """L_k of every rendered step, shape (K + 1, S * S), in float32 (the per-pixel step loop runs in float64)."""
    amplitude, saccade = cfg.amplitude_px, cfg.saccade_ms
    vertex_times = [0.0, saccade, 2 * saccade, 3 * saccade]
    path_times = _path_times(times_ms, cfg)
    shift_x = np.interp(path_times, vertex_times, [0.0, amplitude, 0.0, 0.0])
    shift_y = np.interp(path_times, vertex_times, [0.0, amplitude / 2, amplitude, 0.0])
    if cfg.path == "yx":
        shift_x, shift_y = shift_y, shift_x
    height, width = image.shape
    rows = _shift_matrices((cfg.canvas - height - amplitude) / 2 + shift_y, cfg.canvas, height)
    cols = _shift_matrices((cfg.canvas - width - amplitude) / 2 + shift_x, cfg.canvas, width)
    frames = rows @ image @ cols.transpose(0, 2, 1)  # (K + 1, S, S): separable bilinear
    frames = frames.reshape(len(times_ms), -1)
    floor = np.float32(cfg.intensity_floor)
    log_frames = np.log(floor + (1 - floor) * frames)
    noise = rng.standard_normal(log_frames.shape, dtype=np.float32)
    noise *= np.float32(cfg.log_noise_std)
    log_frames += noise
    return log_frames


def _path_times(times_ms: np.ndarray, cfg: SimulatorConfig) -> np.ndarray:
    """i tau + g(w) tau for every rendered t (module docstring): the time at which constant-speed motion along the
    triangle is where the configured motion is at t. Constant speed over the whole saccade returns t itself."""
    if cfg.speed_profile == "constant" and cfg.moving_fraction == 1.0:
        return times_ms
    tau, f = cfg.saccade_ms, cfg.moving_fraction
    side = np.minimum(np.floor(times_ms / tau), 2.0)
    w = np.clip((times_ms / tau - side - (1.0 - f) / 2.0) / f, 0.0, 1.0)
    g = w if cfg.speed_profile == "constant" else w**3 * (10.0 - 15.0 * w + 6.0 * w**2)
    return (side + g) * tau


def _shift_matrices(offsets: np.ndarray, size_out: int, size_in: int) -> np.ndarray:
    """(K + 1, size_out, size_in) bilinear weights: output i samples the input at i - offsets[k]."""
    source = np.arange(size_out)[None, :] - offsets[:, None]
    left = np.floor(source).astype(np.intp)
    right_weight = source - left
    # Columns 0 and size_in + 1 pad the input on both sides; samples off the image land there and are dropped.
    weights = np.zeros((len(offsets), size_out, size_in + 2), dtype=np.float32)
    step, out = np.indices(source.shape)
    weights[step, out, np.clip(left, -1, size_in) + 1] = 1.0 - right_weight
    weights[step, out, np.clip(left + 1, -1, size_in) + 1] = right_weight
    return weights[:, :, 1:-1]


def _noise_events(
    sensor: Sensor, cfg: SimulatorConfig, duration_us: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat pixel, polarity and time (us) of background activity on every pixel and of the hot pixels."""
    duration_s = duration_us * 1e-6
    n_pixels = cfg.canvas * cfg.canvas
    pixel = np.concatenate(
        [
            np.repeat(np.arange(n_pixels), rng.poisson(cfg.background_rate_hz * duration_s, n_pixels)),
            np.repeat(sensor.hot_pixels, rng.poisson(cfg.hot_pixel_rate_hz * duration_s, len(sensor.hot_pixels))),
        ]
    )
    t_us = np.floor(rng.random(len(pixel)) * duration_us).astype(np.int64)
    on = rng.random(len(pixel)) < 0.5
    return pixel, on, t_us


def _signal_events(
    log_frames: np.ndarray, times_ms: np.ndarray, sensor: Sensor
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Flat pixel, polarity and time (ms) of every threshold crossing (module docstring).

    A pixel whose log intensity never spans its smaller threshold keeps R = L_0 and never fires; only the
    others enter the step loop. With C = C+ for a rise and C- for a fall, n = trunc((L_k - R) / C).
    """
    span = log_frames.max(axis=0) - log_frames.min(axis=0)
    active = np.flatnonzero(span >= np.minimum(sensor.threshold_on, sensor.threshold_off))
    levels = log_frames[:, active].astype(np.float64)
    on_threshold, off_threshold = sensor.threshold_on[active], sensor.threshold_off[active]
    n_steps = len(times_ms) - 1
    references = np.empty((n_steps + 1, len(active)))
    counts = np.empty((n_steps, len(active)))
    references[0] = levels[0]
    for k in range(n_steps):
        change = levels[k + 1] - references[k]
        threshold = np.where(change > 0, on_threshold, off_threshold)
        counts[k] = np.trunc(change / threshold)
        references[k + 1] = references[k] + counts[k] * threshold

    step, column = np.nonzero(counts)
    signed = counts[step, column].astype(np.int64)
    repeats = np.abs(signed)
    step, column = np.repeat(step, repeats), np.repeat(column, repeats)
    on = np.repeat(signed > 0, repeats)
    j = np.arange(len(step)) - np.repeat(np.cumsum(repeats) - repeats, repeats) + 1
    level = references[step, column] + j * np.where(on, on_threshold[column], -off_threshold[column])
    before, after = levels[step, column], levels[step + 1, column]
    crossing = np.clip((level - before) / (after - before), 0.0, 1.0)
    t_ms = times_ms[step] + crossing * (times_ms[step + 1] - times_ms[step])
    return active[column], on, t_ms


def _refractory_mask(pixel: np.ndarray, t_us: np.ndarray, refractory_us: float) -> np.ndarray:
    """Which events a pixel emits when it is dead for ``refractory_us`` after each emitted event.

    Sorted by (pixel, t), events closer than t_ref to their predecessor form chains; a chain's first event
    is always emitted, and the greedy rule runs over the chains in parallel, one chain position at a time.
    """
    order = np.lexsort((t_us, pixel))
    pixel_sorted, t_sorted = pixel[order], t_us[order]
    starts_chain = np.ones(len(order), dtype=bool)
    starts_chain[1:] = (pixel_sorted[1:] != pixel_sorted[:-1]) | (np.diff(t_sorted) >= refractory_us)
    chain = np.cumsum(starts_chain) - 1
    chain_first = np.flatnonzero(starts_chain)
    position = np.arange(len(order)) - chain_first[chain]
    last_emitted = t_sorted[chain_first].copy()
    emitted_sorted = starts_chain.copy()
    by_position = np.argsort(position, kind="stable")
    bounds = np.cumsum(np.bincount(position))
    for first, stop in zip(bounds[:-1], bounds[1:], strict=True):
        members = by_position[first:stop]
        ok = t_sorted[members] - last_emitted[chain[members]] >= refractory_us
        emitted_sorted[members] = ok
        last_emitted[chain[members[ok]]] = t_sorted[members[ok]]
    emitted = np.empty(len(order), dtype=bool)
    emitted[order] = emitted_sorted
    return emitted
