"""Events to frames, frame resizing and normalisation, and images to the appearance value channel.

Frames (``to_frames``)
    A recording with timestamps t_0 <= ... <= t_{N-1} is cut into T bins of equal integer width
    w = (t_{N-1} - t_0) // T (tonic's ``SliceByTimeBins`` with no overlap); bin k holds the events with
    t_0 + k w <= t < t_0 + (k + 1) w. Events at or after t_0 + T w fall in no bin (those at the last
    timestamp t_{N-1} never do), and a recording with t_{N-1} - t_0 < T (w = 0) gives empty frames, exactly
    as ``tonic.transforms.ToFrame(sensor_size, n_time_bins=T)`` does. The frame is the count

        F[k, p, y, x] = #{ events i in bin k : p_i = p, y_i = y, x_i = x },

    computed per bin with ``np.bincount`` over the pixel index (p H + y) W + x of the bin's events, which
    ``np.searchsorted`` finds in the sorted timestamps (tonic's own edges, so float timestamps match too).
    With P = 1 both polarities are counted in channel 0 provided the recording holds only one of them
    (tonic's rule). Counts are int32 (tonic uses int16, which wraps past 32,767 events per pixel and bin);
    an empty recording gives zeros of shape (T, P, H, W) (tonic returns (T, P, W, H) there).

Resizing (``resize``)
    Shrinking uses area averaging (``mode='area'``): every output pixel is the mean of the input pixels it
    covers, so the mean count per pixel is kept and no event is dropped between sample points, as plain
    bilinear sampling would when shrinking. Enlarging uses bilinear interpolation with
    ``align_corners=False`` (pixel centres aligned, no blocky nearest-neighbour copies). Equal sizes are
    returned unchanged.

Normalisation (``normalize``)
    raw: c;   clip: min(c, c_max) / c_max;   scale: c / max(c) per sample (max over T, P, H, W), 0 if max = 0;
    frame_max: c / max(c) per time bin and polarity (max over H, W), 0 if max = 0.

The pipeline (``FramePipeline``)
    One recording's frames as the convert stage writes them: ``normalize(resize(to_frames(e).astype(float32)))``,
    a callable object in the manner of tonic's transforms, built once from ``data:`` (``FramePipeline.of``).

Appearance value (``image_to_value``)
    The HSV value channel V = max(R, G, B) / 255 of an RGB image, or G / 255 of a grey one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import get_args

import numpy as np
import torch
import torch.nn.functional as F

from tmkt.config import DataConfig, FrameNorm, Resize

_EVENT_FIELDS = ("x", "y", "t", "p")


def to_frames(events: np.ndarray, sensor_size: tuple[int, int, int], n_time_bins: int) -> np.ndarray:
    """Event counts of shape (T, P, H, W) in T equal time bins; equal to tonic's ``ToFrame(n_time_bins=T)``.

    ``events`` is a structured array with fields x, y, t, p sorted by t; ``sensor_size`` is (W, H, P).
    """
    width, height, n_polarities = (int(s) for s in sensor_size)
    if min(width, height, n_polarities) < 1:
        raise ValueError(f"sensor_size must be (W, H, P) with positive entries, got {sensor_size}")
    if n_time_bins < 1:
        raise ValueError(f"n_time_bins must be >= 1, got {n_time_bins}")
    names = events.dtype.names or ()
    missing = [f for f in _EVENT_FIELDS if f not in names]
    if missing:
        raise ValueError(f"events must be a structured array with fields {_EVENT_FIELDS}; missing {missing}")
    frames = np.zeros((n_time_bins, n_polarities, height, width), dtype=np.int32)
    if len(events) == 0:
        return frames

    t = np.ascontiguousarray(events["t"])
    if np.any(t[1:] < t[:-1]):
        raise ValueError("events must be sorted by t (as tonic's time slicing assumes)")
    # tonic's SliceByTimeBins: bin k is [t_0 + k w, t_0 + k w + w) with w = (t_last - t_0) // T.
    bin_width = (t[-1] - t[0]) // n_time_bins
    bin_starts = np.arange(n_time_bins) * bin_width + t[0]
    first = np.searchsorted(t, bin_starts)
    stop = np.searchsorted(t, bin_starts + bin_width)

    pixel = _pixel_index(events, width, height, n_polarities)
    per_bin = frames.reshape(n_time_bins, -1)
    for k in range(n_time_bins):
        per_bin[k] = np.bincount(pixel[first[k] : stop[k]], minlength=per_bin.shape[1])
    return frames


def _pixel_index(events: np.ndarray, width: int, height: int, n_polarities: int) -> np.ndarray:
    """(p H + y) W + x per event in the narrowest unsigned dtype that holds it, after checking that every
    event lies on the sensor (narrow integers keep this memory-bound arithmetic fast)."""
    dtype = np.uint16 if n_polarities * height * width <= np.iinfo(np.uint16).max else np.uint32
    index = np.zeros(len(events), dtype=dtype)
    for name, size in (("p", n_polarities), ("y", height), ("x", width)):
        values = np.ascontiguousarray(events[name])
        low, high = values.min(), values.max()
        if name == "p" and size == 1:
            if low != high:
                raise ValueError("sensor_size has one polarity but the events hold both")
            continue
        if low < 0 or high >= size:
            raise ValueError(
                f"events outside the sensor: {name} spans [{low}, {high}], the sensor allows [0, {size - 1}]"
            )
        index *= dtype(size)
        np.add(index, values, out=index, casting="unsafe")
    return index


def resize(frames: np.ndarray | torch.Tensor, size: tuple[int, int], mode: str = "area") -> np.ndarray | torch.Tensor:
    """Resize the last two axes (H, W) of float frames to ``size`` = (H', W').

    ``mode`` "area": area when shrinking, else bilinear (if one axis grows, even while the other shrinks, the whole
    call is bilinear). "bilinear": bilinear with the corners aligned and no antialiasing, always (He et al.'s
    ``F.interpolate(..., mode="bilinear", align_corners=True)``: shrinking mostly subsamples).
    A numpy input gives a numpy output, a tensor gives a tensor.
    """
    out_h, out_w = (int(s) for s in size)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"size must be (H, W) with positive entries, got {size}")
    is_numpy = isinstance(frames, np.ndarray)
    tensor = torch.from_numpy(np.ascontiguousarray(frames)) if is_numpy else frames
    if tensor.ndim < 2:
        raise ValueError(f"frames must have at least 2 axes (..., H, W), got shape {tuple(tensor.shape)}")
    if not tensor.is_floating_point():
        raise ValueError(f"frames must be floating point, got {tensor.dtype}; normalize them first")
    in_h, in_w = tensor.shape[-2:]
    if (in_h, in_w) == (out_h, out_w):
        return frames
    lead = tensor.shape[:-2]
    flat = tensor.reshape(-1, 1, in_h, in_w)
    if mode == "bilinear":
        resized = F.interpolate(flat, size=(out_h, out_w), mode="bilinear", align_corners=True)
    elif mode != "area":
        raise ValueError(f"resize mode must be 'area' or 'bilinear', got {mode!r}")
    elif out_h <= in_h and out_w <= in_w:
        resized = F.interpolate(flat, size=(out_h, out_w), mode="area")
    else:
        resized = F.interpolate(flat, size=(out_h, out_w), mode="bilinear", align_corners=False)
    resized = resized.reshape(*lead, out_h, out_w)
    return resized.numpy() if is_numpy else resized


def normalize(frames: np.ndarray, mode: FrameNorm, clip_max: int) -> np.ndarray:
    """Event counts of shape (..., T, P, H, W) as float32 under ``mode`` (see the module docstring).

    For 'scale' the leading axes before (T, P, H, W) are samples; a single sample may have none.
    """
    counts = np.asarray(frames, dtype=np.float32)
    if mode == "raw":
        return counts
    if mode == "clip":
        if clip_max < 1:
            raise ValueError(f"clip_max must be >= 1, got {clip_max}")
        return np.minimum(counts, np.float32(clip_max)) / np.float32(clip_max)
    if mode == "scale":
        if counts.ndim < 4:
            raise ValueError(f"'scale' needs frames of shape (..., T, P, H, W), got shape {counts.shape}")
        peak = counts.max(axis=(-4, -3, -2, -1), keepdims=True)
        return np.divide(counts, peak, out=np.zeros_like(counts), where=peak > 0)
    if mode == "frame_max":
        peak = counts.max(axis=(-2, -1), keepdims=True)
        return np.divide(counts, peak, out=np.zeros_like(counts), where=peak > 0)
    raise ValueError(f"unknown frame normalisation {mode!r}; expected one of {get_args(FrameNorm)}")


def image_to_value(image: np.ndarray) -> np.ndarray:
    """The HSV value channel in [0, 1] as float32: max over RGB / 255 for (H, W, 3) uint8, grey / 255 for (H, W)."""
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"image must be uint8 (0..255), got {image.dtype}")
    if image.ndim == 3 and image.shape[-1] == 3:
        return image.max(axis=-1).astype(np.float32) / np.float32(255)
    if image.ndim == 2:
        return image.astype(np.float32) / np.float32(255)
    raise ValueError(f"image must be (H, W) grey or (H, W, 3) RGB, got shape {image.shape}")


@dataclass(frozen=True)
class FramePipeline:
    """Events -> float32 frames (T, P, H, W): ``to_frames`` into ``time_bins`` bins, ``resize`` to ``size`` = (H, W)
    by ``resize_mode``, ``normalize`` by ``norm`` (``clip_max`` for 'clip'); a tonic-style transform.

    ``pipeline(events, sensor_size)`` bins on ``sensor_size`` (W, H, P); ``None`` bins on the recording's own extent,
    (max x + 1, max y + 1, 2). The result equals the three calls made one after the other.
    """

    time_bins: int
    size: tuple[int, int]
    resize_mode: Resize = "area"
    norm: FrameNorm = "raw"
    clip_max: int = 1

    @classmethod
    def of(cls, data: DataConfig) -> "FramePipeline":
        """The pipeline of the ``data:`` parameters (``time_bins``, ``height``, ``width``, ``resize``,
        ``frame_norm``, ``clip_max``)."""
        return cls(data.time_bins, (data.height, data.width), data.resize, data.frame_norm, data.clip_max)

    def __call__(self, events: np.ndarray, sensor_size: tuple[int, int, int] | None = None) -> np.ndarray:
        sensor = sensor_size or (int(events["x"].max()) + 1, int(events["y"].max()) + 1, 2)
        counts = to_frames(events, sensor, self.time_bins).astype(np.float32)
        return normalize(resize(counts, self.size, self.resize_mode), self.norm, self.clip_max)
