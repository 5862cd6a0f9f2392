"""The data model shared by every dataset source.

A *source* lists two kinds of items: event recordings and static images, each with a class name and,
where known, a ``pair_key``: the identity of the image a recording was made from (N-MNIST recordings are
of MNIST digits by index, N-Caltech101 recordings of Caltech101 pictures by class and file name, the
embedded default's recordings are simulated from its own images). Items that share a ``pair_key`` must
land in the same split (``tmkt.data.splits``), so that the image pool used for pairing never holds the source
image of a validation or test recording.

Events are tonic's structured array (``tonic.io.events_struct``: x, y, t in microseconds, p in {0, 1}).
Images are ``uint8`` arrays, (H, W) grey or (H, W, 3) RGB.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

import numpy as np
from tonic.io import events_struct

OfficialSplit = Literal["train", "test"] | None


class DatasetError(RuntimeError):
    """A missing, incomplete or corrupt dataset; the message names the file or folder and what was expected."""


@dataclass(frozen=True)
class Item:
    """One event recording or one image of a source."""

    id: str  #: unique within the source and modality, e.g. "airplanes/image_0001"
    class_name: str  #: canonical class name (the manifest's ``class_name``; its ``label`` is the class index)
    pair_key: str | None = None  #: identity shared by a recording and its source image; None if unknown
    official_split: OfficialSplit = None  #: the dataset's own train/test split, if it has one
    path: Path | None = None  #: file holding the item (file-backed sources)
    index: int | None = None  #: position in an array or container file (array-backed sources)


class Source(Protocol):
    """What the convert stage needs from a dataset."""

    name: str
    #: (W, H, polarities) of the event sensor; None where recordings differ in size (CEP-DVS): each is then
    #: binned on its own extent (max x + 1, max y + 1), as tonic's ``ToFrame(sensor_size=None)`` does
    sensor_size: tuple[int, int, int] | None
    #: True where a recording shows the whole image centred on the sensor (N-MNIST protocol): the image
    #: is then placed on a canvas of the sensor's size before resizing, so both modalities share a geometry.
    image_centred_on_sensor: bool

    def event_items(self) -> list[Item]: ...

    def image_items(self) -> list[Item]: ...

    def read_events(self, item: Item) -> np.ndarray:
        """The recording as ``events_struct``; raises :class:`DatasetError` naming the file if unreadable."""
        ...

    def read_image(self, item: Item) -> np.ndarray: ...


class ScannedItems:
    """Mixin for sources that list their items once, when constructed, in ``_event_items``/``_image_items``."""

    image_centred_on_sensor = False
    _event_items: list[Item]
    _image_items: list[Item]

    def event_items(self) -> list[Item]:
        return list(self._event_items)

    def image_items(self) -> list[Item]:
        return list(self._image_items)


def as_events(x, y, t, p) -> np.ndarray:
    """Pack columns into tonic's structured event dtype (x, y: int16; t: int64 microseconds; p: bool)."""
    out = np.empty(len(t), dtype=events_struct)
    out["x"], out["y"], out["t"], out["p"] = x, y, t, p
    return out


NO_EVENTS = "the recording holds no events"


def file_size(path: Path) -> int:
    """The size of a recording file in bytes; DatasetError if it cannot be read or is empty (0 bytes)."""
    try:
        size = Path(path).stat().st_size
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the recording ({exc})") from exc
    if size == 0:
        raise DatasetError(f"{path}: the file is empty (0 bytes); {NO_EVENTS}")
    return size


def check_events(events: np.ndarray, path: Path, sensor_size: tuple[int, int, int] | None) -> np.ndarray:
    """``events`` unchanged if non-empty, time-ordered and inside the (W, H, 2) sensor; else DatasetError.

    ``sensor_size`` None (recordings of different sizes) checks only that coordinates are non-negative."""
    width, height = (sensor_size[0], sensor_size[1]) if sensor_size else (np.inf, np.inf)
    if len(events) == 0:
        raise DatasetError(f"{path}: {NO_EVENTS} (a header without records, or an empty event stream)")
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
            + (f"{width}x{height} sensor" if sensor_size else "sensor (negative coordinate)")
        )
    return events
