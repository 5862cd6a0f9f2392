"""Decoding of the ATIS ``.bin`` recordings (N-MNIST, N-Caltech101); the checks every event reader applies are
:func:`tmkt.data.datasets.base.check_events`.

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

from tmkt.data.datasets.base import DatasetError, check_events, file_size

ATIS_RECORD_BYTES = 5


def read_atis_bin(path: Path, sensor_size: tuple[int, int, int]) -> np.ndarray:
    """The events of one ATIS ``.bin`` file as ``events_struct`` (p: True = ON), checked against the sensor."""
    path = Path(path)
    size = file_size(path)
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
