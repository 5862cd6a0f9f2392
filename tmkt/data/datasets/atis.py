"""Decoding of the ATIS ``.bin`` recordings (N-MNIST, N-Caltech101) and the checks every event reader applies.

Format (Orchard et al. 2015, "Converting static image datasets to spiking neuromorphic datasets using
saccades"; garrickorchard.com/datasets/n-mnist): one event is 5 bytes = 40 bits, most significant first::

    bits 39-32  x (pixels)
    bits 31-24  y (pixels)
    bit  23     polarity (0 = OFF, 1 = ON)
    bits 22-0   timestamp (microseconds)

A record with ``y == 240`` is not an event but a timestamp-overflow marker: every later timestamp is
increased by 2**13 (the rule of Orchard's reference reader, which ``tonic.io.read_mnist_file`` implements
and this module calls). Timestamps are returned as stored: the recording's own clock, not shifted to 0.

A decoded recording must be non-empty, have non-decreasing timestamps and lie inside the sensor
(``0 <= x < W``, ``0 <= y < H``); anything else raises :class:`~tmkt.data.datasets.base.DatasetError` naming
the file, as does a file whose size is not a multiple of 5 bytes (truncated or not an ATIS file).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tonic.io import events_struct, read_mnist_file

from tmkt.data.datasets.base import DatasetError

ATIS_RECORD_BYTES = 5


def check_events(events: np.ndarray, path: Path, sensor_size: tuple[int, int, int]) -> np.ndarray:
    """``events`` unchanged if non-empty, time-ordered and inside the (W, H, 2) sensor; else DatasetError."""
    width, height, _ = sensor_size
    if len(events) == 0:
        raise DatasetError(f"{path}: the recording holds no events (empty or truncated file)")
    backwards = np.flatnonzero(np.diff(events["t"]) < 0)
    if len(backwards):
        i = int(backwards[0])
        raise DatasetError(
            f"{path}: timestamps go backwards at event {i + 1} "
            f"({events['t'][i]} -> {events['t'][i + 1]} us); expected non-decreasing timestamps"
        )
    outside = (events["x"] < 0) | (events["x"] >= width) | (events["y"] < 0) | (events["y"] >= height)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise DatasetError(
            f"{path}: event {i} at (x={events['x'][i]}, y={events['y'][i]}) lies outside the "
            f"{width}x{height} sensor"
        )
    return events


def read_atis_bin(path: Path, sensor_size: tuple[int, int, int]) -> np.ndarray:
    """The events of one ATIS ``.bin`` file as ``events_struct`` (p: True = ON), checked against the sensor."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the recording ({exc})") from exc
    if size % ATIS_RECORD_BYTES:
        raise DatasetError(
            f"{path}: {size} bytes is not a multiple of {ATIS_RECORD_BYTES}; "
            "expected ATIS 40-bit events (truncated or not an N-MNIST/N-Caltech101 file)"
        )
    try:
        events = read_mnist_file(str(path), dtype=events_struct)
    except Exception as exc:  # any decoder failure is a bad file
        raise DatasetError(f"{path}: cannot decode as ATIS 40-bit events ({exc})") from exc
    return check_events(events, path, sensor_size)
